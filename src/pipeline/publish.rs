//! Publishing: build and push what the registry lacks of the plans, with a one-line summary.

use anyhow::Result;

use crate::build::Wanted;
use crate::progress::BuildProgress;
use crate::project::{EnginePlanner, Loaded};
use crate::settings::{Builder, GlobalSettings, PublishSettings};

/// Where and how images are published.
pub struct Publish<'a> {
    pub repo: &'a str,
    pub settings: &'a PublishSettings,
    /// Report the registry's digest of images that were already there (a HEAD each).
    pub report_digests: bool,
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
    let buildkit = match &settings.builder {
        Builder::Buildkit(b) => Some(crate::build::buildkit::Fleet::connect(
            &crate::build::buildkit::addresses(&b.addresses),
            crate::build::buildkit::tls(
                b.tls_ca.clone(),
                b.tls_cert.clone(),
                b.tls_key.clone(),
                b.tls_server_name.clone(),
            )
            .as_ref(),
            b.keepalive,
            parallel,
            &|w| crate::printer::warning(w),
        )?),
        _ => None,
    };
    let options = crate::build::Options {
        repo,
        parallel,
        project: &loaded.config.meta.project,
        report_digests: args.report_digests,
        buildah: match &settings.builder {
            Builder::Buildah { root } => {
                Some(crate::build::buildah::Buildah { root: root.clone() })
            }
            _ => None,
        },
        buildkit,
        project_dir: loaded.repo.workdir.join(&loaded.repo.prefix),
    };
    let progress = BuildProgress::new();
    let started = std::time::Instant::now();
    let mut planner = EnginePlanner::new(&mut loaded.db, loaded.project, &loaded.config);
    let results = crate::build::build(
        wanted,
        &mut planner,
        &*loaded.objects,
        &loaded.store,
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
