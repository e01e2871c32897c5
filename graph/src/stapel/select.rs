//! Which files a git mapping selects, as content-addressed synthetic trees.
//!
//! werf's path rules: `includePaths`/`excludePaths` and `stageDependencies` are globs relative to
//! the mapping's `add` (`*`, `?`, `[...]` within a segment, `**` across segments); a glob that
//! names a folder covers everything below it. Without filters the mapping is the Git tree of
//! `add` itself (no object below it is read); with filters the selection is listed (trees only)
//! and stored as a synthetic tree whose id is derived from its entries, so equal selections give
//! equal ids in any clone and on any branch.

use crate::context::DigestStore;
use crate::digest::Builder;
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

/// Whether `glob` could match a path below the folder `dir` (segment by segment; a `**` can
/// match anything).
fn could_match_below(glob: &Glob, dir: &str) -> bool {
    let pattern: Vec<&str> = glob.as_str().split('/').collect();
    let dirs: Vec<&str> = dir.split('/').collect();
    for (i, d) in dirs.iter().enumerate() {
        match pattern.get(i) {
            None => return false,
            Some(p) if p.contains("**") => return true,
            Some(p) => {
                if !Glob::new(p).matches(d) {
                    return false;
                }
            }
        }
    }
    pattern.len() > dirs.len()
}

/// The compiled filters of one selection.
struct Filters {
    include: Vec<Glob>,
    exclude: Vec<Glob>,
    only: Option<Vec<Glob>>,
}

/// The entries of `tree` (at `dir`) the filters keep, as a synthetic tree; `None` when nothing
/// is kept. Folders are decided once: an excluded folder is not read, a folder an include (or
/// `only`) glob names covers everything below it, and a folder wholly kept with no exclude rule
/// is its own Git tree (nothing below it is read). `inc`/`only`: an ancestor already matched.
#[allow(clippy::too_many_arguments)]
fn filter(
    objects: &dyn ObjectSource,
    synthetic: &MemoryObjects,
    made: &mut Vec<(ObjectId, Vec<TreeEntry>)>,
    tree: ObjectId,
    dir: &str,
    f: &Filters,
    inc: bool,
    only: bool,
) -> Result<Option<ObjectId>> {
    let mut entries = Vec::new();
    let mut unchanged = true;
    let source = objects.tree(tree)?;
    for e in &source.entries {
        let path = if dir.is_empty() {
            e.name.clone()
        } else {
            format!("{dir}/{}", e.name)
        };
        if f.exclude.iter().any(|g| g.matches(&path)) {
            unchanged = false;
            continue;
        }
        let inc = inc || f.include.is_empty() || f.include.iter().any(|g| g.matches(&path));
        let only = only
            || f.only
                .as_ref()
                .is_none_or(|o| o.iter().any(|g| g.matches(&path)));
        if e.kind == EntryKind::Tree {
            if inc && only && f.exclude.is_empty() {
                entries.push(e.clone());
                continue;
            }
            // A folder no include (or `only`) glob can reach below is not read.
            let reachable = |globs: &[Glob]| globs.iter().any(|g| could_match_below(g, &path));
            if (!inc && !reachable(&f.include))
                || (!only && !f.only.as_deref().is_some_and(reachable))
            {
                unchanged = false;
                continue;
            }
            match filter(objects, synthetic, made, e.id, &path, f, inc, only)? {
                Some(id) => {
                    unchanged &= id == e.id;
                    entries.push(TreeEntry {
                        name: e.name.clone(),
                        kind: EntryKind::Tree,
                        id,
                    });
                }
                None => unchanged = false,
            }
        } else if inc && only {
            entries.push(e.clone());
        } else {
            unchanged = false;
        }
    }
    if entries.is_empty() {
        return Ok(None);
    }
    if unchanged {
        return Ok(Some(tree));
    }
    let id = synthetic.add_tree(entries.clone());
    made.push((id, entries));
    Ok(Some(id))
}

/// A tree entry as the memo keeps it: name, Git mode, id (hex).
type MemoEntry = (String, String, String);

/// A selection as the cross-run memo keeps it: the result and the synthetic trees it made.
#[derive(serde::Serialize, serde::Deserialize)]
struct Memo {
    /// `None` for nothing, else (`tree`, unused, id).
    result: Option<MemoEntry>,
    trees: Vec<(String, Vec<MemoEntry>)>,
}

fn kind_name(k: EntryKind) -> &'static str {
    k.mode()
}

/// The files below `add` in `root` that `include`/`exclude` (and, when given, `only`) select.
/// Filtered selections are memoized across runs in `store`, keyed by the Git tree id and the
/// filters (the synthetic trees are stored with them, so a warm run reads no Git tree).
#[allow(clippy::too_many_arguments)]
pub fn select(
    objects: &dyn ObjectSource,
    synthetic: &MemoryObjects,
    store: &dyn DigestStore,
    at: Option<TreeEntry>,
    include: &[String],
    exclude: &[String],
    only: Option<&[String]>,
) -> Result<Selection> {
    let Some(entry) = at else {
        return Ok(Selection::Empty);
    };
    let f = Filters {
        include: globs(include),
        exclude: globs(exclude),
        only: only.map(globs),
    };
    if entry.kind != EntryKind::Tree {
        let name = entry.name.clone();
        let kept = (f.include.is_empty() || covered(&f.include, &name))
            && !covered(&f.exclude, &name)
            && f.only.as_ref().is_none_or(|o| covered(o, &name));
        return Ok(if kept {
            Selection::File(entry)
        } else {
            Selection::Empty
        });
    }
    if f.include.is_empty() && f.exclude.is_empty() && f.only.is_none() {
        return Ok(Selection::Tree(entry.id));
    }
    // Literal paths are a few lookups: cheaper than a memo read.
    let literal = |list: &[String]| list.iter().all(|p| !crate::pattern::has_wildcard(p));
    if f.exclude.is_empty()
        && literal(include)
        && only.is_none_or(literal)
        && (include.len() + only.map_or(0, |o| o.len())) <= 8
    {
        let mut made = Vec::new();
        return Ok(
            match filter(
                objects, synthetic, &mut made, entry.id, "", &f, false, false,
            )? {
                Some(id) => Selection::Tree(id),
                None => Selection::Empty,
            },
        );
    }
    let mut key = Builder::new("stapel-selection/v1");
    key.field("tree", entry.id.hex().as_bytes());
    for (label, list) in [("include", include), ("exclude", exclude)] {
        for p in list {
            key.field(label, p.as_bytes());
        }
    }
    for p in only.unwrap_or_default() {
        key.field("only", p.as_bytes());
    }
    key.field("only-set", if only.is_some() { b"1" } else { b"0" });
    let key = key.finish();
    if let Some(memo) = store
        .get(&key)
        .and_then(|b| serde_json::from_slice::<Memo>(&b).ok())
    {
        if let Some(sel) = restore(synthetic, &memo) {
            return Ok(sel);
        }
    }
    let mut made = Vec::new();
    let sel = match filter(
        objects, synthetic, &mut made, entry.id, "", &f, false, false,
    )? {
        Some(id) => Selection::Tree(id),
        None => Selection::Empty,
    };
    let memo = Memo {
        result: match &sel {
            Selection::Tree(id) => Some(("tree".into(), String::new(), id.hex())),
            _ => None,
        },
        trees: made
            .into_iter()
            .map(|(id, entries)| {
                (
                    id.hex(),
                    entries
                        .into_iter()
                        .map(|e| (e.name, kind_name(e.kind).to_string(), e.id.hex()))
                        .collect(),
                )
            })
            .collect(),
    };
    if let Ok(bytes) = serde_json::to_vec(&memo) {
        store.put(&key, &bytes);
    }
    Ok(sel)
}

/// Puts a memo's synthetic trees back; `None` when it does not read (then it is recomputed).
fn restore(synthetic: &MemoryObjects, memo: &Memo) -> Option<Selection> {
    for (id, entries) in &memo.trees {
        let entries: Option<Vec<TreeEntry>> = entries
            .iter()
            .map(|(name, mode, id)| {
                Some(TreeEntry {
                    name: name.clone(),
                    kind: EntryKind::from_mode(mode)?,
                    id: ObjectId::from_hex(id)?,
                })
            })
            .collect();
        // Ids are derived from entries: a record that does not hash to its id is not used.
        if synthetic.add_tree(entries?).hex() != *id {
            return None;
        }
    }
    match &memo.result {
        None => Some(Selection::Empty),
        Some((_, _, id)) => ObjectId::from_hex(id).map(Selection::Tree),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::lookup;

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
                &crate::context::NoStore,
                lookup(&store, root, "app").unwrap(),
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

    /// A memo in memory.
    #[derive(Default)]
    struct Memory(std::sync::Mutex<std::collections::HashMap<crate::Digest, Vec<u8>>>);

    impl DigestStore for Memory {
        fn get(&self, key: &crate::Digest) -> Option<Vec<u8>> {
            self.0.lock().unwrap().get(key).cloned()
        }
        fn put(&self, key: &crate::Digest, value: &[u8]) {
            self.0.lock().unwrap().insert(*key, value.to_vec());
        }
    }

    #[test]
    fn folders_no_glob_can_reach_are_not_read() {
        let g = |p: &str| Glob::new(p);
        assert!(!could_match_below(&g("package.json"), "src"));
        assert!(could_match_below(&g("src/*.js"), "src"));
        assert!(!could_match_below(&g("src/*.js"), "src/lib"));
        assert!(could_match_below(&g("src/**/*.js"), "src/lib/deep"));
        assert!(could_match_below(&g("**/*.css"), "anything"));
        assert!(could_match_below(&g("s*/x"), "src"));
        assert!(!could_match_below(&g("t*/x"), "src"));
    }

    #[test]
    fn a_memoized_selection_comes_back_without_reading_git_trees() {
        let store = MemoryObjects::new();
        let root = store.add_files([
            ("app/a.py", &b"a"[..]),
            ("app/lib/b.py", b"b"),
            ("app/lib/c.txt", b"c"),
        ]);
        let memo = Memory::default();
        let inc = vec!["**/*.py".to_string()];
        let first = MemoryObjects::new();
        let at = lookup(&store, root, "app").unwrap();
        let a = select(&store, &first, &memo, at.clone(), &inc, &[], None).unwrap();
        // A new process: its synthetic layer is empty, and the Git side knows only the root
        // and `app` (a lookup), not `app/lib`.
        let app = store.tree(root).unwrap().get("app").unwrap().clone();
        let shallow = MemoryObjects::new();
        let shallow_root = shallow.add_tree(vec![app.clone()]);
        assert_eq!(shallow_root, root);
        let app_tree = store.tree(app.id).unwrap();
        assert_eq!(shallow.add_tree(app_tree.entries.clone()), app.id);
        let second = MemoryObjects::new();
        let b = select(&shallow, &second, &memo, at, &inc, &[], None).unwrap();
        assert_eq!(a, b);
        let Selection::Tree(id) = b else {
            panic!("a tree")
        };
        let lib = second.tree(id).unwrap().get("lib").unwrap().id;
        assert_eq!(
            second
                .tree(lib)
                .unwrap()
                .entries
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            ["b.py"]
        );
    }
}
