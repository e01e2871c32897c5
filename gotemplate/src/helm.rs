//! Helm 4's layer over Sprig: the functions Helm's engine adds (`toYaml`, `toYamlPretty`,
//! `fromYaml`, `fromYamlArray`, `toJson`, `fromJson`, `fromJsonArray`, `toToml`, `fromToml`,
//! their `must*` forms, `required`, `lookup`) and the two that drive the executor (`include`,
//! `tpl`), with Helm's wording of their errors.

use std::sync::Arc;

use crate::exec::Exec;
use crate::funcs::{arity, builtins, string_arg, strval, CallError, Funcs};
use crate::value::Value;

/// Sprig's table with Helm's functions over it, made once per process.
pub fn shared() -> &'static Arc<Funcs> {
    static TABLE: std::sync::OnceLock<Arc<Funcs>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| Arc::new(funcs()))
}

/// Sprig's table with Helm's functions over it.
pub fn funcs() -> Funcs {
    let mut f = builtins();
    f.insert("toYaml", |a| {
        arity(a, 1)?;
        Ok(Value::Str(crate::yaml::to_yaml(&a[0])))
    });
    f.insert("mustToYaml", |a| {
        arity(a, 1)?;
        Ok(Value::Str(crate::yaml::to_yaml(&a[0])))
    });
    f.insert("toYamlPretty", |a| {
        arity(a, 1)?;
        Ok(Value::Str(crate::yaml::to_yaml_pretty(&a[0])))
    });
    f.insert("fromYaml", |a| {
        arity(a, 1)?;
        let text = string_arg(&a[0])?;
        Ok(match crate::yaml::load::load(&text) {
            Ok(serde_json::Value::Object(m)) => Value::from_json(&serde_json::Value::Object(m)),
            Ok(serde_json::Value::Null) => Value::map(Default::default()),
            Ok(other) => error_map(unmarshal_error(&other, "map[string]interface {}")),
            Err(e) => error_map(yaml_error(&e)),
        })
    });
    f.insert("fromYamlArray", |a| {
        arity(a, 1)?;
        let text = string_arg(&a[0])?;
        Ok(match crate::yaml::load::load(&text) {
            Ok(serde_json::Value::Array(items)) => {
                Value::from_json(&serde_json::Value::Array(items))
            }
            Ok(serde_json::Value::Null) => Value::list(Vec::new()),
            Ok(other) => error_list(unmarshal_error(&other, "[]interface {}")),
            Err(e) => error_list(yaml_error(&e)),
        })
    });
    f.insert("fromJson", |a| {
        arity(a, 1)?;
        let text = string_arg(&a[0])?;
        Ok(match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(m)) => Value::from_json(&serde_json::Value::Object(m)),
            Ok(serde_json::Value::Null) => Value::map(Default::default()),
            Ok(other) => error_map(json_type_error(&other, "map[string]interface {}")),
            Err(e) => error_map(go_json_error(&e, &text)),
        })
    });
    f.insert("fromJsonArray", |a| {
        arity(a, 1)?;
        let text = string_arg(&a[0])?;
        Ok(match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Array(items)) => {
                Value::from_json(&serde_json::Value::Array(items))
            }
            Ok(serde_json::Value::Null) => Value::list(Vec::new()),
            Ok(other) => error_list(json_type_error(&other, "[]interface {}")),
            Err(e) => error_list(go_json_error(&e, &text)),
        })
    });
    f.insert("toToml", |a| {
        arity(a, 1)?;
        Ok(Value::Str(crate::toml::to_toml(&a[0])))
    });
    f.insert("mustToToml", |a| {
        arity(a, 1)?;
        Ok(Value::Str(crate::toml::to_toml(&a[0])))
    });
    f.insert("fromToml", |a| {
        arity(a, 1)?;
        Ok(match crate::toml::from_toml(&string_arg(&a[0])?) {
            Ok(v) => v,
            Err(e) => error_map(e.to_string()),
        })
    });
    f.insert("required", |a| {
        arity(a, 2)?;
        match &a[1] {
            Value::Nil => Err(strval(&a[0]).into()),
            Value::Str(s) if s.is_empty() => Err(strval(&a[0]).into()),
            v => Ok(v.clone()),
        }
    });
    // Helm renders offline with an empty `lookup` (as `helm template` does); an engine that
    // reads a cluster registers its own.
    f.insert("lookup", |a| {
        arity(a, 4)?;
        Ok(Value::map(Default::default()))
    });
    f.insert_context("include", include);
    f.insert_context("tpl", tpl);
    f
}

/// `include NAME DATA`: the named template rendered into a string.
fn include(exec: &mut Exec<'_>, args: &[Value]) -> Result<Value, CallError> {
    let [name, data] = args else {
        return Err(format!(
            "wrong number of args for include: want 2 got {}",
            args.len()
        )
        .into());
    };
    let Value::Str(name) = name else {
        return Err(format!(
            "wrong type for value; expected string; got {}",
            crate::sprig::go_type(name)
        )
        .into());
    };
    if !exec.set.trees.contains_key(name.as_str()) {
        // Helm's wording (its templates are parsed into one named `gotpl`).
        return Err(
            format!("template: no template {name:?} associated with template \"gotpl\"").into(),
        );
    }
    Ok(Value::Str(exec.render(name, data)?))
}

/// `tpl TEXT DATA`: a string rendered as a template, with every define of the set in reach.
fn tpl(exec: &mut Exec<'_>, args: &[Value]) -> Result<Value, CallError> {
    let [text, data] = args else {
        return Err(format!("wrong number of args for tpl: want 2 got {}", args.len()).into());
    };
    let Value::Str(text) = text else {
        return Err(format!(
            "wrong type for value; expected string; got {}",
            crate::sprig::go_type(text)
        )
        .into());
    };
    let set = exec
        .parse_text("gotpl", text)
        .map_err(|e| format!("cannot parse template {text:?}: {e}"))?;
    exec.render_with(&set, "gotpl", data)
        .map(Value::Str)
        .map_err(|e| format!("error during tpl function execution for {text:?}: {e}").into())
}

fn error_map(message: String) -> Value {
    Value::map(
        [("Error".to_string(), Value::Str(message))]
            .into_iter()
            .collect(),
    )
}

fn error_list(message: String) -> Value {
    Value::list(vec![Value::Str(message)])
}

/// sigs.k8s.io/yaml's wording of a YAML error.
fn yaml_error(e: &crate::yaml::load::LoadError) -> String {
    if e.line > 0 {
        format!("error converting YAML to JSON: {e}")
    } else {
        e.to_string()
    }
}

/// sigs.k8s.io/yaml's error when a document is not of the kind asked for.
fn unmarshal_error(got: &serde_json::Value, target: &str) -> String {
    format!(
        "error unmarshaling JSON: while decoding JSON: {}",
        json_type_error(got, target)
    )
}

fn json_type_error(got: &serde_json::Value, target: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go value of type {target}",
        crate::yaml::load::json_kind(got)
    )
}

/// A JSON syntax error worded as Go's `encoding/json` words it.
pub fn go_json_error(e: &serde_json::Error, text: &str) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "unexpected end of JSON input".into(),
        Category::Syntax => {
            // The offending character: serde_json's line and column point at it.
            let offending = text
                .lines()
                .nth(e.line().saturating_sub(1))
                .and_then(|l| l.chars().nth(e.column().saturating_sub(1)));
            match offending {
                Some(c) => format!(
                    "invalid character {} looking for beginning of value",
                    go_char(c)
                ),
                None => e.to_string(),
            }
        }
        _ => e.to_string(),
    }
}

fn go_char(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '"' => "'\"'".into(),
        c if c.is_control() => format!("{:?}", c),
        c => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Set;

    fn render(text: &str) -> Result<String, crate::Error> {
        let funcs = shared();
        let mut set = Set::with_functions(funcs.clone());
        set.parse("t", text)?;
        let data = Value::from_json(&serde_json::json!({"x": {"y": 1}}));
        crate::exec::Exec::new(&set, funcs).render("t", &data)
    }

    #[test]
    fn helm_converters_match_helm_4() {
        // Each expected text is what Helm 4 printed for the same template.
        let cases = [
            (
                r#"{{ dict "a" (list 1 2 (dict "x" "y")) "b" "s" | toYamlPretty }}"#,
                "a:\n  - 1\n  - 2\n  - x: \"y\"\nb: s",
            ),
            (
                r#"{{ dict "a" (list 1 2 (dict "x" "y")) "b" "s" | toYaml }}"#,
                "a:\n- 1\n- 2\n- x: \"y\"\nb: s",
            ),
            (
                r#"{{ fromYamlArray "- 1\n- a" | toJson }} {{ fromYamlArray "a: 1" | toJson }}"#,
                r#"[1,"a"] ["error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go value of type []interface {}"]"#,
            ),
            (
                r#"{{ fromJsonArray "[1" | toJson }} {{ fromJson "{" | toJson }}"#,
                r#"["unexpected end of JSON input"] {"Error":"unexpected end of JSON input"}"#,
            ),
            (
                r#"{{ (fromYaml "a: 12345678\nb: yes\nc: 0777") | toJson }} {{ $x := fromYaml "a: 12345678" }}{{ $x.a }} {{ typeOf $x.a }}"#,
                r#"{"a":12345678,"b":true,"c":511} 1.2345678e+07 float64"#,
            ),
            (
                r#"{{ fromToml "a = 1\n[b]\nc = \"x\"" | toJson }}"#,
                r#"{"a":1,"b":{"c":"x"}}"#,
            ),
            (
                r#"{{ toToml (list 1 2) }}|{{ toToml "s" }}|{{ toToml 1 }}"#,
                r#"[1, 2]|"s"|1"#,
            ),
            (r#"{{ lookup "v1" "Pod" "ns" "x" | toJson }}"#, "{}"),
        ];
        for (template, want) in cases {
            assert_eq!(render(template).expect(template), want, "{template}");
        }
    }

    #[test]
    fn include_tpl_and_required_fail_as_helm_words_it() {
        let e = render(r#"{{ tpl "{{ .x.y.z }}" . }}"#).expect_err("nil field in tpl");
        assert!(
            e.message.starts_with(r#"error calling tpl: error during tpl function execution for "{{ .x.y.z }}": template: gotpl:1:"#),
            "{e}"
        );
        let e = render(r#"{{ tpl "{{ if }}" . }}"#).expect_err("parse error in tpl");
        assert!(
            e.message.starts_with(
                r#"error calling tpl: cannot parse template "{{ if }}": template: gotpl:1:"#
            ),
            "{e}"
        );
        let e = render(r#"{{ required "need it" .nope }}"#).expect_err("required");
        assert_eq!(e.message, "error calling required: need it");
        let e = render(r#"{{ define "d" }}{{ fail "deep" }}{{ end }}x{{ include "d" . }}"#)
            .expect_err("fail inside include");
        assert_eq!(
            (e.template.as_str(), e.message.as_str()),
            ("d", "error calling fail: deep")
        );
        assert_eq!(
            render(r#"{{ define "d" }}[{{ .y }}]{{ end }}{{ include "d" .x }}"#).expect("include"),
            "[1]"
        );
    }
}
