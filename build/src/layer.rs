//! Reproducible layers, streamed: a layer is a tar of entries sorted by path, every parent
//! folder written, mtime 0, uid/gid 0, modes as Git records them, gzip with a zero header mtime
//! and a fixed level, so the same files give the same digest on any machine.
//!
//! Nothing large is held in memory: a file's content is a reference (a Git blob read when the
//! layer is written, or a range of a spool file where unpacked archives and pulled layers put
//! theirs), and a layer streams tar -> gzip -> an unnamed temp file while both digests are
//! computed on the way. Pushes read the layer back from that file.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};
use werf_graph::{ObjectId, ObjectSource};

use super::oci::{Descriptor, LAYER_GZIP};

/// Where a file's bytes are.
#[derive(Clone, Debug)]
pub enum Content {
    /// A blob of the object source (read when the layer is written).
    Blob { id: ObjectId, size: u64 },
    /// A range of a spool file.
    Spool {
        spool: Arc<Spool>,
        offset: u64,
        len: u64,
    },
}

impl PartialEq for Content {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Content::Blob { id: a, .. }, Content::Blob { id: b, .. }) => a == b,
            (
                Content::Spool {
                    spool: a,
                    offset: oa,
                    len: la,
                },
                Content::Spool {
                    spool: b,
                    offset: ob,
                    len: lb,
                },
            ) => Arc::ptr_eq(a, b) && oa == ob && la == lb,
            _ => false,
        }
    }
}

impl Eq for Content {}

impl Content {
    /// The size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Content::Blob { size, .. } => *size,
            Content::Spool { len, .. } => *len,
        }
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A stream of the bytes.
    pub fn reader<'a>(
        &'a self,
        objects: &'a dyn ObjectSource,
    ) -> std::io::Result<Box<dyn Read + Send + 'a>> {
        Ok(match self {
            Content::Blob { id, .. } => objects.blob_reader(*id).map_err(std::io::Error::other)?,
            Content::Spool { spool, offset, len } => Box::new(At {
                file: &spool.file,
                pos: *offset,
                end: offset + len,
            }),
        })
    }

    /// The bytes, read whole.
    #[cfg(test)]
    pub fn to_vec(&self, objects: &dyn ObjectSource) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len().min(1 << 20) as usize);
        self.reader(objects)?.read_to_end(&mut out)?;
        Ok(out)
    }
}

/// What a layer entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Dir { mode: u32 },
    File { mode: u32, data: Content },
    Symlink { target: String },
}

/// A file system as a sorted map of absolute-less paths (`usr/bin/app`).
pub type Tree = BTreeMap<String, Node>;

/// An entry of a file system tree: whether it is a folder is all unpacking needs to know.
pub trait FsNode: Clone {
    fn is_dir(&self) -> bool;
}

impl FsNode for Node {
    fn is_dir(&self) -> bool {
        matches!(self, Node::Dir { .. })
    }
}

/// The folders above `path`, nearest first (`a/b/c` -> `a/b`, `a`).
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(path.rsplit_once('/').map(|(p, _)| p), |p| {
        p.rsplit_once('/').map(|(q, _)| q)
    })
}

/// Removes every entry below the folder `dir` (`dir/...`): they sort together, so this costs
/// what is removed, not a pass over the whole tree.
pub fn remove_below<N>(tree: &mut BTreeMap<String, N>, dir: &str) {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let below: Vec<String> = tree
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for k in below {
        tree.remove(&k);
    }
}

/// Puts `node` at `path` as unpacking a layer does: a file or link replaces what was below it.
pub fn place<N: FsNode>(tree: &mut BTreeMap<String, N>, path: String, node: N) {
    if !node.is_dir() {
        remove_below(tree, &path);
    }
    tree.insert(path, node);
}

/// What one entry of a layer does to the file system below it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Op<N> {
    /// `.wh..wh..opq`: the folder's entries so far are gone (the path is the folder's).
    Opaque,
    /// `.wh.NAME`: the entry and everything below it are gone (the path is the hidden one's).
    Whiteout,
    /// A hard link: a copy of the entry at `target` as it is at that point, if any.
    Link { target: String },
    /// An entry, replacing what was at its path.
    Put(N),
}

/// Applies one operation of a layer to `tree`.
pub fn apply_op<N: FsNode>(tree: &mut BTreeMap<String, N>, path: String, op: Op<N>) {
    match op {
        Op::Opaque => remove_below(tree, &path),
        Op::Whiteout => {
            remove_below(tree, &path);
            tree.remove(&path);
        }
        Op::Link { target } => {
            if let Some(n) = tree.get(&target).cloned() {
                place(tree, path, n);
            }
        }
        Op::Put(node) => place(tree, path, node),
    }
}

/// An unnamed temp file that unpacked files are appended to (gone when the last user drops it,
/// or when the process dies).
#[derive(Debug)]
pub struct Spool {
    file: std::fs::File,
    len: Mutex<u64>,
}

impl Spool {
    pub fn new() -> std::io::Result<Arc<Spool>> {
        Ok(Arc::new(Spool {
            file: tempfile::tempfile()?,
            len: Mutex::new(0),
        }))
    }

    /// Appends what `from` yields, returning the content. (Sizes are bounded by the callers'
    /// readers: the archive limits, a layer's own size.)
    pub fn append(self: &Arc<Self>, from: &mut dyn Read) -> std::io::Result<Content> {
        let mut len = self.len.lock().expect("spool lock poisoned");
        let offset = *len;
        let mut to = AtWriter {
            file: &self.file,
            pos: offset,
        };
        let written = std::io::copy(from, &mut to)?;
        *len = offset + written;
        Ok(Content::Spool {
            spool: self.clone(),
            offset,
            len: written,
        })
    }
}

/// Positional writes into a file from `pos` on.
struct AtWriter<'a> {
    file: &'a std::fs::File,
    pos: u64,
}

impl Write for AtWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Positional reads of a range of a file (no shared cursor, so many readers can share it).
struct At<'a> {
    file: &'a std::fs::File,
    pos: u64,
    end: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// A built layer: its gzip'd bytes in an unnamed temp file.
#[derive(Clone, Debug)]
pub struct Layer {
    file: Arc<std::fs::File>,
    pub size: u64,
    pub digest: String,
    pub diff_id: String,
}

impl Layer {
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: LAYER_GZIP.into(),
            digest: self.digest.clone(),
            size: self.size as i64,
            platform: None,
        }
    }

    /// The gzip'd bytes, as a stream.
    pub fn reader(&self) -> impl Read + Send + '_ {
        At {
            file: &self.file,
            pos: 0,
            end: self.size,
        }
    }

    /// The file the bytes are in and their length (for uploads that read it themselves).
    pub fn file(&self) -> (Arc<std::fs::File>, u64) {
        (self.file.clone(), self.size)
    }
}

/// A writer that hashes what passes through and counts it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    count: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn digest_of(h: Sha256) -> String {
    format!("sha256:{}", werf_graph::digest::hex(&h.finalize()))
}

/// Writes `entries` as a reproducible gzipped tar (parent folders added as 0755 when missing),
/// streaming file contents from where they are.
#[cfg(test)]
pub fn build_layer(entries: &Tree, objects: &dyn ObjectSource) -> std::io::Result<Layer> {
    build_layer_owned(entries, objects, None)
}

/// [`build_layer`] with `entries` (not the parent folders added for them) owned by
/// `owner` (uid, gid) instead of root (`COPY --chown`).
pub fn build_layer_owned(
    entries: &Tree,
    objects: &dyn ObjectSource,
    owner: Option<(u64, u64)>,
) -> std::io::Result<Layer> {
    let mut parents: Tree = Tree::new();
    for parent in entries.keys().flat_map(|p| ancestors(p)) {
        if !entries.contains_key(parent) {
            parents
                .entry(parent.to_string())
                .or_insert(Node::Dir { mode: 0o755 });
        }
    }
    let mut all: Vec<(&String, &Node)> = entries.iter().chain(parents.iter()).collect();
    all.sort_by(|a, b| a.0.cmp(b.0));

    let file = Arc::new(tempfile::tempfile()?);
    let gz_out = Hashing {
        inner: std::io::BufWriter::with_capacity(1 << 20, &*file),
        hash: Sha256::new(),
        count: 0,
    };
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(gz_out, flate2::Compression::new(6));
    let tar_out = Hashing {
        inner: gz,
        hash: Sha256::new(),
        count: 0,
    };
    let mut tar = tar::Builder::new(tar_out);
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, node) in all {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        let (uid, gid) = match owner {
            Some(o) if entries.contains_key(path.as_str()) => o,
            _ => (0, 0),
        };
        h.set_uid(uid);
        h.set_gid(gid);
        match node {
            Node::Dir { mode } => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_size(0);
                tar.append_data(&mut h, format!("{path}/"), std::io::empty())?;
            }
            Node::File { mode, data } => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len());
                let reader = data.reader(objects)?;
                // A content shorter or longer than announced would make a corrupt tar.
                let mut exact = ExactLen {
                    inner: reader,
                    left: data.len(),
                    path,
                };
                tar.append_data(&mut h, path, &mut exact)?;
                exact.finish()?;
            }
            Node::Symlink { target } => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                tar.append_link(&mut h, path, target)?;
            }
        }
    }
    let tar_out = tar.into_inner()?;
    let diff_id = digest_of(tar_out.hash);
    let gz_out = tar_out.inner.finish()?;
    let digest = digest_of(gz_out.hash);
    let size = gz_out.count;
    gz_out.inner.into_inner().map_err(|e| e.into_error())?;
    Ok(Layer {
        file: Arc::clone(&file),
        size,
        digest,
        diff_id,
    })
}

/// A reader that must yield exactly `left` bytes.
struct ExactLen<'a, R> {
    inner: R,
    left: u64,
    path: &'a str,
}

impl<R: Read> Read for ExactLen<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self.left.min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::other(format!(
                "`{}` ended {} bytes early",
                self.path, self.left
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl<R: Read> ExactLen<'_, R> {
    fn finish(mut self) -> std::io::Result<()> {
        let mut probe = [0u8; 1];
        // The tar builder stops at the size; a longer source would be silently cut.
        match self.inner.read(&mut probe)? {
            0 => Ok(()),
            _ => Err(std::io::Error::other(format!(
                "`{}` is longer than when it was hashed",
                self.path
            ))),
        }
    }
}

/// What a regular file of a layer is turned into by [`read_layer`]'s caller: its mode and a
/// stream of its bytes.
pub struct FileEntry<'a> {
    pub mode: u32,
    pub reader: &'a mut dyn Read,
}

/// An entry of a layer, before its file's bytes are taken: a file, or an operation whose
/// node needs no bytes.
pub enum Entry<'a> {
    File(FileEntry<'a>),
    Other(Op<Node>),
}

/// Reads a (possibly gzipped) layer's entries in order, each as the operation it does to the
/// file system below; `each` gets the entry's path and what it is.
pub fn read_layer(
    blob: impl Read,
    mut each: impl FnMut(String, Entry<'_>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut blob = std::io::BufReader::with_capacity(1 << 20, blob);
    let gzipped = std::io::BufRead::fill_buf(&mut blob)?.starts_with(&[0x1f, 0x8b]);
    let raw: Box<dyn Read> = if gzipped {
        Box::new(flate2::read::GzDecoder::new(blob))
    } else {
        Box::new(blob)
    };
    let mut archive = tar::Archive::new(werf_graph::tar_guard::TarGuard::new(raw));
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if path.is_empty() || path == "." {
            continue;
        }
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if name == ".wh..wh..opq" {
            each(dir.to_string(), Entry::Other(Op::Opaque))?;
            continue;
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let target = if dir.is_empty() {
                hidden.to_string()
            } else {
                format!("{dir}/{hidden}")
            };
            each(target, Entry::Other(Op::Whiteout))?;
            continue;
        }
        let mode = entry.header().mode().unwrap_or(0o644);
        let op = match entry.header().entry_type() {
            tar::EntryType::Directory => Op::Put(Node::Dir { mode }),
            tar::EntryType::Symlink => Op::Put(Node::Symlink {
                target: entry
                    .link_name()?
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            }),
            tar::EntryType::Link => Op::Link {
                target: entry
                    .link_name()?
                    .map(|l| l.to_string_lossy().trim_start_matches("./").to_string())
                    .unwrap_or_default(),
            },
            _ => {
                each(
                    path,
                    Entry::File(FileEntry {
                        mode,
                        reader: &mut entry,
                    }),
                )?;
                continue;
            }
        };
        each(path, Entry::Other(op))?;
    }
    Ok(())
}

/// Applies a (possibly gzipped) layer to `tree`, honouring whiteouts; file contents go to `spool`.
pub fn apply_layer(tree: &mut Tree, blob: impl Read, spool: &Arc<Spool>) -> std::io::Result<()> {
    read_layer(blob, |path, entry| {
        let op = match entry {
            Entry::File(f) => Op::Put(Node::File {
                mode: f.mode,
                data: spool.append(f.reader)?,
            }),
            Entry::Other(op) => op,
        };
        apply_op(tree, path, op);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use werf_graph::objects::MemoryObjects;

    fn file(data: &[u8], mode: u32) -> Node {
        let spool = Spool::new().expect("spool");
        let data = spool.append(&mut &data[..]).expect("append");
        Node::File { mode, data }
    }

    #[test]
    fn layers_are_reproducible_and_round_trip() {
        let objects = MemoryObjects::new();
        let mut t = Tree::new();
        t.insert("app/bin/run".into(), file(b"#!/bin/sh\n", 0o755));
        t.insert(
            "app/link".into(),
            Node::Symlink {
                target: "bin/run".into(),
            },
        );
        let a = build_layer(&t, &objects).expect("layer");
        let b = build_layer(&t.clone(), &objects).expect("layer");
        assert_eq!(a.digest, b.digest);
        assert_eq!(a.diff_id, b.diff_id);
        let spool = Spool::new().expect("spool");
        let mut back = Tree::new();
        apply_layer(&mut back, a.reader(), &spool).expect("apply");
        match back.get("app/bin/run") {
            Some(Node::File { mode, data }) => {
                assert_eq!(*mode, 0o755);
                assert_eq!(data.to_vec(&objects).expect("read"), b"#!/bin/sh\n");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(back.get("app"), Some(&Node::Dir { mode: 0o755 }));
        let mut wh = Tree::new();
        wh.insert("app/.wh.link".into(), file(b"", 0o644));
        let wl = build_layer(&wh, &objects).expect("layer");
        apply_layer(&mut back, wl.reader(), &spool).expect("apply");
        assert!(!back.contains_key("app/link"));
    }

    #[test]
    fn placing_a_file_replaces_what_was_below_its_path_only() {
        let mut t = Tree::new();
        for p in ["a", "a/x", "a/y/z", "a-b", "ab"] {
            t.insert(p.into(), Node::Dir { mode: 0o755 });
        }
        place(&mut t, "a".into(), file(b"f", 0o644));
        assert_eq!(t.keys().collect::<Vec<_>>(), ["a", "a-b", "ab"]);
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a/b", "a"]);
        assert_eq!(ancestors("a").count(), 0);
    }

    #[test]
    fn a_content_of_the_wrong_length_is_an_error_not_a_corrupt_layer() {
        let objects = MemoryObjects::new();
        let spool = Spool::new().expect("spool");
        let short = spool.append(&mut &b"abc"[..]).expect("append");
        let Content::Spool { spool, offset, .. } = short else {
            panic!("a spool content")
        };
        let mut t = Tree::new();
        t.insert(
            "f".into(),
            Node::File {
                mode: 0o644,
                data: Content::Spool {
                    spool,
                    offset,
                    len: 10,
                },
            },
        );
        let e = build_layer(&t, &objects).expect_err("a short content");
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
    }
}
