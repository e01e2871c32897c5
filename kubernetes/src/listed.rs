//! A list response read into JSON values without its items' `metadata.managedFields`: nothing
//! werf reads them from a listing, and they are two fifths of a listing's bytes (a Deployment's
//! or a Service's), so they are skipped as they are read rather than built and dropped.

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

/// The items of a list (`items` absent or null: none); the list's own fields are not kept.
pub fn items(text: &str) -> serde_json::Result<Vec<Value>> {
    #[derive(serde::Deserialize)]
    struct List {
        #[serde(default)]
        items: Option<Vec<Item>>,
    }
    let list: List = serde_json::from_str(text)?;
    Ok(list
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.0)
        .collect())
}

/// One item: an object whose `metadata` is read by [`Metadata`]; anything else as it is.
struct Item(Value);

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Item;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Kubernetes object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
                let mut out = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = if key == "metadata" {
                        map.next_value::<Metadata>()?.0
                    } else {
                        map.next_value::<Value>()?
                    };
                    out.insert(key, value);
                }
                Ok(Item(Value::Object(out)))
            }
            fn visit_unit<E>(self) -> Result<Item, E> {
                Ok(Item(Value::Null))
            }
        }
        d.deserialize_any(V)
    }
}

/// An object's `metadata` without `managedFields` (any other shape: as it is).
struct Metadata(Value);

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Metadata;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object's metadata")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
                let mut out = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "managedFields" {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        out.insert(key, map.next_value::<Value>()?);
                    }
                }
                Ok(Metadata(Value::Object(out)))
            }
            fn visit_unit<E>(self) -> Result<Metadata, E> {
                Ok(Metadata(Value::Null))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_come_whole_but_for_their_managed_fields() {
        let deployment = json!({
            "metadata": {"name": "a", "namespace": "n", "resourceVersion": "7",
                "labels": {"app": "a"},
                "managedFields": [{"manager": "helm", "operation": "Apply",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
            "spec": {"replicas": 2, "template": {"metadata": {"managedFields": "kept"}}},
            "status": {"readyReplicas": 2},
        });
        let text = json!({"kind": "DeploymentList", "apiVersion": "apps/v1",
            "metadata": {"resourceVersion": "9"}, "items": [deployment, {"metadata": null}]})
        .to_string();
        let mut expected = deployment.clone();
        expected["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        assert_eq!(
            items(&text).unwrap(),
            vec![expected, json!({"metadata": null})]
        );
        // Only the object's own metadata loses them: nested fields of that name stay.
        assert_eq!(
            items(&text).unwrap()[0]["spec"]["template"]["metadata"]["managedFields"],
            "kept"
        );
    }

    #[test]
    fn an_empty_or_null_list_has_no_items_and_bad_json_is_an_error() {
        assert_eq!(items(r#"{"items": null}"#).unwrap(), Vec::<Value>::new());
        assert_eq!(items(r#"{"kind": "List"}"#).unwrap(), Vec::<Value>::new());
        assert!(items(r#"{"items": [{"metadata": }]}"#).is_err());
        assert!(items(r#"{"items": 3}"#).is_err());
    }
}
