//! Which release owns an object, as Helm 4 marks it: the label
//! `app.kubernetes.io/managed-by: Helm` and the annotations `meta.helm.sh/release-name` and
//! `meta.helm.sh/release-namespace`, written on every object a release applies (hooks excepted,
//! as Helm leaves them). Before an object that already exists is applied, its marks decide:
//! this release's object is updated; another release's is refused, naming that release; an
//! object of no release is refused unless this release applied it before (its record holds it)
//! or `--force-adoption` says to take it. Pure.

use serde_json::Value;

use crate::object::{annotation, ObjectId};

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const RELEASE_NAME: &str = "meta.helm.sh/release-name";
pub const RELEASE_NAMESPACE: &str = "meta.helm.sh/release-namespace";

/// The release an object is applied for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub release: String,
    pub namespace: String,
    /// `--force-adoption`: take objects of no release, or of another release.
    pub force_adoption: bool,
}

/// Why an existing object may not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{id} exists and belongs to release `{release}` in namespace `{namespace}`, not to `{ours}` in `{ours_namespace}`: werf does not take it over (`--force-adoption` does)")]
    OtherRelease {
        id: String,
        release: String,
        namespace: String,
        ours: String,
        ours_namespace: String,
    },
    #[error("{id} exists and belongs to no release: adopt it with `--force-adoption`, or annotate it `{RELEASE_NAME}={ours}` and `{RELEASE_NAMESPACE}={ours_namespace}`")]
    Unowned {
        id: String,
        ours: String,
        ours_namespace: String,
    },
}

/// Whether `owner` may apply over `live` (the object `id` as it exists); `recorded`: this
/// release's records hold the object (it was applied by an earlier revision).
pub fn check(owner: &Owner, id: &ObjectId, live: &Value, recorded: bool) -> Result<(), Refusal> {
    let name = annotation(live, RELEASE_NAME);
    let namespace = annotation(live, RELEASE_NAMESPACE);
    match name {
        Some(n) if n == owner.release && namespace.is_none_or(|ns| ns == owner.namespace) => Ok(()),
        _ if owner.force_adoption => Ok(()),
        Some(n) => Err(Refusal::OtherRelease {
            id: id.to_string(),
            release: n.to_string(),
            namespace: namespace.unwrap_or("(none)").to_string(),
            ours: owner.release.clone(),
            ours_namespace: owner.namespace.clone(),
        }),
        None if recorded => Ok(()),
        None => Err(Refusal::Unowned {
            id: id.to_string(),
            ours: owner.release.clone(),
            ours_namespace: owner.namespace.clone(),
        }),
    }
}

/// Writes `owner`'s marks into `object`'s metadata.
pub fn mark(object: &mut Value, owner: &Owner) {
    if let Some(meta) = object.get_mut("metadata") {
        mark_metadata(meta, owner);
    }
}

/// Writes `owner`'s marks into `meta`, an object's `metadata` (nothing when it is not a map).
pub fn mark_metadata(meta: &mut Value, owner: &Owner) {
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(MANAGED_BY.into(), Value::String("Helm".into()));
    }
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(a) = annotations.as_object_mut() {
        a.insert(RELEASE_NAME.into(), Value::String(owner.release.clone()));
        a.insert(
            RELEASE_NAMESPACE.into(),
            Value::String(owner.namespace.clone()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn owner(force: bool) -> Owner {
        Owner {
            release: "app".into(),
            namespace: "prod".into(),
            force_adoption: force,
        }
    }

    fn id() -> ObjectId {
        ObjectId {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("prod".into()),
            name: "cm".into(),
        }
    }

    fn live(release: Option<&str>, namespace: Option<&str>) -> Value {
        let mut a = serde_json::Map::new();
        if let Some(r) = release {
            a.insert(RELEASE_NAME.into(), json!(r));
        }
        if let Some(n) = namespace {
            a.insert(RELEASE_NAMESPACE.into(), json!(n));
        }
        json!({"metadata": {"name": "cm", "annotations": a}})
    }

    #[test]
    fn this_releases_objects_are_applied_and_others_refused_by_name() {
        assert_eq!(
            check(
                &owner(false),
                &id(),
                &live(Some("app"), Some("prod")),
                false
            ),
            Ok(())
        );
        assert_eq!(
            check(&owner(false), &id(), &live(Some("app"), None), false),
            Ok(())
        );
        let other = check(
            &owner(false),
            &id(),
            &live(Some("billing"), Some("prod")),
            true,
        )
        .expect_err("another release's object");
        let text = other.to_string();
        assert!(
            text.contains("belongs to release `billing` in namespace `prod`"),
            "{text}"
        );
        assert!(text.contains("ConfigMap"), "{text}");
        // The same name in another namespace is another release.
        let e = check(
            &owner(false),
            &id(),
            &live(Some("app"), Some("staging")),
            false,
        )
        .expect_err("another namespace's release");
        assert!(
            e.to_string()
                .contains("belongs to release `app` in namespace `staging`"),
            "{e}"
        );
        assert_eq!(
            check(
                &owner(true),
                &id(),
                &live(Some("billing"), Some("prod")),
                false
            ),
            Ok(())
        );
    }

    #[test]
    fn an_object_of_no_release_is_adopted_only_when_recorded_or_forced() {
        let unowned = live(None, None);
        let refused = check(&owner(false), &id(), &unowned, false).expect_err("unowned");
        assert!(matches!(refused, Refusal::Unowned { .. }));
        assert!(refused.to_string().contains("--force-adoption"));
        assert_eq!(check(&owner(false), &id(), &unowned, true), Ok(()));
        assert_eq!(check(&owner(true), &id(), &unowned, false), Ok(()));
    }

    #[test]
    fn marks_are_added_beside_the_charts_own() {
        let mut o = json!({"metadata": {"name": "cm", "labels": {"a": "1"}}});
        mark(&mut o, &owner(false));
        assert_eq!(
            o["metadata"]["labels"],
            json!({"a": "1", MANAGED_BY: "Helm"})
        );
        assert_eq!(o["metadata"]["annotations"][RELEASE_NAME], "app");
        assert_eq!(o["metadata"]["annotations"][RELEASE_NAMESPACE], "prod");
    }
}
