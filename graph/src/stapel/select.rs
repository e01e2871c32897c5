//! Which files a git mapping selects, as content-addressed synthetic trees.
//!
//! werf's path rules: `includePaths`/`excludePaths` and `stageDependencies` are globs relative to
//! the mapping's `add` (`*`, `?`, `[...]` within a segment, `**` across segments); a glob that
//! names a folder covers everything below it. Without filters the mapping is the Git tree of
//! `add` itself (no object below it is read); with filters the selection is listed (trees only)
//! and stored as a synthetic tree whose id is derived from its entries, so equal selections give
//! equal ids in any clone and on any branch.

use crate::context::lookup;
use crate::error::Result;
use crate::objects::{EntryKind, MemoryObjects, ObjectId, ObjectSource, TreeEntry};
use crate::pattern::Glob;

/// Whether `path` or a folder above it matches one of `globs`.
pub fn covered(globs: &[Glob], path: &str) -> bool {
    globs.iter().any(|g| {
        if g.matches(path) {
            return true;
        }
        let mut end = path.len();
        while let Some(i) = path[..end].rfind('/') {
            if g.matches(&path[..i]) {
                return true;
            }
            end = i;
        }
        false
    })
}

/// Compiles werf's path globs (a leading `/` and a trailing `/` are dropped).
pub fn globs(patterns: &[String]) -> Vec<Glob> {
    patterns
        .iter()
        .map(|p| {
            let p = p.trim_start_matches('/').trim_end_matches('/');
            Glob::new(if p.is_empty() { "**" } else { p })
        })
        .collect()
}

/// What a mapping selects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Selection {
    /// Nothing: `add` is not in the commit, or the filters leave nothing.
    Empty,
    /// One file (`add` names a file).
    File(TreeEntry),
    /// A folder (a real or synthetic tree).
    Tree(ObjectId),
}

/// The entries of `tree` that `keep` keeps (paths relative to `tree`), as a synthetic tree;
/// `None` when nothing is kept.
fn filter(
    objects: &dyn ObjectSource,
    synthetic: &MemoryObjects,
    tree: ObjectId,
    dir: &str,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Option<ObjectId>> {
    let mut entries = Vec::new();
    for e in &objects.tree(tree)?.entries {
        let path = if dir.is_empty() {
            e.name.clone()
        } else {
            format!("{dir}/{}", e.name)
        };
        if e.kind == EntryKind::Tree {
            if let Some(id) = filter(objects, synthetic, e.id, &path, keep)? {
                entries.push(TreeEntry {
                    name: e.name.clone(),
                    kind: EntryKind::Tree,
                    id,
                });
            }
        } else if keep(&path) {
            entries.push(e.clone());
        }
    }
    if entries.is_empty() {
        return Ok(None);
    }
    Ok(Some(synthetic.add_tree(entries)))
}

/// The files below `add` in `root` that `include`/`exclude` (and, when given, `only`) select.
pub fn select(
    objects: &dyn ObjectSource,
    synthetic: &MemoryObjects,
    root: ObjectId,
    add: &str,
    include: &[String],
    exclude: &[String],
    only: Option<&[String]>,
) -> Result<Selection> {
    let Some(entry) = lookup(objects, root, add)? else {
        return Ok(Selection::Empty);
    };
    let include = globs(include);
    let exclude = globs(exclude);
    let only = only.map(globs);
    if entry.kind != EntryKind::Tree {
        let name = entry.name.clone();
        let kept = (include.is_empty() || covered(&include, &name))
            && !covered(&exclude, &name)
            && only.as_ref().is_none_or(|o| covered(o, &name));
        return Ok(if kept {
            Selection::File(entry)
        } else {
            Selection::Empty
        });
    }
    if include.is_empty() && exclude.is_empty() && only.is_none() {
        return Ok(Selection::Tree(entry.id));
    }
    let keep = |path: &str| {
        (include.is_empty() || covered(&include, path))
            && !covered(&exclude, path)
            && only.as_ref().is_none_or(|o| covered(o, path))
    };
    Ok(match filter(objects, synthetic, entry.id, "", &keep)? {
        Some(id) => Selection::Tree(id),
        None => Selection::Empty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(objects: &dyn ObjectSource, s: &Selection) -> Vec<String> {
        match s {
            Selection::Empty => vec![],
            Selection::File(e) => vec![e.name.clone()],
            Selection::Tree(id) => crate::context::entries_below(objects, *id, "")
                .unwrap()
                .into_iter()
                .map(|(p, _)| p)
                .collect(),
        }
    }

    #[test]
    fn include_exclude_and_stage_dependencies_select_as_werf_does() {
        let store = MemoryObjects::new();
        let root = store.add_files([
            ("app/package.json", &b"{}"[..]),
            ("app/src/a.js", b"a"),
            ("app/src/lib/b.js", b"b"),
            ("app/test/t.js", b"t"),
            ("app/README.md", b"r"),
            ("other/x", b"x"),
        ]);
        let synth = MemoryObjects::new();
        let s = |inc: &[&str], exc: &[&str], only: Option<&[&str]>| {
            let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            let only = only.map(v);
            select(
                &store,
                &synth,
                root,
                "app",
                &v(inc),
                &v(exc),
                only.as_deref(),
            )
            .unwrap()
        };
        // No filter: the Git tree itself, nothing listed.
        let all = s(&[], &[], None);
        assert_eq!(
            all,
            Selection::Tree(store.tree(root).unwrap().get("app").unwrap().id)
        );
        let read = |sel: &Selection| {
            // Synthetic trees live in `synth`, real ones in `store`.
            match sel {
                Selection::Tree(id) if synth.tree(*id).is_ok() => paths(&Both(&synth, &store), sel),
                _ => paths(&store, sel),
            }
        };
        assert_eq!(read(&s(&["src"], &[], None)), ["src/a.js", "src/lib/b.js"]);
        assert_eq!(
            read(&s(&["**/*.js"], &["test"], None)),
            ["src/a.js", "src/lib/b.js"]
        );
        assert_eq!(
            read(&s(&[], &["src/lib", "*.md"], None)),
            ["package.json", "src/a.js", "test/t.js"]
        );
        assert_eq!(
            read(&s(&[], &[], Some(&["package.json"]))),
            ["package.json"]
        );
        assert_eq!(s(&[], &[], Some(&["nothing-here"])), Selection::Empty);
        // Equal selections are equal ids.
        assert_eq!(s(&["src"], &[], None), s(&["src/"], &["test"], None));
    }

    /// Synthetic first, then real.
    struct Both<'a>(&'a MemoryObjects, &'a MemoryObjects);

    impl ObjectSource for Both<'_> {
        fn tree(&self, id: ObjectId) -> Result<std::sync::Arc<crate::objects::Tree>> {
            self.0.tree(id).or_else(|_| self.1.tree(id))
        }
        fn blob(&self, id: ObjectId) -> Result<std::sync::Arc<[u8]>> {
            self.0.blob(id).or_else(|_| self.1.blob(id))
        }
    }
}
