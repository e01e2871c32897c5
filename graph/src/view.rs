//! The dependency graph as nodes and edges, for `werf graph`: config, images, stages, and the Git
//! trees, files and external references they read, each with the digest or object id that names it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use crate::context::Matched;
use crate::objects::ObjectId;
use crate::pattern::join;
use crate::plan::{BaseRef, ImagePlan};

/// What a node stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Config,
    Image,
    Stage,
    Dockerfile,
    Dockerignore,
    Tree,
    Listing,
    File,
    WorkFile,
    External,
}

/// A node: a stable id, its kind, a label and the hash that identifies its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
    pub label: String,
    /// Digest (images, stages, listings) or Git object id (config, trees, files); empty for
    /// external references, which are named by their reference.
    pub digest: String,
}

/// `from` depends on `to`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: String,
}

/// The graph: nodes sorted by id, edges sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GraphView {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// Builds the graph of `plans`; with `only`, of that image and what it depends on.
pub fn build(
    config_file: &str,
    config_blob: ObjectId,
    plans: &[Arc<ImagePlan>],
    only: Option<&str>,
) -> GraphView {
    let by_name: BTreeMap<&str, &Arc<ImagePlan>> =
        plans.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut wanted: BTreeSet<&str> = BTreeSet::new();
    match only {
        None => wanted.extend(by_name.keys()),
        Some(name) => {
            let mut frontier = vec![name];
            while let Some(n) = frontier.pop() {
                if wanted.insert(n) {
                    if let Some(p) = by_name.get(n) {
                        frontier.extend(p.dependencies.iter().map(String::as_str));
                    }
                }
            }
        }
    }

    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    let mut edges: BTreeSet<Edge> = BTreeSet::new();
    let mut node = |id: String, kind: NodeKind, label: String, digest: String| {
        nodes.entry(id.clone()).or_insert(Node {
            id: id.clone(),
            kind,
            label,
            digest,
        });
        id
    };
    let mut edge = |from: &str, to: &str, label: &str| {
        edges.insert(Edge {
            from: from.to_string(),
            to: to.to_string(),
            label: label.to_string(),
        });
    };

    let config = node(
        format!("config:{config_file}"),
        NodeKind::Config,
        config_file.to_string(),
        config_blob.hex(),
    );
    for name in wanted {
        let Some(plan) = by_name.get(name) else {
            continue;
        };
        let image = node(
            format!("image:{name}"),
            NodeKind::Image,
            name.to_string(),
            plan.digest.hex(),
        );
        edge(&image, &config, "declared in");
        let s = &plan.sources;
        let df = node(
            format!("dockerfile:{}", s.dockerfile),
            NodeKind::Dockerfile,
            s.dockerfile.clone(),
            s.dockerfile_blob.hex(),
        );
        edge(&image, &df, "dockerfile");
        if let Some((path, id)) = &s.dockerignore {
            let di = node(
                format!("dockerignore:{path}"),
                NodeKind::Dockerignore,
                path.clone(),
                id.hex(),
            );
            edge(&image, &di, "filters context");
        }
        let stage_id = |i: usize| format!("stage:{name}#{i}");
        for st in &plan.stages {
            let sid = node(
                stage_id(st.index),
                NodeKind::Stage,
                format!("{name} stage {}", st.label),
                st.digest.hex(),
            );
            if st.index == plan.target {
                edge(&image, &sid, "target stage");
            }
            match &st.base {
                BaseRef::Scratch => {}
                BaseRef::Stage { index } => edge(&sid, &stage_id(*index), "FROM"),
                BaseRef::Image { name: dep } => edge(&sid, &format!("image:{dep}"), "FROM"),
                BaseRef::External { reference } => {
                    let ext = node(
                        format!("external:{reference}"),
                        NodeKind::External,
                        reference.clone(),
                        String::new(),
                    );
                    edge(&sid, &ext, "FROM");
                }
            }
            for d in &st.stage_deps {
                if st.base != (BaseRef::Stage { index: *d }) {
                    edge(&sid, &stage_id(*d), "COPY --from");
                }
            }
            for dep in &st.image_deps {
                if st.base != (BaseRef::Image { name: dep.clone() }) {
                    edge(&sid, &format!("image:{dep}"), "uses image");
                }
            }
            for u in &st.sources {
                let label = format!("COPY {} (line {})", u.content.source, u.line);
                for m in &u.content.matched {
                    let repo_path = join(&s.context_repo_path, m.path());
                    let target = match m {
                        Matched::Tree { id, .. } => node(
                            format!("tree:{repo_path}"),
                            NodeKind::Tree,
                            repo_path.clone(),
                            id.hex(),
                        ),
                        Matched::Listing { digest, files, .. } => node(
                            format!("listing:{repo_path}@{}", digest.short()),
                            NodeKind::Listing,
                            format!("{repo_path} ({files} files after .dockerignore)"),
                            digest.hex(),
                        ),
                        Matched::File { id, .. } => node(
                            format!("file:{repo_path}"),
                            NodeKind::File,
                            repo_path.clone(),
                            id.hex(),
                        ),
                        Matched::WorkFile { id, .. } => node(
                            format!("work:{repo_path}"),
                            NodeKind::WorkFile,
                            format!("{repo_path} (work tree)"),
                            id.hex(),
                        ),
                    };
                    edge(&sid, &target, &label);
                }
            }
        }
    }
    GraphView {
        nodes: nodes.into_values().collect(),
        edges: edges.into_iter().collect(),
    }
}
