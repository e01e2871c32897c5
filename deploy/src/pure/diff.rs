//! How a desired object differs from the live one: a unified diff (Secret values hidden) and
//! the field paths that differ.

use serde_json::Value;

use crate::model::Change;
use crate::object::{clean, to_yaml};

/// A Secret's `data` and `stringData` with every value hidden: a key whose value differs shows
/// as changed, so a diff names changed keys and never a value.
fn hide_secret_values(live: &mut Value, desired: &mut Value) {
    if desired.get("kind").and_then(Value::as_str) != Some("Secret") {
        return;
    }
    for field in ["data", "stringData"] {
        let before = live.get(field).cloned().unwrap_or(Value::Null);
        let after = desired.get(field).cloned().unwrap_or(Value::Null);
        if let Some(m) = live.get_mut(field).and_then(Value::as_object_mut) {
            for v in m.values_mut() {
                *v = Value::String("(hidden)".into());
            }
        }
        if let Some(m) = desired.get_mut(field).and_then(Value::as_object_mut) {
            for (k, v) in m.iter_mut() {
                let same = before.get(k) == after.get(k);
                *v = Value::String(
                    if same {
                        "(hidden)"
                    } else {
                        "(hidden, changed)"
                    }
                    .into(),
                );
            }
        }
    }
}

pub fn diff(live: &Value, desired: &Value) -> Change {
    let (mut live, mut desired) = (clean(live), clean(desired));
    hide_secret_values(&mut live, &mut desired);
    let (a, b) = (to_yaml(&live), to_yaml(&desired));
    Change {
        diff: similar::TextDiff::from_lines(&a, &b)
            .unified_diff()
            .context_radius(2)
            .header("live", "desired")
            .to_string(),
        fields: werf_graph::why::field_paths(&live, &desired),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_secret_diff_names_changed_keys_and_no_value() {
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"same": "c2FtZQ==", "changed": "b2xk", "gone": "eA=="}});
        let desired = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"same": "c2FtZQ==", "changed": "bmV3LXBhc3N3b3Jk", "added": "eQ=="}});
        let change = diff(&live, &desired);
        // Keys are named, values never: the field paths are keys.
        assert_eq!(
            change.fields,
            ["data.added", "data.changed", "data.gone"],
            "{change:?}"
        );
        let d = change.diff;
        assert!(
            d.contains("-  changed: (hidden)") && d.contains("+  changed: (hidden, changed)"),
            "{d}"
        );
        assert!(
            d.contains("+  added: (hidden, changed)") && d.contains("-  gone: (hidden)"),
            "{d}"
        );
        for value in ["c2FtZQ==", "b2xk", "bmV3LXBhc3N3b3Jk", "eQ==", "eA=="] {
            assert!(!d.contains(value), "{value} in {d}");
        }
        // Other kinds show their values.
        let cm = diff(
            &json!({"kind": "ConfigMap", "data": {"a": "1"}}),
            &json!({"kind": "ConfigMap", "data": {"a": "2"}}),
        );
        assert_eq!(cm.fields, ["data.a"]);
        let cm = cm.diff;
        assert!(
            cm.contains("+  a: '2'") || cm.contains("+  a: \"2\""),
            "{cm}"
        );
    }
}
