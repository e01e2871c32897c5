//! One object of a release: its identity, where it goes in the order (CRDs, Namespaces, hooks,
//! `werf.io/weight`), its tracking annotations, and how desired and live objects are compared.
//! Log and dependency annotations are read by [`crate::logs`] and [`crate::dependency`].

use std::sync::Arc;

use serde_json::Value;

use crate::dependency::{dependencies, Dependency, ExternalDependency};
pub use crate::id::ObjectId;
use crate::invalid::Invalid;
use crate::logs::LogPolicy;

/// A Helm hook's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookPhase {
    Pre,
    Post,
}

/// The release operation hooks run for (`pre-install`, `post-rollback`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Install,
    Upgrade,
    Rollback,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Install => "install",
            Operation::Upgrade => "upgrade",
            Operation::Rollback => "rollback",
            Operation::Delete => "delete",
        }
    }
}

/// A Helm hook (`helm.sh/hook`), with its weight and delete policies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// Helm's event names (`pre-install`, `post-upgrade`, ...).
    pub events: Vec<String>,
    pub weight: i64,
    pub before_creation: bool,
    pub on_success: bool,
    pub on_failure: bool,
}

impl Hook {
    /// Whether the hook runs in `phase` of `operation`.
    pub fn runs_on(&self, phase: HookPhase, operation: Operation) -> bool {
        let prefix = match phase {
            HookPhase::Pre => "pre",
            HookPhase::Post => "post",
        };
        let event = format!("{prefix}-{}", operation.as_str());
        self.events.contains(&event)
    }

    /// The delete policies, as Helm names them.
    pub fn delete_policies(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.before_creation {
            out.push("before-hook-creation");
        }
        if self.on_success {
            out.push("hook-succeeded");
        }
        if self.on_failure {
            out.push("hook-failed");
        }
        out
    }
}

/// `werf.io/fail-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailMode {
    FailImmediately,
    HopeUntilEnd,
    Ignore,
}

/// An object as the chart wants it.
#[derive(Clone, Debug)]
pub struct Desired {
    pub id: ObjectId,
    /// The rendered object (with its namespace filled in); shared with the last revision's
    /// record when that recorded the same document (see [`crate::history::Known`]).
    pub object: Arc<Value>,
    /// The template it came from.
    pub source: String,
    pub weight: i64,
    pub hook: Option<Hook>,
    pub fail_mode: FailMode,
    /// `werf.io/track-termination-mode: NonBlocking`.
    pub non_blocking: bool,
    /// `werf.io/replicas-on-creation`: `spec.replicas` is set on creation only (an HPA owns it).
    pub replicas_on_creation: Option<i64>,
    /// Which logs a failure report shows.
    pub logs: LogPolicy,
    /// `werf.io/no-activity-timeout` (default 4 minutes, as werf).
    pub no_activity: std::time::Duration,
    /// `werf.io/failures-allowed-per-replica` (default 1, as werf).
    pub failures_per_replica: u32,
    /// `werf.io/deploy-dependency-*`: objects of the release applied (and tracked) first.
    pub depends_on: Vec<Dependency>,
    /// `*.external-dependency.werf.io/*`: objects outside the release waited for first.
    pub external: Vec<ExternalDependency>,
    /// The release it is applied for (its ownership marks); `None` for objects outside one.
    pub owner: Option<crate::ownership::Owner>,
}

/// An annotation of `object`, when it is a string.
pub(super) fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// Whether an object says `helm.sh/resource-policy: keep`.
pub fn keeps(object: &Value) -> bool {
    annotation(object, "helm.sh/resource-policy").is_some_and(|p| p.trim() == "keep")
}

/// Where an object goes in the apply order: CRDs, then Namespaces, then everything else (in
/// `werf.io/weight` groups, after the pre hooks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Crds,
    Namespaces,
    Resources,
}

/// The stage of an object of `kind`.
pub fn stage(kind: &str) -> Stage {
    match kind {
        "CustomResourceDefinition" => Stage::Crds,
        "Namespace" => Stage::Namespaces,
        _ => Stage::Resources,
    }
}

impl Desired {
    /// Reads a rendered manifest. `namespaced` tells whether its kind lives in a namespace;
    /// `namespace` is the release namespace (the default).
    pub fn new(
        mut object: Value,
        source: &str,
        namespaced: bool,
        namespace: &str,
    ) -> Result<Desired, Invalid> {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .ok_or(Invalid::Missing("apiVersion"))?
            .to_string();
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .ok_or(Invalid::Missing("kind"))?
            .to_string();
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or(Invalid::Missing("metadata.name"))?
            .to_string();
        let ns = if namespaced {
            let ns = object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(namespace)
                .to_string();
            object["metadata"]["namespace"] = Value::String(ns.clone());
            Some(ns)
        } else {
            // A cluster-scoped object has no namespace, whatever the template wrote.
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("namespace");
            }
            None
        };
        normalize(&mut object);
        let parse_int = |k: &str| annotation(&object, k).and_then(|v| v.trim().parse::<i64>().ok());
        let hook = annotation(&object, "helm.sh/hook").map(|h| {
            let kinds: Vec<&str> = h.split(',').map(str::trim).collect();
            let policies: Vec<String> = annotation(&object, "helm.sh/hook-delete-policy")
                .map(|p| p.split(',').map(|x| x.trim().to_string()).collect())
                .unwrap_or_default();
            Hook {
                events: kinds.iter().map(|k| k.to_string()).collect(),
                weight: parse_int("helm.sh/hook-weight").unwrap_or(0),
                before_creation: policies.is_empty()
                    || policies.iter().any(|p| p == "before-hook-creation"),
                on_success: policies.iter().any(|p| p == "hook-succeeded"),
                on_failure: policies.iter().any(|p| p == "hook-failed"),
            }
        });
        let fail_mode = match annotation(&object, "werf.io/fail-mode") {
            Some("HopeUntilEndOfDeployProcess") => FailMode::HopeUntilEnd,
            Some("IgnoreAndContinueDeployProcess") => FailMode::Ignore,
            Some("FailWholeDeployProcessImmediately") | None => FailMode::FailImmediately,
            Some(other) => {
                return Err(Invalid::NotOneOf {
                    key: "werf.io/fail-mode",
                    value: other.to_string(),
                    allowed: "one of `FailWholeDeployProcessImmediately`, `HopeUntilEndOfDeployProcess`, `IgnoreAndContinueDeployProcess`",
                })
            }
        };
        let non_blocking = match annotation(&object, "werf.io/track-termination-mode") {
            Some("NonBlocking") => true,
            Some("WaitUntilResourceReady") | None => false,
            Some(other) => {
                return Err(Invalid::NotOneOf {
                    key: "werf.io/track-termination-mode",
                    value: other.to_string(),
                    allowed: "`WaitUntilResourceReady` or `NonBlocking`",
                })
            }
        };
        let logs = LogPolicy::of(&object)?;
        let no_activity = match annotation(&object, "werf.io/no-activity-timeout") {
            Some(t) => werf_base::duration::parse(t).map_err(|source| Invalid::Duration {
                key: "werf.io/no-activity-timeout",
                source,
            })?,
            None => std::time::Duration::from_secs(240),
        };
        let (depends_on, external) = dependencies(&object)?;
        let failures_per_replica = match annotation(&object, "werf.io/failures-allowed-per-replica")
        {
            Some(n) => n
                .trim()
                .parse::<u32>()
                .map_err(|_| Invalid::NotWholeNumber {
                    key: "werf.io/failures-allowed-per-replica",
                    value: n.to_string(),
                })?,
            None => 1,
        };
        Ok(Desired {
            failures_per_replica,
            logs,
            no_activity,
            depends_on,
            external,
            id: ObjectId {
                api_version,
                kind,
                namespace: ns,
                name,
            },
            weight: parse_int("werf.io/weight").unwrap_or(0),
            replicas_on_creation: parse_int("werf.io/replicas-on-creation"),
            object: Arc::new(object),
            source: source.to_string(),
            hook,
            fail_mode,
            non_blocking,
            owner: None,
        })
    }

    /// The same object, applied for `owner`.
    pub fn owned_by(mut self, owner: crate::ownership::Owner) -> Desired {
        self.owner = Some(owner);
        self
    }

    /// The object to apply when `live` exists (or not): `replicas-on-creation` leaves replicas to
    /// their owner once the object exists.
    pub fn to_apply(&self, live_exists: bool) -> Value {
        let mut o = Value::clone(&self.object);
        if let Some(owner) = self.marked_for() {
            crate::ownership::mark(&mut o, owner);
        }
        if let Some(n) = self.replicas_on_creation {
            if live_exists {
                if let Some(spec) = o.get_mut("spec") {
                    without_replicas(spec);
                }
            } else {
                o["spec"]["replicas"] = Value::from(n);
            }
        }
        o
    }

    /// The release whose ownership marks the object is applied with: none for a hook, as Helm
    /// applies hooks.
    fn marked_for(&self) -> Option<&crate::ownership::Owner> {
        self.owner.as_ref().filter(|_| self.hook.is_none())
    }

    /// Whether `live` holds all of [`Desired::to_apply`]`(true)` (see [`subset`]), without making
    /// it: only the fields `to_apply` changes (`metadata` for the ownership marks, `spec` for
    /// `werf.io/replicas-on-creation`) are copied, not the whole object. A no-op converge asks
    /// this of every object.
    pub fn applied_within(&self, live: &Value) -> bool {
        let (Value::Object(desired), Value::Object(live)) = (&*self.object, live) else {
            return subset(&self.to_apply(true), live);
        };
        let marks = self.marked_for();
        desired
            .iter()
            .all(|(key, value)| match (key.as_str(), marks) {
                ("metadata", Some(owner)) => {
                    let mut meta = value.clone();
                    crate::ownership::mark_metadata(&mut meta, owner);
                    field_within(key, &meta, live)
                }
                ("spec", _) if self.replicas_on_creation.is_some() => {
                    let mut spec = value.clone();
                    without_replicas(&mut spec);
                    field_within(key, &spec, live)
                }
                _ => field_within(key, value, live),
            })
    }
}

/// What the 1.20 API server needs written out (`protocol: TCP` on Service ports for server-side
/// apply), and YAML's loose numbers made JSON integers where Kubernetes wants integers.
fn normalize(object: &mut Value) {
    if object.get("kind").and_then(Value::as_str) == Some("Service") {
        if let Some(ports) = object
            .pointer_mut("/spec/ports")
            .and_then(Value::as_array_mut)
        {
            for p in ports {
                if let Some(m) = p.as_object_mut() {
                    m.entry("protocol")
                        .or_insert_with(|| Value::String("TCP".into()));
                }
            }
        }
    }
    integers(object);
}

/// Whole floats become integers (values from YAML via Helm's JSON are all float64).
fn integers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                if n.as_i64().is_none() && f.fract() == 0.0 && f.abs() < 9.0e15 {
                    *v = Value::from(f as i64);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(integers),
        Value::Object(o) => o.values_mut().for_each(integers),
        _ => {}
    }
}

/// Whether every field of `desired` has the same value in `live` (what the server adds, and
/// what controllers write, does not count).
pub fn subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, v)| field_within(k, v, l)),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(a, b)| subset(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::Number(b)) | (Value::Number(b), Value::String(a)) => {
            a == &b.to_string()
        }
        (a, b) => a == b,
    }
}

/// [`subset`] for one field of a desired map: `live` holds it, or it is empty and `live` lacks it.
fn field_within(key: &str, value: &Value, live: &serde_json::Map<String, Value>) -> bool {
    live.get(key).is_some_and(|l| subset(value, l)) || (is_empty(value) && live.get(key).is_none())
}

/// A spec without `replicas` (`werf.io/replicas-on-creation` once the object exists); anything
/// but a map stays as it is.
fn without_replicas(spec: &mut Value) {
    if let Some(spec) = spec.as_object_mut() {
        spec.remove("replicas");
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// An object without what the server manages (status, managed fields, versions, timestamps).
pub fn clean(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("status");
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in [
                "managedFields",
                "resourceVersion",
                "generation",
                "creationTimestamp",
                "uid",
                "selfLink",
            ] {
                meta.remove(k);
            }
            if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                a.remove("deployment.kubernetes.io/revision");
                if a.is_empty() {
                    meta.remove("annotations");
                }
            }
        }
    }
    o
}

/// A YAML view of an object for diffs.
pub fn to_yaml(object: &Value) -> String {
    serde_yaml_ng::to_string(object).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_order_and_annotations_come_from_the_manifest() {
        let d = Desired::new(
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "m", "annotations": {
                "helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-5",
                "helm.sh/hook-delete-policy": "hook-succeeded", "werf.io/weight": "3"}}}),
            "t.yaml",
            true,
            "ns",
        )
        .expect("valid");
        assert_eq!(d.id.namespace.as_deref(), Some("ns"));
        assert_eq!(d.object["metadata"]["namespace"], "ns");
        assert_eq!(d.weight, 3);
        let h = d.hook.expect("a hook");
        assert_eq!(h.weight, -5);
        assert!(h.runs_on(HookPhase::Pre, Operation::Install));
        assert!(h.runs_on(HookPhase::Pre, Operation::Upgrade));
        assert!(!h.runs_on(HookPhase::Post, Operation::Upgrade));
        assert!(!h.runs_on(HookPhase::Pre, Operation::Rollback));
        assert_eq!(h.delete_policies(), ["hook-succeeded"]);
        assert!(!keeps(&d.object));
        assert!(h.on_success && !h.before_creation && !h.on_failure);
        let cluster = Desired::new(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}),
            "n.yaml",
            false,
            "ns",
        )
        .expect("valid");
        assert_eq!(cluster.id.namespace, None);
        let e = Desired::new(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
            "c.yaml",
            true,
            "ns",
        )
        .expect_err("no name");
        assert_eq!(e.to_string(), "no `metadata.name`");
        assert_eq!(
            (
                stage("CustomResourceDefinition"),
                stage("Namespace"),
                stage("Pod")
            ),
            (Stage::Crds, Stage::Namespaces, Stage::Resources)
        );
        assert!(Stage::Crds < Stage::Namespaces && Stage::Namespaces < Stage::Resources);
    }

    /// `applied_within` answers what `subset` of `to_apply(true)` answers, for objects with and
    /// without owners, hooks, `replicas-on-creation`, marks missing, other releases' marks,
    /// missing or empty fields, and a live value that is not an object.
    #[test]
    fn applied_within_is_subset_of_the_object_to_apply() {
        let owner = |release: &str| crate::ownership::Owner {
            release: release.into(),
            namespace: "ns".into(),
            force_adoption: false,
        };
        let manifests = [
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a",
                "labels": {"app": "a"}, "annotations": {"team": "x"}},
                "spec": {"replicas": 2, "template": {"spec": {"containers": [{"image": "i:1"}]}}}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n", "labels": null}, "data": {}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "r",
                "annotations": {"werf.io/replicas-on-creation": "3"}}, "spec": {"replicas": 3}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "s",
                "annotations": {"werf.io/replicas-on-creation": "1"}}, "spec": "not a map"}),
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "h",
                "annotations": {"helm.sh/hook": "pre-install"}}, "spec": {"x": 1}}),
        ];
        let mut desired = Vec::new();
        for m in &manifests {
            let d = Desired::new(m.clone(), "t.yaml", true, "ns").expect("valid");
            desired.push(d.clone());
            desired.push(d.clone().owned_by(owner("app")));
            desired.push(d.owned_by(owner("other")));
        }
        // What the server may hold: each object as applied (with what the server adds), as
        // rendered (no marks), with a field changed, without its spec, and not an object.
        let mut live = vec![Value::Null, json!("text")];
        for d in &desired {
            let mut applied = d.to_apply(true);
            applied["status"] = json!({"ready": 1});
            applied["metadata"]["uid"] = json!("u");
            live.push(applied.clone());
            live.push(Value::clone(&d.object));
            let mut changed = applied.clone();
            changed["metadata"]["name"] = json!("changed");
            live.push(changed);
            if let Some(o) = applied.as_object_mut() {
                o.remove("spec");
            }
            live.push(applied);
        }
        let (mut held, mut not_held) = (0, 0);
        for d in &desired {
            for l in &live {
                let expected = subset(&d.to_apply(true), l);
                assert_eq!(d.applied_within(l), expected, "{}\nagainst {l}", d.object);
                if expected {
                    held += 1;
                } else {
                    not_held += 1;
                }
            }
        }
        assert!(held > 20 && not_held > 20, "{held} held, {not_held} not");
    }

    #[test]
    fn server_defaults_and_controller_fields_are_not_differences() {
        let desired = json!({"spec": {"replicas": 2, "ports": [{"port": 80}], "empty": {}}});
        let live = json!({"spec": {"replicas": 2.0, "ports": [{"port": 80, "protocol": "TCP"}], "extra": 1}, "status": {"ready": 1}});
        assert!(subset(&desired, &live));
        assert!(!subset(&json!({"spec": {"replicas": 3}}), &live));
        assert!(!subset(
            &json!({"spec": {"ports": [{"port": 80}, {"port": 81}]}}),
            &live
        ));
        assert!(
            subset(&json!({"port": "80"}), &json!({"port": 80})),
            "int-or-string"
        );
    }

    #[test]
    fn services_get_explicit_protocols_and_replicas_on_creation_leave_replicas_alone() {
        let s = Desired::new(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80.0}]}}), "s.yaml", true, "ns").expect("valid");
        assert_eq!(
            s.object["spec"]["ports"][0],
            json!({"port": 80, "protocol": "TCP"})
        );
        let d = Desired::new(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "annotations": {"werf.io/replicas-on-creation": "2"}}, "spec": {"replicas": 5}}), "d.yaml", true, "ns").expect("valid");
        assert_eq!(d.to_apply(false)["spec"]["replicas"], 2);
        assert!(d.to_apply(true)["spec"].get("replicas").is_none());
    }
}
