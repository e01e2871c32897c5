//! werf-rs persistent store: content-addressed records shared across runs and processes.
//!
//! Layout: `HOME/v1/<namespace>/<2 hex>/<62 hex>`, one file per record. Each record is written to
//! `HOME/v1/tmp/` and renamed into place, so a reader sees a whole record or none, two processes
//! writing the same key both succeed, and a killed writer leaves at most a stray temp file (which
//! [`Store::open`] clears once it is an hour old). Each record carries a BLAKE3 checksum of its
//! namespace, key and payload: a damaged file, or a record moved or copied to another key, reads
//! as a miss and is removed, never as another key's data. [`Store::lock`] serialises
//! read-modify-write updates across processes.
//!
//! The store knows nothing of what it holds: callers pick namespaces and derive keys from the
//! content their values depend on, so a hit is always valid.
//!
//! - [`usage`]: what the store holds on disk, eviction by age and size, the running-process lock.
//! - [`pack`]: many records of a namespace in one file, for runs that make thousands.

pub mod pack;
pub mod usage;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Version of the on-disk layout; a new layout gets a new folder and ignores the old one.
pub const LAYOUT: &str = "v1";

/// Records of the first format (checksum of the payload alone) read as misses.
const MAGIC: &[u8; 4] = b"WRS2";

/// Temp files older than this are a killed writer's leftovers.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cache `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cache namespace `{0}` must be a plain folder name")]
    Namespace(String),
}

/// Result with the store's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A 32-byte key (a digest of everything the value depends on).
pub type Key = [u8; 32];

/// The store rooted at `HOME/v1`.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    /// Each namespace's packed records, read once per process (see [`pack`]).
    packs: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<pack::Index>>>,
    >,
}

impl Store {
    /// Opens (creating if needed) the store under `home`.
    pub fn open(home: &Path) -> Result<Self> {
        let root = home.join(LAYOUT);
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        let store = Store {
            root,
            packs: Default::default(),
        };
        // Best effort: a folder that cannot be cleaned now is cleaned by a later run.
        let _ = store.remove_stale_temp_files(STALE_TEMP);
        Ok(store)
    }

    /// Takes the exclusive lock `name` (a file under `locks/`), waiting for another process that
    /// holds it; released when the guard is dropped (or the holder dies).
    pub fn lock(&self, name: &str) -> Result<Lock> {
        self.lock_noting_wait(name).map(|(lock, _)| lock)
    }

    /// [`Store::lock`], also saying whether another holder had to be waited for (then what it
    /// guarded may have changed meanwhile).
    pub fn lock_noting_wait(&self, name: &str) -> Result<(Lock, bool)> {
        let dir = self.root.join("locks");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = dir.join(hex(&key_for_name("lock", name)));
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let waited = match file.try_lock() {
            Ok(()) => false,
            Err(fs::TryLockError::WouldBlock) => {
                file.lock().map_err(io_err(&path))?;
                true
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
        };
        Ok((Lock { _file: file }, waited))
    }

    /// The versioned root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, namespace: &str, key: &Key) -> Result<PathBuf> {
        if namespace.is_empty()
            || namespace == "tmp"
            || !namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Error::Namespace(namespace.to_string()));
        }
        let hex = hex(key);
        Ok(self.root.join(namespace).join(&hex[..2]).join(&hex[2..]))
    }

    /// The record under `key` (its own file, else the namespace's packs), or `None` when absent
    /// or damaged (a damaged record file is removed).
    pub fn get(&self, namespace: &str, key: &Key) -> Result<Option<Vec<u8>>> {
        let path = self.path(namespace, key)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(self.packed(namespace)?.get(key).cloned())
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        match decode(namespace, key, &bytes).map(|payload| bytes.len() - payload.len()) {
            Some(header) => {
                // The payload moved to the front in place: a large record is not copied again.
                let mut payload = bytes;
                payload.drain(..header);
                Ok(Some(payload))
            }
            None => {
                // Damaged (torn write after a power loss, disk error): drop it, report a miss.
                let _ = fs::remove_file(&path);
                Ok(None)
            }
        }
    }

    /// Writes the record under `key` atomically (temp file, then rename).
    pub fn put(&self, namespace: &str, key: &Key, value: &[u8]) -> Result<()> {
        self.write(namespace, key, value, false)
    }

    /// Like [`Store::put`], and the data reaches the disk (fsync) before the rename: for records
    /// that claim work was done.
    pub fn put_durable(&self, namespace: &str, key: &Key, value: &[u8]) -> Result<()> {
        self.write(namespace, key, value, true)
    }

    fn write(&self, namespace: &str, key: &Key, value: &[u8], durable: bool) -> Result<()> {
        self.write_with(namespace, key, durable, |w| w.write_all(value))
    }

    /// Like [`Store::put`], the payload written by `write` as it is made (a large record is
    /// never held whole in memory to be written). When `write` fails nothing is stored.
    pub fn put_streamed(
        &self,
        namespace: &str,
        key: &Key,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<()> {
        self.write_with(namespace, key, false, write)
    }

    /// Writes a record to a temp file (the checksum is summed as the payload goes by and put in
    /// its place at the end), then renames it into place whole.
    fn write_with(
        &self,
        namespace: &str,
        key: &Key,
        durable: bool,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<()> {
        use std::io::{Seek as _, SeekFrom};
        let path = self.path(namespace, key)?;
        let dir = path.parent().expect("record paths have a parent");
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let tmp_dir = self.root.join("tmp");
        let mut tmp = tempfile::Builder::new()
            .prefix("rec-")
            .tempfile_in(&tmp_dir)
            .map_err(io_err(&tmp_dir))?;
        let tmp_path = tmp.path().to_path_buf();
        let file = tmp.as_file_mut();
        // The header (the magic, and room for the checksum) is not summed.
        let mut header = [0; MAGIC.len() + 32];
        header[..MAGIC.len()].copy_from_slice(MAGIC);
        file.write_all(&header).map_err(io_err(&tmp_path))?;
        let mut hashing = Summed::new(&mut *file, checksum_start(namespace, key));
        write(&mut hashing).map_err(io_err(&tmp_path))?;
        let (file, checksum) = hashing.finish().map_err(io_err(&tmp_path))?;
        file.seek(SeekFrom::Start(MAGIC.len() as u64))
            .and_then(|_| file.write_all(checksum.as_bytes()))
            .map_err(io_err(&tmp_path))?;
        if durable {
            tmp.as_file().sync_all().map_err(io_err(&tmp_path))?;
        }
        tmp.persist(&path).map_err(|e| io_err(&path)(e.error))?;
        Ok(())
    }

    /// Removes the record under `key`, if any.
    pub fn remove(&self, namespace: &str, key: &Key) -> Result<()> {
        let path = self.path(namespace, key)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&path)(e)),
            _ => Ok(()),
        }
    }

    /// Deletes temp files older than `age` (left by killed writers); returns how many.
    pub fn remove_stale_temp_files(&self, age: Duration) -> Result<usize> {
        let tmp = self.root.join("tmp");
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in fs::read_dir(&tmp).map_err(io_err(&tmp))? {
            let entry = entry.map_err(io_err(&tmp))?;
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| now.duration_since(t).unwrap_or_default() >= age)
                .unwrap_or(false);
            if old && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A held [`Store::lock`].
#[derive(Debug)]
pub struct Lock {
    _file: fs::File,
}

/// The checksum binds the payload to where it belongs.
fn checksum(namespace: &str, key: &Key, value: &[u8]) -> blake3::Hash {
    let mut h = checksum_start(namespace, key);
    h.update(value);
    h.finalize()
}

/// The checksum of a record of `namespace` and `key`, before its payload.
fn checksum_start(namespace: &str, key: &Key) -> blake3::Hasher {
    let mut h = blake3::Hasher::new();
    h.update(namespace.as_bytes());
    h.update(&[0]);
    h.update(key);
    h
}

/// Bytes on their way to a file, written out and summed (a record's payload, a whole pack) in
/// chunks of [`Summed::CHUNK`]: a serializer's many small writes cost a copy each, and the hash
/// and the file see whole chunks (BLAKE3 hashes a large input several blocks at a time).
pub(crate) struct Summed<W: Write> {
    out: W,
    sum: blake3::Hasher,
    buf: Vec<u8>,
}

impl<W: Write> Summed<W> {
    const CHUNK: usize = 1 << 16;

    /// Sums into `sum` (which may have summed something else first).
    pub(crate) fn new(out: W, sum: blake3::Hasher) -> Self {
        Summed {
            out,
            sum,
            buf: Vec::with_capacity(Self::CHUNK),
        }
    }

    pub(crate) fn get_ref(&self) -> &W {
        &self.out
    }

    /// Writes out what is buffered; returns the destination and the sum of every byte.
    pub(crate) fn finish(mut self) -> io::Result<(W, blake3::Hash)> {
        self.flush()?;
        Ok((self.out, self.sum.finalize()))
    }

    fn drain(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.sum.update(&self.buf);
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl<W: Write> Write for Summed<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buf.len() + bytes.len() > Self::CHUNK {
            self.drain()?;
        }
        if bytes.len() >= Self::CHUNK {
            self.sum.update(bytes);
            self.out.write_all(bytes)?;
        } else {
            self.buf.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.out.flush()
    }
}

fn decode<'a>(namespace: &str, key: &Key, bytes: &'a [u8]) -> Option<&'a [u8]> {
    let rest = bytes.strip_prefix(MAGIC)?;
    if rest.len() < 32 {
        return None;
    }
    let (sum, payload) = rest.split_at(32);
    (checksum(namespace, key, payload).as_bytes() == sum).then_some(payload)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A key derived from a name (for records addressed by name, e.g. a project's last plan).
pub fn key_for_name(namespace_domain: &str, name: &str) -> Key {
    let mut h = blake3::Hasher::new();
    h.update(namespace_domain.as_bytes());
    h.update(&[0]);
    h.update(name.as_bytes());
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_versioned_layout() {
        let home = tempfile::tempdir().expect("tempdir");
        let s = Store::open(home.path()).expect("open");
        let k = key_for_name("t", "a");
        assert_eq!(s.get("listings", &k).expect("get"), None);
        s.put("listings", &k, b"value").expect("put");
        assert_eq!(
            s.get("listings", &k).expect("get").as_deref(),
            Some(&b"value"[..])
        );
        assert!(home.path().join("v1/listings").is_dir());
        s.put_durable("listings", &k, b"other").expect("put");
        assert_eq!(
            s.get("listings", &k).expect("get").as_deref(),
            Some(&b"other"[..])
        );
        s.remove("listings", &k).expect("remove");
        assert_eq!(s.get("listings", &k).expect("get"), None);
    }

    #[test]
    fn a_streamed_record_reads_as_a_whole_one_and_a_failed_stream_stores_nothing() {
        let home = tempfile::tempdir().expect("tempdir");
        let s = Store::open(home.path()).expect("open");
        let k = key_for_name("t", "a");
        // Larger than the write buffer, in pieces of every size: small ones that fill it, and
        // one larger than it while it holds a few bytes.
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        s.put_streamed("memo", &k, |w| {
            let mut rest = &big[..];
            for size in [3, 70_000, 1].into_iter().chain(std::iter::repeat(7_000)) {
                let (piece, after) = rest.split_at(size.min(rest.len()));
                w.write_all(piece)?;
                rest = after;
                if rest.is_empty() {
                    return Ok(());
                }
            }
            Ok(())
        })
        .expect("put");
        assert_eq!(s.get("memo", &k).expect("get").as_deref(), Some(&big[..]));
        // The same bytes as `put` writes.
        let streamed = fs::read(s.path("memo", &k).unwrap()).unwrap();
        s.put("memo", &k, &big).expect("put");
        assert_eq!(fs::read(s.path("memo", &k).unwrap()).unwrap(), streamed);
        // A stream that fails half-way leaves the record as it was, and no temp file.
        let failed = s.put_streamed("memo", &k, |w| {
            w.write_all(b"half of a record")?;
            Err(io::Error::other("the encoder gave up"))
        });
        assert!(failed.is_err());
        assert_eq!(s.get("memo", &k).expect("get").as_deref(), Some(&big[..]));
        assert_eq!(fs::read_dir(home.path().join("v1/tmp")).unwrap().count(), 0);
    }

    #[test]
    fn damaged_records_read_as_misses_and_are_removed() {
        let home = tempfile::tempdir().expect("tempdir");
        let s = Store::open(home.path()).expect("open");
        let k = key_for_name("t", "b");
        s.put("plans", &k, b"0123456789").expect("put");
        let path = s.path("plans", &k).expect("path");
        let mut bytes = fs::read(&path).expect("read");
        bytes.truncate(bytes.len() - 3); // a torn write
        fs::write(&path, bytes).expect("write");
        assert_eq!(s.get("plans", &k).expect("get"), None);
        assert!(!path.exists());
    }

    #[test]
    fn concurrent_writers_never_expose_partial_records() {
        let home = tempfile::tempdir().expect("tempdir");
        let s = Store::open(home.path()).expect("open");
        let k = key_for_name("t", "c");
        let big_a = vec![b'a'; 1 << 20];
        let big_b = vec![b'b'; 1 << 20];
        let (big_a, big_b) = (&big_a, &big_b);
        std::thread::scope(|scope| {
            for v in [big_a, big_b] {
                let s = s.clone();
                scope.spawn(move || {
                    for _ in 0..20 {
                        s.put("plans", &k, v).expect("put");
                    }
                });
            }
            let s = s.clone();
            scope.spawn(move || {
                for _ in 0..200 {
                    if let Some(v) = s.get("plans", &k).expect("get") {
                        assert!(&v == big_a || &v == big_b, "partial record seen");
                    }
                }
            });
        });
    }

    #[test]
    fn a_record_moved_to_another_key_is_a_miss() {
        let home = tempfile::tempdir().expect("tempdir");
        let s = Store::open(home.path()).expect("open");
        let (a, b) = (key_for_name("t", "a"), key_for_name("t", "b"));
        s.put("manifests", &a, b"sha256:aaaa").expect("put");
        s.put("manifests", &b, b"sha256:bbbb").expect("put");
        let (pa, pb) = (
            s.path("manifests", &a).expect("path"),
            s.path("manifests", &b).expect("path"),
        );
        // Swap the two files: each now sits under the other's key.
        let (da, db) = (fs::read(&pa).expect("read"), fs::read(&pb).expect("read"));
        fs::write(&pa, db).expect("write");
        fs::write(&pb, da).expect("write");
        assert_eq!(s.get("manifests", &a).expect("get"), None);
        assert_eq!(s.get("manifests", &b).expect("get"), None);
        // The same key in another namespace is another record too.
        s.put("manifests", &a, b"x").expect("put");
        fs::create_dir_all(s.path("plans", &a).expect("path").parent().expect("parent"))
            .expect("mkdir");
        fs::copy(&pa, s.path("plans", &a).expect("path")).expect("copy");
        assert_eq!(s.get("plans", &a).expect("get"), None);
    }

    #[test]
    fn locks_exclude_each_other() {
        let home = tempfile::tempdir().expect("tempdir");
        let s = Store::open(home.path()).expect("open");
        let counter = std::sync::Mutex::new((0u32, 0u32));
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..25 {
                        let _held = s.lock("plans").expect("lock");
                        let mut c = counter.lock().expect("mutex");
                        c.0 += 1;
                        c.1 = c.1.max(c.0);
                        drop(c);
                        std::thread::yield_now();
                        counter.lock().expect("mutex").0 -= 1;
                    }
                });
            }
        });
        assert_eq!(counter.lock().expect("mutex").1, 1, "two holders at once");
    }

    #[test]
    fn stale_temp_files_are_cleared_and_bad_namespaces_refused() {
        let home = tempfile::tempdir().expect("tempdir");
        let s = Store::open(home.path()).expect("open");
        fs::write(s.root().join("tmp/rec-killed"), b"half").expect("write");
        assert_eq!(s.remove_stale_temp_files(Duration::ZERO).expect("clean"), 1);
        assert!(matches!(s.get("../x", &[0; 32]), Err(Error::Namespace(_))));
    }
}
