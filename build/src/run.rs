//! A build from plans to results: the repository's tags listed once, what exists reported, the
//! rest scheduled ([`crate::schedule`]) on the backend each image needs, Stapel imports
//! checksummed and recorded as their sources appear, and the tag records updated.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use oci_client::RegistryOperation;
use werf_cache::Store;
use werf_graph::plan::ImagePlan;
use werf_graph::ObjectSource;

use crate::backend::{Backend, Job, Native};
use crate::native::{self, Published};
use crate::registry::Registry;
use crate::schedule::{self, Replanned, Start, Task};
use crate::{buildah, buildkit, imports, push, taglog, tags, Error, ImageError};

/// What a build needs besides the plans.
pub struct Options<'a> {
    pub repo: &'a str,
    pub parallel: usize,
    pub project: &'a str,
    /// Whether the results carry the manifest digests of images already in the registry (asked
    /// of the registry, one HEAD each); built images always carry theirs.
    pub report_digests: bool,
    /// Images with `RUN` go to buildah (storage under this folder) when set.
    pub buildah: Option<buildah::Buildah>,
    /// Images with `RUN` go to these BuildKit daemons when set.
    pub buildkit: Option<buildkit::Fleet>,
    /// The project folder (where werf.yaml `secrets[].src` files are).
    pub project_dir: std::path::PathBuf,
}

impl Options<'_> {
    /// The backend `plan` goes to: images with `RUN` go to the external runner chosen, if any.
    fn backend(&self, plan: &ImagePlan) -> &dyn Backend {
        match (&self.buildkit, &self.buildah, has_run(plan)) {
            (Some(fleet), _, true) => fleet,
            (None, Some(b), true) => b,
            _ => &Native,
        }
    }
}

/// Whether any stage the image needs has a `RUN`.
pub fn has_run(plan: &ImagePlan) -> bool {
    plan.stages.iter().any(|s| {
        plan.dockerfile.stages[s.index]
            .steps
            .iter()
            .any(|st| matches!(st.op, werf_graph::dockerfile::Op::Run(_)))
    })
}

/// How one image ended.
#[derive(Clone, Debug)]
pub struct ImageResult {
    pub name: String,
    pub tag: String,
    pub manifest_digest: String,
    pub size: i64,
    pub rebuilt: bool,
    pub build_time: Duration,
    /// The BuildKit daemon that built it (`--backend buildkit`).
    pub builder: Option<String>,
}

/// Progress of a build, drawn by the caller.
pub trait Reporter: Sync {
    fn existing(&self, _name: &str, _tag: &str) {}
    /// Images found in the registry at once, as (name, tag): each as [`Reporter::existing`]
    /// unless the reporter tells them together (a no-op build finds every image at once).
    fn existing_all(&self, found: &[(&str, &str)]) {
        for (name, tag) in found {
            self.existing(name, tag);
        }
    }
    fn started(&self, _name: &str) {}
    fn finished(&self, _name: &str, _result: &ImageResult, _uploaded: u64) {}
    fn failed(&self, _name: &str, _error: &str) {}
    /// The BuildKit daemon building `name` was lost; it is built again on another.
    fn lost_daemon(&self, _name: &str, _daemon: &str) {}
    /// The step a BuildKit daemon started for `name` (`[2/3] RUN ...`).
    fn step(&self, _name: &str, _step: &str) {}
}

/// One image the caller asks for: its plan, or why its tag is not known yet (a Stapel import
/// whose content is not recorded: [`werf_graph::Error::ImportPending`]).
pub type Wanted = (String, werf_graph::Result<Arc<ImagePlan>>);

/// Plans images again as import checksums become known. The engine stays with the caller:
/// these are called on the thread that called [`build`], never on a worker.
pub trait Planner {
    /// The werf images `image` reads (known from werf.yaml while its plan is pending).
    fn dependencies(&self, image: &str) -> Vec<String>;
    /// The plan of `image` with exactly `checksums` known (a build only adds to them from one
    /// call to the next).
    fn replan(
        &mut self,
        checksums: &werf_graph::imports::Checksums,
        image: &str,
    ) -> werf_graph::Result<Arc<ImagePlan>>;
}

/// What every image build reads.
struct Shared<'a> {
    objects: &'a dyn ObjectSource,
    store: &'a Store,
    registry: &'a Registry,
    options: &'a Options<'a>,
    reporter: &'a dyn Reporter,
}

/// Builds and pushes what `repo` lacks of `wanted`; returns every image's result in the order
/// given. An image whose tag waits on an import is planned again as soon as the images it
/// reads exist: the import's files are checksummed (once per source and import, recorded in
/// `repo`), and an importer whose tag then exists is not built (early cutoff).
pub fn build(
    wanted: Vec<Wanted>,
    planner: &mut dyn Planner,
    objects: &dyn ObjectSource,
    store: &Store,
    registry: &Registry,
    options: &Options<'_>,
    reporter: &dyn Reporter,
) -> Result<Vec<ImageResult>, Error> {
    let repo = options.repo;
    let mut tags = registry.list_tags(repo)?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let order: Vec<String> = wanted.iter().map(|(n, _)| n.clone()).collect();

    // The records of this listing, and no others (the caller may have planned with records
    // cached from an earlier listing), resolve what they can at once.
    let mut checksums = werf_graph::imports::checksums_in(&tags);
    let mut plans: HashMap<String, Arc<ImagePlan>> = HashMap::new();
    let mut unresolved: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, plan) in wanted {
        let plan = match plan {
            Ok(_) | Err(werf_graph::Error::ImportPending { .. }) => {
                planner.replan(&checksums, &name)
            }
            other => other,
        };
        match plan {
            Ok(p) => {
                plans.insert(name, p);
            }
            Err(werf_graph::Error::ImportPending { .. }) => {
                unresolved.insert(name.clone(), planner.dependencies(&name));
            }
            Err(e) => return Err(Error::Plan(e)),
        }
    }

    let mut results: BTreeMap<String, ImageResult> = BTreeMap::new();
    let mut pending: Vec<String> = Vec::new();
    let existing: Vec<&Arc<ImagePlan>> = plans.values().filter(|p| tags.contains(&p.tag)).collect();
    // A tag names one manifest for its life (never pushed twice), so the digest this machine
    // recorded for it stands: only tags it has no digest for are asked (a HEAD each).
    let digests = if options.report_digests {
        let log = taglog::read(store, repo)?;
        let mut known: HashMap<String, String> = HashMap::new();
        let mut ask: Vec<&Arc<ImagePlan>> = Vec::new();
        for p in &existing {
            match log.tags.get(&p.tag).and_then(|e| e.digest.clone()) {
                Some(d) => {
                    known.insert(p.tag.clone(), d);
                }
                None => ask.push(p),
            }
        }
        known.extend(push::current_digests(registry, repo, &ask)?);
        known
    } else {
        HashMap::new()
    };
    let mut found = Vec::new();
    for name in order.iter().filter(|n| plans.contains_key(*n)) {
        let p = &plans[name];
        if tags.contains(&p.tag) {
            found.push((p.name.as_str(), p.tag.as_str()));
            results.insert(name.clone(), existing_result(p, &digests));
        } else {
            pending.push(name.clone());
        }
    }
    reporter.existing_all(&found);

    // Push access is asked for before the first build, and only when there is something to
    // build: a run that finds every image needs no more than to read the repository.
    if !pending.is_empty() || !unresolved.is_empty() {
        registry.login(repo, RegistryOperation::Push)?;
    }
    let start = Start {
        plans,
        pending,
        unresolved,
        done: results.keys().cloned().collect::<HashSet<_>>(),
    };
    let built: Mutex<Vec<ImageResult>> = Mutex::new(Vec::new());
    let shared = Shared {
        objects,
        store,
        registry,
        options,
        reporter,
    };
    // `--parallel` bounds the builds per BuildKit daemon: a fleet takes that many per daemon.
    let workers = match &options.buildkit {
        Some(fleet) => options.parallel.max(1).max(fleet.capacity()),
        None => options.parallel.max(1),
    };
    let mut recorded: Vec<String> = Vec::new();
    let mut sources = imports::Sources::default();
    let build_task = |task: Task<'_, ImagePlan, Published>| {
        reporter.started(task.name);
        match build_one(&shared, task.name, task.plan, task.built, &task.tags) {
            Ok((result, published, uploaded)) => {
                reporter.finished(task.name, &result, uploaded);
                built.lock().expect("results lock poisoned").push(result);
                Ok(published)
            }
            Err(e) => {
                reporter.failed(task.name, &e.to_string());
                Err(e)
            }
        }
    };
    let replan = |name: &str, built_here: &dyn Fn(&str) -> Option<Published>| {
        let outcome = resolve(
            &shared,
            built_here,
            planner,
            &mut checksums,
            &mut sources,
            name,
        );
        match outcome {
            Ok((plan, record_tags)) => {
                recorded.extend(record_tags);
                if tags.contains(&plan.tag) {
                    Replanned::Exists(plan)
                } else {
                    Replanned::Missing(plan)
                }
            }
            Err(e) => {
                reporter.failed(name, &e.to_string());
                Replanned::Failed(e)
            }
        }
    };
    let finished = schedule::run(start, workers, build_task, replan);
    for (name, plan) in &finished.found {
        reporter.existing(&plan.name, &plan.tag);
        results.insert(name.clone(), existing_result(plan, &HashMap::new()));
    }

    let built = built.into_inner().expect("results lock poisoned");
    let pushed_at = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    // When each tag first appeared (the listing's tags at its time, pushed ones now), for the
    // cleanup's fresh rule: no metadata in the registry. One update of the log per build.
    taglog::update(store, repo, |l| {
        l.listed(&tags, now as i64);
        for r in built.iter().chain(results.values()) {
            l.pushed(&r.tag, &r.manifest_digest, pushed_at);
        }
    })?;
    // The repository's tags as this build leaves them: the next plans read the import records
    // here (a dry run, a render) without asking the registry.
    tags.extend(built.iter().map(|r| r.tag.clone()));
    tags.extend(recorded);
    tags::save(store, repo, &tags, now)?;
    if !finished.failed.is_empty() || !finished.unresolved.is_empty() {
        let mut failed = finished.failed;
        for n in finished.pending.iter().chain(&finished.unresolved) {
            failed.push((n.clone(), ImageError::NotBuilt));
        }
        return Err(Error::Images(failed));
    }
    for r in built {
        results.insert(r.name.clone(), r);
    }
    Ok(order.iter().map(|n| results[n].clone()).collect())
}

/// Plans `name` again, checksumming and recording each import it waits on (their sources
/// exist: built in this run, `built_here`, or in the registry); returns the plan and the record
/// tags pushed.
fn resolve(
    shared: &Shared<'_>,
    built_here: &dyn Fn(&str) -> Option<Published>,
    planner: &mut dyn Planner,
    checksums: &mut werf_graph::imports::Checksums,
    sources: &mut imports::Sources,
    name: &str,
) -> Result<(Arc<ImagePlan>, Vec<String>), ImageError> {
    let repo = shared.options.repo;
    let mut recorded = Vec::new();
    loop {
        let (spec, source_tag, key) = match planner.replan(checksums, name) {
            Ok(plan) => return Ok((plan, recorded)),
            Err(werf_graph::Error::ImportPending {
                spec,
                source_tag,
                key,
                ..
            }) if !checksums.contains_key(&key) => (spec, source_tag, key),
            Err(e) => return Err(e.into()),
        };
        let source = match built_here(&spec.source).filter(|p| p.tag == source_tag) {
            Some(p) => p,
            None => native::resolve_external(
                shared.registry,
                &format!("{repo}:{source_tag}"),
                "linux/amd64",
            )
            .map_err(ImageError::Source)?,
        };
        let started = Instant::now();
        let sum = imports::checksum(sources, shared.store, shared.registry, &source, &spec)
            .map_err(ImageError::Import)?;
        let read = started.elapsed();
        let tag = imports::record(shared.registry, repo, &spec, &key, &sum)
            .map_err(ImageError::Import)?;
        tracing::debug!(
            image = name,
            source = spec.source.as_str(),
            add = spec.add.as_str(),
            read_ms = read.as_millis() as u64,
            recorded_ms = (started.elapsed() - read).as_millis() as u64,
            "import checksummed and recorded"
        );
        recorded.push(tag);
        checksums.insert(key, sum);
    }
}

/// The result of an image its tag already names in the registry.
fn existing_result(plan: &ImagePlan, digests: &HashMap<String, String>) -> ImageResult {
    // A tag can be moved in the registry by anyone: a digest that is reported is the
    // registry's answer of this run, never a cached one.
    ImageResult {
        name: plan.name.clone(),
        tag: plan.tag.clone(),
        manifest_digest: digests.get(&plan.tag).cloned().unwrap_or_default(),
        size: 0,
        rebuilt: false,
        build_time: Duration::ZERO,
        builder: None,
    }
}

/// Builds and pushes one image whose dependencies exist (`images`: those built in this run;
/// `tags`: every dependency's tag).
fn build_one(
    shared: &Shared<'_>,
    next: &str,
    plan: &ImagePlan,
    mut images: HashMap<String, Published>,
    tags: &HashMap<String, String>,
) -> Result<(ImageResult, Published, u64), ImageError> {
    let Shared {
        objects,
        store,
        registry,
        options,
        reporter,
    } = *shared;
    let repo = options.repo;
    // The platform the werf images it reads are resolved for (the first of several: each
    // platform resolves its own when it is built).
    let platform = plan
        .platform
        .first()
        .cloned()
        .unwrap_or_else(|| "linux/amd64".to_string());
    let tag_of = |dep: &str| tags.get(dep).cloned().unwrap_or_default();
    let started = Instant::now();
    // Two runs on this machine building the same image take turns; one that had to wait
    // looks again and builds nothing if the other pushed it (runs on other machines are
    // covered by the registry retries).
    let image = format!("{repo}:{}", plan.tag);
    let (_held, waited) = store.lock_noting_wait(&format!("build {image}"))?;
    let pushed_meanwhile = if waited {
        registry.manifest_digest(&image)?
    } else {
        None
    };
    if let Some(digest) = pushed_meanwhile {
        let published = native::resolve_external(registry, &image, &platform)?;
        let result = ImageResult {
            name: next.to_string(),
            tag: plan.tag.clone(),
            manifest_digest: digest,
            size: 0,
            rebuilt: false,
            build_time: started.elapsed(),
            builder: None,
        };
        return Ok((result, published, 0));
    }
    // A multi-platform image resolves the werf images it reads for each platform itself.
    if plan.platform.len() <= 1 {
        for dep in &plan.dependencies {
            if !images.contains_key(dep) {
                let image = format!("{repo}:{}", tag_of(dep));
                let p = native::resolve_external(registry, &image, &platform)?;
                images.insert(dep.clone(), p);
            }
        }
    }
    let job = Job {
        plan,
        images: &images,
        objects,
        registry,
        repo,
        project: options.project,
        project_dir: &options.project_dir,
        platform: &platform,
        lost_daemon: &|daemon| reporter.lost_daemon(next, daemon),
        step: &|step| reporter.step(next, step),
    };
    let pushed = if plan.platform.len() > 1 {
        let multi = crate::platforms::Shared {
            registry,
            repo,
            tags,
        };
        crate::platforms::build_and_push(&multi, &job, options.backend(plan))?
    } else {
        options.backend(plan).build_and_push(&job)?
    };
    let size = pushed
        .published
        .manifest
        .layers
        .iter()
        .map(|l| l.size)
        .sum::<i64>()
        + pushed.published.manifest.config.size;
    let result = ImageResult {
        name: next.to_string(),
        tag: plan.tag.clone(),
        manifest_digest: pushed.digest,
        size,
        rebuilt: true,
        build_time: started.elapsed(),
        builder: pushed.builder,
    };
    Ok((result, pushed.published, pushed.uploaded))
}
