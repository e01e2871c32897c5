//! Packed records: many records of one namespace in one file, so a run that makes thousands of
//! small records (a cold plan of a monorepo) writes one file, not thousands.
//!
//! A pack is `HOME/v1/<namespace>/packs/<name>`: `WRSP`, then each record as its 32-byte key,
//! its length (u32, little endian), its checksum (as a single record's: namespace, key,
//! payload) and its payload. A pack is written to `tmp/` and renamed into place, so a reader
//! sees a whole pack or none; a record whose checksum fails (a damaged disk) reads as a miss.
//! Packs are read once per process and namespace, into memory (again after the process writes
//! one); a writer streams its records to disk ([`PackWriter`]). Past [`MAX_PACKS`] packs in a
//! namespace, the writer merges them into one (under the namespace's lock) and removes the
//! merged ones; a reader that listed a pack removed meanwhile misses what it held, which a
//! cache may. Eviction ([`crate::usage`]) sees a pack as one record of its namespace.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::{checksum, io_err, Key, Result, Store, Summed};

/// What opens a pack.
const PACK_MAGIC: &[u8; 4] = b"WRSP";

/// A namespace's packs are merged into one past this many.
pub const MAX_PACKS: usize = 16;

/// The records of a namespace's packs, by key.
pub type Index = HashMap<Key, Vec<u8>>;

/// Parses a pack's bytes; records whose checksum fails are left out.
fn parse(namespace: &str, bytes: &[u8], into: &mut Index) {
    let Some(mut rest) = bytes.strip_prefix(PACK_MAGIC) else {
        return;
    };
    while rest.len() >= 32 + 4 + 32 {
        let key: Key = rest[..32].try_into().expect("32 bytes");
        let len = u32::from_le_bytes(rest[32..36].try_into().expect("4 bytes")) as usize;
        let sum = &rest[36..68];
        rest = &rest[68..];
        if rest.len() < len {
            return;
        }
        let (payload, after) = rest.split_at(len);
        rest = after;
        if checksum(namespace, &key, payload).as_bytes() == sum {
            into.insert(key, payload.to_vec());
        }
    }
}

impl Store {
    fn packs_dir(&self, namespace: &str) -> Result<PathBuf> {
        // Validates the namespace as a single record's path does.
        let any = self.path(namespace, &[0; 32])?;
        Ok(any
            .parent()
            .and_then(Path::parent)
            .expect("a record path has its namespace folder")
            .join("packs"))
    }

    fn pack_files(&self, namespace: &str) -> Result<Vec<PathBuf>> {
        let dir = self.packs_dir(namespace)?;
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut out: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        out.sort();
        Ok(out)
    }

    /// Every record in the packs of `namespace` (read from disk on each call; callers keep it).
    pub fn read_packs(&self, namespace: &str) -> Result<Index> {
        let mut index = Index::new();
        for path in self.pack_files(namespace)? {
            // A pack merged away meanwhile is simply not read.
            if let Ok(bytes) = fs::read(&path) {
                parse(namespace, &bytes, &mut index);
            }
        }
        Ok(index)
    }

    /// The packed records of `namespace`, read from disk the first time in this process.
    pub(crate) fn packed(&self, namespace: &str) -> Result<std::sync::Arc<Index>> {
        let mut packs = self.packs.lock().expect("packs lock poisoned");
        if let Some(index) = packs.get(namespace) {
            return Ok(index.clone());
        }
        let index = std::sync::Arc::new(self.read_packs(namespace)?);
        packs.insert(namespace.to_string(), index.clone());
        Ok(index)
    }

    /// Writes `records` as one new pack of `namespace` (whole or not at all), in key order, then
    /// merges the namespace's packs when there are more than [`MAX_PACKS`]. This process's reads
    /// see them at once.
    pub fn put_pack(&self, namespace: &str, records: &Index) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut keys: Vec<&Key> = records.keys().collect();
        keys.sort();
        let mut pack = self.pack_writer(namespace)?;
        for key in keys {
            pack.record(key, &records[key])?;
        }
        pack.finish()
    }

    /// A new pack of `namespace`, its records streamed to a temp file as they are given (none is
    /// kept in memory): give them in key order for a name that depends on the records only.
    pub fn pack_writer(&self, namespace: &str) -> Result<PackWriter<'_>> {
        let dir = self.packs_dir(namespace)?;
        let tmp_dir = self.root.join("tmp");
        let tmp = tempfile::Builder::new()
            .prefix("pack-")
            .tempfile_in(&tmp_dir)
            .map_err(io_err(&tmp_dir))?;
        let mut writer = PackWriter {
            store: self,
            namespace: namespace.to_string(),
            dir,
            out: Summed::new(tmp, blake3::Hasher::new()),
            records: 0,
        };
        writer.write(PACK_MAGIC)?;
        Ok(writer)
    }

    /// Merges the packs of `namespace` into one when there are more than [`MAX_PACKS`].
    fn merge_if_many(&self, namespace: &str) -> Result<()> {
        if self.pack_files(namespace)?.len() <= MAX_PACKS {
            return Ok(());
        }
        let _lock = self.lock(&format!("pack {namespace}"))?;
        let files = self.pack_files(namespace)?;
        if files.len() <= MAX_PACKS {
            return Ok(());
        }
        let mut merged = Index::new();
        for path in &files {
            if let Ok(bytes) = fs::read(path) {
                parse(namespace, &bytes, &mut merged);
            }
        }
        let mut keys: Vec<&Key> = merged.keys().collect();
        keys.sort();
        let mut pack = self.pack_writer(namespace)?;
        for key in keys {
            pack.record(key, &merged[key])?;
        }
        // Packs that held no readable record are removed with the rest.
        let kept = pack.persist()?;
        for path in files.iter().filter(|p| Some(*p) != kept.as_ref()) {
            let _ = fs::remove_file(path);
        }
        Ok(())
    }
}

/// A pack on its way to disk (see [`Store::pack_writer`]): dropped before
/// [`PackWriter::finish`], it leaves nothing behind.
pub struct PackWriter<'a> {
    store: &'a Store,
    namespace: String,
    dir: PathBuf,
    /// The temp file, and the hash of the bytes written so far: the pack's name.
    out: Summed<tempfile::NamedTempFile>,
    records: usize,
}

impl PackWriter<'_> {
    /// Adds a record: its key, length, checksum and payload.
    pub fn record(&mut self, key: &Key, payload: &[u8]) -> Result<()> {
        let len = u32::try_from(payload.len()).map_err(|_| {
            io_err(self.out.get_ref().path())(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a record of {} bytes is over a pack's 4 GiB limit",
                    payload.len()
                ),
            ))
        })?;
        self.write(key)?;
        self.write(&len.to_le_bytes())?;
        self.write(checksum(&self.namespace, key, payload).as_bytes())?;
        self.write(payload)?;
        self.records += 1;
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| io_err(self.out.get_ref().path())(e))
    }

    /// Renames the pack into place (a pack of no record is not written), then merges the
    /// namespace's packs past [`MAX_PACKS`].
    pub fn finish(self) -> Result<()> {
        let store = self.store;
        let namespace = self.namespace.clone();
        if self.persist()?.is_some() {
            store.merge_if_many(&namespace)?;
        }
        Ok(())
    }

    /// Renames the pack into place under the hash of its bytes; this process's reads of the
    /// namespace read its packs again.
    fn persist(self) -> Result<Option<PathBuf>> {
        if self.records == 0 {
            return Ok(None);
        }
        let tmp_path = self.out.get_ref().path().to_path_buf();
        let (tmp, sum) = self.out.finish().map_err(io_err(&tmp_path))?;
        let name = sum.to_hex();
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let path = self.dir.join(format!("{}.wrp", &name[..32]));
        tmp.persist(&path).map_err(|e| io_err(&path)(e.error))?;
        self.store
            .packs
            .lock()
            .expect("packs lock poisoned")
            .remove(&self.namespace);
        Ok(Some(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u8) -> Key {
        [i; 32]
    }

    #[test]
    fn a_pack_holds_many_records_in_one_file() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path()).expect("open");
        let records: Index = (0..100u8).map(|i| (key(i), vec![i; 40])).collect();
        store.put_pack("memo", &records).expect("put");
        assert_eq!(store.pack_files("memo").expect("files").len(), 1);
        assert_eq!(store.read_packs("memo").expect("read"), records);
        assert_eq!(store.get("memo", &key(7)).expect("get"), Some(vec![7; 40]));
        // A single record file still wins over a pack.
        store.put("memo", &key(7), b"own file").expect("put");
        assert_eq!(
            store.get("memo", &key(7)).expect("get"),
            Some(b"own file".to_vec())
        );
        // Another namespace's packs are its own; a pack never reads under another namespace.
        assert!(store.read_packs("other").expect("read").is_empty());
        assert!(store.put_pack("../x", &records).is_err());
        assert_eq!(
            store.records().expect("records").len(),
            2,
            "the pack and the one record"
        );
    }

    #[test]
    fn a_streamed_pack_is_put_s_pack_and_a_dropped_one_leaves_nothing() {
        let records: Index = (0..50u8)
            .map(|i| (key(i), vec![i; 3 * i as usize]))
            .collect();
        let put_home = tempfile::tempdir().expect("tempdir");
        let put = Store::open(put_home.path()).expect("open");
        put.put_pack("memo", &records).expect("put");
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path()).expect("open");
        // The namespace is read into this process before the streamed pack is written.
        assert_eq!(store.get("memo", &key(1)).expect("get"), None);
        let mut pack = store.pack_writer("memo").expect("writer");
        for i in 0..50u8 {
            pack.record(&key(i), &records[&key(i)]).expect("record");
        }
        pack.finish().expect("finish");
        let bytes = |store: &Store| {
            let files = store.pack_files("memo").expect("files");
            assert_eq!(files.len(), 1);
            (
                files[0].file_name().map(|n| n.to_os_string()),
                fs::read(&files[0]).expect("read"),
            )
        };
        assert_eq!(bytes(&store), bytes(&put), "same name, same bytes");
        assert_eq!(
            store.get("memo", &key(1)).expect("get"),
            Some(vec![1; 3]),
            "this process reads the pack it wrote"
        );

        let mut dropped = store.pack_writer("gone").expect("writer");
        dropped.record(&key(1), b"never whole").expect("record");
        drop(dropped);
        store
            .pack_writer("empty")
            .expect("writer")
            .finish()
            .expect("finish");
        assert!(store.pack_files("gone").expect("files").is_empty());
        assert!(store.pack_files("empty").expect("files").is_empty());
        let temp: Vec<_> = fs::read_dir(store.root.join("tmp"))
            .expect("tmp")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(temp, Vec::<std::ffi::OsString>::new(), "no temp file left");
    }

    #[test]
    fn damaged_or_torn_bytes_read_as_misses() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path()).expect("open");
        let records: Index = (0..3u8).map(|i| (key(i), vec![i; 10])).collect();
        store.put_pack("memo", &records).expect("put");
        let path = store.pack_files("memo").expect("files").remove(0);
        let mut bytes = fs::read(&path).expect("read");
        // Flip a payload byte of the second record (sorted by key): only it is lost.
        let second_payload = 4 + (32 + 4 + 32 + 10) + 32 + 4 + 32;
        bytes[second_payload] ^= 0xff;
        fs::write(&path, &bytes[..bytes.len() - 3]).expect("write torn");
        let read = store.read_packs("memo").expect("read");
        assert_eq!(read.get(&key(0)), Some(&vec![0; 10]));
        assert_eq!(read.get(&key(1)), None, "damaged");
        assert_eq!(read.get(&key(2)), None, "torn");
    }

    #[test]
    fn packs_are_merged_past_the_limit() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path()).expect("open");
        for i in 0..(MAX_PACKS as u8 + 1) {
            let one: Index = [(key(i), vec![i])].into();
            store.put_pack("memo", &one).expect("put");
        }
        assert_eq!(store.pack_files("memo").expect("files").len(), 1);
        let read = store.read_packs("memo").expect("read");
        assert_eq!(read.len(), MAX_PACKS + 1);
        assert_eq!(read.get(&key(3)), Some(&vec![3]));
    }
}
