//! The work tree as `werf dev` keeps it between saves: the paths that differ from HEAD's commit,
//! updated only where a save touched it, and snapshotted as Git trees (the ids a commit of the
//! same content gets, so tags do not depend on whether the edit is committed yet).

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use werf_graph::ObjectId;

use crate::git::worktree::{self, under, Change};
use crate::project::Loaded;

/// The differences from the commit, by path.
pub struct DevTree {
    /// HEAD's commit id and root tree when the differences were taken.
    commit: (String, ObjectId),
    changes: BTreeMap<String, Change>,
}

/// What [`DevTree::update`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Update {
    /// Nothing the snapshot holds changed (a file saved as it was, an ignored file).
    Same,
    /// The snapshot changed: the engine points at a new root.
    Changed { paths: Vec<String> },
    /// HEAD moved (a commit, a checkout): everything was taken again.
    NewCommit { id: String },
}

impl DevTree {
    /// The differences of the whole work tree from the loaded commit.
    pub fn new(loaded: &Loaded) -> Result<Self> {
        let changes = worktree::changes(
            &loaded.repo,
            &*loaded.git,
            loaded.commit.tree,
            &[String::new()],
            true,
        )?;
        Ok(DevTree {
            commit: (loaded.commit.id.clone(), loaded.commit.tree),
            changes: changes.into_iter().map(|c| (c.path.clone(), c)).collect(),
        })
    }

    /// Paths that differ from the commit.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Looks again at `paths` (files or folders, repository-relative; `""` is everything), and
    /// points the engine at the new snapshot when it differs.
    pub fn update(&mut self, loaded: &mut Loaded, paths: &[String]) -> Result<Update> {
        let head = loaded.repo.commit(None)?;
        if head.id != self.commit.0 {
            loaded.commit = head;
            *self = DevTree::new(loaded)?;
            self.apply(loaded)?;
            return Ok(Update::NewCommit {
                id: self.commit.0.clone(),
            });
        }
        let found = worktree::changes(&loaded.repo, &*loaded.git, self.commit.1, paths, true)?;
        let mut next = self.changes.clone();
        next.retain(|path, _| !paths.iter().any(|p| under(path, p)));
        next.extend(found.into_iter().map(|c| (c.path.clone(), c)));
        let mut touched: Vec<String> = next
            .iter()
            .filter(|(p, c)| self.changes.get(*p) != Some(*c))
            .map(|(p, _)| p.clone())
            .chain(
                self.changes
                    .keys()
                    .filter(|p| !next.contains_key(*p))
                    .cloned(),
            )
            .collect();
        if touched.is_empty() {
            return Ok(Update::Same);
        }
        touched.sort();
        self.changes = next;
        self.apply(loaded)?;
        Ok(Update::Changed { paths: touched })
    }

    /// Snapshots the differences and points the engine at the result.
    fn apply(&self, loaded: &mut Loaded) -> Result<()> {
        let changes: Vec<Change> = self.changes.values().cloned().collect();
        let snap = worktree::snapshot(&*loaded.git, self.commit.1, &changes)
            .context("cannot snapshot the work tree")?;
        loaded.git.add_overlay(snap.trees, snap.blobs);
        loaded.set_root(snap.root);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::git::worktree::under;

    #[test]
    fn a_prefix_holds_itself_and_what_is_below_it_only() {
        assert!(under("a/b.txt", ""));
        assert!(under("a/b.txt", "a"));
        assert!(under("a/b.txt", "a/b.txt"));
        assert!(!under("a/b.txt2", "a/b.txt"));
        assert!(!under("ab/c", "a"));
    }
}
