//! Each object's action decided against the last revision and the live object (dry runs).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use futures::StreamExt as _;
use kube::discovery::ApiResource;
use serde_json::Value;

use crate::error::api_err;
use crate::kubernetes::Kube;
use crate::object::{clean, keeps, Desired, ObjectId};
use crate::release::{Record, Status};
use crate::resolve::{live_objects, EarlyLists};
use crate::{apply_order, ownership, Action, Plan, Result, Step};

/// Decides each object's action: desired vs the last applied revision (from `history`, as
/// [`history`] read it) vs live (with a dry-run apply when they disagree).
pub async fn plan(
    kube: &Kube,
    desired: Vec<(Desired, ApiResource)>,
    history: Vec<Record>,
) -> Result<Plan> {
    plan_with(kube, desired, history, EarlyLists::default()).await
}

/// [`plan`] with the live lists [`crate::resolve::read_early`] read already.
pub async fn plan_with(
    kube: &Kube,
    desired: Vec<(Desired, ApiResource)>,
    history: Vec<Record>,
    early: EarlyLists,
) -> Result<Plan> {
    let (hooks, main): (Vec<_>, Vec<_>) = desired.into_iter().partition(|(d, _)| d.hook.is_some());
    // Shared with the desired object when the last revision recorded the same document: equal
    // at once (`Arc` compares the pointer first).
    let last_applied: HashMap<&ObjectId, &Arc<Value>> = history
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
        .flat_map(|r| r.objects.iter().map(|(id, o)| (id, &**o)))
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
    let live = live_objects(kube, &ids, early).await?;

    // An existing object is applied only when it is this release's to change.
    for (d, _) in &main {
        if let (Some(owner), Some(l)) = (&d.owner, live.get(&d.id)) {
            ownership::check(owner, &d.id, l, recorded.contains_key(&d.id))?;
        }
    }
    // An object as last applied whose live version holds all of it is unchanged without asking
    // the server: decided on every core first (a no-op converge decides every object so).
    let unchanged: Vec<bool> = {
        use rayon::prelude::*;
        main.par_iter()
            .map(|(d, _)| {
                live.get(&d.id).is_some_and(|l| {
                    last_applied.get(&d.id).copied() == Some(&d.object) && d.applied_within(l)
                })
            })
            .collect()
    };
    let decide = |((d, ar), unchanged): ((Desired, ApiResource), bool)| {
        let now = live.get(&d.id);
        async move {
            let action = match now {
                None => Action::Create,
                Some(_) if unchanged => Action::Unchanged,
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
                        Ok(after) => Action::Update(crate::diff::diff(l, &after)),
                        // An immutable field: the dry run fails, the real apply recreates.
                        Err(kube::Error::Api(s)) if s.code == 422 => {
                            let mut change = crate::diff::diff(l, &d.object);
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
    let mut steps: Vec<Step> = futures::stream::iter(main.into_iter().zip(unchanged).map(decide))
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
pub(crate) fn short_reason(message: &str) -> String {
    match message.split_once("Invalid value:") {
        Some((head, tail)) => format!(
            "{}{}",
            head,
            tail.rsplit(": ").next().unwrap_or(tail).trim()
        ),
        None => message.to_string(),
    }
}
