//! A plan carried out: applies in order, hooks, tracking, deletions.

use std::time::Duration;

use futures::StreamExt as _;
use kube::discovery::ApiResource;

use crate::compare::short_reason;
use crate::error::api_err;
use crate::kubernetes::Kube;
use crate::object::{Desired, HookPhase, ObjectId, Operation, Stage};
use crate::report::{Event, Reporter};
use crate::track::Tracked;
use crate::{apply_order, object, track, Action, Error, Plan, Result, Step};

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
pub async fn run_hooks(
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
        let result = track::track(kube, reporter, &[tracked(d, ar)], timeout, None).await;
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
    track::track(kube, reporter, &items, timeout, None)
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
    track::track(kube, reporter, &items, timeout, None)
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
