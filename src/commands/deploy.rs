//! `werf converge`, `werf plan` and `werf dismiss`: the chart from the commit, deployed with only
//! the needed changes (see [`crate::deploy`]).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{anyhow, Context as _, Result};
use serde_json::Value;

use super::build::{publish, Publish};
use super::render::{crds, release_names, render, render_options};
use crate::cli::{ConvergeArgs, DismissArgs, Global, KubeArgs, PlanArgs, RenderArgs, RollbackArgs};
use crate::deploy::{self, Action, Release};
use crate::kubernetes::{Kube, Target};
use crate::project::{load_for, Loaded, Reads};

/// The process's runtime.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    crate::runtime::get().context("cannot start the async runtime")
}

fn target(args: &KubeArgs) -> Target {
    Target {
        kubeconfig: args.kube_config.clone(),
        context: args.kube_context.clone(),
    }
}

/// Release and namespace names as `render` computes them.
fn release_of(
    global: &Global,
    release: &Option<String>,
    namespace: &Option<String>,
    loaded: &Loaded,
) -> Result<Release> {
    let (name, namespace) = release_names(global, release, namespace, loaded)?;
    Ok(Release { name, namespace })
}

/// The objects the chart wants, the history they were rendered against, and what the next
/// revision records.
type Desired = (
    Vec<(deploy::object::Desired, kube::discovery::ApiResource)>,
    Vec<deploy::release::Record>,
    deploy::Content,
);

/// What a revision records of the chart and values (Helm's `chart` and `config`).
fn content(
    loaded: &Loaded,
    options: &werf_graph::chart::RenderOptions,
    manifest: String,
) -> Result<deploy::Content> {
    let chart = werf_graph::render::chart(&loaded.db, loaded.project).clone()?;
    let mut config = werf_graph::chart::user_values(&chart, options)?;
    if let Some(repo) = &options.repo {
        let images: serde_json::Map<String, Value> = tags(loaded)?
            .into_iter()
            .map(|(name, tag)| (name, Value::String(format!("{repo}:{tag}"))))
            .collect();
        if !images.is_empty() {
            config.insert("werf".into(), serde_json::json!({ "image": images }));
        }
    }
    Ok(deploy::Content {
        chart: serde_json::json!({
            "metadata": chart.meta,
            "lock": null,
            "templates": [],
            "values": chart.values,
            "schema": null,
            "files": [],
        }),
        config: Value::Object(config),
        manifest,
        notes: String::new(),
    })
}

/// Renders the chart for the next revision and resolves every object's kind in the cluster.
/// With `crds_timeout`, the chart's `crds/` are created first (converge), so its custom resources
/// resolve.
async fn desired(
    kube: &Kube,
    global: &Global,
    args: &RenderArgs,
    loaded: &Loaded,
    release: &Release,
    crds_timeout: Option<std::time::Duration>,
) -> Result<Desired> {
    let history = deploy::history(kube, release).await?;
    let mut options = render_options(global, args, loaded)?;
    options.revision = history.last().map_or(1, |r| r.revision() + 1);
    options.kube_version = Some(kube.server_version.clone());
    options.api_versions = Some(kube.api_versions().await?);
    if let Some(timeout) = crds_timeout {
        let definitions = crds(loaded, options.clone())?;
        deploy::crds::install(kube, &definitions, timeout).await?;
    }
    // `lookup` reads this cluster, as Helm's install and upgrade do.
    let manifests = render(loaded, options.clone(), kube.lookup())?;
    let mut parsed = Vec::new();
    let mut recorded = Vec::new();
    for m in manifests.iter() {
        // As the API server reads it (YAML 1.1, integers kept); a comment-only document is no
        // object, as for Helm.
        let v = gotemplate::yaml::load::load_all_with(
            &m.text,
            gotemplate::yaml::load::Numbers::AsWritten,
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "`{}`: the rendered document is not valid YAML: {e}",
                m.source
            )
        })?
        .into_iter()
        .next()
        .unwrap_or(Value::Null);
        if v.is_null() {
            continue;
        }
        if !m.hook {
            recorded.push((m.source.as_str(), m.text.as_str()));
        }
        parsed.push((m.source.clone(), v));
    }
    let desired = deploy::resolve(kube, &parsed, &release.namespace).await?;
    let content = content(loaded, &options, deploy::release::join_manifest(recorded))?;
    Ok((desired, history, content))
}

fn tags(loaded: &Loaded) -> Result<BTreeMap<String, String>> {
    Ok(loaded
        .ok_plans()?
        .iter()
        .map(|p| (p.name.clone(), p.tag.clone()))
        .collect())
}

/// Runs `werf converge`.
pub fn converge(global: &Global, args: &ConvergeArgs) -> Result<ExitCode> {
    let timeout =
        deploy::track::parse_duration(&args.timeout).map_err(|e| anyhow!("`--timeout`: {e}"))?;
    let loaded = load_for(global, Reads::ImagesAndChart)?;
    let release = release_of(
        global,
        &args.render.release,
        &args.render.namespace,
        &loaded,
    )?;
    let rt = runtime()?;
    // The cluster is checked before anything is built: a bad kubeconfig fails fast.
    let kube = rt.block_on(Kube::connect_with(&target(&args.kube), global.timeouts()))?;
    let plans = loaded.ok_plans()?;
    // A project without images of its own needs no repository (as werf).
    if !plans.is_empty() {
        let repo = args.render.repo.as_deref().ok_or_else(|| {
            anyhow!(
                "`werf converge` needs `--repo REGISTRY/PROJECT` (or `WERF_REPO`) to publish werf.yaml's {} image{} to",
                plans.len(),
                if plans.len() == 1 { "" } else { "s" }
            )
        })?;
        let publish_args = Publish {
            repo,
            insecure_registry: &args.insecure_registry,
            parallel: args.parallel,
            backend: args.backend,
            report_digests: false,
        };
        publish(global, &loaded, &plans, &publish_args)?;
    }
    let started = std::time::Instant::now();
    let before = kube.requests.load(Ordering::Relaxed);
    let outcome = rt.block_on(async {
        let (desired, history, content) = desired(
            &kube,
            global,
            &args.render,
            &loaded,
            &release,
            Some(timeout),
        )
        .await?;
        let settings = deploy::lifecycle::Settings {
            timeout,
            auto_rollback: args.auto_rollback,
            history_max: args.history.max,
        };
        Ok::<_, anyhow::Error>(
            deploy::converge(&kube, &release, desired, history, &content, &settings).await?,
        )
    })?;
    println!(
        "release `{}` in `{}`: revision {}, {} object{} changed, {} deleted ({:.1} s; {} Kubernetes requests)",
        release.name,
        release.namespace,
        outcome.revision,
        outcome.changed,
        if outcome.changed == 1 { "" } else { "s" },
        outcome.deleted,
        started.elapsed().as_secs_f64(),
        kube.requests.load(Ordering::Relaxed) - before,
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `werf plan`.
pub fn plan(global: &Global, args: &PlanArgs) -> Result<ExitCode> {
    let loaded = load_for(global, Reads::ImagesAndChart)?;
    let release = release_of(
        global,
        &args.render.release,
        &args.render.namespace,
        &loaded,
    )?;
    let rt = runtime()?;
    let kube = rt.block_on(Kube::connect_with(&target(&args.kube), global.timeouts()))?;
    let plan = rt.block_on(async {
        let (desired, history, _) =
            desired(&kube, global, &args.render, &loaded, &release, None).await?;
        Ok::<_, anyhow::Error>(deploy::plan(&kube, desired, history).await?)
    })?;
    let mut changes = 0;
    for s in &plan.steps {
        match &s.action {
            Action::Unchanged => {}
            Action::Create => {
                changes += 1;
                println!("+ create {}{}", s.id, from(s));
            }
            Action::Delete => {
                changes += 1;
                println!("- delete {}", s.id);
            }
            Action::Update(diff) => {
                changes += 1;
                println!("~ update {}{}", s.id, from(s));
                for l in diff.lines() {
                    println!("    {l}");
                }
            }
        }
    }
    let unchanged = plan.steps.len() - changes;
    println!(
        "release `{}` in `{}`: {changes} to change, {unchanged} unchanged",
        release.name, release.namespace
    );
    Ok(if args.exit_code && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn from(s: &deploy::Step) -> String {
    s.desired
        .as_ref()
        .map(|d| format!("  ({})", d.source))
        .unwrap_or_default()
}

/// Runs `werf dismiss`.
pub fn dismiss(global: &Global, args: &DismissArgs) -> Result<ExitCode> {
    let loaded = load_for(global, Reads::ImagesAndChart)?;
    let release = release_of(global, &args.release, &args.namespace, &loaded)?;
    let timeout =
        deploy::track::parse_duration(&args.timeout).map_err(|e| anyhow!("`--timeout`: {e}"))?;
    let rt = runtime()?;
    let kube = rt.block_on(Kube::connect_with(&target(&args.kube), global.timeouts()))?;
    let deleted = rt.block_on(deploy::dismiss(
        &kube,
        &release,
        args.with_namespace,
        timeout,
    ))?;
    println!(
        "release `{}` in `{}` dismissed: {deleted} object{} deleted",
        release.name,
        release.namespace,
        if deleted == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `werf rollback`.
pub fn rollback(global: &Global, args: &RollbackArgs) -> Result<ExitCode> {
    let timeout =
        deploy::track::parse_duration(&args.timeout).map_err(|e| anyhow!("`--timeout`: {e}"))?;
    let loaded = load_for(global, Reads::ImagesAndChart)?;
    let release = release_of(global, &args.release, &args.namespace, &loaded)?;
    let rt = runtime()?;
    let kube = rt.block_on(Kube::connect_with(&target(&args.kube), global.timeouts()))?;
    let settings = deploy::lifecycle::Settings {
        timeout,
        auto_rollback: false,
        history_max: args.history.max,
    };
    let outcome = rt.block_on(deploy::rollback(&kube, &release, args.revision, &settings))?;
    println!(
        "release `{}` in `{}` rolled back: revision {}, {} object{} changed, {} deleted",
        release.name,
        release.namespace,
        outcome.revision,
        outcome.changed,
        if outcome.changed == 1 { "" } else { "s" },
        outcome.deleted,
    );
    Ok(ExitCode::SUCCESS)
}
