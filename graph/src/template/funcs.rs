//! Functions: Go's builtins (`len`, `index`, `printf`, `eq`, ...) and Sprig's, with Sprig's own
//! conversions (`strval`, `toInt64`, `empty`), so results match Go + Sprig 3.

use std::collections::{BTreeMap, HashMap};

use super::value::{go_quote, sprintf, Value};

/// A template function.
pub type Func = fn(&[Value]) -> Result<Value, String>;

/// Functions by name.
pub type Funcs = HashMap<&'static str, Func>;

/// Calls `name` with Go's error wording.
pub fn call(funcs: &Funcs, name: &str, args: &[Value]) -> Result<Value, String> {
    let f = funcs
        .get(name)
        .ok_or_else(|| format!("function {name:?} not defined"))?;
    f(args).map_err(|e| format!("error calling {name}: {e}"))
}

fn arity(args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!("wrong number of args: want {n} got {}", args.len()))
    }
}

fn string_arg(v: &Value) -> Result<String, String> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(format!(
            "wrong type for value; expected string; got {}",
            other.kind()
        )),
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

/// Sprig's `toInt64` (spf13/cast): floats truncate, numeric strings parse, the rest is 0.
fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
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

fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
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

fn list_arg(v: &Value) -> Result<Vec<Value>, String> {
    match v {
        Value::List(l) => Ok(l.to_vec()),
        Value::Nil => Ok(Vec::new()),
        other => Err(format!("cannot use {} as a list", other.kind())),
    }
}

fn cmp_basic(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => {
            x.partial_cmp(y).ok_or_else(|| "NaN comparison".into())
        }
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Bool(_), Value::Bool(_)) => Err("invalid type for comparison".into()),
        _ => Err("incompatible types for comparison".into()),
    }
}

fn eq(args: &[Value]) -> Result<Value, String> {
    if args.len() < 2 {
        return Err("missing argument for comparison".into());
    }
    let a = &args[0];
    for b in &args[1..] {
        let same = match (a, b) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(_), Value::Int(_))
            | (Value::Float(_), Value::Float(_))
            | (Value::Str(_), Value::Str(_)) => cmp_basic(a, b)? == std::cmp::Ordering::Equal,
            (Value::List(_) | Value::Map(_), _) | (_, Value::List(_) | Value::Map(_)) => {
                return Err("non-comparable type".into())
            }
            _ => return Err("incompatible types for comparison".into()),
        };
        if same {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn ordered(args: &[Value], ok: fn(std::cmp::Ordering) -> bool) -> Result<Value, String> {
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

fn indent(n: i64, s: &str) -> String {
    let pad = " ".repeat(n.max(0) as usize);
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// Helm's `fromYaml`/`fromJson` result: the parsed value, or a map with the error under `Error`.
fn parsed_or_error(parsed: Result<serde_json::Value, String>) -> Value {
    match parsed {
        Ok(v) => Value::from_json(&v),
        Err(e) => Value::map([("Error".to_string(), Value::Str(e))].into_iter().collect()),
    }
}

/// Go's `encoding/json` for template values (floats as Go prints them: `1e+21`, `1000000`).
pub fn to_json(v: &Value) -> String {
    match v {
        Value::Nil => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            let a = f.abs();
            if a != 0.0 && !(1e-6..1e21).contains(&a) {
                // Exponent form, as encoding/json cleans it: `1e-7`, not `1e-07`.
                let g = super::value::format_float_g(*f);
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
        Value::Str(s) => serde_json::to_string(s)
            .expect("strings serialize")
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
        Value::List(l) => format!("[{}]", l.iter().map(to_json).collect::<Vec<_>>().join(",")),
        Value::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, x)| format!("{}:{}", to_json(&Value::Str(k.clone())), to_json(x)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// The builtins of Go's `text/template` and the Sprig functions implemented so far.
pub fn builtins() -> Funcs {
    let mut f: Funcs = HashMap::new();
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
            Value::Map(m) => m.len() as i64,
            other => return Err(format!("len of type {}", other.kind())),
        }))
    });
    f.insert("index", |a| {
        let Some((first, keys)) = a.split_first() else {
            return Err("wrong number of args: want at least 1 got 0".into());
        };
        let mut v = first.clone();
        for k in keys {
            v = match (&v, k) {
                (Value::List(l), Value::Int(i)) => l
                    .get(*i as usize)
                    .cloned()
                    .ok_or_else(|| format!("error calling index: index out of range: {i}"))?,
                (Value::Map(m), Value::Str(s)) => m.get(s).cloned().unwrap_or(Value::Nil),
                (Value::Nil, _) => return Err("index of untyped nil".into()),
                (c, k) => return Err(format!("cannot index {} with {}", c.kind(), k.kind())),
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
                l.get(lo..hi)
                    .map(|x| Value::list(x.to_vec()))
                    .ok_or_else(|| format!("index out of range: {hi}"))
            }
            other => Err(format!(
                "list should be type of slice or array but {}",
                other.kind()
            )),
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
            return Err("wrong type for value; expected string".into());
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
    f.insert("fail", |a| Err(a.first().map(strval).unwrap_or_default()));

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
            let k = (-n) as usize;
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
        Ok(Value::Str(match &a[1] {
            Value::List(l) => l.iter().map(strval).collect::<Vec<_>>().join(&sep),
            other => strval(other),
        }))
    });
    f.insert("indent", |a| {
        arity(a, 2)?;
        Ok(Value::Str(indent(to_i64(&a[0]), &string_arg(&a[1])?)))
    });
    f.insert("nindent", |a| {
        arity(a, 2)?;
        Ok(Value::Str(format!(
            "\n{}",
            indent(to_i64(&a[0]), &string_arg(&a[1])?)
        )))
    });
    f.insert("repeat", |a| {
        arity(a, 2)?;
        Ok(Value::Str(
            string_arg(&a[1])?.repeat(to_i64(&a[0]).max(0) as usize),
        ))
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
    f.insert("toYaml", |a| {
        arity(a, 1)?;
        Ok(Value::Str(super::yaml::to_yaml(&a[0])))
    });
    // Helm's functions.
    f.insert("required", |a| {
        arity(a, 2)?;
        match &a[1] {
            Value::Nil => Err(strval(&a[0])),
            Value::Str(s) if s.is_empty() => Err(strval(&a[0])),
            v => Ok(v.clone()),
        }
    });
    f.insert("fromYaml", |a| {
        arity(a, 1)?;
        Ok(parsed_or_error(
            serde_yaml_ng::from_str(&string_arg(&a[0])?).map_err(|e| e.to_string()),
        ))
    });
    f.insert("fromJson", |a| {
        arity(a, 1)?;
        Ok(parsed_or_error(
            serde_json::from_str(&string_arg(&a[0])?).map_err(|e| e.to_string()),
        ))
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
    // `lookup` reads the live cluster in Helm; offline (render, plan) it finds nothing.
    f.insert("lookup", |_| Ok(Value::map(BTreeMap::new())));
    f.insert("b64enc", |a| {
        arity(a, 1)?;
        Ok(Value::Str(base64_encode(strval(&a[0]).as_bytes())))
    });
    f.insert("sha256sum", |a| {
        arity(a, 1)?;
        use std::fmt::Write as _;
        let digest = sha256(strval(&a[0]).as_bytes());
        let mut hex = String::new();
        for b in digest {
            let _ = write!(hex, "{b:02x}");
        }
        Ok(Value::Str(hex))
    });

    // Sprig: numbers (int64 arithmetic, as `toInt64` converts).
    f.insert("add", |a| Ok(Value::Int(a.iter().map(to_i64).sum())));
    f.insert("add1", |a| {
        arity(a, 1)?;
        Ok(Value::Int(to_i64(&a[0]) + 1))
    });
    f.insert("sub", |a| {
        arity(a, 2)?;
        Ok(Value::Int(to_i64(&a[0]) - to_i64(&a[1])))
    });
    f.insert("mul", |a| Ok(Value::Int(a.iter().map(to_i64).product())));
    f.insert("div", |a| {
        arity(a, 2)?;
        let d = to_i64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int(to_i64(&a[0]) / d))
    });
    f.insert("mod", |a| {
        arity(a, 2)?;
        let d = to_i64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int(to_i64(&a[0]) % d))
    });
    f.insert("max", |a| {
        Ok(Value::Int(a.iter().map(to_i64).max().unwrap_or(0)))
    });
    f.insert("min", |a| {
        Ok(Value::Int(a.iter().map(to_i64).min().unwrap_or(0)))
    });
    f.insert("int", |a| {
        arity(a, 1)?;
        Ok(Value::Int(to_i64(&a[0])))
    });
    f.insert("int64", |a| {
        arity(a, 1)?;
        Ok(Value::Int(to_i64(&a[0])))
    });
    f.insert("float64", |a| {
        arity(a, 1)?;
        Ok(Value::Float(to_f64(&a[0])))
    });
    f.insert("until", |a| {
        arity(a, 1)?;
        Ok(Value::list(
            (0..to_i64(&a[0]).max(0)).map(Value::Int).collect(),
        ))
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
    f
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// SHA-256 (FIPS 180-4), small and dependency-free for `sha256sum`.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                block[4 * i],
                block[4 * i + 1],
                block[4 * i + 2],
                block[4 * i + 3],
            ]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for i in 0..8 {
            h[i] = h[i].wrapping_add(v[i]);
        }
    }
    let mut out = [0u8; 32];
    for i in 0..8 {
        out[4 * i..4 * i + 4].copy_from_slice(&h[i].to_be_bytes());
    }
    out
}
