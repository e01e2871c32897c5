//! The manifests resolved against the cluster (discovery) and the live objects read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kube::discovery::ApiResource;
use serde_json::Value;

use crate::kubernetes::Kube;
use crate::object::{Desired, ObjectId};
use crate::{Error, Release, Result};

/// Resolves every manifest's kind (discovery) and identity. The kinds are resolved in order,
/// then the objects made on every core; the first bad manifest in order is the one reported.
pub async fn resolve(
    kube: &Kube,
    manifests: Vec<(String, Value)>,
    release: &Release,
) -> Result<Vec<(Desired, ApiResource)>> {
    use rayon::prelude::*;
    let namespace = release.namespace.as_str();
    let mut kinds = Vec::with_capacity(manifests.len());
    let mut failed = None;
    for (source, object) in &manifests {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if api_version.is_empty() || kind.is_empty() {
            failed = Some(Error::Manifest {
                source_file: source.clone(),
                message: "a document without `apiVersion` and `kind`".into(),
            });
            break;
        }
        match kube.resource(api_version, kind, source).await {
            Ok(resolved) => kinds.push(resolved),
            Err(e) => {
                failed = Some(e.into());
                break;
            }
        }
    }
    // The manifests before the first whose kind failed, made on every core.
    let made: Vec<(Result<Desired>, ApiResource)> = manifests
        .into_par_iter()
        .zip(kinds.into_par_iter())
        .map(|((source, object), (ar, namespaced))| {
            let d = Desired::new(object, &source, namespaced, namespace)
                .map_err(|e| Error::Invalid {
                    source_file: source.clone(),
                    source: e,
                })
                .map(|d| d.owned_by(release.owner()));
            (d, ar)
        })
        .collect();
    let mut out = Vec::with_capacity(made.len());
    let mut seen = BTreeSet::new();
    for (d, ar) in made {
        let d = d?;
        if !seen.insert(d.id.clone()) {
            return Err(Error::Manifest {
                source_file: d.source.clone(),
                message: format!("{} is defined twice in the chart", d.id),
            });
        }
        out.push((d, ar));
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// A kind's list in one namespace (or the cluster): `API_VERSION/PLURAL` and the namespace.
type ListKey = (String, Option<String>);

fn list_key(ar: &ApiResource, namespace: &Option<String>) -> ListKey {
    (
        format!("{}/{}", ar.api_version, ar.plural),
        namespace.clone(),
    )
}

/// Lists read before the chart was rendered: those of the kinds the last revision holds (a
/// chart's kinds seldom change), so a no-op converge does not wait for them after rendering.
#[derive(Default)]
pub struct EarlyLists(HashMap<ListKey, Vec<Value>>);

/// Lists the live objects of the kinds `hint` names (see [`crate::release::kinds_hint`]; a
/// namespaced kind in the release's namespace): read while the chart renders. A list the hint
/// misses, or one that failed here (a kind the chart no longer has may not be the user's to
/// list), is made when planning, which reports its errors.
pub async fn read_early(
    kube: &Kube,
    release: &Release,
    hint: &BTreeSet<(String, String)>,
) -> EarlyLists {
    let mut groups: BTreeMap<ListKey, ApiResource> = BTreeMap::new();
    for (api_version, kind) in hint {
        // A kind the cluster does not serve is the plan's to report, not the hint's.
        if let Ok((ar, namespaced)) = kube.resource(api_version, kind, "the release record").await {
            let namespace = namespaced.then(|| release.namespace.clone());
            groups.insert(list_key(&ar, &namespace), ar);
        }
    }
    let lists = futures::future::join_all(groups.into_iter().map(|(key, ar)| async move {
        match kube.list(&ar, key.1.as_deref(), None).await {
            Ok(objects) => Some((key, objects)),
            Err(e) => {
                tracing::debug!("an early list is left to the plan: {e}");
                None
            }
        }
    }))
    .await;
    EarlyLists(lists.into_iter().flatten().collect())
}

/// Live objects of the given identities, one list per kind and namespace (taken from `early`
/// when it was read there), the lists made at once (a no-op converge waits on them: one round
/// trip, not one per kind).
pub(crate) async fn live_objects(
    kube: &Kube,
    ids: &[(ObjectId, ApiResource)],
    mut early: EarlyLists,
) -> Result<HashMap<ObjectId, Value>> {
    let mut groups: BTreeMap<ListKey, &ApiResource> = BTreeMap::new();
    for (id, ar) in ids {
        groups.insert(list_key(ar, &id.namespace), ar);
    }
    let groups: Vec<_> = groups
        .into_iter()
        .map(|(key, ar)| {
            let listed = early.0.remove(&key);
            (key, ar, listed)
        })
        .collect();
    let lists =
        futures::future::try_join_all(groups.into_iter().map(|((_, ns), ar, listed)| async move {
            let objects = match listed {
                Some(objects) => objects,
                None => kube.list(ar, ns.as_deref(), None).await?,
            };
            Ok::<_, crate::Error>((ns, ar, objects))
        }))
        .await?;
    let mut live = HashMap::new();
    for (ns, ar, objects) in lists {
        for o in objects {
            let name = o
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let id = ObjectId {
                api_version: ar.api_version.clone(),
                kind: ar.kind.clone(),
                namespace: ns.clone(),
                name,
            };
            live.insert(id, o);
        }
    }
    Ok(live)
}
