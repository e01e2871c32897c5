//! What the engine tests share: a project at a root tree.

use std::sync::Arc;

use werf_graph::db::{Database, Project};
use werf_graph::ObjectId;

/// The project at `root`: werf.yaml at the repository's root, no work-tree files, no template
/// environment, no import checksums.
pub fn project(db: &Database, root: ObjectId) -> Project {
    project_in(db, root, "")
}

/// [`project`] in the folder `prefix` of the repository.
#[allow(dead_code)] // not every test file has a project in a folder
pub fn project_in(db: &Database, root: ObjectId, prefix: &str) -> Project {
    Project::new(
        db,
        root,
        prefix.to_string(),
        "werf.yaml".into(),
        Arc::default(),
        Arc::default(),
        Arc::default(),
    )
}
