//! Packed records: many records of one namespace in one file, so a run that makes thousands of
//! small records (a cold plan of a monorepo) writes one file, not thousands.
//!
//! A pack is `HOME/v1/<namespace>/packs/<name>`: `WRSP`, then each record as its 32-byte key,
//! its length (u32, little endian), its checksum (as a single record's: namespace, key,
//! payload) and its payload. A pack is written to `tmp/` and renamed into place, so a reader
//! sees a whole pack or none; a record whose checksum fails (a damaged disk) reads as a miss.
//! Packs are read once per process and namespace, into memory. Past [`MAX_PACKS`] packs in a
//! namespace, the writer merges them into one (under the namespace's lock) and removes the
//! merged ones; a reader that listed a pack removed meanwhile misses what it held, which a
//! cache may. Eviction ([`crate::usage`]) sees a pack as one record of its namespace.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::{checksum, io_err, Key, Result, Store};

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

fn encode(namespace: &str, records: &Index) -> Vec<u8> {
    let mut out = PACK_MAGIC.to_vec();
    let mut keys: Vec<&Key> = records.keys().collect();
    keys.sort();
    for key in keys {
        let payload = &records[key];
        out.extend_from_slice(key);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(checksum(namespace, key, payload).as_bytes());
        out.extend_from_slice(payload);
    }
    out
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

    /// Writes `records` as one new pack of `namespace` (whole or not at all), then merges the
    /// namespace's packs when there are more than [`MAX_PACKS`]. This process's reads see them
    /// at once.
    pub fn put_pack(&self, namespace: &str, records: &Index) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.write_pack(namespace, records)?;
        {
            let mut packs = self.packs.lock().expect("packs lock poisoned");
            if let Some(index) = packs.get_mut(namespace) {
                let index = std::sync::Arc::make_mut(index);
                index.extend(records.iter().map(|(k, v)| (*k, v.clone())));
            }
        }
        if self.pack_files(namespace)?.len() > MAX_PACKS {
            let _lock = self.lock(&format!("pack {namespace}"))?;
            let files = self.pack_files(namespace)?;
            if files.len() > MAX_PACKS {
                let mut merged = Index::new();
                for path in &files {
                    if let Ok(bytes) = fs::read(path) {
                        parse(namespace, &bytes, &mut merged);
                    }
                }
                let kept = self.write_pack(namespace, &merged)?;
                for path in files.iter().filter(|p| **p != kept) {
                    let _ = fs::remove_file(path);
                }
            }
        }
        Ok(())
    }

    fn write_pack(&self, namespace: &str, records: &Index) -> Result<PathBuf> {
        let dir = self.packs_dir(namespace)?;
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let bytes = encode(namespace, records);
        let name = blake3::hash(&bytes).to_hex();
        let path = dir.join(format!("{}.wrp", &name[..32]));
        let tmp_dir = self.root.join("tmp");
        let mut tmp = tempfile::Builder::new()
            .prefix("pack-")
            .tempfile_in(&tmp_dir)
            .map_err(io_err(&tmp_dir))?;
        tmp.write_all(&bytes).map_err(io_err(tmp.path()))?;
        tmp.persist(&path).map_err(|e| io_err(&path)(e.error))?;
        Ok(path)
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
