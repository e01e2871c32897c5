//! Stapel import checksums (the effects of [`werf_graph::imports`]): the files an import copies,
//! read from its built source and hashed, and the record tag that keeps the checksum in the
//! repository for the next plans.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use werf_cache::Store;
use werf_graph::imports::{self, Hasher, ImportSpec};

use super::layer_index::{self, image_index, Indexed, IndexedTree, LayerBlobs};
use super::native::{self, ImportFilter, Published, Taken};
use super::oci::Descriptor;
use crate::registry::Registry;

/// Errors of reading an import's files or recording their checksum.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("import of `{add}` from `{image}`: `{add}` does not exist in `{image}`")]
    Missing { image: String, add: String },
    #[error("import of `{add}` from `{image}`: reading its files")]
    Read {
        image: String,
        add: String,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("recording the checksum of an import from `{image}` as tag `{tag}`")]
    Record {
        image: String,
        tag: String,
        #[source]
        cause: Box<crate::registry::Error>,
    },
}

/// How many sources' files [`Sources`] keeps at most.
const KEPT_SOURCES: usize = 8;

/// The files of built images, merged from their layers' indexes once per build whatever the
/// number of imports from each.
#[derive(Default)]
pub struct Sources {
    /// By manifest digest.
    read: HashMap<String, Arc<IndexedTree>>,
}

/// A source's layers, pulled from its repository.
struct Pull<'a> {
    registry: &'a Registry,
    repo: &'a str,
}

impl LayerBlobs for Pull<'_> {
    fn open(&self, layer: &Descriptor) -> Result<Box<dyn Read + Send>, layer_index::Error> {
        let file = self
            .registry
            .pull_blob_to_file(self.repo, &layer.digest, &layer.media_type, layer.size)
            .map_err(|e| layer_index::Error::Read {
                digest: layer.digest.clone(),
                cause: Box::new(e),
            })?;
        Ok(Box::new(file))
    }
}

impl Sources {
    /// The files of `image`: its layers' indexes (each layer no earlier run indexed is pulled
    /// and indexed once), merged.
    fn files(
        &mut self,
        store: &Store,
        registry: &Registry,
        image: &Published,
    ) -> Result<Arc<IndexedTree>, layer_index::Error> {
        if let Some(tree) = self.read.get(&image.manifest_digest) {
            return Ok(tree.clone());
        }
        // Imports from one source resolve together: a few recent sources are enough, and
        // memory stays bounded however many sources a build has.
        if self.read.len() >= KEPT_SOURCES {
            self.read.clear();
        }
        let pull = Pull {
            registry,
            repo: &image.repo,
        };
        let (tree, reads) = image_index(store, &pull, &image.manifest.layers)?;
        tracing::debug!(
            image = image.reference().as_str(),
            layers_known = reads.known,
            layers_read = reads.read,
            "import source indexed"
        );
        let tree = Arc::new(tree);
        self.read
            .insert(image.manifest_digest.clone(), tree.clone());
        Ok(tree)
    }
}

/// The checksum of what `spec` copies from the published image `source`: every entry's path
/// relative to the copied folder, kind, mode, link target and bytes' digest, in path order.
pub fn checksum(
    sources: &mut Sources,
    store: &Store,
    registry: &Registry,
    source: &Published,
    spec: &ImportSpec,
) -> Result<String, Error> {
    let files = sources
        .files(store, registry, source)
        .map_err(|e| Error::Read {
            image: spec.source.clone(),
            add: spec.add.clone(),
            cause: Box::new(e),
        })?;
    let filter = ImportFilter::new(&spec.include, &spec.exclude);
    let taken = native::taken(&files, &spec.add, &filter).ok_or_else(|| Error::Missing {
        image: spec.source.clone(),
        add: spec.add.clone(),
    })?;
    let mut h = Hasher::default();
    for t in taken {
        let (path, node) = match &t {
            Taken::Below(rel, node) => (rel.to_string(), *node),
            Taken::Single(name, node) => (name.clone(), *node),
        };
        match node {
            Indexed::Dir { mode } => h.dir(&path, *mode),
            Indexed::Symlink { target } => h.symlink(&path, target),
            Indexed::File { mode, digest } => h.file(&path, *mode, digest),
        }
    }
    Ok(h.finish())
}

/// Pushes the record tag of `key` with `checksum` to `repo`: a manifest with no layers whose
/// config names the record (each record its own manifest, so deleting one takes nothing else).
pub fn record(
    registry: &Registry,
    repo: &str,
    spec: &ImportSpec,
    key: &str,
    checksum: &str,
) -> Result<String, Error> {
    let tag = imports::record_tag(key, checksum);
    let labels = [
        ("werf-rs.import.key", key),
        ("werf-rs.import.checksum", checksum),
    ];
    crate::push::record(registry, repo, &tag, &labels).map_err(|cause| Error::Record {
        image: spec.source.clone(),
        tag: tag.clone(),
        cause: Box::new(cause),
    })?;
    Ok(tag)
}
