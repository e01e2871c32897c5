//! Helm's `toToml` and `fromToml`: values written the way BurntSushi/toml's encoder writes them
//! (plain keys first, then tables indented two spaces per level, arrays of maps as `[[tables]]`,
//! nil values left out), and TOML documents read into values.

use std::collections::BTreeMap;

use crate::value::{format_float_g, Value};

/// `toToml`: a map as a TOML document; any other value as a TOML value.
pub fn to_toml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Map(m) => table_body(&mut out, &m.to_map(), &[], 0),
        other => out.push_str(&inline(other)),
    }
    out
}

/// Whether every element of `items` is a map (and there is at least one): an array of tables.
fn is_table_array(items: &[Value]) -> bool {
    !items.is_empty() && items.iter().all(|x| matches!(x, Value::Map(_)))
}

fn is_table(v: &Value) -> bool {
    match v {
        Value::Map(_) => true,
        Value::List(l) => is_table_array(l),
        _ => false,
    }
}

/// The keys of a table below its header: values first, then tables, each group sorted.
fn table_body(out: &mut String, m: &BTreeMap<String, Value>, path: &[String], depth: usize) {
    crate::with_stack(|| table_body_inner(out, m, path, depth))
}

fn table_body_inner(out: &mut String, m: &BTreeMap<String, Value>, path: &[String], depth: usize) {
    let indent = "  ".repeat(depth);
    for (k, v) in m {
        if matches!(v, Value::Nil) || is_table(v) || crate::value::hidden(k) {
            continue;
        }
        out.push_str(&indent);
        out.push_str(&key(k));
        out.push_str(" = ");
        out.push_str(&inline(v));
        out.push('\n');
    }
    // Tables nest one level deeper than their parent's keys, except at the top.
    let header_depth = if path.is_empty() { 0 } else { depth };
    let header_indent = "  ".repeat(header_depth);
    for (k, v) in m.iter().filter(|(k, _)| !crate::value::hidden(k)) {
        let mut sub = path.to_vec();
        sub.push(k.clone());
        let header = sub.iter().map(|p| key(p)).collect::<Vec<_>>().join(".");
        match v {
            Value::Map(inner) => {
                // A blank line before top-level tables and before every `[[table]]`.
                if path.is_empty() && !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&header_indent);
                out.push_str(&format!("[{header}]\n"));
                table_body(out, &inner.to_map(), &sub, header_depth + 1);
            }
            Value::List(items) if is_table_array(items) => {
                for item in items.iter() {
                    let Value::Map(inner) = item else { continue };
                    if !out.is_empty() {
                        out.push('\n');
                    }
                    out.push_str(&header_indent);
                    out.push_str(&format!("[[{header}]]\n"));
                    table_body(out, &inner.to_map(), &sub, header_depth + 1);
                }
            }
            _ => {}
        }
    }
}

/// A key: bare when it is made of `A-Za-z0-9_-`, quoted otherwise.
fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        quoted(k)
    }
}

fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn inline(v: &Value) -> String {
    crate::with_stack(|| inline_inner(v))
}

fn inline_inner(v: &Value) -> String {
    match v {
        Value::Nil => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) | Value::Int64(i) => i.to_string(),
        Value::Float(f) => float(*f),
        Value::Str(s) => quoted(s),
        Value::List(items) => format!(
            "[{}]",
            items
                .iter()
                .filter(|x| !matches!(x, Value::Nil))
                .map(inline)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .filter(|(k, x)| !matches!(x, Value::Nil) && !crate::value::hidden(k))
                .map(|(k, x)| format!("{} = {}", key(k), inline(x)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => quoted(&other.to_go_string()),
    }
}

/// Floats keep a fraction or exponent (`1.0`, `1e+21`), as the encoder writes them.
fn float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format_float_g(f);
    if s.contains(['.', 'e']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// Why `fromToml` could not read a document: the decoder's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("toml: {0}")]
pub struct TomlError(String);

/// `fromToml`: a TOML document as a map (integers stay integers, as the decoder gives int64).
pub fn from_toml(text: &str) -> Result<Value, TomlError> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| TomlError(e.message().to_string()))?;
    Ok(from_toml_value(&toml::Value::Table(table)))
}

fn from_toml_value(v: &toml::Value) -> Value {
    crate::with_stack(|| match v {
        toml::Value::String(s) => Value::Str(s.clone()),
        toml::Value::Integer(i) => Value::Int64(*i),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::Str(d.to_string()),
        toml::Value::Array(items) => Value::list(items.iter().map(from_toml_value).collect()),
        toml::Value::Table(t) => Value::map(
            t.iter()
                .map(|(k, x)| (k.clone(), from_toml_value(x)))
                .collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(j: serde_json::Value) -> Value {
        Value::from_json(&j)
    }

    #[test]
    fn tables_nest_and_indent_as_burntsushi_writes_them() {
        // The expected text is what Helm 4 printed for the same values.
        let got = to_toml(&v(serde_json::json!({
            "s": "a\"b", "k y": 1.0, "n": null, "f": 1.0, "arr": [1.0, "a", [2.0]],
            "tbl": {"z": 1.0, "sub": {"q": "w"}, "a": "b"},
            "aot": [{"x": 1.0}, {"x": 2.0, "in": {"y": 1.0}}], "empty": {}, "mixed": [{"a": 1.0}, 2.0]
        })));
        assert_eq!(
            got,
            "arr = [1.0, \"a\", [2.0]]\nf = 1.0\n\"k y\" = 1.0\nmixed = [{a = 1.0}, 2.0]\ns = \"a\\\"b\"\n\n[[aot]]\n  x = 1.0\n\n[[aot]]\n  x = 2.0\n  [aot.in]\n    y = 1.0\n\n[empty]\n\n[tbl]\n  a = \"b\"\n  z = 1.0\n  [tbl.sub]\n    q = \"w\"\n"
        );
        assert_eq!(
            to_toml(&Value::list(vec![Value::Int(1), Value::Int(2)])),
            "[1, 2]"
        );
    }

    #[test]
    fn from_toml_reads_tables_and_reports_errors() {
        let got = from_toml("a = 1\n[b]\nc = \"x\"").expect("parses");
        assert_eq!(got.to_json(), serde_json::json!({"a": 1, "b": {"c": "x"}}));
        assert!(from_toml("a = ")
            .expect_err("eof")
            .to_string()
            .starts_with("toml: "));
    }
}
