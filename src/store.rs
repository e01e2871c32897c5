//! The engine's cross-process memo ([`werf_graph::context::DigestStore`]) backed by `werf-cache`.

use std::path::{Path, PathBuf};

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

/// Listing digests in the persistent store. Failures to write are logged, never fatal: the
/// store only saves work.
pub struct Listings(pub Store);

impl DigestStore for Listings {
    fn get(&self, key: &Digest) -> Option<Vec<u8>> {
        match self.0.get(LISTINGS, &key.0) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("{e}");
                None
            }
        }
    }

    fn put(&self, key: &Digest, value: &[u8]) {
        if let Err(e) = self.0.put(LISTINGS, &key.0, value) {
            tracing::warn!("{e}");
        }
    }
}
