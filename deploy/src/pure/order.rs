//! The order of a plan's applies: `(stage, weight)` groups, each in dependency rounds.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Action, Plan, Step};
use crate::object::{stage, ObjectId, Stage};
use crate::{dependency, Error, Result};

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
