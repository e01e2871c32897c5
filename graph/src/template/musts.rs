//! Sprig's `must*` forms and a few small functions charts reach for: `typeIs`/`typeIsLike`,
//! `any`/`all`, `initials`, `swapcase`, `trimall`, `splitn`, `regexQuoteMeta`, `chunk`,
//! `toRawJson`.
//!
//! In Sprig the plain form panics where the `must` form returns an error; Go's template engine
//! turns such a panic into the same execution error, so here both forms share one function.

use std::collections::BTreeMap;

use super::funcs::{arity, empty, list_arg, strval, Funcs};
use super::value::Value;

/// `mustX` -> `X`, for every `X` the table has.
const MUSTS: &[(&str, &str)] = &[
    ("mustAppend", "append"),
    ("mustPrepend", "prepend"),
    ("mustFirst", "first"),
    ("mustLast", "last"),
    ("mustRest", "rest"),
    ("mustInitial", "initial"),
    ("mustReverse", "reverse"),
    ("mustUniq", "uniq"),
    ("mustWithout", "without"),
    ("mustHas", "has"),
    ("mustCompact", "compact"),
    ("mustSlice", "slice"),
    ("mustDeepCopy", "deepCopy"),
    ("mustMerge", "merge"),
    ("mustMergeOverwrite", "mergeOverwrite"),
    ("mustRegexMatch", "regexMatch"),
    ("mustRegexFind", "regexFind"),
    ("mustRegexFindAll", "regexFindAll"),
    ("mustRegexReplaceAll", "regexReplaceAll"),
    ("mustRegexReplaceAllLiteral", "regexReplaceAllLiteral"),
    ("mustRegexSplit", "regexSplit"),
    ("mustToJson", "toJson"),
    ("mustToPrettyJson", "toPrettyJson"),
    ("mustToRawJson", "toRawJson"),
    ("mustChunk", "chunk"),
];

/// Go's `%T` of a value as Sprig's `typeOf` prints it.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
    }
}

/// Registers the functions; call after the plain forms are in the table.
pub fn register(f: &mut Funcs) {
    f.insert("typeIs", |a| {
        arity(a, 2)?;
        Ok(Value::Bool(strval(&a[0]) == go_type(&a[1])))
    });
    f.insert("typeIsLike", |a| {
        arity(a, 2)?;
        let (want, got) = (strval(&a[0]), go_type(&a[1]));
        Ok(Value::Bool(want == got || format!("*{want}") == got))
    });
    f.insert("any", |a| Ok(Value::Bool(a.iter().any(|v| !empty(v)))));
    f.insert("all", |a| Ok(Value::Bool(a.iter().all(|v| !empty(v)))));
    f.insert("initials", |a| {
        arity(a, 1)?;
        Ok(Value::Str(
            strval(&a[0])
                .split_whitespace()
                .filter_map(|w| w.chars().next())
                .collect(),
        ))
    });
    f.insert("swapcase", |a| {
        arity(a, 1)?;
        Ok(Value::Str(
            strval(&a[0])
                .chars()
                .flat_map(|c| {
                    if c.is_uppercase() {
                        c.to_lowercase().collect::<Vec<_>>()
                    } else {
                        c.to_uppercase().collect::<Vec<_>>()
                    }
                })
                .collect(),
        ))
    });
    f.insert("trimall", |a| {
        arity(a, 2)?;
        let cut: Vec<char> = strval(&a[0]).chars().collect();
        Ok(Value::Str(
            strval(&a[1]).trim_matches(|c| cut.contains(&c)).to_string(),
        ))
    });
    f.insert("splitn", |a| {
        arity(a, 3)?;
        let (sep, n, s) = (strval(&a[0]), &a[1], strval(&a[2]));
        let n = match n {
            Value::Int(i) => *i,
            Value::Float(x) => *x as i64,
            other => strval(other).trim().parse().unwrap_or(0),
        };
        let parts: Vec<String> = match n {
            0 => Vec::new(),
            n if n < 0 => s.split(sep.as_str()).map(str::to_string).collect(),
            n => s
                .splitn(n.min(1 << 20) as usize, sep.as_str())
                .map(str::to_string)
                .collect(),
        };
        Ok(Value::map(
            parts
                .into_iter()
                .enumerate()
                .map(|(i, p)| (format!("_{i}"), Value::Str(p)))
                .collect::<BTreeMap<_, _>>(),
        ))
    });
    f.insert("regexQuoteMeta", |a| {
        arity(a, 1)?;
        // Go's `regexp.QuoteMeta`: exactly these are escaped.
        let mut out = String::new();
        for c in strval(&a[0]).chars() {
            if "\\.+*?()|[]{}^$".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        Ok(Value::Str(out))
    });
    f.insert("chunk", |a| {
        arity(a, 2)?;
        let size = match &a[0] {
            Value::Int(i) => *i,
            Value::Float(x) => *x as i64,
            other => strval(other).trim().parse().unwrap_or(0),
        };
        let items = list_arg(&a[1])?;
        if size < 1 {
            // Sprig sizes its result as (len-1)/size+1: Go panics making it.
            return Err("runtime error: makeslice: len out of range".into());
        }
        Ok(Value::list(
            items
                .chunks(size as usize)
                .map(|c| Value::list(c.to_vec()))
                .collect(),
        ))
    });
    f.insert("toRawJson", |a| {
        arity(a, 1)?;
        Ok(Value::Str(super::funcs::to_raw_json(&a[0])))
    });
    for (must, plain) in MUSTS {
        if let Some(func) = f.get(plain).copied() {
            f.insert(must, func);
        }
    }
}
