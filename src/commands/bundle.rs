//! `werf bundle publish|apply|render|copy`: a release published once as an OCI chart with its
//! images' references, deployed anywhere without the Git repository (see
//! [`crate::pipeline::bundle`] and the `werf-bundle` crate).

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{anyhow, bail, Result};
use werf_bundle::copy::{self, Location};
use werf_graph::chart::Cluster;

use crate::cli::bundle::{
    BundleApplyArgs, BundleCommand, BundleCopyArgs, BundlePublishArgs, BundleRenderArgs,
};
use crate::deploy::{self, Release};
use crate::kubernetes::Kube;
use crate::pipeline::bundle::{publish_chart, Bundle};
use crate::pipeline::desired::{converge_release, runtime};
use crate::pipeline::publish::publish_all;
use crate::pipeline::source::ChartSource;
use crate::project::{load_for, Reads};
use crate::settings::{
    self, environment, CustomTags, GlobalSettings, KubeSettings, PublishSettings, RegistrySettings,
    RenderSettings,
};

/// Runs `werf bundle …`.
pub fn run(global: &GlobalSettings, command: &BundleCommand) -> Result<ExitCode> {
    match command {
        BundleCommand::Publish(args) => publish(global, args),
        BundleCommand::Apply(args) => apply(global, args),
        BundleCommand::Render(args) => render(global, args),
        BundleCommand::Copy(args) => copy(global, args),
    }
}

/// `--repo`, which every bundle command needs.
fn repo_of(render: &RenderSettings, command: &str) -> Result<String> {
    render.repo.clone().ok_or_else(|| {
        anyhow!("`werf bundle {command}` needs `--repo REGISTRY/PROJECT` (or `WERF_REPO`)")
    })
}

fn publish(global: &GlobalSettings, args: &BundlePublishArgs) -> Result<ExitCode> {
    let render = RenderSettings::resolve(&args.render, environment())?;
    for (given, flag) in [
        (render.release.is_some(), "--release"),
        (render.namespace.is_some(), "--namespace"),
        (!render.secret_values.is_empty(), "--secret-values"),
    ] {
        if given {
            bail!("`werf bundle publish` does not take `{flag}`: it is given to `werf bundle apply`, where the bundle is deployed");
        }
    }
    let repo = repo_of(&render, "publish")?;
    let custom = CustomTags::resolve(&args.custom_tags.add_custom_tag, None, environment())?;
    let mut loaded = load_for(global, Reads::ImagesAndChart)?;
    let publish_settings = PublishSettings::resolve(&args.publish, global);
    let plans = loaded.buildable_plans()?;
    if !plans.is_empty() {
        publish_all(
            global,
            &mut loaded,
            plans,
            &repo,
            &publish_settings,
            &custom,
        )?;
    }
    let registry = publish_settings
        .registry
        .client(Some(&repo), &[], global.timeouts)?;
    let published = publish_chart(
        global,
        &loaded,
        &render,
        &repo,
        &args.tag.tag,
        &registry,
        &publish_settings.registry,
    )?;
    crate::printer::line(&format!(
        "Bundle `{}` published: chart `{}` {} ({})",
        published.reference, published.chart, published.version, published.digest
    ));
    Ok(ExitCode::SUCCESS)
}

/// The bundle `--repo`:`--tag`, pulled.
fn pull(
    global: &GlobalSettings,
    render: &RenderSettings,
    access: &crate::cli::RegistryAccessArgs,
    tag: &str,
    command: &str,
) -> Result<Bundle> {
    let repo = repo_of(render, command)?;
    let registry = RegistrySettings::resolve(access).client(Some(&repo), &[], global.timeouts)?;
    Bundle::pull(&registry, &repo, tag)
}

fn render(global: &GlobalSettings, args: &BundleRenderArgs) -> Result<ExitCode> {
    let render = RenderSettings::resolve(&args.render, environment())?;
    let bundle = pull(global, &render, &args.registry, &args.tag.tag, "render")?;
    // As `helm template`: the release is the chart's name and the namespace `default` unless
    // given.
    let names = (
        render
            .release
            .clone()
            .unwrap_or_else(|| bundle.chart.name.clone()),
        render.namespace.clone().unwrap_or_else(|| "default".into()),
    );
    let options = bundle.options(global, &render, names)?;
    let manifests = bundle.manifests(&options, Cluster::offline())?;
    std::io::stdout()
        .lock()
        .write_all(werf_graph::chart::to_stream(&manifests).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn apply(global: &GlobalSettings, args: &BundleApplyArgs) -> Result<ExitCode> {
    let timeout = settings::timeout(&args.track.timeout)?;
    let render = RenderSettings::resolve(&args.render, environment())?
        .with_metadata(&args.metadata, environment())?
        .with_pod_logs(args.track.no_pod_logs);
    let (Some(name), Some(namespace)) = (render.release.clone(), render.namespace.clone()) else {
        bail!("`werf bundle apply` needs `--release NAME` and `--namespace NAMESPACE` (or `WERF_RELEASE` and `WERF_NAMESPACE`): a bundle has no werf.yaml to name them");
    };
    let kube_settings = KubeSettings::resolve(&args.kube)?;
    let rt = runtime()?;
    let kube = rt.block_on(Kube::connect_with(&kube_settings.target, global.timeouts))?;
    let bundle = pull(global, &render, &args.registry, &args.tag.tag, "apply")?;
    let release = Release {
        name,
        namespace,
        force_adoption: kube_settings.force_adoption,
    };
    let deploy_settings = deploy::lifecycle::Settings {
        reporter: &crate::progress::DeployLines,
        timeout,
        auto_rollback: args.track.auto_rollback,
        history_max: args.history.max,
    };
    let started = std::time::Instant::now();
    let before = kube.requests.load(Ordering::Relaxed);
    let converged = rt.block_on(converge_release(
        &kube,
        global,
        &render,
        &bundle,
        &release,
        &deploy_settings,
    ))?;
    let requests = kube.requests.load(Ordering::Relaxed) - before;
    super::deploy::print_outcome(&release, &converged, started, requests)
}

fn copy(global: &GlobalSettings, args: &BundleCopyArgs) -> Result<ExitCode> {
    let (from, to) = (Location::parse(&args.from), Location::parse(&args.to));
    let repos: Vec<&str> = [&from, &to]
        .into_iter()
        .filter_map(|l| match l {
            Location::Remote { repo, .. } => Some(repo.as_str()),
            Location::Archive(_) => None,
        })
        .collect();
    let registry = RegistrySettings::resolve(&args.registry).client(
        repos.first().copied(),
        &repos,
        global.timeouts,
    )?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let copied = copy::copy(&registry, &from, &to, now)?;
    for (src, dst) in &copied.images {
        crate::printer::line(&format!("Image `{src}` -> `{dst}`"));
    }
    let s = copied.sent;
    crate::printer::line(&format!(
        "Bundle `{from}` copied to `{to}`: {} image{}, {} manifests pushed, {} blobs uploaded, {} mounted, {} already there",
        copied.images.len(),
        if copied.images.len() == 1 { "" } else { "s" },
        s.manifests,
        s.blobs_uploaded,
        s.blobs_mounted,
        s.blobs_present
    ));
    Ok(ExitCode::SUCCESS)
}
