//! Stapel import checksums (the effects of [`werf_graph::imports`]): the files an import copies,
//! read from its built source and hashed, and the record tag that keeps the checksum in the
//! repository for the next plans.

use std::collections::HashMap;
use std::sync::Arc;

use werf_graph::imports::{self, content_digest, Hasher, ImportSpec};
use werf_graph::ObjectSource;

use super::layer::{Node, Spool, Tree};
use super::native::{self, ImportFilter, Published, Taken};
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

/// The files of built images, read once per build whatever the number of imports from each.
#[derive(Default)]
pub struct Sources {
    /// By manifest digest: the spool holding file contents, and the tree.
    read: HashMap<String, (Arc<Spool>, Arc<Tree>)>,
}

impl Sources {
    /// The files of `image` (its layers pulled and unpacked the first time).
    fn files(&mut self, registry: &Registry, image: &Published) -> native::Result<Arc<Tree>> {
        if let Some((_, tree)) = self.read.get(&image.manifest_digest) {
            return Ok(tree.clone());
        }
        // Imports from one source resolve together: a few recent sources are enough, and
        // memory stays bounded however many sources a build has.
        if self.read.len() >= KEPT_SOURCES {
            self.read.clear();
        }
        let spool = Spool::new()?;
        let tree = native::image_files(registry, image, &spool)?;
        self.read
            .insert(image.manifest_digest.clone(), (spool, tree.clone()));
        Ok(tree)
    }
}

/// The checksum of what `spec` copies from the published image `source`: every entry's path
/// relative to the copied folder, kind, mode, link target and bytes, in path order.
pub fn checksum(
    sources: &mut Sources,
    registry: &Registry,
    objects: &dyn ObjectSource,
    source: &Published,
    spec: &ImportSpec,
) -> Result<String, Error> {
    let read = |cause: Box<dyn std::error::Error + Send + Sync>| Error::Read {
        image: spec.source.clone(),
        add: spec.add.clone(),
        cause,
    };
    let files = sources
        .files(registry, source)
        .map_err(|e| read(Box::new(e)))?;
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
            Node::Dir { mode } => h.dir(&path, *mode),
            Node::Symlink { target } => h.symlink(&path, target),
            Node::File { mode, data } => {
                let mut reader = data.reader(objects).map_err(|e| read(Box::new(e)))?;
                let digest = content_digest(&mut reader).map_err(|e| read(Box::new(e)))?;
                h.file(&path, *mode, &digest);
            }
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
