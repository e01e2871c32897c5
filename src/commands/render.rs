//! `werf render`: the chart's manifests with the images' references, in Helm's order.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use werf_graph::chart::{self, Cluster};

use crate::cli::RenderArgs;
use crate::pipeline::render::{named_render_options, render};
use crate::project::{load_for, Reads};
use crate::settings::{environment, GlobalSettings, RenderSettings};

/// Runs `werf render`.
pub fn run(global: &GlobalSettings, args: &RenderArgs) -> Result<ExitCode> {
    let mut loaded = load_for(global, Reads::ImagesAndChart)?;
    if let Some(repo) = &args.repo {
        loaded.use_recorded_imports(repo)?;
    }
    let plans = loaded.ok_plans()?;
    if args.repo.is_none() && !plans.is_empty() {
        eprintln!("Warning: no `--repo`: image references in the chart are stubs (`REPO:TAG`)");
    }
    let options = named_render_options(
        global,
        &RenderSettings::resolve(args, environment())?,
        &loaded,
    )?;
    // As `helm template`: no cluster, so `lookup` finds nothing.
    let manifests = render(&loaded, options, Cluster::offline())?;
    std::io::stdout()
        .lock()
        .write_all(chart::to_stream(&manifests).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
