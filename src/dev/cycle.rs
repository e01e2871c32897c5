//! One `werf dev` cycle after a save, in one long-lived engine: re-plan (only the queries the
//! save reaches re-run), publish the images whose tags moved, render (only the templates that
//! read a changed value re-render), then converge the release or, without a cluster, print what
//! would change; one line per action and the why linking the saved files to the objects.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use werf_graph::chart::{Cluster, RenderOptions};
use werf_graph::plan::ImagePlan;
use werf_graph::render::RenderInput;

use super::summary::{self, Rendered, TagChange};
use super::tree::DevTree;
use crate::deploy::{self, Release};
use crate::git::worktree::under;
use crate::kubernetes::Kube;
use crate::pipeline::desired::{converge_release, release_of, runtime};
use crate::pipeline::publish::{publish, Publish};
use crate::pipeline::render::{named_render_options, render_options};
use crate::project::{load_incremental, Loaded, Reads};
use crate::settings::{DevSettings, GlobalSettings};

/// The loop's state between saves.
pub struct Session<'a> {
    global: &'a GlobalSettings,
    args: &'a DevSettings,
    pub loaded: Loaded,
    pub tree: DevTree,
    cluster: Option<(Kube, Release)>,
    /// What the last cycle that went through left: the plans, tags and objects the next one is
    /// compared with. A failed cycle leaves them, so the next save retries what it did not do.
    plans: BTreeMap<String, Arc<ImagePlan>>,
    tags: BTreeMap<String, String>,
    objects: BTreeMap<String, Rendered>,
    /// The render input kept across cycles (a new one would render every template again).
    input: Option<(RenderOptions, RenderInput)>,
    /// Cycles that went through.
    pub cycles: usize,
}

/// What a cycle did.
pub struct Done {
    pub replan: Duration,
    /// Query bodies that ran while re-planning.
    pub queries: usize,
    pub templates: usize,
    pub images_changed: usize,
    pub objects_changed: usize,
}

impl<'a> Session<'a> {
    /// Loads the work tree (as `--dev`) and, with a kubeconfig flag, connects to the cluster.
    pub fn start(global: &'a GlobalSettings, args: &'a DevSettings) -> Result<Self> {
        let mut loaded = load_incremental(global, Reads::ImagesAndChart)?;
        if let Some(repo) = &args.render.repo {
            loaded.use_recorded_imports(repo)?;
        }
        loaded.db.enable_execution_log();
        let cluster = if args.kube.named() {
            let release = release_of(
                global,
                args.render.release.as_deref(),
                args.render.namespace.as_deref(),
                &loaded,
                args.kube.force_adoption,
            )?;
            let kube =
                runtime()?.block_on(Kube::connect_with(&args.kube.target, global.timeouts))?;
            Some((kube, release))
        } else {
            None
        };
        if cluster.is_some() && args.render.repo.is_none() && !loaded.buildable_plans()?.is_empty()
        {
            anyhow::bail!(
                "`werf dev` with a cluster needs `--repo REGISTRY/PROJECT` (or `WERF_REPO`) to publish the images to"
            );
        }
        let tree = DevTree::new(&loaded)?;
        Ok(Session {
            global,
            args,
            loaded,
            tree,
            cluster,
            plans: BTreeMap::new(),
            tags: BTreeMap::new(),
            objects: BTreeMap::new(),
            input: None,
            cycles: 0,
        })
    }

    /// Where the loop deploys, for the first line.
    pub fn target(&self) -> String {
        match (&self.cluster, &self.args.render.repo) {
            (Some((_, r)), _) => format!("release `{}` in `{}`", r.name, r.namespace),
            (None, Some(repo)) => format!("`{repo}` (no cluster)"),
            (None, None) => "no registry, no cluster: showing what would change".into(),
        }
    }

    /// One cycle for the saved `touched` paths (empty: the first cycle or a new commit).
    pub fn cycle(&mut self, touched: &[String]) -> Result<Done> {
        let started = Instant::now();
        let _ = self.loaded.db.take_execution_log();
        self.loaded.replan()?;
        // Images waiting on an import's content get their tags from a build of what they read.
        let waiting = self
            .loaded
            .plans
            .iter()
            .any(|(_, p)| matches!(p, Err(werf_graph::Error::ImportPending { .. })));
        if let (true, Some(repo)) = (waiting, &self.args.render.repo) {
            let publish_args = Publish {
                repo,
                settings: &self.args.publish,
                report_digests: false,
            };
            let wanted = self.loaded.buildable_plans()?;
            publish(self.global, &mut self.loaded, wanted, &publish_args)?;
        }
        // Without a registry, importers whose imports were never recorded have no tag yet.
        let (plans, pending) = crate::project::split_pending(self.loaded.buildable_plans()?);
        if !pending.is_empty() && self.cycles == 0 {
            let names: Vec<&str> = pending.iter().map(|(n, _)| n.as_str()).collect();
            crate::printer::line(&format!(
                "  {} image{} pending on imports, left out until built (`--repo`): {}",
                names.len(),
                plural(names.len()),
                names.join(", ")
            ));
        }
        let replan = started.elapsed();
        let log = self.loaded.db.take_execution_log();
        let queries = log.len();
        if self.args.verbose && self.cycles > 0 {
            crate::printer::line(&format!("  re-ran: {}", summary::by_query(&log)));
        }
        let by_name: BTreeMap<String, Arc<ImagePlan>> =
            plans.iter().map(|p| (p.name.clone(), p.clone())).collect();
        let tags: BTreeMap<String, String> = plans
            .iter()
            .filter(|p| !p.is_internal())
            .map(|p| (p.name.clone(), p.tag.clone()))
            .collect();
        let tag_changes = summary::changed_tags(&self.tags, &tags);
        if self.cycles == 0 {
            crate::printer::line(&format!(
                "  {} image{} planned",
                tags.len(),
                plural(tags.len())
            ));
        } else {
            for c in &tag_changes {
                let old = c
                    .old
                    .as_deref()
                    .map_or("new".into(), |t| short(t).to_string());
                crate::printer::line(&format!("  image {}: {old} → {}", c.image, short(&c.new)));
            }
        }

        let objects = self.render_offline()?;
        let templates = self
            .loaded
            .db
            .take_execution_log()
            .iter()
            .filter(|q| q.starts_with("rendered_template("))
            .count();
        let object_changes = summary::changed_objects(&self.objects, &objects);

        if let Some(repo) = &self.args.render.repo {
            if !plans.is_empty() && (self.cycles == 0 || !tag_changes.is_empty()) {
                let publish_args = Publish {
                    repo,
                    settings: &self.args.publish,
                    report_digests: false,
                };
                let wanted = plans
                    .iter()
                    .map(|p| (p.name.clone(), Ok(p.clone())))
                    .collect();
                publish(self.global, &mut self.loaded, wanted, &publish_args)?;
            }
        }
        match &self.cluster {
            Some((kube, release)) => {
                // `lookup` reads the cluster: such a chart is converged on every save.
                let reads_cluster = self.reads_cluster();
                if self.cycles == 0 || !object_changes.is_empty() || reads_cluster {
                    let settings = deploy::lifecycle::Settings {
                        reporter: &crate::progress::DeployLines,
                        timeout: self.args.deploy.timeout,
                        auto_rollback: self.args.deploy.auto_rollback,
                        history_max: self.args.deploy.history_max,
                    };
                    let outcome = runtime()?
                        .block_on(converge_release(
                            kube,
                            self.global,
                            &self.args.render,
                            &self.loaded,
                            release,
                            &settings,
                        ))?
                        .outcome;
                    crate::printer::line(&format!(
                        "  release `{}`: revision {}, {} object{} changed, {} deleted",
                        release.name,
                        outcome.revision,
                        outcome.changed,
                        plural(outcome.changed),
                        outcome.deleted
                    ));
                }
            }
            None if self.cycles > 0 => {
                for (id, how) in &object_changes {
                    let template = objects
                        .get(id)
                        .or_else(|| self.objects.get(id))
                        .map_or("", |r| &*r.template);
                    crate::printer::line(&format!("  would {} {id} ({template})", how.verb()));
                }
            }
            None => crate::printer::line(&format!(
                "  {} object{} rendered",
                objects.len(),
                plural(objects.len())
            )),
        }
        if self.cycles > 0 {
            self.print_why(touched, &tag_changes, &object_changes, &objects, &by_name);
        }
        let done = Done {
            replan,
            queries,
            templates,
            images_changed: tag_changes.len(),
            objects_changed: object_changes.len(),
        };
        self.plans = by_name;
        self.tags = tags;
        self.objects = objects;
        self.cycles += 1;
        Ok(done)
    }

    /// The why of each moved image, and of each object changed without one (its template).
    fn print_why(
        &self,
        touched: &[String],
        tag_changes: &[TagChange],
        object_changes: &[(String, summary::How)],
        objects: &BTreeMap<String, Rendered>,
        plans: &BTreeMap<String, Arc<ImagePlan>>,
    ) {
        let mut explained = std::collections::BTreeSet::new();
        for c in tag_changes {
            let files = plans
                .get(&c.image)
                .map(|p| files_of(p, plans, touched))
                .unwrap_or_default();
            let readers = summary::readers(&c.image, object_changes, objects);
            explained.extend(readers.iter().cloned());
            crate::printer::line(&format!(
                "  why: {}",
                summary::why_line(&files, c, &readers)
            ));
        }
        for (id, _) in object_changes {
            if explained.contains(id) {
                continue;
            }
            let template = objects
                .get(id)
                .or_else(|| self.objects.get(id))
                .map_or("", |r| &*r.template);
            crate::printer::line(&format!("  why: {template} → {id}"));
        }
    }

    /// Whether a template of the last render called `lookup`.
    fn reads_cluster(&self) -> bool {
        let Some((_, input)) = &self.input else {
            return false;
        };
        werf_graph::render::rendered_templates(&self.loaded.db, self.loaded.project, *input)
            .is_ok_and(|all| all.iter().any(|(_, r)| r.lookup))
    }

    /// The chart rendered without a cluster, by `Kind/name`; the input is kept while the
    /// options stay the same, so only the templates a change reaches render again.
    fn render_offline(&mut self) -> Result<BTreeMap<String, Rendered>> {
        let db = &self.loaded.db;
        if werf_graph::render::chart_tree(db, self.loaded.project).is_err() {
            return Ok(BTreeMap::new());
        }
        let options = match &self.cluster {
            Some((_, release)) => render_options(
                self.global,
                &self.args.render,
                (release.name.clone(), release.namespace.clone()),
                &self.loaded,
            )?,
            None => named_render_options(self.global, &self.args.render, &self.loaded)?,
        };
        let input = match &self.input {
            Some((o, i)) if *o == options => *i,
            _ => {
                let i = RenderInput::new(db, options.clone(), Cluster::offline());
                self.input = Some((options, i));
                i
            }
        };
        let mut out = BTreeMap::new();
        for (t, r) in werf_graph::render::rendered_templates(db, self.loaded.project, input)? {
            let template: Arc<str> = t.name.as_str().into();
            for (index, m) in r.manifests.iter().enumerate() {
                if m.kind.is_empty() {
                    continue;
                }
                out.insert(
                    format!("{}/{}", m.kind, m.name),
                    Rendered {
                        from: r.clone(),
                        index,
                        template: template.clone(),
                    },
                );
            }
        }
        Ok(out)
    }
}

/// The saved paths an image reads (through its stages' sources, and those of the internal
/// images it is made of: a Stapel image's stages).
fn files_of(
    plan: &ImagePlan,
    plans: &BTreeMap<String, Arc<ImagePlan>>,
    touched: &[String],
) -> Vec<String> {
    let mut roots = Vec::new();
    let mut queue = vec![plan];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(p) = queue.pop() {
        if !seen.insert(p.name.as_str()) {
            continue;
        }
        for st in &p.stages {
            for u in &st.sources {
                for m in &u.content.matched {
                    roots.push(p.repo_path(m.path()));
                }
            }
        }
        queue.extend(
            p.dependencies
                .iter()
                .filter_map(|d| plans.get(d))
                .filter(|d| d.is_internal())
                .map(|d| &**d),
        );
    }
    touched
        .iter()
        .filter(|t| roots.iter().any(|r| under(t, r)))
        .cloned()
        .collect()
}

fn short(tag: &str) -> &str {
    &tag[..tag.len().min(12)]
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
