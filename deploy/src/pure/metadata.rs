//! Annotations and labels the user adds to every deployed object (werf's `--add-annotation`,
//! `--add-label` and their `WERF_ADD_ANNOTATION_*`/`WERF_ADD_LABEL_*` variables): checked
//! when read, written over the chart's own on each object's `metadata`.

use std::collections::BTreeMap;

use serde_json::Value;

/// What is added to every object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extra {
    pub annotations: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// A `key=value` werf cannot add, named by where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPair {
    #[error("{from}: `{text}` is not `key=value`")]
    NoValue { from: String, text: String },
    #[error("{from}: `{key}` is not a Kubernetes {what} key: {reason}")]
    Key {
        from: String,
        key: String,
        what: &'static str,
        reason: &'static str,
    },
    #[error("{from}: the label value `{value}` is not valid: {reason}")]
    LabelValue {
        from: String,
        value: String,
        reason: &'static str,
    },
}

/// Which of the two a pair is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Annotation,
    Label,
}

impl Extra {
    /// Adds `text` (`key=value`) read from `from` (a flag or a variable, for the error).
    pub fn add(&mut self, kind: Kind, text: &str, from: &str) -> Result<(), BadPair> {
        let Some((key, value)) = text.split_once('=') else {
            return Err(BadPair::NoValue {
                from: from.to_string(),
                text: text.to_string(),
            });
        };
        let what = match kind {
            Kind::Annotation => "annotation",
            Kind::Label => "label",
        };
        if let Err(reason) = qualified_name(key) {
            return Err(BadPair::Key {
                from: from.to_string(),
                key: key.to_string(),
                what,
                reason,
            });
        }
        match kind {
            Kind::Annotation => {
                self.annotations.insert(key.to_string(), value.to_string());
            }
            Kind::Label => {
                if !value.is_empty() {
                    label_value(value).map_err(|reason| BadPair::LabelValue {
                        from: from.to_string(),
                        value: value.to_string(),
                        reason,
                    })?;
                }
                self.labels.insert(key.to_string(), value.to_string());
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.annotations.is_empty() && self.labels.is_empty()
    }

    /// Writes the pairs into `object`'s `metadata` (over the chart's own of the same key).
    pub fn apply(&self, object: &mut Value) {
        if self.is_empty() {
            return;
        }
        let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
            return;
        };
        for (field, pairs) in [("annotations", &self.annotations), ("labels", &self.labels)] {
            if pairs.is_empty() {
                continue;
            }
            let slot = meta
                .entry(field)
                .or_insert_with(|| Value::Object(Default::default()));
            if !slot.is_object() {
                *slot = Value::Object(Default::default());
            }
            if let Some(map) = slot.as_object_mut() {
                for (k, v) in pairs {
                    map.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
    }
}

/// Kubernetes' qualified names: an optional DNS subdomain prefix and `/`, then a name of at
/// most 63 characters of letters, digits, `-`, `_` and `.`, starting and ending alphanumeric.
fn qualified_name(key: &str) -> Result<(), &'static str> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        let label = |l: &str| {
            !l.is_empty()
                && l.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if p.is_empty() || p.len() > 253 || !p.split('.').all(label) {
            return Err("its prefix must be a DNS subdomain (`example.com/`)");
        }
    }
    if name.is_empty() {
        return Err("the name is empty");
    }
    label_value(name)
}

/// A label value (and a key's name part): at most 63 characters of letters, digits, `-`, `_`
/// and `.`, starting and ending with a letter or digit.
fn label_value(v: &str) -> Result<(), &'static str> {
    let b = v.as_bytes();
    if b.len() > 63 {
        return Err("at most 63 characters");
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        return Err("only letters, digits, `-`, `_` and `.`");
    }
    if let (Some(first), Some(last)) = (b.first(), b.last()) {
        if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
            return Err("it must start and end with a letter or digit");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pairs_are_checked_and_written_over_the_charts() {
        let mut extra = Extra::default();
        extra
            .add(
                Kind::Annotation,
                "project.werf.io/git=https://x/y.git",
                "--add-annotation",
            )
            .expect("annotation");
        extra
            .add(
                Kind::Annotation,
                "ci.werf.io/commit=abc=def",
                "WERF_ADD_ANNOTATION_CI",
            )
            .expect("a value may hold `=`");
        extra
            .add(Kind::Label, "team=core", "--add-label")
            .expect("label");
        let mut object = json!({"kind": "ConfigMap", "metadata": {"name": "a", "labels": {"team": "old", "app": "a"}}});
        extra.apply(&mut object);
        assert_eq!(
            object["metadata"],
            json!({
                "name": "a",
                "labels": {"team": "core", "app": "a"},
                "annotations": {"project.werf.io/git": "https://x/y.git", "ci.werf.io/commit": "abc=def"},
            })
        );
        // Errors name where the pair came from.
        let e = extra
            .add(Kind::Label, "novalue", "WERF_ADD_LABEL_X")
            .expect_err("no =");
        assert_eq!(
            e.to_string(),
            "WERF_ADD_LABEL_X: `novalue` is not `key=value`"
        );
        let e = extra
            .add(Kind::Annotation, "Bad Key=1", "--add-annotation")
            .expect_err("key");
        assert!(
            matches!(e, BadPair::Key { ref key, .. } if key == "Bad Key"),
            "{e}"
        );
        let e = extra
            .add(Kind::Label, "a=has space", "--add-label")
            .expect_err("value");
        assert!(matches!(e, BadPair::LabelValue { .. }), "{e}");
        assert!(extra
            .add(Kind::Annotation, "a=has space", "--add-annotation")
            .is_ok());
        let e = extra
            .add(Kind::Label, "UPPER.example.com/x=1", "--add-label")
            .expect_err("prefix");
        assert!(matches!(e, BadPair::Key { .. }), "{e}");
    }
}
