//! `werf cleanup`, `werf purge` and `werf host cleanup`: the effects around `graph::cleanup`.
//!
//! The decisions (policies, history walks, keep or delete) are pure and live in
//! [`werf_graph::cleanup`]; these modules read what they need and carry the result out.
//!
//! - [`fetch`]: the whole history first: `origin`'s branches and tags fetched, a shallow clone
//!   unshallowed, or the cleanup stopped before it deletes.
//! - [`history`]: branches and tags from Git, and each commit's tags from the engine (memoized).
//! - [`kube`]: images that workloads use, in every namespace of every context asked for.
//! - [`taglog`]: when each tag was first seen and its manifest digest, kept per repository.
//! - [`delete`]: re-listing, digest checks and deletes through the registry API.
//! - [`report`]: the report (`--save-cleanup-report`) and the printed summary.
//! - [`host`]: bounding the home folder by age and size.

pub mod delete;
pub mod fetch;
pub mod history;
pub mod host;
pub mod kube;
pub mod report;
pub use werf_build::taglog;

use werf_git as git;
use werf_kubernetes as kubernetes;
use werf_registry as registry;

/// Errors of a cleanup, each naming what it was reading or deleting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Git: {what}: {message}")]
    Git { what: String, message: String },
    #[error("{0}")]
    Engine(#[from] werf_graph::Error),
    #[error(transparent)]
    Registry(#[from] crate::registry::Error),
    /// The cause is shown in the message, not chained: its own chain repeats kube's dump.
    #[error("Kubernetes context `{context}`: {cause} (a cleanup never deletes on partial knowledge; pass `--without-kube` to skip the Kubernetes policy)")]
    Kube {
        context: String,
        cause: Box<crate::kubernetes::Error>,
    },
    #[error("cache: {0}")]
    Cache(#[from] werf_cache::Error),
    #[error("`{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Result with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
