//! `werf converge`, `werf plan` and `werf dismiss`: the chart from the commit, deployed with only
//! the needed changes (see [`crate::deploy`]).

use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{anyhow, bail, Result};

use crate::cli::{ConvergeArgs, DismissArgs, PlanArgs, RollbackArgs};
use crate::deploy::{self, Action};
use crate::kubernetes::Kube;
use crate::pipeline::desired::{converge_release, desired, release_of, runtime, Converged};
use crate::pipeline::publish::publish_all;
use crate::pipeline::why::Revisions;
use crate::pipeline::{deploy_report, images};
use crate::project::{load_for, Reads};
use crate::settings::{
    self, environment, CustomTags, GlobalSettings, KubeSettings, PublishSettings, RenderSettings,
};

/// Runs `werf converge`.
pub fn converge(global: &GlobalSettings, args: &ConvergeArgs) -> Result<ExitCode> {
    let timeout = settings::timeout(&args.track.timeout)?;
    let report_path = args
        .save_deploy_report
        .then(|| deploy_report::path(&args.deploy_report_path))
        .transpose()?;
    let custom = CustomTags::resolve(
        &args.custom_tags.add_custom_tag,
        args.images.use_custom_tag.as_deref(),
        environment(),
    )?;
    if args.images.require_built_images && !custom.add.is_empty() {
        bail!("`--add-custom-tag` pushes tags and `--require-built-images` pushes nothing: pass one of them");
    }
    let (render, kube_settings) = (
        RenderSettings::resolve(&args.render, environment())?
            .with_metadata(&args.metadata, settings::environment())?
            .with_custom_tag(&custom)
            .with_pod_logs(args.track.no_pod_logs),
        KubeSettings::resolve(&args.kube)?,
    );
    let rt = runtime()?;
    // The cluster is connected to while the project is planned (its errors still come after
    // the project's own).
    let (target, timeouts) = (kube_settings.target.clone(), global.timeouts);
    let connecting = rt.spawn(async move { Kube::connect_with(&target, timeouts).await });
    let mut loaded = load_for(global, Reads::ImagesAndChart)?;
    images::check(&loaded, &custom, render.repo.as_deref())?;
    let release = release_of(
        global,
        render.release.as_deref(),
        render.namespace.as_deref(),
        &loaded,
        kube_settings.force_adoption,
    )?;
    // The cluster is checked before anything is built: a bad kubeconfig fails fast.
    let kube = rt
        .block_on(connecting)
        .map_err(|e| anyhow!("connecting to the cluster stopped unexpectedly: {e}"))??;
    let plans = loaded.buildable_plans()?;
    let publish_settings = PublishSettings::resolve(&args.publish, global);
    if args.images.require_built_images {
        let repo = render.repo.as_deref();
        images::require_built(
            global,
            &mut loaded,
            repo,
            &publish_settings.registry,
            &custom,
        )?;
    } else if !plans.is_empty() {
        // A project without images of its own needs no repository (as werf).
        let repo = render.repo.as_deref().ok_or_else(|| {
            anyhow!(
                "`werf converge` needs `--repo REGISTRY/PROJECT` (or `WERF_REPO`) to publish werf.yaml's {} image{} to",
                plans.len(),
                if plans.len() == 1 { "" } else { "s" }
            )
        })?;
        publish_all(global, &mut loaded, plans, repo, &publish_settings, &custom)?;
    }
    let started = std::time::Instant::now();
    let before = kube.requests.load(Ordering::Relaxed);
    let deploy_settings = deploy::lifecycle::Settings {
        reporter: &crate::progress::DeployLines,
        timeout,
        auto_rollback: args.track.auto_rollback,
        history_max: args.history.max,
    };
    let converged = rt.block_on(converge_release(
        &kube,
        global,
        &render,
        &loaded,
        &release,
        &deploy_settings,
    ));
    if let Some(path) = &report_path {
        // The report says what the cluster now records, failed deploys included.
        let up_to_date = matches!(&converged, Ok(c) if c.outcome.up_to_date);
        let saved = rt
            .block_on(deploy::record::history(
                &kube,
                &release.namespace,
                &release.name,
            ))
            .map_err(anyhow::Error::from)
            .and_then(|history| {
                let report = deploy_report::report(
                    &release.name,
                    &release.namespace,
                    history.last(),
                    up_to_date,
                );
                Ok(deploy_report::write(path, &report)?)
            });
        match (&converged, saved) {
            (Ok(_), Err(e)) => return Err(e),
            (Err(_), Err(e)) => crate::printer::warning(&format!("{e:#}")),
            (_, Ok(())) => {}
        }
    }
    let converged = converged?;
    let requests = kube.requests.load(Ordering::Relaxed) - before;
    let code = print_outcome(&release, &converged, started, requests);
    loaded.leak_at_exit();
    code
}

/// Prints what a converge did (one line) and the chart's notes, as Helm and werf print them.
pub fn print_outcome(
    release: &deploy::Release,
    converged: &Converged,
    started: std::time::Instant,
    requests: u64,
) -> Result<ExitCode> {
    let outcome = &converged.outcome;
    println!(
        "release `{}` in `{}`: revision {}, {} object{} changed, {} deleted ({:.1} s; {} Kubernetes requests)",
        release.name,
        release.namespace,
        outcome.revision,
        outcome.changed,
        if outcome.changed == 1 { "" } else { "s" },
        outcome.deleted,
        started.elapsed().as_secs_f64(),
        requests,
    );
    // The chart's notes, after a successful converge, as Helm and werf print them.
    if !converged.notes.trim().is_empty() {
        println!("NOTES:\n{}", converged.notes.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `werf plan`.
pub fn plan(global: &GlobalSettings, args: &PlanArgs) -> Result<ExitCode> {
    let custom = CustomTags::referenced(args.images.use_custom_tag.as_deref())?;
    let (render, kube_settings) = (
        RenderSettings::resolve(&args.render, environment())?
            .with_metadata(&args.metadata, settings::environment())?
            .with_custom_tag(&custom),
        KubeSettings::resolve(&args.kube)?,
    );
    let mut loaded = load_for(global, Reads::ImagesAndChart)?;
    let repo = render.repo.as_deref();
    images::before_render(
        global,
        &mut loaded,
        repo,
        args.images.require_built_images,
        &custom,
    )?;
    let release = release_of(
        global,
        render.release.as_deref(),
        render.namespace.as_deref(),
        &loaded,
        kube_settings.force_adoption,
    )?;
    let rt = runtime()?;
    let kube = rt.block_on(Kube::connect_with(&kube_settings.target, global.timeouts))?;
    let (plan, deployed_commit) = rt.block_on(async {
        let (desired, history, _, early) =
            desired(&kube, global, &render, &loaded, &release, None).await?;
        let commit = deploy::release::last_deployed(&history).and_then(|r| r.commit.clone());
        let plan = deploy::plan_with(&kube, desired, history, early).await?;
        Ok::<_, anyhow::Error>((plan, commit))
    })?;
    // `--explain`: the deployed revision's commit (or `--since`) planned and rendered beside.
    let revisions = if args.explain {
        let since = match (&args.since, &deployed_commit) {
            (Some(since), _) => since.clone(),
            (None, Some(commit)) => commit.clone(),
            (None, None) => bail!(
                "`--explain`: the deployed revision of release `{}` records no commit (it was not deployed by `werf converge` from a commit); name one with `--since REV`",
                release.name
            ),
        };
        Some(Revisions::load(global, &render, &since, &mut loaded)?)
    } else {
        None
    };
    let explain = |s: &deploy::Step| {
        if let Some(r) = &revisions {
            match r.explain_object(&s.id.kind, &s.id.name) {
                Ok(lines) => lines.iter().for_each(|l| println!("    why: {l}")),
                Err(e) => println!("    why: {e:#}"),
            }
        }
    };
    if let Some(r) = &revisions {
        println!("explained since {}", r.since);
    }
    let mut changes = 0;
    for s in &plan.steps {
        match &s.action {
            Action::Unchanged => {}
            Action::Create => {
                changes += 1;
                println!("+ create {}{}", s.id, from(s));
                explain(s);
            }
            Action::Delete => {
                changes += 1;
                println!("- delete {}", s.id);
            }
            Action::Update(change) => {
                changes += 1;
                println!("~ update {}{}", s.id, from(s));
                for l in change.diff.lines() {
                    println!("    {l}");
                }
                explain(s);
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
pub fn dismiss(global: &GlobalSettings, args: &DismissArgs) -> Result<ExitCode> {
    let loaded = load_for(global, Reads::ImagesAndChart)?;
    let release = release_of(
        global,
        args.release.as_deref(),
        args.namespace.as_deref(),
        &loaded,
        false,
    )?;
    let timeout = settings::timeout(&args.timeout)?;
    let rt = runtime()?;
    let kube_settings = KubeSettings::resolve(&args.kube)?;
    let kube = rt.block_on(Kube::connect_with(&kube_settings.target, global.timeouts))?;
    let deleted = rt.block_on(deploy::dismiss(
        &kube,
        &crate::progress::DeployLines,
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
pub fn rollback(global: &GlobalSettings, args: &RollbackArgs) -> Result<ExitCode> {
    let timeout = settings::timeout(&args.timeout)?;
    let loaded = load_for(global, Reads::ImagesAndChart)?;
    let kube_settings = KubeSettings::resolve(&args.kube)?;
    let release = release_of(
        global,
        args.release.as_deref(),
        args.namespace.as_deref(),
        &loaded,
        kube_settings.force_adoption,
    )?;
    let rt = runtime()?;
    let kube = rt.block_on(Kube::connect_with(&kube_settings.target, global.timeouts))?;
    let settings = deploy::lifecycle::Settings {
        reporter: &crate::progress::DeployLines,
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
