//! Readiness tracking: reads the applied objects (one list per kind and namespace) when a watch
//! says something changed ([`crate::watch`]), until each is ready; fails fast on pod failures
//! (image pulls, crash loops, failed Jobs, progress deadlines) with the failing pod's events and
//! last log lines; honours werf's tracking annotations and the timeout.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use kube::discovery::ApiResource;
use serde_json::Value;

use crate::kubernetes::Kube;
use crate::logs::LogPolicy;
use crate::object::{FailMode, ObjectId};

/// One object to wait for.
#[derive(Clone, Debug)]
pub struct Tracked {
    pub id: ObjectId,
    pub resource: ApiResource,
    pub fail_mode: FailMode,
    pub non_blocking: bool,
    pub logs: LogPolicy,
    /// `werf.io/no-activity-timeout`: progressing without any change this long is a failure.
    pub no_activity: Duration,
    /// `werf.io/failures-allowed-per-replica` (werf's default: 1): container restarts of a crash
    /// loop tolerated per replica before the object fails.
    pub failures_per_replica: u32,
}

/// What tracking found.
#[derive(Clone, Debug, PartialEq)]
enum State {
    Ready(String),
    Progressing(String),
    Failed(Failure),
}

/// A failure, with the pod and container that show it (for events and logs).
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub reason: String,
    pub pod: Option<(String, String)>,
    /// For a crash loop, the container's restart count (each restart is one failure).
    pub restarts: Option<i64>,
}

/// Why tracking ended without everything ready.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TrackError {
    pub message: String,
}

const POD_FAILURES: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "CrashLoopBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];

fn int(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

fn condition<'a>(v: &'a Value, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    v.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .map(|c| {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default();
            (s("status"), s("reason"), s("message"))
        })
}

/// The first failing container of `pods`, as a failure.
fn pod_failure<'a>(pods: impl Iterator<Item = &'a Value>) -> Option<Failure> {
    for pod in pods {
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let statuses = ["/status/initContainerStatuses", "/status/containerStatuses"];
        for list in statuses {
            for c in pod
                .pointer(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let container = c.get("name").and_then(Value::as_str).unwrap_or_default();
                if let Some(w) = c.pointer("/state/waiting") {
                    let reason = w.get("reason").and_then(Value::as_str).unwrap_or_default();
                    if POD_FAILURES.contains(&reason) {
                        let message = w.get("message").and_then(Value::as_str).unwrap_or_default();
                        return Some(Failure {
                            reason: format!(
                                "pod `{name}` container `{container}`: {reason}: {message}"
                            ),
                            pod: Some((name.to_string(), container.to_string())),
                            restarts: (reason == "CrashLoopBackOff").then(|| {
                                c.get("restartCount").and_then(Value::as_i64).unwrap_or(0)
                            }),
                        });
                    }
                }
            }
        }
        if pod.pointer("/status/phase").and_then(Value::as_str) == Some("Failed") {
            return Some(Failure {
                reason: format!("pod `{name}` failed"),
                pod: Some((name.to_string(), String::new())),
                restarts: None,
            });
        }
    }
    None
}

/// Objects by the uid of their owner (one pass over a namespace's ReplicaSets or Pods).
#[derive(Default)]
pub struct Owned<'a>(HashMap<&'a str, Vec<&'a Value>>);

impl<'a> Owned<'a> {
    fn index(items: &'a [Value]) -> Self {
        let mut map: HashMap<&str, Vec<&Value>> = HashMap::new();
        for o in items {
            let refs = o
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array);
            for r in refs.into_iter().flatten() {
                if let Some(uid) = r.get("uid").and_then(Value::as_str) {
                    map.entry(uid).or_default().push(o);
                }
            }
        }
        Owned(map)
    }

    fn of(&self, owner: &Value) -> impl Iterator<Item = &'a Value> + '_ {
        self.0.get(uid(owner)).into_iter().flatten().copied()
    }
}

fn uid(o: &Value) -> &str {
    o.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The state of one live object, with the namespace's ReplicaSets and Pods for its children.
fn state(kind: &str, o: &Value, replica_sets: &Owned<'_>, pods: &Owned<'_>) -> State {
    let generation = int(o, "/metadata/generation").unwrap_or(0);
    let observed = int(o, "/status/observedGeneration").unwrap_or(-1);
    let fresh = observed >= generation;
    // Until its controller has seen the latest spec, a workload's pods are the old ones: their
    // failures (or readiness) say nothing about this rollout.
    if !fresh && matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet") {
        return State::Progressing(format!(
            "waiting for the controller (generation {generation}, observed {observed})"
        ));
    }
    match kind {
        "Deployment" => {
            let want = int(o, "/spec/replicas").unwrap_or(1);
            let updated = int(o, "/status/updatedReplicas").unwrap_or(0);
            let available = int(o, "/status/availableReplicas").unwrap_or(0);
            let total = int(o, "/status/replicas").unwrap_or(0);
            if let Some(("False", "ProgressDeadlineExceeded", m)) = condition(o, "Progressing") {
                return State::Failed(Failure {
                    reason: format!("progress deadline exceeded: {m}"),
                    pod: None,
                    restarts: None,
                });
            }
            // Pods of the current ReplicaSet (the one with the Deployment's revision).
            let revision = o.pointer("/metadata/annotations/deployment.kubernetes.io~1revision");
            let current: Vec<&Value> = replica_sets
                .of(o)
                .filter(|rs| {
                    rs.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
                        == revision
                })
                .collect();
            let current_pods = current.iter().flat_map(|rs| pods.of(rs));
            if let Some(f) = pod_failure(current_pods) {
                return State::Failed(f);
            }
            let progress = format!("{available}/{want} available, {updated} updated");
            if fresh && updated >= want && available >= want && total == want {
                State::Ready(progress)
            } else {
                State::Progressing(progress)
            }
        }
        "StatefulSet" | "DaemonSet" => {
            let (want, ready, updated) = if kind == "StatefulSet" {
                (
                    int(o, "/spec/replicas").unwrap_or(1),
                    int(o, "/status/readyReplicas").unwrap_or(0),
                    int(o, "/status/updatedReplicas").unwrap_or(0),
                )
            } else {
                (
                    int(o, "/status/desiredNumberScheduled").unwrap_or(0),
                    int(o, "/status/numberReady").unwrap_or(0),
                    int(o, "/status/updatedNumberScheduled").unwrap_or(0),
                )
            };
            if let Some(f) = pod_failure(pods.of(o)) {
                return State::Failed(f);
            }
            let progress = format!("{ready}/{want} ready, {updated} updated");
            if fresh && ready >= want && updated >= want {
                State::Ready(progress)
            } else {
                State::Progressing(progress)
            }
        }
        "Job" => {
            if let Some(("True", reason, m)) = condition(o, "Failed") {
                let f = pod_failure(pods.of(o));
                return State::Failed(Failure {
                    reason: format!("job failed: {reason}: {m}"),
                    pod: f.and_then(|f| f.pod),
                    restarts: None,
                });
            }
            if let Some(("True", ..)) = condition(o, "Complete") {
                return State::Ready("complete".into());
            }
            if let Some(f) = pod_failure(pods.of(o)) {
                return State::Failed(f);
            }
            let done = int(o, "/status/succeeded").unwrap_or(0);
            State::Progressing(format!("{done} succeeded"))
        }
        "Pod" => {
            if let Some(f) = pod_failure(std::iter::once(o)) {
                return State::Failed(f);
            }
            match (
                o.pointer("/status/phase").and_then(Value::as_str),
                condition(o, "Ready"),
            ) {
                (Some("Succeeded"), _) | (_, Some(("True", ..))) => State::Ready("ready".into()),
                (phase, _) => State::Progressing(phase.unwrap_or("Pending").to_string()),
            }
        }
        _ => {
            for kind in ["Ready", "Available", "Established"] {
                if let Some((status, reason, m)) = condition(o, kind) {
                    return if status == "True" {
                        State::Ready(kind.to_lowercase())
                    } else {
                        State::Progressing(
                            format!("{kind}={status} {reason} {m}").trim().to_string(),
                        )
                    };
                }
            }
            if let Some(("True", reason, m)) = condition(o, "Failed") {
                return State::Failed(Failure {
                    reason: format!("{reason}: {m}"),
                    pod: None,
                    restarts: None,
                });
            }
            State::Ready("present".into())
        }
    }
}

/// Up to this many pending objects are fetched one by one (with their pods by selector);
/// beyond it whole kinds are listed per namespace.
const FEW: usize = 10;

/// A workload's label selector (`matchLabels`) as a list selector; a Job's own `job-name`.
fn selector(o: &Value) -> Option<String> {
    if o.get("kind").and_then(Value::as_str) == Some("Job") {
        return Some(format!(
            "job-name={}",
            o.pointer("/metadata/name")?.as_str()?
        ));
    }
    let labels = o.pointer("/spec/selector/matchLabels")?.as_object()?;
    if labels.is_empty() {
        return None;
    }
    Some(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// Waits until every tracked object is ready (or fails, or `timeout` passes). `known` holds live
/// objects just read (by the plan): those already ready there are not polled at all.
pub async fn track(
    kube: &Kube,
    reporter: &dyn crate::report::Reporter,
    items: &[Tracked],
    timeout: Duration,
    known: Option<&HashMap<ObjectId, Value>>,
) -> Result<(), TrackError> {
    let started = Instant::now();
    let (out, tty) = reporter.status_lines();
    let mut lines = crate::table::StatusLines::new(out, tty);
    let tty = lines.tty();
    let mut last: BTreeMap<ObjectId, State> = BTreeMap::new();
    let none = Owned::default();
    let mut already = 0;
    // Decided on every core (a no-op converge decides every object so).
    let ready: Vec<Option<State>> = {
        use rayon::prelude::*;
        items
            .par_iter()
            .map(|t| {
                let o = known.and_then(|k| k.get(&t.id))?;
                let s = state(&t.id.kind, o, &none, &none);
                matches!(s, State::Ready(_)).then_some(s)
            })
            .collect()
    };
    for (t, s) in items.iter().zip(ready) {
        if let Some(s) = s {
            already += 1;
            last.insert(t.id.clone(), s);
        }
    }
    // One line for what was ready already (a no-op converge prints no line per object).
    if already > 0 {
        lines.line(&format!(
            "  ready     {already} of {} object{} already",
            items.len(),
            if items.len() == 1 { "" } else { "s" }
        ));
    }
    let mut hoped: Vec<(ObjectId, Failure)> = Vec::new();
    // When each object's progress last changed.
    let mut changed_at: HashMap<ObjectId, Instant> = HashMap::new();
    // The distinct pod failures seen per object (a new back-off, another pod, another reason).
    let mut failures_seen: HashMap<ObjectId, BTreeSet<String>> = HashMap::new();
    let mut last_table = Instant::now();
    let waiting: Vec<&Tracked> = items.iter().filter(|t| !t.non_blocking).collect();
    // What to watch: each kind and namespace tracked, and the ReplicaSets and Pods of the
    // namespaces holding workloads.
    let mut targets: BTreeMap<(String, Option<String>), (ApiResource, Option<String>)> =
        BTreeMap::new();
    for t in waiting
        .iter()
        .filter(|t| !matches!(last.get(&t.id), Some(State::Ready(_))))
    {
        let key = (
            format!("{}/{}", t.resource.api_version, t.resource.plural),
            t.id.namespace.clone(),
        );
        targets.insert(key, (t.resource.clone(), t.id.namespace.clone()));
        if matches!(
            t.id.kind.as_str(),
            "Deployment" | "StatefulSet" | "DaemonSet" | "Job"
        ) {
            for ar in [
                ApiResource::erase::<k8s_openapi::api::apps::v1::ReplicaSet>(&()),
                ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&()),
            ] {
                let key = (
                    format!("{}/{}", ar.api_version, ar.plural),
                    t.id.namespace.clone(),
                );
                targets.insert(key, (ar, t.id.namespace.clone()));
            }
        }
    }
    let targets: Vec<(ApiResource, Option<String>)> = targets.into_values().collect();
    let mut changes = crate::watch::Changes::watch(kube, &targets);
    loop {
        let mut by_group: BTreeMap<(String, Option<String>), Vec<&Tracked>> = BTreeMap::new();
        for t in waiting
            .iter()
            .filter(|t| !matches!(last.get(&t.id), Some(State::Ready(_))))
        {
            by_group
                .entry((t.resource.plural.clone(), t.id.namespace.clone()))
                .or_default()
                .push(t);
        }
        if by_group.is_empty() {
            break;
        }
        // The pending objects: fetched one by one when few, listed by kind when many.
        let mut fetched: HashMap<&ObjectId, Value> = HashMap::new();
        for ((_, ns), group) in &by_group {
            if group.len() <= FEW {
                for t in group {
                    if let Some(o) = kube
                        .get(&t.resource, ns.as_deref(), &t.id.name)
                        .await
                        .map_err(api_error)?
                    {
                        fetched.insert(&t.id, o);
                    }
                }
            } else {
                let live = kube
                    .list(&group[0].resource, ns.as_deref(), None)
                    .await
                    .map_err(api_error)?;
                let mut by_name: HashMap<String, Value> = live
                    .into_iter()
                    .filter_map(|o| Some((o.pointer("/metadata/name")?.as_str()?.to_string(), o)))
                    .collect();
                for t in group {
                    if let Some(o) = by_name.remove(&t.id.name) {
                        fetched.insert(&t.id, o);
                    }
                }
            }
        }
        // Their ReplicaSets and Pods: by each workload's selector when few, per namespace when many.
        let mut children: HashMap<String, (Vec<Value>, Vec<Value>)> = HashMap::new();
        let workloads: Vec<&&Tracked> = by_group
            .values()
            .flatten()
            .filter(|t| {
                matches!(
                    t.id.kind.as_str(),
                    "Deployment" | "StatefulSet" | "DaemonSet" | "Job"
                )
            })
            .collect();
        let rs_ar = ApiResource::erase::<k8s_openapi::api::apps::v1::ReplicaSet>(&());
        let pod_ar = ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&());
        if workloads.len() <= FEW {
            for t in &workloads {
                let (Some(ns), Some(o)) = (&t.id.namespace, fetched.get(&t.id)) else {
                    continue;
                };
                let Some(selector) = selector(o) else {
                    continue;
                };
                let entry = children.entry(ns.clone()).or_default();
                if t.id.kind == "Deployment" {
                    let rs = kube.list(&rs_ar, Some(ns), Some(&selector)).await;
                    entry.0.extend(rs.map_err(api_error)?);
                }
                let pods = kube.list(&pod_ar, Some(ns), Some(&selector)).await;
                entry.1.extend(pods.map_err(api_error)?);
            }
        } else {
            let namespaces: BTreeSet<&String> = workloads
                .iter()
                .filter_map(|t| t.id.namespace.as_ref())
                .collect();
            for ns in namespaces {
                let rs = kube.list(&rs_ar, Some(ns), None).await.map_err(api_error)?;
                let pods = kube
                    .list(&pod_ar, Some(ns), None)
                    .await
                    .map_err(api_error)?;
                children.insert(ns.clone(), (rs, pods));
            }
        }
        // Indexed once per namespace, shared by every kind's group in it.
        let indexes: HashMap<&String, (Owned<'_>, Owned<'_>)> = children
            .iter()
            .map(|(ns, (rs, pods))| (ns, (Owned::index(rs), Owned::index(pods))))
            .collect();
        let no_children = (Owned::default(), Owned::default());
        for ((_, ns), group) in &by_group {
            let (rs, pods) = ns
                .as_ref()
                .and_then(|n| indexes.get(n))
                .unwrap_or(&no_children);
            for t in group {
                let s = match fetched.get(&t.id) {
                    Some(o) => state(&t.id.kind, o, rs, pods),
                    None => State::Progressing("not found yet".into()),
                };
                // Crash-loop restarts within `werf.io/failures-allowed-per-replica` are progress
                // (a pull or configuration error fails at once: retrying does not mend it).
                let s = match s {
                    State::Failed(f) if f.restarts.is_some() => {
                        let replicas = fetched
                            .get(&t.id)
                            .and_then(|o| int(o, "/spec/replicas"))
                            .unwrap_or(1)
                            .max(1);
                        let allowed = i64::from(t.failures_per_replica) * replicas;
                        let seen = failures_seen.entry(t.id.clone()).or_default();
                        if let (Some((pod, container)), Some(n)) = (&f.pod, f.restarts) {
                            seen.insert(format!("{pod}/{container}#{n}"));
                        }
                        let count = i64::try_from(seen.len()).unwrap_or(i64::MAX);
                        if count > allowed {
                            State::Failed(f)
                        } else {
                            State::Progressing(format!(
                                "{} ({count} of {allowed} failures allowed)",
                                f.reason
                            ))
                        }
                    }
                    other => other,
                };
                let s = match s {
                    State::Progressing(p) => {
                        if last.get(&t.id) != Some(&State::Progressing(p.clone())) {
                            changed_at.insert(t.id.clone(), Instant::now());
                        }
                        let since = changed_at
                            .get(&t.id)
                            .map_or(Duration::ZERO, |c| c.elapsed());
                        if since >= t.no_activity {
                            State::Failed(Failure {
                                reason: format!(
                                    "no activity for {:.0?} (werf.io/no-activity-timeout): {p}",
                                    t.no_activity
                                ),
                                pod: None,
                                restarts: None,
                            })
                        } else {
                            State::Progressing(p)
                        }
                    }
                    other => other,
                };
                if last.get(&t.id) != Some(&s) {
                    match &s {
                        State::Ready(p) => lines.line(&format!("  ready     {}  {p}", t.id)),
                        State::Progressing(p) if !tty => {
                            lines.line(&format!("  waiting   {}  {p}", t.id))
                        }
                        State::Progressing(_) => {}
                        State::Failed(f) => {
                            lines.line(&format!("  FAILED    {}  {}", t.id, f.reason))
                        }
                    }
                }
                if let State::Failed(f) = &s {
                    match t.fail_mode {
                        FailMode::FailImmediately => {
                            return Err(TrackError {
                                message: failure_report(kube, &t.id, f, &t.logs).await,
                            })
                        }
                        FailMode::HopeUntilEnd => {
                            if !hoped.iter().any(|(id, _)| id == &t.id) {
                                hoped.push((t.id.clone(), f.clone()));
                            }
                        }
                        FailMode::Ignore => {
                            last.insert(t.id.clone(), State::Ready("failure ignored".into()));
                            continue;
                        }
                    }
                }
                last.insert(t.id.clone(), s);
            }
        }
        if tty && last_table.elapsed() > Duration::from_secs(1) {
            last_table = Instant::now();
            let rows: Vec<(String, String)> = last
                .iter()
                .filter_map(|(id, s)| match s {
                    State::Progressing(p) => Some((id.to_string(), p.clone())),
                    _ => None,
                })
                .collect();
            lines.table(&rows);
        }
        let pending: Vec<String> = last
            .iter()
            .filter(|(_, s)| !matches!(s, State::Ready(_)))
            .map(|(id, s)| match s {
                State::Progressing(p) => format!("{id}: {p}"),
                State::Failed(f) => format!("{id}: {}", f.reason),
                State::Ready(_) => unreachable!("filtered"),
            })
            .collect();
        let only_hoped = pending.len() == hoped.len() && !hoped.is_empty();
        if only_hoped {
            let (id, f) = &hoped[0];
            let logs = items
                .iter()
                .find(|t| &t.id == id)
                .map(|t| t.logs.clone())
                .unwrap_or_default();
            return Err(TrackError {
                message: failure_report(kube, id, f, &logs).await,
            });
        }
        if started.elapsed() >= timeout {
            return Err(TrackError {
                message: format!(
                    "timed out after {:.0?} waiting for:\n  {}",
                    timeout,
                    pending.join("\n  ")
                ),
            });
        }
        if waiting
            .iter()
            .all(|t| matches!(last.get(&t.id), Some(State::Ready(_))))
        {
            break;
        }
        // Read again when a watch says something changed, or when a deadline (the timeout, an
        // object's no-activity timeout) comes; a quiet cluster is re-read at most every 30 s.
        let mut deadline = started + timeout;
        for t in &waiting {
            if let (Some(State::Progressing(_)), Some(since)) =
                (last.get(&t.id), changed_at.get(&t.id))
            {
                deadline = deadline.min(*since + t.no_activity);
            }
        }
        let deadline = deadline.min(Instant::now() + Duration::from_secs(30));
        // Many objects changing at once: let the burst settle before reading them all again.
        let settle = Duration::from_millis(50 + (pending.len() as u64).min(950));
        changes
            .next(tokio::time::Instant::from_std(deadline), settle)
            .await;
    }
    // Everything is ready: the table of what was progressing goes.
    lines.table(&[]);
    Ok(())
}

/// An API error while tracking: reported as it is (a 403 or a 500 is not "not ready yet"); reads
/// were already retried where a retry may help.
fn api_error(e: crate::kubernetes::Error) -> TrackError {
    TrackError {
        message: format!("tracking stopped: {e}"),
    }
}

/// A failure with the pod's events and last log lines.
async fn failure_report(kube: &Kube, id: &ObjectId, f: &Failure, policy: &LogPolicy) -> String {
    let mut out = format!("{id} failed: {}", f.reason);
    if let (Some((pod, container)), Some(ns)) = (&f.pod, &id.namespace) {
        let events = kube.events(ns, pod).await;
        if !events.is_empty() {
            out.push_str(&format!("\nevents of pod `{pod}`:"));
            for e in events.iter().rev().take(10).rev() {
                out.push_str(&format!("\n  {e}"));
            }
        }
        if !container.is_empty() && policy.shows(container) {
            let logs = kube.logs(ns, pod, container, 200).await;
            let mut lines = policy.filter(container, &logs);
            let keep = lines.len().saturating_sub(20);
            lines.drain(..keep);
            if !lines.is_empty() {
                out.push_str(&format!("\nlast log lines of `{pod}/{container}`:"));
                for l in lines {
                    out.push_str(&format!("\n  {l}"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_is_ready_only_when_its_rollout_is_done() {
        let d = serde_json::json!({"metadata": {"generation": 2, "uid": "d1"}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2, "replicas": 2}});
        let none = Owned::default();
        assert!(matches!(
            state("Deployment", &d, &none, &none),
            State::Ready(_)
        ));
        let stale = serde_json::json!({"metadata": {"generation": 3}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2, "replicas": 2}});
        assert!(matches!(
            state("Deployment", &stale, &none, &none),
            State::Progressing(_)
        ));
        let pod = serde_json::json!({"metadata": {"name": "p", "ownerReferences": [{"kind": "ReplicaSet", "uid": "rs1"}]},
            "status": {"containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}}]}});
        let rs = serde_json::json!({"metadata": {"uid": "rs1", "ownerReferences": [{"kind": "Deployment", "uid": "d1"}]}});
        let (rs, pod) = ([rs], [pod]);
        match state("Deployment", &d, &Owned::index(&rs), &Owned::index(&pod)) {
            State::Failed(f) => assert!(f.reason.contains("ImagePullBackOff"), "{f:?}"),
            other => panic!("{other:?}"),
        }
    }
}
