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
//! - [`secrets`]: werf.yaml `secrets` read for `RUN --mount=type=secret`.

pub mod archive;
pub mod buildah;
pub mod buildkit;
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
}

fn key(text: &str) -> werf_cache::Key {
    werf_cache::key_for_name("registry", text)
}

/// Builds and pushes what `repo` lacks; returns every plan's result in the order given.
pub fn build(
    plans: &[Arc<ImagePlan>],
    objects: &dyn ObjectSource,
    store: &Store,
    registry: &Registry,
    options: &Options<'_>,
    reporter: &dyn Reporter,
) -> Result<Vec<ImageResult>, Error> {
    let repo = options.repo;
    registry.login(repo, RegistryOperation::Push)?;
    let tags = registry.list_tags(repo)?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    store.put(
        TAGS,
        &key(repo),
        &serde_json::to_vec(&serde_json::json!({"confirmed_at": now, "tags": tags})).expect("json"),
    )?;

    let by_name: HashMap<&str, &Arc<ImagePlan>> =
        plans.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut results: BTreeMap<String, ImageResult> = BTreeMap::new();
    let mut pending: Vec<String> = Vec::new();
    let existing: Vec<&Arc<ImagePlan>> = plans.iter().filter(|p| tags.contains(&p.tag)).collect();
    let digests = if options.report_digests {
        current_digests(registry, repo, &existing)?
    } else {
        HashMap::new()
    };
    for p in plans {
        if tags.contains(&p.tag) {
            // A tag can be moved in the registry by anyone: a digest that is reported is the
            // registry's answer of this run, never a cached one.
            let digest = digests.get(&p.tag).cloned().unwrap_or_default();
            reporter.existing(&p.name, &p.tag);
            results.insert(
                p.name.clone(),
                ImageResult {
                    name: p.name.clone(),
                    tag: p.tag.clone(),
                    manifest_digest: digest,
                    size: 0,
                    rebuilt: false,
                    build_time: Duration::ZERO,
                    builder: None,
                },
            );
        } else {
            pending.push(p.name.clone());
        }
    }

    struct State {
        pending: Vec<String>,
        running: usize,
        published: HashMap<String, Published>,
        failed: Vec<(String, String)>,
        done: HashSet<String>,
    }
    let state = Mutex::new(State {
        pending,
        running: 0,
        published: HashMap::new(),
        failed: Vec::new(),
        done: results.keys().cloned().collect(),
    });
    let wake = Condvar::new();
    let built: Mutex<Vec<ImageResult>> = Mutex::new(Vec::new());
    let platform_default = "linux/amd64".to_string();

    let worker = || loop {
        let mut s = state.lock().expect("build state lock poisoned");
        let next = loop {
            if !s.failed.is_empty() && s.running == 0 {
                return;
            }
            let ready = if s.failed.is_empty() {
                s.pending.iter().position(|n| {
                    by_name[n.as_str()]
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
            if s.pending.is_empty() && s.running == 0 {
                return;
            }
            if s.running == 0 {
                // Nothing runnable and nothing running: what is left waits on failed images.
                return;
            }
            s = wake.wait(s).expect("build state lock poisoned");
        };
        // The dependencies built in this run; those that already existed are fetched below.
        let plan = by_name[next.as_str()];
        let mut images: HashMap<String, Published> = plan
            .dependencies
            .iter()
            .filter_map(|d| s.published.get(d).map(|p| (d.clone(), p.clone())))
            .collect();
        drop(s);
        reporter.started(&next);
        let started = Instant::now();
        let outcome = (|| -> Result<(ImageResult, Published, u64), String> {
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
                    let image = format!("{repo}:{}", by_name[dep.as_str()].tag);
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
            let (digest, uploaded, published) = match external {
                Some(external) => {
                    let build_args: Vec<(String, String)> = plan
                        .build_args
                        .iter()
                        .map(|(k, v)| (k.clone(), native::substitute(v, &images)))
                        .collect();
                    let digest = match external {
                        External::Fleet(fleet) => {
                            let inputs = buildkit::Inputs {
                                plan,
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
                                plan,
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
                    // What the runner pushed, as the next image reads it.
                    let published = native::resolve_external(
                        registry,
                        &format!("{repo}:{}", plan.tag),
                        &platform,
                    )
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
                    let uploaded =
                        push(registry, repo, &plan.tag, &out).map_err(|e| e.to_string())?;
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
        })();
        let mut s = state.lock().expect("build state lock poisoned");
        s.running -= 1;
        match outcome {
            Ok((result, published, uploaded)) => {
                reporter.finished(&next, &result, uploaded);
                s.published.insert(next.clone(), published);
                s.done.insert(next.clone());
                built.lock().expect("results lock poisoned").push(result);
            }
            Err(e) => {
                reporter.failed(&next, &e);
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
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(worker);
        }
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
    if !s.failed.is_empty() {
        let mut failed = s.failed;
        for n in &s.pending {
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
    Ok(plans.iter().map(|p| results[&p.name].clone()).collect())
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
