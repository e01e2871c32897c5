//! The repository's tree by path, as queries: the entry at a path depends on its parent folder's
//! entry only, so a save re-runs the lookups from the root down to what it changed and stops
//! there (an edit at the root leaves every image whose context is `services/x` untouched).

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

/// [`entry_at`] for a path given as a string.
pub fn entry(db: &dyn Db, project: Project, path: &str) -> Result<Option<TreeEntry>> {
    entry_at(db, project, RepoPath::new(db, path.to_string())).clone()
}
