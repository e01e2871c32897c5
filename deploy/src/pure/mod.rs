//! Deploy's decisions without the cluster: identities, order, dependencies, ownership, names,
//! release records, the plan and its diffs, and the events reported.

pub mod dependency;
pub mod diff;
pub mod id;
pub mod invalid;
pub mod logs;
pub mod metadata;
pub mod model;
pub mod names;
pub mod object;
pub mod order;
pub mod ownership;
pub mod release;
pub mod report;
