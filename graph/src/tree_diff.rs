//! Which paths two root trees answer differently: the lookups by path ([`crate::paths`]) whose
//! entry changed from one tree to the other, and whether a given path is among them; and the
//! entries two folders hold differently ([`differing`], which `why` lists files with too).

use std::collections::HashMap;

use crate::error::Result;
use crate::objects::{EntryKind, ObjectId, ObjectSource, Tree, TreeEntry};

/// The entries two folders hold differently, in name order: each name either holds, with its
/// entry in each as [`Tree::get`] finds it (the way a lookup by path does), where the two differ.
pub fn differing<'a>(
    a: &'a Tree,
    b: &'a Tree,
) -> impl Iterator<Item = (&'a str, Option<&'a TreeEntry>, Option<&'a TreeEntry>)> + 'a {
    let mut names: Vec<&str> = a
        .entries
        .iter()
        .chain(&b.entries)
        .map(|e| e.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| (name, a.get(name), b.get(name)))
        .filter(|(_, x, y)| x != y)
}

/// The paths whose entry differs between two trees (added, removed, another id or kind), each
/// with whether it is a folder in both (only then do the paths below it differ one by one).
#[derive(Debug, Default)]
pub struct Changes {
    paths: HashMap<String, bool>,
}

impl Changes {
    /// The changes from `old` to `new`, or `None` when more than `limit` paths differ (the caller
    /// then treats every path as changed: the diff is bounded by what changed, not by the tree).
    pub fn between(
        objects: &dyn ObjectSource,
        old: ObjectId,
        new: ObjectId,
        limit: usize,
    ) -> Result<Option<Changes>> {
        let mut changes = Changes::default();
        if old == new {
            return Ok(Some(changes));
        }
        changes.paths.insert(String::new(), true);
        // Folders to compare, by path: an explicit stack, so a deep tree cannot overflow ours.
        let mut stack = vec![(String::new(), old, new)];
        while let Some((prefix, old, new)) = stack.pop() {
            let (a, b) = (objects.tree(old)?, objects.tree(new)?);
            for (name, x, y) in differing(&a, &b) {
                let path = if prefix.is_empty() {
                    name.to_string()
                } else {
                    format!("{prefix}/{name}")
                };
                let folders = match (x, y) {
                    (Some(x), Some(y)) if is_folder(x) && is_folder(y) => {
                        stack.push((path.clone(), x.id, y.id));
                        true
                    }
                    _ => false,
                };
                changes.paths.insert(path, folders);
                if changes.paths.len() > limit {
                    return Ok(None);
                }
            }
        }
        Ok(Some(changes))
    }

    /// Whether the entry at `path` (as [`crate::paths::normal`] writes it) may differ. It does not
    /// when a folder on the way to it is the same in both trees (so is everything below it); it
    /// does when it is among the changes, or lies below an entry that changed and is not a folder
    /// in both trees.
    pub fn touches(&self, path: &str) -> bool {
        // The root, each folder on the way, then the path itself.
        let ends = std::iter::once(0)
            .chain(path.match_indices('/').map(|(i, _)| i))
            .chain(std::iter::once(path.len()));
        for end in ends {
            match self.paths.get(&path[..end]) {
                None => return false,
                Some(_) if end == path.len() => return true,
                Some(false) => return true,
                Some(true) => {}
            }
        }
        true
    }

    /// How many paths differ (the root counts as one when the trees differ).
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether the trees are the same.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

fn is_folder(e: &TreeEntry) -> bool {
    e.kind == EntryKind::Tree
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::MemoryObjects;

    fn tree(objects: &MemoryObjects, files: &[(&str, &str)]) -> ObjectId {
        objects.add_files(files.iter().map(|(p, c)| (*p, c.as_bytes())))
    }

    const BASE: &[(&str, &str)] = &[
        ("werf.yaml", "w"),
        ("services/a/Dockerfile", "FROM a"),
        ("services/a/src/main.go", "a"),
        ("services/b/Dockerfile", "FROM b"),
        ("services/b/src/main.go", "b"),
        ("lib/x", "x"),
    ];

    fn with(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut files: Vec<_> = BASE
            .iter()
            .filter(|(p, _)| !changes.iter().any(|(q, _)| q == p))
            .copied()
            .collect();
        files.extend(changes.iter().filter(|(_, c)| !c.is_empty()).copied());
        files
    }

    fn changes(old: &[(&str, &str)], new: &[(&str, &str)]) -> Changes {
        let objects = MemoryObjects::new();
        let (a, b) = (tree(&objects, old), tree(&objects, new));
        Changes::between(&objects, a, b, 1000).unwrap().unwrap()
    }

    #[test]
    fn one_file_changed_touches_its_path_and_its_folders_and_nothing_beside_them() {
        let c = changes(BASE, &with(&[("services/a/src/main.go", "a2")]));
        for p in [
            "",
            "services",
            "services/a",
            "services/a/src",
            "services/a/src/main.go",
        ] {
            assert!(c.touches(p), "{p}");
        }
        for p in [
            "services/b",
            "services/b/Dockerfile",
            "services/a/Dockerfile",
            "werf.yaml",
            "lib",
            "lib/x",
            "nothing/here",
            "services/a/src/other.go",
        ] {
            assert!(!c.touches(p), "{p}");
        }
        assert_eq!(c.len(), 5);
    }

    #[test]
    fn equal_trees_touch_nothing_not_even_the_root() {
        let c = changes(BASE, BASE);
        assert!(c.is_empty());
        assert!(!c.touches(""));
        assert!(!c.touches("services/a"));
    }

    #[test]
    fn an_added_folder_touches_every_path_below_it_and_a_removed_file_its_own() {
        let c = changes(BASE, &with(&[("new/deep/file", "n"), ("lib/x", "")]));
        // Below a folder that appeared: not compared one by one, so every path counts.
        assert!(c.touches("new"));
        assert!(c.touches("new/deep/file"));
        assert!(c.touches("new/other"));
        assert!(c.touches("lib/x"));
        assert!(!c.touches("services/a/Dockerfile"));
    }

    #[test]
    fn a_file_that_became_a_folder_touches_the_paths_below_it() {
        let c = changes(
            &with(&[("lib/x", "x")]),
            &with(&[("lib/x", ""), ("lib/x/y", "y")]),
        );
        assert!(c.touches("lib/x"));
        assert!(c.touches("lib/x/y"));
        assert!(c.touches("lib/x/z"));
        assert!(!c.touches("lib/other"));
    }

    #[test]
    fn more_changes_than_the_limit_give_no_answer() {
        let objects = MemoryObjects::new();
        let (a, b) = (
            tree(&objects, BASE),
            tree(&objects, &with(&[("services/a/src/main.go", "a2")])),
        );
        assert!(Changes::between(&objects, a, b, 4).unwrap().is_none());
        assert!(Changes::between(&objects, a, b, 5).unwrap().is_some());
    }

    #[test]
    fn touches_matches_the_lookup_of_the_path_in_both_trees() {
        // Every path of either tree, and some of neither: `touches` is false exactly when the
        // lookup finds the same entry in both (it may be true for a path found the same only
        // below a changed file, which no lookup reaches).
        let objects = MemoryObjects::new();
        let old = tree(&objects, BASE);
        let new_files = with(&[
            ("services/b/src/main.go", "b2"),
            ("services/c/Dockerfile", "FROM c"),
            ("werf.yaml", "w2"),
        ]);
        let new = tree(&objects, &new_files);
        let c = Changes::between(&objects, old, new, 1000).unwrap().unwrap();
        // The engine's lookup by path (`paths::entry_at` resolves a path alike).
        let lookup =
            |root: ObjectId, path: &str| crate::context::lookup(&objects, root, path).unwrap();
        let mut paths: Vec<String> = vec![
            "services".into(),
            "services/a".into(),
            "services/b".into(),
            "services/b/src".into(),
            "services/c".into(),
            "lib".into(),
            "missing/file".into(),
        ];
        paths.extend(BASE.iter().chain(&new_files).map(|(p, _)| p.to_string()));
        paths.sort();
        paths.dedup();
        let mut differ = 0;
        for p in &paths {
            let same = lookup(old, p) == lookup(new, p);
            assert_eq!(c.touches(p), !same, "{p}");
            differ += usize::from(!same);
        }
        assert_eq!(differ, 7, "both kinds of path are checked");
    }
}
