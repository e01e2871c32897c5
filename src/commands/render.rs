//! `werf render`: the chart's manifests with the images' references, in Helm's order.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use werf_graph::chart::{self, RenderOptions};
use werf_graph::pattern::join;

use crate::cli::{Global, RenderArgs};
use crate::project::{load_for, Reads};

/// Runs `werf render`.
pub fn run(global: &Global, args: &RenderArgs) -> Result<ExitCode> {
    let loaded = load_for(global, Reads::ImagesAndChart)?;
    let plans = loaded.ok_plans()?;
    let project = &loaded.config.meta.project;
    let default_name = match &args.env {
        Some(env) => format!("{project}-{env}"),
        None => project.clone(),
    };
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| default_name.clone());
    let release = args.release.clone().unwrap_or(default_name);
    if args.repo.is_none() && !plans.is_empty() {
        eprintln!("Warning: no `--repo`: image references in the chart are stubs (`REPO:TAG`)");
    }
    let tags: BTreeMap<String, String> = plans
        .iter()
        .map(|p| (p.name.clone(), p.tag.clone()))
        .collect();
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
    let options = RenderOptions {
        release,
        namespace: namespace.clone(),
        env: args.env.clone(),
        values_files,
        set,
        werf: chart::werf_values(
            project,
            args.env.as_deref(),
            &namespace,
            args.repo.as_deref(),
            &tags,
        ),
    };
    let chart_dir = join(
        &loaded.repo.prefix,
        loaded
            .config
            .meta
            .deploy
            .helm_chart_dir
            .as_deref()
            .unwrap_or(".helm"),
    );
    let manifests = chart::render(&*loaded.objects, loaded.root, &chart_dir, &options)?;
    std::io::stdout()
        .lock()
        .write_all(chart::to_stream(&manifests).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
