//! Which folders of the work tree Git ignores (`.gitignore` files, `info/exclude`, the global
//! excludes file), as Git decides it, for what `werf dev` watches.

use super::{Error, Repo, Result};

/// Runs `f` with a predicate telling whether a folder (repository-relative) is ignored; the
/// `.gitignore` files are read as `f` descends, as they are now.
pub fn with_ignored_folders<T>(
    repo: &Repo,
    f: impl FnOnce(&mut dyn FnMut(&str) -> bool) -> T,
) -> Result<T> {
    let thread_repo = repo.sync.to_thread_local();
    let index = thread_repo
        .index_or_empty()
        .map_err(|e| Error::Index(e.to_string()))?;
    let mut stack = thread_repo
        .excludes(
            &index,
            None,
            gix::worktree::stack::state::ignore::Source::WorktreeThenIdMappingIfNotSkipped,
        )
        .map_err(|e| Error::Index(e.to_string()))?;
    let mut ignored = |rel: &str| {
        stack
            .at_path(rel, Some(gix::index::entry::Mode::DIR))
            .is_ok_and(|p| p.is_excluded())
    };
    Ok(f(&mut ignored))
}
