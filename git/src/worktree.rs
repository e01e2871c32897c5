//! The work tree against the commit: which files differ (the dirty check), and a `--dev`
//! snapshot of the work tree as a synthetic root tree.
//!
//! The index is the stat cache, as in Git: a file whose stat data matches its index entry (and is
//! not racy) has the index's blob id; any other file is hashed. When the index's cache-tree says
//! the index equals the commit (the usual case right after a commit), the commit's trees need not
//! be walked at all, so a clean check costs one `lstat` per watched file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use gix::bstr::ByteSlice;
use rayon::prelude::*;
use werf_graph::objects::{EntryKind, Tree, TreeEntry};
use werf_graph::{ObjectId, ObjectSource};

use super::beneath::{blob_hasher, blob_id, Kind, WorkTree};
use super::index::Indexed;
use super::{to_graph_id, Error, Repo, Result};

/// How a path in the work tree differs from the commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Present with this content (modified or new).
    Present { kind: EntryKind, id: ObjectId },
    /// In the commit, gone from the work tree.
    Deleted,
}

/// One path that differs from the commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Repository-relative, `/`-separated.
    pub path: String,
    pub state: State,
    /// True when the commit has no such path.
    pub added: bool,
}

/// Hashes the work-tree file `rel` as Git would (a symlink by its target text, never followed),
/// streaming, so a large file is never held in memory; `Ok(None)` when it is missing or a folder.
pub fn hash_file(work: &WorkTree, rel: &str) -> Result<Option<(EntryKind, ObjectId)>> {
    use sha1::Digest as _;
    let kind = match work.kind(rel)? {
        None | Some(Kind::Dir) => return Ok(None),
        Some(Kind::Symlink) => {
            let Some(content) = work.read(rel)? else {
                return Ok(None);
            };
            return Ok(Some((EntryKind::Symlink, blob_id(&content))));
        }
        Some(Kind::File { executable: true }) => EntryKind::Executable,
        Some(Kind::File { .. }) => EntryKind::Blob,
    };
    let Some((mut file, len)) = work.open_file(rel)? else {
        return Ok(None);
    };
    let io = |e: std::io::Error| {
        Error::Beneath(super::beneath::Error::Io {
            path: rel.to_string(),
            source: e,
        })
    };
    let mut hasher = blob_hasher(len);
    let mut buf = vec![0u8; 256 << 10];
    let mut seen = 0u64;
    loop {
        let n = std::io::Read::read(&mut file, &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        seen += n as u64;
        hasher.update(&buf[..n]);
    }
    if seen != len {
        return Err(io(std::io::Error::other(
            "changed while werf was reading it",
        )));
    }
    let mut id = [0u8; 20];
    id.copy_from_slice(&hasher.finalize());
    Ok(Some((kind, ObjectId(id))))
}

/// The commit a submodule's work tree has checked out, as `git add` would record it; `None` when
/// it is not initialised (an empty folder), which Git counts as unchanged.
fn submodule_head(repo: &Repo, rel: &str) -> Option<ObjectId> {
    let sub = gix::open(repo.workdir.join(rel)).ok()?;
    let id = sub.head_id().ok()?;
    Some(to_graph_id(&id))
}

fn index_kind(mode: gix::index::entry::Mode) -> Option<EntryKind> {
    use gix::object::tree::EntryKind as K;
    Some(match mode.to_tree_entry_mode()?.kind() {
        K::Tree => return None,
        K::Blob => EntryKind::Blob,
        K::BlobExecutable => EntryKind::Executable,
        K::Link => EntryKind::Symlink,
        K::Commit => EntryKind::Commit,
    })
}

/// Drops prefixes covered by another one (`a` covers `a/b`); `""` covers everything.
fn minimal_prefixes(prefixes: &[String]) -> Vec<String> {
    let all: std::collections::HashSet<&str> = prefixes.iter().map(String::as_str).collect();
    if all.contains("") {
        return vec![String::new()];
    }
    let mut out: Vec<String> = all
        .iter()
        .filter(|p| !p.match_indices('/').any(|(i, _)| all.contains(&p[..i])))
        .map(|p| p.to_string())
        .collect();
    out.sort();
    out
}

/// `path` is `prefix` or below it (`""` holds everything).
pub fn under(path: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|r| r.starts_with('/'))
}

/// Files under `prefixes` whose work-tree state differs from the commit tree `head`. With
/// `untracked`, files Git does not track (and does not ignore) count as added.
pub fn changes(
    repo: &Repo,
    objects: &dyn ObjectSource,
    head: ObjectId,
    prefixes: &[String],
    untracked: bool,
) -> Result<Vec<Change>> {
    if !untracked {
        if let Some(found) = streamed_changes(repo, head, prefixes)? {
            return Ok(found);
        }
    }
    changes_through_gix(repo, objects, head, prefixes, untracked)
}

/// [`changes`] with the index read whole by gix: any index, and an index that differs from
/// `head` (the commit's trees are walked then).
fn changes_through_gix(
    repo: &Repo,
    objects: &dyn ObjectSource,
    head: ObjectId,
    prefixes: &[String],
    untracked: bool,
) -> Result<Vec<Change>> {
    let thread_repo = repo.sync.to_thread_local();
    let index = thread_repo
        .index_or_empty()
        .map_err(|e| Error::Index(e.to_string()))?;
    let index_equals_head = index
        .tree()
        .is_some_and(|t| t.num_entries.is_some() && to_graph_id(&t.id) == head);
    tracing::debug!(
        index_equals_head,
        entries = index.entries().len(),
        "index read"
    );
    let timestamp = index.timestamp();
    let prefixes = minimal_prefixes(prefixes);
    let root = open_work_tree(repo)?;

    let mut out = Vec::new();
    for prefix in &prefixes {
        let range = if prefix.is_empty() {
            Some(0..index.entries().len())
        } else {
            index.prefixed_entries_range(prefix.as_bytes().as_bstr())
        };
        let entries = range.map(|r| &index.entries()[r]).unwrap_or_default();
        let head_files = if index_equals_head {
            None
        } else {
            Some(list_files(objects, head, prefix)?)
        };
        let in_index: Vec<(std::borrow::Cow<'_, str>, &gix::index::Entry)> = entries
            .iter()
            .map(|e| (e.path(&index).to_str_lossy(), e))
            .filter(|(p, _)| under(p, prefix))
            .collect();
        let found: Vec<Option<Change>> = in_index
            .par_iter()
            .map(|(path, entry)| {
                let path: &str = path;
                let committed = match &head_files {
                    None => index_kind(entry.mode).map(|k| (k, to_graph_id(&entry.id))),
                    Some(files) => files.get(path).copied(),
                };
                if entry.stage() != gix::index::entry::Stage::Unconflicted && committed.is_none() {
                    return Ok(None);
                }
                let indexed = Indexed {
                    stat: entry.stat,
                    mode: entry.mode,
                    id: to_graph_id(&entry.id),
                };
                let now = work_state(repo, &root, path, Some(&indexed), committed, timestamp)?;
                Ok(diff(path, committed, now))
            })
            .collect::<Result<_>>()?;
        out.extend(found.into_iter().flatten());
        if let Some(files) = head_files {
            // Committed files the index no longer has (`git rm --cached`, or deleted and staged).
            let indexed: std::collections::HashSet<&str> =
                in_index.iter().map(|(p, _)| p.as_ref()).collect();
            for (path, committed) in files {
                if !indexed.contains(path.as_str()) {
                    let now = work_state(repo, &root, &path, None, Some(committed), timestamp)?;
                    out.extend(diff(&path, Some(committed), now));
                }
            }
        }
    }
    if untracked {
        out.extend(untracked_files(repo, &root, &index, &prefixes)?);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

/// The work tree beneath its root.
fn open_work_tree(repo: &Repo) -> Result<WorkTree> {
    WorkTree::open(&repo.workdir).map_err(|e| Error::WorkFile {
        path: repo.workdir.display().to_string(),
        message: e.to_string(),
    })
}

/// [`changes`] without untracked files in the common case: the index read as a stream (see
/// [`crate::index`]) and equal to `head` by its cache-tree, so each entry's recorded blob is the
/// committed one. `None` when the index is not such a plain index or differs from `head`: then
/// gix reads it whole and the commit's trees are walked.
fn streamed_changes(
    repo: &Repo,
    head: ObjectId,
    prefixes: &[String],
) -> Result<Option<Vec<Change>>> {
    let thread_repo = repo.sync.to_thread_local();
    if thread_repo.object_hash() != gix::hash::Kind::Sha1 {
        return Ok(None);
    }
    let Ok(path) = thread_repo.index_path().canonicalize() else {
        return Ok(None); // no index: gix's empty index
    };
    // A racily clean entry is one modified in the same second the index was written.
    let Ok(timestamp) =
        std::fs::metadata(&path).map(|m| filetime::FileTime::from_last_modification_time(&m))
    else {
        return Ok(None);
    };
    // First the whole index (cheap: no file is looked at) for its root tree, then the entries.
    let survey = super::index::read(&path, |_| Ok::<(), Error>(()))?;
    match &survey {
        Ok(summary) if summary.root_tree == Some(head) => {}
        Ok(_) => return Ok(None),
        Err(why) => {
            tracing::debug!("the index is read by gix: {}", why.0);
            return Ok(None);
        }
    }
    let prefixes = minimal_prefixes(prefixes);
    let root = open_work_tree(repo)?;
    let mut out = Vec::new();
    let read = super::index::read(&path, |batch| {
        let found: Vec<Change> = batch
            .entries()
            .par_iter()
            .filter_map(|(range, entry)| {
                let path = String::from_utf8_lossy(batch.path(range));
                if !prefixes.iter().any(|p| under(&path, p)) {
                    return None;
                }
                let committed = index_kind(entry.mode).map(|k| (k, entry.id));
                work_state(repo, &root, &path, Some(entry), committed, timestamp)
                    .map(|now| diff(&path, committed, now))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        out.extend(found);
        Ok::<(), Error>(())
    })?;
    // The index was rewritten between the two reads (a `git add` meanwhile): read it with gix.
    if read != survey {
        return Ok(None);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(Some(out))
}

fn diff(path: &str, committed: Option<(EntryKind, ObjectId)>, now: State) -> Option<Change> {
    match (committed, &now) {
        (Some((k, id)), State::Present { kind, id: now_id }) if k == *kind && id == *now_id => None,
        (None, State::Deleted) => None,
        (c, _) => Some(Change {
            path: path.to_string(),
            state: now,
            added: c.is_none(),
        }),
    }
}

/// What the index says of `path` when its stat data (what Git records: `st_mtime`, `st_ctime`,
/// inode, size) still matches the file and the entry is not racy: its blob id, unhashed.
fn index_says(
    entry: &Indexed,
    st: &rustix::fs::Stat,
    timestamp: filetime::FileTime,
) -> Option<State> {
    use rustix::fs::FileType;
    let file_type = FileType::from_raw_mode(st.st_mode);
    let kind_now = if file_type == FileType::Symlink {
        EntryKind::Symlink
    } else if file_type == FileType::RegularFile && st.st_mode & 0o111 != 0 {
        EntryKind::Executable
    } else if file_type == FileType::RegularFile {
        EntryKind::Blob
    } else {
        return None;
    };
    let time = |secs: i64, nsecs: u64| gix::index::entry::stat::Time {
        secs: secs as u32,
        nsecs: nsecs as u32,
    };
    // Truncations to 32 bits are what Git does with these fields too.
    let stat = gix::index::entry::Stat {
        mtime: time(st.st_mtime, st.st_mtime_nsec),
        ctime: time(st.st_ctime, st.st_ctime_nsec),
        dev: st.st_dev as u32,
        ino: st.st_ino as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size as u32,
    };
    let options = gix::index::entry::stat::Options::default();
    (index_kind(entry.mode) == Some(kind_now)
        && !entry.stat.is_racy(timestamp, options)
        && entry.stat.matches(&stat, options))
    .then_some(State::Present {
        kind: kind_now,
        id: entry.id,
    })
}

/// The state of `path` in the work tree. The common case (the file is as the index recorded it)
/// costs one `lstat` relative to the root; anything else is looked at beneath the root without
/// following links: a path beyond a symbolic link is gone (as Git sees it), and a special file
/// in place of a tracked one is an error naming it. (Nothing is read from the work tree here
/// for a build: in commit mode builds read Git.)
fn work_state(
    repo: &Repo,
    root: &WorkTree,
    path: &str,
    entry: Option<&Indexed>,
    committed: Option<(EntryKind, ObjectId)>,
    timestamp: filetime::FileTime,
) -> Result<State> {
    use rustix::fs::FileType;
    if let (Some(entry), Some(st)) = (entry, root.stat_fast(path)) {
        if let Some(state) = index_says(entry, &st, timestamp) {
            return Ok(state);
        }
    }
    let st = match root.stat(path) {
        Ok(Some(st)) => st,
        Ok(None) | Err(super::beneath::Error::BeyondLink { .. }) => return Ok(State::Deleted),
        Err(e) => return Err(e.into()),
    };
    let file_type = FileType::from_raw_mode(st.st_mode);
    if let Some((EntryKind::Commit, recorded)) = committed {
        // A submodule: its checked-out commit, or (not initialised) the recorded one.
        if file_type != FileType::Directory {
            return Ok(State::Deleted);
        }
        return Ok(State::Present {
            kind: EntryKind::Commit,
            id: submodule_head(repo, path).unwrap_or(recorded),
        });
    }
    if file_type == FileType::Directory {
        return Ok(State::Deleted);
    }
    if let Some(state) = entry.and_then(|e| index_says(e, &st, timestamp)) {
        return Ok(state);
    }
    Ok(match hash_file(root, path)? {
        Some((kind, id)) => State::Present { kind, id },
        None => State::Deleted,
    })
}

/// Every file below `prefix` in the tree `root`: path -> (kind, blob id).
fn list_files(
    objects: &dyn ObjectSource,
    root: ObjectId,
    prefix: &str,
) -> Result<BTreeMap<String, (EntryKind, ObjectId)>> {
    let graph_err = |e: werf_graph::Error| Error::Object {
        id: root.hex(),
        message: e.to_string(),
    };
    let out = match werf_graph::context::lookup(objects, root, prefix).map_err(graph_err)? {
        None => BTreeMap::new(),
        Some(e) if e.kind == EntryKind::Tree => {
            werf_graph::context::entries_below(objects, e.id, prefix)
                .map_err(graph_err)?
                .into_iter()
                .map(|(path, e)| (path, (e.kind, e.id)))
                .collect()
        }
        Some(e) => BTreeMap::from([(prefix.to_string(), (e.kind, e.id))]),
    };
    Ok(out)
}

fn untracked_files(
    repo: &Repo,
    root: &WorkTree,
    index: &gix::worktree::Index,
    prefixes: &[String],
) -> Result<Vec<Change>> {
    let thread_repo = repo.sync.to_thread_local();
    let options = thread_repo
        .dirwalk_options()
        .map_err(|e| Error::Index(e.to_string()))?
        .emit_untracked(gix::dir::walk::EmissionMode::Matching);
    let patterns: Vec<gix::bstr::BString> = prefixes
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.as_str().into())
        .collect();
    let mut out = Vec::new();
    let mut delegate = gix::dir::walk::delegate::Collect::default();
    let names: Vec<gix::bstr::BString> =
        match thread_repo.dirwalk(index, patterns, &Default::default(), options, &mut delegate) {
            Ok(_) => delegate
                .unorded_entries
                .into_iter()
                .filter(|(entry, _)| entry.status == gix::dir::entry::Status::Untracked)
                .map(|(entry, _)| entry.rela_path)
                .collect(),
            // The walk stops at the first folder it cannot open (a name past the system's path
            // length, a folder without permission); git skips such a folder with a warning, and so
            // does this, by asking git for the list.
            Err(e) => {
                tracing::debug!("the untracked-file walk stopped ({e}): asking `git ls-files`");
                untracked_by_git(&repo.workdir, prefixes)?
            }
        };
    for rela_path in names {
        let path = rela_path
            .to_str()
            .map_err(|_| Error::WorkFile {
                path: rela_path.to_str_lossy().into_owned(),
                message: "the name is not UTF-8 (werf-rs reads UTF-8 paths only)".into(),
            })?
            .to_string();
        if !prefixes.iter().any(|p| under(&path, p)) {
            continue;
        }
        let Some((kind, id)) = hash_file(root, &path)? else {
            continue; // a folder
        };
        out.push(Change {
            path,
            state: State::Present { kind, id },
            added: true,
        });
    }
    Ok(out)
}

/// Untracked, not ignored files under `prefixes` as `git ls-files --others --exclude-standard`
/// lists them; each folder git could not open is a warning naming it (its name shortened).
fn untracked_by_git(workdir: &Path, prefixes: &[String]) -> Result<Vec<gix::bstr::BString>> {
    let mut cmd = std::process::Command::new("git");
    cmd.arg("-C")
        .arg(workdir)
        .args(["ls-files", "-z", "--others", "--exclude-standard", "--"]);
    cmd.args(prefixes.iter().filter(|p| !p.is_empty()));
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::Index(format!("cannot run `git ls-files`: {e}")))?;
    if !out.status.success() {
        return Err(Error::Index(format!(
            "`git ls-files` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        let shown: String = line.chars().take(160).collect();
        let more = if line.chars().count() > 160 {
            "…"
        } else {
            ""
        };
        tracing::warn!(
            "{}{more} (skipped, as `git status` skips it)",
            werf_base::terminal::terminal_safe(&shown)
        );
    }
    Ok(out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(gix::bstr::BString::from)
        .collect())
}

/// A snapshot of the work tree: the commit's tree with `changes` applied, as new Git trees.
pub struct Snapshot {
    pub root: ObjectId,
    pub trees: HashMap<ObjectId, Arc<Tree>>,
    /// Work-tree files (repository-relative) by the blob id of their content.
    pub blobs: HashMap<ObjectId, String>,
}

/// Applies `changes` to the tree `head`, hashing new trees exactly as Git would, so a snapshot of
/// uncommitted changes gets the tree ids (and tags) the same content gets once committed.
pub fn snapshot(
    objects: &dyn ObjectSource,
    head: ObjectId,
    changes: &[Change],
) -> Result<Snapshot> {
    #[derive(Default)]
    struct Dir {
        files: BTreeMap<String, Option<(EntryKind, ObjectId)>>,
        dirs: BTreeMap<String, Dir>,
    }
    let mut root = Dir::default();
    let mut blobs = HashMap::new();
    for c in changes {
        let mut parts: Vec<&str> = c.path.split('/').collect();
        let name = parts.pop().expect("paths are not empty");
        let mut dir = &mut root;
        for p in parts {
            dir = dir.dirs.entry(p.to_string()).or_default();
        }
        let value = match c.state {
            State::Present { kind, id } => {
                if kind != EntryKind::Commit {
                    blobs.insert(id, c.path.clone());
                }
                Some((kind, id))
            }
            State::Deleted => None,
        };
        dir.files.insert(name.to_string(), value);
    }

    fn write(
        objects: &dyn ObjectSource,
        base: Option<ObjectId>,
        dir: &Dir,
        trees: &mut HashMap<ObjectId, Arc<Tree>>,
    ) -> Result<Option<ObjectId>> {
        let mut entries: BTreeMap<String, TreeEntry> = match base {
            Some(id) => objects
                .tree(id)
                .map_err(|e| Error::Object {
                    id: id.hex(),
                    message: e.to_string(),
                })?
                .entries
                .iter()
                .map(|e| (e.name.clone(), e.clone()))
                .collect(),
            None => BTreeMap::new(),
        };
        for (name, sub) in &dir.dirs {
            let base = entries
                .get(name)
                .filter(|e| e.kind == EntryKind::Tree)
                .map(|e| e.id);
            match write(objects, base, sub, trees)? {
                Some(id) => {
                    entries.insert(
                        name.clone(),
                        TreeEntry {
                            name: name.clone(),
                            kind: EntryKind::Tree,
                            id,
                        },
                    );
                }
                None => {
                    entries.remove(name);
                }
            }
        }
        for (name, value) in &dir.files {
            match value {
                Some((kind, id)) => {
                    entries.insert(
                        name.clone(),
                        TreeEntry {
                            name: name.clone(),
                            kind: *kind,
                            id: *id,
                        },
                    );
                }
                None => {
                    entries.remove(name);
                }
            }
        }
        if entries.is_empty() {
            return Ok(None);
        }
        let tree = Tree {
            entries: entries.into_values().collect(),
        };
        let id = git_tree_id(&tree);
        trees.insert(id, Arc::new(tree));
        Ok(Some(id))
    }

    let mut trees = HashMap::new();
    let root_id = match write(objects, Some(head), &root, &mut trees)? {
        Some(id) => id,
        None => {
            let empty = Tree::default();
            let id = git_tree_id(&empty);
            trees.insert(id, Arc::new(empty));
            id
        }
    };
    Ok(Snapshot {
        root: root_id,
        trees,
        blobs,
    })
}

/// The Git id of a tree object with these entries (Git's order: trees sort as `name/`).
fn git_tree_id(tree: &Tree) -> ObjectId {
    let mut entries: Vec<&TreeEntry> = tree.entries.iter().collect();
    let sort_key = |e: &TreeEntry| {
        let mut k = e.name.as_bytes().to_vec();
        if e.kind == EntryKind::Tree {
            k.push(b'/');
        }
        k
    };
    entries.sort_by_key(|e| sort_key(e));
    let mut data = Vec::new();
    for e in entries {
        let mode = match e.kind {
            EntryKind::Tree => "40000",
            k => k.mode(),
        };
        data.extend_from_slice(mode.as_bytes());
        data.push(b' ');
        data.extend_from_slice(e.name.as_bytes());
        data.push(0);
        data.extend_from_slice(&e.id.0);
    }
    let id = gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Tree, &data)
        .expect("SHA-1 hashing of in-memory data does not fail");
    to_graph_id(&id)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn prefixes_are_minimized() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            minimal_prefixes(&p(&["a/b", "a", "ab", "c/d"])),
            p(&["a", "ab", "c/d"])
        );
        assert_eq!(minimal_prefixes(&p(&["x", ""])), p(&[""]));
    }

    /// Runs `git` in `dir` as a test's committer; a failure fails the test.
    pub(crate) fn git(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    /// The streamed index and gix's whole index find the same changes, case by case, and the
    /// streamed one is what `changes` used.
    #[test]
    fn the_streamed_index_finds_what_gix_finds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        git(d, &["init", "-q"]);
        for f in [
            "app/a.txt",
            "app/b.txt",
            "app/c.txt",
            "app/d.txt",
            "app/e.txt",
            "lib/f.txt",
        ] {
            std::fs::create_dir_all(d.join(f).parent().expect("parent")).expect("mkdir");
            std::fs::write(d.join(f), f).expect("write");
        }
        git(d, &["add", "-A"]);
        git(d, &["commit", "-qm", "one"]);
        let repo = Repo::discover(d).expect("repo");
        let objects = crate::objects::GitObjects::new(repo.sync.clone());
        let head = repo.commit(None).expect("HEAD").tree;
        let all = [String::new()];
        let app = ["app".to_string()];
        assert_eq!(
            streamed_changes(&repo, head, &all).expect("reads"),
            Some(vec![])
        );

        std::fs::write(d.join("app/a.txt"), "edited, longer").expect("write");
        std::fs::write(d.join("app/b.txt"), "app/b.txX").expect("same size");
        std::fs::remove_file(d.join("app/c.txt")).expect("rm");
        std::fs::set_permissions(
            d.join("app/d.txt"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        std::fs::remove_file(d.join("app/e.txt")).expect("rm");
        std::os::unix::fs::symlink("a.txt", d.join("app/e.txt")).expect("symlink");
        std::fs::write(d.join("lib/f.txt"), "lib").expect("write");
        let names = |c: &[Change]| c.iter().map(|c| c.path.clone()).collect::<Vec<_>>();
        for prefixes in [&all[..], &app[..]] {
            let streamed = streamed_changes(&repo, head, prefixes)
                .expect("reads")
                .expect("the plain index is streamed");
            let whole = changes_through_gix(&repo, &objects, head, prefixes, false).expect("reads");
            assert_eq!(streamed, whole, "{prefixes:?}");
            assert_eq!(
                changes(&repo, &objects, head, prefixes, false).expect("reads"),
                whole
            );
            let mut expected = vec![
                "app/a.txt",
                "app/b.txt",
                "app/c.txt",
                "app/d.txt",
                "app/e.txt",
            ];
            if prefixes[0].is_empty() {
                expected.push("lib/f.txt");
            }
            assert_eq!(names(&streamed), expected);
        }
        let deleted = |c: &[Change]| {
            c.iter()
                .filter(|c| c.state == State::Deleted)
                .map(|c| c.path.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            deleted(
                &streamed_changes(&repo, head, &all)
                    .expect("reads")
                    .expect("streamed")
            ),
            ["app/c.txt"]
        );

        // A staged change invalidates the cache-tree: gix reads it and walks the commit.
        git(d, &["add", "app/a.txt"]);
        assert_eq!(streamed_changes(&repo, head, &all).expect("reads"), None);
        let staged = changes(&repo, &objects, head, &all, false).expect("reads");
        assert!(
            names(&staged).contains(&"app/a.txt".to_string()),
            "{staged:?}"
        );
    }
}
