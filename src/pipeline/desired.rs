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
    // While the chart renders (one core), another thread lists the live objects of the kinds
    // the last revision has: a no-op converge then does not wait on them.
    let handle = tokio::runtime::Handle::current();
    let hint = history
        .last()
        .map(|r| deploy::release::kinds_hint(r.manifest()))
        .unwrap_or_default();
    let (early, rendered) = std::thread::scope(|s| {
        let early = s.spawn(|| handle.block_on(deploy::read_early(kube, release, &hint)));
        // `lookup` reads this cluster, as Helm's install and upgrade do. Each document comes
        // parsed as the API server reads it (a comment-only one is null: no object, as for
        // Helm).
        let rendered = source.manifests(&options, kube.lookup());
        phase("chart rendered");
        (early.join(), rendered)
    });
    let manifests = rendered?;
    // The last revisions' objects: a document rendered as this render did is not parsed again.
    let by_text: HashMap<&str, &Value> = manifests
        .iter()
        .map(|m| (m.text.as_str(), &m.object))
        .collect();
    deploy::fill_objects_with(kube, release, &mut history, &|text| {
        by_text.get(text).map(|v| (*v).clone())
    })
    .await?;
    let early =
        early.map_err(|_| anyhow::anyhow!("listing the live objects stopped unexpectedly"))?;
    phase("recorded objects and live lists read");
    let mut parsed = Vec::new();
    let mut recorded = Vec::new();
    for m in manifests.iter() {
        if m.object.is_null() {
            continue;
        }
        if !m.hook {
            recorded.push((m.source.as_str(), m.text.as_str()));
        }
        // `--add-annotation`/`--add-label`: on every object the release applies, hooks too
        // (the record keeps the chart's text, as the last revision's objects are read from it).
        let mut v = m.object.clone();
        args.metadata.apply(&mut v);
        parsed.push((m.source.clone(), v));
    }
    phase("manifests parsed");
    let mut desired = deploy::resolve(kube, parsed, release).await?;
    phase("kinds resolved");
    if !args.pod_logs {
        for (d, _) in &mut desired {
            d.logs.skip = true;
        }
    }
    let notes = source.notes(&options, kube.lookup())?;
    let content = source.content(&options, deploy::release::join_manifest(recorded), notes)?;
    Ok((desired, history, content, early))
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
