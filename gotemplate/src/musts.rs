//! Sprig's `must*` forms and a few small functions charts reach for: `typeIs`/`typeIsLike`,
//! `any`/`all`, `initials`, `swapcase`, `untitle`, `trimall`, `splitn`, `regexQuoteMeta`,
//! `chunk`, `pluck`, `toRawJson`, `b32enc`/`b32dec`, and the float functions `ceil`, `floor`,
//! `round`, `biggest`, `toDecimal`.
//!
//! In Sprig the plain form panics where the `must` form returns an error; Go's template engine
//! turns such a panic into the same execution error, so here both forms share one function.

use std::collections::BTreeMap;

use crate::funcs::{arity, empty, list_arg, strval, to_f64, to_i64, FuncError, Funcs};
use crate::sprig::{go_type, int_of};
use crate::value::Value;

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
        let n = int_of(n);
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
        let size = int_of(&a[0]);
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
        Ok(Value::Str(crate::funcs::to_raw_json(&a[0])))
    });
    f.insert("untitle", |a| {
        arity(a, 1)?;
        // goutils' Uncapitalize: the first letter of every whitespace-separated word.
        let mut out = String::new();
        let mut at_start = true;
        for c in strval(&a[0]).chars() {
            if at_start && !c.is_whitespace() {
                out.extend(c.to_lowercase());
            } else {
                out.push(c);
            }
            at_start = c.is_whitespace();
        }
        Ok(Value::Str(out))
    });
    f.insert("pluck", |a| {
        let Some((key, dicts)) = a.split_first() else {
            return Err("wrong number of args for pluck: want at least 1 got 0".into());
        };
        let key = strval(key);
        let mut out = Vec::new();
        for (i, d) in dicts.iter().enumerate() {
            match d {
                Value::Map(m) => out.extend(m.get(&key).cloned()),
                other => {
                    return Err(
                        FuncError::arg_type("map[string]interface {}", go_type(other)).at(i + 1),
                    )
                }
            }
        }
        Ok(Value::list(out))
    });
    f.insert("b32enc", |a| {
        arity(a, 1)?;
        Ok(Value::Str(
            data_encoding::BASE32.encode(strval(&a[0]).as_bytes()),
        ))
    });
    f.insert("b32dec", |a| {
        arity(a, 1)?;
        // Sprig returns the decoding error's text as the value.
        Ok(Value::Str(
            match data_encoding::BASE32.decode(strval(&a[0]).as_bytes()) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => format!("illegal base32 data at input byte {}", e.position),
            },
        ))
    });
    f.insert("ceil", |a| {
        arity(a, 1)?;
        Ok(Value::Float(to_f64(&a[0]).ceil()))
    });
    f.insert("floor", |a| {
        arity(a, 1)?;
        Ok(Value::Float(to_f64(&a[0]).floor()))
    });
    f.insert("round", |a| {
        if a.len() < 2 || a.len() > 3 {
            return Err(format!(
                "wrong number of args for round: want 2 or 3 got {}",
                a.len()
            )
            .into());
        }
        // Sprig's steps exactly: digits = 10^places * value; up at or past `roundOn` (0.5).
        let round_on = a.get(2).map(to_f64).unwrap_or(0.5);
        let pow = 10f64.powf(to_i64(&a[1]) as f64);
        let digit = pow * to_f64(&a[0]);
        let frac = digit.fract();
        let rounded = if frac >= round_on {
            digit.ceil()
        } else {
            digit.floor()
        };
        Ok(Value::Float(rounded / pow))
    });
    f.insert("toDecimal", |a| {
        arity(a, 1)?;
        let text = strval(&a[0]);
        Ok(Value::Int64(i64::from_str_radix(&text, 8).unwrap_or(0)))
    });
    f.alias("biggest", "max");
    for (must, plain) in MUSTS {
        f.alias(must, plain);
    }
    // The regex `must` forms return `regexp.Compile`'s error, not `MustCompile`'s panic.
    for (must, plain) in MUSTS.iter().filter(|(m, _)| m.starts_with("mustRegex")) {
        f.wrap_errors(must, plain, |e| {
            match e.split_once("): error parsing regexp: ") {
                Some((head, rest)) if head.starts_with("regexp: Compile(") => {
                    format!("error parsing regexp: {rest}")
                }
                _ => e,
            }
        });
    }
}
