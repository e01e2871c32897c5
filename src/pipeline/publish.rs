//! Publishing: build and push what the registry lacks of the plans, with a one-line summary.

use anyhow::Result;

use crate::build::Wanted;
use crate::progress::BuildProgress;
use crate::project::Loaded;
use crate::settings::{Builder, GlobalSettings, PublishSettings};

/// Where and how images are published.
pub struct Publish<'a> {
    pub repo: &'a str,
    pub settings: &'a PublishSettings,
    /// Report the registry's digest of images that were already there (a HEAD each).
    pub report_digests: bool,
}

/// Builds and pushes what `repo` lacks of `wanted` and pushes the custom tags `custom` adds
/// (`converge`, `bundle publish`).
pub fn publish_all(
    global: &GlobalSettings,
    loaded: &mut Loaded,
    wanted: Vec<Wanted>,
    repo: &str,
    settings: &PublishSettings,
    custom: &crate::settings::CustomTags,
) -> Result<()> {
    let args = Publish {
        repo,
        settings,
        report_digests: false,
    };
    let built = publish(global, loaded, wanted, &args)?;
    super::images::push(global, loaded, repo, &settings.registry, custom, &built)
}

/// Builds and pushes what `repo` lacks of `wanted`, printing a one-line summary. Images waiting
/// on an import's content are planned during the build; afterwards `loaded.plans` hold every
/// tag.
pub fn publish(
    global: &GlobalSettings,
    loaded: &mut Loaded,
    wanted: Vec<Wanted>,
    args: &Publish<'_>,
) -> Result<Vec<crate::build::ImageResult>> {
    let (repo, settings) = (args.repo, args.settings);
    let registry = settings.registry.client(Some(repo), &[], global.timeouts)?;
    let parallel = settings.parallel;
    let (buildkit, buildah) = runners(&settings.builder, &wanted, parallel)?;
    let config = loaded.config.clone();
    let options = crate::build::Options {
        repo,
        parallel,
        project: &config.meta.project,
        report_digests: args.report_digests,
        buildah,
        buildkit,
        project_dir: loaded.repo.workdir.join(&loaded.repo.prefix),
    };
    let progress = BuildProgress::new();
    let started = std::time::Instant::now();
    let (mut planner, objects, store) = loaded.planner();
    let results = crate::build::build(
        wanted,
        &mut planner,
        objects,
        store,
        &registry,
        &options,
        &progress,
    );
    progress.finish();
    let results = results?;
    loaded.replan()?;
    let built = results.iter().filter(|r| r.rebuilt).count();
    let stats = &registry.stats;
    use std::sync::atomic::Ordering::Relaxed;
    crate::printer::line(&format!(
        "{} image{}: {built} built and pushed, {} already in `{repo}` ({:.1} s; {} registry requests, {} blobs uploaded ({} bytes), {} mounted)",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        results.len() - built,
        started.elapsed().as_secs_f64(),
        stats.requests.load(Relaxed),
        stats.blobs_uploaded.load(Relaxed),
        stats.bytes_uploaded.load(Relaxed),
        stats.blobs_mounted.load(Relaxed),
    ));
    Ok(results)
}

/// The runners for images with `RUN`: the BuildKit fleet or buildah `builder` names, or, without
/// `--backend`, what answers here (only when an image has `RUN`, or may: a pending plan).
fn runners(
    builder: &Builder,
    wanted: &[Wanted],
    parallel: usize,
) -> Result<(
    Option<crate::build::buildkit::Fleet>,
    Option<crate::build::buildah::Buildah>,
)> {
    use crate::build::buildkit;
    use crate::pipeline::builder::{self, Choice, Probe};
    let fleet = |addresses: &[String], tls, keepalive, warn: &dyn Fn(&str)| {
        buildkit::Fleet::connect(addresses, tls, keepalive, parallel, warn)
    };
    Ok(match builder {
        Builder::Native => (None, None),
        Builder::Buildah { root } => (
            None,
            Some(crate::build::buildah::Buildah { root: root.clone() }),
        ),
        Builder::Buildkit(b) => {
            let tls = buildkit::tls(
                b.tls_ca.clone(),
                b.tls_cert.clone(),
                b.tls_key.clone(),
                b.tls_server_name.clone(),
            );
            let warn = |w: &str| crate::printer::warning(w);
            let addresses = buildkit::addresses(&b.addresses);
            (
                Some(fleet(&addresses, tls.as_ref(), b.keepalive, &warn)?),
                None,
            )
        }
        Builder::Auto {
            buildah_root,
            keepalive,
            buildah_mode,
            docker_host,
        } => {
            let run_images: Vec<String> = wanted
                .iter()
                .filter(|(_, p)| p.as_ref().is_ok_and(|p| crate::build::has_run(p)))
                .map(|(name, _)| name.clone())
                .collect();
            let pending = wanted.iter().any(|(_, p)| p.is_err());
            if run_images.is_empty() && !pending {
                return Ok((None, None));
            }
            let mode = buildah_mode.as_deref();
            let mut connected = None;
            let probe = if mode.is_some() {
                Probe::NotAsked
            } else {
                match builder::docker_address(docker_host.as_deref()) {
                    Err(why) => Probe::Failed(why),
                    Ok(address) => {
                        match fleet(std::slice::from_ref(&address), None, *keepalive, &|_| {}) {
                            Ok(f) => {
                                connected = Some(f);
                                Probe::Answered(address)
                            }
                            Err(e) => Probe::Failed(werf_base::errors::chain(&e)),
                        }
                    }
                }
            };
            let path = std::env::var_os("PATH");
            let choice = builder::choose(
                mode,
                probe,
                builder::buildah_on(path.as_deref()),
                &run_images,
            )?;
            if let Some(line) = builder::describe(&choice) {
                builder::say_once(&line);
            }
            match choice {
                Choice::DockerBuildkit(_) => (connected, None),
                Choice::Buildah { .. } => (
                    None,
                    Some(crate::build::buildah::Buildah {
                        root: buildah_root.clone(),
                    }),
                ),
                Choice::NativeOnly => (None, None),
            }
        }
    })
}
