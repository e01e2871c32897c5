//! `values.schema.json`: each chart's coalesced values validated against its own schema (the
//! jsonschema crate), errors listed per chart with the key's path, worded as Helm 4 words them
//! (`- at '/port': got string, want integer`).

use serde_json::{Map, Value as Json};

use super::chart_error;
use super::deps::Instance;
use crate::error::Result;
use crate::pattern::join;

/// Validates `values` (the root chart's coalesced values) against every enabled chart's schema.
pub fn validate(root: &Instance, values: &Map<String, Json>) -> Result<()> {
    let mut report = String::new();
    check(root, values, &mut report)?;
    if report.is_empty() {
        return Ok(());
    }
    Err(chart_error(
        &join(&root.chart.dir, "values.schema.json"),
        0,
        0,
        format!(
            "values don't meet the specifications of the schema(s) in the following chart(s):\n{}",
            report.trim_end()
        ),
    ))
}

fn check(inst: &Instance, values: &Map<String, Json>, report: &mut String) -> Result<()> {
    if let Some(schema) = &inst.chart.schema {
        let file = join(&inst.chart.dir, "values.schema.json");
        let validator = jsonschema::validator_for(schema)
            .map_err(|e| chart_error(&file, 0, 0, format!("the schema is not valid: {e}")))?;
        let instance = Json::Object(values.clone());
        let mut found: Vec<(String, String)> = validator
            .iter_errors(&instance)
            .map(|e| (e.instance_path().as_str().to_string(), message(&e)))
            .collect();
        found.sort();
        if !found.is_empty() {
            report.push_str(&format!("{}:\n", inst.name));
            for (path, m) in found {
                report.push_str(&format!("- at '{path}': {m}\n"));
            }
        }
    }
    for child in &inst.children {
        let empty = Map::new();
        let sub = match values.get(&child.name) {
            Some(Json::Object(m)) => m,
            _ => &empty,
        };
        gotemplate::with_stack(|| check(child, sub, report))?;
    }
    Ok(())
}

fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// The message as santhosh-tekuri/jsonschema (Helm 4's validator) words the common keywords;
/// the crate's own wording for the rest.
fn message(e: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    let got = e.instance();
    match e.kind() {
        K::Type { kind } => {
            let want = match kind {
                jsonschema::error::TypeKind::Single(t) => t.to_string(),
                jsonschema::error::TypeKind::Multiple(ts) => ts
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            format!("got {}, want {want}", kind_of(got))
        }
        K::Required { property } => format!(
            "missing property '{}'",
            property.as_str().unwrap_or_default()
        ),
        K::Minimum { limit } => format!("minimum: got {}, want {}", number(got), number(limit)),
        K::Maximum { limit } => format!("maximum: got {}, want {}", number(got), number(limit)),
        K::ExclusiveMinimum { limit } => {
            format!(
                "exclusiveMinimum: got {}, want {}",
                number(got),
                number(limit)
            )
        }
        K::ExclusiveMaximum { limit } => {
            format!(
                "exclusiveMaximum: got {}, want {}",
                number(got),
                number(limit)
            )
        }
        K::MinLength { limit } => format!(
            "minLength: got {}, want {limit}",
            got.as_str().map_or(0, |s| s.chars().count())
        ),
        K::MaxLength { limit } => format!(
            "maxLength: got {}, want {limit}",
            got.as_str().map_or(0, |s| s.chars().count())
        ),
        K::Pattern { pattern } => format!(
            "'{}' does not match pattern '{pattern}'",
            got.as_str().unwrap_or_default()
        ),
        K::Enum { options } => format!("value must be one of {}", options_text(options)),
        K::AdditionalProperties { unexpected } => format!(
            "additional properties {} not allowed",
            unexpected
                .iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => e.to_string(),
    }
}

/// A number as the validator prints it: whole numbers with thousands grouped (`70,000`).
fn number(v: &Json) -> String {
    let Some(f) = v.as_f64() else {
        return v.to_string();
    };
    if f.fract() != 0.0 || f.abs() >= 1e15 {
        return gotemplate::value::format_float_g(f);
    }
    let digits = (f.abs() as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if f < 0.0 {
        out.insert(0, '-');
    }
    out
}

fn options_text(options: &Json) -> String {
    match options {
        Json::Array(items) => items
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}
