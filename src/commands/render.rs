//! `werf render`: the chart's manifests with the images' references, in Helm's order.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use werf_graph::chart::{self, Cluster, RenderOptions};
use werf_graph::render::{self, RenderInput};

use crate::cli::{Global, RenderArgs};
use crate::project::{load_for, Loaded, Reads};

/// Runs `werf render`.
pub fn run(global: &Global, args: &RenderArgs) -> Result<ExitCode> {
    let loaded = load_for(global, Reads::ImagesAndChart)?;
    let plans = loaded.ok_plans()?;
    if args.repo.is_none() && !plans.is_empty() {
        eprintln!("Warning: no `--repo`: image references in the chart are stubs (`REPO:TAG`)");
    }
    let options = render_options(global, args, &loaded.config.meta.project)?;
    // As `helm template`: no cluster, so `lookup` finds nothing.
    let manifests = render(&loaded, options, Cluster::offline())?;
    std::io::stdout()
        .lock()
        .write_all(chart::to_stream(&manifests).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The chart's manifests for `options`, from the loaded project's graph; `lookup` reads
/// `cluster`.
pub fn render(
    loaded: &Loaded,
    options: RenderOptions,
    cluster: Cluster,
) -> Result<Arc<Vec<chart::Manifest>>> {
    let input = RenderInput::new(&loaded.db, options, cluster);
    Ok(render::rendered_chart(&loaded.db, loaded.project, input).clone()?)
}

/// The chart's custom resource definitions for `options` (`crds/` of the enabled charts).
pub fn crds(loaded: &Loaded, options: RenderOptions) -> Result<Arc<Vec<(String, String)>>> {
    let input = RenderInput::new(&loaded.db, options, Cluster::offline());
    Ok(render::crds(&loaded.db, loaded.project, input).clone()?)
}

/// The release and namespace names: as given, else `PROJECT` (`PROJECT-ENV` with `--env`).
pub fn release_names(
    global: &Global,
    release: &Option<String>,
    namespace: &Option<String>,
    project: &str,
) -> (String, String) {
    let default_name = match &global.env {
        Some(env) => format!("{project}-{env}"),
        None => project.to_string(),
    };
    (
        release.clone().unwrap_or_else(|| default_name.clone()),
        namespace.clone().unwrap_or(default_name),
    )
}

/// Release, namespace, values and image repository from the command line, with werf's defaults
/// (`PROJECT` or `PROJECT-ENV` for both names).
pub fn render_options(global: &Global, args: &RenderArgs, project: &str) -> Result<RenderOptions> {
    let (release, namespace) = release_names(global, &args.release, &args.namespace, project);
    let mut values_files = Vec::new();
    for f in &args.values {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read values file `{}`", f.display()))?;
        values_files.push((f.display().to_string(), text));
    }
    let set = args
        .set
        .iter()
        .map(|s| (s.clone(), false))
        .chain(args.set_string.iter().map(|s| (s.clone(), true)))
        .collect();
    Ok(RenderOptions {
        release,
        namespace,
        env: global.env.clone(),
        values_files,
        set,
        repo: args.repo.clone(),
        revision: 1,
        kube_version: None,
        api_versions: None,
    })
}
