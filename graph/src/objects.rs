//! The Git object model the engine reads: tree entries by id, blobs by id, behind a trait.
//!
//! Git objects are content-addressed, so reading one by id is a pure function of the id: the engine
//! may memoize anything computed from an id forever. `src/git` implements [`ObjectSource`] with gix
//! (plus a work-tree overlay for `--dev`); tests use [`MemoryObjects`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use crate::digest::{deserialize_fixed, hex, serialize_fixed, unhex};
use crate::error::{Error, Result};

/// A Git object id (SHA-1, 20 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; 20]);

impl ObjectId {
    /// Lowercase hex of the id.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }

    /// The first 7 hex characters, like `git log --oneline`.
    pub fn short(&self) -> String {
        let mut h = self.hex();
        h.truncate(7);
        h
    }

    /// Parses 40 hex characters.
    pub fn from_hex(s: &str) -> Option<Self> {
        Some(ObjectId(unhex(s)?.try_into().ok()?))
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.short())
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl serde::Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        serialize_fixed(&self.0, s)
    }
}

impl<'de> serde::Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        deserialize_fixed(d).map(ObjectId)
    }
}

/// What a tree entry is, with Git's modes.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// `040000`
    Tree,
    /// `100644`
    Blob,
    /// `100755`
    Executable,
    /// `120000`
    Symlink,
    /// `160000` (a submodule commit)
    Commit,
}

impl EntryKind {
    /// Git's octal mode string.
    pub fn mode(&self) -> &'static str {
        match self {
            EntryKind::Tree => "040000",
            EntryKind::Blob => "100644",
            EntryKind::Executable => "100755",
            EntryKind::Symlink => "120000",
            EntryKind::Commit => "160000",
        }
    }

    /// The kind whose [`EntryKind::mode`] is `mode`.
    pub fn from_mode(mode: &str) -> Option<Self> {
        [
            EntryKind::Tree,
            EntryKind::Blob,
            EntryKind::Executable,
            EntryKind::Symlink,
            EntryKind::Commit,
        ]
        .into_iter()
        .find(|k| k.mode() == mode)
    }

    /// True for entries that carry file content (blob, executable, symlink).
    pub fn is_file(&self) -> bool {
        matches!(
            self,
            EntryKind::Blob | EntryKind::Executable | EntryKind::Symlink
        )
    }
}

/// One entry of a tree.
#[derive(Clone, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
pub struct TreeEntry {
    pub name: String,
    pub kind: EntryKind,
    pub id: ObjectId,
}

/// A decoded tree: its entries in Git order.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Tree {
    pub entries: Vec<TreeEntry>,
}

impl Tree {
    /// The entry called `name`, if any: a binary search in Git order (a folder sorts as if its
    /// name ended in `/`), tried as a file and as a folder; a tree that is not in Git order is
    /// still searched whole, so the answer never depends on the order.
    pub fn get(&self, name: &str) -> Option<&TreeEntry> {
        for as_tree in [false, true] {
            let found = self.entries.binary_search_by(|e| {
                git_order_key(&e.name, e.kind == EntryKind::Tree).cmp(git_order_key(name, as_tree))
            });
            if let Ok(i) = found {
                return Some(&self.entries[i]);
            }
        }
        self.entries.iter().find(|e| e.name == name)
    }
}

/// The bytes Git sorts a tree entry by: its name, then `/` for a folder.
fn git_order_key(name: &str, tree: bool) -> impl Iterator<Item = u8> + '_ {
    name.bytes().chain(tree.then_some(b'/'))
}

/// Read access to Git objects by id. Implementations must be deterministic: the same id always
/// yields the same content.
pub trait ObjectSource: Send + Sync {
    /// The tree with this id.
    fn tree(&self, id: ObjectId) -> Result<Arc<Tree>>;
    /// The tree with this id, for a walk that visits it once (a context's listing): a source
    /// that caches decoded trees may leave this one out, so the folders of thousands of
    /// contexts are not all held at once.
    fn tree_once(&self, id: ObjectId) -> Result<Arc<Tree>> {
        self.tree(id)
    }
    /// The content of the blob with this id.
    fn blob(&self, id: ObjectId) -> Result<Arc<[u8]>>;
    /// The size of the blob with this id (without reading it, where the source can).
    fn blob_size(&self, id: ObjectId) -> Result<u64> {
        Ok(self.blob(id)?.len() as u64)
    }
    /// The content of the blob as a stream, for builders that must not hold a large file whole
    /// (a source that can stream overrides this; the engine itself never calls it).
    fn blob_reader(&self, id: ObjectId) -> Result<Box<dyn std::io::Read + Send>> {
        let data = self.blob(id)?;
        Ok(Box::new(std::io::Cursor::new(ArcBytes(data))))
    }
}

/// Shared bytes as `AsRef<[u8]>` (for a `Cursor`).
struct ArcBytes(Arc<[u8]>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// What a [`MemoryObjects`] holds: its trees, then its blobs, each by id.
pub type MemoryContents = (Vec<(ObjectId, Arc<Tree>)>, Vec<(ObjectId, Arc<[u8]>)>);

/// An in-memory object store: for tests and for synthetic trees. Ids are derived from content
/// (BLAKE3, truncated), so equal content gets equal ids as in Git.
#[derive(Default)]
pub struct MemoryObjects {
    trees: RwLock<HashMap<ObjectId, Arc<Tree>>>,
    blobs: RwLock<HashMap<ObjectId, Arc<[u8]>>>,
}

impl MemoryObjects {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a blob and returns its id.
    pub fn add_blob(&self, content: &[u8]) -> ObjectId {
        let id = short_id("blob", content);
        self.blobs
            .write()
            .expect("blob map lock poisoned")
            .insert(id, content.into());
        id
    }

    /// Stores a tree (entries are sorted by name) and returns its id.
    pub fn add_tree(&self, mut entries: Vec<TreeEntry>) -> ObjectId {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let mut enc = Vec::new();
        for e in &entries {
            enc.extend_from_slice(e.kind.mode().as_bytes());
            enc.push(b' ');
            enc.extend_from_slice(e.name.as_bytes());
            enc.push(0);
            enc.extend_from_slice(&e.id.0);
        }
        let id = short_id("tree", &enc);
        self.trees
            .write()
            .expect("tree map lock poisoned")
            .insert(id, Arc::new(Tree { entries }));
        id
    }

    /// Every tree and blob held, by id (ordered: the same store lists the same way).
    pub fn contents(&self) -> MemoryContents {
        let mut trees: Vec<_> = self
            .trees
            .read()
            .expect("tree map lock poisoned")
            .iter()
            .map(|(id, t)| (*id, t.clone()))
            .collect();
        let mut blobs: Vec<_> = self
            .blobs
            .read()
            .expect("blob map lock poisoned")
            .iter()
            .map(|(id, b)| (*id, b.clone()))
            .collect();
        trees.sort_by_key(|(id, _)| *id);
        blobs.sort_by_key(|(id, _)| *id);
        (trees, blobs)
    }

    /// Builds nested trees from `(path, content)` pairs and returns the root tree id. Paths ending
    /// in `*` are stored as executables (the `*` is dropped).
    pub fn add_files<'a>(&self, files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> ObjectId {
        #[derive(Default)]
        struct Dir {
            files: Vec<(String, EntryKind, ObjectId)>,
            dirs: std::collections::BTreeMap<String, Dir>,
        }
        fn write(store: &MemoryObjects, dir: Dir) -> ObjectId {
            let mut entries: Vec<TreeEntry> = dir
                .files
                .into_iter()
                .map(|(name, kind, id)| TreeEntry { name, kind, id })
                .collect();
            for (name, sub) in dir.dirs {
                entries.push(TreeEntry {
                    name,
                    kind: EntryKind::Tree,
                    id: write(store, sub),
                });
            }
            store.add_tree(entries)
        }
        let mut root = Dir::default();
        for (path, content) in files {
            let (path, kind) = match path.strip_suffix('*') {
                Some(p) => (p, EntryKind::Executable),
                None => (path, EntryKind::Blob),
            };
            let mut parts: Vec<&str> = path.split('/').collect();
            let name = parts.pop().expect("split yields at least one part");
            let mut dir = &mut root;
            for p in parts {
                dir = dir.dirs.entry(p.to_string()).or_default();
            }
            let id = self.add_blob(content);
            dir.files.push((name.to_string(), kind, id));
        }
        write(self, root)
    }
}

/// Synthetic objects over another source: what the engine makes (the selected files of a Stapel
/// git mapping, a Dockerfile written for a Stapel image) read beside the real Git objects.
/// Synthetic ids are content-derived, so the layer stays a pure function of ids.
pub struct Layered {
    pub synthetic: Arc<MemoryObjects>,
    pub inner: Arc<dyn ObjectSource>,
}

impl Layered {
    /// `inner` with an empty synthetic layer.
    pub fn new(inner: Arc<dyn ObjectSource>) -> Self {
        Layered {
            synthetic: Arc::new(MemoryObjects::new()),
            inner,
        }
    }
}

impl Layered {
    fn synthetic_tree(&self, id: ObjectId) -> Option<Arc<Tree>> {
        self.synthetic
            .trees
            .read()
            .expect("tree map lock poisoned")
            .get(&id)
            .cloned()
    }
}

impl ObjectSource for Layered {
    fn tree(&self, id: ObjectId) -> Result<Arc<Tree>> {
        match self.synthetic_tree(id) {
            Some(t) => Ok(t),
            None => self.inner.tree(id),
        }
    }

    fn tree_once(&self, id: ObjectId) -> Result<Arc<Tree>> {
        match self.synthetic_tree(id) {
            Some(t) => Ok(t),
            None => self.inner.tree_once(id),
        }
    }

    fn blob(&self, id: ObjectId) -> Result<Arc<[u8]>> {
        if let Some(b) = self
            .synthetic
            .blobs
            .read()
            .expect("blob map lock poisoned")
            .get(&id)
        {
            return Ok(b.clone());
        }
        self.inner.blob(id)
    }

    fn blob_size(&self, id: ObjectId) -> Result<u64> {
        if let Some(b) = self
            .synthetic
            .blobs
            .read()
            .expect("blob map lock poisoned")
            .get(&id)
        {
            return Ok(b.len() as u64);
        }
        self.inner.blob_size(id)
    }

    fn blob_reader(&self, id: ObjectId) -> Result<Box<dyn std::io::Read + Send>> {
        if let Some(b) = self
            .synthetic
            .blobs
            .read()
            .expect("blob map lock poisoned")
            .get(&id)
        {
            return Ok(Box::new(std::io::Cursor::new(ArcBytes(b.clone()))));
        }
        self.inner.blob_reader(id)
    }
}

fn short_id(kind: &str, content: &[u8]) -> ObjectId {
    let mut h = blake3::Hasher::new();
    h.update(kind.as_bytes());
    h.update(content);
    let mut id = [0u8; 20];
    id.copy_from_slice(&h.finalize().as_bytes()[..20]);
    ObjectId(id)
}

impl ObjectSource for MemoryObjects {
    fn tree(&self, id: ObjectId) -> Result<Arc<Tree>> {
        self.trees
            .read()
            .expect("tree map lock poisoned")
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::Object {
                id: id.hex(),
                message: "no such tree".into(),
            })
    }

    fn blob(&self, id: ObjectId) -> Result<Arc<[u8]>> {
        self.blobs
            .read()
            .expect("blob map lock poisoned")
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::Object {
                id: id.hex(),
                message: "no such blob".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: EntryKind) -> TreeEntry {
        TreeEntry {
            name: name.into(),
            kind,
            id: ObjectId([0; 20]),
        }
    }

    #[test]
    fn get_finds_files_and_folders_in_git_order_and_in_any_order() {
        // Git order: `a.b` < `a/` (the folder `a`) < `a0`.
        let tree = Tree {
            entries: vec![
                entry("a.b", EntryKind::Blob),
                entry("a", EntryKind::Tree),
                entry("a0", EntryKind::Executable),
            ],
        };
        assert_eq!(tree.get("a").map(|e| e.kind), Some(EntryKind::Tree));
        assert_eq!(tree.get("a.b").map(|e| e.kind), Some(EntryKind::Blob));
        assert_eq!(tree.get("a0").map(|e| e.kind), Some(EntryKind::Executable));
        assert!(tree.get("b").is_none());
        let unsorted = Tree {
            entries: vec![entry("z", EntryKind::Blob), entry("a", EntryKind::Blob)],
        };
        assert_eq!(unsorted.get("a").map(|e| e.name.as_str()), Some("a"));
        assert_eq!(unsorted.get("z").map(|e| e.name.as_str()), Some("z"));
    }
}
