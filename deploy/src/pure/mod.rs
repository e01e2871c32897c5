//! Deploy's decisions without the cluster: identities, order, dependencies, ownership, names,
//! release records, the plan and its diffs, the events reported, and `werf kube-run`'s pod.

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
pub mod pod_run;
pub mod release;
pub mod report;
