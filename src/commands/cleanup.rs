//! `werf cleanup`, `werf purge` and `werf host cleanup`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use oci_client::RegistryOperation;
use werf_graph::cleanup::decide::{decide, Decision, Inputs, Reason, Use};
use werf_graph::cleanup::{history as walk, is_image_tag, is_ours, policy, refs};

use crate::cleanup::report::{HistoryFigures, Report};
use crate::cleanup::{delete, history, host, kube, now, taglog};
use crate::cli::{CleanupArgs, CleanupKubeArgs, HostCleanupArgs, PurgeArgs};
use crate::project::{self, Reads};
use crate::registry::Registry;
use crate::settings::GlobalSettings;

/// Images in use, by tag and by digest, in `repo`; and the Kubernetes requests made.
type InUse = (BTreeMap<String, Vec<Use>>, BTreeMap<String, Vec<Use>>, u64);

fn in_use(
    global: &GlobalSettings,
    k: &CleanupKubeArgs,
    repo: &str,
    enabled: bool,
) -> Result<InUse> {
    if k.without_kube || !enabled {
        return Ok(Default::default());
    }
    let scope = kube::Scope {
        kubeconfig: k.kube_config.as_deref(),
        contexts: &k.kube_context,
        context_namespace_only: k.scan_context_namespace_only,
        overrides: crate::settings::kube_overrides(&k.access),
    };
    let (uses, requests) = kube::images_in_use(&scope, global.timeouts)?;
    let (tags, digests) = kube::of_repo(&uses, repo);
    Ok((tags, digests, requests))
}

fn registry(
    global: &GlobalSettings,
    repo: &str,
    access: &crate::cli::RegistryAccessArgs,
) -> Result<Registry> {
    let registry = crate::settings::RegistrySettings::resolve(access).client(
        Some(repo),
        &[],
        global.timeouts,
    )?;
    registry.login(repo, RegistryOperation::Pull)?;
    Ok(registry)
}

/// Writes the report whole or not at all.
fn save(path: &std::path::Path, report: &Report) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write the cleanup report `{}`", path.display()))?;
    serde_json::to_writer_pretty(&mut tmp, report).context("serializing the cleanup report")?;
    tmp.persist(path)
        .with_context(|| format!("cannot write the cleanup report `{}`", path.display()))?;
    Ok(())
}

fn finish(report: &Report, path: Option<&std::path::Path>) -> Result<ExitCode> {
    if let Some(p) = path {
        save(p, report)?;
    }
    for line in report.lines() {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `werf cleanup`.
pub fn cleanup(global: &GlobalSettings, args: &CleanupArgs) -> Result<ExitCode> {
    let repo = args.repo.trim_end_matches('/');
    let mut loaded = project::load_for(global, Reads::History)?;
    let config = &loaded.config;
    let policy = policy::resolve(&config.meta.cleanup, &config.file)?;
    if policy.disabled {
        println!(
            "cleanup is disabled in `{}` (`cleanup.disable: true`)",
            config.file
        );
        return Ok(ExitCode::SUCCESS);
    }
    if policy.git_history {
        // The whole history first: a shallow or single-branch clone would keep too little.
        let worktree = &loaded.config.meta.git_worktree;
        let allowed = crate::cleanup::fetch::Allowed {
            fetch: worktree.allow_fetch_origin_branches_and_tags != Some(false),
            unshallow: worktree.allow_unshallow != Some(false),
        };
        if crate::cleanup::fetch::complete(&loaded.repo.workdir, allowed)? {
            loaded = project::load_for(global, Reads::History)?;
        }
    }
    let now = now();
    // The clusters first: one that cannot be read stops the cleanup before anything else.
    let (in_use_tags, digest_uses, kube_requests) =
        in_use(global, &args.kube, repo, policy.kubernetes)?;
    let registry = registry(global, repo, &args.registry)?;
    let tags = registry.list_tags(repo)?;
    let store = loaded.store.clone();
    // What was known before this listing: a tag first seen now has no record of its age.
    let mut first_seen = BTreeMap::new();
    let log = taglog::update(&store, repo, |l| {
        first_seen = l.first_seen();
        l.listed(&tags, now);
    })?;

    let mut kept = Vec::new();
    let mut images: BTreeMap<String, String> = BTreeMap::new();
    let mut figures = None;
    if policy.git_history {
        let references = history::references(&loaded.repo)?;
        if references.is_empty() {
            bail!(
                "the repository has no `origin/*` branches and no tags, so its history would keep nothing (fetch them: `git fetch origin`, or set `cleanup.disableGitHistoryBasedPolicy: true`)"
            );
        }
        let to_scan = refs::to_scan(&references, &policy.policies, now);
        loaded.db.enable_execution_counts();
        let project = loaded.project;
        // Importers' tags at each commit follow the import records the repository holds.
        crate::project::set_import_checksums(
            &mut loaded.db,
            project,
            &werf_graph::imports::checksums_in(&tags),
        );
        let mut source = history::EngineSource::new(&loaded.repo, &mut loaded.db, project);
        let present = |t: &str| tags.contains(t);
        let mut visited = 0;
        for s in &to_scan {
            let scan = walk::walk(&mut source, s, &present, now).with_context(|| {
                format!(
                    "walking the history of {} `{}`",
                    s.reference.kind, s.reference.name
                )
            })?;
            visited += scan.commits;
            kept.extend(scan.kept);
            for (t, i) in scan.seen {
                images.entry(t).or_insert(i);
            }
        }
        figures = Some(HistoryFigures::new(
            to_scan
                .iter()
                .map(|s| format!("{} `{}` ({})", s.reference.kind, s.reference.name, s.window))
                .collect(),
            visited,
            &source.stats,
        ));
    }
    // The engine is done: its memos go with the process, not one by one.
    loaded.leak_at_exit();
    let mut decisions = decide(&Inputs {
        tags: &tags,
        history: &kept,
        in_use: &in_use_tags,
        first_seen: &first_seen,
        fresh_within: policy.fresh_within,
        images: &images,
        now,
    });
    let outcome = delete::carry_out(
        &registry,
        repo,
        &mut decisions,
        &log,
        &digest_uses,
        args.dry_run,
    )?;
    if !args.dry_run {
        let removed = delete::removed(&outcome);
        taglog::update(&store, repo, |l| l.deleted(&removed))?;
    }
    let mut report = Report::new(repo, args.dry_run, &decisions, &outcome);
    report.history = figures;
    report.registry_requests = registry
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    report.kubernetes_requests = kube_requests;
    finish(&report, args.save_cleanup_report.as_deref())
}

/// `werf purge`.
pub fn purge(global: &GlobalSettings, args: &PurgeArgs) -> Result<ExitCode> {
    let repo = args.repo.trim_end_matches('/');
    let (in_use_tags, digest_uses, kube_requests) = in_use(global, &args.kube, repo, true)?;
    let registry = registry(global, repo, &args.registry)?;
    let tags: BTreeSet<String> = registry.list_tags(repo)?;
    let used: Vec<String> = tags
        .iter()
        .filter(|t| is_image_tag(t))
        .filter_map(|t| {
            in_use_tags
                .get(t)
                .map(|u| format!("`{t}` (used by {})", u[0]))
        })
        .collect();
    if !used.is_empty() && !args.force {
        bail!(
            "{} image{} of `{repo}` {} in use:\n  {}\npass `--force` to delete {} anyway",
            used.len(),
            if used.len() == 1 { "" } else { "s" },
            if used.len() == 1 { "is" } else { "are" },
            used.join("\n  "),
            if used.len() == 1 { "it" } else { "them" }
        );
    }
    // Custom tags with records go with the images they alias.
    let aliases = werf_graph::custom_tag::aliases(&tags);
    let mut decisions: Vec<Decision> = tags
        .iter()
        .map(|t| Decision {
            tag: t.clone(),
            image: None,
            reasons: if is_ours(t) || aliases.contains_key(t) {
                vec![]
            } else {
                vec![Reason::NotOurs]
            },
        })
        .collect();
    let home = global.home.clone();
    let store = werf_cache::Store::open(&home)
        .with_context(|| format!("cannot open the cache in `{}`", home.display()))?;
    let log = taglog::read(&store, repo)?;
    let by_digest = if args.force {
        BTreeMap::new()
    } else {
        digest_uses
    };
    let outcome = delete::carry_out(
        &registry,
        repo,
        &mut decisions,
        &log,
        &by_digest,
        args.dry_run,
    )?;
    if !args.dry_run {
        let removed = delete::removed(&outcome);
        taglog::update(&store, repo, |l| l.deleted(&removed))?;
    }
    let mut report = Report::new(repo, args.dry_run, &decisions, &outcome);
    report.registry_requests = registry
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    report.kubernetes_requests = kube_requests;
    finish(&report, None)
}

/// `werf host cleanup`.
pub fn host_cleanup(global: &GlobalSettings, args: &HostCleanupArgs) -> Result<ExitCode> {
    let home = global.home.clone();
    let store = werf_cache::Store::open(&home)
        .with_context(|| format!("cannot open the cache in `{}`", home.display()))?;
    let options = host::Options {
        max_age: args.max_age,
        max_bytes: args.max_size,
        allowed_volume_percentage: args.allowed_percentage,
        margin_percentage: args.margin_percentage,
        dry_run: args.dry_run,
    };
    let done = host::run(&home, &store, &options)?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    println!(
        "`{}`: {} bytes before, {} after; {verb} {} cache records, {} bytes of buildah storage{}, {} stray temp files",
        home.display(),
        done.size_before,
        done.size_after,
        done.records_removed,
        done.buildah_removed,
        if done.others_running {
            " (spared: other werf-rs processes are running)"
        } else {
            ""
        },
        done.temp_removed
    );
    Ok(ExitCode::SUCCESS)
}
