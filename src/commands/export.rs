//! `werf export`: the chosen images built if `--repo` lacks them, then published under each
//! `--tag` reference template with werf's labels removed (see `werf_bundle::export`).

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};
use werf_bundle::export::{export, parse_label};

use crate::build::custom_tag::Template;
use crate::cli::ExportArgs;
use crate::pipeline::publish::publish_all;
use crate::project::{load_for, Reads};
use crate::settings::{environment, CustomTags, GlobalSettings, PublishSettings};

/// Runs `werf export`.
pub fn run(global: &GlobalSettings, args: &ExportArgs) -> Result<ExitCode> {
    let repo = args
        .repo
        .clone()
        .ok_or_else(|| anyhow!("`werf export` needs `--repo REGISTRY/PROJECT` (or `WERF_REPO`) to build the images into"))?;
    let labels = labels(args, environment())?;
    let templates = args
        .tags
        .iter()
        .map(|t| Template::parse(t).map_err(|e| anyhow!("`--tag {t}`: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let mut loaded = load_for(global, Reads::Images)?;
    let wanted = loaded.selected_plans(&args.images)?;
    let names: Vec<String> = if args.images.is_empty() {
        wanted.iter().map(|(n, _)| n.clone()).collect()
    } else {
        args.images.clone()
    };
    let settings = PublishSettings::resolve(&args.publish, global);
    publish_all(
        global,
        &mut loaded,
        wanted,
        &repo,
        &settings,
        &CustomTags::default(),
    )?;
    let tags = crate::pipeline::desired::tags(&loaded)?;
    let mut targets: BTreeMap<String, String> = BTreeMap::new();
    let mut jobs = Vec::new();
    for template in &templates {
        for name in names.iter().filter(|n| tags.contains_key(*n)) {
            let reference = template.expand(name, &tags[name]);
            let (to_repo, to_tag) = split(&reference).ok_or_else(|| {
                anyhow!(
                    "`--tag {}` gives `{reference}` for image `{name}`, which has no `:TAG`",
                    template.text()
                )
            })?;
            if let Some(other) = targets.insert(reference.clone(), name.clone()) {
                bail!("`--tag {}` gives `{reference}` to both `{other}` and `{name}`: add `%image%` to it", template.text());
            }
            jobs.push((name.clone(), to_repo.to_string(), to_tag.to_string()));
        }
    }
    let mut repos: BTreeSet<&str> = jobs.iter().map(|(_, r, _)| r.as_str()).collect();
    repos.insert(&repo);
    let hosts: Vec<&str> = repos.into_iter().collect();
    let registry = settings
        .registry
        .client(Some(&repo), &hosts, global.timeouts)?;
    for (name, to_repo, to_tag) in &jobs {
        let from = format!("{repo}:{}", tags[name]);
        export(&registry, &from, to_repo, to_tag, &labels)?;
        crate::printer::line(&format!(
            "Image `{name}` exported: `{from}` -> `{to_repo}:{to_tag}`"
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--add-label` and the `WERF_EXPORT_ADD_LABEL_*` variables (in the order of their names;
/// the flags win).
fn labels(
    args: &ExportArgs,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, String>> {
    let mut vars: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(n, _)| n.starts_with("WERF_EXPORT_ADD_LABEL_"))
        .collect();
    vars.sort();
    let mut out = BTreeMap::new();
    for (name, value) in &vars {
        let (k, v) = parse_label(value, &format!("`{name}`")).map_err(anyhow::Error::msg)?;
        out.insert(k, v);
    }
    for l in &args.add_label {
        let (k, v) = parse_label(l, "`--add-label`").map_err(anyhow::Error::msg)?;
        out.insert(k, v);
    }
    Ok(out)
}

/// `REPO:TAG` split (the tag after the last `/`).
fn split(reference: &str) -> Option<(&str, &str)> {
    let (repo, tag) = reference.rsplit_once(':')?;
    (!tag.contains('/') && !tag.is_empty() && !repo.is_empty()).then_some((repo, tag))
}
