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
    /// The platforms an image builds for, when werf.yaml or `--platform` names them (more than
    /// one: its tag names an index of one manifest per platform).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub platforms: Vec<String>,
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

/// A graph being built: nodes by id (the first insertion of an id wins), edges as a set.
#[derive(Default)]
struct Draft {
    nodes: BTreeMap<String, Node>,
    edges: BTreeSet<Edge>,
}

impl Draft {
    fn from(view: GraphView) -> Self {
        Draft {
            nodes: view.nodes.into_iter().map(|n| (n.id.clone(), n)).collect(),
            edges: view.edges.into_iter().collect(),
        }
    }

    /// Adds the node (unless its id is there) and returns its id.
    fn node(&mut self, id: String, kind: NodeKind, label: String, digest: String) -> String {
        self.nodes.entry(id.clone()).or_insert(Node {
            id: id.clone(),
            kind,
            label,
            digest,
            state: None,
            platforms: Vec::new(),
        });
        id
    }

    /// `from` depends on `to`.
    fn edge(&mut self, from: &str, to: &str, label: &str) {
        self.edges.insert(Edge {
            from: from.to_string(),
            to: to.to_string(),
            label: label.to_string(),
        });
    }

    fn finish(self) -> GraphView {
        GraphView {
            nodes: self.nodes.into_values().collect(),
            edges: self.edges.into_iter().collect(),
        }
    }
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

    let mut g = Draft::default();

    let config = g.node(
        format!("config:{config_file}"),
        NodeKind::Config,
        config_file.to_string(),
        config_blob.hex(),
    );
    for name in wanted {
        let Some(plan) = by_name.get(name) else {
            continue;
        };
        let image = g.node(
            format!("image:{name}"),
            NodeKind::Image,
            name.to_string(),
            plan.digest.hex(),
        );
        if let Some(n) = g.nodes.get_mut(&image) {
            n.platforms = plan.platform.clone();
        }
        g.edge(&image, &config, "declared in");
        let s = &plan.sources;
        let df = g.node(
            format!("dockerfile:{}", s.dockerfile),
            NodeKind::Dockerfile,
            s.dockerfile.clone(),
            s.dockerfile_blob.hex(),
        );
        g.edge(&image, &df, "dockerfile");
        if let Some((path, id)) = &s.dockerignore {
            let di = g.node(
                format!("dockerignore:{path}"),
                NodeKind::Dockerignore,
                path.clone(),
                id.hex(),
            );
            g.edge(&image, &di, "filters context");
        }
        let stage_id = |i: usize| format!("stage:{name}#{i}");
        for st in &plan.stages {
            let sid = g.node(
                stage_id(st.index),
                NodeKind::Stage,
                format!("{name} stage {}", st.label),
                st.digest.hex(),
            );
            if st.index == plan.target {
                g.edge(&image, &sid, "target stage");
            }
            match &st.base {
                BaseRef::Scratch => {}
                BaseRef::Stage { index } => g.edge(&sid, &stage_id(*index), "FROM"),
                BaseRef::Image { name: dep } => g.edge(&sid, &format!("image:{dep}"), "FROM"),
                BaseRef::External { reference } => {
                    let ext = g.node(
                        format!("external:{reference}"),
                        NodeKind::External,
                        reference.clone(),
                        String::new(),
                    );
                    g.edge(&sid, &ext, "FROM");
                }
            }
            for d in &st.stage_deps {
                if st.base != (BaseRef::Stage { index: *d }) {
                    g.edge(&sid, &stage_id(*d), "COPY --from");
                }
            }
            for dep in &st.image_deps {
                if st.base != (BaseRef::Image { name: dep.clone() }) {
                    g.edge(&sid, &format!("image:{dep}"), "uses image");
                }
            }
            for u in &st.sources {
                let label = format!("COPY {} (line {})", u.content.source, u.line);
                for m in &u.content.matched {
                    if s.stapel {
                        // A Stapel stage's sources are a git mapping's selections.
                        let (id, label) = stapel_selection(name, &s.stapel_paths, m);
                        let target = g.node(id, NodeKind::Listing, label, matched_digest(m));
                        g.edge(&sid, &target, &format!("COPY (line {})", u.line));
                        continue;
                    }
                    let repo_path = join(&s.context_repo_path, m.path());
                    let target = match m {
                        Matched::Tree { id, .. } => g.node(
                            format!("tree:{repo_path}"),
                            NodeKind::Tree,
                            repo_path.clone(),
                            id.hex(),
                        ),
                        Matched::Listing { digest, files, .. } => g.node(
                            format!("listing:{repo_path}@{}", digest.short()),
                            NodeKind::Listing,
                            format!("{repo_path} ({files} files after .dockerignore)"),
                            digest.hex(),
                        ),
                        Matched::File { id, .. } => g.node(
                            format!("file:{repo_path}"),
                            NodeKind::File,
                            repo_path.clone(),
                            id.hex(),
                        ),
                        Matched::WorkFile { id, .. } => g.node(
                            format!("work:{repo_path}"),
                            NodeKind::WorkFile,
                            format!("{repo_path} (work tree)"),
                            id.hex(),
                        ),
                    };
                    g.edge(&sid, &target, &label);
                }
            }
        }
    }
    g.finish()
}

/// The id and label of a Stapel selection (`git-N-all`, `git-N-install`) of image `image`.
fn stapel_selection(image: &str, adds: &[String], m: &Matched) -> (String, String) {
    let src = m.path().trim_end_matches('/');
    let (n, what) = match crate::stapel::translate::parse_source(src) {
        Some((n, what, _)) => (Some(n), what),
        None => (None, src),
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
    let mut g = Draft::from(std::mem::take(view));
    let chart = g.node(
        format!("chart:{chart_dir}"),
        NodeKind::Chart,
        chart_dir.to_string(),
        chart_tree.hex(),
    );
    for (t, rendered) in templates {
        if only.is_some_and(|o| !rendered.images.contains(o)) {
            continue;
        }
        let tid = g.node(
            format!("template:{}", t.name),
            NodeKind::Template,
            t.name.clone(),
            Digest::of_bytes("template", t.text.as_bytes()).hex(),
        );
        g.edge(&tid, &chart, "in chart");
        for image in &rendered.images {
            g.edge(&tid, &format!("image:{image}"), "reads image values");
        }
        if rendered.lookup {
            let cluster = g.node(
                "cluster:lookup".into(),
                NodeKind::Cluster,
                "the cluster (lookup)".into(),
                String::new(),
            );
            g.edge(&tid, &cluster, "lookup");
        }
        for m in rendered.manifests.iter().filter(|m| !m.kind.is_empty()) {
            let oid = g.node(
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
            g.edge(&oid, &tid, "rendered by");
        }
    }
    *view = g.finish();
}

/// An image whose tag is pending (it waits on an import's content, see [`crate::imports`]): a
/// node without a digest, its state saying what it waits for, with edges to the images it reads.
pub fn add_pending(
    view: &mut GraphView,
    config_file: &str,
    image: &str,
    reads: &[String],
    waits_for: &str,
) {
    let mut g = Draft::from(std::mem::take(view));
    let id = g.node(
        format!("image:{image}"),
        NodeKind::Image,
        image.to_string(),
        String::new(),
    );
    g.edge(&id, &format!("config:{config_file}"), "declared in");
    for dep in reads {
        g.edge(&id, &format!("image:{dep}"), "uses image");
    }
    *view = g.finish();
    set_state(view, &format!("image:{image}"), waits_for);
}

/// Sets the state of node `id` (no-op for an unknown id).
pub fn set_state(view: &mut GraphView, id: &str, state: impl Into<String>) {
    if let Some(n) = view.nodes.iter_mut().find(|n| n.id == id) {
        n.state = Some(state.into());
    }
}
