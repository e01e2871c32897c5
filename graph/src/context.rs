//! Build contexts in Git trees: path lookup, COPY/ADD source matching, and content digests.
//!
//! A COPY source's content is named as cheaply as the contract allows: when nothing filters it
//! (no `.dockerignore` rule applies, no `contextAddFiles` overlay), the Git tree id of the source
//! folder stands for its content and no object below it is read. Otherwise the folder is listed
//! (trees only, never blobs) and the sorted `(path, mode, blob id)` entries are hashed; that
//! listing digest is what [`DigestStore`] keeps across runs, keyed by tree id and filter.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::digest::{Builder, Digest};
use crate::error::{Error, Result};
use crate::objects::{EntryKind, ObjectId, ObjectSource, TreeEntry};
use crate::pattern::{has_wildcard, join, DockerIgnore, Glob};

/// A persistent memo of expensive, content-addressed results (`src/` backs it with `cache/`).
/// Keys are digests of everything the value depends on, so a hit is always valid.
pub trait DigestStore: Send + Sync {
    /// The stored value for `key`, if any.
    fn get(&self, key: &Digest) -> Option<Vec<u8>>;
    /// Stores `value` under `key`; failures are ignored (it is only a memo).
    fn put(&self, key: &Digest, value: &[u8]);
}

/// A store that remembers nothing.
pub struct NoStore;

impl DigestStore for NoStore {
    fn get(&self, _: &Digest) -> Option<Vec<u8>> {
        None
    }
    fn put(&self, _: &Digest, _: &[u8]) {}
}

/// A file from the work tree added to a context (`contextAddFiles`), hashed by the caller like
/// Git would hash it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct WorkFile {
    pub kind: EntryKind,
    pub id: ObjectId,
}

/// Looks up `path` (`/`-separated, `""` for the root) below the tree `root`.
pub fn lookup(objects: &dyn ObjectSource, root: ObjectId, path: &str) -> Result<Option<TreeEntry>> {
    let mut current = TreeEntry {
        name: String::new(),
        kind: EntryKind::Tree,
        id: root,
    };
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if current.kind != EntryKind::Tree {
            return Ok(None);
        }
        let tree = objects.tree(current.id)?;
        match tree.get(seg) {
            Some(e) => current = e.clone(),
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

/// Every non-folder entry (files, symlinks, submodule commits) below the tree `tree`, with its
/// path joined onto `prefix`, in path order.
pub fn entries_below(
    objects: &dyn ObjectSource,
    tree: ObjectId,
    prefix: &str,
) -> Result<Vec<(String, TreeEntry)>> {
    let mut out = Vec::new();
    let mut stack = vec![(prefix.to_string(), tree)];
    while let Some((dir, id)) = stack.pop() {
        for e in &objects.tree(id)?.entries {
            let path = join(&dir, &e.name);
            if e.kind == EntryKind::Tree {
                stack.push((path, e.id));
            } else {
                out.push((path, e.clone()));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// How one matched path of a COPY source is identified.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Matched {
    /// A whole folder, named by its Git tree id (nothing filtered).
    Tree { path: String, id: ObjectId },
    /// A folder listed through `.dockerignore`: digest of its included entries.
    Listing {
        path: String,
        digest: Digest,
        files: u64,
    },
    /// One file.
    File {
        path: String,
        mode: &'static str,
        id: ObjectId,
    },
    /// A `contextAddFiles` file from the work tree.
    WorkFile {
        path: String,
        mode: &'static str,
        id: ObjectId,
    },
}

/// [`Matched`] as read back: its modes are owned strings until checked.
#[derive(serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum MatchedRead {
    Tree {
        path: String,
        id: ObjectId,
    },
    Listing {
        path: String,
        digest: Digest,
        files: u64,
    },
    File {
        path: String,
        mode: String,
        id: ObjectId,
    },
    WorkFile {
        path: String,
        mode: String,
        id: ObjectId,
    },
}

impl<'de> serde::Deserialize<'de> for Matched {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        MatchedRead::deserialize(d)?
            .try_into()
            .map_err(serde::de::Error::custom)
    }
}

impl TryFrom<MatchedRead> for Matched {
    type Error = String;

    fn try_from(m: MatchedRead) -> std::result::Result<Self, String> {
        let mode = |m: &str| {
            EntryKind::from_mode(m)
                .map(|k| k.mode())
                .ok_or_else(|| format!("`{m}` is not a Git mode"))
        };
        Ok(match m {
            MatchedRead::Tree { path, id } => Matched::Tree { path, id },
            MatchedRead::Listing {
                path,
                digest,
                files,
            } => Matched::Listing {
                path,
                digest,
                files,
            },
            MatchedRead::File { path, mode: m, id } => Matched::File {
                path,
                mode: mode(&m)?,
                id,
            },
            MatchedRead::WorkFile { path, mode: m, id } => Matched::WorkFile {
                path,
                mode: mode(&m)?,
                id,
            },
        })
    }
}

impl Matched {
    /// The context-relative path.
    pub fn path(&self) -> &str {
        match self {
            Matched::Tree { path, .. }
            | Matched::Listing { path, .. }
            | Matched::File { path, .. }
            | Matched::WorkFile { path, .. } => path,
        }
    }
}

/// What one COPY/ADD source resolved to, and the digest of that content.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceContent {
    pub source: String,
    pub digest: Digest,
    pub matched: Vec<Matched>,
}

/// Everything needed to resolve sources inside one context.
pub struct Context<'a> {
    pub objects: &'a dyn ObjectSource,
    pub store: &'a dyn DigestStore,
    /// The context folder's tree (`None` when the context folder does not exist in Git and every
    /// file comes from `contextAddFiles`).
    pub tree: Option<ObjectId>,
    pub ignore: &'a DockerIgnore,
    /// `contextAddFiles`, by context-relative path.
    pub work_files: &'a BTreeMap<String, WorkFile>,
}

/// A source's path made context-relative: `./a/`, `/a` -> `a`; `.` -> ``.
pub fn clean_source(source: &str) -> String {
    crate::pattern::clean(source)
}

/// One file a COPY/ADD source brings into a build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// The matched path (context-relative) this file was found under.
    pub root: String,
    /// Whether the matched path is a folder (its contents are copied) or the file itself.
    pub root_is_dir: bool,
    /// Context-relative path of the file.
    pub path: String,
    pub kind: EntryKind,
    pub id: ObjectId,
    /// True for `contextAddFiles` (content in the work tree, not in Git).
    pub work_file: bool,
}

impl Context<'_> {
    /// Every file a COPY/ADD source brings in, after `.dockerignore`, in path order.
    pub fn source_files(&self, source: &str) -> Result<Vec<SourceFile>> {
        let clean = clean_source(source);
        let mut roots: Vec<(String, TreeEntry)> = Vec::new();
        if let Some(tree) = self.tree {
            if has_wildcard(&clean) {
                self.glob_paths(tree, "", &Glob::new(&clean), &mut roots)?;
            } else if let Some(entry) = lookup(self.objects, tree, &clean)? {
                roots.push((clean.clone(), entry));
            }
        }
        let mut out = Vec::new();
        for (root, entry) in roots {
            if entry.kind == EntryKind::Tree {
                let id = entry.id;
                self.walk(id, &root, &mut |path, e| {
                    out.push(SourceFile {
                        root: root.clone(),
                        root_is_dir: true,
                        path: path.to_string(),
                        kind: e.kind,
                        id: e.id,
                        work_file: false,
                    })
                })?;
            } else if !self.ignore.is_excluded(&root) {
                out.push(SourceFile {
                    root: root.clone(),
                    root_is_dir: false,
                    path: root.clone(),
                    kind: entry.kind,
                    id: entry.id,
                    work_file: false,
                });
            }
        }
        for (path, wf) in self.work_files {
            if self.ignore.is_excluded(path) || !source_covers(&clean, path) {
                continue;
            }
            out.retain(|f| &f.path != path);
            let is_self = path == &clean || has_wildcard(&clean);
            out.push(SourceFile {
                root: if is_self { path.clone() } else { clean.clone() },
                root_is_dir: !is_self,
                path: path.clone(),
                kind: wf.kind,
                id: wf.id,
                work_file: true,
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Resolves one COPY/ADD source. `Ok(None)` means it matches nothing.
    pub fn source(&self, source: &str) -> Result<Option<SourceContent>> {
        let clean = clean_source(source);
        let found = match self.tree {
            Some(tree) if !has_wildcard(&clean) => Some(lookup(self.objects, tree, &clean)?),
            _ => None,
        };
        self.resolve(source, found)
    }

    /// [`Context::source`] for a source without wildcards, given what the context holds at its
    /// path (`found`, looked up by the caller: by path through the engine's queries, so a change
    /// elsewhere in the context does not resolve it again). A source with wildcards is matched
    /// in the context's tree as [`Context::source`] does.
    pub fn literal_source(
        &self,
        source: &str,
        found: Option<TreeEntry>,
    ) -> Result<Option<SourceContent>> {
        if !Self::is_literal(source) {
            return self.source(source);
        }
        self.resolve(source, Some(found))
    }

    /// Whether `source` names one path (no wildcards): [`Context::literal_source`] resolves it.
    pub fn is_literal(source: &str) -> bool {
        !has_wildcard(&clean_source(source))
    }

    /// A source matched: `literal` is the entry at its path when it has no wildcards (`None`:
    /// its wildcards are matched in the context's tree).
    fn resolve(
        &self,
        source: &str,
        literal: Option<Option<TreeEntry>>,
    ) -> Result<Option<SourceContent>> {
        let clean = clean_source(source);
        let mut matched = Vec::new();
        match literal {
            Some(Some(entry)) => self.match_entry(&clean, &entry, &mut matched)?,
            Some(None) => {}
            None => {
                if let Some(tree) = self.tree {
                    let glob = Glob::new(&clean);
                    let mut paths = Vec::new();
                    self.glob_paths(tree, "", &glob, &mut paths)?;
                    for (path, entry) in paths {
                        self.match_entry(&path, &entry, &mut matched)?;
                    }
                }
            }
        }
        for (path, wf) in self.work_files {
            if self.ignore.is_excluded(path) || !source_covers(&clean, path) {
                continue;
            }
            matched.push(Matched::WorkFile {
                path: path.clone(),
                mode: wf.kind.mode(),
                id: wf.id,
            });
        }
        if matched.is_empty() {
            return Ok(None);
        }
        let mut b = Builder::new("copy-source");
        b.str("source", &clean);
        for m in &matched {
            match m {
                Matched::Tree { path, id } => b.str("tree", path).field("id", &id.0),
                Matched::Listing { path, digest, .. } => {
                    b.str("listing", path).digest("digest", digest)
                }
                Matched::File { path, mode, id } => {
                    b.str("file", path).str("mode", mode).field("id", &id.0)
                }
                Matched::WorkFile { path, mode, id } => b
                    .str("work-file", path)
                    .str("mode", mode)
                    .field("id", &id.0),
            };
        }
        Ok(Some(SourceContent {
            source: source.to_string(),
            digest: b.finish(),
            matched,
        }))
    }

    fn match_entry(&self, path: &str, entry: &TreeEntry, out: &mut Vec<Matched>) -> Result<()> {
        if !path.is_empty() && self.ignore.is_excluded(path) && !self.ignore.has_negations() {
            return Ok(());
        }
        match entry.kind {
            EntryKind::Tree => {
                if !self.ignore_applies_within(path) {
                    out.push(Matched::Tree {
                        path: path.to_string(),
                        id: entry.id,
                    });
                } else {
                    let (digest, files) = self.listing(entry.id, path)?;
                    if files > 0 {
                        out.push(Matched::Listing {
                            path: path.to_string(),
                            digest,
                            files,
                        });
                    }
                }
            }
            kind => {
                if !self.ignore.is_excluded(path) {
                    out.push(Matched::File {
                        path: path.to_string(),
                        mode: kind.mode(),
                        id: entry.id,
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether any `.dockerignore` rule can exclude or re-include something at or below `dir`.
    fn ignore_applies_within(&self, dir: &str) -> bool {
        self.ignore.rules.iter().any(|r| {
            let p = r.glob.as_str();
            dir.is_empty() || r.glob.matches_or_parent(dir) || could_match_below(p, dir)
        })
    }

    /// Digest and count of the files below `tree` (at context path `prefix`) that `.dockerignore`
    /// keeps, memoized in the store by `(tree, prefix, rules)`.
    fn listing(&self, tree: ObjectId, prefix: &str) -> Result<(Digest, u64)> {
        let key = {
            let mut k = Builder::new("listing-key");
            k.field("tree", &tree.0)
                .str("prefix", prefix)
                .str("ignore", &self.ignore.canonical());
            k.finish()
        };
        if let Some(v) = self.store.get(&key) {
            if v.len() == 40 {
                let digest = Digest(v[..32].try_into().expect("32 bytes"));
                let files = u64::from_le_bytes(v[32..].try_into().expect("8 bytes"));
                return Ok((digest, files));
            }
        }
        let mut b = Builder::new("listing");
        let mut files = 0u64;
        self.walk(tree, prefix, &mut |path, entry| {
            b.str("path", path)
                .str("mode", entry.kind.mode())
                .field("id", &entry.id.0);
            files += 1;
        })?;
        let digest = b.finish();
        let mut value = digest.0.to_vec();
        value.extend_from_slice(&files.to_le_bytes());
        self.store.put(&key, &value);
        Ok((digest, files))
    }

    /// Visits every kept non-tree entry below `tree`, in path order.
    fn walk(
        &self,
        tree: ObjectId,
        prefix: &str,
        visit: &mut dyn FnMut(&str, &TreeEntry),
    ) -> Result<()> {
        let t = self.objects.tree_once(tree)?;
        let mut entries: Vec<&TreeEntry> = t.entries.iter().collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        for e in entries {
            let path = join(prefix, &e.name);
            let excluded = self.ignore.is_excluded(&path);
            if e.kind == EntryKind::Tree {
                if excluded && !self.ignore.has_negations() {
                    continue;
                }
                self.walk(e.id, &path, visit)?;
            } else if !excluded {
                visit(&path, e);
            }
        }
        Ok(())
    }

    /// Paths below `tree` (at `prefix`) that the glob matches; a matching folder is not descended.
    fn glob_paths(
        &self,
        tree: ObjectId,
        prefix: &str,
        glob: &Glob,
        out: &mut Vec<(String, TreeEntry)>,
    ) -> Result<()> {
        let t = self.objects.tree(tree)?;
        for e in &t.entries {
            let path = join(prefix, &e.name);
            if glob.matches(&path) {
                out.push((path, e.clone()));
            } else if e.kind == EntryKind::Tree && could_match_below(glob.as_str(), &path) {
                self.glob_paths(e.id, &path, glob, out)?;
            }
        }
        Ok(())
    }
}

/// Whether a glob could match something below `dir` (prunes walks for `src/*.go`).
fn could_match_below(pattern: &str, dir: &str) -> bool {
    if pattern.contains("**") {
        return true;
    }
    let depth = dir.split('/').count();
    let pat_segs: Vec<&str> = pattern.split('/').collect();
    if pat_segs.len() <= depth {
        return false;
    }
    let prefix = pat_segs[..depth].join("/");
    Glob::new(&prefix).matches(dir)
}

/// Whether the source pattern (context-relative, cleaned) covers `path`: the path itself, or a
/// file below a matched folder.
pub fn source_covers(source: &str, path: &str) -> bool {
    if source.is_empty() {
        return true;
    }
    if has_wildcard(source) {
        return Glob::new(source).matches_or_parent(path);
    }
    path == source
        || path
            .strip_prefix(source)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Reads a blob as UTF-8 text, naming `path` on failure.
pub fn read_text(objects: &dyn ObjectSource, id: ObjectId, path: &str) -> Result<Arc<str>> {
    let bytes = objects.blob(id)?;
    std::str::from_utf8(&bytes)
        .map(Arc::from)
        .map_err(|_| Error::Object {
            id: id.hex(),
            message: format!("`{path}` is not UTF-8 text"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::MemoryObjects;

    fn ctx<'a>(
        objects: &'a MemoryObjects,
        tree: ObjectId,
        ignore: &'a DockerIgnore,
        wf: &'a BTreeMap<String, WorkFile>,
    ) -> Context<'a> {
        Context {
            objects,
            store: &NoStore,
            tree: Some(tree),
            ignore,
            work_files: wf,
        }
    }

    #[test]
    fn unfiltered_folder_is_its_tree_id() {
        let o = MemoryObjects::new();
        let root = o.add_files([
            ("src/a.go", &b"a"[..]),
            ("src/b.go", b"b"),
            ("README", b"r"),
        ]);
        let src = lookup(&o, root, "src").expect("lookup").expect("exists");
        let (ig, wf) = (DockerIgnore::default(), BTreeMap::new());
        let c = ctx(&o, root, &ig, &wf);
        let s = c.source("./src/").expect("ok").expect("matches");
        assert_eq!(
            s.matched,
            vec![Matched::Tree {
                path: "src".into(),
                id: src.id
            }]
        );
    }

    #[test]
    fn ignored_files_do_not_count_and_wildcards_match() {
        let o = MemoryObjects::new();
        let r1 = o.add_files([("src/a.go", &b"a"[..]), ("src/a.md", b"1")]);
        let r2 = o.add_files([("src/a.go", &b"a"[..]), ("src/a.md", b"2")]);
        let ig = DockerIgnore::parse("*.md\n**/*.md\n");
        let wf = BTreeMap::new();
        let d1 = ctx(&o, r1, &ig, &wf)
            .source("src")
            .expect("ok")
            .expect("some");
        let d2 = ctx(&o, r2, &ig, &wf)
            .source("src")
            .expect("ok")
            .expect("some");
        assert_eq!(d1.digest, d2.digest);
        let none = DockerIgnore::default();
        let g = ctx(&o, r1, &none, &wf)
            .source("src/*.go")
            .expect("ok")
            .expect("some");
        assert_eq!(g.matched.len(), 1);
        assert!(ctx(&o, r1, &none, &wf)
            .source("nope/*.go")
            .expect("ok")
            .is_none());
    }

    #[test]
    fn a_literal_source_given_its_entry_matches_as_one_looked_up_in_the_tree() {
        let o = MemoryObjects::new();
        let root = o.add_files([
            ("src/a.go", &b"a"[..]),
            ("src/a.md", b"m"),
            ("src/keep.md", b"k"),
            ("README", b"r"),
        ]);
        let ig = DockerIgnore::parse("**/*.md\n!src/keep.md\n");
        let mut wf = BTreeMap::new();
        wf.insert(
            "src/new.go".to_string(),
            WorkFile {
                kind: EntryKind::Blob,
                id: o.add_blob(b"n"),
            },
        );
        let with_tree = ctx(&o, root, &ig, &wf);
        let without_tree = Context {
            tree: None,
            ..ctx(&o, root, &ig, &wf)
        };
        let mut matched = 0;
        for source in [
            ".", "./src/", "src", "src/a.go", "src/a.md", "README", "nope", "src/*.go",
        ] {
            let expected = with_tree.source(source).expect("resolves");
            let found = lookup(&o, root, &clean_source(source)).expect("lookup");
            let by_entry = with_tree.literal_source(source, found.clone());
            assert_eq!(by_entry.expect("resolves"), expected, "{source}");
            if Context::is_literal(source) {
                let alone = without_tree.literal_source(source, found);
                assert_eq!(
                    alone.expect("resolves"),
                    expected,
                    "{source} without the tree"
                );
            }
            matched += usize::from(expected.is_some());
        }
        // Sources that match and ones that do not were both compared.
        assert_eq!(matched, 6);
        assert!(!Context::is_literal("src/*.go"));
    }

    #[test]
    fn covers() {
        assert!(source_covers("src", "src/a/b"));
        assert!(!source_covers("src", "srcx/a"));
        assert!(source_covers("", "x"));
        assert!(source_covers("src/*.go", "src/a.go"));
        assert!(source_covers("s*", "src/deep/file"));
        assert!(!source_covers("src/*.go", "src/a.rs"));
    }
}
