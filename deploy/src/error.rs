//! Deploy's errors.

use crate::object::ObjectId;
use crate::{ownership, record, track};

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
    #[error("`{source_file}`: {source}")]
    Invalid {
        source_file: String,
        #[source]
        source: crate::invalid::Invalid,
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
    #[error(transparent)]
    Order(#[from] crate::invalid::Unordered),
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
    #[error("pod `{pod}` in `{namespace}`: {message}")]
    PodRun {
        pod: String,
        namespace: String,
        message: String,
    },
    #[error("release `{release}`: revision {revision} was taken by another operation; try again")]
    RevisionTaken { release: String, revision: u64 },
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn api_err<'a>(
    verb: &'static str,
    id: &'a ObjectId,
) -> impl FnOnce(kube::Error) -> Error + 'a {
    move |source| Error::Api {
        verb,
        id: id.to_string(),
        source,
    }
}
