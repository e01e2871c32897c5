//! The user's values as Helm computes them (werf's `values-ENV.yaml`, `--values` files, `--set`),
//! merged in order, and paths into values; coalescing with each chart's defaults is
//! [`super::coalesce`].

use serde_json::{Map, Value as Json};

use super::RenderOptions;
use super::{chart_error, Chart};
use crate::error::{Error, Location, Result};
use crate::pattern::join;

/// The most keys a `--set` path may nest (`a.b.c...`), so a hostile path cannot build a value
/// deeper than the rest of the engine handles.
pub const MAX_SET_DEPTH: usize = 100;

/// A values file as Helm reads it (YAML 1.1, documents merged), with errors naming the file.
pub fn values_file(file: &str, text: &str) -> Result<Map<String, Json>> {
    gotemplate::nesting::check_yaml(text)
        .map_err(|(line, message)| chart_error(file, line, 0, message))?;
    gotemplate::yaml::load::load_values(text)
        .map_err(|e| chart_error(file, e.line, e.column, e.message))
}

/// The user's values for the root chart: `values-ENV.yaml`, `--values`, `--set`, merged in
/// that order (later wins; maps merge key by key, as Helm merges value files).
pub fn user_values(chart: &Chart, options: &RenderOptions) -> Result<Map<String, Json>> {
    let mut values = Map::new();
    if let Some(env) = &options.env {
        let file = format!("values-{env}.yaml");
        if let Some(data) = chart.files.get(&file) {
            let text = String::from_utf8_lossy(data);
            merge_files(&mut values, values_file(&join(&chart.dir, &file), &text)?);
        }
    }
    for (file, text) in &options.values_files {
        merge_files(&mut values, values_file(file, text)?);
    }
    let mut as_json = Json::Object(values);
    for (expr, kind) in &options.set {
        apply_set(&mut as_json, expr, *kind).map_err(|e| Error::Config {
            at: Location {
                file: kind.flag().into(),
                line: 0,
                column: 0,
            },
            message: e.to_string(),
        })?;
    }
    match as_json {
        Json::Object(m) => Ok(m),
        _ => Ok(Map::new()),
    }
}

/// Helm's `mergeMaps` of value files: maps merge key by key, anything else is replaced.
fn merge_files(base: &mut Map<String, Json>, over: Map<String, Json>) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Json::Object(b)), Json::Object(o)) => merge_files(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Splits on unescaped `sep` (`\,` and `\.` stay literal, as in Helm's `strvals`).
fn split_escaped(s: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) if n == sep || n == '\\' => parts.last_mut().expect("one part").push(n),
                Some(n) => {
                    let last = parts.last_mut().expect("one part");
                    last.push('\\');
                    last.push(n);
                }
                None => parts.last_mut().expect("one part").push('\\'),
            },
            c if c == sep => parts.push(String::new()),
            c => parts.last_mut().expect("one part").push(c),
        }
    }
    parts
}

/// How a `--set` family reads its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetKind {
    /// `--set`: typed as Helm's `strvals` types them (integers are int64), `{a,b}` lists.
    Typed,
    /// `--set-string`: every value a string.
    String,
    /// `--set-json`: each value a JSON document.
    Json,
    /// `--set-literal` (and `--set-file`, read): one `key=value`, the value exactly as written.
    Literal,
}

impl SetKind {
    /// The flag, for errors.
    fn flag(self) -> &'static str {
        match self {
            SetKind::Typed => "--set",
            SetKind::String => "--set-string",
            SetKind::Json => "--set-json",
            SetKind::Literal => "--set-literal",
        }
    }
}

/// A `--set` expression that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    #[error("`{flag} {expr}`: expected `key=value` in `{part}`")]
    NoValue {
        flag: &'static str,
        expr: String,
        part: String,
    },
    #[error("`{flag} {expr}`: the value of `{key}` is not JSON: {reason}")]
    Json {
        flag: &'static str,
        expr: String,
        key: String,
        reason: String,
    },
    #[error("`--set`: the path of `{prefix}...` nests {levels} levels (at most {MAX_SET_DEPTH})")]
    TooDeep { prefix: String, levels: usize },
    #[error("`{flag} {expr}`: empty key in `{path}`")]
    EmptyKey {
        flag: &'static str,
        expr: String,
        path: String,
    },
    #[error("`{flag} {expr}`: bad list index `[{index}` in `{key}`")]
    BadIndex {
        flag: &'static str,
        expr: String,
        index: String,
        key: String,
    },
    #[error("`{flag} {expr}`: list index {index} is too large")]
    IndexTooLarge {
        flag: &'static str,
        expr: String,
        index: usize,
    },
    #[error("`{flag} {expr}`: {cause}")]
    Strvals {
        flag: &'static str,
        expr: String,
        cause: super::strvals::StrvalsError,
    },
}

/// Applies one expression of a `--set` family: `a.b=c,d[0].e=f` (`\,` and `\.` escaped) for
/// `--set` and `--set-string`; `a=JSON,b=JSON` for `--set-json`; one `a.b=VALUE` for
/// `--set-literal`, whose value is taken whole.
pub fn apply_set(
    values: &mut Json,
    expr: &str,
    kind: SetKind,
) -> std::result::Result<(), SetError> {
    let flag = kind.flag();
    let no_value = |part: &str| SetError::NoValue {
        flag,
        expr: expr.to_string(),
        part: part.to_string(),
    };
    match kind {
        SetKind::Literal => {
            let (path, raw) = expr.split_once('=').ok_or_else(|| no_value(expr))?;
            // A literal may be a file's text (`--set-file`): errors show its key only.
            let shown = format!("{path}=…");
            set_path(values, &shown, flag, path, Json::String(raw.to_string()))
        }
        SetKind::Json => {
            let mut rest = expr;
            while !rest.is_empty() {
                let (path, after) = rest.split_once('=').ok_or_else(|| no_value(rest))?;
                let mut stream = serde_json::Deserializer::from_str(after).into_iter::<Json>();
                let value = match stream.next() {
                    Some(Ok(v)) => v,
                    Some(Err(e)) => {
                        return Err(SetError::Json {
                            flag,
                            expr: expr.to_string(),
                            key: path.to_string(),
                            reason: e.to_string(),
                        })
                    }
                    None => return Err(no_value(rest)),
                };
                set_path(values, expr, flag, path, value)?;
                rest = after[stream.byte_offset()..].trim_start();
                rest = match rest.strip_prefix(',') {
                    Some(r) => r.trim_start(),
                    None if rest.is_empty() => rest,
                    None => return Err(no_value(rest)),
                };
            }
            Ok(())
        }
        SetKind::Typed | SetKind::String => {
            if !values.is_object() {
                *values = Json::Object(Default::default());
            }
            let map = values.as_object_mut().expect("made an object");
            super::strvals::parse_into(expr, map, kind == SetKind::String).map_err(|cause| {
                SetError::Strvals {
                    flag,
                    expr: expr.to_string(),
                    cause,
                }
            })
        }
    }
}

/// Sets `value` at `path` (keys, each optionally with list indices: `a[0][1].b`).
fn set_path(
    values: &mut Json,
    expr: &str,
    flag: &'static str,
    path: &str,
    value: Json,
) -> std::result::Result<(), SetError> {
    let mut slot = values;
    let keys = split_escaped(path, '.');
    let levels = keys.len() + path.matches('[').count();
    if levels > MAX_SET_DEPTH {
        return Err(SetError::TooDeep {
            prefix: path.chars().take(40).collect(),
            levels,
        });
    }
    for key in &keys {
        let (name, indices) = match key.find('[') {
            Some(b) => (&key[..b], &key[b..]),
            None => (key.as_str(), ""),
        };
        if name.is_empty() {
            return Err(SetError::EmptyKey {
                flag,
                expr: expr.to_string(),
                path: path.to_string(),
            });
        }
        if !slot.is_object() {
            *slot = Json::Object(Default::default());
        }
        slot = slot
            .as_object_mut()
            .expect("made an object")
            .entry(name.to_string())
            .or_insert(Json::Null);
        for idx in indices.split('[').filter(|x| !x.is_empty()) {
            let n: usize = idx
                .strip_suffix(']')
                .and_then(|x| x.parse().ok())
                .ok_or_else(|| SetError::BadIndex {
                    flag,
                    expr: expr.to_string(),
                    index: idx.to_string(),
                    key: key.to_string(),
                })?;
            if n > 65_536 {
                return Err(SetError::IndexTooLarge {
                    flag,
                    expr: expr.to_string(),
                    index: n,
                });
            }
            if !slot.is_array() {
                *slot = Json::Array(Vec::new());
            }
            let list = slot.as_array_mut().expect("made a list");
            if list.len() <= n {
                list.resize(n + 1, Json::Null);
            }
            slot = &mut list[n];
        }
    }
    *slot = value;
    Ok(())
}

/// The map at a dotted path (`a.b.c`) of `values`, as Helm's `Values.Table`.
pub fn table<'v>(values: &'v Map<String, Json>, path: &str) -> Option<&'v Map<String, Json>> {
    let mut current = values;
    for key in path.split('.').filter(|k| !k.is_empty()) {
        match current.get(key) {
            Some(Json::Object(m)) => current = m,
            _ => return None,
        }
    }
    Some(current)
}

/// The value at a dotted path, as Helm's `Values.PathValue` (the last element need not be a
/// map).
pub fn path_value<'v>(values: &'v Map<String, Json>, path: &str) -> Option<&'v Json> {
    let (head, last) = match path.rsplit_once('.') {
        Some((h, l)) => (h, l),
        None => ("", path),
    };
    table(values, head)?.get(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_types_integers_as_int64() {
        let mut v = json!({});
        apply_set(&mut v, "a=1,b=x,c=true,d={1,2}", SetKind::Typed).expect("applies");
        assert!(v["a"].is_i64());
        assert_eq!(v, json!({"a": 1, "b": "x", "c": true, "d": [1, 2]}));
    }

    #[test]
    fn json_and_literal_sets_take_their_values_whole() {
        let mut v = json!({"keep": 1});
        apply_set(
            &mut v,
            r#"a.b={"x":[1,2],"y":"s,t"},c[1]=true, d="e""#,
            SetKind::Json,
        )
        .expect("applies");
        assert_eq!(
            v,
            json!({"keep": 1, "a": {"b": {"x": [1, 2], "y": "s,t"}}, "c": [null, true], "d": "e"})
        );
        apply_set(&mut v, "lit.x=a,b=c\\.d", SetKind::Literal).expect("applies");
        assert_eq!(v["lit"]["x"], "a,b=c\\.d");
        let e = apply_set(&mut v, "k={nope", SetKind::Json).expect_err("not JSON");
        assert!(
            matches!(e, SetError::Json { ref key, .. } if key == "k"),
            "{e}"
        );
        assert!(e
            .to_string()
            .starts_with("`--set-json k={nope`: the value of `k` is not JSON"));
        let e = apply_set(&mut v, "k=1 2", SetKind::Json).expect_err("trailing");
        assert!(matches!(e, SetError::NoValue { .. }), "{e}");
        let e = apply_set(&mut v, "a..b=the secret text", SetKind::Literal).expect_err("empty key");
        assert_eq!(e.to_string(), "`--set-literal a..b=…`: empty key in `a..b`");
        let e = apply_set(&mut v, "novalue", SetKind::Literal).expect_err("no =");
        assert_eq!(
            e.to_string(),
            "`--set-literal novalue`: expected `key=value` in `novalue`"
        );
    }
}
