//! Images that Kubernetes workloads use, in every namespace of every context asked for.
//!
//! Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs (not those complete or
//! failed), CronJobs and ReplicationControllers; containers, init containers and ephemeral
//! containers. A context that cannot be read stops the cleanup (never delete on partial
//! knowledge).

use std::collections::BTreeMap;

use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::Value;
use werf_graph::cleanup::decide::Use;

use super::{Error, Result};
use crate::kubernetes::{Kube, Target};

/// The kinds scanned, with the path to their pod spec.
const KINDS: &[(&str, &str, &str, &[&str])] = &[
    ("", "v1", "Pod", &["spec"]),
    ("apps", "v1", "Deployment", &["spec", "template", "spec"]),
    ("apps", "v1", "ReplicaSet", &["spec", "template", "spec"]),
    ("apps", "v1", "StatefulSet", &["spec", "template", "spec"]),
    ("apps", "v1", "DaemonSet", &["spec", "template", "spec"]),
    ("batch", "v1", "Job", &["spec", "template", "spec"]),
    (
        "batch",
        "v1",
        "CronJob",
        &["spec", "jobTemplate", "spec", "template", "spec"],
    ),
    (
        "",
        "v1",
        "ReplicationController",
        &["spec", "template", "spec"],
    ),
];

/// What to scan.
pub struct Scope<'a> {
    pub kubeconfig: Option<&'a std::path::Path>,
    /// Contexts to scan; empty: every context of the kubeconfig.
    pub contexts: &'a [String],
    /// Only the namespace each context names (`default` when it names none).
    pub context_namespace_only: bool,
    /// `--kube-api-server` and the like: laid over the context scanned, which is then only the
    /// current one unless `contexts` names others.
    pub overrides: crate::kubernetes::source::Overrides,
}

/// Every image reference in use -> the objects using it; and the Kubernetes requests made.
pub fn images_in_use(
    scope: &Scope<'_>,
    timeouts: werf_base::net::Timeouts,
) -> Result<(BTreeMap<String, Vec<Use>>, u64)> {
    let target = Target {
        kubeconfig: scope.kubeconfig.map(|p| p.to_path_buf()),
        context: None,
        overrides: scope.overrides.clone(),
    };
    let read_failed = |source| Error::Kube {
        context: "(kubeconfig)".into(),
        cause: Box::new(source),
    };
    let available = crate::kubernetes::contexts(&target).map_err(read_failed)?;
    let chosen: Vec<(String, Option<String>)> = if scope.contexts.is_empty() {
        if scope.overrides.is_empty() {
            available
        } else {
            vec![crate::kubernetes::current_context(&target).map_err(read_failed)?]
        }
    } else {
        let mut out = Vec::new();
        for c in scope.contexts {
            match available.iter().find(|(n, _)| n == c) {
                Some(found) => out.push(found.clone()),
                None => {
                    return Err(Error::Kube {
                        context: c.clone(),
                        cause: Box::new(crate::kubernetes::Error::Kubeconfig {
                            path: crate::kubernetes::kubeconfig_path(&target)
                                .display()
                                .to_string(),
                            message: format!("it has no context `{c}`"),
                        }),
                    })
                }
            }
        }
        out
    };
    let runtime = werf_base::runtime::get().map_err(|e| Error::Io {
        path: "(runtime)".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let mut uses: BTreeMap<String, Vec<Use>> = BTreeMap::new();
    let mut requests = 0;
    for (context, namespace) in chosen {
        let wrap = |cause| Error::Kube {
            context: context.clone(),
            cause: Box::new(cause),
        };
        let target = Target {
            kubeconfig: scope.kubeconfig.map(|p| p.to_path_buf()),
            context: Some(context.clone()),
            overrides: scope.overrides.clone(),
        };
        let kube = runtime
            .block_on(Kube::connect_with(&target, timeouts))
            .map_err(wrap)?;
        let ns = scope
            .context_namespace_only
            .then(|| namespace.clone().unwrap_or_else(|| "default".into()));
        for (group, version, kind, path) in KINDS {
            let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
            let objects = match runtime.block_on(kube.list(&ar, ns.as_deref(), None)) {
                Ok(o) => o,
                // A kind the cluster does not serve has no objects (not partial knowledge).
                Err(crate::kubernetes::Error::Api { source, .. }) if not_served(&source) => {
                    continue
                }
                Err(e) => return Err(wrap(e)),
            };
            for o in &objects {
                if *kind == "Job" && finished(o) {
                    continue;
                }
                let Some(spec) = path.iter().try_fold(o, |v, k| v.get(*k)) else {
                    continue;
                };
                let used = Use {
                    context: context.clone(),
                    namespace: o["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    kind: kind.to_string(),
                    name: o["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                };
                for image in images(spec) {
                    let list = uses.entry(image).or_default();
                    if !list.contains(&used) {
                        list.push(used.clone());
                    }
                }
            }
        }
        requests += kube.requests.load(std::sync::atomic::Ordering::Relaxed);
    }
    Ok((uses, requests))
}

/// Whether a list failed because the cluster does not serve the kind at all.
fn not_served(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Whether a Job is complete or failed.
fn finished(job: &Value) -> bool {
    job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| {
            matches!(c["type"].as_str(), Some("Complete" | "Failed"))
                && c["status"].as_str() == Some("True")
        })
}

/// The images a pod spec names.
fn images(spec: &Value) -> Vec<String> {
    ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| spec[*k].as_array().into_iter().flatten())
        .filter_map(|c| c["image"].as_str().map(String::from))
        .collect()
}

/// The tags and digests of `repo` that image references name: `repo:tag`, `repo:tag@digest`
/// and `repo@digest` (digests come back in the second map).
pub fn of_repo(
    uses: &BTreeMap<String, Vec<Use>>,
    repo: &str,
) -> (BTreeMap<String, Vec<Use>>, BTreeMap<String, Vec<Use>>) {
    let mut tags: BTreeMap<String, Vec<Use>> = BTreeMap::new();
    let mut digests: BTreeMap<String, Vec<Use>> = BTreeMap::new();
    for (image, who) in uses {
        let (name, digest) = match image.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (image.as_str(), None),
        };
        // The tag is after the last `:` that follows the last `/` (a port is not a tag).
        let slash = name.rfind('/').map_or(0, |i| i + 1);
        let (base, tag) = match name[slash..].rfind(':') {
            Some(i) => (&name[..slash + i], Some(&name[slash + i + 1..])),
            None => (name, None),
        };
        if base != repo {
            continue;
        }
        if let Some(t) = tag {
            tags.entry(t.to_string())
                .or_default()
                .extend(who.iter().cloned());
        }
        if let Some(d) = digest {
            digests
                .entry(d.to_string())
                .or_default()
                .extend(who.iter().cloned());
        }
    }
    (tags, digests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_of_the_repo_by_tag_and_digest() {
        let u = |n: &str| Use {
            context: "c".into(),
            namespace: "ns".into(),
            kind: "Pod".into(),
            name: n.into(),
        };
        let uses: BTreeMap<String, Vec<Use>> = [
            ("127.0.0.1:5000/app:t1".to_string(), vec![u("a")]),
            ("127.0.0.1:5000/app:t2@sha256:d2".to_string(), vec![u("b")]),
            ("127.0.0.1:5000/app@sha256:d3".to_string(), vec![u("c")]),
            ("127.0.0.1:5000/app-other:t4".to_string(), vec![u("d")]),
            ("127.0.0.1:5000/app".to_string(), vec![u("e")]),
        ]
        .into_iter()
        .collect();
        let (tags, digests) = of_repo(&uses, "127.0.0.1:5000/app");
        assert_eq!(tags.keys().collect::<Vec<_>>(), ["t1", "t2"]);
        assert_eq!(
            digests.keys().collect::<Vec<_>>(),
            ["sha256:d2", "sha256:d3"]
        );
    }

    #[test]
    fn pod_specs_name_every_container_kind_and_finished_jobs_are_skipped() {
        let spec = serde_json::json!({
            "containers": [{"image": "a"}], "initContainers": [{"image": "b"}],
            "ephemeralContainers": [{"image": "c"}]
        });
        assert_eq!(images(&spec), ["a", "b", "c"]);
        let done =
            serde_json::json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        let running =
            serde_json::json!({"status": {"conditions": [{"type": "Failed", "status": "False"}]}});
        assert!(finished(&done));
        assert!(!finished(&running));
    }
}
