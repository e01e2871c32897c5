//! [`ObjectSource`] over a gix object database: decoded trees are cached, and synthetic trees and
//! work-tree blobs of a `--dev` snapshot overlay the repository's objects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use werf_graph::error::Error as GraphError;
use werf_graph::objects::{EntryKind, Tree, TreeEntry};
use werf_graph::{ObjectId, ObjectSource};

use super::beneath::{blob_id, Content, WorkTree};
use super::to_gix_id;

/// Objects of one repository, usable from many threads.
pub struct GitObjects {
    sync: gix::ThreadSafeRepository,
    /// Thread-local handles are not `Sync`; a small pool hands them out.
    pool: Mutex<Vec<gix::Repository>>,
    trees: RwLock<HashMap<ObjectId, Arc<Tree>>>,
    /// Work-tree files (of a `--dev` snapshot, or `contextAddFiles`), repository-relative, by the
    /// blob id their content hashed to; read beneath the work tree root and checked again.
    work_blobs: RwLock<HashMap<ObjectId, String>>,
    work: Option<Arc<WorkTree>>,
}

impl GitObjects {
    /// Objects of `sync`.
    pub fn new(sync: gix::ThreadSafeRepository) -> Self {
        GitObjects {
            sync,
            pool: Mutex::default(),
            trees: RwLock::default(),
            work_blobs: RwLock::default(),
            work: None,
        }
    }

    /// Reads work-tree blobs beneath `work`.
    pub fn with_work_tree(self, work: Arc<WorkTree>) -> Self {
        GitObjects {
            work: Some(work),
            ..self
        }
    }

    /// Makes work-tree files (repository-relative) readable as blobs by their content's id.
    pub fn add_work_blobs(&self, blobs: impl IntoIterator<Item = (ObjectId, String)>) {
        self.work_blobs
            .write()
            .expect("work blob lock poisoned")
            .extend(blobs);
    }

    /// Adds synthetic trees (already hashed as Git would) and work-tree blobs.
    pub fn with_overlay(
        self,
        trees: HashMap<ObjectId, Arc<Tree>>,
        work_blobs: HashMap<ObjectId, String>,
    ) -> Self {
        self.trees
            .write()
            .expect("tree cache lock poisoned")
            .extend(trees);
        self.add_work_blobs(work_blobs);
        self
    }

    fn with_repo<T>(&self, f: impl FnOnce(&gix::Repository) -> T) -> T {
        let repo = self
            .pool
            .lock()
            .expect("repository pool lock poisoned")
            .pop()
            .unwrap_or_else(|| {
                let mut r = self.sync.to_thread_local();
                r.object_cache_size_if_unset(4 * 1024 * 1024);
                r
            });
        let out = f(&repo);
        self.pool
            .lock()
            .expect("repository pool lock poisoned")
            .push(repo);
        out
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut next = e.source();
    while let Some(s) = next {
        parts.push(s.to_string());
        next = s.source();
    }
    parts.join(": ")
}

fn object_error(id: ObjectId, e: impl std::fmt::Display) -> GraphError {
    GraphError::Object {
        id: id.hex(),
        message: e.to_string(),
    }
}

impl ObjectSource for GitObjects {
    fn tree(&self, id: ObjectId) -> werf_graph::Result<Arc<Tree>> {
        if let Some(t) = self
            .trees
            .read()
            .expect("tree cache lock poisoned")
            .get(&id)
        {
            return Ok(t.clone());
        }
        let tree = self.with_repo(|repo| -> werf_graph::Result<Tree> {
            let object = repo
                .find_object(to_gix_id(id))
                .map_err(|e| object_error(id, e))?;
            let tree = object.try_into_tree().map_err(|e| object_error(id, e))?;
            let decoded = tree.decode().map_err(|e| object_error(id, e))?;
            let entries = decoded
                .entries
                .iter()
                .map(|e| {
                    // A lossy name could make two different paths one: refuse instead.
                    let name = std::str::from_utf8(e.filename).map_err(|_| {
                        object_error(
                            id,
                            format!(
                                "the entry `{}` has a name that is not UTF-8 (werf-rs reads UTF-8 paths only)",
                                String::from_utf8_lossy(e.filename)
                            ),
                        )
                    })?;
                    Ok(TreeEntry {
                    name: name.to_string(),
                    kind: match e.mode.kind() {
                        gix::object::tree::EntryKind::Tree => EntryKind::Tree,
                        gix::object::tree::EntryKind::Blob => EntryKind::Blob,
                        gix::object::tree::EntryKind::BlobExecutable => EntryKind::Executable,
                        gix::object::tree::EntryKind::Link => EntryKind::Symlink,
                        gix::object::tree::EntryKind::Commit => EntryKind::Commit,
                    },
                    id: super::to_graph_id(e.oid),
                })
                })
                .collect::<werf_graph::Result<_>>()?;
            Ok(Tree { entries })
        })?;
        let tree = Arc::new(tree);
        self.trees
            .write()
            .expect("tree cache lock poisoned")
            .insert(id, tree.clone());
        Ok(tree)
    }

    fn blob(&self, id: ObjectId) -> werf_graph::Result<Arc<[u8]>> {
        let work_path = self
            .work_blobs
            .read()
            .expect("work blob lock poisoned")
            .get(&id)
            .cloned();
        if let (Some(path), Some(work)) = (work_path, &self.work) {
            // Read again beneath the root and checked against the id the digest used: the layer
            // always holds the bytes the tag was computed from.
            let content = work
                .read(&path)
                .map_err(|e| object_error(id, format!("{e}: {}", error_chain(&e))))?
                .ok_or_else(|| object_error(id, format!("`{path}` is gone from the work tree")))?;
            if blob_id(&content) != id {
                return Err(object_error(
                    id,
                    format!("`{path}` changed while werf was reading it; run again"),
                ));
            }
            let data = match content {
                Content::File { data, .. } => data,
                Content::Symlink(target) => target,
            };
            return Ok(Arc::from(data));
        }
        self.with_repo(|repo| {
            let object = repo
                .find_object(to_gix_id(id))
                .map_err(|e| object_error(id, e))?;
            let blob = object.try_into_blob().map_err(|e| object_error(id, e))?;
            Ok(Arc::from(blob.data.as_slice()))
        })
    }
}
