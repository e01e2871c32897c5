//! `werf build`: find which images the registry lacks, build exactly those along the image DAG
//! (an image starts as soon as its dependencies are published; `--parallel` workers, no waves),
//! and push each one blobs-first, manifest last, so a tag only ever names a complete image.
//!
//! - [`oci`]: the OCI model (manifests, configs, descriptors).
//! - [`layer`]: reproducible layers, streamed through temp files (bounded memory).
//! - [`archive`]: `ADD` of local archives, unpacked as Docker does, never outside the destination.
//! - [`native`]: the daemonless Dockerfile executor.
//! - [`buildah`]: the external backend for images with `RUN`.
//! - [`buildkit`]: images with `RUN` solved by one or many BuildKit daemons.
//! - [`image_spec`]: werf.yaml `imageSpec` applied to what was built, before it is tagged.
//! - [`imports`]: Stapel import checksums read from built images and recorded as tags.
//! - [`secrets`]: werf.yaml `secrets` read for `RUN --mount=type=secret`.

pub mod archive;
pub mod buildah;
pub mod buildkit;
pub mod image_spec;
pub mod imports;
pub mod layer;
pub mod native;
pub mod oci;
pub mod secrets;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use oci_client::RegistryOperation;
use werf_cache::Store;
use werf_graph::plan::ImagePlan;
use werf_graph::ObjectSource;

use crate::registry::{host_of, Registry};
use native::{LayerRef, Published};

/// Cache namespace: a repository's tags with when they were listed.
const TAGS: &str = "registry-tags";

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

/// What builds images with `RUN`.
enum External<'a> {
    Fleet(&'a buildkit::Fleet),
    Buildah(&'a buildah::Buildah),
}

/// Whether any stage the image needs has a `RUN`.
fn has_run(plan: &ImagePlan) -> bool {
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
    fn started(&self, _name: &str) {}
    fn finished(&self, _name: &str, _result: &ImageResult, _uploaded: u64) {}
    fn failed(&self, _name: &str, _error: &str) {}
    /// The BuildKit daemon building `name` was lost; it is built again on another.
    fn lost_daemon(&self, _name: &str, _daemon: &str) {}
    /// The step a BuildKit daemon started for `name` (`[2/3] RUN ...`).
    fn step(&self, _name: &str, _step: &str) {}
}

/// Errors of a build: every failed image with its cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Registry(#[from] crate::registry::Error),
    #[error("{} image{} failed:\n  {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.iter().map(|(n, e)| format!("`{n}`: {e}")).collect::<Vec<_>>().join("\n  "))]
    Images(Vec<(String, String)>),
    #[error("cache: {0}")]
    Cache(#[from] werf_cache::Error),
    #[error(transparent)]
    Plan(werf_graph::Error),
}

fn key(text: &str) -> werf_cache::Key {
    werf_cache::key_for_name("registry", text)
}

/// The tags of `repo` as the last build on this machine left them (`None`: no build yet).
pub fn cached_tags(
    store: &Store,
    repo: &str,
) -> Result<Option<std::collections::BTreeSet<String>>, werf_cache::Error> {
    #[derive(serde::Deserialize)]
    struct Listing {
        tags: std::collections::BTreeSet<String>,
    }
    Ok(store
        .get(TAGS, &key(repo))?
        .and_then(|b| serde_json::from_slice::<Listing>(&b).ok())
        .map(|l| l.tags))
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
    registry.login(repo, RegistryOperation::Push)?;
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
    let digests = if options.report_digests {
        current_digests(registry, repo, &existing)?
    } else {
        HashMap::new()
    };
    for name in order.iter().filter(|n| plans.contains_key(*n)) {
        let p = &plans[name];
        if tags.contains(&p.tag) {
            results.insert(name.clone(), existing_result(p, &digests, reporter));
        } else {
            pending.push(name.clone());
        }
    }

    let state = Mutex::new(State {
        plans,
        pending,
        unresolved,
        resolving: false,
        planner_done: false,
        running: 0,
        published: HashMap::new(),
        failed: Vec::new(),
        done: results.keys().cloned().collect(),
    });
    let wake = Condvar::new();
    let built: Mutex<Vec<ImageResult>> = Mutex::new(Vec::new());
    let shared = Shared {
        objects,
        store,
        registry,
        options,
        reporter,
    };

    let worker = || loop {
        let mut s = state.lock().expect("build state lock poisoned");
        let next = loop {
            if !s.failed.is_empty() && s.running == 0 {
                return;
            }
            let ready = if s.failed.is_empty() {
                s.pending.iter().position(|n| {
                    s.plans[n.as_str()]
                        .dependencies
                        .iter()
                        .all(|d| s.done.contains(d))
                })
            } else {
                None
            };
            if let Some(i) = ready {
                let name = s.pending.remove(i);
                s.running += 1;
                break name;
            }
            if s.running == 0 && !s.resolving && (s.unresolved.is_empty() || s.planner_done) {
                // Nothing runnable, running or still to be planned: the rest waits on failed
                // images (or nothing is left).
                return;
            }
            s = wake.wait(s).expect("build state lock poisoned");
        };
        // The dependencies built in this run; those that already existed are fetched below.
        let plan = s.plans[next.as_str()].clone();
        let tags_of: HashMap<String, String> = plan
            .dependencies
            .iter()
            .filter_map(|d| s.plans.get(d).map(|p| (d.clone(), p.tag.clone())))
            .collect();
        let images: HashMap<String, Published> = plan
            .dependencies
            .iter()
            .filter_map(|d| s.published.get(d).map(|p| (d.clone(), p.clone())))
            .collect();
        drop(s);
        shared.reporter.started(&next);
        let outcome = build_one(&shared, &next, &plan, images, &tags_of);
        let mut s = state.lock().expect("build state lock poisoned");
        s.running -= 1;
        match outcome {
            Ok((result, published, uploaded)) => {
                shared.reporter.finished(&next, &result, uploaded);
                s.published.insert(next.clone(), published);
                s.done.insert(next.clone());
                built.lock().expect("results lock poisoned").push(result);
            }
            Err(e) => {
                shared.reporter.failed(&next, &e);
                s.failed.push((next.clone(), e));
            }
        }
        wake.notify_all();
    };
    // `--parallel` bounds the builds per BuildKit daemon: a fleet takes that many per daemon.
    let workers = match &options.buildkit {
        Some(fleet) => options.parallel.max(1).max(fleet.capacity()),
        None => options.parallel.max(1),
    };
    let mut recorded: Vec<String> = Vec::new();
    let mut sources = imports::Sources::default();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(worker);
        }
        // This thread plans the images waiting on imports as the images they read exist.
        while let Some(ready) = next_resolvable(&state, &wake) {
            let outcomes: Vec<(String, Result<Arc<ImagePlan>, String>)> = ready
                .into_iter()
                .map(|name| {
                    let r = resolve(
                        &shared,
                        &state,
                        planner,
                        &mut checksums,
                        &mut sources,
                        &name,
                    )
                    .map(|(plan, tags)| {
                        recorded.extend(tags);
                        plan
                    });
                    (name, r)
                })
                .collect();
            let mut s = state.lock().expect("build state lock poisoned");
            for (name, outcome) in outcomes {
                s.unresolved.remove(&name);
                match outcome {
                    Ok(plan) if tags.contains(&plan.tag) => {
                        let result = existing_result(&plan, &HashMap::new(), reporter);
                        s.done.insert(name.clone());
                        results.insert(name.clone(), result);
                        s.plans.insert(name, plan);
                    }
                    Ok(plan) => {
                        s.plans.insert(name.clone(), plan);
                        s.pending.push(name);
                    }
                    Err(e) => {
                        reporter.failed(&name, &e);
                        s.failed.push((name, e));
                    }
                }
            }
            s.resolving = false;
            wake.notify_all();
        }
        state
            .lock()
            .expect("build state lock poisoned")
            .planner_done = true;
        wake.notify_all();
    });

    let s = state.into_inner().expect("build state lock poisoned");
    let built = built.into_inner().expect("results lock poisoned");
    let pushed_at = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    // When each tag first appeared (the listing's tags at its time, pushed ones now), for the
    // cleanup's fresh rule: no metadata in the registry. One update of the log per build.
    crate::cleanup::taglog::update(store, repo, |l| {
        l.listed(&tags, now as i64);
        for r in built.iter().chain(results.values()) {
            l.pushed(&r.tag, &r.manifest_digest, pushed_at);
        }
    })?;
    // The repository's tags as this build leaves them: the next plans read the import records
    // here (a dry run, a render) without asking the registry.
    tags.extend(built.iter().map(|r| r.tag.clone()));
    tags.extend(recorded);
    store.put(
        TAGS,
        &key(repo),
        &serde_json::to_vec(&serde_json::json!({"confirmed_at": now, "tags": tags})).expect("json"),
    )?;
    if !s.failed.is_empty() || !s.unresolved.is_empty() {
        let mut failed = s.failed;
        for n in s.pending.iter().chain(s.unresolved.keys()) {
            failed.push((
                n.clone(),
                "not built: a dependency or another image failed first".into(),
            ));
        }
        return Err(Error::Images(failed));
    }
    for r in built {
        results.insert(r.name.clone(), r);
    }
    Ok(order.iter().map(|n| results[n].clone()).collect())
}

/// The shared state of a build's workers and its planning thread.
struct State {
    /// Every image planned so far, by name.
    plans: HashMap<String, Arc<ImagePlan>>,
    /// Planned, missing from the registry, not started.
    pending: Vec<String>,
    /// Waiting on an import's content, with the images they read.
    unresolved: BTreeMap<String, Vec<String>>,
    /// The planning thread is checksumming and planning.
    resolving: bool,
    /// The planning thread plans nothing more (what is unresolved stays so).
    planner_done: bool,
    running: usize,
    published: HashMap<String, Published>,
    failed: Vec<(String, String)>,
    done: HashSet<String>,
}

/// The images waiting on imports whose dependencies all exist now, marked as being resolved;
/// `None` when none ever will (none left, a failure, or nothing left that could finish).
fn next_resolvable(state: &Mutex<State>, wake: &Condvar) -> Option<Vec<String>> {
    let mut s = state.lock().expect("build state lock poisoned");
    loop {
        if s.unresolved.is_empty() || !s.failed.is_empty() {
            return None;
        }
        let ready: Vec<String> = s
            .unresolved
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| s.done.contains(d)))
            .map(|(n, _)| n.clone())
            .collect();
        if !ready.is_empty() {
            s.resolving = true;
            return Some(ready);
        }
        let runnable = s.pending.iter().any(|n| {
            s.plans[n.as_str()]
                .dependencies
                .iter()
                .all(|d| s.done.contains(d))
        });
        if s.running == 0 && !runnable {
            // What is left waits on images that cannot finish.
            wake.notify_all();
            return None;
        }
        s = wake.wait(s).expect("build state lock poisoned");
    }
}

/// Plans `name` again, checksumming and recording each import it waits on (their sources
/// exist); returns the plan and the record tags pushed.
fn resolve(
    shared: &Shared<'_>,
    state: &Mutex<State>,
    planner: &mut dyn Planner,
    checksums: &mut werf_graph::imports::Checksums,
    sources: &mut imports::Sources,
    name: &str,
) -> Result<(Arc<ImagePlan>, Vec<String>), String> {
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
            Err(e) => return Err(e.to_string()),
        };
        let built_here = state
            .lock()
            .expect("build state lock poisoned")
            .published
            .get(&spec.source)
            .filter(|p| p.tag == source_tag)
            .cloned();
        let source = match built_here {
            Some(p) => p,
            None => native::resolve_external(
                shared.registry,
                &format!("{repo}:{source_tag}"),
                "linux/amd64",
            )
            .map_err(|e| crate::errors::chain(&e))?,
        };
        let started = Instant::now();
        let sum = imports::checksum(sources, shared.registry, shared.objects, &source, &spec)
            .map_err(|e| crate::errors::chain(&e))?;
        let read = started.elapsed();
        let tag = imports::record(shared.registry, repo, &spec, &key, &sum)
            .map_err(|e| crate::errors::chain(&e))?;
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
fn existing_result(
    plan: &ImagePlan,
    digests: &HashMap<String, String>,
    reporter: &dyn Reporter,
) -> ImageResult {
    // A tag can be moved in the registry by anyone: a digest that is reported is the
    // registry's answer of this run, never a cached one.
    reporter.existing(&plan.name, &plan.tag);
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
) -> Result<(ImageResult, Published, u64), String> {
    let Shared {
        objects,
        store,
        registry,
        options,
        reporter,
    } = *shared;
    let repo = options.repo;
    let platform_default = "linux/amd64".to_string();
    let tag_of = |dep: &str| tags.get(dep).cloned().unwrap_or_default();
    let next = next.to_string();
    let started = Instant::now();
    // Two runs on this machine building the same image take turns; one that had to wait
    // looks again and builds nothing if the other pushed it (runs on other machines are
    // covered by the registry retries).
    let image = format!("{repo}:{}", plan.tag);
    let (_held, waited) = store
        .lock_noting_wait(&format!("build {image}"))
        .map_err(|e| e.to_string())?;
    let pushed_meanwhile = if waited {
        registry
            .manifest_digest(&image)
            .map_err(|e| e.to_string())?
    } else {
        None
    };
    if let Some(digest) = pushed_meanwhile {
        let published = native::resolve_external(registry, &image, &platform_default)
            .map_err(|e| e.to_string())?;
        let result = ImageResult {
            name: next.clone(),
            tag: plan.tag.clone(),
            manifest_digest: digest,
            size: 0,
            rebuilt: false,
            build_time: started.elapsed(),
            builder: None,
        };
        return Ok((result, published, 0));
    }
    for dep in &plan.dependencies {
        if !images.contains_key(dep) {
            let image = format!("{repo}:{}", tag_of(dep));
            let p = native::resolve_external(registry, &image, &platform_default)
                .map_err(|e| e.to_string())?;
            images.insert(dep.clone(), p);
        }
    }
    if plan.platform.len() > 1 {
        return Err(format!(
            "multi-platform builds ({}) are not supported yet",
            plan.platform.join(", ")
        ));
    }
    let platform = plan
        .platform
        .first()
        .cloned()
        .unwrap_or_else(|| platform_default.clone());
    let mut builder = None;
    // Images with `RUN` go to the external runner chosen, if any.
    let external = match (&options.buildkit, &options.buildah, has_run(plan)) {
        (Some(fleet), _, true) => Some(External::Fleet(fleet)),
        (None, Some(b), true) => Some(External::Buildah(b)),
        _ => None,
    };
    if let (Some(External::Fleet(_)), Some(_)) = (&external, &plan.ssh) {
        return Err(format!(
            "image `{next}`: werf.yaml `ssh` is not supported yet with `--backend buildkit` (the SSH agent reaches `RUN --mount=type=ssh` with `--backend buildah`)"
        ));
    }
    let (digest, uploaded, published) = match external {
        Some(external) => {
            // With an `imageSpec`, the runner pushes under a staging tag, and the image's own tag
            // only ever names the image with its spec applied.
            let staged;
            let runner_plan: &ImagePlan = match &plan.image_spec {
                Some(_) => {
                    staged = ImagePlan {
                        tag: format!("{}-unspecced", plan.tag),
                        ..plan.clone()
                    };
                    &staged
                }
                None => plan,
            };
            let build_args: Vec<(String, String)> = plan
                .build_args
                .iter()
                .map(|(k, v)| (k.clone(), native::substitute(v, &images)))
                .collect();
            let digest = match external {
                External::Fleet(fleet) => {
                    let inputs = buildkit::Inputs {
                        plan: runner_plan,
                        objects,
                        registry,
                        repo,
                        project: options.project,
                        build_args,
                        platform: &platform,
                        project_dir: &options.project_dir,
                    };
                    let built = fleet
                        .build_and_push(
                            &inputs,
                            &|daemon| reporter.lost_daemon(&next, daemon),
                            &|step| reporter.step(&next, step),
                        )
                        .map_err(|e| crate::errors::chain(&e))?;
                    builder = Some(built.daemon);
                    built.manifest_digest
                }
                External::Buildah(b) => {
                    let inputs = buildah::Inputs {
                        plan: runner_plan,
                        objects,
                        repo,
                        project: options.project,
                        insecure: registry.insecure_hosts(),
                        build_args,
                        network: plan.network.clone(),
                        project_dir: &options.project_dir,
                    };
                    b.build_and_push(&inputs).map_err(|e| e.to_string())?
                }
            };
            // werf.yaml's `imageSpec` rewrites what the runner pushed.
            let digest = match &plan.image_spec {
                Some(spec) => {
                    let specced = image_spec::to_pushed(
                        registry,
                        repo,
                        (&runner_plan.tag, &plan.tag),
                        spec,
                        (options.project, &plan.name),
                    )
                    .map_err(|e| crate::errors::chain(&e))?;
                    // The staging tag goes (a registry that deletes nothing keeps it; `werf
                    // cleanup` does not count it as an image).
                    let _ = registry.delete_manifest(repo, &digest);
                    specced
                }
                None => digest,
            };
            // What the runner pushed, as the next image reads it.
            let published =
                native::resolve_external(registry, &format!("{repo}:{}", plan.tag), &platform)
                    .map_err(|e| e.to_string())?;
            (digest, 0, published)
        }
        None => {
            let inputs = native::Inputs {
                project: options.project,
                plan,
                objects,
                images: &images,
                registry,
                platform,
            };
            let out = native::build(&inputs).map_err(|e| e.to_string())?;
            let out = match &plan.image_spec {
                Some(spec) => image_spec::to_built(out, spec, options.project, &plan.name),
                None => out,
            };
            let uploaded = push(registry, repo, &plan.tag, &out).map_err(|e| e.to_string())?;
            let digest = oci::sha256(&out.manifest_bytes);
            let published = Published {
                repo: repo.to_string(),
                tag: plan.tag.clone(),
                manifest_digest: digest.clone(),
                manifest: out.manifest,
                config: out.config,
            };
            (digest, uploaded, published)
        }
    };
    let size = published
        .manifest
        .layers
        .iter()
        .map(|l| l.size)
        .sum::<i64>()
        + published.manifest.config.size;
    let result = ImageResult {
        name: next.clone(),
        tag: plan.tag.clone(),
        manifest_digest: digest,
        size,
        rebuilt: true,
        build_time: started.elapsed(),
        builder,
    };
    Ok((result, published, uploaded))
}

/// The manifest digests of existing images, asked of the registry (a HEAD each, 8 at a time).
fn current_digests(
    registry: &Registry,
    repo: &str,
    existing: &[&Arc<ImagePlan>],
) -> Result<HashMap<String, String>, crate::registry::Error> {
    let digests = crate::registry::parallel(existing, |p| {
        registry.manifest_digest(&format!("{repo}:{}", p.tag))
    })?;
    Ok(existing
        .iter()
        .zip(digests)
        .map(|(p, d)| (p.tag.clone(), d.unwrap_or_default()))
        .collect())
}

/// Pushes one image: blobs the repository lacks (mounted from their source repository when it is
/// on the same registry, else uploaded), then the config, then the manifest under its tag.
/// Returns the bytes uploaded.
fn push(
    registry: &Registry,
    repo: &str,
    tag: &str,
    built: &native::Built,
) -> Result<u64, crate::registry::Error> {
    let mut uploaded = 0u64;
    // A registry can lose a blob to a race with another upload of it (two runs pushing the same
    // commit) and then refuse the manifest even after its own retries: the blobs are sent again,
    // whatever the registry says it has, before the manifest is tried again.
    let mut round = 0;
    loop {
        uploaded += push_blobs(registry, repo, built, round > 0)?;
        match registry.push_manifest(repo, tag, built.manifest_bytes.clone(), oci::MANIFEST) {
            Err(crate::registry::Error::ManifestBlobs { .. }) if round < 2 => round += 1,
            other => return other.map(|()| uploaded),
        }
    }
}

/// Uploads the blobs of `built` the repository lacks (all of them when `force`); returns the
/// bytes uploaded.
fn push_blobs(
    registry: &Registry,
    repo: &str,
    built: &native::Built,
    force: bool,
) -> Result<u64, crate::registry::Error> {
    let mut uploaded = 0u64;
    for layer in &built.layers {
        let d = layer.descriptor();
        if !force && registry.blob_exists(repo, &d.digest)? {
            continue;
        }
        match layer {
            LayerRef::Local(l) => {
                uploaded += l.size;
                let (file, size) = l.file();
                registry.push_blob_file(repo, &d.digest, file, size)?;
            }
            LayerRef::Remote {
                descriptor,
                repo: source,
            } => {
                let same_registry = host_of(source) == host_of(repo);
                let source_path = source.split_once('/').map(|(_, p)| p).unwrap_or(source);
                if same_registry && registry.mount_blob(repo, source_path, &descriptor.digest)? {
                    continue;
                }
                let data = registry.pull_blob_to_file(
                    source,
                    &descriptor.digest,
                    &descriptor.media_type,
                    descriptor.size,
                )?;
                let size = data.metadata().map(|m| m.len()).unwrap_or(0);
                uploaded += size;
                registry.push_blob_file(repo, &descriptor.digest, Arc::new(data), size)?;
            }
        }
    }
    let config_digest = &built.manifest.config.digest;
    if force || !registry.blob_exists(repo, config_digest)? {
        uploaded += built.config_bytes.len() as u64;
        registry.push_blob(repo, config_digest, built.config_bytes.clone())?;
    }
    Ok(uploaded)
}
