//! `werf host cleanup`: bound the home folder (the persistent store, buildah's storage, stray temp
//! files of killed runs) by age and size, sparing what running werf-rs processes hold.
//!
//! Limits: records unused for longer than `max_age`; the whole home at most `max_bytes`; and,
//! like werf's `--allowed-*-volume-usage`, when the volume holding the home is fuller than
//! `allowed_volume_percentage`, free what brings it down to that minus the margin (from our own
//! files only). Buildah's storage is removed as a whole, and only when no other werf-rs process
//! runs; records may go at any time (a missing record is a miss). Runs automatically at the end
//! of a command at most once an hour ([`auto`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use werf_cache::usage::{choose, Limits};
use werf_cache::Store;

use super::{Error, Result};

/// Namespaces never evicted: when each tag was first seen (the cleanup's fresh rule).
const PINNED: &[&str] = &["tag-log"];

/// How far to bound the home folder.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub max_age: Duration,
    pub max_bytes: Option<u64>,
    /// Percentage of the volume above which our files are trimmed.
    pub allowed_volume_percentage: u8,
    pub margin_percentage: u8,
    pub dry_run: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_age: Duration::from_secs(30 * 24 * 3600),
            max_bytes: None,
            allowed_volume_percentage: 70,
            margin_percentage: 5,
            dry_run: false,
        }
    }
}

/// What a host cleanup did (or would do).
#[derive(Debug, Default)]
pub struct Done {
    pub size_before: u64,
    pub size_after: u64,
    pub records_removed: usize,
    pub buildah_removed: u64,
    pub temp_removed: usize,
    /// Other werf-rs processes were running (buildah's storage was spared).
    pub others_running: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The size of everything under `dir` (links not followed); 0 when it does not exist.
fn size_of(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.len();
            }
        }
    }
    total
}

/// Bytes to free so the volume holding `home` is at most `allowed - margin` percent used.
fn volume_excess(home: &Path, o: &Options) -> u64 {
    let Ok(s) = rustix::fs::statvfs(home) else {
        return 0;
    };
    let total = s.f_blocks.saturating_mul(s.f_frsize);
    let used = s
        .f_blocks
        .saturating_sub(s.f_bfree)
        .saturating_mul(s.f_frsize);
    if total == 0 || used * 100 <= total * o.allowed_volume_percentage as u64 {
        return 0;
    }
    let target = total
        * o.allowed_volume_percentage
            .saturating_sub(o.margin_percentage) as u64
        / 100;
    used.saturating_sub(target)
}

/// Bounds `home` (the werf-rs home: the store under it, `buildah/` beside it). The caller must
/// not hold [`Store::running`] itself.
pub fn run(home: &Path, store: &Store, o: &Options) -> Result<Done> {
    let mut done = Done {
        others_running: store.others_running()?,
        ..Done::default()
    };
    let buildah: PathBuf = home.join("buildah");
    let buildah_size = size_of(&buildah);
    let records = store.records()?;
    let records_size: u64 = records.iter().map(|r| r.size).sum();
    done.size_before = buildah_size + records_size;
    let excess = volume_excess(home, o);
    let mut allowed = done.size_before.saturating_sub(excess);
    if let Some(max) = o.max_bytes {
        allowed = allowed.min(max);
    }
    if !o.dry_run {
        done.temp_removed = store.remove_stale_temp_files(Duration::from_secs(3600))?;
    }
    let mut size = done.size_before;
    if size > allowed && buildah_size > 0 && !done.others_running {
        if !o.dry_run {
            std::fs::remove_dir_all(&buildah).map_err(io(&buildah))?;
        }
        done.buildah_removed = buildah_size;
        size -= buildah_size;
    }
    // Records are bounded to what is left of the allowance besides buildah's storage.
    let other = size - records_size;
    let limits = Limits {
        max_age: Some(o.max_age),
        max_bytes: Some(allowed.saturating_sub(other)),
    };
    let evict = choose(&records, &limits, SystemTime::now(), PINNED);
    for i in &evict {
        let r = &records[*i];
        if !o.dry_run {
            match std::fs::remove_file(&r.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&r.path)(e)),
            }
        }
        size -= r.size;
        done.records_removed += 1;
    }
    done.size_after = size;
    Ok(done)
}

/// The stamp of the last automatic run.
fn stamp(store: &Store) -> PathBuf {
    store.root().join("host-cleanup.stamp")
}

/// At most once an hour per home, and never on the first run (a new home has nothing to trim):
/// a host cleanup with the default limits. Returns what it did when it ran. The hour counts from
/// the last automatic run (or the first use): runs in between leave the stamp alone, so a home
/// used every few minutes is still trimmed hourly.
pub fn auto(home: &Path, store: &Store) -> Result<Option<Done>> {
    const HOUR: Duration = Duration::from_secs(3600);
    let path = stamp(store);
    let age = || {
        std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .map(|t| SystemTime::now().duration_since(t).unwrap_or_default())
    };
    let touch = || {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(SystemTime::now()))
    };
    match age() {
        None => {
            // The first use: the hour starts now (a stamp that cannot be written: never due).
            let _ = touch();
            return Ok(None);
        }
        Some(a) if a < HOUR => return Ok(None),
        Some(_) => {}
    }
    // Due. Under the lock, one process takes the turn: one that waited finds the stamp new.
    let _lock = store.lock("host-cleanup")?;
    if age().is_some_and(|a| a < HOUR) || touch().is_err() {
        return Ok(None);
    }
    run(home, store, &Options::default()).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_limit_removes_buildah_storage_then_old_records_and_spares_the_tag_log() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(home.path()).unwrap();
        let b = home.path().join("buildah/root");
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("layer"), vec![0u8; 10_000]).unwrap();
        for i in 0..4u8 {
            store.put("memo", &[i; 32], &[0u8; 1000]).unwrap();
        }
        werf_build::taglog::update(&store, "r", |l| l.pushed("t", "d", 1)).unwrap();
        let o = Options {
            max_bytes: Some(2_500),
            allowed_volume_percentage: 100,
            ..Options::default()
        };
        let dry = run(home.path(), &store, &Options { dry_run: true, ..o }).unwrap();
        assert_eq!(dry.buildah_removed, 10_000);
        assert!(b.join("layer").exists(), "a dry run removes nothing");
        let done = run(home.path(), &store, &o).unwrap();
        assert_eq!(done.buildah_removed, 10_000);
        assert!(!home.path().join("buildah").exists());
        assert!(done.size_after <= 2_500, "{done:?}");
        assert_eq!(done.records_removed, dry.records_removed);
        assert!(done.records_removed >= 2, "{done:?}");
        assert_eq!(
            werf_build::taglog::read(&store, "r").unwrap().tags["t"].first_seen,
            1
        );
    }

    #[test]
    fn buildah_storage_is_spared_while_another_process_runs() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(home.path()).unwrap();
        std::fs::create_dir_all(home.path().join("buildah")).unwrap();
        std::fs::write(home.path().join("buildah/x"), vec![0u8; 100]).unwrap();
        let other = Store::open(home.path()).unwrap();
        let _held = other.running().unwrap();
        let o = Options {
            max_bytes: Some(0),
            allowed_volume_percentage: 100,
            ..Options::default()
        };
        let done = run(home.path(), &store, &o).unwrap();
        assert!(done.others_running);
        assert_eq!(done.buildah_removed, 0);
        assert!(home.path().join("buildah/x").exists());
    }

    #[test]
    fn the_automatic_run_waits_an_hour_from_the_first_use() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(home.path()).unwrap();
        // The stamp set back by `secs`; returns the time it then holds.
        let stamped_ago = |secs: u64| {
            let f = std::fs::File::options()
                .write(true)
                .open(stamp(&store))
                .unwrap();
            f.set_modified(SystemTime::now() - Duration::from_secs(secs))
                .unwrap();
            f.metadata().unwrap().modified().unwrap()
        };
        let stamped = || {
            std::fs::metadata(stamp(&store))
                .unwrap()
                .modified()
                .unwrap()
        };
        assert!(auto(home.path(), &store).unwrap().is_none());
        assert!(auto(home.path(), &store).unwrap().is_none());
        // A run half an hour in does not move the hour on.
        let half = stamped_ago(1800);
        assert!(auto(home.path(), &store).unwrap().is_none());
        assert_eq!(stamped(), half, "the stamp moved");
        let past = stamped_ago(3700);
        assert!(auto(home.path(), &store).unwrap().is_some());
        // The run that trimmed starts the next hour.
        assert!(stamped() > past);
        assert!(auto(home.path(), &store).unwrap().is_none());
    }
}
