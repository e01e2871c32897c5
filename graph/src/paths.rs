//! The repository's tree by path, as queries: the entry at a path depends on its parent folder's
//! entry only, so a save re-runs the lookups from the root down to what it changed and stops
//! there (an edit at the root leaves every image whose context is `services/x` untouched).
//!
//! Each query that looks a path up through [`entry`] also records the path as a [`Read`], so a
//! caller can ask which paths an answer read, all its dependencies included (salsa's
//! accumulators), and skip asking again on a tree whose diff touches none of them (the cleanup's
//! history walk, [`crate::plan::carry`]).

use crate::db::{Db, Project};
use crate::error::Result;
use crate::objects::{EntryKind, TreeEntry};

/// A repository-relative path (`/`-separated, `""` is the root).
#[salsa::interned(debug)]
pub struct RepoPath<'db> {
    #[returns(ref)]
    pub path: String,
}

/// The entry at `path` in the project's root tree, or `None` when nothing is there.
#[salsa::tracked(returns(ref))]
pub fn entry_at<'db>(
    db: &'db dyn Db,
    project: Project,
    path: RepoPath<'db>,
) -> Result<Option<TreeEntry>> {
    let p = path.path(db).trim_matches('/');
    if p.is_empty() {
        return Ok(Some(TreeEntry {
            name: String::new(),
            kind: EntryKind::Tree,
            id: project.root_tree(db),
        }));
    }
    let (parent, name) = p.rsplit_once('/').unwrap_or(("", p));
    let parent = entry_at(db, project, RepoPath::new(db, parent.to_string())).clone()?;
    match parent {
        Some(e) if e.kind == EntryKind::Tree => Ok(db.objects().tree(e.id)?.get(name).cloned()),
        _ => Ok(None),
    }
}

/// A path of the project's root tree that a query looked up, folders joined by `/` (`""` is the
/// root itself: a query that reads the root tree other than by path records `""`, which every
/// new tree touches).
///
/// The one exception is werf.yaml's templating ([`crate::plan::config`]), which may read any file
/// of the tree: its answer, the parsed config, is all it passes on, so a caller that skips on
/// [`Read`]s must also compare the config.
#[salsa::accumulator]
#[derive(Debug)]
pub struct Read(pub String);

/// [`entry_at`] for a path given as a string, recorded as a [`Read`] of the calling query. Only
/// tracked queries call it (salsa keeps a read with the query that made it).
pub(crate) fn entry(db: &dyn Db, project: Project, path: &str) -> Result<Option<TreeEntry>> {
    use salsa::Accumulator as _;
    Read(normal(path)).accumulate(db);
    entry_at(db, project, RepoPath::new(db, path.to_string())).clone()
}

/// `path` as [`entry_at`] resolves it: an empty folder name (`a//b`, a leading or trailing `/`)
/// is skipped.
pub fn normal(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(part);
    }
    out
}
