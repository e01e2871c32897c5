//! Template values with Go's semantics: kinds, truth, comparison, and `fmt`-style printing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// A value as Go's `text/template` sees it (`interface{}` holding a basic kind, a slice or a map).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Go's nil (a missing map key, a JSON null).
    Nil,
    Bool(bool),
    /// Go's `int`: template literals, `len`, `atoi`, `int`.
    Int(i64),
    /// Go's `int64`: what Sprig's arithmetic returns (`add`, `int64`, ...).
    Int64(i64),
    Float(f64),
    Str(String),
    /// Shared: copying a value never copies its elements.
    List(Arc<Items>),
    /// Go maps print and range in sorted key order. Shared like lists.
    Map(Arc<Entries>),
    /// Go's `[]byte`: a file of `.Files.GetBytes`, binary or not.
    Bytes(Arc<[u8]>),
    /// Go's `time.Time` (`now`, `toDate`), with its zone.
    Time(Arc<crate::date::Time>),
}

/// The key that marks a map as an object with methods; its value names the kind (`Files`,
/// `*semver.Version`).
pub const OBJECT_KIND: &str = "\u{1}kind";

/// What `{{ . }}` prints of an object (Go's `String()` through its address), such as
/// `.Capabilities.KubeVersion`'s `v1.36.0`. Keys that start with `\u{1}` are the engine's own:
/// never printed, ranged over or serialized.
pub const OBJECT_TEXT: &str = "\u{1}text";

/// What `%v` prints of an object's value (a struct: `{v1.36.0 v1.36.0 1 36}`); without it,
/// [`OBJECT_TEXT`].
pub const OBJECT_VALUE: &str = "\u{1}value";

/// An object's JSON, in its struct's field order (`toJson`).
pub const OBJECT_JSON: &str = "\u{1}json";

/// Whether `key` is one of the engine's hidden keys ([`OBJECT_KIND`], [`OBJECT_TEXT`]).
pub fn hidden(key: &str) -> bool {
    key.starts_with('\u{1}')
}

/// The most deeply nested a value may be (a list of a list of ... ). Values from YAML and JSON
/// are bounded by their parsers; values built at run time are checked after every function call,
/// so printing, comparing and serializing a value never recurse past this.
pub const MAX_VALUE_DEPTH: u32 = 1000;

/// The elements of a list value, with the value's nesting depth. Dropped iteratively.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Items {
    items: Vec<Value>,
    depth: u32,
}

/// The entries of a map value, in key order, with the nesting depth; dropped iteratively.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entries {
    entries: BTreeMap<String, Value>,
    depth: u32,
}

impl std::ops::Deref for Items {
    type Target = Vec<Value>;
    fn deref(&self) -> &Vec<Value> {
        &self.items
    }
}

impl std::ops::Deref for Entries {
    type Target = BTreeMap<String, Value>;
    fn deref(&self) -> &BTreeMap<String, Value> {
        &self.entries
    }
}

impl Items {
    pub fn new(items: Vec<Value>) -> Self {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        Items { items, depth }
    }

    /// The elements, taken out.
    pub fn into_vec(mut self) -> Vec<Value> {
        std::mem::take(&mut self.items)
    }
}

impl Entries {
    pub fn new(entries: BTreeMap<String, Value>) -> Self {
        let depth = 1 + entries.values().map(Value::depth).max().unwrap_or(0);
        Entries { entries, depth }
    }

    /// A copy of the entries.
    pub fn to_map(&self) -> BTreeMap<String, Value> {
        self.entries.clone()
    }

    /// The entries, taken out.
    pub fn into_map(mut self) -> BTreeMap<String, Value> {
        std::mem::take(&mut self.entries)
    }
}

fn is_container(v: &Value) -> bool {
    matches!(v, Value::List(_) | Value::Map(_))
}

/// Moves the children of `v`'s container onto `stack` when `v` holds the last reference to it,
/// so dropping `v` afterwards recurses no further.
fn detach_children(v: &mut Value, stack: &mut Vec<Value>) {
    match v {
        Value::List(l) => {
            if let Some(items) = Arc::get_mut(l) {
                stack.extend(items.items.drain(..).filter(is_container));
            }
        }
        Value::Map(m) => {
            if let Some(entries) = Arc::get_mut(m) {
                stack.extend(
                    std::mem::take(&mut entries.entries)
                        .into_values()
                        .filter(is_container),
                );
            }
        }
        _ => {}
    }
}

fn drop_iteratively(children: impl Iterator<Item = Value>) {
    let mut stack: Vec<Value> = children.filter(is_container).collect();
    while let Some(mut v) = stack.pop() {
        detach_children(&mut v, &mut stack);
    }
}

impl Drop for Items {
    fn drop(&mut self) {
        if self.items.iter().any(is_container) {
            drop_iteratively(self.items.drain(..));
        }
    }
}

impl Drop for Entries {
    fn drop(&mut self) {
        if self.entries.values().any(is_container) {
            drop_iteratively(std::mem::take(&mut self.entries).into_values());
        }
    }
}

impl Value {
    /// From JSON, the way Helm reads values: every number is a float64.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(Items::new(items)))
    }

    /// A map value.
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Arc::new(Entries::new(entries)))
    }

    /// To JSON (integers stay integers).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) | Value::Int64(i) => (*i).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => s.clone().into(),
            Value::List(l) => serde_json::Value::Array(
                l.iter()
                    .map(|x| crate::with_stack(|| x.to_json()))
                    .collect(),
            ),
            Value::Map(_) if crate::semver::display(self).is_some() => {
                crate::semver::display(self).unwrap_or_default().into()
            }
            Value::Map(m) => serde_json::Value::Object(
                m.iter()
                    .filter(|(k, _)| !hidden(k))
                    .map(|(k, v)| (k.clone(), crate::with_stack(|| v.to_json())))
                    .collect(),
            ),
            // As encoding/json writes them: base64, and RFC 3339 with nanoseconds.
            Value::Bytes(b) => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(b).into()
            }
            Value::Time(t) => t.rfc3339_nano().into(),
        }
    }

    /// How deeply containers nest in this value (0 for a scalar).
    pub fn depth(&self) -> u32 {
        match self {
            Value::List(l) => l.depth,
            Value::Map(m) => m.depth,
            _ => 0,
        }
    }

    /// Go's notion of "true" in `if`, `with`, `and`, `or`, `not`.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            // An object that is a struct in Go (`.Release`, `.Capabilities`) is always true; one
            // that is a map (`.Files`, what `.Files.Glob` answers) is true when it has entries.
            Value::Map(m) => match m.get(OBJECT_KIND) {
                Some(Value::Str(kind)) if kind != "Files" => true,
                _ => m.keys().any(|k| !hidden(k)),
            },
            Value::Bytes(b) => !b.is_empty(),
            // A struct is always true.
            Value::Time(_) => true,
        }
    }

    /// Go's kind name, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) | Value::Bytes(_) => "slice",
            Value::Map(_) => "map",
            Value::Time(_) => "struct",
        }
    }

    /// What an action (`{{ . }}`) prints: an object's `String()` where it has one, else `%v`.
    pub fn to_action_string(&self) -> String {
        if let Value::Map(m) = self {
            if let Some(Value::Str(text)) = m.get(OBJECT_TEXT) {
                return text.clone();
            }
        }
        self.to_go_string()
    }

    /// `%v` formatting (`fmt.Sprint` of one value).
    pub fn to_go_string(&self) -> String {
        let mut s = String::new();
        write_v(&mut s, self);
        s
    }
}

fn write_v(out: &mut String, v: &Value) {
    crate::with_stack(|| write_v_inner(out, v))
}

fn write_v_inner(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&format_float_g(*f)),
        Value::Str(s) => out.push_str(s),
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, x);
            }
            out.push(']');
        }
        Value::Map(_) if crate::semver::display(v).is_some() => {
            out.push_str(&crate::semver::display(v).unwrap_or_default());
        }
        Value::Map(m) if m.contains_key(OBJECT_VALUE) || m.contains_key(OBJECT_TEXT) => {
            if let Some(Value::Str(text)) = m.get(OBJECT_VALUE).or_else(|| m.get(OBJECT_TEXT)) {
                out.push_str(text);
            }
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, x)) in m.iter().filter(|(k, _)| !hidden(k)).enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, x);
            }
            out.push(']');
        }
        Value::Bytes(b) => {
            out.push('[');
            for (i, x) in b.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{x}");
            }
            out.push(']');
        }
        Value::Time(t) => out.push_str(&t.go_string()),
    }
}

/// Shortest decimal digits and exponent of `f` (as in `d.ddd x 10^exp`).
fn shortest_digits(f: f64) -> (String, i32) {
    let s = format!("{:e}", f.abs());
    let (mant, exp) = s.split_once('e').expect("{:e} has an exponent");
    (
        mant.replace('.', ""),
        exp.parse().expect("exponent is a number"),
    )
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which `%v` and `print` use.
pub fn format_float_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sign = if f < 0.0 { "-" } else { "" };
    let (digits, exp) = shortest_digits(f);
    if !(-4..6).contains(&exp) {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let e = if exp < 0 {
            format!("-{:02}", -exp)
        } else {
            format!("+{exp:02}")
        };
        return format!("{sign}{m}e{e}");
    }
    let point = exp + 1;
    let s = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    };
    format!("{sign}{s}")
}

/// Go's `%q` of a string (`strconv.Quote`).
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `fmt.Sprintf` for the verbs charts use: `%s %d %v %q %x %X %f %t %%`, width and
/// precision included.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek() {
            if "+-# 0".contains(f) {
                flags.push(f);
                chars.next();
            } else {
                break;
            }
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        let body = match (verb, arg) {
            ('v' | 's', Value::Str(s)) => match precision {
                Some(p) if verb == 's' => s.chars().take(p).collect(),
                _ => s.clone(),
            },
            ('v', v) => v.to_go_string(),
            ('s', v @ (Value::List(_) | Value::Map(_))) => v.to_go_string(),
            ('d', Value::Int(i) | Value::Int64(i)) => i.to_string(),
            ('d', v @ Value::Float(_)) => format!("%!d(float64={})", v.to_go_string()),
            ('q', Value::Str(s)) => go_quote(s),
            ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
            ('X', Value::Str(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
            ('x', Value::Int(i) | Value::Int64(i)) => format!("{i:x}"),
            ('X', Value::Int(i) | Value::Int64(i)) => format!("{i:X}"),
            ('f' | 'F', Value::Float(f)) => format!("{:.*}", precision.unwrap_or(6), f),
            ('f' | 'F', v @ (Value::Int(_) | Value::Int64(_))) => {
                format!("%!f({}={})", v.kind(), v.to_go_string())
            }
            ('t', Value::Bool(b)) => b.to_string(),
            ('s', Value::Nil) | ('d', Value::Nil) => format!("%!{verb}(<nil>)"),
            (_, v) => format!("%!{verb}({}={})", v.kind(), v.to_go_string()),
        };
        let w: usize = width.parse().unwrap_or(0);
        let len = body.chars().count();
        if len < w {
            let pad = w - len;
            if flags.contains('-') {
                out.push_str(&body);
                out.push_str(&" ".repeat(pad));
            } else if flags.contains('0') && matches!(verb, 'd' | 'f' | 'x' | 'X') {
                let (sign, digits) = body
                    .strip_prefix('-')
                    .map(|d| ("-", d))
                    .unwrap_or(("", &body));
                out.push_str(sign);
                out.push_str(&"0".repeat(pad));
                out.push_str(digits);
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(&body);
            }
        } else {
            out.push_str(&body);
        }
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", a.kind(), a.to_go_string()))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        for (f, s) in [
            (1e6, "1e+06"),
            (100000.0, "100000"),
            (1.5, "1.5"),
            (3.0, "3"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1234567.0, "1.234567e+06"),
            (-2.5, "-2.5"),
        ] {
            assert_eq!(format_float_g(f), s, "{f}");
        }
    }

    #[test]
    fn printf_verbs() {
        let args = [Value::Str("a".into()), Value::Int(5), Value::Float(1.5)];
        assert_eq!(
            sprintf(
                "%s-%03d-%v-%q",
                &[
                    args[0].clone(),
                    args[1].clone(),
                    args[2].clone(),
                    args[0].clone()
                ]
            ),
            "a-005-1.5-\"a\""
        );
        assert_eq!(sprintf("%d", &[Value::Float(2.0)]), "%!d(float64=2)");
        assert_eq!(
            sprintf(
                "%.2f|%-4s|",
                &[Value::Float(1.23456), Value::Str("x".into())]
            ),
            "1.23|x   |"
        );
    }
}
