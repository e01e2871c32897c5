//! Chart rendering as memoized queries: the chart, its values (with dependency processing), the
//! enabled templates and their parsed set are each a node, and every template is a node of its own that depends on exactly the image values it
//! read, so a changed tag re-renders only the templates that use that image.

use std::sync::Arc;

use crate::chart::output::Template;
use crate::chart::{
    self as steps, Chart, ChartContext, Cluster, Manifest, Placeholders, RenderHost, RenderOptions,
};
use crate::db::{Db, ImageKey, Project};
use crate::error::Result;
use crate::objects::{EntryKind, ObjectId};
use crate::pattern::join;
use crate::plan::{config, image_digest};
use gotemplate::{Set, Value};

/// What the command line adds to a render, and the cluster `lookup` reads (a template that
/// calls `lookup` depends on it; the others do not).
#[salsa::input(debug)]
pub struct RenderInput {
    #[returns(ref)]
    pub options: RenderOptions,
    #[returns(ref)]
    pub cluster: Cluster,
}

/// A template of the chart, by name (`root/templates/deployment.yaml`).
#[salsa::interned(debug)]
pub struct TemplateKey<'db> {
    #[returns(ref)]
    pub name: String,
}

/// The chart folder (repository-relative) and its tree id: a commit that leaves the chart alone
/// stops here.
#[salsa::tracked(returns(ref))]
pub fn chart_tree(db: &dyn Db, project: Project) -> Result<(String, ObjectId)> {
    db.log_execution("chart_tree", format_args!(""));
    let config = config(db, project).clone()?;
    let dir = join(
        project.prefix(db),
        config
            .meta
            .deploy
            .helm_chart_dir
            .as_deref()
            .unwrap_or(".helm"),
    );
    match crate::paths::entry(db, project, &dir)? {
        Some(e) if e.kind == EntryKind::Tree => Ok((dir, e.id)),
        _ => Err(steps::missing("chart folder", dir)),
    }
}

/// The chart with its subcharts, read from its tree.
#[salsa::tracked(returns(ref))]
pub fn chart(db: &dyn Db, project: Project) -> Result<Arc<Chart>> {
    db.log_execution("chart", format_args!(""));
    let (dir, tree) = chart_tree(db, project).clone()?;
    steps::load(db.objects(), tree, &dir).map(Arc::new)
}

/// The dependencies a render must fetch as `Chart.lock` pins them (declared, not in `charts/`).
#[salsa::tracked(returns(ref))]
pub fn dependencies_to_fetch(
    db: &dyn Db,
    project: Project,
) -> Result<Arc<Vec<steps::lock::Locked>>> {
    db.log_execution("dependencies_to_fetch", format_args!(""));
    let chart = chart(db, project).clone()?;
    Ok(Arc::new(steps::lock::missing(&chart)?))
}

/// The lazy image values and the context of the chart and each enabled subchart (dependency
/// processing and values depend on the command line's values).
#[salsa::tracked(returns(ref))]
pub fn contexts(db: &dyn Db, project: Project, input: RenderInput) -> Result<Shared<Contexts>> {
    db.log_execution("contexts", format_args!(""));
    let chart = chart(db, project).clone()?;
    let config = config(db, project).clone()?;
    let options = input.options(db);
    let chart = if options.dependency_archives.is_empty() {
        chart
    } else {
        Arc::new(steps::load::with_archives(
            &chart,
            &options.dependency_archives,
        )?)
    };
    let names: Vec<String> = config
        .images
        .iter()
        .filter(|i| !i.is_internal())
        .map(|i| i.name.clone())
        .collect();
    let placeholders = Placeholders::new(&names);
    let user = steps::user_values(&chart, options)?;
    let werf = serde_json::json!({
        "name": config.meta.project,
        "env": options.env.clone().unwrap_or_default(),
        "namespace": options.namespace,
        "repo": options.repo.as_deref().unwrap_or("REPO"),
    });
    let contexts = steps::contexts(&chart, user, werf, &placeholders, options)?;
    Ok(Shared(Arc::new(Contexts {
        placeholders,
        contexts,
    })))
}

/// The templates of the enabled charts, under their names: a values change that enables no
/// other subchart stops here.
#[salsa::tracked(returns(ref))]
pub fn templates(db: &dyn Db, project: Project, input: RenderInput) -> Result<Arc<Vec<Template>>> {
    db.log_execution("templates", format_args!(""));
    let ctxs = contexts(db, project, input).clone()?;
    Ok(Arc::new(steps::output::templates(&ctxs.contexts)))
}

/// The custom resource definitions of the enabled charts (`crds/`).
#[salsa::tracked(returns(ref))]
pub fn crds(
    db: &dyn Db,
    project: Project,
    input: RenderInput,
) -> Result<Arc<Vec<(String, String)>>> {
    db.log_execution("crds", format_args!(""));
    let ctxs = contexts(db, project, input).clone()?;
    Ok(Arc::new(steps::output::crds(&ctxs.contexts)))
}

/// Every template parsed into one set.
#[salsa::tracked(returns(ref))]
pub fn template_set(db: &dyn Db, project: Project, input: RenderInput) -> Result<Shared<Set>> {
    db.log_execution("template_set", format_args!(""));
    let templates = templates(db, project, input).clone()?;
    steps::template_set(&templates).map(|s| Shared(Arc::new(s)))
}

/// The chart's contexts and the placeholders their lazy maps are.
#[derive(Debug)]
pub struct Contexts {
    pub placeholders: Placeholders,
    pub contexts: Vec<ChartContext>,
}

/// A shared query result compared by identity: a re-run makes a new one (these hold template
/// trees and values, which do not compare cheaply, and change only when their inputs do).
#[derive(Debug)]
pub struct Shared<T>(pub Arc<T>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Eq for Shared<T> {}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Image values read through the graph: each read is a dependency on that image's digest; a
/// `lookup` is a dependency on the cluster input.
struct GraphImages<'a> {
    db: &'a dyn Db,
    project: Project,
    input: RenderInput,
    repo: &'a str,
    /// The images read, and whether the cluster was (for `werf graph`).
    read: std::sync::Mutex<(std::collections::BTreeSet<String>, bool)>,
}

impl<'a> GraphImages<'a> {
    fn new(db: &'a dyn Db, project: Project, input: RenderInput) -> Self {
        GraphImages {
            db,
            project,
            input,
            repo: input.options(db).repo.as_deref().unwrap_or("REPO"),
            read: Default::default(),
        }
    }

    fn tag_of(&self, name: &str) -> Option<String> {
        self.read
            .lock()
            .expect("read set lock poisoned")
            .0
            .insert(name.to_string());
        let key = ImageKey::new(self.db, name.to_string());
        let tag = image_digest(self.db, self.project, key)
            .as_ref()
            .ok()?
            .tag();
        Some(match self.input.options(self.db).custom_tags.get(name) {
            Some(custom) => custom.expand(&tag),
            None => tag,
        })
    }
}

impl RenderHost for GraphImages<'_> {
    fn image(&self, name: &str) -> Value {
        self.tag_of(name)
            .map_or(Value::Nil, |t| Value::Str(format!("{}:{t}", self.repo)))
    }

    fn tag(&self, name: &str) -> Value {
        self.tag_of(name).map_or(Value::Nil, Value::Str)
    }

    fn lookup(&self, args: &[Value]) -> std::result::Result<Value, gotemplate::FuncError> {
        self.read.lock().expect("read set lock poisoned").1 = true;
        self.input.cluster(self.db).lookup(args)
    }

    fn secret_file(&self, args: &[Value]) -> std::result::Result<Value, gotemplate::FuncError> {
        crate::chart::context::secret_file(&self.input.options(self.db).secret_files, args)
    }
}

/// What one template rendered, and what it read outside the chart.
#[derive(Debug, PartialEq, Eq)]
pub struct RenderedTemplate {
    pub manifests: Vec<Manifest>,
    /// The images whose values (`.Values.werf.image.NAME`, tags, `werf_image`) it read.
    pub images: std::collections::BTreeSet<String>,
    /// Whether it called `lookup` (read the cluster).
    pub lookup: bool,
}

/// One template's manifests.
#[salsa::tracked(returns(ref))]
pub fn rendered_template<'db>(
    db: &'db dyn Db,
    project: Project,
    input: RenderInput,
    template: TemplateKey<'db>,
) -> Result<Arc<RenderedTemplate>> {
    let name = template.name(db);
    db.log_execution("rendered_template", format_args!("{name}"));
    let templates = templates(db, project, input).clone()?;
    let set = template_set(db, project, input).clone()?;
    let ctxs = contexts(db, project, input).clone()?;
    let ctx = ctxs
        .contexts
        .iter()
        .filter(|c| name.starts_with(&format!("{}/templates/", c.path)))
        .max_by_key(|c| c.path.len())
        .expect("every template belongs to a chart");
    let images = GraphImages::new(db, project, input);
    let manifests =
        steps::render_template(&templates, &set, name, ctx, &ctxs.placeholders, &images)?;
    let (read, lookup) = images.read.into_inner().expect("read set lock poisoned");
    Ok(Arc::new(RenderedTemplate {
        manifests,
        images: read,
        lookup,
    }))
}

/// The release notes: the top chart's `templates/NOTES.txt` rendered (empty without one). Every
/// chart's notes are rendered, as Helm renders them, so an error in a subchart's fails too; only
/// the top chart's are kept.
#[salsa::tracked(returns(ref))]
pub fn notes(db: &dyn Db, project: Project, input: RenderInput) -> Result<Arc<str>> {
    db.log_execution("notes", format_args!(""));
    let templates = templates(db, project, input).clone()?;
    let set = template_set(db, project, input).clone()?;
    let ctxs = contexts(db, project, input).clone()?;
    let images = GraphImages::new(db, project, input);
    let mut kept: Arc<str> = Arc::from("");
    let top = ctxs.contexts.iter().min_by_key(|c| c.path.len());
    for ctx in &ctxs.contexts {
        let Some(t) = steps::output::notes_template(&templates, &ctx.path) else {
            continue;
        };
        let text = steps::output::render_text(
            &templates,
            &set,
            &t.name,
            ctx,
            &ctxs.placeholders,
            &images,
        )?;
        if top.is_some_and(|top| top.path == ctx.path) {
            kept = Arc::from(text);
        }
    }
    Ok(kept)
}

/// Every renderable template with what it rendered and read, in the chart's order (for
/// `werf graph`).
pub fn rendered_templates(
    db: &dyn Db,
    project: Project,
    input: RenderInput,
) -> Result<Vec<(Template, Arc<RenderedTemplate>)>> {
    let templates = templates(db, project, input).clone()?;
    let by_name: std::collections::HashMap<&str, &Template> =
        templates.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut out = Vec::new();
    for name in steps::renderable(&templates) {
        let key = TemplateKey::new(db, name.to_string());
        let rendered = rendered_template(db, project, input, key).clone()?;
        if let Some(t) = by_name.get(name) {
            out.push(((*t).clone(), rendered));
        }
    }
    Ok(out)
}

/// [`rendered_chart`] with its templates rendered on every core first: each is a query of its
/// own, so the chart then only gathers them, in order (the first failing template is still the
/// one reported).
pub fn rendered_chart_on_every_core(
    db: &crate::Database,
    project: Project,
    input: RenderInput,
) -> Result<Arc<Vec<Manifest>>> {
    use rayon::prelude::*;
    // What every template reads is made once, before the workers ask for it.
    if let (Ok(templates), Ok(_)) = (
        templates(db, project, input).clone(),
        template_set(db, project, input),
    ) {
        let names: Vec<String> = steps::renderable(&templates)
            .into_iter()
            .map(str::to_string)
            .collect();
        names.into_par_iter().for_each_with(db.clone(), |db, name| {
            let key = TemplateKey::new(db, name);
            // Errors are the chart's to report, in its order.
            let _ = rendered_template(db, project, input, key);
        });
    }
    rendered_chart(db, project, input).clone()
}

/// Every manifest of the chart, in Helm's install order.
#[salsa::tracked(returns(ref))]
pub fn rendered_chart(
    db: &dyn Db,
    project: Project,
    input: RenderInput,
) -> Result<Arc<Vec<Manifest>>> {
    db.log_execution("rendered_chart", format_args!(""));
    let templates = templates(db, project, input).clone()?;
    // A failing `NOTES.txt` fails the render, as in Helm.
    notes(db, project, input).clone()?;
    let mut manifests = Vec::new();
    for name in steps::renderable(&templates) {
        let key = TemplateKey::new(db, name.to_string());
        manifests.extend(
            rendered_template(db, project, input, key)
                .clone()?
                .manifests
                .iter()
                .cloned(),
        );
    }
    steps::install_order(&mut manifests);
    Ok(Arc::new(manifests))
}
