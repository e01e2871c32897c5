//! Loading a project: repository, commit or work-tree snapshot, engine inputs, plans, dirty check.
//!
//! Every command starts here. The commit is the truth by default: a used file that differs from
//! it in the work tree is an error naming the file and the images that use it. `--dev` instead
//! snapshots the work tree (modified, deleted and untracked files) as Git trees.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use werf_cache::Store;
use werf_graph::config::WerfConfig;
use werf_graph::context::WorkFile;
use werf_graph::pattern::join;
use werf_graph::plan::{self, ImagePlan};
use werf_graph::{Database, ObjectId, Project, Setter};

use crate::cli::Global;
use crate::git::objects::GitObjects;
use crate::git::worktree::{self, State};
use crate::git::{Commit, Repo};
use crate::progress::PlanProgress;
use crate::store::{home, Listings};

/// The config file name inside the project folder.
pub const CONFIG_FILE: &str = "werf.yaml";

/// A loaded project with its plans.
pub struct Loaded {
    pub repo: Repo,
    pub commit: Commit,
    pub dev: bool,
    /// Paths of the `--dev` snapshot that differ from the commit.
    pub dev_changes: usize,
    pub config: Arc<WerfConfig>,
    pub config_blob: ObjectId,
    pub store: Store,
    /// Git objects (with the `--dev` overlay).
    pub objects: Arc<dyn werf_graph::ObjectSource>,
    /// Plans in werf.yaml order.
    pub plans: Vec<(String, werf_graph::Result<Arc<ImagePlan>>)>,
    /// The graph the plans came from (charts render from it too).
    pub db: Database,
    pub project: Project,
}

impl Loaded {
    /// The plans, or an error listing every image that failed.
    pub fn ok_plans(&self) -> Result<Vec<Arc<ImagePlan>>> {
        let mut errors: Vec<String> = Vec::new();
        let mut plans = Vec::new();
        for (_, p) in &self.plans {
            match p {
                Ok(p) => plans.push(p.clone()),
                Err(e) => {
                    let msg = e.to_string();
                    if !errors.contains(&msg) {
                        errors.push(msg);
                    }
                }
            }
        }
        match errors.len() {
            0 => Ok(plans),
            1 => bail!("{}", errors[0]),
            _ => bail!("{} errors:\n  {}", errors.len(), errors.join("\n  ")),
        }
    }

    /// The chart folder relative to the repository root (`deploy.helmChartDir`, default `.helm`).
    pub fn chart_dir(&self) -> String {
        join(
            &self.repo.prefix,
            self.config
                .meta
                .deploy
                .helm_chart_dir
                .as_deref()
                .unwrap_or(".helm"),
        )
    }

    /// The config file path relative to the repository root.
    pub fn config_repo_path(&self) -> String {
        join(&self.repo.prefix, CONFIG_FILE)
    }
}

/// What a command reads besides werf.yaml and the images' files (for the dirty check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    Images,
    ImagesAndChart,
}

/// Opens the repository, sets the engine's inputs, plans every image and checks for dirty files.
pub fn load(global: &Global) -> Result<Loaded> {
    load_for(global, Reads::Images)
}

/// [`load`] for a command that also reads the chart: uncommitted chart files are errors too.
pub fn load_for(global: &Global, reads: Reads) -> Result<Loaded> {
    let dir = match &global.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let started = std::time::Instant::now();
    let phase =
        |what: &str| tracing::debug!("{what}: {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
    let repo = Repo::discover(&dir)?;
    let commit = repo.commit(global.commit.as_deref())?;
    let home = home(global.home_dir.as_deref());
    let store = Store::open(&home)
        .with_context(|| format!("cannot open the cache in `{}`", home.display()))?;

    let mut objects = GitObjects::new(repo.sync.clone());
    let mut root = commit.tree;
    let mut dev_changes = 0;
    if global.dev {
        let changes = worktree::changes(&repo, &objects, commit.tree, &[String::new()], true)?;
        dev_changes = changes.len();
        let snap = worktree::snapshot(&repo, &objects, commit.tree, &changes)?;
        root = snap.root;
        objects = objects.with_overlay(snap.trees, snap.blobs);
    }

    phase("repository opened");
    let objects: Arc<dyn werf_graph::ObjectSource> = Arc::new(objects);
    let db = Database::new(objects.clone(), Arc::new(Listings(store.clone())));
    let mut db = db;
    // werf.yaml's template reads `--env` and the environment: both are inputs of the graph.
    let template_env = werf_graph::config::TemplateEnv {
        env: global.env.clone(),
        vars: std::env::vars().collect(),
    };
    let project = Project::new(
        &db,
        root,
        repo.prefix.clone(),
        CONFIG_FILE.to_string(),
        Arc::default(),
        Arc::new(template_env),
    );

    // In commit mode the work tree is compared with the commit while images are planned: the scan
    // covers the project folder (no context reaches outside it) and is filtered by use afterwards.
    let (planned, scanned) = std::thread::scope(|scope| {
        let scan = (!global.dev).then(|| {
            scope.spawn(|| {
                let objects = GitObjects::new(repo.sync.clone());
                worktree::changes(
                    &repo,
                    &objects,
                    commit.tree,
                    std::slice::from_ref(&repo.prefix),
                    false,
                )
            })
        });
        let planned = plan_project(&repo, &mut db, project);
        let scanned = scan.map(|s| s.join().expect("the work-tree scan does not panic"));
        (planned, scanned)
    });
    let (config, config_blob, plans) = planned?;
    phase("images planned");

    let loaded = Loaded {
        repo,
        commit,
        dev: global.dev,
        dev_changes,
        config,
        config_blob,
        store,
        objects,
        plans,
        db,
        project,
    };
    if let Some(changes) = scanned {
        check_clean(&loaded, changes?, reads)?;
        phase("work tree checked");
    }
    Ok(loaded)
}

type Planned = (
    Arc<WerfConfig>,
    ObjectId,
    Vec<(String, werf_graph::Result<Arc<ImagePlan>>)>,
);

/// Config, `contextAddFiles` and the plans of every image.
fn plan_project(repo: &Repo, db: &mut Database, project: Project) -> Result<Planned> {
    let config = plan::config(db, project).clone()?;
    let config_blob = plan::config_blob(db, project).clone()?;
    let work_files = read_context_add_files(repo, &config)?;
    if !work_files.is_empty() {
        project.set_work_files(db).to(Arc::new(work_files));
    }
    let progress = PlanProgress::new();
    let plans = plan::plan_all_with(db, project, &progress)?;
    progress.finish();
    Ok((config, config_blob, plans))
}

/// Reads `contextAddFiles` from the work tree (folders recursively), hashed as Git would.
fn read_context_add_files(repo: &Repo, config: &WerfConfig) -> Result<BTreeMap<String, WorkFile>> {
    let mut out = BTreeMap::new();
    for img in &config.images {
        for entry in &img.context_add_files {
            let rel = join(&join(&repo.prefix, &img.context), entry);
            let abs = repo.workdir.join(&rel);
            if !abs.exists() && std::fs::symlink_metadata(&abs).is_err() {
                bail!(
                    "{CONFIG_FILE}:{}: contextAddFiles entry `{}` of image `{}` does not exist in the work tree (`{}`)",
                    img.line,
                    entry,
                    img.name,
                    abs.display()
                );
            }
            add_work_files(&abs, &rel, &mut out)?;
        }
    }
    Ok(out)
}

fn add_work_files(abs: &Path, rel: &str, out: &mut BTreeMap<String, WorkFile>) -> Result<()> {
    let meta = std::fs::symlink_metadata(abs)
        .with_context(|| format!("cannot read `{}`", abs.display()))?;
    if meta.is_dir() {
        let mut children: Vec<PathBuf> = std::fs::read_dir(abs)
            .with_context(|| format!("cannot list `{}`", abs.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("cannot list `{}`", abs.display()))?;
        children.sort();
        for child in children {
            let name = child
                .file_name()
                .expect("read_dir entries have names")
                .to_string_lossy()
                .into_owned();
            if name == ".git" {
                continue;
            }
            add_work_files(&child, &format!("{rel}/{name}"), out)?;
        }
    } else {
        let (kind, id) =
            worktree::hash_file(abs).with_context(|| format!("cannot read `{}`", abs.display()))?;
        out.insert(rel.to_string(), WorkFile { kind, id });
    }
    Ok(())
}

/// Fails when a file that werf.yaml or an image uses differs from the commit (`changes`: every
/// difference in the project folder).
fn check_clean(loaded: &Loaded, changes: Vec<worktree::Change>, reads: Reads) -> Result<()> {
    let config_path = loaded.config_repo_path();
    let chart_dir = loaded.chart_dir();
    let mut dirty = Vec::new();
    for c in changes {
        let mut users: Vec<String> = loaded
            .plans
            .iter()
            .filter_map(|(_, p)| p.as_ref().ok())
            .filter(|p| p.uses_path(&c.path))
            .map(|p| format!("`{}`", p.name))
            .collect();
        if reads == Reads::ImagesAndChart && c.path.starts_with(&format!("{chart_dir}/")) {
            users.insert(0, "the chart".to_string());
        }
        if c.path == config_path {
            users.insert(0, "the config".to_string());
        }
        if users.is_empty() {
            continue;
        }
        let how = match (&c.state, c.added) {
            (State::Deleted, _) => "deleted",
            (_, true) => "added",
            _ => "modified",
        };
        dirty.push(format!(
            "`{}` ({how}), used by {}",
            c.path,
            users.join(", ")
        ));
    }
    if dirty.is_empty() {
        return Ok(());
    }
    let shown = dirty.len().min(20);
    let more = if dirty.len() > shown {
        format!("\n  ... and {} more", dirty.len() - shown)
    } else {
        String::new()
    };
    bail!(
        "uncommitted changes in {} file{} that the build uses (commit them, or pass `--dev` to use the work tree):\n  {}{more}",
        dirty.len(),
        if dirty.len() == 1 { "" } else { "s" },
        dirty[..shown].join("\n  ")
    )
}
