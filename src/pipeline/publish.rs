//! Publishing: build and push what the registry lacks of the plans, with a one-line summary.

use anyhow::Result;

use crate::build::Wanted;
use crate::cli::{Backend, Global, PublishFlags};
use crate::progress::BuildProgress;
use crate::project::{EnginePlanner, Loaded};
use crate::registry::Registry;

/// Where and how images are published.
pub struct Publish<'a> {
    pub repo: &'a str,
    pub flags: &'a PublishFlags,
    /// Report the registry's digest of images that were already there (a HEAD each).
    pub report_digests: bool,
}

/// Builds and pushes what `repo` lacks of `wanted`, printing a one-line summary. Images waiting
/// on an import's content are planned during the build; afterwards `loaded.plans` hold every
/// tag.
pub fn publish(
    global: &Global,
    loaded: &mut Loaded,
    wanted: Vec<Wanted>,
    args: &Publish<'_>,
) -> Result<Vec<crate::build::ImageResult>> {
    let (repo, flags) = (args.repo, args.flags);
    let registry = Registry::new(
        &flags.insecure_registry,
        &[crate::registry::host_of(repo)],
        global.timeouts(),
    )?;
    let parallel = flags.parallel.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let buildkit = match flags.backend {
        Backend::Buildkit => Some(crate::build::buildkit::Fleet::connect(
            &crate::build::buildkit::addresses(&flags.buildkit_addr),
            crate::build::buildkit::tls(
                flags.buildkit_tls_ca.clone(),
                flags.buildkit_tls_cert.clone(),
                flags.buildkit_tls_key.clone(),
                flags.buildkit_tls_server_name.clone(),
            )
            .as_ref(),
            std::time::Duration::from_secs(flags.buildkit_keepalive),
            parallel,
            &|w| eprintln!("warning: {w}"),
        )?),
        _ => None,
    };
    let options = crate::build::Options {
        repo,
        parallel,
        project: &loaded.config.meta.project,
        report_digests: args.report_digests,
        buildah: (flags.backend == Backend::Buildah).then(|| crate::build::buildah::Buildah {
            root: crate::store::home(global.home_dir.as_deref()).join("buildah"),
        }),
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
    println!(
        "{} image{}: {built} built and pushed, {} already in `{repo}` ({:.1} s; {} registry requests, {} blobs uploaded ({} bytes), {} mounted)",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        results.len() - built,
        started.elapsed().as_secs_f64(),
        stats.requests.load(Relaxed),
        stats.blobs_uploaded.load(Relaxed),
        stats.bytes_uploaded.load(Relaxed),
        stats.blobs_mounted.load(Relaxed),
    );
    Ok(results)
}
