//! What a deploy command needs before it changes anything: the runtime and the cluster target,
//! the release's names, and the desired objects rendered for the next revision (with the CRDs
//! created first on converge) together with what that revision will record.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context as _, Result};
use serde_json::Value;

use super::render::release_names;
use super::source::ChartSource;
use crate::deploy::{self, Release};
use crate::kubernetes::Kube;
use crate::project::Loaded;
use crate::settings::{GlobalSettings, RenderSettings};

/// The process's runtime.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    crate::runtime::get().context("cannot start the async runtime")
}

/// The release, its names computed once as `render` computes them ([`release_names`]).
pub fn release_of(
    global: &GlobalSettings,
    release: Option<&str>,
    namespace: Option<&str>,
    loaded: &Loaded,
    force_adoption: bool,
) -> Result<Release> {
    let (name, namespace) = release_names(global, release, namespace, loaded)?;
    Ok(Release {
        name,
        namespace,
        force_adoption,
    })
}

/// The objects the chart wants, the history they were rendered against, what the next
/// revision records, and the live lists read while the chart rendered.
pub type Desired = (
    Vec<(deploy::object::Desired, kube::discovery::ApiResource)>,
    Vec<deploy::release::Record>,
    deploy::Content,
    deploy::EarlyLists,
);

/// What a revision records of the chart and values (Helm's `chart` and `config`).
pub fn content(
    loaded: &Loaded,
    options: &werf_graph::chart::RenderOptions,
    manifest: String,
    notes: String,
) -> Result<deploy::Content> {
    let chart = werf_graph::render::chart(&loaded.db, loaded.project).clone()?;
    let mut config = werf_graph::chart::user_values(&chart, options)?;
    if let Some(repo) = &options.repo {
        let images: serde_json::Map<String, Value> = tags(loaded)?
            .into_iter()
            .map(|(name, tag)| {
                let tag = match options.custom_tags.get(&name) {
                    Some(custom) => custom.expand(&tag),
                    None => tag,
                };
                (name, Value::String(format!("{repo}:{tag}")))
            })
            .collect();
        if !images.is_empty() {
            config.insert("werf".into(), serde_json::json!({ "image": images }));
        }
    }
    Ok(deploy::Content {
        chart: recorded_chart(&chart),
        config: Value::Object(config),
        manifest,
        notes,
        commit: (!loaded.dev).then(|| loaded.commit.id.clone()),
    })
}

/// What a revision records of a chart (Helm's `chart`): its metadata and default values.
pub fn recorded_chart(chart: &werf_graph::chart::Chart) -> Value {
    serde_json::json!({
        "metadata": chart.meta,
        "lock": null,
        "templates": [],
        "values": chart.values,
        "schema": null,
        "files": [],
    })
}

/// Renders the chart for the next revision and resolves every object's kind in the cluster.
/// With `crds_timeout`, the chart's `crds/` are created first (converge), so its custom resources
/// resolve. Driven by `block_on` (as every command does), not on a runtime worker: while the
/// chart renders, threads of its own read the cluster through the runtime's workers.
pub async fn desired(
    kube: &Kube,
    global: &GlobalSettings,
    args: &RenderSettings,
    source: &dyn ChartSource,
    release: &Release,
    crds_timeout: Option<std::time::Duration>,
) -> Result<Desired> {
    let phases = crate::progress::Phases::start();
    let phase = |what: &str| phases.mark(what);
    // The records first (the next revision number), their objects once the chart is rendered.
    let mut history = deploy::record::history(kube, &release.namespace, &release.name)
        .await
        .map_err(deploy::Error::from)?;
    let names = (release.name.clone(), release.namespace.clone());
    let mut options = source.options(global, args, names)?;
    options.revision = history.last().map_or(1, |r| r.revision() + 1);
    options.kube_version = Some(kube.server_version.clone());
    phase("release history read");
    options.api_versions = Some(kube.api_versions().await?);
    phase("API versions read");
    if let Some(timeout) = crds_timeout {
        let definitions = source.crds(&options)?;
        deploy::crds::install(kube, &crate::progress::DeployLines, &definitions, timeout).await?;
    }
    // While the chart renders, another thread lists the live objects of the kinds the last
    // revision has; once it is rendered, a third reads the last revisions' objects and resolves
    // the desired objects' kinds (neither needs the lists): a no-op converge waits on the lists
    // only once everything else is done.
    let handle = tokio::runtime::Handle::current();
    let hint = history
        .last()
        .map(|r| deploy::release::kinds_hint(r.manifest()))
        .unwrap_or_default();
    let stopped = |what: &str| anyhow::anyhow!("{what} stopped unexpectedly");
    let (handle, history_of) = (&handle, &mut history);
    let (early, done) = std::thread::scope(|s| {
        let early = s.spawn(|| handle.block_on(deploy::read_early(kube, release, &hint)));
        let done = (|| -> Result<_> {
            // `lookup` reads this cluster, as Helm's install and upgrade do. Each document
            // comes parsed as the API server reads it.
            let (manifests, notes) = source.with_notes(&options, kube.lookup())?;
            phase("chart rendered");
            let rendered = manifests.clone();
            let desired = s
                .spawn(move || handle.block_on(objects(kube, args, release, &rendered, history_of)))
                .join()
                .map_err(|_| stopped("reading the release's objects"))??;
            phase("recorded objects read and kinds resolved");
            Ok((manifests, notes, desired))
        })();
        (early.join(), done)
    });
    let (manifests, notes, desired) = done?;
    let early = early.map_err(|_| stopped("listing the live objects"))?;
    phase("live lists read");
    // What the revision records: the chart's documents (not hooks), as rendered.
    let recorded = manifests
        .iter()
        .filter(|m| !m.object.is_null() && !m.hook)
        .map(|m| (m.source.as_str(), m.text.as_str()));
    let content = source.content(&options, deploy::release::join_manifest(recorded), notes)?;
    Ok((desired, history, content, early))
}

/// The desired objects (a comment-only document is none, as for Helm) with
/// `--add-annotation`/`--add-label` applied and their kinds resolved, and the objects of the last
/// revisions read into `history`. A recorded document this render left as it was is not parsed
/// again: the record shares the desired object itself, or, when flags added labels or
/// annotations (which the record's text lacks), makes its own from the render's object.
async fn objects(
    kube: &Kube,
    args: &RenderSettings,
    release: &Release,
    manifests: &[werf_graph::chart::Manifest],
    history: &mut [deploy::release::Record],
) -> Result<Vec<(deploy::object::Desired, kube::discovery::ApiResource)>> {
    // The labels and annotations go on every object the release applies, hooks too (the record
    // keeps the chart's text, as the last revision's objects are read from it).
    let rendered: Vec<&werf_graph::chart::Manifest> =
        manifests.iter().filter(|m| !m.object.is_null()).collect();
    let parsed = rendered
        .iter()
        .map(|m| {
            let mut v = Value::clone(&m.object);
            args.metadata.apply(&mut v);
            (m.source.clone(), v)
        })
        .collect();
    let mut desired = deploy::resolve(kube, parsed, release).await?;
    // `resolve` answers each document in order, or fails.
    let by_text: HashMap<&str, (&werf_graph::chart::Manifest, &deploy::object::Desired)> = rendered
        .iter()
        .zip(&desired)
        .map(|(m, (d, _))| (m.text.as_str(), (*m, d)))
        .collect();
    let shared = args.metadata.is_empty();
    deploy::fill_objects_with(kube, release, history, &|text| {
        by_text.get(text).map(|(m, d)| {
            if shared {
                deploy::Known::Made(d.id.clone(), d.object.clone())
            } else {
                deploy::Known::Parsed(Value::clone(&m.object))
            }
        })
    })
    .await?;
    if !args.pod_logs {
        for (d, _) in &mut desired {
            d.logs.skip = true;
        }
    }
    Ok(desired)
}

/// The tag of every image werf.yaml names (a Stapel image's earlier stages are not values).
pub fn tags(loaded: &Loaded) -> Result<BTreeMap<String, String>> {
    Ok(loaded
        .ok_plans()?
        .iter()
        .filter(|p| !p.is_internal())
        .map(|p| (p.name.clone(), p.tag.clone()))
        .collect())
}

/// What a converge did, and the release notes it recorded (the top chart's `NOTES.txt`).
pub struct Converged {
    pub outcome: deploy::lifecycle::Outcome,
    pub notes: String,
}

/// Renders, plans against the cluster and converges `release` (the chart's objects, tracked).
pub async fn converge_release(
    kube: &Kube,
    global: &GlobalSettings,
    args: &RenderSettings,
    source: &dyn ChartSource,
    release: &Release,
    settings: &deploy::lifecycle::Settings<'_>,
) -> Result<Converged> {
    let (desired, history, content, early) =
        desired(kube, global, args, source, release, Some(settings.timeout)).await?;
    let phases = crate::progress::Phases::start();
    let outcome =
        deploy::converge(kube, release, (desired, history, early), &content, settings).await?;
    phases.mark("planned, applied and tracked");
    Ok(Converged {
        outcome,
        notes: content.notes,
    })
}
