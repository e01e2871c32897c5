//! `werf render`: the chart's manifests with the images' references, in Helm's order.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use werf_graph::chart::{self, Cluster};

use crate::cli::RenderCommandArgs;
use crate::pipeline::images;
use crate::pipeline::render::{named_render_options, render as render_chart};
use crate::project::{load_for, Reads};
use crate::settings::{environment, CustomTags, GlobalSettings, RenderSettings};

/// Runs `werf render`.
pub fn run(global: &GlobalSettings, args: &RenderCommandArgs) -> Result<ExitCode> {
    let (render, custom) = (
        &args.render,
        CustomTags::referenced(args.images.use_custom_tag.as_deref())?,
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
    let plans = loaded.ok_plans()?;
    if render.repo.is_none() && !plans.is_empty() {
        eprintln!("Warning: no `--repo`: image references in the chart are stubs (`REPO:TAG`)");
    }
    let options = named_render_options(
        global,
        &RenderSettings::resolve(render, environment())?.with_custom_tag(&custom),
        &loaded,
    )?;
    // As `helm template`: no cluster, so `lookup` finds nothing.
    let manifests = render_chart(&loaded, options, Cluster::offline())?;
    std::io::stdout()
        .lock()
        .write_all(chart::to_stream(&manifests).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
