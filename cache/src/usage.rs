//! What the store holds on disk, and which records to evict to bound it by age and size.
//!
//! Every running werf-rs process holds a shared lock ([`Store::running`]); a host cleanup that
//! can take it exclusively knows no other process runs. Records may be removed while others run
//! (a missing record is a miss, and a record is replaced whole by rename), so eviction never
//! waits; what a running process may hold besides records is left to the caller to spare.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::{io_err, Result, Store};

/// One record on disk.
#[derive(Clone, Debug)]
pub struct Record {
    pub path: PathBuf,
    pub namespace: String,
    pub size: u64,
    /// The later of its access and modification times.
    pub used: SystemTime,
}

/// Bounds for [`choose`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    /// Evict the least recently used records until the total is at most this.
    pub max_bytes: Option<u64>,
    /// Evict records not used for this long.
    pub max_age: Option<Duration>,
}

/// A held [`Store::running`] lock.
#[derive(Debug)]
pub struct Running {
    _file: fs::File,
}

impl Store {
    /// Marks this process as running (a shared lock, released on drop or death).
    pub fn running(&self) -> Result<Running> {
        let file = self.running_file()?;
        file.lock_shared()
            .map_err(io_err(&self.root.join("running.lock")))?;
        Ok(Running { _file: file })
    }

    /// Whether another process holds [`Store::running`] (call without holding it yourself).
    pub fn others_running(&self) -> Result<bool> {
        let file = self.running_file()?;
        match file.try_lock() {
            Ok(()) => Ok(false),
            Err(fs::TryLockError::WouldBlock) => Ok(true),
            Err(fs::TryLockError::Error(e)) => Err(io_err(&self.root.join("running.lock"))(e)),
        }
    }

    fn running_file(&self) -> Result<fs::File> {
        let path = self.root.join("running.lock");
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))
    }

    /// Every record of every namespace (temp files and locks are not records).
    pub fn records(&self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for ns in fs::read_dir(&self.root).map_err(io_err(&self.root))? {
            let ns = ns.map_err(io_err(&self.root))?;
            let name = ns.file_name().to_string_lossy().into_owned();
            if name == "tmp" || name == "locks" || !ns.path().is_dir() {
                continue;
            }
            for shard in fs::read_dir(ns.path()).map_err(io_err(&ns.path()))? {
                let shard = shard.map_err(io_err(&ns.path()))?;
                if !shard.path().is_dir() {
                    continue;
                }
                for rec in fs::read_dir(shard.path()).map_err(io_err(&shard.path()))? {
                    let rec = rec.map_err(io_err(&shard.path()))?;
                    // A record removed meanwhile by another cleanup is simply not listed.
                    let Ok(meta) = rec.metadata() else { continue };
                    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    let accessed = meta.accessed().unwrap_or(modified);
                    out.push(Record {
                        path: rec.path(),
                        namespace: name.clone(),
                        size: meta.len(),
                        used: modified.max(accessed),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Which records to evict (indexes into `records`): those unused for longer than `max_age`,
/// then the least recently used until the rest fits `max_bytes`. Records of `pinned`
/// namespaces stay.
pub fn choose(records: &[Record], limits: &Limits, now: SystemTime, pinned: &[&str]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..records.len())
        .filter(|i| !pinned.contains(&records[*i].namespace.as_str()))
        .collect();
    order.sort_by(|a, b| {
        records[*a]
            .used
            .cmp(&records[*b].used)
            .then_with(|| records[*a].path.cmp(&records[*b].path))
    });
    let mut total: u64 = records.iter().map(|r| r.size).sum();
    let mut out = Vec::new();
    for i in order {
        let r = &records[i];
        let old = limits
            .max_age
            .is_some_and(|age| now.duration_since(r.used).unwrap_or_default() > age);
        let over = limits.max_bytes.is_some_and(|max| total > max);
        if !(old || over) {
            // Sorted oldest first: nothing later is older, and the size fits.
            break;
        }
        total -= r.size;
        out.push(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, ns: &str, size: u64, age_secs: u64, now: SystemTime) -> Record {
        Record {
            path: PathBuf::from(name),
            namespace: ns.into(),
            size,
            used: now - Duration::from_secs(age_secs),
        }
    }

    #[test]
    fn old_records_go_then_the_least_recently_used_until_it_fits() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let records = vec![
            rec("new", "a", 10, 10, now),
            rec("mid", "a", 10, 100, now),
            rec("old", "a", 10, 1000, now),
            rec("pinned", "log", 10, 5000, now),
        ];
        let names = |idx: Vec<usize>| {
            idx.into_iter()
                .map(|i| records[i].path.display().to_string())
                .collect::<Vec<_>>()
        };
        let age = Limits {
            max_age: Some(Duration::from_secs(500)),
            max_bytes: None,
        };
        assert_eq!(names(choose(&records, &age, now, &["log"])), ["old"]);
        let size = Limits {
            max_age: None,
            max_bytes: Some(25),
        };
        assert_eq!(
            names(choose(&records, &size, now, &["log"])),
            ["old", "mid"]
        );
        assert!(choose(&records, &Limits::default(), now, &["log"]).is_empty());
    }

    #[test]
    fn records_are_listed_and_the_running_lock_is_seen_from_another_handle() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(home.path()).unwrap();
        store.put("ns-a", &[1; 32], b"hello").unwrap();
        store.put("ns-b", &[2; 32], b"world!").unwrap();
        let mut got: Vec<String> = store
            .records()
            .unwrap()
            .into_iter()
            .map(|r| r.namespace)
            .collect();
        got.sort();
        assert_eq!(got, ["ns-a", "ns-b"]);
        assert!(!store.others_running().unwrap());
        let held = store.running().unwrap();
        assert!(store.others_running().unwrap());
        drop(held);
        assert!(!store.others_running().unwrap());
    }
}
