//! The cleanup report: every tag with what happened to it and why (`--save-cleanup-report`),
//! and the lines printed.

use serde::Serialize;
use werf_graph::cleanup::decide::Decision;

use super::delete::{Fate, Outcome};
use super::history::Stats;

/// One tag in the report.
#[derive(Debug, Serialize)]
pub struct TagLine {
    pub tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `kept`, `deleted`, `would-delete` or `gone`.
    pub action: &'static str,
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// The history walks in figures.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryFigures {
    pub references: Vec<String>,
    pub commits_visited: usize,
    pub trees_planned: usize,
    pub image_plans: usize,
    pub image_plans_recomputed: usize,
    /// Image plans carried over from the tree before: the commit's diff touched none of their
    /// reads, so the engine was not asked.
    pub image_plans_carried: usize,
    /// Share of image plans answered from the engine's memo or carried over (0..1).
    pub memo_hit_share: f64,
}

impl HistoryFigures {
    pub fn new(references: Vec<String>, visited: usize, s: &Stats) -> Self {
        HistoryFigures {
            references,
            commits_visited: visited,
            trees_planned: s.trees,
            image_plans: s.image_plans,
            image_plans_recomputed: s.image_plans_recomputed,
            image_plans_carried: s.image_plans_carried,
            memo_hit_share: if s.image_plans == 0 {
                0.0
            } else {
                1.0 - s.image_plans_recomputed as f64 / s.image_plans as f64
            },
        }
    }
}

/// The whole report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub repo: String,
    pub dry_run: bool,
    pub history: Option<HistoryFigures>,
    pub registry_requests: u64,
    pub kubernetes_requests: u64,
    pub kept: usize,
    pub deleted: usize,
    pub gone: usize,
    /// Platform manifests of deleted multi-platform images, deleted with them.
    pub platform_manifests: usize,
    pub tags: Vec<TagLine>,
}

impl Report {
    /// The report of `decisions` after `outcome`.
    pub fn new(repo: &str, dry_run: bool, decisions: &[Decision], outcome: &Outcome) -> Self {
        let tags: Vec<TagLine> = decisions
            .iter()
            .map(|d| {
                let action = match (d.keep(), outcome.fates.get(&d.tag), dry_run) {
                    (true, _, _) => "kept",
                    (false, Some(Fate::Gone), _) => "gone",
                    (false, _, true) => "would-delete",
                    (false, _, false) => "deleted",
                };
                TagLine {
                    tag: d.tag.clone(),
                    image: d.image.clone(),
                    action,
                    reasons: d.reasons.iter().map(|r| r.to_string()).collect(),
                    digest: outcome.digests.get(&d.tag).cloned(),
                }
            })
            .collect();
        let count = |a: &[&str]| tags.iter().filter(|t| a.contains(&t.action)).count();
        Report {
            repo: repo.to_string(),
            dry_run,
            history: None,
            registry_requests: 0,
            kubernetes_requests: 0,
            kept: count(&["kept"]),
            deleted: count(&["deleted", "would-delete"]),
            gone: count(&["gone"]),
            platform_manifests: outcome.platform_manifests,
            tags,
        }
    }

    /// The printed lines: one per tag deleted (or that would be), then a summary.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let verb = if self.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        for t in self.tags.iter().filter(|t| t.action != "kept") {
            let image = t
                .image
                .as_deref()
                .map(|i| format!(" (image `{i}`)"))
                .unwrap_or_default();
            let what = if t.action == "gone" {
                "already gone"
            } else {
                verb
            };
            out.push(format!("{what} `{}:{}`{image}", self.repo, t.tag));
        }
        let mut summary = format!(
            "{} tag{} in `{}`: {} kept, {} {verb}",
            self.tags.len(),
            if self.tags.len() == 1 { "" } else { "s" },
            self.repo,
            self.kept,
            self.deleted
        );
        if self.platform_manifests > 0 {
            summary.push_str(&format!(
                " (and {} platform manifest{} of their indexes)",
                self.platform_manifests,
                if self.platform_manifests == 1 {
                    ""
                } else {
                    "s"
                }
            ));
        }
        if self.gone > 0 {
            summary.push_str(&format!(", {} already gone", self.gone));
        }
        if let Some(h) = &self.history {
            summary.push_str(&format!(
                "; history: {} reference{}, {} commits, {} trees planned, {:.1}% of image plans from the memo ({} carried over by the trees' diffs)",
                h.references.len(),
                if h.references.len() == 1 { "" } else { "s" },
                h.commits_visited,
                h.trees_planned,
                h.memo_hit_share * 100.0,
                h.image_plans_carried
            ));
        }
        summary.push_str(&format!(
            "; {} registry requests, {} Kubernetes requests",
            self.registry_requests, self.kubernetes_requests
        ));
        out.push(summary);
        out
    }
}
