//! When each tag of a repository was first seen, and its manifest digest when known.
//!
//! One record per repository in the persistent store, updated under the store's lock by every
//! listing (`build`, `cleanup`) and after pushes. A full listing drops tags that are gone, so a
//! tag deleted and pushed again is fresh again. This is what `keepImagesBuiltWithinLastNHours`
//! measures: no metadata is written to the registry.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use werf_cache::Store;

/// Cache namespace of the records.
const NAMESPACE: &str = "tag-log";

/// What is known of one tag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Unix seconds.
    pub first_seen: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// Every known tag of one repository.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagLog {
    pub tags: BTreeMap<String, Entry>,
}

impl TagLog {
    /// A full listing at `now`: new tags are first seen now, tags no longer listed are dropped.
    pub fn listed(&mut self, tags: &BTreeSet<String>, now: i64) {
        self.tags.retain(|t, _| tags.contains(t));
        for t in tags {
            self.tags.entry(t.clone()).or_insert(Entry {
                first_seen: now,
                digest: None,
            });
        }
    }

    /// `tag` was pushed (or found) with `digest` at `now`.
    pub fn pushed(&mut self, tag: &str, digest: &str, now: i64) {
        let e = self.tags.entry(tag.to_string()).or_insert(Entry {
            first_seen: now,
            digest: None,
        });
        if !digest.is_empty() {
            e.digest = Some(digest.to_string());
        }
    }

    /// `tags` were deleted.
    pub fn deleted<'a>(&mut self, tags: impl IntoIterator<Item = &'a String>) {
        for t in tags {
            self.tags.remove(t);
        }
    }

    /// First-seen times.
    pub fn first_seen(&self) -> BTreeMap<String, i64> {
        self.tags
            .iter()
            .map(|(t, e)| (t.clone(), e.first_seen))
            .collect()
    }
}

fn key(repo: &str) -> werf_cache::Key {
    werf_cache::key_for_name(NAMESPACE, repo)
}

/// The log of `repo` (empty when there is none or it does not read).
pub fn read(store: &Store, repo: &str) -> Result<TagLog, werf_cache::Error> {
    Ok(store
        .get(NAMESPACE, &key(repo))?
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default())
}

/// Reads, changes and writes the log of `repo` under the store's lock; returns the new log. A
/// change that changes nothing writes nothing (a no-op build does not sync the disk).
pub fn update(
    store: &Store,
    repo: &str,
    change: impl FnOnce(&mut TagLog),
) -> Result<TagLog, werf_cache::Error> {
    let _lock = store.lock(&format!("{NAMESPACE} {repo}"))?;
    let before = read(store, repo)?;
    let mut log = before.clone();
    change(&mut log);
    if log != before {
        let bytes = serde_json::to_vec(&log).expect("the tag log serializes");
        store.put_durable(NAMESPACE, &key(repo), &bytes)?;
    }
    Ok(log)
}

/// The inode of the one record of `namespace` in `store` (tests): each write is a new file
/// renamed into place, so a record that was not written keeps its inode.
#[cfg(test)]
pub(crate) fn record_inode(store: &Store, namespace: &str) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let only = |dir: std::path::PathBuf| {
        std::fs::read_dir(dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    };
    let file = only(only(store.root().join(namespace)));
    std::fs::metadata(file).unwrap().ino()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_keeps_first_times_and_forgets_what_is_gone() {
        let mut log = TagLog::default();
        let set = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        log.listed(&set(&["a", "b"]), 10);
        log.pushed("c", "sha256:c", 15);
        log.listed(&set(&["a", "c"]), 20);
        assert_eq!(
            log.first_seen(),
            [("a".to_string(), 10), ("c".to_string(), 15)]
                .into_iter()
                .collect()
        );
        assert_eq!(log.tags["c"].digest.as_deref(), Some("sha256:c"));
        // b comes back: fresh again.
        log.listed(&set(&["a", "b", "c"]), 30);
        assert_eq!(log.tags["b"].first_seen, 30);
    }

    #[test]
    fn an_update_that_changes_nothing_writes_nothing() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(home.path()).unwrap();
        let inode = || record_inode(&store, NAMESPACE);
        let tags: BTreeSet<String> = ["a".to_string()].into();
        update(&store, "r", |l| l.listed(&tags, 10)).unwrap();
        let first = inode();
        // The same listing later, and a push already known: nothing new.
        update(&store, "r", |l| l.listed(&tags, 20)).unwrap();
        assert_eq!(inode(), first);
        update(&store, "r", |l| l.pushed("b", "sha256:b", 30)).unwrap();
        assert_ne!(inode(), first);
        assert_eq!(read(&store, "r").unwrap().tags["a"].first_seen, 10);
    }

    #[test]
    fn the_log_persists_per_repository() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(home.path()).unwrap();
        update(&store, "r/one", |l| l.pushed("t", "sha256:x", 5)).unwrap();
        assert_eq!(read(&store, "r/one").unwrap().tags["t"].first_seen, 5);
        assert!(read(&store, "r/two").unwrap().tags.is_empty());
    }
}
