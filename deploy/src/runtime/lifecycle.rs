//! Release operations on top of [`crate::plan`] and [`crate::execute`]: `converge` (install or
//! upgrade), `rollback` and `dismiss` (uninstall), with the release record kept as Helm keeps it.
//!
//! Bookkeeping is at the minimum Helm's format allows: the new revision's Secret is created
//! `pending-*` (the create succeeds once, so it is also the release lock; no Lease), rewritten
//! `deployed` or `failed` at the end, and the revision it supersedes is rewritten `superseded`.
//! A no-op converge writes nothing. A converge that outlives its lock renews it; one that died
//! blocks the next only until its lock expires, and is then marked `failed`.

use std::time::Duration;

use kube::discovery::ApiResource;
use serde_json::{json, Value};

use crate::kubernetes::Kube;
use crate::object::{keeps, to_yaml, Desired, HookPhase, ObjectId, Operation};
use crate::release::{self, Holder, LockState, NewRevision, Record, Status};
use crate::report::{Event, Reporter};
use crate::resolve::EarlyLists;
use crate::{
    ensure_namespace, execute, execute::run_hooks, plan, record, Action, Error, Plan, Release,
    Result,
};

/// What a new revision records besides its objects: Helm's chart object, the user's values, the
/// joined manifest of the non-hook documents and the chart's notes.
pub struct Content {
    pub chart: Value,
    pub config: Value,
    pub manifest: String,
    pub notes: String,
    /// The commit rendered (none for a `--dev` work tree).
    pub commit: Option<String>,
}

/// How operations run, and where they report.
#[derive(Clone, Copy)]
pub struct Settings<'r> {
    pub reporter: &'r dyn Reporter,
    pub timeout: Duration,
    pub auto_rollback: bool,
    /// Revisions kept (0: all), as `--history-max`.
    pub history_max: usize,
}

/// What a converge or rollback did.
pub struct Outcome {
    pub revision: u64,
    pub changed: usize,
    pub deleted: usize,
    /// Nothing to change: no revision was written (`revision` is the one already there).
    pub up_to_date: bool,
}

fn now() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_second()
}

fn lock_seconds(settings: &Settings<'_>) -> i64 {
    i64::try_from(settings.timeout.as_secs()).unwrap_or(i64::MAX / 2) + 120
}

/// Helm's hook objects for a revision's record.
fn hook_records(hooks: &[(Desired, ApiResource)]) -> Vec<Value> {
    hooks
        .iter()
        .filter_map(|(d, _)| {
            let h = d.hook.as_ref()?;
            Some(json!({
                "name": d.id.name,
                "kind": d.id.kind,
                "path": d.source,
                "manifest": to_yaml(&d.object),
                "events": h.events,
                "weight": h.weight,
                "delete_policies": h.delete_policies(),
            }))
        })
        .collect()
}

/// A description that fits a record (an error with many log lines is cut).
fn failed_description(what: &str, name: &str, e: &Error) -> String {
    let mut text = format!("{what} \"{name}\" failed: {e}");
    if text.len() > 4096 {
        let mut cut = 4096;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(" ...");
    }
    text
}

/// Marks a pending revision whose holder stopped renewing as failed.
async fn mark_stale(
    kube: &Kube,
    reporter: &dyn Reporter,
    release: &Release,
    history: &mut [Record],
    revision: u64,
) -> Result<()> {
    if let Some(r) = history.iter_mut().find(|r| r.revision() == revision) {
        reporter.event(Event::Stale {
            release: &release.name,
            revision,
        });
        r.set_status(
            Status::Failed,
            "The operation holding this revision stopped before it finished",
            &record::now_rfc3339(),
        );
        record::update(kube, &release.namespace, r).await?;
    }
    Ok(())
}

fn locked(release: &Release, revision: u64, holder: String, since: String) -> Error {
    Error::Locked {
        release: release.name.clone(),
        namespace: release.namespace.clone(),
        holder,
        since,
        revision,
    }
}

/// Checks the lock of a history read just now; a stale pending revision is marked failed.
async fn check_lock(
    kube: &Kube,
    reporter: &dyn Reporter,
    release: &Release,
    history: &mut [Record],
) -> Result<()> {
    match release::lock_state(history, now()) {
        LockState::Free => Ok(()),
        LockState::Stale { revision } => {
            mark_stale(kube, reporter, release, history, revision).await
        }
        LockState::Held {
            revision,
            holder,
            since,
        } => Err(locked(release, revision, holder, since)),
    }
}

/// Runs `work` while renewing the lock of the pending `revision` every half lock period.
async fn renewing<T>(
    kube: &Kube,
    reporter: &dyn Reporter,
    release: &Release,
    revision: u64,
    seconds: i64,
    work: impl std::future::Future<Output = T>,
) -> T {
    let renew = async {
        let period = Duration::from_secs(u64::try_from(seconds / 2).unwrap_or(60).max(1));
        loop {
            tokio::time::sleep(period).await;
            if let Err(e) = record::renew(
                kube,
                &release.namespace,
                &release.name,
                revision,
                now() + seconds,
            )
            .await
            {
                reporter.event(Event::Warning(e.to_string()));
            }
        }
    };
    tokio::select! {
        out = work => out,
        never = renew => never,
    }
}

/// After a revision is deployed: the ones it supersedes, then `--history-max`.
async fn finish(
    kube: &Kube,
    release: &Release,
    mut history: Vec<Record>,
    done: Record,
    settings: &Settings<'_>,
) -> Result<()> {
    let superseded = release::superseded_by(&history, done.revision());
    for r in history
        .iter_mut()
        .filter(|r| superseded.contains(&r.revision()))
    {
        let at = r.last_deployed().to_string();
        r.set_status(Status::Superseded, "Superseded", &at);
        record::update(kube, &release.namespace, r).await?;
    }
    history.push(done);
    for old in release::beyond_history(&history, settings.history_max) {
        record::delete(kube, &release.namespace, &release.name, old).await?;
    }
    Ok(())
}

/// Frees a plan on a thread of its own so the caller answers at once: freeing thousands of live
/// objects' trees node by node takes tens of milliseconds (a plan is plain data: its drop does
/// nothing else). Inline when no thread can be started.
fn free_later(plan: Plan) {
    let _ = std::thread::Builder::new()
        .name("free-plan".into())
        .spawn(move || drop(plan));
}

fn count(p: &Plan, a: fn(&Action) -> bool) -> usize {
    p.steps.iter().filter(|s| a(&s.action)).count()
}

fn report_steps(reporter: &dyn Reporter, plan: &Plan) {
    for s in &plan.steps {
        let verb = match &s.action {
            Action::Create => "create",
            Action::Update(_) => "update",
            Action::Delete => "delete",
            Action::Unchanged => continue,
        };
        reporter.event(Event::Step { verb, id: &s.id });
    }
}

/// Converges the release to `desired`: nothing is written when nothing differs; otherwise the
/// next revision is recorded (the lock), applied and tracked; on failure with `auto_rollback` the
/// last deployed revision is rolled back to. `history` is what `desired` was rendered against;
/// `early`, the live lists [`crate::read_early`] read meanwhile.
pub async fn converge(
    kube: &Kube,
    release: &Release,
    (desired, history, early): (Vec<(Desired, ApiResource)>, Vec<Record>, EarlyLists),
    content: &Content,
    settings: &Settings<'_>,
) -> Result<Outcome> {
    let mut plan = crate::plan_with(kube, desired, history, early).await?;
    if !plan.has_changes() {
        settings.reporter.event(Event::UpToDate {
            release: &release.name,
            revision: plan.history.last().map_or(0, Record::revision),
        });
        let items: Vec<_> = plan
            .steps
            .iter()
            .filter_map(|s| {
                s.desired
                    .as_ref()
                    .map(|d| crate::execute::tracked(d, &s.resource))
            })
            .collect();
        crate::track::track(
            kube,
            settings.reporter,
            &items,
            settings.timeout,
            Some(&plan.live),
        )
        .await
        .map_err(Error::Tracking)?;
        let revision = plan.next_revision() - 1;
        free_later(plan);
        return Ok(Outcome {
            revision,
            changed: 0,
            deleted: 0,
            up_to_date: true,
        });
    }
    ensure_namespace(kube, settings.reporter, &release.namespace).await?;
    let seconds = lock_seconds(settings);
    let holder = record::holder_identity();
    let mut attempt = 0;
    let (mut rec, operation) = loop {
        attempt += 1;
        check_lock(kube, settings.reporter, release, &mut plan.history).await?;
        if !plan.has_changes() {
            settings.reporter.event(Event::ConvergedMeanwhile {
                release: &release.name,
            });
            return Ok(Outcome {
                revision: plan.next_revision() - 1,
                changed: 0,
                deleted: 0,
                up_to_date: true,
            });
        }
        let revision = plan.next_revision();
        let operation = if release::is_install(&plan.history) {
            Operation::Install
        } else {
            Operation::Upgrade
        };
        let stamp = record::now_rfc3339();
        let first = plan
            .history
            .first()
            .map_or(stamp.clone(), |r| r.first_deployed().to_string());
        let rec = Record::new(NewRevision {
            name: &release.name,
            namespace: &release.namespace,
            revision,
            status: if operation == Operation::Install {
                Status::PendingInstall
            } else {
                Status::PendingUpgrade
            },
            description: if operation == Operation::Install {
                "Initial install underway".into()
            } else {
                "Preparing upgrade".into()
            },
            now: &stamp,
            first_deployed: &first,
            chart: content.chart.clone(),
            config: content.config.clone(),
            manifest: content.manifest.clone(),
            hooks: hook_records(&plan.hooks),
            notes: content.notes.clone(),
            commit: content.commit.clone(),
        });
        let lock = Holder {
            holder: holder.clone(),
            expires: now() + seconds,
        };
        if record::create(kube, &release.namespace, &rec, &lock).await? {
            break (rec, operation);
        }
        // Another operation created this revision first: read again, and plan again.
        let mut again = crate::history(kube, release).await?;
        if attempt >= 3 {
            check_lock(kube, settings.reporter, release, &mut again).await?;
            return Err(Error::RevisionTaken {
                release: release.name.clone(),
                revision,
            });
        }
        plan = crate::plan(kube, plan.take_desired(), again).await?;
    };
    let revision = rec.revision();
    report_steps(settings.reporter, &plan);
    let result = renewing(
        kube,
        settings.reporter,
        release,
        revision,
        seconds,
        execute(kube, settings.reporter, &plan, operation, settings.timeout),
    )
    .await;
    match result {
        Ok(()) => {
            rec.set_status(
                Status::Deployed,
                if operation == Operation::Install {
                    "Install complete"
                } else {
                    "Upgrade complete"
                },
                &record::now_rfc3339(),
            );
            record::update(kube, &release.namespace, &rec).await?;
            finish(kube, release, plan.history.clone(), rec, settings).await?;
            Ok(Outcome {
                revision,
                changed: count(&plan, |a| matches!(a, Action::Create | Action::Update(_))),
                deleted: count(&plan, |a| *a == Action::Delete),
                up_to_date: false,
            })
        }
        Err(e) => {
            let what = if operation == Operation::Install {
                "Release"
            } else {
                "Upgrade"
            };
            rec.set_status(
                Status::Failed,
                &failed_description(what, &release.name, &e),
                &record::now_rfc3339(),
            );
            record::update(kube, &release.namespace, &rec).await?;
            let good = release::last_deployed(&plan.history).cloned();
            let Some(good) = good.filter(|_| settings.auto_rollback) else {
                return Err(e);
            };
            settings.reporter.event(Event::RollingBack {
                to: good.revision(),
            });
            let mut now_history = plan.history.clone();
            now_history.push(rec);
            match roll_back(kube, release, &good, now_history, settings).await {
                Ok(o) => Err(Error::RolledBack {
                    failure: Box::new(e),
                    to: good.revision(),
                    now: o.revision,
                }),
                Err(r) => Err(Error::RollbackFailed {
                    failure: Box::new(e),
                    to: good.revision(),
                    rollback: Box::new(r),
                }),
            }
        }
    }
}

/// A recorded object (or hook) read back as a desired one.
async fn desired_of(
    kube: &Kube,
    release: &Release,
    source: &str,
    object: Value,
) -> Result<(Desired, ApiResource)> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let (ar, namespaced) = kube.resource(&api_version, &kind, source).await?;
    let d = Desired::new(object, source, namespaced, &release.namespace)
        .map_err(|e| Error::Invalid {
            source_file: source.to_string(),
            source: e,
        })?
        .owned_by(release.owner());
    Ok((d, ar))
}

/// The hooks a record keeps (Helm stores each one's manifest).
async fn recorded_hooks(
    kube: &Kube,
    release: &Release,
    r: &Record,
) -> Result<Vec<(Desired, ApiResource)>> {
    let mut out = Vec::new();
    for h in r.hooks() {
        let path = h
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or("a hook")
            .to_string();
        let text = h
            .get("manifest")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let object =
            gotemplate::yaml::load::load_with(text, gotemplate::yaml::load::Numbers::AsWritten)
                .map_err(|e| Error::Manifest {
                    source_file: path.clone(),
                    message: format!("not valid YAML: {e}"),
                })?;
        if object.is_null() {
            continue;
        }
        let (d, ar) = desired_of(kube, release, &path, object).await?;
        if d.hook.is_some() {
            out.push((d, ar));
        }
    }
    Ok(out)
}

/// Deploys `target`'s objects as the next revision (`pending-rollback`, then `deployed`), with
/// its rollback hooks; objects recorded since and not in `target` are pruned (`keep` stays).
async fn roll_back(
    kube: &Kube,
    release: &Release,
    target: &Record,
    history: Vec<Record>,
    settings: &Settings<'_>,
) -> Result<Outcome> {
    let origin = format!("revision {}", target.revision());
    let mut back = Vec::new();
    for (_, object) in &target.objects {
        back.push(desired_of(kube, release, &origin, Value::clone(object)).await?);
    }
    back.extend(recorded_hooks(kube, release, target).await?);
    let plan = plan(kube, back, history).await?;
    let revision = plan.next_revision();
    let mut rec = target.renumbered(revision);
    let stamp = record::now_rfc3339();
    let description = format!("Rollback to {}", target.revision());
    rec.set_status(Status::PendingRollback, &description, &stamp);
    let seconds = lock_seconds(settings);
    let lock = Holder {
        holder: record::holder_identity(),
        expires: now() + seconds,
    };
    if !record::create(kube, &release.namespace, &rec, &lock).await? {
        let mut again = crate::history(kube, release).await?;
        check_lock(kube, settings.reporter, release, &mut again).await?;
        return Err(Error::RevisionTaken {
            release: release.name.clone(),
            revision,
        });
    }
    report_steps(settings.reporter, &plan);
    let result = renewing(
        kube,
        settings.reporter,
        release,
        revision,
        seconds,
        execute(
            kube,
            settings.reporter,
            &plan,
            Operation::Rollback,
            settings.timeout,
        ),
    )
    .await;
    match result {
        Ok(()) => {
            rec.set_status(Status::Deployed, &description, &record::now_rfc3339());
            record::update(kube, &release.namespace, &rec).await?;
            finish(kube, release, plan.history.clone(), rec, settings).await?;
            Ok(Outcome {
                revision,
                changed: count(&plan, |a| matches!(a, Action::Create | Action::Update(_))),
                deleted: count(&plan, |a| *a == Action::Delete),
                up_to_date: false,
            })
        }
        Err(e) => {
            rec.set_status(
                Status::Failed,
                &failed_description("Rollback", &release.name, &e),
                &record::now_rfc3339(),
            );
            record::update(kube, &release.namespace, &rec).await?;
            Err(e)
        }
    }
}

/// `werf rollback`: deploys revision `to` again (default: the deployed revision before the
/// current one) as the next revision, as `helm rollback` does.
pub async fn rollback(
    kube: &Kube,
    release: &Release,
    to: Option<u64>,
    settings: &Settings<'_>,
) -> Result<Outcome> {
    let mut history = crate::history_all(kube, release).await?;
    if history.is_empty() {
        return Err(Error::NoRevisions {
            release: release.name.clone(),
            namespace: release.namespace.clone(),
        });
    }
    check_lock(kube, settings.reporter, release, &mut history).await?;
    let target = match to {
        Some(n) => history
            .iter()
            .find(|r| r.revision() == n)
            .cloned()
            .ok_or_else(|| Error::NoSuchRevision {
                release: release.name.clone(),
                revision: n,
                available: history
                    .iter()
                    .map(|r| r.revision().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
        None => {
            let current = history.last().map_or(0, Record::revision);
            history
                .iter()
                .rev()
                .find(|r| {
                    r.revision() < current
                        && matches!(r.status(), Status::Deployed | Status::Superseded)
                })
                .cloned()
                .ok_or_else(|| Error::NoEarlierRevision(release.name.clone()))?
        }
    };
    roll_back(kube, release, &target, history, settings).await
}

/// `werf dismiss`: delete hooks around the deletion of every recorded object (those marked
/// `helm.sh/resource-policy: keep` stay), then the records. Returns the objects deleted.
pub async fn dismiss(
    kube: &Kube,
    reporter: &dyn Reporter,
    release: &Release,
    with_namespace: bool,
    timeout: Duration,
) -> Result<usize> {
    let history = crate::history_all(kube, release).await?;
    let hooks = match history
        .iter()
        .rev()
        .find(|r| !r.status().is_pending())
        .or(history.last())
    {
        Some(last) => recorded_hooks(kube, release, last).await?,
        None => Vec::new(),
    };
    run_hooks(
        kube,
        reporter,
        &hooks,
        HookPhase::Pre,
        Operation::Delete,
        timeout,
    )
    .await?;
    let mut deleted = 0;
    let mut objects: std::collections::BTreeMap<&ObjectId, &Value> =
        std::collections::BTreeMap::new();
    for r in &history {
        for (id, o) in &r.objects {
            objects.insert(id, o);
        }
    }
    for (id, recorded) in objects {
        let (ar, _) = kube
            .resource(&id.api_version, &id.kind, "the release record")
            .await?;
        let Some(live) = kube.get(&ar, id.namespace.as_deref(), &id.name).await? else {
            continue;
        };
        if keeps(recorded) || keeps(&live) {
            reporter.event(Event::Keeping(id));
            continue;
        }
        reporter.event(Event::Deleting { id, why: "" });
        kube.delete(&ar, id.namespace.as_deref(), &id.name).await?;
        deleted += 1;
    }
    run_hooks(
        kube,
        reporter,
        &hooks,
        HookPhase::Post,
        Operation::Delete,
        timeout,
    )
    .await?;
    for r in &history {
        record::delete(kube, &release.namespace, &release.name, r.revision()).await?;
    }
    if with_namespace {
        let ar = ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&());
        reporter.event(Event::Namespace {
            verb: "deleting",
            name: &release.namespace,
        });
        kube.delete(&ar, None, &release.namespace).await?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use crate::model::{Change, Step};

    /// A reporter that keeps every event as its text.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<String>>);

    impl Reporter for Recorded {
        fn event(&self, event: Event<'_>) {
            self.0.lock().unwrap().push(event.to_string());
        }
    }

    fn config_map(name: &str, annotations: Value) -> Desired {
        Desired::new(
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "annotations": annotations}}),
            &format!("templates/{name}.yaml"),
            true,
            "ns",
        )
        .expect("a valid object")
    }

    fn step(name: &str, action: Action) -> Step {
        let d = config_map(name, json!({}));
        Step {
            id: d.id.clone(),
            resource: ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
            desired: (action != Action::Delete).then_some(d),
            action,
        }
    }

    fn settings(reporter: &dyn Reporter, timeout: Duration) -> Settings<'_> {
        Settings {
            reporter,
            timeout,
            auto_rollback: false,
            history_max: 5,
        }
    }

    #[test]
    fn only_changes_are_reported_in_plan_order_and_counted_by_kind() {
        let update = Action::Update(Change {
            diff: String::new(),
            fields: vec!["data.a".into()],
        });
        let plan = Plan {
            steps: vec![
                step("kept", Action::Unchanged),
                step("new", Action::Create),
                step("moved", update),
                step("gone", Action::Delete),
            ],
            hooks: Vec::new(),
            history: Vec::new(),
            live: HashMap::new(),
        };
        let reporter = Recorded::default();
        report_steps(&reporter, &plan);
        let lines: Vec<Vec<String>> = reporter
            .0
            .into_inner()
            .unwrap()
            .iter()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect();
        assert_eq!(
            lines,
            [
                ["create", "ConfigMap/new", "(ns)"],
                ["update", "ConfigMap/moved", "(ns)"],
                ["delete", "ConfigMap/gone", "(ns)"],
            ]
        );
        assert_eq!(count(&plan, |a| matches!(a, Action::Update(_))), 1);
        assert_eq!(count(&plan, |a| *a == Action::Unchanged), 1);
        // A plan with a change and no deployed revision writes.
        assert!(plan.has_changes());
        assert_eq!(plan.next_revision(), 1);
    }

    #[test]
    fn the_lock_outlives_the_timeout_by_two_minutes_and_never_overflows() {
        let reporter = Recorded::default();
        assert_eq!(
            lock_seconds(&settings(&reporter, Duration::from_secs(300))),
            420
        );
        let forever = lock_seconds(&settings(&reporter, Duration::from_secs(u64::MAX)));
        assert_eq!(forever, i64::MAX / 2 + 120);
    }

    #[test]
    fn hooks_are_recorded_as_helm_records_them() {
        let hook = config_map(
            "migrate",
            json!({"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-5",
                "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}),
        );
        assert!(hook.hook.is_some(), "{hook:?}");
        let ar = ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
        let records = hook_records(&[(hook, ar.clone()), (config_map("plain", json!({})), ar)]);
        assert_eq!(records.len(), 1, "only hooks are recorded: {records:?}");
        let r = &records[0];
        assert_eq!(r["name"], "migrate");
        assert_eq!(r["kind"], "ConfigMap");
        assert_eq!(r["path"], "templates/migrate.yaml");
        assert_eq!(r["events"], json!(["pre-install", "pre-upgrade"]));
        assert_eq!(r["weight"], -5);
        assert_eq!(
            r["delete_policies"],
            json!(["before-hook-creation", "hook-succeeded"])
        );
        assert!(r["manifest"]
            .as_str()
            .is_some_and(|m| m.contains("name: migrate")));
    }

    #[test]
    fn a_long_failure_is_cut_to_fit_a_record_at_a_character_boundary() {
        let e = Error::Manifest {
            source_file: "templates/x.yaml".into(),
            message: "é".repeat(5000),
        };
        let text = failed_description("Upgrade", "app", &e);
        assert!(text.starts_with("Upgrade \"app\" failed: `templates/x.yaml`: é"));
        assert!(text.ends_with(" ..."), "{}", &text[text.len() - 10..]);
        assert!(text.len() <= 4096 + 4);
        let short = failed_description(
            "Install",
            "app",
            &Error::Manifest {
                source_file: "t.yaml".into(),
                message: "bad".into(),
            },
        );
        assert_eq!(short, "Install \"app\" failed: `t.yaml`: bad");
    }
}
