//! `werf graph`: the dependency graph as text, Graphviz DOT or JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use werf_graph::plan::ImagePlan;
use werf_graph::view::{self, GraphView, Node, NodeKind};

use werf_graph::chart::Cluster;
use werf_graph::render::RenderInput;

use crate::cli::{Global, GraphArgs, GraphFormat};
use crate::pipeline::render::render_options;
use crate::project::{load, CONFIG_FILE};
use crate::registry::Registry;

/// Runs `werf graph`.
pub fn run(global: &Global, args: &GraphArgs) -> Result<ExitCode> {
    if let Some(target) = &args.why {
        return why(global, args, target);
    }
    let loaded = load(global)?;
    let plans = loaded.ok_plans()?;
    if let Some(name) = &args.image {
        if !plans.iter().any(|p| &p.name == name) {
            bail!("image `{name}` is not defined in werf.yaml");
        }
    }
    let mut graph = view::build(
        CONFIG_FILE,
        loaded.config_blob,
        &plans,
        args.image.as_deref(),
    );
    // The chart, when the project has one: templates, the image values each read, objects.
    if let Ok((dir, tree)) = werf_graph::render::chart_tree(&loaded.db, loaded.project).clone() {
        let options = render_options(global, &args.render, &loaded)?;
        let input = RenderInput::new(&loaded.db, options, Cluster::offline());
        let templates = werf_graph::render::rendered_templates(&loaded.db, loaded.project, input)?;
        view::add_chart(&mut graph, &dir, tree, &templates, args.image.as_deref());
    }
    // With `--repo`, what the registry holds (one tag listing).
    if let Some(repo) = &args.render.repo {
        let registry = Registry::new(
            &args.insecure_registry,
            &[crate::registry::host_of(repo)],
            global.timeouts(),
        )?;
        let tags = registry.list_tags(repo)?;
        for p in &plans {
            let state = if tags.contains(&p.tag) {
                "in the registry"
            } else {
                "missing: would build"
            };
            view::set_state(&mut graph, &format!("image:{}", p.name), state);
        }
    }
    let out = match args.format {
        GraphFormat::Json => serde_json::to_string_pretty(&graph)? + "\n",
        GraphFormat::Dot => dot(&graph),
        GraphFormat::Text => text(&graph),
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `werf graph --why NODE`: the chain from the edited files to NODE, against `--since`.
fn why(global: &Global, args: &GraphArgs, target: &str) -> Result<ExitCode> {
    use werf_graph::Setter;
    let mut loaded = load(global)?;
    let since = args.since.as_deref().unwrap_or("HEAD~1");
    let old_commit = loaded
        .repo
        .commit(Some(since))
        .with_context(|| format!("`--since {since}`"))?;
    let plans_at = |db: &werf_graph::Database, project| -> BTreeMap<String, Arc<ImagePlan>> {
        werf_graph::plan::plan_all(db, project)
            .map(|all| {
                all.into_iter()
                    .filter_map(|(n, p)| p.ok().map(|p| (n, p)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let has_chart = werf_graph::render::chart_tree(&loaded.db, loaded.project).is_ok();
    let options = if has_chart {
        Some(render_options(global, &args.render, &loaded)?)
    } else {
        None
    };
    let render_at =
        |db: &werf_graph::Database, project, options: &Option<werf_graph::chart::RenderOptions>| {
            options.as_ref().and_then(|o| {
                let input = RenderInput::new(db, o.clone(), Cluster::offline());
                werf_graph::render::rendered_templates(db, project, input).ok()
            })
        };
    let new_plans = plans_at(&loaded.db, loaded.project);
    let new_templates = render_at(&loaded.db, loaded.project, &options);
    let project = loaded.project;
    project.set_root_tree(&mut loaded.db).to(old_commit.tree);
    let old_plans = plans_at(&loaded.db, project);
    let old_templates = render_at(&loaded.db, project, &options);
    project.set_root_tree(&mut loaded.db).to(loaded.commit.tree);

    let objects = loaded.objects.clone();
    let repo_path_of = |plan: &ImagePlan, path: &str| {
        let path = path.trim_end_matches('/');
        if plan.is_stapel() {
            // `git-N-WHAT/rest` is below mapping N's `add`.
            let (head, rest) = path.split_once('/').unwrap_or((path, ""));
            let n = head
                .strip_prefix("git-")
                .and_then(|h| h.split('-').next())
                .and_then(|n| n.parse::<usize>().ok());
            if let Some(add) = n.and_then(|n| plan.sources.stapel_paths.get(n)) {
                return werf_graph::pattern::join(add, rest);
            }
        }
        werf_graph::pattern::join(&plan.sources.context_repo_path, path)
    };
    let explain_image = |name: &str, indent: &str, out: &mut String| -> Result<()> {
        let Some(new) = new_plans.get(name) else {
            bail!("image `{name}` is not defined in werf.yaml");
        };
        for line in werf_graph::why::image(
            &*objects,
            old_plans.get(name).map(|p| &**p),
            new,
            &repo_path_of,
        )? {
            let _ = writeln!(out, "{indent}{line}");
        }
        // A dependency whose tag changed explains this one's.
        for dep in &new.dependencies {
            if let (Some(o), Some(n)) = (old_plans.get(dep), new_plans.get(dep)) {
                if o.tag != n.tag {
                    let _ = writeln!(out, "{indent}  because image `{dep}` changed:");
                    for line in werf_graph::why::image(&*objects, Some(o), n, &repo_path_of)? {
                        let _ = writeln!(out, "{indent}    {line}");
                    }
                }
            }
        }
        Ok(())
    };
    let short_old = &old_commit.id[..old_commit.id.len().min(7)];
    let mut out = format!("since {since} ({short_old}):\n");
    let target = target.trim();
    if let Some(object) = target.strip_prefix("object:") {
        let (kind, name) = object
            .split_once('/')
            .with_context(|| format!("`{target}`: name an object as `object:KIND/NAME`"))?;
        let find = |templates: &Option<
            Vec<(
                werf_graph::chart::output::Template,
                Arc<werf_graph::render::RenderedTemplate>,
            )>,
        >| {
            templates.iter().flatten().find_map(|(t, r)| {
                r.manifests
                    .iter()
                    .find(|m| m.kind == kind && m.name == name)
                    .map(|m| (t.clone(), r.clone(), m.text.clone()))
            })
        };
        let Some((template, rendered, text)) = find(&new_templates) else {
            bail!("the chart renders no `{kind}` named `{name}`");
        };
        match find(&old_templates) {
            None => {
                let _ = writeln!(
                    out,
                    "{kind} `{name}` is new (rendered by `{}`)",
                    template.name
                );
            }
            Some((_, _, old_text)) if old_text == text => {
                let _ = writeln!(
                    out,
                    "{kind} `{name}` is unchanged (rendered by `{}`)",
                    template.name
                );
            }
            Some((_, _, old_text)) => {
                let parse =
                    |t: &str| serde_yaml_ng::from_str::<serde_json::Value>(t).unwrap_or_default();
                let fields = werf_graph::why::field_paths(&parse(&old_text), &parse(&text));
                let _ = writeln!(out, "{kind} `{name}` changed: {}", fields.join(", "));
                let _ = writeln!(out, "  rendered by `{}`", template.name);
                let mut explained = false;
                for image in &rendered.images {
                    if let (Some(o), Some(n)) = (old_plans.get(image), new_plans.get(image)) {
                        if o.tag != n.tag {
                            let _ = writeln!(out, "  which reads the values of image `{image}`:");
                            explain_image(image, "    ", &mut out)?;
                            explained = true;
                        }
                    }
                }
                if !explained {
                    let _ = writeln!(
                        out,
                        "  no image it reads changed: the template or the values did"
                    );
                }
            }
        }
    } else {
        let name = target.strip_prefix("image:").unwrap_or(target);
        explain_image(name, "", &mut out)?;
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
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
