//! Git reading through gix: the repository, the commit to converge, objects, the work tree.
//!
//! - [`beneath`]: the work tree opened beneath its root (no link followed, special files refused).
//! - [`excludes`]: which folders Git ignores (what `werf dev` does not watch).
//! - [`index`]: the Git index read as a stream of entries in bounded memory (the dirty check's
//!   common case).
//! - [`objects`]: [`werf_graph::ObjectSource`] over the object database, with a cache of decoded
//!   trees and an overlay of synthetic trees for `--dev` snapshots.
//! - [`tree_cache`]: decoded trees in bounded memory (two generations).
//! - [`worktree`]: which used files differ from the commit (the dirty check) and the `--dev`
//!   snapshot of the work tree as a tree id.

pub mod beneath;
pub mod excludes;
pub mod index;
pub mod objects;
pub mod tree_cache;
pub mod worktree;

use std::path::{Path, PathBuf};

use werf_graph::ObjectId;

/// Errors of Git access.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{path}` is not inside a Git work tree: {message}")]
    Discover { path: PathBuf, message: String },
    #[error("the repository at `{0}` has no work tree (bare repositories are not supported)")]
    Bare(PathBuf),
    #[error("cannot resolve `{rev}` to a commit: {message}")]
    Revision { rev: String, message: String },
    #[error("cannot read the Git index: {0}")]
    Index(String),
    #[error("cannot read `{path}` from the work tree: {message}")]
    WorkFile { path: String, message: String },
    #[error("Git object `{id}`: {message}")]
    Object { id: String, message: String },
    #[error(transparent)]
    Beneath(#[from] beneath::Error),
}

/// Result with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An open repository and where the project sits inside it.
pub struct Repo {
    pub sync: gix::ThreadSafeRepository,
    /// The work tree root.
    pub workdir: PathBuf,
    /// The project folder relative to the work tree root (`""` at the root, `/`-separated).
    pub prefix: String,
}

/// The commit a run reads.
#[derive(Clone, Debug)]
pub struct Commit {
    pub id: String,
    pub tree: ObjectId,
    /// The committer's time: seconds since the epoch and the offset east of UTC, in seconds.
    pub time: (i64, i32),
}

impl Repo {
    /// Finds the repository containing `dir`; `dir` is the project folder.
    pub fn discover(dir: &Path) -> Result<Self> {
        let dir = dir.canonicalize().map_err(|e| Error::Discover {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let repo = gix::discover(&dir).map_err(|e| Error::Discover {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| Error::Bare(repo.git_dir().to_path_buf()))?
            .canonicalize()
            .map_err(|e| Error::Discover {
                path: dir.clone(),
                message: e.to_string(),
            })?;
        let prefix = dir
            .strip_prefix(&workdir)
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default();
        Ok(Repo {
            sync: repo.into_sync(),
            workdir,
            prefix,
        })
    }

    /// Resolves `rev` (default `HEAD`) to a commit and its root tree.
    pub fn commit(&self, rev: Option<&str>) -> Result<Commit> {
        let repo = self.sync.to_thread_local();
        let spec = rev.unwrap_or("HEAD");
        let err = |message: String| Error::Revision {
            rev: spec.to_string(),
            message,
        };
        let id = repo
            .rev_parse_single(spec)
            .map_err(|e| err(e.to_string()))?;
        let commit = id
            .object()
            .map_err(|e| err(e.to_string()))?
            .peel_to_commit()
            .map_err(|e| err(e.to_string()))?;
        let tree = commit.tree_id().map_err(|e| err(e.to_string()))?;
        let time = commit.time().map_err(|e| err(e.to_string()))?;
        Ok(Commit {
            id: commit.id.to_string(),
            tree: to_graph_id(&tree),
            time: (time.seconds, time.offset),
        })
    }
}

/// gix object id -> engine object id.
pub fn to_graph_id(id: &gix::oid) -> ObjectId {
    let mut out = [0u8; 20];
    out.copy_from_slice(id.as_bytes());
    ObjectId(out)
}

/// engine object id -> gix object id.
pub fn to_gix_id(id: ObjectId) -> gix::ObjectId {
    gix::ObjectId::from_bytes_or_panic(&id.0)
}
