//! Carrying a cleanup out in the registry: re-list, look up digests, check, delete.
//!
//! The same steps run with `--dry-run` except the deletes themselves, so a dry run reports
//! exactly what a real run deletes. Before anything is deleted the repository is listed again:
//! a tag that appeared meanwhile (a concurrent build) was not in the plan and is not touched, a
//! tag already gone is reported as such. Each tag to delete is asked for its manifest digest (a
//! HEAD); the digests of kept tags come from the tag log, or a HEAD when unknown; a manifest a
//! kept tag shares, or a workload uses by digest, stays. Deletes go by digest, once per digest;
//! a delete that finds nothing is a tag another cleanup removed first. A cleanup killed half-way
//! has deleted whole manifests only, and the next run computes the rest again.
//!
//! A multi-platform image is an index: its platform manifests (untagged) go with it, after it,
//! unless a kept tag names one; a workload running one of them by digest keeps the index.

use std::collections::{BTreeMap, BTreeSet};

use werf_graph::cleanup::decide::{protect_shared, Decision, Use};
use werf_graph::cleanup::is_image_tag;

use super::taglog::TagLog;
use super::Result;
use crate::registry::{parallel, Deleted, Registry};

/// What happened to a tag the policies did not keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Deleted by this run (or would be, in a dry run).
    Deleted,
    /// Already gone before this run could delete it.
    Gone,
}

/// The result of carrying out the decisions.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Tag -> fate, for every tag left to delete after the checks.
    pub fates: BTreeMap<String, Fate>,
    /// Tag -> manifest digest, for the tags asked.
    pub digests: BTreeMap<String, String>,
    /// Platform manifests of deleted indexes deleted with them.
    pub platform_manifests: usize,
}

/// Checks and deletes what `decisions` do not keep (`dry_run`: everything but the deletes).
/// Decisions gain the reasons the checks find.
pub fn carry_out(
    registry: &Registry,
    repo: &str,
    decisions: &mut [Decision],
    log: &TagLog,
    digest_uses: &BTreeMap<String, Vec<Use>>,
    dry_run: bool,
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    if decisions.iter().all(|d| d.keep()) {
        return Ok(outcome);
    }
    let listed = registry.list_tags(repo)?;
    for d in decisions.iter().filter(|d| !d.keep()) {
        if !listed.contains(&d.tag) {
            outcome.fates.insert(d.tag.clone(), Fate::Gone);
        }
    }
    let candidates: Vec<String> = decisions
        .iter()
        .filter(|d| !d.keep() && !outcome.fates.contains_key(&d.tag))
        .map(|d| d.tag.clone())
        .collect();
    let heads = parallel(&candidates, |t| {
        registry.manifest_head(&format!("{repo}:{t}"))
    })?;
    let mut indexes: Vec<String> = Vec::new();
    for (tag, head) in candidates.iter().zip(heads) {
        match head {
            Some((d, media_type)) => {
                if media_type.as_deref().is_some_and(is_index) {
                    indexes.push(d.clone());
                }
                outcome.digests.insert(tag.clone(), d);
            }
            None => {
                outcome.fates.insert(tag.clone(), Fate::Gone);
            }
        }
    }
    indexes.sort();
    indexes.dedup();
    // Each index's platform manifests (one GET per index to delete).
    let lists = parallel(&indexes, |d| children(registry, repo, d))?;
    let children: BTreeMap<String, Vec<String>> = indexes.into_iter().zip(lists).collect();
    // A workload running a platform manifest by digest uses its index (the uses are copied
    // only when an index to delete has such a use).
    let mut with_indexes = std::borrow::Cow::Borrowed(digest_uses);
    for (index, list) in &children {
        let uses: Vec<Use> = list
            .iter()
            .flat_map(|c| digest_uses.get(c).cloned().unwrap_or_default())
            .collect();
        if !uses.is_empty() {
            with_indexes
                .to_mut()
                .entry(index.clone())
                .or_default()
                .extend(uses);
        }
    }
    // The kept tags' digests: werf-rs tags from the log when known, the rest asked.
    let mut kept: BTreeMap<String, String> = BTreeMap::new();
    let mut ask: Vec<String> = Vec::new();
    for d in decisions
        .iter()
        .filter(|d| d.keep() && listed.contains(&d.tag))
    {
        match log.tags.get(&d.tag).and_then(|e| e.digest.clone()) {
            Some(digest) if is_image_tag(&d.tag) => {
                kept.entry(digest).or_insert_with(|| d.tag.clone());
            }
            _ => ask.push(d.tag.clone()),
        }
    }
    if !outcome.digests.is_empty() {
        let asked = parallel(&ask, |t| registry.manifest_digest(&format!("{repo}:{t}")))?;
        for (tag, digest) in ask.iter().zip(asked) {
            if let Some(d) = digest {
                kept.entry(d).or_insert_with(|| tag.clone());
            }
        }
    }
    protect_shared(decisions, &outcome.digests, &kept, &with_indexes);
    let mut by_digest: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in decisions.iter().filter(|d| !d.keep()) {
        if let Some(digest) = outcome.digests.get(&d.tag) {
            by_digest
                .entry(digest.clone())
                .or_default()
                .push(d.tag.clone());
        }
    }
    let digests: Vec<(&String, &Vec<String>)> = by_digest.iter().collect();
    let results = if dry_run {
        digests.iter().map(|_| Deleted::Deleted).collect()
    } else {
        parallel(&digests, |(digest, _)| {
            registry.delete_manifest(repo, digest)
        })?
    };
    // The platform manifests of the indexes deleted, once the indexes are gone (a kept tag's
    // manifest stays).
    // (A platform's staging tag, `TAG-OS-ARCH`, names its manifest only on the way to the index:
    // it keeps nothing.)
    let kept_ref = &kept;
    let orphans: Vec<&String> = digests
        .iter()
        .zip(&results)
        .filter(|(_, r)| matches!(r, Deleted::Deleted))
        .flat_map(|((d, tags), _)| {
            children
                .get(*d)
                .into_iter()
                .flatten()
                .filter(move |c| match kept_ref.get(*c) {
                    None => true,
                    Some(k) => tags.iter().any(|t| k.starts_with(&format!("{t}-"))),
                })
        })
        .collect();
    if !dry_run {
        parallel(&orphans, |c| registry.delete_manifest(repo, c))?;
    }
    outcome.platform_manifests = orphans.len();
    for ((_, tags), result) in digests.iter().zip(results) {
        for t in tags.iter() {
            outcome.fates.insert(
                t.clone(),
                match result {
                    Deleted::Deleted => Fate::Deleted,
                    Deleted::Gone => Fate::Gone,
                },
            );
        }
    }
    Ok(outcome)
}

/// Whether a manifest media type is an index (a multi-platform image).
fn is_index(media_type: &str) -> bool {
    media_type == "application/vnd.oci.image.index.v1+json"
        || media_type == "application/vnd.docker.distribution.manifest.list.v2+json"
}

/// The manifests the index `digest` of `repo` lists.
fn children(
    registry: &Registry,
    repo: &str,
    digest: &str,
) -> std::result::Result<Vec<String>, crate::registry::Error> {
    let (body, _) = registry.pull_manifest(&format!("{repo}@{digest}"))?;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    Ok(v.get("manifests")
        .and_then(|m| m.as_array())
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("digest").and_then(|d| d.as_str()))
        .filter(|d| d.starts_with("sha256:"))
        .map(str::to_string)
        .collect())
}

/// Tags to forget in the tag log after a real run.
pub fn removed(outcome: &Outcome) -> BTreeSet<String> {
    outcome.fates.keys().cloned().collect()
}
