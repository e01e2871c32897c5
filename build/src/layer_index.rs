//! Layer indexes for import checksums: each layer's entries with their contents' digests,
//! kept in the store under the layer's digest. An image's files are its layers' indexes merged
//! in order, so an import reads only the layers no earlier run has indexed: a base's layers
//! are pulled once per machine, a rebuilt source's new layers once.

use std::collections::BTreeMap;
use std::io::Read;

use werf_cache::Store;
use werf_graph::imports::content_digest;
use werf_graph::Digest;

use super::layer::{apply_op, read_layer, Entry, FsNode, Node, Op};
use super::oci::Descriptor;

/// The store's namespace for layer indexes.
const NAMESPACE: &str = "layer-index";

/// Version of the record's format (a record of another version reads as a miss).
const FORMAT: u32 = 1;

/// An entry of an indexed file system: a file is its content's digest, not its bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Indexed {
    Dir {
        mode: u32,
    },
    File {
        mode: u32,
        /// [`content_digest`] of the bytes.
        digest: Digest,
    },
    Symlink {
        target: String,
    },
}

impl FsNode for Indexed {
    fn is_dir(&self) -> bool {
        matches!(self, Indexed::Dir { .. })
    }
}

/// An image's files as their layers' indexes give them.
pub type IndexedTree = BTreeMap<String, Indexed>;

/// One layer's operations in order.
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerIndex {
    format: u32,
    ops: Vec<(String, Op<Indexed>)>,
}

/// Errors of indexing a layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading layer `{digest}`")]
    Read {
        digest: String,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("layer index store")]
    Store(#[source] werf_cache::Error),
}

/// Reads a layer's bytes (pulling its blob).
pub trait LayerBlobs {
    fn open(&self, layer: &Descriptor) -> Result<Box<dyn Read + Send>, Error>;
}

/// How many of an image's layers had an index already, and how many were read now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    pub known: usize,
    pub read: usize,
}

/// The index of one layer, read from its bytes.
pub fn index_layer(blob: impl Read) -> std::io::Result<LayerIndex> {
    let mut ops = Vec::new();
    read_layer(blob, |path, entry| {
        let op = match entry {
            Entry::File(f) => Op::Put(Indexed::File {
                mode: f.mode,
                digest: content_digest(f.reader)?,
            }),
            Entry::Other(op) => match op {
                Op::Opaque => Op::Opaque,
                Op::Whiteout => Op::Whiteout,
                Op::Link { target } => Op::Link { target },
                Op::Put(Node::Dir { mode }) => Op::Put(Indexed::Dir { mode }),
                Op::Put(Node::Symlink { target }) => Op::Put(Indexed::Symlink { target }),
                Op::Put(Node::File { .. }) => {
                    return Err(std::io::Error::other("a file entry without its bytes"))
                }
            },
        };
        ops.push((path, op));
        Ok(())
    })?;
    Ok(LayerIndex {
        format: FORMAT,
        ops,
    })
}

/// The files of the image whose layers are `layers` (bottom first): each layer's index from
/// `store` when an earlier run made it, else read through `blobs` and kept.
pub fn image_index(
    store: &Store,
    blobs: &dyn LayerBlobs,
    layers: &[Descriptor],
) -> Result<(IndexedTree, Reads), Error> {
    let mut tree = IndexedTree::new();
    let mut reads = Reads::default();
    for layer in layers {
        let key = werf_cache::key_for_name(NAMESPACE, &layer.digest);
        let cached = store
            .get(NAMESPACE, &key)
            .map_err(Error::Store)?
            .and_then(|bytes| serde_json::from_slice::<LayerIndex>(&bytes).ok())
            .filter(|i| i.format == FORMAT);
        let index = match cached {
            Some(i) => {
                reads.known += 1;
                i
            }
            None => {
                let read = |cause: Box<dyn std::error::Error + Send + Sync>| Error::Read {
                    digest: layer.digest.clone(),
                    cause,
                };
                let index = index_layer(blobs.open(layer)?).map_err(|e| read(Box::new(e)))?;
                let bytes = serde_json::to_vec(&index).map_err(|e| read(Box::new(e)))?;
                store.put(NAMESPACE, &key, &bytes).map_err(Error::Store)?;
                reads.read += 1;
                index
            }
        };
        for (path, op) in index.ops {
            apply_op(&mut tree, path, op);
        }
    }
    Ok((tree, reads))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    use crate::layer::{apply_layer, Spool, Tree};

    /// A tar layer of `(path, kind)` entries, in order: `f:BYTES`, `d`, `l:TARGET` (symlink),
    /// `h:TARGET` (hard link).
    fn layer(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(0);
            let (t, rest) = kind.split_once(':').unwrap_or((kind, ""));
            match t {
                "f" => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(rest.len() as u64);
                    h.set_mode(0o600);
                    b.append_data(&mut h, path, rest.as_bytes()).unwrap();
                }
                "d" => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(0o750);
                    b.append_data(&mut h, path, &[][..]).unwrap();
                }
                "l" | "h" => {
                    h.set_entry_type(if t == "l" {
                        tar::EntryType::Symlink
                    } else {
                        tar::EntryType::Link
                    });
                    b.append_link(&mut h, path, rest).unwrap();
                }
                other => panic!("{other}"),
            }
        }
        b.into_inner().unwrap()
    }

    struct Blobs {
        by_digest: HashMap<String, Vec<u8>>,
        opened: RefCell<Vec<String>>,
    }

    impl LayerBlobs for Blobs {
        fn open(&self, layer: &Descriptor) -> Result<Box<dyn Read + Send>, Error> {
            self.opened.borrow_mut().push(layer.digest.clone());
            Ok(Box::new(std::io::Cursor::new(
                self.by_digest[&layer.digest].clone(),
            )))
        }
    }

    fn descriptor(digest: &str) -> Descriptor {
        Descriptor {
            media_type: crate::oci::LAYER_GZIP.to_string(),
            digest: digest.to_string(),
            size: 0,
            platform: None,
        }
    }

    /// The files of `layers` as unpacking them gives, with each file's digest.
    fn unpacked(layers: &[&Vec<u8>]) -> IndexedTree {
        let spool = Spool::new().unwrap();
        let mut tree = Tree::new();
        for l in layers {
            apply_layer(&mut tree, &l[..], &spool).unwrap();
        }
        let objects = werf_graph::objects::MemoryObjects::new();
        tree.into_iter()
            .map(|(p, n)| {
                let i = match n {
                    Node::Dir { mode } => Indexed::Dir { mode },
                    Node::Symlink { target } => Indexed::Symlink { target },
                    Node::File { mode, data } => Indexed::File {
                        mode,
                        digest: content_digest(&mut data.reader(&objects).unwrap()).unwrap(),
                    },
                };
                (p, i)
            })
            .collect()
    }

    #[test]
    fn merged_indexes_are_the_unpacked_files_whiteouts_and_links_included() {
        let base = layer(&[
            ("etc", "d"),
            ("etc/os", "f:debian"),
            ("etc/gone", "f:x"),
            ("opt/a/b", "f:deep"),
            ("usr/bin/sh", "f:shell"),
            ("usr/bin/ash", "l:sh"),
        ]);
        let top = layer(&[
            ("etc/.wh.gone", "f:"),
            ("opt/.wh..wh..opq", "f:"),
            ("opt/new", "f:n"),
            ("usr/bin/dash", "h:usr/bin/sh"),
            ("usr/bin/sh", "f:replaced"),
            ("data", "f:file where a folder was"),
        ]);
        let blobs = Blobs {
            by_digest: HashMap::from([
                ("sha256:base".to_string(), base.clone()),
                ("sha256:top".to_string(), top.clone()),
            ]),
            opened: RefCell::new(Vec::new()),
        };
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(home.path()).unwrap();
        let (tree, reads) = image_index(
            &store,
            &blobs,
            &[descriptor("sha256:base"), descriptor("sha256:top")],
        )
        .unwrap();
        assert_eq!(reads, Reads { known: 0, read: 2 });
        assert_eq!(tree, unpacked(&[&base, &top]));
        assert!(tree.contains_key("opt/new") && !tree.contains_key("opt/a/b"));
        assert!(!tree.contains_key("etc/gone") && tree.contains_key("etc/os"));
        // The hard link copied the file as it was before the layer replaced it.
        assert_ne!(tree["usr/bin/dash"], tree["usr/bin/sh"]);
        assert!(matches!(
            tree["usr/bin/dash"],
            Indexed::File { mode: 0o600, .. }
        ));
    }

    #[test]
    fn only_layers_no_run_has_indexed_are_read() {
        let base = layer(&[("bin/sh", "f:shell"), ("lib/libc", "f:libc")]);
        let one = layer(&[("app/v", "f:1")]);
        let two = layer(&[("app/v", "f:2"), ("lib/.wh.libc", "f:")]);
        let blobs = Blobs {
            by_digest: HashMap::from([
                ("sha256:base".to_string(), base.clone()),
                ("sha256:one".to_string(), one.clone()),
                ("sha256:two".to_string(), two.clone()),
            ]),
            opened: RefCell::new(Vec::new()),
        };
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(home.path()).unwrap();
        let (first, reads) = image_index(
            &store,
            &blobs,
            &[descriptor("sha256:base"), descriptor("sha256:one")],
        )
        .unwrap();
        assert_eq!(reads, Reads { known: 0, read: 2 });
        assert_eq!(first, unpacked(&[&base, &one]));

        // A rebuilt source on the same base: its new layer alone is pulled.
        blobs.opened.borrow_mut().clear();
        let (second, reads) = image_index(
            &store,
            &blobs,
            &[descriptor("sha256:base"), descriptor("sha256:two")],
        )
        .unwrap();
        assert_eq!(reads, Reads { known: 1, read: 1 });
        assert_eq!(*blobs.opened.borrow(), ["sha256:two"]);
        assert_eq!(second, unpacked(&[&base, &two]));

        // A damaged record is read again, not trusted.
        let key = werf_cache::key_for_name(NAMESPACE, "sha256:base");
        store.put(NAMESPACE, &key, b"{not an index").unwrap();
        blobs.opened.borrow_mut().clear();
        let (again, reads) = image_index(
            &store,
            &blobs,
            &[descriptor("sha256:base"), descriptor("sha256:one")],
        )
        .unwrap();
        assert_eq!(reads, Reads { known: 1, read: 1 });
        assert_eq!(*blobs.opened.borrow(), ["sha256:base"]);
        assert_eq!(again, first);
    }

    #[test]
    fn a_damaged_layer_is_an_error_naming_it() {
        let blobs = Blobs {
            by_digest: HashMap::from([("sha256:bad".to_string(), vec![0x1f, 0x8b, 1, 2, 3])]),
            opened: RefCell::new(Vec::new()),
        };
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(home.path()).unwrap();
        let err = image_index(&store, &blobs, &[descriptor("sha256:bad")]).unwrap_err();
        assert!(err.to_string().contains("`sha256:bad`"), "{err}");
    }
}
