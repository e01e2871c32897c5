//! Deploy: from rendered manifests to a release that is up, with only the needed changes.
//!
//! [`pure`] decides without the cluster; [`runtime`] talks to it (through `werf-kubernetes`):
//!
//! - pure: [`id`] (an object's identity), [`object`] (order: CRDs, Namespaces, hooks,
//!   `werf.io/weight`; tracking annotations; desired vs live), [`dependency`] (werf's deploy
//!   dependencies), [`logs`] (which container logs a failure shows), [`ownership`] (Helm's marks),
//!   [`names`] (release and namespace names as werf computes them), [`release`] (Helm's release
//!   record and the decisions made from a history), [`model`] (the plan), [`order`] (the applies'
//!   order), [`diff`] (what changed, Secret values hidden), [`report`] (deploy's events and the
//!   `Reporter` the binary draws them with), [`pod_run`] (`werf kube-run`'s pod, its overrides,
//!   what its status says).
//! - runtime: [`resolve`] (discovery, live objects), [`history`] (the records read back),
//!   [`compare`] (each object's action, with dry runs), [`execute`] (applies, hooks, deletions),
//!   [`lifecycle`] (converge, rollback, dismiss), [`record`] (a Secret per revision, as Helm
//!   stores them), [`crds`] (the chart's `crds/`), [`track`] (readiness and failure reports),
//!   [`watch`] (change notifications that wake tracking), [`table`] (tracking's status lines),
//!   [`kube_run`] (a one-off pod run, its log followed, its exit code read, deleted).
//!
//! Changes are server-side applies by the field manager `helm` (see the README for why). An
//! object is left alone when it equals the last applied revision and the live object already holds
//! every field of it; otherwise a dry-run apply tells whether the server would change anything,
//! and only then is it applied. Objects that left the chart are deleted.

mod error;
pub mod pure;
pub mod runtime;

use werf_kubernetes as kubernetes;

pub use error::{Error, Result};
pub use pure::{
    dependency, diff, id, invalid, logs, metadata, model, names, object, order, ownership, pod_run,
    release, report,
};
pub use runtime::{
    compare, crds, execute, history, kube_run, lifecycle, record, resolve, table, track, watch,
};

pub use compare::{plan, plan_with};
pub use execute::{ensure_namespace, execute};
pub use history::{fill_objects, fill_objects_with, history, history_all, Known};
pub use lifecycle::{converge, dismiss, rollback, Content};
pub use model::{Action, Change, Plan, Release, Step};
pub use order::{apply_order, Group};
pub use resolve::{read_early, resolve, EarlyLists};
