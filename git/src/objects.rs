//! [`ObjectSource`] over a gix object database: decoded trees are cached (bounded, see
//! [`crate::tree_cache`]), and synthetic trees and work-tree blobs of a `--dev` snapshot overlay
//! the repository's objects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use sha1::Digest as _;

use werf_graph::error::Error as GraphError;
use werf_graph::objects::{EntryKind, Tree, TreeEntry};
use werf_graph::{ObjectId, ObjectSource};

use super::beneath::{blob_hasher, blob_id, Content, WorkTree};
use super::to_gix_id;
use super::tree_cache::TreeCache;

/// Objects of one repository, usable from many threads.
pub struct GitObjects {
    sync: gix::ThreadSafeRepository,
    /// Thread-local handles are not `Sync`; a small pool hands them out.
    pool: Mutex<Vec<gix::Repository>>,
    /// Synthetic trees of `--dev` snapshots: never dropped (they are not in the repository).
    overlay: RwLock<HashMap<ObjectId, Arc<Tree>>>,
    /// Trees read from the repository.
    trees: TreeCache,
    /// Work-tree files (of a `--dev` snapshot, or `contextAddFiles`), repository-relative, by the
    /// blob id their content hashed to; read beneath the work tree root and checked again.
    work_blobs: RwLock<HashMap<ObjectId, String>>,
    work: Option<Arc<WorkTree>>,
}

impl GitObjects {
    /// Objects of `sync`.
    pub fn new(sync: gix::ThreadSafeRepository) -> Self {
        GitObjects {
            sync,
            pool: Mutex::default(),
            overlay: RwLock::default(),
            trees: TreeCache::default(),
            work_blobs: RwLock::default(),
            work: None,
        }
    }

    /// Reads work-tree blobs beneath `work`.
    pub fn with_work_tree(self, work: Arc<WorkTree>) -> Self {
        GitObjects {
            work: Some(work),
            ..self
        }
    }

    /// Makes work-tree files (repository-relative) readable as blobs by their content's id.
    pub fn add_work_blobs(&self, blobs: impl IntoIterator<Item = (ObjectId, String)>) {
        self.work_blobs
            .write()
            .expect("work blob lock poisoned")
            .extend(blobs);
    }

    /// Adds synthetic trees (already hashed as Git would) and work-tree blobs.
    pub fn with_overlay(
        self,
        trees: HashMap<ObjectId, Arc<Tree>>,
        work_blobs: HashMap<ObjectId, String>,
    ) -> Self {
        self.add_overlay(trees, work_blobs);
        self
    }

    /// [`GitObjects::with_overlay`] on objects in use (`werf dev` adds a snapshot per save; ids
    /// are content hashes, so what was added stays valid).
    pub fn add_overlay(
        &self,
        trees: HashMap<ObjectId, Arc<Tree>>,
        work_blobs: HashMap<ObjectId, String>,
    ) {
        self.overlay
            .write()
            .expect("overlay lock poisoned")
            .extend(trees);
        self.add_work_blobs(work_blobs);
    }

    fn cached_tree(&self, id: ObjectId) -> Option<Arc<Tree>> {
        if let Some(t) = self.overlay.read().expect("overlay lock poisoned").get(&id) {
            return Some(t.clone());
        }
        self.trees.get(&id)
    }

    /// Reads and decodes the tree `id` from the repository.
    fn decode_tree(&self, id: ObjectId) -> werf_graph::Result<Tree> {
        self.with_repo(|repo| -> werf_graph::Result<Tree> {
            let object = repo
                .find_object(to_gix_id(id))
                .map_err(|e| object_error(id, e))?;
            let tree = object.try_into_tree().map_err(|e| object_error(id, e))?;
            let decoded = tree.decode().map_err(|e| object_error(id, e))?;
            let entries = decoded
                .entries
                .iter()
                .map(|e| {
                    // A lossy name could make two different paths one: refuse instead.
                    let name = std::str::from_utf8(e.filename).map_err(|_| {
                        object_error(
                            id,
                            format!(
                                "the entry `{}` has a name that is not UTF-8 (werf-rs reads UTF-8 paths only)",
                                String::from_utf8_lossy(e.filename)
                            ),
                        )
                    })?;
                    Ok(TreeEntry {
                    name: name.to_string(),
                    kind: match e.mode.kind() {
                        gix::object::tree::EntryKind::Tree => EntryKind::Tree,
                        gix::object::tree::EntryKind::Blob => EntryKind::Blob,
                        gix::object::tree::EntryKind::BlobExecutable => EntryKind::Executable,
                        gix::object::tree::EntryKind::Link => EntryKind::Symlink,
                        gix::object::tree::EntryKind::Commit => EntryKind::Commit,
                    },
                    id: super::to_graph_id(e.oid),
                })
                })
                .collect::<werf_graph::Result<_>>()?;
            Ok(Tree { entries })
        })
    }

    fn with_repo<T>(&self, f: impl FnOnce(&gix::Repository) -> T) -> T {
        let repo = self
            .pool
            .lock()
            .expect("repository pool lock poisoned")
            .pop()
            // No gix object cache (4 MiB per handle when it was on): trees are cached here,
            // decoded, and the engine reads each blob it needs once.
            .unwrap_or_else(|| self.sync.to_thread_local());
        let out = f(&repo);
        self.pool
            .lock()
            .expect("repository pool lock poisoned")
            .push(repo);
        out
    }
}

fn object_error(id: ObjectId, e: impl std::fmt::Display) -> GraphError {
    GraphError::Object {
        id: id.hex(),
        message: e.to_string(),
    }
}

/// Blobs larger than this are streamed (when loose) instead of read whole.
const STREAM_ABOVE: u64 = 16 << 20;

/// Reads a stream while hashing it as a Git blob of `len` bytes; at the end, a stream whose
/// bytes do not hash to `expected` is an error (the file changed while it was read).
struct Checked<R> {
    inner: R,
    hasher: sha1::Sha1,
    expected: ObjectId,
    path: String,
    checked: bool,
}

impl<R: std::io::Read> Checked<std::io::Take<R>> {
    /// The `len` bytes of `inner`, checked against `expected` as they are read.
    fn new(inner: R, len: u64, expected: ObjectId, path: String) -> Self {
        Checked {
            inner: inner.take(len),
            hasher: blob_hasher(len),
            expected,
            path,
            checked: false,
        }
    }
}

impl<R: std::io::Read> std::io::Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && !self.checked {
            self.checked = true;
            let digest = std::mem::take(&mut self.hasher).finalize();
            if digest.as_slice() != self.expected.0 {
                return Err(std::io::Error::other(format!(
                    "`{}` changed while werf was reading it; run again",
                    self.path
                )));
            }
        } else {
            self.hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

impl GitObjects {
    /// A large blob stored whole (not as a delta) in a pack, streamed from the pack file and
    /// checked against its id; `Ok(None)` when no pack holds it whole.
    fn packed_stream(
        &self,
        id: ObjectId,
    ) -> werf_graph::Result<Option<Box<dyn std::io::Read + Send>>> {
        use std::io::{Read, Seek};
        let pack_dir = self
            .with_repo(|r| r.common_dir().to_path_buf())
            .join("objects/pack");
        let Ok(listing) = std::fs::read_dir(&pack_dir) else {
            return Ok(None);
        };
        for entry in listing.flatten() {
            let idx_path = entry.path();
            if idx_path.extension().is_none_or(|e| e != "idx") {
                continue;
            }
            let Ok(index) = gix::odb::pack::index::File::at(&idx_path, gix::hash::Kind::Sha1)
            else {
                continue;
            };
            let Some(at) = index.lookup(to_gix_id(id)) else {
                continue;
            };
            let offset = index.pack_offset_at_index(at);
            let pack_path = idx_path.with_extension("pack");
            let fail =
                |e: std::io::Error| object_error(id, format!("`{}`: {e}", pack_path.display()));
            let mut pack = std::fs::File::open(&pack_path).map_err(fail)?;
            pack.seek(std::io::SeekFrom::Start(offset)).map_err(fail)?;
            // The entry header: type in bits 4-6 of the first byte, then the size as a varint.
            let mut byte = [0u8; 1];
            pack.read_exact(&mut byte).map_err(fail)?;
            let kind = (byte[0] >> 4) & 7;
            let mut size = (byte[0] & 15) as u64;
            let mut shift = 4;
            while byte[0] & 0x80 != 0 && shift < 64 {
                pack.read_exact(&mut byte).map_err(fail)?;
                size |= ((byte[0] & 0x7f) as u64) << shift;
                shift += 7;
            }
            if kind != 3 {
                return Ok(None); // a delta: read whole
            }
            let inflated = flate2::read::ZlibDecoder::new(std::io::BufReader::new(pack));
            return Ok(Some(Box::new(Checked::new(
                inflated,
                size,
                id,
                format!("Git object {}", id.hex()),
            ))));
        }
        Ok(None)
    }

    fn work_path(&self, id: ObjectId) -> Option<String> {
        self.work_blobs
            .read()
            .expect("work blob lock poisoned")
            .get(&id)
            .cloned()
    }
}

impl ObjectSource for GitObjects {
    fn blob_size(&self, id: ObjectId) -> werf_graph::Result<u64> {
        if let (Some(path), Some(work)) = (self.work_path(id), &self.work) {
            let st = work
                .stat(&path)
                .map_err(|e| object_error(id, werf_base::errors::chain(&e)))?
                .ok_or_else(|| object_error(id, format!("`{path}` is gone from the work tree")))?;
            return Ok(st.st_size.max(0) as u64);
        }
        self.with_repo(|repo| {
            repo.find_header(to_gix_id(id))
                .map(|h| h.size())
                .map_err(|e| object_error(id, e))
        })
    }

    fn blob_reader(&self, id: ObjectId) -> werf_graph::Result<Box<dyn std::io::Read + Send>> {
        if let (Some(path), Some(work)) = (self.work_path(id), &self.work) {
            let opened = work
                .open_file(&path)
                .map_err(|e| object_error(id, werf_base::errors::chain(&e)))?;
            let Some((file, len)) = opened else {
                // A link (or something that replaced the file): small, read whole and checked.
                let data = self.blob(id)?;
                return Ok(Box::new(std::io::Cursor::new(data.to_vec())));
            };
            return Ok(Box::new(Checked::new(file, len, id, path)));
        }
        if self.blob_size(id)? > STREAM_ABOVE {
            // A loose object streams straight from its zlib file (checked against its id as it
            // goes); a packed one is read whole, as `git cat-file` itself does.
            let hex = id.hex();
            let path = self
                .with_repo(|r| r.common_dir().to_path_buf())
                .join("objects")
                .join(&hex[..2])
                .join(&hex[2..]);
            if let Ok(file) = std::fs::File::open(&path) {
                let mut inflated = flate2::read::ZlibDecoder::new(std::io::BufReader::new(file));
                let mut header = Vec::new();
                let mut byte = [0u8; 1];
                loop {
                    let n = std::io::Read::read(&mut inflated, &mut byte)
                        .map_err(|e| object_error(id, format!("`{}`: {e}", path.display())))?;
                    if n == 0 || byte[0] == 0 || header.len() > 64 {
                        break;
                    }
                    header.push(byte[0]);
                }
                let len: u64 = std::str::from_utf8(&header)
                    .ok()
                    .and_then(|h| h.strip_prefix("blob "))
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| object_error(id, "a loose object without a blob header"))?;
                return Ok(Box::new(Checked::new(
                    inflated,
                    len,
                    id,
                    format!("Git object {hex}"),
                )));
            }
            if let Some(stream) = self.packed_stream(id)? {
                return Ok(stream);
            }
        }
        let data = self.blob(id)?;
        Ok(Box::new(std::io::Cursor::new(data.to_vec())))
    }

    fn tree(&self, id: ObjectId) -> werf_graph::Result<Arc<Tree>> {
        if let Some(t) = self.cached_tree(id) {
            return Ok(t);
        }
        let tree = Arc::new(self.decode_tree(id)?);
        self.trees.insert(id, tree.clone());
        Ok(tree)
    }

    fn tree_once(&self, id: ObjectId) -> werf_graph::Result<Arc<Tree>> {
        match self.cached_tree(id) {
            Some(t) => Ok(t),
            None => Ok(Arc::new(self.decode_tree(id)?)),
        }
    }

    fn blob(&self, id: ObjectId) -> werf_graph::Result<Arc<[u8]>> {
        if let (Some(path), Some(work)) = (self.work_path(id), &self.work) {
            // Read again beneath the root and checked against the id the digest used: the layer
            // always holds the bytes the tag was computed from.
            let content = work
                .read(&path)
                .map_err(|e| object_error(id, werf_base::errors::chain(&e)))?
                .ok_or_else(|| object_error(id, format!("`{path}` is gone from the work tree")))?;
            if blob_id(&content) != id {
                return Err(object_error(
                    id,
                    format!("`{path}` changed while werf was reading it; run again"),
                ));
            }
            let data = match content {
                Content::File { data, .. } => data,
                Content::Symlink(target) => target,
            };
            return Ok(Arc::from(data));
        }
        self.with_repo(|repo| {
            let object = repo
                .find_object(to_gix_id(id))
                .map_err(|e| object_error(id, e))?;
            let blob = object.try_into_blob().map_err(|e| object_error(id, e))?;
            Ok(Arc::from(blob.data.as_slice()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_read_once_is_not_kept_and_a_tree_read_for_lookups_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let git = |args: &[&str]| crate::worktree::tests::git(d, args);
        git(&["init", "-q"]);
        std::fs::create_dir_all(d.join("app/src")).expect("mkdir");
        std::fs::write(d.join("app/src/main.go"), "package main\n").expect("write");
        git(&["add", "-A"]);
        git(&["commit", "-qm", "one"]);
        let repo = crate::Repo::discover(d).expect("repo");
        let objects = GitObjects::new(repo.sync.clone());
        let root = repo.commit(None).expect("HEAD").tree;
        let app = objects
            .tree(root)
            .expect("root")
            .get("app")
            .expect("app")
            .id;
        let kept = objects.trees.len();
        assert_eq!(kept, 1, "the root tree is kept");

        let once = objects.tree_once(app).expect("app once");
        assert_eq!(objects.trees.len(), kept, "not kept");
        let looked_up = objects.tree(app).expect("app");
        assert_eq!(once, looked_up, "the same tree either way");
        assert_eq!(objects.trees.len(), kept + 1, "kept");
        let src = looked_up.get("src").expect("src").id;
        // A tree in the cache (or an overlay's) is what a walk reads.
        objects.tree(src).expect("src");
        let cached = objects.tree_once(src).expect("src once");
        assert!(Arc::ptr_eq(&cached, &objects.tree(src).expect("src")));
    }
}
