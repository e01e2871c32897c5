//! werf's deploy dependencies, pure: `werf.io/deploy-dependency-*` (objects of the release to
//! apply first) and `ID.external-dependency.werf.io/*` (objects outside it to wait for), read from
//! annotations, and an apply group ordered into rounds by them.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::invalid::{Invalid, Unordered};
use crate::object::ObjectId;

/// What a dependency must reach before its dependant is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DependencyState {
    /// Exists (applied).
    Present,
    /// Tracked to readiness.
    Ready,
}

/// `werf.io/deploy-dependency-ID: state=ready,kind=Deployment,name=app[,namespace=..,group=..,
/// version=..]`: an object of the same release to wait for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub annotation: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub group: Option<String>,
    pub version: Option<String>,
    pub state: DependencyState,
}

impl Dependency {
    /// Whether `id` is the object this dependency names (`namespace` defaults to the
    /// dependant's).
    pub fn matches(&self, id: &ObjectId, dependant_namespace: Option<&str>) -> bool {
        let (group, version) = match id.api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", id.api_version.as_str()),
        };
        id.kind.eq_ignore_ascii_case(&self.kind)
            && id.name == self.name
            && self.group.as_deref().is_none_or(|g| g == group)
            && self.version.as_deref().is_none_or(|v| v == version)
            && match (
                &id.namespace,
                self.namespace.as_deref().or(dependant_namespace),
            ) {
                (Some(a), Some(b)) => a == b,
                (None, _) => true,
                (Some(_), None) => false,
            }
    }
}

/// `ID.external-dependency.werf.io/resource: KIND[.VERSION.GROUP]/NAME` (and
/// `ID.external-dependency.werf.io/namespace`): an object outside the release to wait for until
/// it is ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalDependency {
    pub id: String,
    pub kind: String,
    pub version: Option<String>,
    pub group: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
}

/// The dependencies an object's annotations declare.
pub fn dependencies(object: &Value) -> Result<(Vec<Dependency>, Vec<ExternalDependency>), Invalid> {
    let Some(annotations) = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut internal = Vec::new();
    let mut external: std::collections::BTreeMap<String, (Option<String>, Option<String>)> =
        Default::default();
    for (key, v) in annotations {
        let Some(v) = v.as_str() else { continue };
        if key.starts_with("werf.io/deploy-dependency-") {
            let mut d = Dependency {
                annotation: key.clone(),
                kind: String::new(),
                name: String::new(),
                namespace: None,
                group: None,
                version: None,
                state: DependencyState::Ready,
            };
            for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let Some((k, val)) = part.split_once('=') else {
                    return Err(Invalid::NotKeyValue {
                        key: key.clone(),
                        value: v.to_string(),
                        part: part.to_string(),
                    });
                };
                let val = val.trim().to_string();
                match k.trim() {
                    "kind" => d.kind = val,
                    "name" => d.name = val,
                    "namespace" => d.namespace = Some(val),
                    "group" => d.group = Some(val),
                    "version" => d.version = Some(val),
                    "state" => {
                        d.state = match val.as_str() {
                            "ready" => DependencyState::Ready,
                            "present" => DependencyState::Present,
                            other => {
                                return Err(Invalid::DependencyState {
                                    key: key.clone(),
                                    state: other.to_string(),
                                })
                            }
                        }
                    }
                    other => {
                        return Err(Invalid::UnknownKey {
                            key: key.clone(),
                            name: other.to_string(),
                        })
                    }
                }
            }
            if d.kind.is_empty() || d.name.is_empty() {
                return Err(Invalid::NeedsKindAndName {
                    key: key.clone(),
                    value: v.to_string(),
                });
            }
            internal.push(d);
        } else if let Some((id, field)) = key.split_once(".external-dependency.werf.io/") {
            let entry = external.entry(id.to_string()).or_default();
            match field {
                "resource" => entry.0 = Some(v.to_string()),
                "namespace" => entry.1 = Some(v.to_string()),
                other => {
                    return Err(Invalid::UnknownField {
                        key: key.clone(),
                        field: other.to_string(),
                    })
                }
            }
        }
    }
    let mut out = Vec::new();
    for (id, (resource, namespace)) in external {
        let key = format!("{id}.external-dependency.werf.io/resource");
        let Some(resource) = resource else {
            return Err(Invalid::MissingAnnotation(key));
        };
        let Some((kind, name)) = resource.split_once('/') else {
            return Err(Invalid::NotResource { key, resource });
        };
        let mut parts = kind.splitn(3, '.');
        let kind = parts.next().unwrap_or_default().to_string();
        let version = parts.next().map(str::to_string);
        let group = parts.next().map(str::to_string);
        if kind.is_empty() || name.is_empty() {
            return Err(Invalid::NotResource {
                key,
                resource: resource.clone(),
            });
        }
        out.push(ExternalDependency {
            id,
            kind,
            version,
            group,
            name: name.to_string(),
            namespace,
        });
    }
    Ok((internal, out))
}

/// Orders one apply group (same stage and weight) into rounds by `werf.io/deploy-dependency-*`:
/// a member goes after the members it depends on; dependencies on objects applied in earlier
/// groups (`earlier`) are already met. Returns the members' indexes per round, or an error for a
/// dependency on a later group, on nothing in the release (`release`), or a cycle.
pub fn rounds(
    group: &[(&ObjectId, &[Dependency])],
    earlier: &BTreeSet<ObjectId>,
    release: &BTreeSet<ObjectId>,
) -> Result<Vec<Vec<usize>>, Unordered> {
    let mut after: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); group.len()];
    for (i, (id, deps)) in group.iter().enumerate() {
        for d in deps.iter() {
            let ns = id.namespace.as_deref();
            if let Some(j) = group.iter().position(|(other, _)| d.matches(other, ns)) {
                if j != i {
                    after[i].insert(j);
                }
            } else if earlier.iter().any(|e| d.matches(e, ns)) {
                continue;
            } else if let Some(later) = release.iter().find(|e| d.matches(e, ns)) {
                return Err(Unordered::AppliedLater {
                    id: id.to_string(),
                    annotation: d.annotation.clone(),
                    later: later.to_string(),
                });
            } else {
                return Err(Unordered::NotInRelease {
                    id: id.to_string(),
                    annotation: d.annotation.clone(),
                    kind: d.kind.clone(),
                    name: d.name.clone(),
                });
            }
        }
    }
    let mut placed: Vec<Option<usize>> = vec![None; group.len()];
    let mut out: Vec<Vec<usize>> = Vec::new();
    while placed.iter().any(Option::is_none) {
        let round: Vec<usize> = (0..group.len())
            .filter(|&i| placed[i].is_none() && after[i].iter().all(|&j| placed[j].is_some()))
            .collect();
        if round.is_empty() {
            let stuck: Vec<String> = (0..group.len())
                .filter(|&i| placed[i].is_none())
                .map(|i| group[i].0.to_string())
                .collect();
            return Err(Unordered::Cycle(stuck));
        }
        for &i in &round {
            placed[i] = Some(out.len());
        }
        out.push(round);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dependencies_order_a_group_into_rounds() {
        let id = |name: &str| ObjectId {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("ns".into()),
            name: name.into(),
        };
        let dep = |name: &str| Dependency {
            annotation: format!("werf.io/deploy-dependency-{name}"),
            kind: "Deployment".into(),
            name: name.into(),
            namespace: None,
            group: None,
            version: None,
            state: DependencyState::Ready,
        };
        let (a, b, c, d) = (id("a"), id("b"), id("c"), id("d"));
        let (on_a, on_b, on_c, on_d) = ([dep("a")], [dep("b")], [dep("c")], [dep("d")]);
        let none: [Dependency; 0] = [];
        let release: BTreeSet<ObjectId> = [&a, &b, &c, &d].into_iter().cloned().collect();
        // c after b after a; d free.
        let group = [
            (&c, &on_b[..]),
            (&b, &on_a[..]),
            (&a, &none[..]),
            (&d, &none[..]),
        ];
        assert_eq!(
            rounds(&group, &BTreeSet::new(), &release).expect("orders"),
            [vec![2, 3], vec![1], vec![0]]
        );
        // A dependency applied in an earlier group is met.
        let earlier: BTreeSet<ObjectId> = [a.clone()].into();
        assert_eq!(
            rounds(&[(&b, &on_a[..])], &earlier, &release).expect("orders"),
            [vec![0]]
        );
        // On a later group, on nothing, or in a cycle: errors.
        let e = rounds(&[(&b, &on_a[..])], &BTreeSet::new(), &release).unwrap_err();
        assert!(
            matches!(&e, Unordered::AppliedLater { later, .. } if *later == a.to_string())
                && e.to_string().contains("which is applied later"),
            "{e}"
        );
        let e = rounds(&[(&b, &on_a[..])], &BTreeSet::new(), &BTreeSet::new()).unwrap_err();
        assert!(
            matches!(&e, Unordered::NotInRelease { name, .. } if name == "a")
                && e.to_string().contains("which is not in the release"),
            "{e}"
        );
        let e = rounds(
            &[(&c, &on_d[..]), (&d, &on_c[..])],
            &BTreeSet::new(),
            &release,
        )
        .unwrap_err();
        assert!(
            matches!(&e, Unordered::Cycle(ids) if ids.len() == 2)
                && e.to_string().contains("form a cycle among"),
            "{e}"
        );
    }

    #[test]
    fn dependency_annotations_are_read_and_matched() {
        let o = json!({"metadata": {"annotations": {
            "werf.io/deploy-dependency-db": "state=ready,kind=StatefulSet,name=db",
            "werf.io/deploy-dependency-cfg": "state=present, kind=ConfigMap, name=cfg, namespace=other",
            "queue.external-dependency.werf.io/resource": "deployment.v1.apps/rabbit",
            "queue.external-dependency.werf.io/namespace": "infra"}}});
        let (internal, external) = dependencies(&o).expect("valid");
        assert_eq!(internal.len(), 2);
        let cfg = internal.iter().find(|d| d.name == "cfg").expect("cfg");
        assert_eq!(cfg.state, DependencyState::Present);
        let id = |kind: &str, api: &str, ns: Option<&str>, name: &str| ObjectId {
            api_version: api.into(),
            kind: kind.into(),
            namespace: ns.map(str::to_string),
            name: name.into(),
        };
        assert!(cfg.matches(&id("ConfigMap", "v1", Some("other"), "cfg"), Some("app")));
        assert!(!cfg.matches(&id("ConfigMap", "v1", Some("app"), "cfg"), Some("app")));
        let db = internal.iter().find(|d| d.name == "db").expect("db");
        assert!(db.matches(
            &id("StatefulSet", "apps/v1", Some("app"), "db"),
            Some("app")
        ));
        assert!(!db.matches(&id("Deployment", "apps/v1", Some("app"), "db"), Some("app")));
        assert_eq!(
            external,
            [ExternalDependency {
                id: "queue".into(),
                kind: "deployment".into(),
                version: Some("v1".into()),
                group: Some("apps".into()),
                name: "rabbit".into(),
                namespace: Some("infra".into()),
            }]
        );
        for (bad, why) in [
            (
                json!({"werf.io/deploy-dependency-x": "kind=Deployment"}),
                "needs `kind=` and `name=`",
            ),
            (
                json!({"werf.io/deploy-dependency-x": "state=done,kind=Deployment,name=a"}),
                "`state=done` is not `ready` or `present`",
            ),
            (
                json!({"x.external-dependency.werf.io/resource": "no-slash"}),
                "is not `KIND[.VERSION.GROUP]/NAME`",
            ),
            (
                json!({"x.external-dependency.werf.io/namespace": "ns"}),
                "`x.external-dependency.werf.io/resource` is missing",
            ),
        ] {
            let e = dependencies(&json!({"metadata": {"annotations": bad}})).expect_err("refused");
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }
}
