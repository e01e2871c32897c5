//! Deploy: from rendered manifests to a release that is up, with only the needed changes.
//!
//! - [`crds`]: the chart's `crds/`, created first and never pruned, as Helm does.
//! - [`dependency`]: werf's deploy dependencies (in and outside the release), pure.
//! - [`logs`]: which container logs a failure report shows, pure.
//! - [`object`]: an object's identity, order (CRDs, Namespaces, hooks, `werf.io/weight`) and the
//!   comparisons of desired and live objects.
//! - [`release`]: Helm's release record and the decisions made from a history (lock, supersede,
//!   `--history-max`), pure.
//! - [`record`]: the records in the cluster (a Secret per revision, as Helm stores them).
//! - [`lifecycle`]: converge, rollback and dismiss on top of plan and execute.
//! - [`names`]: release and namespace names as werf computes them (templates, slugs), pure.
//! - [`ownership`]: Helm's ownership marks, and whether an existing object may be taken, pure.
//! - [`report`]: deploy's events and the `Reporter` trait the binary draws them with.
//! - [`table`]: tracking's status lines, with a table redrawn in place on a terminal.
//! - [`track`]: readiness tracking and failure reports.
//! - [`watch`]: change notifications (watches) that wake tracking instead of a timer.
//!
//! Changes are server-side applies by the field manager `helm` (see the README for why). An
//! object is left alone when it equals the last applied revision and the live object already holds
//! every field of it; otherwise a dry-run apply tells whether the server would change anything,
//! and only then is it applied. Objects that left the chart are deleted.

pub mod crds;
pub mod dependency;
pub mod lifecycle;
pub mod logs;
pub mod names;
pub mod object;
pub mod ownership;
pub mod record;
pub mod release;
pub mod report;
pub mod table;
pub mod track;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures::StreamExt as _;
use kube::discovery::ApiResource;
use serde_json::Value;

use crate::kubernetes::Kube;
use object::{
    clean, keeps, stage, subset, to_yaml, Desired, HookPhase, ObjectId, Operation, Stage,
};
use release::{Record, Status};
use report::{Event, Reporter};

pub use lifecycle::{converge, dismiss, rollback, Content};
use track::Tracked;

/// What deploy needs to know about the release.
#[derive(Clone, Debug)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    /// `--force-adoption`: existing objects of no release, or of another, are taken over.
    pub force_adoption: bool,
}

impl Release {
    /// The owner its objects are applied for.
    pub fn owner(&self) -> ownership::Owner {
        ownership::Owner {
            release: self.name.clone(),
            namespace: self.namespace.clone(),
            force_adoption: self.force_adoption,
        }
    }
}

/// How an object would change: the server's dry run against the live object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Unified diff, live to desired (Secret values hidden).
    pub diff: String,
    /// The field paths that differ (`data.v`, `spec.template.spec.containers[0].image`).
    pub fields: Vec<String>,
}

/// What converge does with one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Create,
    Update(Change),
    Unchanged,
    Delete,
}

/// One object's step.
#[derive(Clone, Debug)]
pub struct Step {
    pub id: ObjectId,
    pub resource: ApiResource,
    /// `None` for deletions.
    pub desired: Option<Desired>,
    pub action: Action,
}

/// Everything a converge would do.
pub struct Plan {
    pub steps: Vec<Step>,
    pub hooks: Vec<(Desired, ApiResource)>,
    pub history: Vec<Record>,
    /// The live objects the plan compared against.
    pub live: HashMap<ObjectId, Value>,
}

impl Plan {
    /// Whether anything would be written.
    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| s.action != Action::Unchanged)
            || self
                .history
                .last()
                .is_none_or(|r| r.status() != Status::Deployed)
    }

    /// The next revision number.
    pub fn next_revision(&self) -> u64 {
        self.history.last().map_or(1, |r| r.revision() + 1)
    }
}

/// Errors of deploy.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Kube(#[from] crate::kubernetes::Error),
    #[error("`{source_file}`: {message}")]
    Manifest {
        source_file: String,
        message: String,
    },
    #[error("{verb} {id}: {}", crate::kubernetes::describe(source))]
    Api {
        verb: &'static str,
        id: String,
        source: kube::Error,
    },
    #[error(transparent)]
    Record(#[from] record::Error),
    #[error(transparent)]
    Ownership(#[from] ownership::Refusal),
    #[error("release `{release}` in `{namespace}` is being converged by `{holder}` since {since} (revision {revision} is pending): wait for it to finish (a crashed converge's lock expires)")]
    Locked {
        release: String,
        namespace: String,
        holder: String,
        since: String,
        revision: u64,
    },
    /// Tracking found a failure, or ran out of time.
    #[error(transparent)]
    Tracking(#[from] track::TrackError),
    #[error("hook {id}: {source}")]
    Hook {
        id: String,
        #[source]
        source: track::TrackError,
    },
    /// The apply order the dependency annotations ask for is impossible.
    #[error("{0}")]
    Order(String),
    #[error("`{kind}/{name}` was not deleted within 2 minutes")]
    NotDeleted { kind: String, name: String },
    #[error("the custom resource definition `{0}` was not established in time")]
    NotEstablished(String),
    #[error("{failure}\nrolled back to revision {to} (now revision {now})")]
    RolledBack {
        failure: Box<Error>,
        to: u64,
        now: u64,
    },
    #[error("{failure}\nthe rollback to revision {to} failed too: {rollback}")]
    RollbackFailed {
        failure: Box<Error>,
        to: u64,
        rollback: Box<Error>,
    },
    #[error("release `{release}` in `{namespace}` has no revisions")]
    NoRevisions { release: String, namespace: String },
    #[error("release `{release}` has no revision {revision} (revisions: {available})")]
    NoSuchRevision {
        release: String,
        revision: u64,
        available: String,
    },
    #[error("release `{0}` has no earlier revision to roll back to")]
    NoEarlierRevision(String),
    #[error("release `{release}`: revision {revision} was taken by another operation; try again")]
    RevisionTaken { release: String, revision: u64 },
}

pub type Result<T> = std::result::Result<T, Error>;

fn api_err<'a>(verb: &'static str, id: &'a ObjectId) -> impl FnOnce(kube::Error) -> Error + 'a {
    move |source| Error::Api {
        verb,
        id: id.to_string(),
        source,
    }
}

/// Resolves every manifest's kind (discovery) and identity.
pub async fn resolve(
    kube: &Kube,
    manifests: &[(String, Value)],
    release: &Release,
) -> Result<Vec<(Desired, ApiResource)>> {
    let namespace = release.namespace.as_str();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (source, object) in manifests {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if api_version.is_empty() || kind.is_empty() {
            return Err(Error::Manifest {
                source_file: source.clone(),
                message: "a document without `apiVersion` and `kind`".into(),
            });
        }
        let (ar, namespaced) = kube.resource(api_version, kind, source).await?;
        let d = Desired::new(object.clone(), source, namespaced, namespace)
            .map_err(|message| Error::Manifest {
                source_file: source.clone(),
                message,
            })?
            .owned_by(release.owner());
        if !seen.insert(d.id.clone()) {
            return Err(Error::Manifest {
                source_file: source.clone(),
                message: format!("{} is defined twice in the chart", d.id),
            });
        }
        out.push((d, ar));
    }
    Ok(out)
}

/// Live objects of the given identities, one list per kind and namespace.
async fn live_objects(
    kube: &Kube,
    ids: &[(ObjectId, ApiResource)],
) -> Result<HashMap<ObjectId, Value>> {
    let mut groups: BTreeMap<(String, Option<String>), &ApiResource> = BTreeMap::new();
    for (id, ar) in ids {
        groups.insert(
            (
                format!("{}/{}", ar.api_version, ar.plural),
                id.namespace.clone(),
            ),
            ar,
        );
    }
    let mut live = HashMap::new();
    for ((_, ns), ar) in groups {
        for o in kube.list(ar, ns.as_deref(), None).await? {
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

fn diff(live: &Value, desired: &Value) -> Change {
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

/// The release's revisions, oldest first; the objects of their manifests are read for the
/// revisions a plan compares with and prunes from (the last one, and every one since the last
/// deployed), not for older ones.
pub async fn history(kube: &Kube, release: &Release) -> Result<Vec<Record>> {
    let mut records = record::history(kube, &release.namespace, &release.name).await?;
    fill_objects(kube, release, &mut records, &HashMap::new()).await?;
    Ok(records)
}

/// Reads the objects of the revisions a plan needs (see [`history`]) into `records`; a document
/// whose text is in `known` (the documents just rendered, by their text) is not parsed again.
pub async fn fill_objects(
    kube: &Kube,
    release: &Release,
    records: &mut [Record],
    known: &HashMap<&str, &Value>,
) -> Result<()> {
    let since = records
        .iter()
        .rposition(|r| r.status() == Status::Deployed)
        .unwrap_or(0);
    for r in records.iter_mut().skip(since) {
        r.objects = objects_of(kube, r, &release.namespace, known).await?;
    }
    Ok(())
}

/// The release's revisions, each with the objects of its manifest (rollback, dismiss).
pub async fn history_all(kube: &Kube, release: &Release) -> Result<Vec<Record>> {
    let mut records = record::history(kube, &release.namespace, &release.name).await?;
    for r in records.iter_mut() {
        r.objects = objects_of(kube, r, &release.namespace, &HashMap::new()).await?;
    }
    Ok(records)
}

/// The objects of a record's manifest, read as the chart's manifests are (so that an unchanged
/// object equals its recorded one). Objects of kinds the cluster no longer serves are left out:
/// none of them can exist.
async fn objects_of(
    kube: &Kube,
    r: &Record,
    namespace: &str,
    known: &HashMap<&str, &Value>,
) -> Result<Vec<(ObjectId, Value)>> {
    let mut out = Vec::new();
    let origin = format!("revision {} of release `{}`", r.revision(), r.name());
    for (source, text) in release::documents(r.manifest()) {
        let object = match known.get(text.trim_end()) {
            Some(v) => (*v).clone(),
            None => gotemplate::yaml::load::load_all_with(
                &text,
                gotemplate::yaml::load::Numbers::AsWritten,
            )
            .map_err(|e| Error::Manifest {
                source_file: format!("{source} ({origin})"),
                message: format!("not valid YAML: {e}"),
            })?
            .into_iter()
            .next()
            .unwrap_or(Value::Null),
        };
        let (Some(api_version), Some(kind)) = (
            object.get("apiVersion").and_then(Value::as_str),
            object.get("kind").and_then(Value::as_str),
        ) else {
            continue;
        };
        let namespaced = match kube.resource(api_version, kind, &origin).await {
            Ok((_, namespaced)) => namespaced,
            Err(crate::kubernetes::Error::UnknownKind { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let d = Desired::new(object, &source, namespaced, namespace).map_err(|message| {
            Error::Manifest {
                source_file: format!("{source} ({origin})"),
                message,
            }
        })?;
        out.push((d.id, d.object));
    }
    Ok(out)
}

/// Decides each object's action: desired vs the last applied revision (from `history`, as
/// [`history`] read it) vs live (with a dry-run apply when they disagree).
pub async fn plan(
    kube: &Kube,
    desired: Vec<(Desired, ApiResource)>,
    history: Vec<Record>,
) -> Result<Plan> {
    let (hooks, main): (Vec<_>, Vec<_>) = desired.into_iter().partition(|(d, _)| d.hook.is_some());
    let last_applied: HashMap<&ObjectId, &Value> = history
        .last()
        .map(|r| r.objects.iter().map(|(id, o)| (id, o)).collect())
        .unwrap_or_default();
    let wanted: BTreeSet<ObjectId> = main.iter().map(|(d, _)| d.id.clone()).collect();
    // Objects of the last revisions that left the chart: their kinds are resolved from the record.
    let mut gone: Vec<(ObjectId, ApiResource)> = Vec::new();
    // Every revision since the last deployed one may have applied objects (a failed one partly).
    let since = history
        .iter()
        .rposition(|r| r.status() == Status::Deployed)
        .unwrap_or(0);
    // `helm.sh/resource-policy: keep` in the recorded object: never pruned.
    let recorded: BTreeMap<&ObjectId, &Value> = history[since..]
        .iter()
        .flat_map(|r| r.objects.iter().map(|(id, o)| (id, o)))
        .collect();
    for (&id, &object) in &recorded {
        if !wanted.contains(id) && !keeps(object) {
            let (ar, _) = kube
                .resource(&id.api_version, &id.kind, "the release record")
                .await?;
            gone.push((id.clone(), ar));
        }
    }
    let mut ids: Vec<(ObjectId, ApiResource)> = main
        .iter()
        .map(|(d, ar)| (d.id.clone(), ar.clone()))
        .collect();
    ids.extend(gone.iter().cloned());
    let live = live_objects(kube, &ids).await?;

    // An existing object is applied only when it is this release's to change.
    for (d, _) in &main {
        if let (Some(owner), Some(l)) = (&d.owner, live.get(&d.id)) {
            ownership::check(owner, &d.id, l, recorded.contains_key(&d.id))?;
        }
    }
    let decide = |(d, ar): (Desired, ApiResource)| {
        let live = live.get(&d.id).cloned();
        let last = last_applied.get(&d.id).map(|v| (*v).clone());
        async move {
            let action = match &live {
                None => Action::Create,
                Some(l) if last.as_ref() == Some(&d.object) && subset(&d.to_apply(true), l) => {
                    Action::Unchanged
                }
                Some(l) => {
                    let dry = kube
                        .apply(
                            &ar,
                            d.id.namespace.as_deref(),
                            &d.id.name,
                            &d.to_apply(true),
                            true,
                        )
                        .await;
                    match dry {
                        Ok(after) if clean(&after) == clean(l) => Action::Unchanged,
                        Ok(after) => Action::Update(diff(l, &after)),
                        // An immutable field: the dry run fails, the real apply recreates.
                        Err(kube::Error::Api(s)) if s.code == 422 => {
                            let mut change = diff(l, &d.object);
                            change.diff = format!(
                                "{}\n(recreate: {})",
                                change.diff,
                                short_reason(&s.message)
                            );
                            Action::Update(change)
                        }
                        Err(e) => return Err(api_err("dry-run apply", &d.id)(e)),
                    }
                }
            };
            Ok(Step {
                id: d.id.clone(),
                resource: ar,
                desired: Some(d),
                action,
            })
        }
    };
    let mut steps: Vec<Step> = futures::stream::iter(main.into_iter().map(decide))
        .buffered(16)
        .collect::<Vec<Result<Step>>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    for (id, ar) in gone {
        if live.get(&id).is_some_and(|l| !keeps(l)) {
            steps.push(Step {
                id,
                resource: ar,
                desired: None,
                action: Action::Delete,
            });
        }
    }
    let plan = Plan {
        steps,
        hooks,
        history,
        live,
    };
    apply_order(&plan)?;
    Ok(plan)
}

/// The API server's validation message without the Go dump of the whole object
/// (`Job.batch "x" is invalid: spec.template: Invalid value: core.PodTemplateSpec{...}: field is
/// immutable` becomes `... spec.template: field is immutable`).
fn short_reason(message: &str) -> String {
    match message.split_once("Invalid value:") {
        Some((head, tail)) => format!(
            "{}{}",
            head,
            tail.rsplit(": ").next().unwrap_or(tail).trim()
        ),
        None => message.to_string(),
    }
}

/// Applies one object; an immutable-field rejection becomes delete + create.
async fn apply_one(kube: &Kube, step: &Step) -> Result<Option<String>> {
    let d = step
        .desired
        .as_ref()
        .expect("applied steps have a desired object");
    let ns = d.id.namespace.as_deref();
    let exists = step.action != Action::Create;
    match kube
        .apply(&step.resource, ns, &d.id.name, &d.to_apply(exists), false)
        .await
    {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(s)) if s.code == 422 && s.message.contains("immutable") => {
            kube.delete(&step.resource, ns, &d.id.name).await?;
            wait_gone(kube, &step.resource, ns, &d.id.name).await?;
            kube.apply(&step.resource, ns, &d.id.name, &d.to_apply(false), false)
                .await
                .map_err(api_err("apply", &d.id))?;
            Ok(Some(format!(
                "recreated {}: {}",
                d.id,
                short_reason(&s.message)
            )))
        }
        Err(e) => Err(api_err("apply", &d.id)(e)),
    }
}

async fn wait_gone(kube: &Kube, ar: &ApiResource, ns: Option<&str>, name: &str) -> Result<()> {
    for _ in 0..600 {
        if kube.get(ar, ns, name).await?.is_none() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(Error::NotDeleted {
        kind: ar.kind.clone(),
        name: name.to_string(),
    })
}

pub(crate) fn tracked(d: &Desired, ar: &ApiResource) -> Tracked {
    Tracked {
        id: d.id.clone(),
        resource: ar.clone(),
        fail_mode: d.fail_mode,
        non_blocking: d.non_blocking,
        logs: d.logs.clone(),
        no_activity: d.no_activity,
        failures_per_replica: d.failures_per_replica,
    }
}

/// Runs hooks of `phase` (weight order), each tracked to completion, with delete policies.
pub(crate) async fn run_hooks(
    kube: &Kube,
    reporter: &dyn Reporter,
    hooks: &[(Desired, ApiResource)],
    phase: HookPhase,
    operation: Operation,
    timeout: Duration,
) -> Result<()> {
    let mut selected: Vec<&(Desired, ApiResource)> = hooks
        .iter()
        .filter(|(d, _)| d.hook.as_ref().is_some_and(|h| h.runs_on(phase, operation)))
        .collect();
    selected.sort_by_key(|(d, _)| (d.hook.as_ref().map_or(0, |h| h.weight), d.id.clone()));
    for (d, ar) in selected {
        let Some(h) = d.hook.as_ref() else {
            continue;
        };
        let ns = d.id.namespace.as_deref();
        if h.before_creation && kube.get(ar, ns, &d.id.name).await?.is_some() {
            kube.delete(ar, ns, &d.id.name).await?;
            wait_gone(kube, ar, ns, &d.id.name).await?;
        }
        reporter.event(Event::Hook(&d.id));
        kube.apply(ar, ns, &d.id.name, &d.object, false)
            .await
            .map_err(api_err("apply hook", &d.id))?;
        let result = track::track(kube, &[tracked(d, ar)], timeout, None).await;
        if (result.is_ok() && h.on_success) || (result.is_err() && h.on_failure) {
            kube.delete(ar, ns, &d.id.name).await?;
        }
        result.map_err(|source| Error::Hook {
            id: d.id.to_string(),
            source,
        })?;
    }
    Ok(())
}

/// One apply group: its `(stage, weight)` and its dependency rounds of steps.
pub type Group<'p> = ((Stage, i64), Vec<Vec<&'p Step>>);

/// The plan's applies in order: `(stage, weight)` groups, each as rounds of steps (by
/// `werf.io/deploy-dependency-*`). Pure; an impossible order is an error before anything is
/// written (plan reports it, converge refuses it).
pub fn apply_order(plan: &Plan) -> Result<Vec<Group<'_>>> {
    let mut groups: BTreeMap<(Stage, i64), Vec<&Step>> = BTreeMap::new();
    for s in plan.steps.iter().filter(|s| s.action != Action::Delete) {
        let Some(d) = s.desired.as_ref() else {
            continue;
        };
        let weight = if stage(&d.id.kind) == Stage::Resources {
            d.weight
        } else {
            0
        };
        groups
            .entry((stage(&d.id.kind), weight))
            .or_default()
            .push(s);
    }
    let release: BTreeSet<ObjectId> = groups.values().flatten().map(|s| s.id.clone()).collect();
    let mut done: BTreeSet<ObjectId> = BTreeSet::new();
    let mut out = Vec::new();
    for (key, steps) in groups {
        let members: Vec<(&ObjectId, &[dependency::Dependency])> = steps
            .iter()
            .map(|s| {
                let deps = s.desired.as_ref().map_or(&[][..], |d| &d.depends_on[..]);
                (&s.id, deps)
            })
            .collect();
        let rounds = dependency::rounds(&members, &done, &release).map_err(Error::Order)?;
        done.extend(steps.iter().map(|s| s.id.clone()));
        out.push((
            key,
            rounds
                .into_iter()
                .map(|r| r.into_iter().map(|i| steps[i]).collect())
                .collect(),
        ));
    }
    Ok(out)
}

/// Carries out a plan: CRDs, Namespaces, pre hooks, `werf.io/weight` groups (each tracked to
/// readiness before the next, in dependency rounds), post hooks, then deletions.
pub async fn execute(
    kube: &Kube,
    reporter: &dyn Reporter,
    plan: &Plan,
    operation: Operation,
    timeout: Duration,
) -> Result<()> {
    let order = apply_order(plan)?;
    let mut hooks_done = false;
    for ((stage_no, weight), rounds) in &order {
        if *stage_no == Stage::Resources && !hooks_done {
            run_hooks(
                kube,
                reporter,
                &plan.hooks,
                HookPhase::Pre,
                operation,
                timeout,
            )
            .await?;
            hooks_done = true;
        }
        for round in rounds {
            wait_external(kube, reporter, round, timeout).await?;
            apply_and_track(kube, reporter, round, *weight, timeout).await?;
        }
    }
    if !hooks_done {
        run_hooks(
            kube,
            reporter,
            &plan.hooks,
            HookPhase::Pre,
            operation,
            timeout,
        )
        .await?;
    }
    run_hooks(
        kube,
        reporter,
        &plan.hooks,
        HookPhase::Post,
        operation,
        timeout,
    )
    .await?;
    for s in plan.steps.iter().filter(|s| s.action == Action::Delete) {
        reporter.event(Event::Deleting {
            id: &s.id,
            why: " (no longer in the chart)",
        });
        kube.delete(&s.resource, s.id.namespace.as_deref(), &s.id.name)
            .await?;
    }
    Ok(())
}

/// Applies the changing steps of one round in parallel, then tracks the whole round to readiness.
async fn apply_and_track(
    kube: &Kube,
    reporter: &dyn Reporter,
    round: &[&Step],
    weight: i64,
    timeout: Duration,
) -> Result<()> {
    let changing: Vec<&&Step> = round
        .iter()
        .filter(|s| s.action != Action::Unchanged)
        .collect();
    if !changing.is_empty() {
        reporter.event(Event::Applying {
            count: changing.len(),
            weight,
        });
    }
    let results: Vec<Result<Option<String>>> =
        futures::stream::iter(changing.iter().map(|s| apply_one(kube, s)))
            .buffer_unordered(16)
            .collect()
            .await;
    for r in results {
        if let Some(note) = r? {
            reporter.event(Event::Recreated(&note));
        }
    }
    let items: Vec<Tracked> = round
        .iter()
        .filter_map(|s| s.desired.as_ref().map(|d| tracked(d, &s.resource)))
        .collect();
    track::track(kube, &items, timeout, None)
        .await
        .map_err(Error::Tracking)
}

/// Waits until the objects outside the release that a round's members name
/// (`ID.external-dependency.werf.io/*`) exist and are ready.
async fn wait_external(
    kube: &Kube,
    reporter: &dyn Reporter,
    round: &[&Step],
    timeout: Duration,
) -> Result<()> {
    let mut items: Vec<Tracked> = Vec::new();
    for s in round {
        let Some(d) = &s.desired else { continue };
        for e in &d.external {
            let source = format!("{} (`{}.external-dependency.werf.io/resource`)", d.id, e.id);
            let (ar, namespaced) = kube
                .resource_by_name(&e.kind, e.group.as_deref(), e.version.as_deref(), &source)
                .await?;
            let id = ObjectId {
                api_version: ar.api_version.clone(),
                kind: ar.kind.clone(),
                namespace: namespaced.then(|| {
                    e.namespace
                        .clone()
                        .or_else(|| d.id.namespace.clone())
                        .unwrap_or_default()
                }),
                name: e.name.clone(),
            };
            reporter.event(Event::WaitingExternal { id: &id, of: &d.id });
            items.push(Tracked {
                id,
                resource: ar,
                fail_mode: object::FailMode::FailImmediately,
                non_blocking: false,
                logs: Default::default(),
                no_activity: d.no_activity,
                failures_per_replica: 0,
            });
        }
    }
    if items.is_empty() {
        return Ok(());
    }
    track::track(kube, &items, timeout, None)
        .await
        .map_err(Error::Tracking)
}

/// Creates the release namespace when it is missing.
pub async fn ensure_namespace(kube: &Kube, reporter: &dyn Reporter, namespace: &str) -> Result<()> {
    use k8s_openapi::api::core::v1::Namespace;
    let ar = ApiResource::erase::<Namespace>(&());
    if kube.get(&ar, None, namespace).await?.is_some() {
        return Ok(());
    }
    let api: kube::Api<Namespace> = kube::Api::all(kube.client.clone());
    let ns = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(namespace.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    reporter.event(Event::Namespace {
        verb: "creating",
        name: namespace,
    });
    kube.create(&api, &ns).await.map_err(|source| Error::Api {
        verb: "create",
        id: format!("namespace `{namespace}`"),
        source,
    })?;
    Ok(())
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
