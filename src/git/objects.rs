//! [`ObjectSource`] over a gix object database: decoded trees are cached, and synthetic trees and
//! work-tree blobs of a `--dev` snapshot overlay the repository's objects.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use werf_graph::error::Error as GraphError;
use werf_graph::objects::{EntryKind, Tree, TreeEntry};
use werf_graph::{ObjectId, ObjectSource};

use super::to_gix_id;

/// Objects of one repository, usable from many threads.
pub struct GitObjects {
    sync: gix::ThreadSafeRepository,
    /// Thread-local handles are not `Sync`; a small pool hands them out.
    pool: Mutex<Vec<gix::Repository>>,
    trees: RwLock<HashMap<ObjectId, Arc<Tree>>>,
    /// Work-tree files of a `--dev` snapshot, by the blob id their content hashes to.
    work_blobs: HashMap<ObjectId, PathBuf>,
}

impl GitObjects {
    /// Objects of `sync`.
    pub fn new(sync: gix::ThreadSafeRepository) -> Self {
        GitObjects {
            sync,
            pool: Mutex::default(),
            trees: RwLock::default(),
            work_blobs: HashMap::new(),
        }
    }

    /// Adds synthetic trees (already hashed as Git would) and work-tree blobs.
    pub fn with_overlay(
        self,
        trees: HashMap<ObjectId, Arc<Tree>>,
        work_blobs: HashMap<ObjectId, PathBuf>,
    ) -> Self {
        self.trees
            .write()
            .expect("tree cache lock poisoned")
            .extend(trees);
        GitObjects { work_blobs, ..self }
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
                .map(|e| TreeEntry {
                    name: e.filename.to_string(),
                    kind: match e.mode.kind() {
                        gix::object::tree::EntryKind::Tree => EntryKind::Tree,
                        gix::object::tree::EntryKind::Blob => EntryKind::Blob,
                        gix::object::tree::EntryKind::BlobExecutable => EntryKind::Executable,
                        gix::object::tree::EntryKind::Link => EntryKind::Symlink,
                        gix::object::tree::EntryKind::Commit => EntryKind::Commit,
                    },
                    id: super::to_graph_id(e.oid),
                })
                .collect();
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
        if let Some(path) = self.work_blobs.get(&id) {
            return std::fs::read(path)
                .map(Arc::from)
                .map_err(|e| object_error(id, format!("`{}`: {e}", path.display())));
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
