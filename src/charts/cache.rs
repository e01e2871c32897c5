//! Fetched chart archives under the werf home (`charts/`): each archive stored once by its
//! SHA-256 (`sha256/HEX.tgz`), and each locked dependency (repository, name, version) pointing
//! at its archive (`refs/HEX`, the digest of the three, holding the archive's file name and
//! digest). A render finds a locked dependency here without the network; an archive is checked
//! against its digest on every read, and files are written beside their place and renamed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use sha2::Digest as _;
use werf_graph::chart::lock::Locked;

/// The chart cache under a werf home.
pub struct Cache {
    dir: PathBuf,
}

/// The SHA-256 of `data`, as hex.
pub fn hex(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Cache {
    pub fn new(home: &Path) -> Cache {
        Cache {
            dir: home.join("charts"),
        }
    }

    fn reference(&self, dep: &Locked) -> PathBuf {
        let key = hex(format!("{}\n{}\n{}", dep.repository, dep.name, dep.version).as_bytes());
        self.dir.join("refs").join(key)
    }

    fn blob(&self, digest: &str) -> PathBuf {
        self.dir.join("sha256").join(format!("{digest}.tgz"))
    }

    /// The archive (file name, bytes) cached for `dep`; `None` when there is none, or when the
    /// stored bytes no longer have their digest (a damaged cache entry is fetched again).
    pub fn get(&self, dep: &Locked) -> Result<Option<(String, Vec<u8>)>> {
        let Ok(text) = std::fs::read_to_string(self.reference(dep)) else {
            return Ok(None);
        };
        let Some((file, digest)) = text.trim().split_once('\n') else {
            return Ok(None);
        };
        let path = self.blob(digest.trim());
        let Ok(meta) = std::fs::metadata(&path) else {
            return Ok(None);
        };
        // A cached archive is bounded as a fetched one is.
        let limit = crate::net::max_chart();
        if meta.len() > limit {
            bail!(
                "`{}`: a cached chart over {limit} bytes (WERF_MAX_CHART_SIZE)",
                path.display()
            );
        }
        let data = std::fs::read(&path).with_context(|| format!("reading `{}`", path.display()))?;
        if hex(&data) != digest.trim() {
            return Ok(None);
        }
        Ok(Some((file.to_string(), data)))
    }

    /// Stores `data` (fetched for `dep`, named `file`) and returns its digest.
    pub fn put(&self, dep: &Locked, file: &str, data: &[u8]) -> Result<String> {
        let digest = hex(data);
        crate::files::write_whole(&self.blob(&digest), data, true)?;
        crate::files::write_whole(
            &self.reference(dep),
            format!("{file}\n{digest}\n").as_bytes(),
            true,
        )?;
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(version: &str) -> Locked {
        Locked {
            name: "common".into(),
            repository: "https://charts.example/".into(),
            version: version.into(),
        }
    }

    #[test]
    fn archives_are_found_by_their_lock_entry_and_checked_by_digest() {
        let home = tempfile::tempdir().expect("tempdir");
        let cache = Cache::new(home.path());
        assert!(cache.get(&dep("1.0.0")).expect("reads").is_none());
        let digest = cache
            .put(&dep("1.0.0"), "common-1.0.0.tgz", b"archive bytes")
            .expect("writes");
        assert_eq!(
            cache.get(&dep("1.0.0")).expect("reads"),
            Some(("common-1.0.0.tgz".to_string(), b"archive bytes".to_vec()))
        );
        // Another version is another entry.
        assert!(cache.get(&dep("1.0.1")).expect("reads").is_none());
        // A damaged archive is not used.
        std::fs::write(
            home.path().join(format!("charts/sha256/{digest}.tgz")),
            b"tampered",
        )
        .expect("write");
        assert!(cache.get(&dep("1.0.0")).expect("reads").is_none());
    }
}
