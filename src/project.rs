//! Loading a project: repository, commit or work-tree snapshot, engine inputs, plans, dirty check.
//!
//! Every command starts here. The commit is the truth by default: a used file that differs from
//! it in the work tree is an error naming the file and the images that use it. `--dev` instead
//! snapshots the work tree (modified, deleted and untracked files) as Git trees.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _, Result};
use werf_cache::Store;
use werf_graph::config::WerfConfig;
use werf_graph::context::WorkFile;
use werf_graph::objects::MemoryObjects;
use werf_graph::pattern::join;
use werf_graph::plan::{self, ImagePlan};
use werf_graph::{Database, ObjectId, Project, Setter};

use crate::git::beneath::{Kind, WorkTree};
use crate::git::objects::GitObjects;
use crate::git::worktree::{self, State};
use crate::git::{Commit, Repo};
use crate::progress::PlanProgress;
use crate::settings::GlobalSettings;
use crate::store::Listings;

/// The config file name inside the project folder (without `--config`).
pub const CONFIG_FILE: &str = "werf.yaml";

/// werf's other spelling, read when there is no `werf.yaml`.
pub const CONFIG_FILE_YML: &str = "werf.yml";

/// `--config` as a `/`-separated path relative to the project folder `project_dir`: a relative
/// path, or an absolute one inside the folder; never outside it.
pub fn config_path(given: &Path, project_dir: &Path) -> Result<String> {
    let bad = |why: &str| anyhow!("`--config {}`: {why}", given.display());
    let relative = if given.is_absolute() {
        let canonical = given
            .parent()
            .and_then(|p| p.canonicalize().ok())
            .map(|p| p.join(given.file_name().unwrap_or_default()))
            .unwrap_or_else(|| given.to_path_buf());
        canonical
            .strip_prefix(project_dir)
            .map(Path::to_path_buf)
            .map_err(|_| bad("the config file must be inside the project folder"))?
    } else {
        given.to_path_buf()
    };
    let mut parts: Vec<String> = Vec::new();
    for c in relative.components() {
        match c {
            std::path::Component::Normal(p) => parts.push(
                p.to_str()
                    .ok_or_else(|| bad("the path is not UTF-8"))?
                    .to_string(),
            ),
            std::path::Component::CurDir => {}
            _ => return Err(bad("the config file must be inside the project folder")),
        }
    }
    if parts.is_empty() {
        return Err(bad("names no file"));
    }
    Ok(parts.join("/"))
}

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
    /// Git objects (with the `--dev` overlay and the engine's synthetic objects).
    pub objects: Arc<dyn werf_graph::ObjectSource>,
    /// The repository's objects beneath the engine's layer (`werf dev` adds snapshots to them).
    pub git: Arc<GitObjects>,
    /// Plans in werf.yaml order.
    pub plans: Vec<(String, werf_graph::Result<Arc<ImagePlan>>)>,
    /// The graph the plans came from (charts render from it too).
    pub db: Database,
    pub project: Project,
    /// What `werf-giterminism.yaml` allows.
    pub giterminism: werf_graph::giterminism::Giterminism,
    /// The config file, project-relative (`werf.yaml`, `werf.yml` or `--config`).
    pub config_file: String,
    /// The engine's listing memo: what a run learned is written by [`Listings::flush`].
    pub listings: Arc<Listings>,
    /// The digest of the engine's inputs the plans were made for ([`Loaded::replan`] keeps them
    /// while it holds).
    planned_for: werf_graph::Digest,
    /// Where plans are remembered across runs (none for `werf dev`, which re-plans
    /// incrementally in one process).
    memo: Option<PlanMemo>,
}

impl Loaded {
    /// Ends the engine's life without freeing its memos one by one: the process is about to
    /// exit and gives the memory back at once (freeing 1,000 images' queries is about 7% of a
    /// no-op plan's time). Nothing is lost: the listings are flushed and the plans' write in
    /// flight is waited for first (no other part of `Loaded` writes anything when dropped).
    pub fn leak_at_exit(self) {
        self.listings.flush();
        if let Some(memo) = &self.memo {
            memo.finish();
        }
        std::mem::forget(self);
    }

    /// The plans of images a build can make: planned, or waiting on an import's content (which
    /// the build records, see [`crate::build::Planner`]); any other error stops, listing each.
    pub fn buildable_plans(&self) -> Result<Vec<crate::build::Wanted>> {
        self.check_plans(true)?;
        Ok(self.plans.clone())
    }

    /// The requested images plus what they depend on, in werf.yaml order (planned, or waiting
    /// on an import's content); every image when none is requested.
    pub fn selected_plans(&self, wanted: &[String]) -> Result<Vec<crate::build::Wanted>> {
        let plans = self.buildable_plans()?;
        if wanted.is_empty() {
            return Ok(plans);
        }
        let mut keep: std::collections::BTreeSet<String> = Default::default();
        let mut frontier: Vec<String> = Vec::new();
        for w in wanted {
            if !plans.iter().any(|(n, _)| n == w) {
                anyhow::bail!("image `{w}` is not defined in werf.yaml");
            }
            frontier.push(w.clone());
        }
        while let Some(n) = frontier.pop() {
            if keep.insert(n.clone()) {
                frontier.extend(self.dependencies(&n));
            }
        }
        Ok(plans
            .into_iter()
            .filter(|(n, _)| keep.contains(n))
            .collect())
    }

    /// The werf images `image` reads, as werf.yaml says (known while its plan is pending).
    pub fn dependencies(&self, image: &str) -> Vec<String> {
        dependencies_of(&self.config, image)
    }

    /// Plans again with the import checksums `repo` held when this machine last listed it (a
    /// build leaves them in the cache): a dry run, a render or a converge then knows the tags
    /// of importers built before, without asking the registry.
    pub fn use_recorded_imports(&mut self, repo: &str) -> Result<()> {
        let Some(tags) = crate::build::cached_tags(&self.store, repo)? else {
            return Ok(());
        };
        if werf_graph::imports::checksums_in(&tags).is_empty() {
            return Ok(());
        }
        self.use_import_records(&tags)
    }

    /// Plans again with exactly the import records among `tags` (a repository's tags).
    pub fn use_import_records(&mut self, tags: &std::collections::BTreeSet<String>) -> Result<()> {
        let checksums = werf_graph::imports::checksums_in(tags);
        set_import_checksums(&mut self.db, self.project, &checksums);
        self.replan()
    }

    /// The plans, or an error listing every image that failed.
    pub fn ok_plans(&self) -> Result<Vec<Arc<ImagePlan>>> {
        self.check_plans(false)?;
        Ok(self
            .plans
            .iter()
            .filter_map(|(_, p)| p.as_ref().ok().cloned())
            .collect())
    }

    /// An error listing every image that failed to plan (those waiting on an import's content
    /// too, unless `pending_ok`).
    fn check_plans(&self, pending_ok: bool) -> Result<()> {
        let mut errors: Vec<String> = Vec::new();
        for (_, p) in &self.plans {
            let Err(e) = p else { continue };
            let pending = matches!(e, werf_graph::Error::ImportPending { .. });
            if pending && pending_ok {
                continue;
            }
            let mut msg = e.to_string();
            if pending {
                msg.push_str(" (`werf build --repo REPO` records it; then pass the same `--repo`)");
            }
            if !errors.contains(&msg) {
                errors.push(msg);
            }
        }
        match errors.len() {
            0 => Ok(()),
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

    /// Runs `f` with the engine pointed at `commit` (its root, and its `.Commit` for werf.yaml),
    /// then points it back where it was (the commit, or the `--dev` snapshot).
    pub fn at_commit<T>(&mut self, commit: &Commit, f: impl FnOnce(&Database, Project) -> T) -> T {
        let project = self.project;
        let now = project.root_tree(&self.db);
        let env = project.template_env(&self.db).clone();
        project.set_commit(&mut self.db, commit_info(commit));
        project.set_root_tree(&mut self.db).to(commit.tree);
        let out = f(&self.db, project);
        project.set_root_tree(&mut self.db).to(now);
        project.set_template_env(&mut self.db).to(env);
        out
    }

    /// Points the engine at `tree` for good (`werf dev`'s next snapshot); [`Loaded::replan`]
    /// then re-runs only what the difference reaches.
    pub fn set_root(&mut self, tree: ObjectId) {
        let project = self.project;
        if project.root_tree(&self.db) != tree {
            project.set_root_tree(&mut self.db).to(tree);
        }
    }

    /// Config and plans again (after [`Loaded::set_root`], or new import checksums): nothing to
    /// do while the engine's inputs are the ones the plans were made for; else from the store
    /// when it remembers them, or the engine. On an error (a broken werf.yaml) the previous
    /// config and plans are kept.
    pub fn replan(&mut self) -> Result<()> {
        if *plan::memo::inputs_digest(&self.db, self.project) == self.planned_for {
            return Ok(()); // the same inputs plan the same
        }
        let config = plan::config(&self.db, self.project).clone()?;
        let config_blob = plan::config_blob(&self.db, self.project).clone()?;
        let (plans, inputs) = plans_of(&mut self.db, self.project, self.memo.as_ref(), None)?;
        self.config = config;
        self.config_blob = config_blob;
        self.plans = plans;
        self.planned_for = inputs;
        Ok(())
    }

    /// The config file path relative to the repository root.
    pub fn config_repo_path(&self) -> String {
        join(&self.repo.prefix, &self.config_file)
    }
}

/// The plans apart from the images waiting on an import's content, each with why it waits.
pub fn split_pending(
    wanted: Vec<crate::build::Wanted>,
) -> (Vec<Arc<ImagePlan>>, Vec<(String, werf_graph::Error)>) {
    let mut plans = Vec::new();
    let mut pending = Vec::new();
    for (name, plan) in wanted {
        match plan {
            Ok(p) => plans.push(p),
            Err(e) => pending.push((name, e)),
        }
    }
    (plans, pending)
}

/// Sets the engine's import checksums (only when they differ: an equal set invalidates nothing).
pub fn set_import_checksums(
    db: &mut Database,
    project: Project,
    checksums: &werf_graph::imports::Checksums,
) {
    if **project.import_checksums(db) != *checksums {
        project
            .set_import_checksums(db)
            .to(Arc::new(checksums.clone()));
    }
}

/// The werf images `image` reads, as werf.yaml says.
fn dependencies_of(config: &WerfConfig, image: &str) -> Vec<String> {
    config
        .images
        .iter()
        .find(|i| i.name == image)
        .map(|i| i.dependencies.iter().map(|d| d.image.clone()).collect())
        .unwrap_or_default()
}

/// The engine as a build's [`crate::build::Planner`].
pub struct EnginePlanner<'a> {
    db: &'a mut Database,
    project: Project,
    config: &'a WerfConfig,
    /// How many records the engine was last given: a build's records only grow, so an equal
    /// count needs no comparison (1,000 images would compare the map 1,000 times).
    given: Option<usize>,
    /// The loaded plans and the inputs they were made for: while the inputs are the same, an
    /// image's plan is the loaded one (it may have come from the store, and the engine would
    /// plan it again).
    loaded: (
        std::collections::HashMap<&'a str, &'a werf_graph::Result<Arc<ImagePlan>>>,
        werf_graph::Digest,
    ),
}

impl Loaded {
    /// The engine as a build's planner, beside the objects and the store the build reads.
    pub fn planner(&mut self) -> (EnginePlanner<'_>, &dyn werf_graph::ObjectSource, &Store) {
        let planner = EnginePlanner {
            db: &mut self.db,
            project: self.project,
            config: &self.config,
            given: None,
            loaded: (
                self.plans.iter().map(|(n, p)| (n.as_str(), p)).collect(),
                self.planned_for,
            ),
        };
        (planner, &*self.objects, &self.store)
    }
}

impl crate::build::Planner for EnginePlanner<'_> {
    fn dependencies(&self, image: &str) -> Vec<String> {
        dependencies_of(self.config, image)
    }

    fn replan(
        &mut self,
        checksums: &werf_graph::imports::Checksums,
        image: &str,
    ) -> werf_graph::Result<Arc<ImagePlan>> {
        if self.given != Some(checksums.len()) {
            set_import_checksums(self.db, self.project, checksums);
            self.given = Some(checksums.len());
        }
        let (plans, planned_for) = &self.loaded;
        if *plan::memo::inputs_digest(&*self.db, self.project) == *planned_for {
            if let Some(plan) = plans.get(image) {
                return (*plan).clone();
            }
        }
        let key = werf_graph::db::ImageKey::new(&*self.db, image.to_string());
        plan::image_plan(&*self.db, self.project, key).clone()
    }
}

/// The images of `project` that plan, by name (those that fail to plan are left out).
pub fn plans_by_name(db: &Database, project: Project) -> BTreeMap<String, Arc<ImagePlan>> {
    plan::plan_all(db, project)
        .map(|all| {
            all.into_iter()
                .filter_map(|(n, p)| p.ok().map(|p| (n, p)))
                .collect()
        })
        .unwrap_or_default()
}

/// werf.yaml's `.Commit` of `commit`.
pub fn commit_info(commit: &Commit) -> werf_graph::config::CommitInfo {
    werf_graph::config::CommitInfo {
        hash: commit.id.clone(),
        unix: commit.time.0,
        offset: commit.time.1,
    }
}

/// What a command reads besides werf.yaml and the images' files (for the dirty check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    /// werf.yaml and Git history only (`cleanup`): the work tree is not compared.
    History,
    Images,
    ImagesAndChart,
}

/// Opens the repository, sets the engine's inputs, plans every image and checks for dirty files.
pub fn load(global: &GlobalSettings) -> Result<Loaded> {
    load_for(global, Reads::Images)
}

/// [`load`] for a command that also reads the chart: uncommitted chart files are errors too.
/// Plans whose inputs an earlier run planned are read from the store instead of planned again.
pub fn load_for(global: &GlobalSettings, reads: Reads) -> Result<Loaded> {
    load_with(global, reads, true)
}

/// [`load_for`] for `werf dev`: every plan comes from the engine, which then re-plans only what
/// each change reaches (plans read from the store would leave it nothing to reuse).
pub fn load_incremental(global: &GlobalSettings, reads: Reads) -> Result<Loaded> {
    load_with(global, reads, false)
}

fn load_with(global: &GlobalSettings, reads: Reads, remember: bool) -> Result<Loaded> {
    let dir = match &global.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let phases = crate::progress::Phases::start();
    let phase = |what: &str| phases.mark(what);
    let repo = Repo::discover(&dir)?;
    let commit = repo.commit(global.commit.as_deref())?;
    let home = global.home.clone();
    let store = Store::open(&home)
        .with_context(|| format!("cannot open the cache in `{}`", home.display()))?;

    let work = Arc::new(
        WorkTree::open(&repo.workdir)
            .with_context(|| format!("cannot open the work tree `{}`", repo.workdir.display()))?,
    );
    let mut objects = GitObjects::new(repo.sync.clone()).with_work_tree(work.clone());
    let mut root = commit.tree;
    let mut dev_changes = 0;
    if global.dev {
        let changes = worktree::changes(&repo, &objects, commit.tree, &[String::new()], true)?;
        dev_changes = changes.len();
        let snap = worktree::snapshot(&objects, commit.tree, &changes)?;
        root = snap.root;
        objects = objects.with_overlay(snap.trees, snap.blobs);
    }

    // The config file: `--config`, else `werf.yaml`, else `werf.yml` when only it is there.
    let config_file = match &global.config {
        Some(given) => config_path(given, &repo.workdir.join(&repo.prefix))?,
        None => {
            let at = |name: &str| -> Result<bool> {
                let found = werf_graph::context::lookup(&objects, root, &join(&repo.prefix, name))?;
                Ok(found.is_some())
            };
            if !at(CONFIG_FILE)? && at(CONFIG_FILE_YML)? {
                CONFIG_FILE_YML.to_string()
            } else {
                CONFIG_FILE.to_string()
            }
        }
    };

    // Giterminism: the rules, and in commit mode the uncommitted files they allow to be read
    // from the work tree (werf.yaml, its templates and `.Files`, Dockerfiles, `.dockerignore`s,
    // chart files), laid over the commit as `--dev` lays every change.
    let rules = crate::giterminism::read(&objects, root, &repo.prefix)?;
    let mut allowed_uncommitted = Vec::new();
    if !global.dev && global.commit.is_none() && rules != Default::default() {
        let changes = worktree::changes(
            &repo,
            &objects,
            commit.tree,
            std::slice::from_ref(&repo.prefix),
            true,
        )?;
        let prefix = if repo.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", repo.prefix)
        };
        let allowed: Vec<worktree::Change> = changes
            .into_iter()
            .filter(|c| {
                let rel = c.path.strip_prefix(&prefix).unwrap_or(&c.path);
                rules.allows_uncommitted(rel, &config_file)
            })
            .collect();
        if !allowed.is_empty() {
            let snap = worktree::snapshot(&objects, commit.tree, &allowed)?;
            root = snap.root;
            objects = objects.with_overlay(snap.trees, snap.blobs);
            allowed_uncommitted = allowed.into_iter().map(|c| c.path).collect();
        }
    }

    phase("repository opened");
    let git_objects = Arc::new(objects);
    let objects: Arc<dyn werf_graph::ObjectSource> = git_objects.clone();
    let listings = Arc::new(Listings::new(store.clone()));
    let db = Database::new(objects.clone(), listings.clone());
    let mut db = db;
    // werf.yaml's template reads `--env` and the environment: both are inputs of the graph.
    let template_env = werf_graph::config::TemplateEnv {
        env: global.env.clone(),
        // Read as bytes: a variable whose name or value is not UTF-8 is not an error (and must not
        // panic, as `std::env::vars` does); templates see it with invalid bytes replaced.
        vars: crate::settings::environment().into_iter().collect(),
        commit: Some(commit_info(&commit)),
        templates_dir: global.config_templates_dir.clone(),
        giterminism: Some(rules.clone()),
        platforms: checked_platforms(&global.platforms)?,
    };
    let project = Project::new(
        &db,
        root,
        repo.prefix.clone(),
        config_file.clone(),
        Arc::default(),
        Arc::new(template_env),
        Arc::default(),
    );

    // In commit mode the work tree is compared with the commit while images are planned: the scan
    // covers the project folder (no context reaches outside it) and is filtered by use afterwards.
    // Only HEAD's commit is checked out: `--commit` of any other commit reads Git alone, and the
    // work tree (which holds another commit's files) says nothing about it.
    let reads_checkout = !global.dev
        && reads != Reads::History
        && match &global.commit {
            None => true,
            Some(_) => repo.commit(None).is_ok_and(|head| head.id == commit.id),
        };
    let (planned, scanned) = std::thread::scope(|scope| {
        let scan = reads_checkout.then(|| {
            scope.spawn(|| {
                let objects = GitObjects::new(repo.sync.clone());
                let changes = worktree::changes(
                    &repo,
                    &objects,
                    commit.tree,
                    std::slice::from_ref(&repo.prefix),
                    false,
                );
                phase("work tree scanned");
                changes
            })
        });
        let memo = remember.then(|| PlanMemo::new(&store, &repo, &config_file));
        let planned = plan_project(
            &repo,
            &work,
            &git_objects,
            (&mut db, project),
            &rules,
            &config_file,
            memo,
        );
        phase("planned (the scan may still run)");
        let scanned = scan.map(|s| s.join().expect("the work-tree scan does not panic"));
        (planned, scanned)
    });
    let (config, config_blob, plans, planned_for, memo) = planned?;
    phase("images planned");

    // Builders read through the engine's layer: a Stapel image's context and Dockerfile are
    // synthetic objects made while planning.
    let objects = db.layered_objects();
    let loaded = Loaded {
        repo,
        commit,
        dev: global.dev,
        dev_changes,
        config,
        config_blob,
        store,
        objects,
        git: git_objects,
        plans,
        db,
        project,
        giterminism: rules,
        config_file,
        listings,
        planned_for,
        memo,
    };
    // What planning learned, as one pack (later queries add to the next flush).
    loaded.listings.flush();
    if let Some(changes) = scanned {
        let rules = &loaded.giterminism;
        check_clean(&loaded, changes?, reads, (rules, &allowed_uncommitted))?;
        phase("work tree checked");
    }
    Ok(loaded)
}

type Plans = Vec<(String, werf_graph::Result<Arc<ImagePlan>>)>;

type Planned = (
    Arc<WerfConfig>,
    ObjectId,
    Plans,
    werf_graph::Digest,
    Option<PlanMemo>,
);

/// Config, `contextAddFiles` and the plans of every image (remembered ones when `memo` holds
/// plans for the same inputs).
fn plan_project(
    repo: &Repo,
    work: &WorkTree,
    objects: &GitObjects,
    (db, project): (&mut Database, Project),
    rules: &werf_graph::giterminism::Giterminism,
    config_file: &str,
    memo: Option<PlanMemo>,
) -> Result<Planned> {
    let config = plan::config(db, project).clone()?;
    let config_blob = plan::config_blob(db, project).clone()?;
    crate::giterminism::check_config(&config, rules, config_file)?;
    let work_files = read_context_add_files(repo, work, &config)?;
    if !work_files.is_empty() {
        // Builders read these as blobs: beneath the root, checked against the same ids.
        objects.add_work_blobs(work_files.iter().map(|(rel, f)| (f.id, rel.clone())));
        project.set_work_files(db).to(Arc::new(work_files));
    }
    let progress = PlanProgress::new();
    let (plans, inputs) = plans_of(db, project, memo.as_ref(), Some(&progress))?;
    progress.finish();
    crate::giterminism::check_mounts(&plans, rules, config_file)?;
    Ok((config, config_blob, plans, inputs, memo))
}

/// The plans of every image for the engine's current inputs, and the inputs' digest: from
/// `memo` when it holds them (the graph is then seeded with their digests, so a render does not
/// plan again), else from the engine (and remembered in `memo`).
fn plans_of(
    db: &mut Database,
    project: Project,
    memo: Option<&PlanMemo>,
    progress: Option<&PlanProgress>,
) -> Result<(Plans, werf_graph::Digest)> {
    let inputs = *plan::memo::inputs_digest(db, project);
    if let Some(plans) = memo.and_then(|m| m.get(inputs, &db.synthetic_objects())) {
        tracing::debug!(images = plans.len(), "plans read from the store");
        plan::memo::seed(db, inputs, &plans);
        return Ok((plans.into_iter().map(|(n, p)| (n, Ok(p))).collect(), inputs));
    }
    tracing::debug!(remembered = memo.is_some(), "plans made by the engine");
    let plans = match progress {
        Some(p) => plan::plan_all_with(db, project, p)?,
        None => plan::plan_all(db, project)?,
    };
    if let Some(memo) = memo {
        memo.put(inputs, &plans, db.synthetic_objects());
    }
    Ok((plans, inputs))
}

/// The store's namespace of remembered plans.
const PLAN_MEMO: &str = "plan-memo";

/// Where a project's last plans are remembered: one record per project folder and config file,
/// replaced when its inputs change (the store holds one set of plans per project, not one per
/// commit). The record opens with the engine's identity and the inputs' digest.
struct PlanMemo {
    store: Store,
    key: werf_cache::Key,
    engine: Option<String>,
    /// The write in flight: plans are encoded and written on a thread of their own, beside the
    /// command's own work, and waited for when the memo is dropped (or the process leaves).
    writing: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl PlanMemo {
    fn new(store: &Store, repo: &Repo, config_file: &str) -> Self {
        let slot = format!("{}\0{}\0{config_file}", repo.workdir.display(), repo.prefix);
        PlanMemo {
            store: store.clone(),
            key: werf_cache::key_for_name(PLAN_MEMO, &slot),
            engine: engine_identity(),
            writing: Default::default(),
        }
    }

    fn header(&self, inputs: werf_graph::Digest) -> Option<String> {
        Some(format!("{}\n{inputs}\n", self.engine.as_deref()?))
    }

    /// The remembered plans, if they were made by this engine for `inputs` (the objects
    /// planning made go to `synthetic`).
    fn get(
        &self,
        inputs: werf_graph::Digest,
        synthetic: &MemoryObjects,
    ) -> Option<Vec<(String, Arc<ImagePlan>)>> {
        let header = self.header(inputs)?;
        let record = self.store.get(PLAN_MEMO, &self.key).ok()??;
        let payload = record.strip_prefix(header.as_bytes())?;
        plan::memo::decode(payload, synthetic)
            .map_err(|e| tracing::debug!("{}", werf_base::errors::chain(&e)))
            .ok()
    }

    /// Remembers `plans` and the objects planning made in `synthetic` (only when every image
    /// planned: errors are not remembered).
    fn put(&self, inputs: werf_graph::Digest, plans: &Plans, synthetic: Arc<MemoryObjects>) {
        let Some(header) = self.header(inputs) else {
            return;
        };
        let Some(ok) = plans
            .iter()
            .map(|(n, p)| p.as_ref().ok().map(|p| (n.clone(), p.clone())))
            .collect::<Option<Vec<_>>>()
        else {
            return;
        };
        let (store, key) = (self.store.clone(), self.key);
        // Encoded straight into the record's file: 10,000 plans are tens of megabytes that are
        // never held in memory beside the engine's own.
        // A refused plan (werf.yaml `secrets`) fails the write: nothing is stored.
        let write = move || {
            let written = store.put_streamed(PLAN_MEMO, &key, |w| {
                w.write_all(header.as_bytes())?;
                plan::memo::encode(w, &ok, &synthetic)
                    .map_err(|e| std::io::Error::other(werf_base::errors::chain(&e)))
            });
            if let Err(e) = written {
                tracing::debug!("the plans are not remembered: {e}");
            }
        };
        self.finish();
        let spawned = std::thread::Builder::new()
            .name("plan-memo".into())
            .spawn(write);
        match spawned {
            Ok(handle) => *self.writing.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle),
            Err(e) => tracing::debug!("the plans are not remembered: {e}"),
        }
    }

    /// Waits for the write in flight, if any (a killed process leaves at most a temp file: the
    /// store renames a record into place whole).
    fn finish(&self) {
        let handle = self
            .writing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

impl Drop for PlanMemo {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The running engine as a memo names it: this binary's file (device, inode, size and change
/// time), so a rebuilt or reinstalled `werf` plans afresh instead of trusting an older engine's
/// plans. `None` (no memo) when the binary cannot be looked at.
fn engine_identity() -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let exe = std::env::current_exe().ok()?;
    let m = std::fs::metadata(exe).ok()?;
    Some(format!(
        "werf-rs {} {}:{}:{}:{}.{}",
        env!("CARGO_PKG_VERSION"),
        m.dev(),
        m.ino(),
        m.size(),
        m.ctime(),
        m.ctime_nsec()
    ))
}

/// Reads `contextAddFiles` from the work tree (folders recursively), hashed as Git would:
/// beneath the repository root, links as links (never followed), special files refused.
fn read_context_add_files(
    repo: &Repo,
    work: &WorkTree,
    config: &WerfConfig,
) -> Result<BTreeMap<String, WorkFile>> {
    let mut out = BTreeMap::new();
    for img in &config.images {
        for entry in &img.context_add_files {
            let rel = join(&join(&repo.prefix, &img.context), entry);
            let at = || {
                format!(
                    "{}:{}: contextAddFiles entry `{entry}` of image `{}`",
                    config.file, img.line, img.name
                )
            };
            if rel.is_empty() || rel == ".." || rel.starts_with("../") {
                bail!("{}: `{rel}` is outside the repository", at());
            }
            match work.kind(&rel).with_context(at)? {
                None => bail!(
                    "{} does not exist in the work tree (`{}`)",
                    at(),
                    repo.workdir.join(&rel).display()
                ),
                Some(_) => add_work_files(work, &rel, &mut out).with_context(at)?,
            }
        }
    }
    Ok(out)
}

fn add_work_files(work: &WorkTree, rel: &str, out: &mut BTreeMap<String, WorkFile>) -> Result<()> {
    match work.kind(rel)? {
        Some(Kind::Dir) => {
            for name in work.list(rel)? {
                if name == ".git" {
                    continue;
                }
                add_work_files(work, &format!("{rel}/{name}"), out)?;
            }
        }
        Some(_) => {
            if let Some((kind, id)) = worktree::hash_file(work, rel)? {
                out.insert(rel.to_string(), WorkFile { kind, id });
            }
        }
        None => {}
    }
    Ok(())
}

/// Fails when a file that werf.yaml or an image uses differs from the commit (`changes`: every
/// difference in the project folder).
/// Errors on every uncommitted file the command uses. `allowed` is giterminism's: the rules and
/// the files read from the work tree under them, which count only for the uses their
/// allowance names (a Dockerfile for its image, a chart file for the chart; werf.yaml, its
/// templates and `.Files` for the config); any other use of such a file is still an error.
fn check_clean(
    loaded: &Loaded,
    changes: Vec<worktree::Change>,
    reads: Reads,
    allowed: (&werf_graph::giterminism::Giterminism, &[String]),
) -> Result<()> {
    let (rules, overlaid) = allowed;
    let config_path = loaded.config_repo_path();
    let chart_dir = loaded.chart_dir();
    let prefix = if loaded.repo.prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", loaded.repo.prefix)
    };
    let mut dirty = Vec::new();
    for c in changes {
        let is_overlaid = overlaid.contains(&c.path);
        let rel = c.path.strip_prefix(&prefix).unwrap_or(&c.path);
        let mut users: Vec<String> = loaded
            .plans
            .iter()
            .filter_map(|(_, p)| p.as_ref().ok())
            .filter(|p| p.uses_path(&c.path))
            .filter(|p| {
                // An allowed Dockerfile or `.dockerignore` of the image is no dirty use.
                let own_dockerfile =
                    rel == p.sources.dockerfile && rules.allows_uncommitted_dockerfile(rel);
                let own_ignore = p
                    .sources
                    .dockerignore
                    .as_ref()
                    .is_some_and(|(d, _)| d == rel)
                    && rules.allows_uncommitted_dockerignore(rel);
                !(is_overlaid && (own_dockerfile || own_ignore))
            })
            .map(|p| format!("`{}`", p.name))
            .collect();
        if reads == Reads::ImagesAndChart
            && c.path.starts_with(&format!("{chart_dir}/"))
            && !(is_overlaid && rules.allows_uncommitted_chart_file(rel))
        {
            users.insert(0, "the chart".to_string());
        }
        if c.path == config_path && !(is_overlaid && rules.allow_uncommitted_config) {
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

/// `--platform`'s platforms, each `OS/ARCH[/VARIANT]` (lowercase letters, digits and `_`),
/// sorted, without repeats.
fn checked_platforms(asked: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for p in asked {
        if !werf_graph::plan::settings::is_platform(p) {
            anyhow::bail!("`--platform {p}`: a platform is `OS/ARCH[/VARIANT]`, as `linux/amd64` or `linux/arm/v7`");
        }
        out.push(p.clone());
    }
    out.sort();
    out.dedup();
    Ok(out)
}
