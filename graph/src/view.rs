//! The dependency graph as nodes and edges, for `werf graph`: config, images, stages, and the Git
//! trees, files and external references they read; the chart, its templates with the image
//! values each one read, and the objects they render; each with the digest or object id that
//! names it, and, where the caller knows it, its state (registry, cluster).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use crate::chart::output::Template;
use crate::context::Matched;
use crate::digest::Digest;
use crate::objects::ObjectId;
use crate::pattern::join;
use crate::plan::{BaseRef, ImagePlan};
use crate::render::RenderedTemplate;

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
    Chart,
    Template,
    Object,
    /// The live cluster, read by `lookup`.
    Cluster,
}

/// A node: a stable id, its kind, a label and the hash that identifies its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
    pub label: String,
    /// Digest (images, stages, listings, templates, objects) or Git object id (config, trees,
    /// files, the chart); empty for external references, which are named by their reference.
    pub digest: String,
    /// What the registry or the cluster says of it, when asked (`present`, `missing`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
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
            state: None,
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
                    if s.stapel {
                        // A Stapel stage's sources are a git mapping's selections.
                        let (id, label) = stapel_selection(name, &s.stapel_paths, m);
                        let target = node(id, NodeKind::Listing, label, matched_digest(m));
                        edge(&sid, &target, &format!("COPY (line {})", u.line));
                        continue;
                    }
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

/// The id and label of a Stapel selection (`git-N-all`, `git-N-install`) of image `image`.
fn stapel_selection(image: &str, adds: &[String], m: &Matched) -> (String, String) {
    let src = m.path().trim_end_matches('/');
    let mut parts = src.splitn(3, '-');
    let (n, what) = match (parts.next(), parts.next(), parts.next()) {
        (Some("git"), Some(n), Some(what)) => (n.parse::<usize>().ok(), what),
        _ => (None, src),
    };
    let add = n
        .and_then(|n| adds.get(n))
        .map(|a| {
            if a.is_empty() {
                "/".to_string()
            } else {
                a.clone()
            }
        })
        .unwrap_or_default();
    let what = if what == "all" {
        "all selected files".to_string()
    } else {
        format!("the files `{what}` depends on")
    };
    (
        format!("selection:{image}:{src}"),
        format!("git[{}] `{add}`: {what}", n.unwrap_or_default()),
    )
}

fn matched_digest(m: &Matched) -> String {
    match m {
        Matched::Tree { id, .. } | Matched::File { id, .. } | Matched::WorkFile { id, .. } => {
            id.hex()
        }
        Matched::Listing { digest, .. } => digest.hex(),
    }
}

/// Adds the chart (its tree `chart_tree` at `chart_dir`), each rendered template with the
/// images whose values it read, and the objects it rendered. With `only`, just the templates
/// reading that image (and their objects).
pub fn add_chart(
    view: &mut GraphView,
    chart_dir: &str,
    chart_tree: ObjectId,
    templates: &[(Template, Arc<RenderedTemplate>)],
    only: Option<&str>,
) {
    let mut nodes: BTreeMap<String, Node> =
        view.nodes.drain(..).map(|n| (n.id.clone(), n)).collect();
    let mut edges: BTreeSet<Edge> = view.edges.drain(..).collect();
    let mut node = |id: String, kind: NodeKind, label: String, digest: String| {
        nodes.entry(id.clone()).or_insert(Node {
            id: id.clone(),
            kind,
            label,
            digest,
            state: None,
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
    let chart = node(
        format!("chart:{chart_dir}"),
        NodeKind::Chart,
        chart_dir.to_string(),
        chart_tree.hex(),
    );
    for (t, rendered) in templates {
        if only.is_some_and(|o| !rendered.images.contains(o)) {
            continue;
        }
        let tid = node(
            format!("template:{}", t.name),
            NodeKind::Template,
            t.name.clone(),
            Digest::of_bytes("template", t.text.as_bytes()).hex(),
        );
        edge(&tid, &chart, "in chart");
        for image in &rendered.images {
            edge(&tid, &format!("image:{image}"), "reads image values");
        }
        if rendered.lookup {
            let cluster = node(
                "cluster:lookup".into(),
                NodeKind::Cluster,
                "the cluster (lookup)".into(),
                String::new(),
            );
            edge(&tid, &cluster, "lookup");
        }
        for m in rendered.manifests.iter().filter(|m| !m.kind.is_empty()) {
            let oid = node(
                format!("object:{}/{}", m.kind, m.name),
                NodeKind::Object,
                format!(
                    "{} {}{}",
                    m.kind,
                    m.name,
                    if m.hook { " (hook)" } else { "" }
                ),
                Digest::of_bytes("object", m.text.as_bytes()).hex(),
            );
            edge(&oid, &tid, "rendered by");
        }
    }
    view.nodes = nodes.into_values().collect();
    view.edges = edges.into_iter().collect();
}

/// Sets the state of node `id` (no-op for an unknown id).
pub fn set_state(view: &mut GraphView, id: &str, state: impl Into<String>) {
    if let Some(n) = view.nodes.iter_mut().find(|n| n.id == id) {
        n.state = Some(state.into());
    }
}
