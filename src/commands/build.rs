//! `werf build`: every image's tag and why it is what it is; the build report in werf's shape.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use werf_graph::plan::{BaseRef, ImagePlan};

use crate::cli::BuildArgs;
use crate::pipeline::images;
use crate::pipeline::publish::{publish, Publish};
use crate::project::{load, Loaded};
use crate::settings::{environment, CustomTags, GlobalSettings, PublishSettings};

/// Per project: the last plan's commit and image -> tag.
const LAST_PLAN: &str = "plans";
/// Per tag: the labelled inputs of that image's digest. A tag determines its inputs, so a record
/// is written once, when the tag first appears.
const INPUTS: &str = "inputs";

/// What the last plan of this project recorded, to say what changed since.
#[derive(Default, Serialize, Deserialize)]
struct LastPlan {
    commit: String,
    images: BTreeMap<String, String>,
}

/// Inputs records encoded at once (about 1.3 KB each).
const INPUTS_CHUNK: usize = 512;

fn inputs_key(tag: &str) -> werf_cache::Key {
    werf_cache::key_for_name("inputs", tag)
}

fn components(plan: &ImagePlan) -> BTreeMap<String, String> {
    plan.stages
        .iter()
        .flat_map(|s| {
            s.components
                .iter()
                .map(move |c| (format!("stage {}: {}", s.label, c.label), c.digest.hex()))
        })
        .collect()
}

/// werf's build report.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Report {
    images: BTreeMap<String, ReportImage>,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReportImage {
    werf_image_name: String,
    docker_repo: String,
    docker_tag: String,
    docker_image_name: String,
    docker_image_digest: String,
    rebuilt: bool,
    #[serde(rename = "Final")]
    is_final: bool,
    size: u64,
    build_time: String,
    /// A Stapel image's stages, each stored under its own tag, in werf's order (the last is the
    /// image itself).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stages: Vec<ReportStage>,
}

/// One stage of a Stapel image in the report.
#[derive(Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReportStage {
    name: String,
    docker_tag: String,
    rebuilt: bool,
}

/// The report's images: those werf.yaml names, each Stapel image with its stages (`entries`:
/// plan, tag, rebuilt).
fn report_images(
    entries: &[(&Arc<ImagePlan>, String, bool, ReportImage)],
) -> BTreeMap<String, ReportImage> {
    let mut stages: BTreeMap<&str, Vec<ReportStage>> = BTreeMap::new();
    for (p, tag, rebuilt, _) in entries {
        if let Some((image, stage, _)) = &p.stapel_stage {
            stages.entry(image).or_default().push(ReportStage {
                name: stage.clone(),
                docker_tag: tag.clone(),
                rebuilt: *rebuilt,
            });
        }
    }
    let mut out = BTreeMap::new();
    for (p, _, _, image) in entries {
        if p.is_internal() {
            continue;
        }
        let mut image = image.clone();
        if let Some(s) = stages.remove(p.name.as_str()) {
            image.stages = s;
        }
        out.insert(p.name.clone(), image);
    }
    out
}

/// Runs `werf build`.
pub fn run(global: &GlobalSettings, args: &BuildArgs) -> Result<ExitCode> {
    if !args.dry_run {
        return build_and_push(global, args);
    }
    let custom = CustomTags::resolve(&args.custom_tags.add_custom_tag, None, environment())?;
    let mut loaded = load(global)?;
    images::check(&loaded, &custom, args.repo.as_deref())?;
    if let Some(repo) = &args.repo {
        loaded.use_recorded_imports(repo)?;
    }
    let (plans, waiting) = crate::project::split_pending(loaded.selected_plans(&args.images)?);
    let key = werf_cache::key_for_name(
        "last-plan",
        &format!("{}\0{}", loaded.config.meta.project, loaded.repo.prefix),
    );
    let last: LastPlan = loaded
        .store
        .get(LAST_PLAN, &key)?
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    // `--explain`: the last plan's commit planned by the same engine, to name the files.
    let old_plans = if args.explain {
        explain_base(&mut loaded, &last.commit)
    } else {
        BTreeMap::new()
    };

    let mut out = String::new();
    let short_commit = &loaded.commit.id[..loaded.commit.id.len().min(7)];
    let _ = writeln!(
        out,
        "Project `{}` at commit {short_commit}{}: {} image{}",
        loaded.config.meta.project,
        if loaded.dev {
            format!(
                " + work tree ({} changed path{})",
                loaded.dev_changes,
                if loaded.dev_changes == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        },
        plans.len() + waiting.len(),
        if plans.len() + waiting.len() == 1 {
            ""
        } else {
            "s"
        }
    );
    let (mut changed, mut same, mut new) = (0, 0, 0);
    for plan in &plans {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}  tag {}", plan.name, plan.tag);
        if !plan.is_internal() {
            for t in custom.pushed() {
                let _ = writeln!(out, "  custom tag {}", t.expand(&plan.name, &plan.tag));
            }
        }
        let _ = writeln!(out, "  {}", inputs_line(plan));
        match last.images.get(&plan.name) {
            None => {
                new += 1;
                let _ = writeln!(out, "  why: first plan of this image");
            }
            Some(prev) if *prev == plan.tag => {
                same += 1;
                let _ = writeln!(
                    out,
                    "  why: same inputs as the last plan (commit {})",
                    &last.commit[..last.commit.len().min(7)]
                );
            }
            Some(prev_tag) => {
                changed += 1;
                let now = components(plan);
                let prev: BTreeMap<String, String> = loaded
                    .store
                    .get(INPUTS, &inputs_key(prev_tag))?
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_default();
                let mut diffs: Vec<String> = Vec::new();
                if prev.is_empty() {
                    diffs
                        .push("(the inputs of the previous tag are no longer in the cache)".into());
                }
                for (label, digest) in now.iter().filter(|_| !prev.is_empty()) {
                    match prev.get(label) {
                        Some(d) if d == digest => {}
                        Some(_) => diffs.push(format!("{label} changed")),
                        None => diffs.push(format!("{label} added")),
                    }
                }
                for label in prev.keys().filter(|l| !now.contains_key(*l)) {
                    diffs.push(format!("{label} removed"));
                }
                let shown = diffs.len().min(4);
                let more = if diffs.len() > shown {
                    format!("; and {} more", diffs.len() - shown)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "  why: changed since the last plan (commit {}, tag {}): {}{more}",
                    &last.commit[..last.commit.len().min(7)],
                    &prev_tag[..prev_tag.len().min(12)],
                    diffs[..shown].join("; ")
                );
                if args.explain {
                    let lines = werf_graph::why::image(
                        &*loaded.objects,
                        old_plans.get(&plan.name).map(|p| &**p),
                        plan,
                        &|p, path| p.repo_path(path),
                    )?;
                    // The first line repeats the tags.
                    for line in lines.iter().skip(1) {
                        let _ = writeln!(out, "  {line}");
                    }
                }
            }
        }
        if args.verbose {
            for st in &plan.stages {
                let _ = writeln!(
                    out,
                    "  stage {} (line {}) {}",
                    st.label,
                    st.line,
                    st.digest.short()
                );
                for c in &st.components {
                    let value = if c.value.is_empty() {
                        "(none)"
                    } else {
                        c.value.as_str()
                    };
                    let _ = writeln!(out, "    {}: {value} [{}]", c.label, c.digest.short());
                }
            }
        }
    }
    for (name, error) in &waiting {
        let _ = writeln!(out);
        let _ = writeln!(out, "{name}  tag pending");
        if let werf_graph::Error::ImportPending {
            image, spec, key, ..
        } = error
        {
            let _ = writeln!(
                out,
                "  why: {} imports `{}` from `{}`: the tag follows those files' checksum, recorded in the repository when `{}` is built (record `{}`), and none is known{}",
                if image == name { "it".to_string() } else { format!("`{image}`, which it reads,") },
                spec.add,
                spec.source,
                spec.source,
                &key[..key.len().min(20)],
                if args.repo.is_some() { " from the last build on this machine" } else { " without `--repo`" },
            );
        }
    }
    let registry = match &args.repo {
        Some(r) => format!("registry `{r}` not checked in dry-run"),
        None => "registry not checked: no `--repo`".to_string(),
    };
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} image{}: {changed} changed, {same} unchanged, {new} new since the last plan{}; all would be built ({registry})",
        plans.len() + waiting.len(),
        if plans.len() + waiting.len() == 1 { "" } else { "s" },
        if waiting.is_empty() { String::new() } else { format!(", {} pending on imports", waiting.len()) },
    );
    std::io::stdout().lock().write_all(out.as_bytes())?;

    // Read again and merged under the project's lock: a concurrent plan of other images keeps
    // its records.
    let _held = loaded
        .store
        .lock(&format!("last plan {}", loaded.config.meta.project))?;
    let latest: LastPlan = loaded
        .store
        .get(LAST_PLAN, &key)?
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(last);
    let mut record = LastPlan {
        commit: loaded.commit.id.clone(),
        images: latest.images,
    };
    // The inputs of every new tag, as one pack streamed to disk in key order (a first plan of
    // thousands of images writes one file, not one per image, and holds a chunk of them).
    let mut new: Vec<(werf_cache::Key, &ImagePlan)> = Vec::new();
    for plan in &plans {
        if record.images.get(&plan.name) != Some(&plan.tag) {
            new.push((inputs_key(&plan.tag), plan));
            record.images.insert(plan.name.clone(), plan.tag.clone());
        }
    }
    if !new.is_empty() {
        new.sort_unstable_by_key(|(key, _)| *key);
        // One tag has one set of inputs.
        new.dedup_by(|a, b| a.0 == b.0);
        let mut pack = loaded.store.pack_writer(INPUTS)?;
        // Encoded on every core a chunk at a time, written in order.
        for chunk in new.chunks(INPUTS_CHUNK) {
            use rayon::prelude::*;
            let payloads = chunk
                .par_iter()
                .map(|(_, plan)| serde_json::to_vec(&components(plan)))
                .collect::<Result<Vec<_>, _>>()?;
            for ((key, _), payload) in chunk.iter().zip(&payloads) {
                pack.record(key, payload)?;
            }
        }
        pack.finish()?;
    }
    loaded
        .store
        .put(LAST_PLAN, &key, &serde_json::to_vec(&record)?)?;

    if args.save_build_report {
        write_report(&args.build_report_path, &plans, args.repo.as_deref())?;
    }
    drop(_held);
    loaded.leak_at_exit();
    Ok(ExitCode::SUCCESS)
}

/// Builds and pushes the images the registry lacks.
fn build_and_push(global: &GlobalSettings, args: &BuildArgs) -> Result<ExitCode> {
    let Some(repo) = args.repo.as_deref() else {
        bail!("`werf build` needs `--repo REGISTRY/PROJECT` (or `WERF_REPO`) to publish to; `--dry-run` only plans");
    };
    let custom = CustomTags::resolve(&args.custom_tags.add_custom_tag, None, environment())?;
    let mut loaded = load(global)?;
    images::check(&loaded, &custom, Some(repo))?;
    let wanted = loaded.selected_plans(&args.images)?;
    let publish_settings = PublishSettings::resolve(&args.publish, global);
    let publish_args = Publish {
        repo,
        settings: &publish_settings,
        report_digests: args.save_build_report,
    };
    let results = publish(global, &mut loaded, wanted, &publish_args)?;
    images::push(
        global,
        &loaded,
        repo,
        &publish_settings.registry,
        &custom,
        &results,
    )?;
    // Every tag is known after the build (imports were recorded on the way).
    let plans: BTreeMap<String, Arc<ImagePlan>> = loaded
        .ok_plans()?
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect();
    if args.save_build_report {
        let entries: Vec<_> = results
            .iter()
            .map(|r| {
                let p = &plans[&r.name];
                (
                    p,
                    r.tag.clone(),
                    r.rebuilt,
                    ReportImage {
                        werf_image_name: r.name.clone(),
                        docker_repo: repo.to_string(),
                        docker_tag: r.tag.clone(),
                        docker_image_name: format!("{repo}:{}", r.tag),
                        docker_image_digest: r.manifest_digest.clone(),
                        rebuilt: r.rebuilt,
                        is_final: p.is_final,
                        size: r.size.max(0) as u64,
                        build_time: format!("{:.2}", r.build_time.as_secs_f64()),
                        stages: Vec::new(),
                    },
                )
            })
            .collect();
        let images = report_images(&entries);
        write_json_atomically(&args.build_report_path, &Report { images })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The plans at `commit` (the last plan's), for `--explain`; empty when it cannot be read. The
/// engine is left where it was (the commit, or the `--dev` snapshot).
fn explain_base(loaded: &mut Loaded, commit: &str) -> BTreeMap<String, Arc<ImagePlan>> {
    let Ok(base) = loaded.repo.commit(Some(commit)) else {
        return BTreeMap::new();
    };
    loaded.at_commit(&base, crate::project::plans_by_name)
}

fn inputs_line(plan: &ImagePlan) -> String {
    let s = &plan.sources;
    let mut parts = vec![format!(
        "Dockerfile `{}` {}",
        s.dockerfile,
        s.dockerfile_blob.short()
    )];
    let ctx = if s.context.is_empty() {
        "."
    } else {
        s.context.as_str()
    };
    parts.push(match s.context_tree {
        Some(t) => format!("context `{ctx}` {}", t.short()),
        None => format!("context `{ctx}` (contextAddFiles only)"),
    });
    if s.dockerignore.is_some() {
        parts.push(".dockerignore".into());
    }
    if !s.work_files.is_empty() {
        parts.push(format!("{} contextAddFiles", s.work_files.len()));
    }
    let target = plan.target_stage();
    parts.push(format!(
        "{} stage{} (target `{}`)",
        plan.stages.len(),
        if plan.stages.len() == 1 { "" } else { "s" },
        target.label
    ));
    let bases: BTreeSet<String> = plan
        .stages
        .iter()
        .filter_map(|st| match &st.base {
            BaseRef::External { reference } => Some(reference.clone()),
            BaseRef::Scratch => Some("scratch".into()),
            _ => None,
        })
        .collect();
    if !bases.is_empty() {
        parts.push(format!(
            "base {}",
            bases.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let sources: usize = plan.stages.iter().map(|s| s.sources.len()).sum();
    parts.push(format!(
        "{sources} COPY/ADD source{}",
        if sources == 1 { "" } else { "s" }
    ));
    if !plan.dependencies.is_empty() {
        parts.push(format!(
            "depends on {}",
            plan.dependencies
                .iter()
                .map(|d| format!("`{d}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    format!("inputs: {}", parts.join(", "))
}

fn write_report(path: &Path, plans: &[Arc<ImagePlan>], repo: Option<&str>) -> Result<()> {
    let entries: Vec<_> = plans
        .iter()
        .map(|p| {
            let repo = repo.unwrap_or_default().to_string();
            let name = if repo.is_empty() {
                String::new()
            } else {
                format!("{repo}:{}", p.tag)
            };
            (
                p,
                p.tag.clone(),
                true,
                ReportImage {
                    werf_image_name: p.name.clone(),
                    docker_repo: repo,
                    docker_tag: p.tag.clone(),
                    docker_image_name: name,
                    docker_image_digest: String::new(),
                    rebuilt: true,
                    is_final: p.is_final,
                    size: 0,
                    build_time: "0".into(),
                    stages: Vec::new(),
                },
            )
        })
        .collect();
    let images = report_images(&entries);
    write_json_atomically(path, &Report { images })
}

/// Writes JSON next to `path` and renames it into place (no half-written report).
fn write_json_atomically(path: &Path, value: &impl Serialize) -> Result<()> {
    let json = serde_json::to_vec_pretty(value)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write the build report next to `{}`", path.display()))?;
    tmp.write_all(&json)?;
    tmp.write_all(b"\n")?;
    tmp.persist(path)
        .with_context(|| format!("cannot write the build report `{}`", path.display()))?;
    Ok(())
}
