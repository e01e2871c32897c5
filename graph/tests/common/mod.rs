//! What the engine tests share: a project at a root tree.

use std::sync::Arc;

use werf_graph::db::{Database, Project};
use werf_graph::ObjectId;

/// The project at `root`: werf.yaml at the repository's root, no work-tree files, no template
/// environment, no import checksums.
pub fn project(db: &Database, root: ObjectId) -> Project {
    Project::new(
        db,
        root,
        String::new(),
        "werf.yaml".into(),
        Arc::default(),
        Arc::default(),
        Arc::default(),
    )
}
