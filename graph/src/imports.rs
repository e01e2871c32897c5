//! Stapel import checksums: the early cutoff of imports.
//!
//! A Stapel import (`import[]`) enters its importer's digest by the checksum of the files it
//! copies, not by the source image's digest, as in werf: a source rebuilt with equal output files
//! does not invalidate its importers. The checksum is a fact about a built image, so it is known
//! only once the source exists; until then the importer's tag is *pending*
//! ([`crate::Error::ImportPending`]). The builder computes each checksum once per source tag and
//! import spec, and stores it in the registry as a tag ([`record_tag`]), so one tag listing gives
//! every checksum a plan needs ([`Checksums`], the [`crate::db::Project`] input).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::digest::{Builder, TAG_LEN};

/// Checksums of imported content by record key ([`key`]), as the registry's tags give them.
pub type Checksums = BTreeMap<String, String>;

/// What opens a record tag.
pub const TAG_PREFIX: &str = "imp-";

/// Hex characters of a checksum kept in a record tag.
pub const CHECKSUM_LEN: usize = 48;

/// Hex characters of an import spec's digest inside a key.
const SPEC_LEN: usize = 12;

/// What an import copies from its source: the folder or file `add`, filtered by werf's globs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ImportSpec {
    /// The werf image the files come from.
    pub source: String,
    /// The absolute path copied (`add`).
    pub add: String,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

/// The record key of `spec` read from the image tagged `source_tag`.
pub fn key(source_tag: &str, spec: &ImportSpec) -> String {
    let mut b = Builder::new("import-spec");
    b.str("add", &spec.add);
    for g in &spec.include {
        b.str("include", g);
    }
    for g in &spec.exclude {
        b.str("exclude", g);
    }
    format!("{source_tag}-{}", &b.finish().hex()[..SPEC_LEN])
}

/// The registry tag recording that `key`'s files have `checksum` (at most 122 characters, under
/// the registry's 128).
pub fn record_tag(key: &str, checksum: &str) -> String {
    format!("{TAG_PREFIX}{key}-{checksum}")
}

/// The key and checksum a record tag holds; `None` for any other tag.
pub fn parse_record_tag(tag: &str) -> Option<(&str, &str)> {
    let rest = tag.strip_prefix(TAG_PREFIX)?;
    let (key, checksum) = rest.rsplit_once('-')?;
    let (source, spec) = key.split_once('-')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(source, TAG_LEN) && hex(spec, SPEC_LEN) && hex(checksum, CHECKSUM_LEN))
        .then_some((key, checksum))
}

/// The source tag a record tag is about (cleanup keeps a record while its source is kept).
pub fn record_source(tag: &str) -> Option<&str> {
    parse_record_tag(tag).and_then(|(key, _)| key.split_once('-').map(|(s, _)| s))
}

/// Every record among `tags`.
pub fn checksums_in<'a>(tags: impl IntoIterator<Item = &'a String>) -> Checksums {
    tags.into_iter()
        .filter_map(|t| parse_record_tag(t))
        .map(|(k, c)| (k.to_string(), c.to_string()))
        .collect()
}

/// Checksums of file trees: entries fed in path order, each with its kind, mode and content.
pub struct Hasher {
    inner: Builder,
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher {
            inner: Builder::new("import-content"),
        }
    }
}

impl Hasher {
    /// A folder at `path` (relative to `add`, `""` for `add` itself).
    pub fn dir(&mut self, path: &str, mode: u32) {
        self.inner
            .str("dir", path)
            .str("mode", &format!("{mode:o}"));
    }

    /// A symbolic link.
    pub fn symlink(&mut self, path: &str, target: &str) {
        self.inner.str("symlink", path).str("target", target);
    }

    /// A file, with the digest of its bytes (see [`content_digest`]).
    pub fn file(&mut self, path: &str, mode: u32, content: &crate::Digest) {
        self.inner
            .str("file", path)
            .str("mode", &format!("{mode:o}"))
            .digest("content", content);
    }

    /// The checksum kept in a record.
    pub fn finish(&self) -> String {
        self.inner.finish().hex()[..CHECKSUM_LEN].to_string()
    }
}

/// Digest of one file's bytes, read in pieces.
pub fn content_digest(reader: &mut dyn std::io::Read) -> std::io::Result<crate::Digest> {
    let mut h = blake3::Hasher::new();
    h.update(crate::digest::FORMAT_VERSION.as_bytes());
    h.update(b"import-file");
    std::io::copy(reader, &mut h)?;
    Ok(crate::Digest(*h.finalize().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(add: &str, include: &[&str]) -> ImportSpec {
        ImportSpec {
            source: "builder".into(),
            add: add.into(),
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: Vec::new(),
        }
    }

    #[test]
    fn record_tags_round_trip_and_fit_the_registry() {
        let source = "a".repeat(TAG_LEN);
        let k = key(&source, &spec("/app", &[]));
        let sum = "b".repeat(CHECKSUM_LEN);
        let tag = record_tag(&k, &sum);
        assert!(tag.len() <= 128, "{} characters", tag.len());
        assert_eq!(parse_record_tag(&tag), Some((k.as_str(), sum.as_str())));
        assert_eq!(record_source(&tag), Some(source.as_str()));
        let tags = vec![tag, source.clone(), "imp-nothex-1-2".to_string()];
        assert_eq!(checksums_in(&tags).len(), 1);
    }

    #[test]
    fn the_key_follows_the_spec_and_the_source() {
        let source = "a".repeat(TAG_LEN);
        let base = key(&source, &spec("/app", &[]));
        assert_ne!(base, key(&source, &spec("/app", &["*.so"])));
        assert_ne!(base, key(&source, &spec("/lib", &[])));
        assert_ne!(base, key(&"c".repeat(TAG_LEN), &spec("/app", &[])));
        // The source image's name is not the content: a renamed source keeps its records.
        let mut renamed = spec("/app", &[]);
        renamed.source = "other".into();
        assert_eq!(base, key(&source, &renamed));
    }

    #[test]
    fn the_checksum_follows_paths_modes_and_bytes() {
        let sum = |entries: &[(&str, u32, &[u8])]| {
            let mut h = Hasher::default();
            for (p, m, data) in entries {
                h.file(p, *m, &content_digest(&mut &data[..]).unwrap());
            }
            h.finish()
        };
        let a = sum(&[("bin/app", 0o755, b"x")]);
        assert_eq!(a, sum(&[("bin/app", 0o755, b"x")]));
        assert_ne!(a, sum(&[("bin/app", 0o644, b"x")]));
        assert_ne!(a, sum(&[("bin/app", 0o755, b"y")]));
        assert_ne!(a, sum(&[("bin/ap", 0o755, b"x")]));
        assert_eq!(a.len(), CHECKSUM_LEN);
    }
}
