//! Functions: the table a set's templates call ([`Funcs`]), Go's builtins (`len`, `index`,
//! `printf`, `eq`, ...) and Sprig's core, with Sprig's own conversions (`strval`, `toInt64`,
//! `empty`), so results match Go + Sprig 3.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::exec::Exec;
use crate::value::{go_quote, sprintf, Value};

/// A function of values alone.
pub type Pure = fn(&[Value]) -> Result<Value, FuncError>;

/// Why a function of values failed: as Go's template engine tells them apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FuncError {
    /// An argument of the wrong type (`wrong type for value; expected ...`): Go checks each
    /// argument as it evaluates it, words the error without the call, and places it at that
    /// argument (`index`, counted over the call's values; unknown: the last one evaluated).
    ArgType {
        index: Option<usize>,
        message: String,
    },
    /// The function's own error (`error calling NAME: ...`, at the call).
    Call(String),
}

impl FuncError {
    /// An argument of type `got` where `expected` was wanted, in Go's words.
    pub fn arg_type(expected: &str, got: impl std::fmt::Display) -> FuncError {
        FuncError::ArgType {
            index: None,
            message: format!("wrong type for value; expected {expected}; got {got}"),
        }
    }

    /// This error, placed at argument `index` when it is an argument's type error.
    pub fn at(self, index: usize) -> FuncError {
        match self {
            FuncError::ArgType { message, .. } => FuncError::ArgType {
                index: Some(index),
                message,
            },
            call => call,
        }
    }
}

impl std::fmt::Display for FuncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FuncError::ArgType { message: m, .. } | FuncError::Call(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for FuncError {}

impl From<String> for FuncError {
    fn from(m: String) -> Self {
        FuncError::Call(m)
    }
}

/// The errors of Go's libraries that Sprig's functions return as theirs.
macro_rules! call_errors {
    ($($error:ty),*) => {$(
        impl From<$error> for FuncError {
            fn from(e: $error) -> Self {
                FuncError::Call(e.to_string())
            }
        }
    )*};
}

call_errors!(
    crate::date::DurationError,
    crate::date::TimeParseError,
    crate::semver::Error,
    crate::toml::TomlError
);

impl From<&str> for FuncError {
    fn from(m: &str) -> Self {
        FuncError::Call(m.to_string())
    }
}

/// A function that drives the executor it is called from (Helm's `include` and `tpl` render
/// templates; werf's `werf_image` reads lazy values) or closes over the caller's data (werf's
/// `env`). Its arguments arrive as they are: lazy maps are not materialized for it.
pub type Contextual =
    Arc<dyn Fn(&mut Exec<'_>, &[Value]) -> Result<Value, CallError> + Send + Sync>;

/// Why a function call failed.
#[derive(Debug)]
pub enum CallError {
    /// Worded as the function's own error: `error calling NAME: MESSAGE`.
    Message(String),
    /// An error inside a template the function rendered (`include`), reported as it is.
    Template(crate::Error),
}

impl From<String> for CallError {
    fn from(m: String) -> Self {
        CallError::Message(m)
    }
}

impl From<FuncError> for CallError {
    fn from(e: FuncError) -> Self {
        CallError::Message(e.to_string())
    }
}

impl From<&str> for CallError {
    fn from(m: &str) -> Self {
        CallError::Message(m.to_string())
    }
}

impl From<crate::Error> for CallError {
    fn from(e: crate::Error) -> Self {
        CallError::Template(e)
    }
}

/// One entry of a function table.
#[derive(Clone)]
pub enum Func {
    Pure(Pure),
    Context(Contextual),
}

/// Functions by name: what a set's templates may call. Layers add to a copy: Sprig's table,
/// then Helm's ([`crate::helm`]), then the caller's own.
#[derive(Clone, Default)]
pub struct Funcs {
    table: HashMap<String, Func>,
}

impl Funcs {
    /// Adds (or replaces) a pure function.
    pub fn insert(&mut self, name: &str, f: Pure) {
        self.table.insert(name.to_string(), Func::Pure(f));
    }

    /// Adds (or replaces) a context function.
    pub fn insert_context(
        &mut self,
        name: &str,
        f: impl Fn(&mut Exec<'_>, &[Value]) -> Result<Value, CallError> + Send + Sync + 'static,
    ) {
        self.table
            .insert(name.to_string(), Func::Context(Arc::new(f)));
    }

    /// Makes `alias` call what `existing` calls (`mustFirst` is `first`'s strict form here).
    pub fn alias(&mut self, alias: &str, existing: &str) {
        if let Some(f) = self.table.get(existing).cloned() {
            self.table.insert(alias.to_string(), f);
        }
    }

    /// Makes `name` call what the pure function `existing` calls, with its errors reworded by
    /// `map` (a `must` form whose error differs from the plain form's panic).
    pub fn wrap_errors(&mut self, name: &str, existing: &str, map: fn(String) -> String) {
        let Some(Func::Pure(f)) = self.table.get(existing).cloned() else {
            return;
        };
        self.insert_context(name, move |exec, args| {
            let args: Vec<Value> = args.iter().map(|a| exec.plain(a.clone())).collect();
            f(&args).map_err(|e| CallError::Message(map(e.to_string())))
        });
    }

    /// Copies `names` from `other` (a layer picking some of another's functions).
    pub fn take_from(&mut self, other: &Funcs, names: &[&str]) {
        for name in names {
            if let Some(f) = other.get(name) {
                self.table.insert((*name).to_string(), f.clone());
            }
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.table.remove(name);
    }

    pub fn get(&self, name: &str) -> Option<&Func> {
        self.table.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.table.contains_key(name)
    }

    /// The names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.table.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

/// Calls pure function `name` with Go's error wording: an argument's type error as it is (Go
/// checks types before the call), any other error as `error calling NAME: ...`.
pub fn call(funcs: &Funcs, name: &str, args: &[Value]) -> Result<Value, FuncError> {
    let f = match funcs.get(name) {
        Some(Func::Pure(f)) => f,
        Some(Func::Context(_)) => {
            return Err(FuncError::Call(format!(
                "function {name:?} needs an executor"
            )));
        }
        None => return Err(FuncError::Call(format!("function {name:?} not defined"))),
    };
    let out = f(args).map_err(|e| match e {
        e @ FuncError::ArgType { .. } => e,
        FuncError::Call(m) => FuncError::Call(format!("error calling {name}: {m}")),
    })?;
    check_depth(name, out)
}

/// A result nested deeper than values may be is an error (see [`crate::value::MAX_VALUE_DEPTH`]).
pub fn check_depth(name: &str, out: Value) -> Result<Value, FuncError> {
    if out.depth() > crate::value::MAX_VALUE_DEPTH {
        return Err(FuncError::Call(format!(
            "error calling {name}: the result would be nested more than {} levels deep",
            crate::value::MAX_VALUE_DEPTH
        )));
    }
    Ok(out)
}

pub(super) fn arity(args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(FuncError::Call(format!(
            "wrong number of args: want {n} got {}",
            args.len()
        )))
    }
}

pub(crate) fn string_arg(v: &Value) -> Result<String, FuncError> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(FuncError::arg_type("string", crate::sprig::go_type(other))),
    }
}

/// Sprig's `strval`: strings as they are, everything else through `%v`.
pub fn strval(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Nil => String::new(),
        other => other.to_go_string(),
    }
}

/// The bytes of a string argument of Sprig's byte-oriented functions (`b64enc`, the checksums).
/// A file that is not UTF-8 text comes from `.Files.Get` as bytes (Go's string holds any bytes).
pub(crate) fn string_bytes(v: &Value) -> Result<Vec<u8>, FuncError> {
    match v {
        Value::Bytes(b) => Ok(b.to_vec()),
        other => string_arg(other).map(String::into_bytes),
    }
}

/// Sprig's `strslice`: a list's elements as strings, nils left out; any other value alone.
pub(crate) fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l
            .iter()
            .filter(|x| !matches!(x, Value::Nil))
            .map(strval)
            .collect(),
        Value::Bytes(b) => b.iter().map(|x| x.to_string()).collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

/// Sprig's `toInt64` (spf13/cast): floats truncate, numeric strings parse, the rest is 0.
pub(super) fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => *b as i64,
        Value::Str(s) => s
            .trim()
            .parse::<i64>()
            .or_else(|_| s.trim().parse::<f64>().map(|f| f as i64))
            .unwrap_or(0),
        _ => 0,
    }
}

pub(super) fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => *b as i64 as f64,
        Value::Str(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Sprig's `empty`.
pub fn empty(v: &Value) -> bool {
    !v.truth()
}

pub(super) fn list_arg(v: &Value) -> Result<Vec<Value>, FuncError> {
    match v {
        Value::List(l) => Ok(l.to_vec()),
        Value::Nil => Ok(Vec::new()),
        other => Err(format!("cannot use {} as a list", other.kind()).into()),
    }
}

/// Go's `basicKind` of a comparison operand: `None` for what `lt` and friends cannot order (nil,
/// lists, maps, bools, times, bytes).
fn ordered_kind(v: &Value) -> Option<&'static str> {
    match v {
        Value::Int(_) => Some("int"),
        Value::Int64(_) => Some("int64"),
        Value::Float(_) => Some("float64"),
        Value::Str(_) => Some("string"),
        _ => None,
    }
}

/// `incompatible types for comparison: int and string`, as a current Go words it.
fn incompatible(a: &Value, b: &Value) -> String {
    format!(
        "incompatible types for comparison: {} and {}",
        crate::sprig::go_type(a),
        crate::sprig::go_type(b)
    )
}

fn cmp_basic(a: &Value, b: &Value) -> Result<std::cmp::Ordering, FuncError> {
    if ordered_kind(a).is_none() || ordered_kind(b).is_none() {
        return Err("invalid type for comparison".into());
    }
    match (a, b) {
        (Value::Int(x) | Value::Int64(x), Value::Int(y) | Value::Int64(y)) => Ok(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => {
            x.partial_cmp(y).ok_or_else(|| "NaN comparison".into())
        }
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        _ => Err(incompatible(a, b).into()),
    }
}

/// Go's `eq` (1.18 on, as Helm 4 runs it): nil equals only nil and compares with anything,
/// numbers of one kind, strings and bools by value; lists and maps are not comparable; other
/// mixes are an error. The first operand equal to `args[0]` answers true.
fn eq(args: &[Value]) -> Result<Value, FuncError> {
    if args.len() < 2 {
        return Err("missing argument for comparison".into());
    }
    let a = &args[0];
    for b in &args[1..] {
        let same = match (a, b) {
            (Value::Nil, Value::Nil) => true,
            (Value::Nil, _) | (_, Value::Nil) => false,
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(_) | Value::Int64(_), Value::Int(_) | Value::Int64(_))
            | (Value::Float(_), Value::Float(_))
            | (Value::Str(_), Value::Str(_)) => cmp_basic(a, b)? == std::cmp::Ordering::Equal,
            (Value::List(_), Value::List(_)) | (Value::Map(_), Value::Map(_)) => {
                return Err(format!(
                    "non-comparable type {}: {}",
                    b.to_go_string(),
                    crate::sprig::go_type(b)
                )
                .into())
            }
            _ => return Err(incompatible(a, b).into()),
        };
        if same {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn ordered(args: &[Value], ok: fn(std::cmp::Ordering) -> bool) -> Result<Value, FuncError> {
    arity(args, 2)?;
    Ok(Value::Bool(ok(cmp_basic(&args[0], &args[1])?)))
}

/// `fmt.Sprint`: a space between operands when neither is a string.
fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&a.to_go_string());
    }
    out
}

fn title(s: &str) -> String {
    let mut out = String::new();
    let mut prev_letter = false;
    for c in s.chars() {
        if !prev_letter && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

/// The most elements `until`/`untilStep` make: a template asking for more is an error, not an
/// exhausted memory.
pub const MAX_LIST: i64 = 1_000_000;

/// The longest string `repeat`/`indent` make (64 MiB).
pub const MAX_TEXT: u64 = 64 << 20;

/// Checks that `count` copies of `unit` bytes stay within [`MAX_TEXT`].
pub fn text_within_limit(what: &str, unit: usize, count: i64) -> Result<usize, FuncError> {
    let count = count.max(0) as u64;
    match (unit as u64).checked_mul(count) {
        Some(total) if total <= MAX_TEXT => Ok(count as usize),
        _ => Err(FuncError::Call(format!(
            "`{what}` would make a string of more than {MAX_TEXT} bytes"
        ))),
    }
}

/// Checks that a list of `count` elements stays within [`MAX_LIST`].
pub fn list_within_limit(what: &str, count: i64) -> Result<(), FuncError> {
    if count > MAX_LIST {
        return Err(FuncError::Call(format!(
            "`{what}` would make a list of {count} elements (at most {MAX_LIST})"
        )));
    }
    Ok(())
}

fn indent(n: i64, s: &str) -> Result<String, FuncError> {
    let lines = s.matches('\n').count() + 1;
    let n = text_within_limit("indent", lines, n)?;
    let pad = " ".repeat(n);
    Ok(format!("{pad}{}", s.replace('\n', &format!("\n{pad}"))))
}

/// Helm's `fromYaml`/`fromJson` result: the parsed value, or a map with the error under `Error`.
/// Go's `encoding/json` for template values (floats as Go prints them: `1e+21`, `1000000`).
pub fn to_json(v: &Value) -> String {
    crate::with_stack(|| to_json_inner(v, true))
}

/// `toRawJson`: like [`to_json`] without escaping `<`, `>` and `&` (`SetEscapeHTML(false)`).
pub fn to_raw_json(v: &Value) -> String {
    crate::with_stack(|| to_json_inner(v, false))
}

fn to_json_inner(v: &Value, html: bool) -> String {
    match v {
        Value::Nil => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) | Value::Int64(i) => i.to_string(),
        Value::Bytes(_) | Value::Time(_) => serde_json::to_string(&v.to_json()).unwrap_or_default(),
        Value::Float(f) => {
            let a = f.abs();
            if a != 0.0 && !(1e-6..1e21).contains(&a) {
                // Exponent form, as encoding/json cleans it: `1e-7`, not `1e-07`.
                let g = crate::value::format_float_g(*f);
                match g.split_once("e-0") {
                    Some((mantissa, digit)) => format!("{mantissa}e-{digit}"),
                    None => g,
                }
            } else if f.fract() == 0.0 && a < 1e21 {
                format!("{}", *f as i128)
            } else {
                format!("{f}")
            }
        }
        Value::Str(s) if html => serde_json::to_string(s)
            .expect("strings serialize")
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
        Value::Str(s) => serde_json::to_string(s).expect("strings serialize"),
        Value::List(l) => format!(
            "[{}]",
            l.iter()
                .map(|x| crate::with_stack(|| to_json_inner(x, html)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::Map(_) if crate::semver::display(v).is_some() => {
            serde_json::to_string(&v.to_json()).unwrap_or_default()
        }
        Value::Map(m) if m.contains_key(crate::value::OBJECT_JSON) => {
            match m.get(crate::value::OBJECT_JSON) {
                Some(Value::Str(json)) => json.clone(),
                _ => String::new(),
            }
        }
        Value::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .filter(|(k, _)| !crate::value::hidden(k))
                .map(|(k, x)| format!(
                    "{}:{}",
                    to_json_inner(&Value::Str(k.clone()), html),
                    crate::with_stack(|| to_json_inner(x, html))
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// Go's builtins and Sprig's functions, made once per process (the table never changes).
pub fn shared() -> &'static Arc<Funcs> {
    static TABLE: std::sync::OnceLock<Arc<Funcs>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| Arc::new(builtins()))
}

/// The builtins of Go's `text/template` and Sprig 3's `TxtFuncMap` without `env` and
/// `expandenv` (the process environment is the caller's to give, as a context function).
pub fn builtins() -> Funcs {
    let mut f = Funcs::default();
    // Go builtins.
    f.insert("not", |a| {
        arity(a, 1)?;
        Ok(Value::Bool(!a[0].truth()))
    });
    f.insert("len", |a| {
        arity(a, 1)?;
        Ok(Value::Int(match &a[0] {
            Value::Str(s) => s.len() as i64,
            Value::List(l) => l.len() as i64,
            Value::Bytes(b) => b.len() as i64,
            Value::Map(m) => m.keys().filter(|k| !crate::value::hidden(k)).count() as i64,
            other => return Err(format!("len of type {}", other.kind()).into()),
        }))
    });
    f.insert("index", |a| {
        let Some((first, keys)) = a.split_first() else {
            return Err("wrong number of args: want at least 1 got 0".into());
        };
        let mut v = first.clone();
        for k in keys {
            v = match (&v, k) {
                (Value::List(l), Value::Int(i) | Value::Int64(i)) => l
                    .get(*i as usize)
                    .cloned()
                    .ok_or_else(|| format!("error calling index: index out of range: {i}"))?,
                (Value::Map(m), Value::Str(s)) => m.get(s).cloned().unwrap_or(Value::Nil),
                (Value::Nil, _) => return Err("index of untyped nil".into()),
                (c, k) => return Err(format!("cannot index {} with {}", c.kind(), k.kind()).into()),
            };
        }
        Ok(v)
    });
    f.insert("slice", |a| {
        let Some((first, idx)) = a.split_first() else {
            return Err("wrong number of args".into());
        };
        let bounds: Vec<usize> = idx.iter().map(|v| to_i64(v).max(0) as usize).collect();
        // Sprig's `slice` (which replaces Go's builtin) takes lists only.
        match first {
            Value::List(l) => {
                let lo = bounds.first().copied().unwrap_or(0);
                let hi = bounds.get(1).copied().unwrap_or(l.len());
                Ok(l.get(lo..hi)
                    .map(|x| Value::list(x.to_vec()))
                    .ok_or_else(|| format!("index out of range: {hi}"))?)
            }
            other => {
                Err(format!("list should be type of slice or array but {}", other.kind()).into())
            }
        }
    });
    f.insert("print", |a| Ok(Value::Str(sprint(a))));
    f.insert("println", |a| {
        Ok(Value::Str(format!(
            "{}\n",
            a.iter()
                .map(Value::to_go_string)
                .collect::<Vec<_>>()
                .join(" ")
        )))
    });
    f.insert("printf", |a| {
        let Some((Value::Str(fmt), rest)) = a.split_first() else {
            return Err(FuncError::ArgType {
                index: None,
                message: "wrong type for value; expected string".into(),
            });
        };
        Ok(Value::Str(sprintf(fmt, rest)))
    });
    f.insert("eq", eq);
    f.insert("ne", |a| Ok(Value::Bool(!eq(a)?.truth())));
    f.insert("lt", |a| ordered(a, |o| o.is_lt()));
    f.insert("le", |a| ordered(a, |o| o.is_le()));
    f.insert("gt", |a| ordered(a, |o| o.is_gt()));
    f.insert("ge", |a| ordered(a, |o| o.is_ge()));
    f.insert("html", |a| {
        Ok(Value::Str(
            sprint(a)
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;"),
        ))
    });
    f.insert("js", |a| {
        Ok(Value::Str(
            sprint(a)
                .replace('\\', "\\\\")
                .replace('\'', "\\'")
                .replace('"', "\\\"")
                .replace('<', "\\u003C")
                .replace('>', "\\u003E")
                .replace('&', "\\u0026")
                .replace('=', "\\u003D"),
        ))
    });
    f.insert("urlquery", |a| {
        let s = sprint(a);
        let mut out = String::new();
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                b => out.push_str(&format!("%{b:02X}")),
            }
        }
        Ok(Value::Str(out))
    });

    // Sprig: defaults and logic.
    f.insert("default", |a| {
        if a.is_empty() {
            return Err("wrong number of args".into());
        }
        Ok(match a.get(1) {
            Some(v) if !empty(v) => v.clone(),
            _ => a[0].clone(),
        })
    });
    f.insert("empty", |a| {
        arity(a, 1)?;
        Ok(Value::Bool(empty(&a[0])))
    });
    f.insert("coalesce", |a| {
        Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil))
    });
    f.insert("ternary", |a| {
        arity(a, 3)?;
        Ok(if a[2].truth() {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    f.insert("fail", |a| {
        Err(a.first().map(strval).unwrap_or_default().into())
    });

    // Sprig: strings.
    f.insert("quote", |a| {
        Ok(Value::Str(
            a.iter()
                .filter(|v| **v != Value::Nil)
                .map(|v| go_quote(&strval(v)))
                .collect::<Vec<_>>()
                .join(" "),
        ))
    });
    f.insert("squote", |a| {
        Ok(Value::Str(
            a.iter()
                .filter(|v| **v != Value::Nil)
                .map(|v| format!("'{}'", strval(v)))
                .collect::<Vec<_>>()
                .join(" "),
        ))
    });
    f.insert("upper", |a| {
        arity(a, 1)?;
        Ok(Value::Str(string_arg(&a[0])?.to_uppercase()))
    });
    f.insert("lower", |a| {
        arity(a, 1)?;
        Ok(Value::Str(string_arg(&a[0])?.to_lowercase()))
    });
    f.insert("title", |a| {
        arity(a, 1)?;
        Ok(Value::Str(title(&string_arg(&a[0])?)))
    });
    f.insert("trim", |a| {
        arity(a, 1)?;
        Ok(Value::Str(string_arg(&a[0])?.trim().to_string()))
    });
    f.insert("trimAll", |a| {
        arity(a, 2)?;
        let cut = string_arg(&a[0])?;
        Ok(Value::Str(
            string_arg(&a[1])?
                .trim_matches(|c| cut.contains(c))
                .to_string(),
        ))
    });
    f.insert("trimPrefix", |a| {
        arity(a, 2)?;
        let p = string_arg(&a[0])?;
        let s = string_arg(&a[1])?;
        Ok(Value::Str(
            s.strip_prefix(p.as_str()).unwrap_or(&s).to_string(),
        ))
    });
    f.insert("trimSuffix", |a| {
        arity(a, 2)?;
        let p = string_arg(&a[0])?;
        let s = string_arg(&a[1])?;
        Ok(Value::Str(
            s.strip_suffix(p.as_str()).unwrap_or(&s).to_string(),
        ))
    });
    f.insert("trunc", |a| {
        arity(a, 2)?;
        let n = to_i64(&a[0]);
        let s = string_arg(&a[1])?;
        let chars: Vec<char> = s.chars().collect();
        Ok(Value::Str(if n < 0 {
            let k = n.unsigned_abs() as usize;
            if k >= chars.len() {
                s
            } else {
                chars[chars.len() - k..].iter().collect()
            }
        } else {
            chars.iter().take(n as usize).collect()
        }))
    });
    f.insert("replace", |a| {
        arity(a, 3)?;
        Ok(Value::Str(
            string_arg(&a[2])?.replace(&string_arg(&a[0])?, &string_arg(&a[1])?),
        ))
    });
    f.insert("contains", |a| {
        arity(a, 2)?;
        Ok(Value::Bool(
            string_arg(&a[1])?.contains(&string_arg(&a[0])?),
        ))
    });
    f.insert("hasPrefix", |a| {
        arity(a, 2)?;
        Ok(Value::Bool(
            string_arg(&a[1])?.starts_with(&string_arg(&a[0])?),
        ))
    });
    f.insert("hasSuffix", |a| {
        arity(a, 2)?;
        Ok(Value::Bool(
            string_arg(&a[1])?.ends_with(&string_arg(&a[0])?),
        ))
    });
    f.insert("splitList", |a| {
        arity(a, 2)?;
        Ok(Value::list(
            string_arg(&a[1])?
                .split(&string_arg(&a[0])?)
                .map(|p| Value::Str(p.into()))
                .collect(),
        ))
    });
    f.insert("join", |a| {
        arity(a, 2)?;
        let sep = string_arg(&a[0])?;
        Ok(Value::Str(strslice(&a[1]).join(&sep)))
    });
    f.insert("indent", |a| {
        arity(a, 2)?;
        Ok(Value::Str(indent(to_i64(&a[0]), &string_arg(&a[1])?)?))
    });
    f.insert("nindent", |a| {
        arity(a, 2)?;
        Ok(Value::Str(format!(
            "\n{}",
            indent(to_i64(&a[0]), &string_arg(&a[1])?)?
        )))
    });
    f.insert("repeat", |a| {
        arity(a, 2)?;
        let s = string_arg(&a[1])?;
        let n = text_within_limit("repeat", s.len(), to_i64(&a[0]))?;
        Ok(Value::Str(s.repeat(n)))
    });
    f.insert("substr", |a| {
        arity(a, 3)?;
        let s = string_arg(&a[2])?;
        let (start, end) = (to_i64(&a[0]), to_i64(&a[1]));
        let (start, end) = (
            start.max(0) as usize,
            if end < 0 || end as usize > s.len() {
                s.len()
            } else {
                end as usize
            },
        );
        Ok(Value::Str(
            s.get(start.min(end)..end).unwrap_or_default().to_string(),
        ))
    });
    f.insert("toString", |a| {
        arity(a, 1)?;
        Ok(Value::Str(strval(&a[0])))
    });
    f.insert("toJson", |a| {
        arity(a, 1)?;
        Ok(Value::Str(to_json(&a[0])))
    });
    f.insert("fromJson", |a| {
        arity(a, 1)?;
        // Sprig's: nil when the text is not JSON (`mustFromJson` says why).
        Ok(serde_json::from_str(&string_arg(&a[0])?)
            .map(|v| Value::from_json(&v))
            .unwrap_or(Value::Nil))
    });
    f.insert("mustFromJson", |a| {
        arity(a, 1)?;
        Ok(serde_json::from_str(&string_arg(&a[0])?)
            .map(|v| Value::from_json(&v))
            .map_err(|e| crate::helm::go_json_error(&e, "interface {}"))?)
    });
    f.insert("toPrettyJson", |a| {
        arity(a, 1)?;
        Ok(Value::Str(
            serde_json::to_string_pretty(
                &serde_json::from_str::<serde_json::Value>(&to_json(&a[0]))
                    .map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?,
        ))
    });
    f.insert("b64enc", |a| {
        arity(a, 1)?;
        use base64::Engine as _;
        Ok(Value::Str(
            base64::engine::general_purpose::STANDARD.encode(string_bytes(&a[0])?),
        ))
    });
    f.insert("sha256sum", |a| {
        arity(a, 1)?;
        use sha2::Digest as _;
        Ok(Value::Str(crate::sprig::hex(&sha2::Sha256::digest(
            string_bytes(&a[0])?,
        ))))
    });

    // Sprig: numbers (int64 arithmetic, as `toInt64` converts).
    // Go's int64 arithmetic wraps on overflow (and `MinInt64 / -1` is `MinInt64`): so does ours.
    f.insert("add", |a| {
        Ok(Value::Int64(
            a.iter().map(to_i64).fold(0, i64::wrapping_add),
        ))
    });
    f.insert("add1", |a| {
        arity(a, 1)?;
        Ok(Value::Int64(to_i64(&a[0]).wrapping_add(1)))
    });
    f.insert("sub", |a| {
        arity(a, 2)?;
        Ok(Value::Int64(to_i64(&a[0]).wrapping_sub(to_i64(&a[1]))))
    });
    f.insert("mul", |a| {
        Ok(Value::Int64(
            a.iter().map(to_i64).fold(1, i64::wrapping_mul),
        ))
    });
    f.insert("div", |a| {
        arity(a, 2)?;
        let d = to_i64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int64(to_i64(&a[0]).wrapping_div(d)))
    });
    f.insert("mod", |a| {
        arity(a, 2)?;
        let d = to_i64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int64(to_i64(&a[0]).wrapping_rem(d)))
    });
    f.insert("max", |a| {
        Ok(Value::Int64(a.iter().map(to_i64).max().unwrap_or(0)))
    });
    f.insert("min", |a| {
        Ok(Value::Int64(a.iter().map(to_i64).min().unwrap_or(0)))
    });
    f.insert("int", |a| {
        arity(a, 1)?;
        Ok(Value::Int(to_i64(&a[0])))
    });
    f.insert("int64", |a| {
        arity(a, 1)?;
        Ok(Value::Int64(to_i64(&a[0])))
    });
    f.insert("float64", |a| {
        arity(a, 1)?;
        Ok(Value::Float(to_f64(&a[0])))
    });
    f.insert("until", |a| {
        arity(a, 1)?;
        let n = to_i64(&a[0]);
        list_within_limit("until", n)?;
        Ok(Value::list((0..n.max(0)).map(Value::Int).collect()))
    });

    // Sprig: lists and dicts.
    f.insert("list", |a| Ok(Value::list(a.to_vec())));
    f.insert("dict", |a| {
        let mut m = BTreeMap::new();
        for pair in a.chunks(2) {
            m.insert(
                strval(&pair[0]),
                pair.get(1).cloned().unwrap_or(Value::Str(String::new())),
            );
        }
        Ok(Value::map(m))
    });
    f.insert("get", |a| {
        arity(a, 2)?;
        Ok(match &a[0] {
            Value::Map(m) => m
                .get(&string_arg(&a[1])?)
                .cloned()
                .unwrap_or(Value::Str(String::new())),
            _ => Value::Str(String::new()),
        })
    });
    f.insert("hasKey", |a| {
        arity(a, 2)?;
        Ok(Value::Bool(
            matches!(&a[0], Value::Map(m) if m.contains_key(&string_arg(&a[1])?)),
        ))
    });
    f.insert("first", |a| {
        arity(a, 1)?;
        Ok(list_arg(&a[0])?.first().cloned().unwrap_or(Value::Nil))
    });
    f.insert("last", |a| {
        arity(a, 1)?;
        Ok(list_arg(&a[0])?.last().cloned().unwrap_or(Value::Nil))
    });
    f.insert("append", |a| {
        arity(a, 2)?;
        let mut l = list_arg(&a[0])?;
        l.push(a[1].clone());
        Ok(Value::list(l))
    });
    f.insert("prepend", |a| {
        arity(a, 2)?;
        let mut l = list_arg(&a[0])?;
        l.insert(0, a[1].clone());
        Ok(Value::list(l))
    });
    f.insert("has", |a| {
        arity(a, 2)?;
        Ok(Value::Bool(list_arg(&a[1])?.contains(&a[0])))
    });
    f.insert("without", |a| {
        let Some((l, drop)) = a.split_first() else {
            return Err("wrong number of args".into());
        };
        Ok(Value::list(
            list_arg(l)?
                .into_iter()
                .filter(|x| !drop.contains(x))
                .collect(),
        ))
    });
    f.insert("uniq", |a| {
        arity(a, 1)?;
        let mut out: Vec<Value> = Vec::new();
        for x in list_arg(&a[0])? {
            if !out.contains(&x) {
                out.push(x);
            }
        }
        Ok(Value::list(out))
    });
    crate::sprig::register(&mut f);
    crate::times::register(&mut f);
    crate::crypto::register(&mut f);
    crate::numbers::register(&mut f);
    crate::text::register(&mut f);
    crate::random::register(&mut f);
    crate::urls::register(&mut f);
    f.insert("semver", |a| {
        arity(a, 1)?;
        Ok(crate::semver::object(&strval(&a[0]))?)
    });
    f.insert("sha512sum", |a| {
        arity(a, 1)?;
        use sha2::Digest as _;
        Ok(Value::Str(crate::sprig::hex(&sha2::Sha512::digest(
            string_bytes(&a[0])?,
        ))))
    });
    f.alias("push", "append");
    // Go's `call`: there are no function values in these templates, so it can only fail, with
    // Go's words.
    f.insert("call", |a| match a.first() {
        None | Some(Value::Nil) => Err("call of nil".into()),
        Some(v) => Err(format!(
            "non-function {} of type {}",
            match v {
                Value::Str(s) => go_quote(s),
                other => other.to_go_string(),
            },
            crate::sprig::go_type(v)
        )
        .into()),
    });
    crate::paths::register(&mut f);
    crate::musts::register(&mut f);
    f.alias("mustPush", "mustAppend");
    f
}
