//! What a deploy plans: the release, each object's action, the plan.

use std::collections::HashMap;

use kube::discovery::ApiResource;
use serde_json::Value;

use crate::object::{Desired, ObjectId};
use crate::ownership;
use crate::release::{Record, Status};

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

    /// What the plan was made for, taken back out of it (to plan again without keeping a copy):
    /// the chart's objects in their order, then its hooks.
    pub fn take_desired(&mut self) -> Vec<(Desired, ApiResource)> {
        let mut out: Vec<_> = std::mem::take(&mut self.steps)
            .into_iter()
            .filter_map(|s| s.desired.map(|d| (d, s.resource)))
            .collect();
        out.append(&mut self.hooks);
        out
    }
}
