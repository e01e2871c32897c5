//! The Git index read as a stream, for the dirty check's common case: each entry's stat data,
//! mode and blob id in batches through a fixed buffer (never the whole file decoded, as `git
//! status` never needs it), and the cache-tree's root id. Only the plain index is read here
//! (versions 2 to 4, SHA-1, no split or sparse index, no conflicts, no extended or assume-valid
//! flags); anything else, malformed files included, is [`Unsupported`] and the caller reads the
//! index through gix, which supports it all and names the error.

use std::io::Read;
use std::ops::Range;
use std::path::Path;

use gix::index::entry::{stat::Time, Mode, Stat};
use werf_graph::ObjectId;

/// The stream's read size; an entry longer than this (a path over ~1 MiB) is unsupported. Tests
/// use a small one, so their indexes cross many refills.
const BUFFER: usize = if cfg!(test) { 8 << 10 } else { 1 << 20 };
/// Enough of the cache-tree extension for its root record (an empty name, two counts, an id).
const TREE_ROOT: usize = 64;
/// Entries handed over at once.
const BATCH: usize = 4096;
/// The fixed part of an entry: ten 32-bit fields, the blob id and the flags.
const FIXED: usize = 62;

/// Why the stream cannot read this index (the caller falls back to gix).
#[derive(Debug, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// One entry's recorded state.
#[derive(Clone, Copy, Debug)]
pub struct Indexed {
    pub stat: Stat,
    pub mode: Mode,
    pub id: ObjectId,
}

/// Up to [`BATCH`] entries in index order, their paths in one buffer.
#[derive(Default)]
pub struct Batch {
    paths: Vec<u8>,
    entries: Vec<(Range<usize>, Indexed)>,
}

impl Batch {
    /// The entries, each with its path (raw bytes, `/`-separated, as Git stores them).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Indexed)> + '_ {
        self.entries
            .iter()
            .map(|(range, entry)| (&self.paths[range.clone()], entry))
    }

    /// The entries as a slice, for splitting across threads; see [`Batch::path`].
    pub fn entries(&self) -> &[(Range<usize>, Indexed)] {
        &self.entries
    }

    /// The path of an entry from [`Batch::entries`].
    pub fn path(&self, range: &Range<usize>) -> &[u8] {
        &self.paths[range.clone()]
    }

    fn clear(&mut self) {
        self.paths.clear();
        self.entries.clear();
    }
}

/// What reading the whole index established.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub entries: u32,
    /// The cache-tree's root: the tree the index equals, when the extension is there and valid.
    pub root_tree: Option<ObjectId>,
}

/// Reads the index at `path`, handing every entry to `each` in batches, in index order.
/// `Ok(Err(Unsupported))` is returned for anything this reader does not handle; `each`'s own
/// error stops the read.
pub fn read<E>(
    path: &Path,
    mut each: impl FnMut(&Batch) -> Result<(), E>,
) -> Result<Result<Summary, Unsupported>, E> {
    let no = |why: &str| Ok(Err(Unsupported(why.to_string())));
    let Ok(file) = std::fs::File::open(path) else {
        return no("the index cannot be opened");
    };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return no("the index cannot be read");
    };
    let mut s = Stream {
        file,
        buf: Vec::with_capacity(BUFFER),
        at: 0,
        consumed: 0,
    };
    // Header: signature, version, entry count.
    let Some(header) = s.take(12) else {
        return no("the index is shorter than its header");
    };
    if &header[..4] != b"DIRC" {
        return no("the index has no `DIRC` signature");
    }
    let version = be32(&header[4..8]);
    let count = be32(&header[8..12]);
    if !(2..=4).contains(&version) {
        return no("an index version other than 2, 3 or 4");
    }
    let mut batch = Batch::default();
    let mut previous: Vec<u8> = Vec::new();
    for _ in 0..count {
        match s.entry(version, &mut previous, &mut batch) {
            Ok(()) => {}
            Err(why) => return no(why),
        }
        if batch.entries.len() == BATCH {
            each(&batch)?;
            batch.clear();
        }
    }
    if !batch.entries.is_empty() {
        each(&batch)?;
    }
    // Extensions, up to the trailing 20-byte checksum.
    let Some(end) = len.checked_sub(20) else {
        return no("the index has no checksum");
    };
    let mut root_tree = None;
    while s.consumed < end {
        let Some(head) = s.take(8) else {
            return no("a truncated extension header");
        };
        let (signature, size) = ([head[0], head[1], head[2], head[3]], be32(&head[4..8]));
        if s.consumed + u64::from(size) > end {
            return no("an extension runs past the end of the index");
        }
        match &signature {
            b"TREE" => {
                // The root record comes first: its empty name, then what it covers.
                let head = (size as usize).min(TREE_ROOT);
                let Some(data) = s.take(head) else {
                    return no("a truncated cache-tree extension");
                };
                root_tree = cache_tree_root(data);
                if s.skip(u64::from(size) - head as u64).is_none() {
                    return no("a truncated cache-tree extension");
                }
            }
            // Split and sparse indexes keep entries elsewhere or as folders.
            b"link" | b"sdir" => return no("a split or sparse index"),
            // An optional extension (upper case first) is skipped; a required one is not known.
            [first, ..] if first.is_ascii_uppercase() => {
                if s.skip(u64::from(size)).is_none() {
                    return no("a truncated extension");
                }
            }
            _ => return no("a required extension this reader does not know"),
        }
    }
    if s.consumed != end {
        return no("the extensions do not end at the checksum");
    }
    Ok(Ok(Summary {
        entries: count,
        root_tree,
    }))
}

/// The root tree id of a cache-tree extension, `None` when the root is invalidated (`-1`).
fn cache_tree_root(data: &[u8]) -> Option<ObjectId> {
    let (name, rest) = data.split_at(data.iter().position(|&b| b == 0)?);
    if !name.is_empty() {
        return None;
    }
    let rest = &rest[1..];
    let line_end = rest.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&rest[..line_end]).ok()?;
    let (entries, _subtrees) = line.split_once(' ')?;
    if entries.parse::<i64>().ok()? < 0 {
        return None;
    }
    let id = rest.get(line_end + 1..line_end + 21)?;
    let mut out = [0u8; 20];
    out.copy_from_slice(id);
    Some(ObjectId(out))
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A file read through one fixed buffer.
struct Stream {
    file: std::fs::File,
    buf: Vec<u8>,
    at: usize,
    /// Bytes of the file handed out so far.
    consumed: u64,
}

impl Stream {
    /// Makes `n` bytes available at `at`; `false` at the end of the file or past the buffer.
    fn fill(&mut self, n: usize) -> bool {
        if self.buf.len() - self.at >= n {
            return true;
        }
        if n > BUFFER {
            return false;
        }
        self.buf.drain(..self.at);
        self.at = 0;
        while self.buf.len() < n {
            let had = self.buf.len();
            self.buf.resize(BUFFER, 0);
            match self.file.read(&mut self.buf[had..]) {
                Ok(0) | Err(_) => {
                    self.buf.truncate(had);
                    return false;
                }
                Ok(got) => self.buf.truncate(had + got),
            }
        }
        true
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if !self.fill(n) {
            return None;
        }
        let out = &self.buf[self.at..self.at + n];
        self.at += n;
        self.consumed += n as u64;
        Some(out)
    }

    fn skip(&mut self, mut n: u64) -> Option<()> {
        while n > 0 {
            let step = n.min(BUFFER as u64) as usize;
            self.take(step)?;
            n -= step as u64;
        }
        Some(())
    }

    /// Reads one entry into `batch`.
    fn entry(
        &mut self,
        version: u32,
        previous: &mut Vec<u8>,
        batch: &mut Batch,
    ) -> Result<(), &'static str> {
        let fixed = self.take(FIXED).ok_or("a truncated entry")?;
        let field = |i: usize| be32(&fixed[i * 4..i * 4 + 4]);
        let stat = Stat {
            ctime: Time {
                secs: field(0),
                nsecs: field(1),
            },
            mtime: Time {
                secs: field(2),
                nsecs: field(3),
            },
            dev: field(4),
            ino: field(5),
            uid: field(7),
            gid: field(8),
            size: field(9),
        };
        let mode = match field(6) {
            m @ (0o100644 | 0o100755 | 0o120000 | 0o160000) => Mode::from_bits_retain(m),
            0o040000 => return Err("a sparse folder entry"),
            _ => return Err("an entry with an unknown mode"),
        };
        let mut id = [0u8; 20];
        id.copy_from_slice(&fixed[40..60]);
        let flags = u16::from_be_bytes([fixed[60], fixed[61]]);
        if flags & 0x8000 != 0 {
            return Err("an assume-valid entry");
        }
        if flags & 0x3000 != 0 {
            return Err("a conflicted entry");
        }
        let mut header_len = FIXED;
        if flags & 0x4000 != 0 {
            if version < 3 {
                return Err("extended flags in a version 2 index");
            }
            let extended = self.take(2).ok_or("a truncated entry")?;
            if extended != [0, 0] {
                return Err("an entry with skip-worktree or intent-to-add");
            }
            header_len += 2;
        }
        let name_len = usize::from(flags & 0xfff);
        let start = batch.paths.len();
        previous_path(self, version, header_len, name_len, previous)?;
        if previous.is_empty() || (name_len < 0xfff && previous.len() != name_len) {
            return Err("an entry's path length disagrees with its flags");
        }
        batch.paths.extend_from_slice(previous);
        batch.entries.push((
            start..batch.paths.len(),
            Indexed {
                stat,
                mode,
                id: ObjectId(id),
            },
        ));
        Ok(())
    }

    /// Git's offset varint (each continuation adds one before shifting).
    fn varint(&mut self) -> Option<usize> {
        let mut byte = self.take(1)?[0];
        let mut value = usize::from(byte & 0x7f);
        while byte & 0x80 != 0 {
            byte = self.take(1)?[0];
            value = value
                .checked_add(1)?
                .checked_mul(128)?
                .checked_add(usize::from(byte & 0x7f))?;
        }
        Some(value)
    }

    /// The bytes up to the next NUL (which is consumed, not returned).
    fn until_nul(&mut self) -> Option<&[u8]> {
        let mut want = 1;
        loop {
            if !self.fill(want) {
                return None;
            }
            if let Some(i) = self.buf[self.at..].iter().position(|&b| b == 0) {
                let out = &self.buf[self.at..self.at + i];
                self.at += i + 1;
                self.consumed += i as u64 + 1;
                return Some(out);
            }
            want = self.buf.len() - self.at + 1;
        }
    }
}

/// Reads an entry's path into `previous` (which holds the last entry's path, for version 4's
/// prefix compression), with version 2 and 3's NUL padding to a multiple of eight.
fn previous_path(
    s: &mut Stream,
    version: u32,
    header_len: usize,
    name_len: usize,
    previous: &mut Vec<u8>,
) -> Result<(), &'static str> {
    if version == 4 {
        // The length of the previous path to drop, then the rest of this one; no padding.
        let strip = s.varint().ok_or("a truncated entry")?;
        let keep = previous
            .len()
            .checked_sub(strip)
            .ok_or("a path prefix longer than the previous path")?;
        previous.truncate(keep);
        let suffix = s.until_nul().ok_or("a truncated entry path")?;
        previous.extend_from_slice(suffix);
        return Ok(());
    }
    previous.clear();
    // Bytes of padding (the first NUL included) still to read after the name.
    let pad = if name_len < 0xfff {
        previous.extend_from_slice(s.take(name_len).ok_or("a truncated entry path")?);
        let unpadded = header_len + name_len;
        ((unpadded + 8) & !7) - unpadded
    } else {
        // A name of 4095 bytes or more: up to its NUL, which is the padding's first byte.
        previous.extend_from_slice(s.until_nul().ok_or("a truncated entry path")?);
        let unpadded = header_len + previous.len();
        ((unpadded + 8) & !7) - unpadded - 1
    };
    let padding = s.take(pad).ok_or("a truncated entry")?;
    if padding.iter().any(|&b| b != 0) {
        return Err("an entry's padding is not NUL");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "core.fsmonitor=false",
            ])
            .args(args)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        git(dir.path(), &["init", "-q"]);
        std::fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
        std::fs::write(dir.path().join("a/b/one.txt"), "one").expect("write");
        std::fs::write(dir.path().join("a/two.txt"), "two").expect("write");
        std::fs::write(dir.path().join("run.sh"), "#!/bin/sh").expect("write");
        std::os::unix::fs::symlink("a/two.txt", dir.path().join("link")).expect("symlink");
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["update-index", "--chmod=+x", "run.sh"]);
        git(dir.path(), &["commit", "-qm", "one"]);
        dir
    }

    type Row = (Vec<u8>, u32, ObjectId, Stat);

    fn streamed(dir: &Path) -> Result<(Vec<Row>, Summary), Unsupported> {
        let mut rows = Vec::new();
        let summary = read(&dir.join(".git/index"), |batch| {
            rows.extend(
                batch
                    .iter()
                    .map(|(p, e)| (p.to_vec(), e.mode.bits(), e.id, e.stat)),
            );
            Ok::<(), ()>(())
        })
        .expect("no error of ours")?;
        Ok((rows, summary))
    }

    fn by_gix(dir: &Path) -> Vec<Row> {
        let index = gix::index::File::at(
            dir.join(".git/index"),
            gix::hash::Kind::Sha1,
            false,
            Default::default(),
        )
        .expect("gix reads the index");
        index
            .entries()
            .iter()
            .map(|e| {
                let mut id = [0u8; 20];
                id.copy_from_slice(e.id.as_bytes());
                (e.path(&index).to_vec(), e.mode.bits(), ObjectId(id), e.stat)
            })
            .collect()
    }

    fn head_tree(dir: &Path) -> ObjectId {
        let hex = git(dir, &["rev-parse", "HEAD^{tree}"]);
        let mut id = [0u8; 20];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).expect("hex");
        }
        ObjectId(id)
    }

    #[test]
    fn entries_read_as_gix_reads_them_in_versions_2_and_4() {
        let dir = repo();
        // Folders enough for a cache-tree longer than the test's buffer.
        for i in 0..300 {
            let folder = dir.path().join(format!("many/folder-{i:03}"));
            std::fs::create_dir_all(&folder).expect("mkdir");
            std::fs::write(folder.join("f"), "f").expect("write");
        }
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-qm", "many"]);
        let tree_size = {
            let bytes = std::fs::read(dir.path().join(".git/index")).expect("read");
            let at = bytes
                .windows(4)
                .position(|w| w == b"TREE")
                .expect("a cache-tree");
            be32(&bytes[at + 4..at + 8]) as usize
        };
        assert!(tree_size > BUFFER, "{tree_size}");
        let blob = git(dir.path(), &["hash-object", "-w", "a/two.txt"]);
        // A path of 4095 bytes or more (its length does not fit the flags): in the index only.
        let long = format!("{}/{}", "d".repeat(200), "n".repeat(4000));
        for version in ["2", "4"] {
            git(dir.path(), &["update-index", "--index-version", version]);
            let (rows, summary) = streamed(dir.path()).expect("a plain index");
            assert_eq!(rows.len(), 304);
            assert_eq!(rows, by_gix(dir.path()), "version {version}");
            assert_eq!(summary.root_tree, Some(head_tree(dir.path())));
            assert_eq!(summary.entries, 304);
        }
        git(
            dir.path(),
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("100644,{},{long}", blob.trim()),
            ],
        );
        for version in ["4", "2"] {
            git(dir.path(), &["update-index", "--index-version", version]);
            let (rows, summary) = streamed(dir.path()).expect("a plain index");
            assert_eq!(rows.len(), 305);
            assert!(rows.iter().any(|r| r.0 == long.as_bytes()));
            assert_eq!(rows, by_gix(dir.path()), "version {version}");
            // The new entry invalidated the cache-tree's root.
            assert_eq!(summary.root_tree, None);
        }
    }

    #[test]
    fn what_it_does_not_read_is_unsupported_and_named() {
        let cases: [(&[&str], &str); 3] = [
            (&["add", "-N", "new.txt"], "skip-worktree or intent-to-add"),
            (
                &["update-index", "--assume-unchanged", "a/two.txt"],
                "assume-valid",
            ),
            // The split index's own entries come first, then its `link`: refused either way.
            (&["update-index", "--split-index"], ""),
        ];
        for (args, why) in cases {
            let dir = repo();
            std::fs::write(dir.path().join("new.txt"), "new").expect("write");
            assert!(streamed(dir.path()).is_ok(), "plain before {args:?}");
            git(dir.path(), args);
            let got = streamed(dir.path()).expect_err("unsupported");
            assert!(got.0.contains(why), "{args:?}: {got:?}");
        }
    }

    #[test]
    fn damaged_indexes_never_panic_and_truncated_ones_are_unsupported() {
        let dir = repo();
        let path = dir.path().join(".git/index");
        let whole = std::fs::read(&path).expect("read");
        assert!(streamed(dir.path()).is_ok());
        let entries = streamed(dir.path()).expect("whole").0;
        let mut refused = 0;
        for cut in 0..whole.len() {
            std::fs::write(&path, &whole[..cut]).expect("write");
            match streamed(dir.path()) {
                Err(_) => refused += 1,
                // A cut that leaves whole entries and 20 bytes after them reads as an index
                // without extensions (the checksum is not verified, as Git does not): never with
                // a root tree, so the dirty check reads it with gix, which refuses it.
                Ok((rows, summary)) => {
                    assert_eq!(summary.root_tree, None, "cut at {cut}");
                    assert_eq!(rows, entries, "cut at {cut}");
                }
            }
        }
        assert!(refused >= whole.len() - 1, "{refused} of {}", whole.len());
        // Every byte flipped in turn: read or refused, never a panic or a hang.
        let mut read_anyway = 0;
        for at in 0..whole.len() {
            let mut bytes = whole.clone();
            bytes[at] ^= 0xff;
            std::fs::write(&path, &bytes).expect("write");
            read_anyway += usize::from(streamed(dir.path()).is_ok());
        }
        // Flips in stat fields and ids are not checked (the checksum is not, as in Git).
        assert!(read_anyway > 0 && read_anyway < whole.len());
    }
}
