//! The engine's cross-process memo ([`werf_graph::context::DigestStore`]) backed by `werf-cache`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use werf_cache::Store;
use werf_graph::context::DigestStore;
use werf_graph::Digest;

/// Namespace of context listings (tree id + filter -> digest).
const LISTINGS: &str = "listings";

/// The cache home: `--home-dir`, else `$WERF_HOME` (handled by clap), else `~/.werf-rs`.
pub fn home(explicit: Option<&Path>) -> PathBuf {
    match explicit {
        Some(p) => p.to_path_buf(),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(".werf-rs"),
    }
}

/// Listing digests in the persistent store, kept in memory as they are made and written as one
/// pack by [`Listings::flush`] (a cold plan of thousands of images writes one file, not one per
/// listing). Failures to write are logged, never fatal: the store only saves work.
pub struct Listings {
    store: Store,
    pending: Mutex<werf_cache::pack::Index>,
}

/// Past this many unwritten listings a pack is written at once (bounded memory).
const FLUSH_AT: usize = 50_000;

impl Listings {
    pub fn new(store: Store) -> Self {
        Listings {
            store,
            pending: Mutex::default(),
        }
    }

    /// Writes the listings made since the last flush as one pack.
    pub fn flush(&self) {
        let pending = std::mem::take(&mut *self.pending.lock().expect("listings lock poisoned"));
        if let Err(e) = self.store.put_pack(LISTINGS, &pending) {
            tracing::warn!("{e}");
        }
    }
}

impl Drop for Listings {
    /// What is still unwritten when the engine goes (a command's end, a `werf dev` exit).
    fn drop(&mut self) {
        self.flush();
    }
}

impl DigestStore for Listings {
    fn get(&self, key: &Digest) -> Option<Vec<u8>> {
        if let Some(v) = self
            .pending
            .lock()
            .expect("listings lock poisoned")
            .get(&key.0)
        {
            return Some(v.clone());
        }
        match self.store.get(LISTINGS, &key.0) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("{e}");
                None
            }
        }
    }

    fn put(&self, key: &Digest, value: &[u8]) {
        let full = {
            let mut pending = self.pending.lock().expect("listings lock poisoned");
            pending.insert(key.0, value.to_vec());
            pending.len() >= FLUSH_AT
        };
        if full {
            self.flush();
        }
    }
}
