//! Sprig's dictionary, list, regex, encoding, case, semver and date functions (the rest of what
//! charts use beyond [`crate::funcs`]'s core), registered into the same table.

use std::collections::BTreeMap;

use base64::Engine as _;

use crate::funcs::{arity, empty, list_arg as list_of, strval, FuncError, Funcs};
use crate::value::Value;

fn map_arg(v: &Value) -> Result<BTreeMap<String, Value>, FuncError> {
    match v {
        Value::Map(m) => Ok(m.to_map()),
        Value::Nil => Ok(BTreeMap::new()),
        other => Err(format!("cannot use {} as a dict", other.kind()).into()),
    }
}

pub(super) fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Str(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// mergo's deep merge as Sprig uses it: maps merge key by key; otherwise `src` wins when
/// `overwrite` (and `src` is not empty) or when `dst` is missing or empty.
fn deep_merge(dst: &mut BTreeMap<String, Value>, src: &BTreeMap<String, Value>, overwrite: bool) {
    for (k, s) in src {
        match dst.get_mut(k) {
            Some(Value::Map(d)) if matches!(s, Value::Map(_)) => {
                let Value::Map(s) = s else { continue };
                let mut merged = d.to_map();
                deep_merge(&mut merged, s, overwrite);
                *d = std::sync::Arc::new(crate::value::Entries::new(merged));
            }
            Some(d) => {
                if !empty(s) && (overwrite || empty(d)) {
                    *d = s.clone();
                }
            }
            None => {
                dst.insert(k.clone(), s.clone());
            }
        }
    }
}

/// A compiled pattern, or Go's panic from `regexp.MustCompile` (what Sprig's regex functions
/// call): ``regexp: Compile(`(`): error parsing regexp: missing closing ): `(` ``.
/// `v` with every map and list in it newly allocated.
fn deep_copy(v: &Value) -> Value {
    crate::with_stack(|| match v {
        Value::Map(m) => Value::map(m.iter().map(|(k, x)| (k.clone(), deep_copy(x))).collect()),
        Value::List(l) => Value::list(l.iter().map(deep_copy).collect()),
        other => other.clone(),
    })
}

fn regex(pattern: &str) -> Result<regex::Regex, FuncError> {
    regex::Regex::new(pattern).map_err(|e| {
        FuncError::from(format!(
            "regexp: Compile({}): {}",
            go_quote_backticks(pattern),
            go_regex_error(pattern, &e)
        ))
    })
}

/// Go's `strconv.Quote` choice in `regexp`'s panic: backticks when the text can be raw.
fn go_quote_backticks(s: &str) -> String {
    if s.contains('`') || s.chars().any(|c| c.is_control() && c != '\t') {
        format!("{s:?}")
    } else {
        format!("`{s}`")
    }
}

/// `error parsing regexp: CODE: `EXPR``, as Go's `regexp/syntax` words the common errors; others
/// keep the Rust parser's wording after Go's prefix.
fn go_regex_error(pattern: &str, e: &regex::Error) -> String {
    use regex_syntax::ast::ErrorKind as K;
    let Err(ast) = regex_syntax::ast::parse::Parser::new().parse(pattern) else {
        return format!("error parsing regexp: {e}");
    };
    let span = ast.span();
    let from = |at: usize| pattern.get(at..).unwrap_or_default();
    let (code, expr) = match ast.kind() {
        K::GroupUnclosed => ("missing closing )", pattern),
        K::GroupUnopened => ("unexpected )", pattern),
        K::ClassUnclosed => ("missing closing ]", from(span.start.offset)),
        K::EscapeUnrecognized | K::EscapeUnexpectedEof => (
            "invalid escape sequence",
            pattern
                .get(span.start.offset..span.end.offset)
                .unwrap_or_default(),
        ),
        K::RepetitionMissing => (
            "missing argument to repetition operator",
            pattern
                .get(span.start.offset..span.end.offset)
                .unwrap_or_default(),
        ),
        K::RepetitionCountInvalid | K::RepetitionCountDecimalEmpty => (
            "invalid repeat count",
            pattern
                .get(span.start.offset..span.end.offset)
                .unwrap_or_default(),
        ),
        K::ClassRangeInvalid => (
            "invalid character class range",
            pattern
                .get(span.start.offset..span.end.offset)
                .unwrap_or_default(),
        ),
        _ => return format!("error parsing regexp: {e}"),
    };
    format!("error parsing regexp: {code}: `{expr}`")
}

/// Splits words the way xstrings does for `snakecase`/`kebabcase`: case changes and
/// non-alphanumerics separate words.
fn words(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1);
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The words of `s`, lower-cased and joined with `sep`.
fn lower_words(s: &str, sep: &str) -> String {
    words(s)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(sep)
}

/// Registers the functions of this module.
pub fn register(f: &mut Funcs) {
    // Dicts. Go maps are references, so `set`/`unset` also change the dict a variable holds:
    // the executor writes the result back to that variable.
    f.insert("set", |a| {
        arity(a, 3)?;
        let mut m = map_arg(&a[0])?;
        m.insert(strval(&a[1]), a[2].clone());
        Ok(Value::map(m))
    });
    f.insert("unset", |a| {
        arity(a, 2)?;
        let mut m = map_arg(&a[0])?;
        m.remove(&strval(&a[1]));
        Ok(Value::map(m))
    });
    // Go's map iteration order is random, and so is Sprig's `keys`; sorted is one of its orders.
    f.insert("keys", |a| {
        let mut out = Vec::new();
        for d in a {
            out.extend(map_arg(d)?.into_keys().map(Value::Str));
        }
        Ok(Value::list(out))
    });
    f.insert("values", |a| {
        arity(a, 1)?;
        Ok(Value::list(map_arg(&a[0])?.into_values().collect()))
    });
    f.insert("merge", |a| {
        let Some((dst, srcs)) = a.split_first() else {
            return Err("wrong number of args: want at least 1 got 0".into());
        };
        let mut out = map_arg(dst)?;
        for s in srcs {
            deep_merge(&mut out, &map_arg(s)?, false);
        }
        Ok(Value::map(out))
    });
    f.insert("mergeOverwrite", |a| {
        let Some((dst, srcs)) = a.split_first() else {
            return Err("wrong number of args: want at least 1 got 0".into());
        };
        let mut out = map_arg(dst)?;
        for s in srcs {
            deep_merge(&mut out, &map_arg(s)?, true);
        }
        Ok(Value::map(out))
    });
    f.insert("deepCopy", |a| {
        arity(a, 1)?;
        // A map's identity matters (`set` on the copy must not reach the original): every map
        // and list is made anew.
        Ok(deep_copy(&a[0]))
    });
    f.insert("pick", |a| {
        let Some((d, names)) = a.split_first() else {
            return Err("wrong number of args".into());
        };
        let m = map_arg(d)?;
        let names: Vec<String> = names.iter().map(strval).collect();
        Ok(Value::map(
            m.into_iter().filter(|(k, _)| names.contains(k)).collect(),
        ))
    });
    f.insert("omit", |a| {
        let Some((d, names)) = a.split_first() else {
            return Err("wrong number of args".into());
        };
        let m = map_arg(d)?;
        let names: Vec<String> = names.iter().map(strval).collect();
        Ok(Value::map(
            m.into_iter().filter(|(k, _)| !names.contains(k)).collect(),
        ))
    });
    f.insert("dig", |a| {
        if a.len() < 3 {
            return Err(format!("wrong number of args: want at least 3 got {}", a.len()).into());
        }
        let (keys, rest) = a.split_at(a.len() - 2);
        let (default, mut cur) = (rest[0].clone(), rest[1].clone());
        for k in keys {
            cur = match &cur {
                Value::Map(m) => match m.get(&strval(k)) {
                    Some(v) => v.clone(),
                    None => return Ok(default),
                },
                _ => return Ok(default),
            };
        }
        Ok(cur)
    });

    // Lists.
    f.insert("tuple", |a| Ok(Value::list(a.to_vec())));
    f.insert("untilStep", |a| {
        arity(a, 3)?;
        let (start, stop, step) = (int_of(&a[0]), int_of(&a[1]), int_of(&a[2]));
        let mut out = Vec::new();
        let mut i = start;
        while (step > 0 && i < stop) || (step < 0 && i > stop) {
            out.push(Value::Int(i));
            crate::funcs::list_within_limit("untilStep", out.len() as i64)?;
            match i.checked_add(step) {
                Some(next) => i = next,
                None => break,
            }
        }
        Ok(Value::list(out))
    });
    f.insert("rest", |a| {
        arity(a, 1)?;
        Ok(Value::list(list_of(&a[0])?.into_iter().skip(1).collect()))
    });
    f.insert("initial", |a| {
        arity(a, 1)?;
        let mut l = list_of(&a[0])?;
        l.pop();
        Ok(Value::list(l))
    });
    f.insert("reverse", |a| {
        arity(a, 1)?;
        let mut l = list_of(&a[0])?;
        l.reverse();
        Ok(Value::list(l))
    });
    f.insert("compact", |a| {
        arity(a, 1)?;
        Ok(Value::list(
            list_of(&a[0])?.into_iter().filter(|v| !empty(v)).collect(),
        ))
    });
    f.insert("concat", |a| {
        let mut out = Vec::new();
        for l in a {
            out.extend(list_of(l)?);
        }
        Ok(Value::list(out))
    });
    f.insert("sortAlpha", |a| {
        arity(a, 1)?;
        let mut l: Vec<String> = match &a[0] {
            v @ (Value::List(_) | Value::Bytes(_)) => crate::funcs::strslice(v),
            other => vec![strval(other)],
        };
        l.sort();
        Ok(Value::list(l.into_iter().map(Value::Str).collect()))
    });
    f.insert("toStrings", |a| {
        arity(a, 1)?;
        Ok(Value::list(
            crate::funcs::strslice(&a[0])
                .into_iter()
                .map(Value::Str)
                .collect(),
        ))
    });

    // Strings.
    f.insert("split", |a| {
        arity(a, 2)?;
        let sep = strval(&a[0]);
        Ok(Value::map(
            strval(&a[1])
                .split(sep.as_str())
                .enumerate()
                .map(|(i, p)| (format!("_{i}"), Value::Str(p.into())))
                .collect(),
        ))
    });
    f.insert("cat", |a| {
        Ok(Value::Str(
            a.iter()
                .filter(|v| !matches!(v, Value::Nil))
                .map(strval)
                .collect::<Vec<_>>()
                .join(" "),
        ))
    });
    f.insert("nospace", |a| {
        arity(a, 1)?;
        Ok(Value::Str(
            strval(&a[0])
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect(),
        ))
    });
    f.insert("plural", |a| {
        arity(a, 3)?;
        Ok(if int_of(&a[2]) == 1 {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    f.insert("abbrev", |a| {
        arity(a, 2)?;
        let (w, s) = (int_of(&a[0]), strval(&a[1]));
        let n = s.chars().count() as i64;
        Ok(Value::Str(if w < 4 || n <= w {
            s
        } else {
            s.chars()
                .take(w.saturating_sub(3) as usize)
                .chain("...".chars())
                .collect()
        }))
    });
    f.insert("snakecase", |a| {
        arity(a, 1)?;
        Ok(Value::Str(lower_words(&strval(&a[0]), "_")))
    });
    f.insert("kebabcase", |a| {
        arity(a, 1)?;
        Ok(Value::Str(lower_words(&strval(&a[0]), "-")))
    });
    f.insert("camelcase", |a| {
        arity(a, 1)?;
        // xstrings.ToCamelCase: `_`-separated words, each capitalised.
        Ok(Value::Str(
            strval(&a[0])
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect::<String>())
                        .unwrap_or_default()
                })
                .collect(),
        ))
    });
    f.insert("atoi", |a| {
        arity(a, 1)?;
        Ok(Value::Int(strval(&a[0]).parse().unwrap_or(0)))
    });

    // Types.
    f.insert("kindOf", |a| {
        arity(a, 1)?;
        Ok(Value::Str(kind_of(&a[0]).into()))
    });
    f.insert("kindIs", |a| {
        arity(a, 2)?;
        Ok(Value::Bool(kind_of(&a[1]) == strval(&a[0])))
    });
    f.insert("typeOf", |a| {
        arity(a, 1)?;
        Ok(Value::Str(go_type(&a[0]).into()))
    });
    f.insert("deepEqual", |a| {
        arity(a, 2)?;
        Ok(Value::Bool(a[0] == a[1]))
    });

    // Regexes (RE2 syntax; Rust's `regex` is the same family: no backreferences, `$1` expansion).
    f.insert("regexMatch", |a| {
        arity(a, 2)?;
        // Sprig ignores a bad pattern here (no match); the other regex functions fail on one.
        Ok(Value::Bool(
            regex(&strval(&a[0])).is_ok_and(|re| re.is_match(&strval(&a[1]))),
        ))
    });
    f.insert("regexFind", |a| {
        arity(a, 2)?;
        Ok(Value::Str(
            regex(&strval(&a[0]))?
                .find(&strval(&a[1]))
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
        ))
    });
    f.insert("regexFindAll", |a| {
        arity(a, 3)?;
        let s = strval(&a[1]);
        let n = int_of(&a[2]);
        let re = regex(&strval(&a[0]))?;
        let all = re.find_iter(&s).map(|m| Value::Str(m.as_str().into()));
        Ok(Value::list(if n < 0 {
            all.collect()
        } else {
            all.take(n as usize).collect()
        }))
    });
    f.insert("regexReplaceAll", |a| {
        arity(a, 3)?;
        Ok(Value::Str(
            regex(&strval(&a[0]))?
                .replace_all(&strval(&a[1]), strval(&a[2]).as_str())
                .into_owned(),
        ))
    });
    f.insert("regexReplaceAllLiteral", |a| {
        arity(a, 3)?;
        Ok(Value::Str(
            regex(&strval(&a[0]))?
                .replace_all(&strval(&a[1]), regex::NoExpand(&strval(&a[2])))
                .into_owned(),
        ))
    });
    f.insert("regexSplit", |a| {
        arity(a, 3)?;
        let s = strval(&a[1]);
        let n = int_of(&a[2]);
        let re = regex(&strval(&a[0]))?;
        let parts: Vec<Value> = if n < 0 {
            re.split(&s).map(|p| Value::Str(p.into())).collect()
        } else {
            re.splitn(&s, n as usize)
                .map(|p| Value::Str(p.into()))
                .collect()
        };
        Ok(Value::list(parts))
    });

    // Encodings and checksums.
    f.insert("b64dec", |a| {
        arity(a, 1)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(strval(&a[0]))
            .map_err(|e| e.to_string());
        Ok(Value::Str(match bytes {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => e,
        }))
    });
    f.insert("sha1sum", |a| {
        arity(a, 1)?;
        use sha1::Digest as _;
        Ok(Value::Str(hex(&sha1::Sha1::digest(
            crate::funcs::string_bytes(&a[0])?,
        ))))
    });
    f.insert("adler32sum", |a| {
        arity(a, 1)?;
        let (mut s1, mut s2) = (1u32, 0u32);
        for b in crate::funcs::string_bytes(&a[0])? {
            s1 = (s1 + b as u32) % 65521;
            s2 = (s2 + s1) % 65521;
        }
        Ok(Value::Str(((s2 << 16) | s1).to_string()))
    });

    // Versions and dates.
    f.insert("semverCompare", |a| {
        arity(a, 2)?;
        Ok(crate::semver::matches(&strval(&a[0]), &strval(&a[1])).map(Value::Bool)?)
    });
}

/// Sprig's `env` and `expandenv` over `vars` (the caller's environment: the engine never reads
/// the process's own).
pub fn environment(f: &mut Funcs, vars: std::sync::Arc<BTreeMap<String, String>>) {
    let get = vars.clone();
    f.insert_context("env", move |_, a| {
        arity(a, 1)?;
        Ok(Value::Str(
            get.get(&strval(&a[0])).cloned().unwrap_or_default(),
        ))
    });
    f.insert_context("expandenv", move |_, a| {
        arity(a, 1)?;
        let get = |k: &str| vars.get(k).cloned().unwrap_or_default();
        Ok(Value::Str(expand_env(&strval(&a[0]), get)))
    });
}

/// Sprig's `expandenv` (Go's `os.ExpandEnv`): `$NAME` and `${NAME}` from `get`.
fn expand_env(s: &str, get: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(braced) = after.strip_prefix('{') {
            if let Some(end) = braced.find('}') {
                out.push_str(&get(&braced[..end]));
                rest = &braced[end + 1..];
                continue;
            }
        }
        let n = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if n == 0 {
            out.push('$');
        } else {
            out.push_str(&get(&after[..n]));
        }
        rest = &after[n..];
    }
    out.push_str(rest);
    out
}

/// Go's `reflect.Kind` name of a value.
/// Go's `%T` of a value, as `typeOf` prints it.
pub fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Int64(_) => "int64",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) if crate::semver::display(v).is_some() => crate::semver::KIND,
        Value::Map(_) => "map[string]interface {}",
        Value::Bytes(_) => "[]uint8",
        Value::Time(_) => "time.Time",
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Nil => "invalid",
        other => other.kind(),
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}
