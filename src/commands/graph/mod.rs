//! `werf graph`: the dependency graph as text, Graphviz DOT, JSON or a page, and `--why` (the
//! chains come from [`crate::pipeline::why`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Result};
use werf_graph::view::{self, GraphView, Node, NodeKind};

use werf_graph::chart::Cluster;
use werf_graph::render::RenderInput;

use crate::cli::{GraphArgs, GraphFormat};
use crate::pipeline::render::named_render_options;
use crate::pipeline::why::Revisions;
use crate::project::load;
use crate::settings::{environment, GlobalSettings, KubeSettings, RenderSettings};

/// Runs `werf graph`.
pub fn run(global: &GlobalSettings, args: &GraphArgs) -> Result<ExitCode> {
    if let Some(target) = &args.why {
        return why(global, args, target);
    }
    let mut loaded = load(global)?;
    // With `--repo`, what the registry holds (one tag listing): which images exist, and the
    // import records importers' tags follow.
    let listed = match &args.render.repo {
        Some(repo) => {
            let registry = crate::settings::RegistrySettings::resolve(&args.registry).client(
                Some(repo),
                &[],
                global.timeouts,
            )?;
            let tags = registry.list_tags(repo)?;
            loaded.use_import_records(&tags)?;
            Some(tags)
        }
        None => None,
    };
    // Images waiting on an import's content (no records read) are drawn without a tag.
    let (plans, pending) = crate::project::split_pending(loaded.buildable_plans()?);
    if let Some(name) = &args.image {
        if !plans.iter().any(|p| &p.name == name) && !pending.iter().any(|(n, _)| n == name) {
            bail!("image `{name}` is not defined in werf.yaml");
        }
    }
    let mut graph = view::build(
        &loaded.config_file,
        loaded.config_blob,
        &plans,
        args.image.as_deref(),
    );
    for (name, error) in &pending {
        let werf_graph::Error::ImportPending { spec, .. } = error else {
            continue;
        };
        if args.image.as_ref().is_some_and(|only| only != name) {
            continue;
        }
        view::add_pending(
            &mut graph,
            &loaded.config_file,
            name,
            &loaded.dependencies(name),
            &format!(
                "pending: waits for the checksum of `{}` from `{}` (recorded by `werf build`; pass its `--repo`)",
                spec.add, spec.source
            ),
        );
    }
    // The chart, when the project has one: templates, the image values each read, objects.
    if let Ok((dir, tree)) = werf_graph::render::chart_tree(&loaded.db, loaded.project).clone() {
        let options = named_render_options(
            global,
            &RenderSettings::resolve(&args.render, environment())?,
            &loaded,
        )?;
        let input = RenderInput::new(&loaded.db, options, Cluster::offline());
        let templates = werf_graph::render::rendered_templates(&loaded.db, loaded.project, input)?;
        view::add_chart(&mut graph, &dir, tree, &templates, args.image.as_deref());
    }
    if let Some(tags) = &listed {
        for p in &plans {
            let state = if tags.contains(&p.tag) {
                "in the registry"
            } else {
                "missing: would build"
            };
            view::set_state(&mut graph, &format!("image:{}", p.name), state);
        }
    }
    // With `--live`, each object as `plan` sees it against the cluster.
    if args.live {
        live_states(global, args, &loaded, &mut graph)?;
    }
    if args.format == GraphFormat::Html || args.serve.is_some() {
        // The page explains every changed node when it is told against what (`--since`).
        let explanations = if let Some(since) = &args.since {
            let mut loaded = loaded;
            Revisions::load(
                global,
                &RenderSettings::resolve(&args.render, environment())?,
                since,
                &mut loaded,
            )?
            .all_changed()
        } else {
            Default::default()
        };
        let page = crate::graph_page::page::render(&project_name(global), &graph, &explanations);
        if let Some(addr) = &args.serve {
            let (listener, local) = crate::graph_page::serve::bind(*addr)?;
            eprintln!("serving the graph on http://{local}/ (Ctrl-C to stop)");
            crate::graph_page::serve::serve(listener, &page)?;
            return Ok(ExitCode::SUCCESS);
        }
        std::io::stdout().lock().write_all(page.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let out = match args.format {
        GraphFormat::Json => serde_json::to_string_pretty(&graph)? + "\n",
        GraphFormat::Dot => dot(&graph),
        GraphFormat::Text => text(&graph),
        GraphFormat::Html => unreachable!("handled above"),
    };
    crate::printer::text(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Marks each object node with its live state: `absent: would create`, `live: equal`, or
/// `live: differs` with the first changed lines of the server's dry-run diff.
fn live_states(
    global: &GlobalSettings,
    args: &GraphArgs,
    loaded: &crate::project::Loaded,
    graph: &mut GraphView,
) -> Result<()> {
    use crate::deploy::{self, Action};
    use crate::pipeline::desired::{desired, release_of, runtime};
    let (render, kube_settings) = (
        RenderSettings::resolve(&args.render, environment())?,
        KubeSettings::resolve(&args.kube)?,
    );
    let release = release_of(
        global,
        render.release.as_deref(),
        render.namespace.as_deref(),
        loaded,
        kube_settings.force_adoption,
    )?;
    let rt = runtime()?;
    let kube = rt.block_on(crate::kubernetes::Kube::connect_with(
        &kube_settings.target,
        global.timeouts,
    ))?;
    let plan = rt.block_on(async {
        let (wanted, history, _, early) =
            desired(&kube, global, &render, loaded, &release, None).await?;
        Ok::<_, anyhow::Error>(deploy::plan_with(&kube, wanted, history, early).await?)
    })?;
    for step in &plan.steps {
        let id = format!("object:{}/{}", step.id.kind, step.id.name);
        let state = match &step.action {
            Action::Create => "absent: would create".to_string(),
            Action::Unchanged => "live: equal".to_string(),
            Action::Delete => continue,
            Action::Update(change) => {
                let shown = &change.fields[..change.fields.len().min(5)];
                let more = change.fields.len() - shown.len();
                format!(
                    "live: differs ({}{})",
                    shown.join(", "),
                    if more > 0 {
                        format!(", +{more} more")
                    } else {
                        String::new()
                    }
                )
            }
        };
        view::set_state(graph, &id, state);
    }
    Ok(())
}

/// The page's title: the project folder's name.
fn project_name(global: &GlobalSettings) -> String {
    global
        .dir
        .clone()
        .or_else(|| std::env::current_dir().ok())
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "project".into())
}

/// `werf graph --why NODE`: the chain from the edited files to NODE, against `--since`.
fn why(global: &GlobalSettings, args: &GraphArgs, target: &str) -> Result<ExitCode> {
    let mut loaded = load(global)?;
    let since = args.since.as_deref().unwrap_or("HEAD~1");
    let revisions = Revisions::load(
        global,
        &RenderSettings::resolve(&args.render, environment())?,
        since,
        &mut loaded,
    )?;
    let mut out = format!("since {}:\n", revisions.since);
    for line in revisions.explain(target.trim())? {
        out.push_str(&line);
        out.push('\n');
    }
    crate::printer::text(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

fn kind_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Config => "config",
        NodeKind::Image => "image",
        NodeKind::Stage => "stage",
        NodeKind::Dockerfile => "dockerfile",
        NodeKind::Dockerignore => "dockerignore",
        NodeKind::Tree => "tree",
        NodeKind::Listing => "listing",
        NodeKind::File => "file",
        NodeKind::WorkFile => "work-file",
        NodeKind::External => "external",
        NodeKind::Chart => "chart",
        NodeKind::Template => "template",
        NodeKind::Object => "object",
        NodeKind::Cluster => "cluster",
    }
}

fn describe(n: &Node) -> String {
    let mut out = if n.digest.is_empty() {
        format!("{} {}", kind_name(n.kind), n.label)
    } else {
        format!("{} {} {}", kind_name(n.kind), n.label, short(&n.digest))
    };
    if let Some(state) = &n.state {
        out.push_str(&format!(" [{state}]"));
    }
    out
}

/// An indented tree per image: each node, then what it depends on.
fn text(g: &GraphView) -> String {
    let nodes: BTreeMap<&str, &Node> = g.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut out_edges: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for e in &g.edges {
        out_edges
            .entry(&e.from)
            .or_default()
            .push((&e.to, &e.label));
    }
    let mut out = String::new();
    for n in g.nodes.iter().filter(|n| n.kind == NodeKind::Image) {
        let _ = writeln!(out, "{}", describe(n));
        let mut seen = BTreeSet::new();
        walk(&n.id, 1, &nodes, &out_edges, &mut seen, &mut out);
    }
    // Then each object, with the template that renders it and what that template read.
    for n in g.nodes.iter().filter(|n| n.kind == NodeKind::Object) {
        let _ = writeln!(out, "{}", describe(n));
        let mut seen = BTreeSet::new();
        walk(&n.id, 1, &nodes, &out_edges, &mut seen, &mut out);
    }
    let _ = writeln!(out, "{} nodes, {} edges", g.nodes.len(), g.edges.len());
    out
}

fn walk<'a>(
    id: &'a str,
    depth: usize,
    nodes: &BTreeMap<&str, &Node>,
    edges: &BTreeMap<&'a str, Vec<(&'a str, &'a str)>>,
    seen: &mut BTreeSet<&'a str>,
    out: &mut String,
) {
    for (to, label) in edges.get(id).map(Vec::as_slice).unwrap_or_default() {
        let Some(node) = nodes.get(to) else { continue };
        let _ = writeln!(out, "{}{label}: {}", "  ".repeat(depth), describe(node));
        // Images are listed at the top level; stages and templates are expanded once.
        if matches!(node.kind, NodeKind::Stage | NodeKind::Template) && seen.insert(to) {
            walk(to, depth + 1, nodes, edges, seen, out);
        }
    }
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Graphviz DOT.
fn dot(g: &GraphView) -> String {
    let mut out = String::from(
        "digraph werf {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n",
    );
    for n in &g.nodes {
        let shape = match n.kind {
            NodeKind::Image => "box3d",
            NodeKind::Stage => "box",
            NodeKind::Config
            | NodeKind::Dockerfile
            | NodeKind::Dockerignore
            | NodeKind::File
            | NodeKind::WorkFile => "note",
            NodeKind::Tree | NodeKind::Listing | NodeKind::Chart => "folder",
            NodeKind::External | NodeKind::Cluster => "cylinder",
            NodeKind::Template => "note",
            NodeKind::Object => "component",
        };
        let label = if n.digest.is_empty() {
            n.label.clone()
        } else {
            format!("{}\\n{}", dot_escape(&n.label), short(&n.digest))
        };
        let _ = writeln!(
            out,
            "  \"{}\" [shape={shape}, label=\"{label}\"];",
            dot_escape(&n.id)
        );
    }
    for e in &g.edges {
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\"];",
            dot_escape(&e.from),
            dot_escape(&e.to),
            dot_escape(&e.label)
        );
    }
    out.push_str("}\n");
    out
}
