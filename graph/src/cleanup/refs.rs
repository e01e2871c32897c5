//! Which references a policy set selects, as werf selects them.
//!
//! Branches are the `origin/*` remote branches (named without `origin/`), dated by their head
//! commit; tags are dated by the tagger (annotated) or their commit (lightweight). Each policy
//! picks its matching references, then `limit`: `last` N most recent, `in` within a duration,
//! both combined by `operator` (`And` by default). A reference picked by several policies gets the
//! `imagesPerReference` of the last of them (werf's order: general first, specific last).

use std::collections::BTreeMap;

use super::policy::{Operator, Policy, RefKind, Window};
use super::CommitId;

/// A branch or tag of the repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitRef {
    pub kind: RefKind,
    /// `main` for `origin/main`, `v1.0` for `refs/tags/v1.0`.
    pub name: String,
    /// The commit it points at (tags peeled).
    pub head: CommitId,
    /// Unix seconds: the head commit's committer time, or the tagger's time.
    pub time: i64,
}

/// A reference to scan, with the images-per-reference window that applies and why.
#[derive(Clone, Debug)]
pub struct ToScan {
    pub reference: GitRef,
    pub window: Window,
    /// The policy that set the window (for reasons in the report).
    pub policy: String,
}

/// The references `policies` select from `refs`, newest first (branches, then tags).
pub fn to_scan(refs: &[GitRef], policies: &[Policy], now: i64) -> Vec<ToScan> {
    // Keyed by (kind, name): a later policy overrides an earlier one's window.
    let mut chosen: BTreeMap<(RefKind, String), ToScan> = BTreeMap::new();
    for policy in policies {
        let mut matching: Vec<&GitRef> = refs
            .iter()
            .filter(|r| r.kind == policy.kind && policy.matcher.matches(&r.name))
            .collect();
        // Newest first; equal times by name, so the choice of `last` is deterministic.
        matching.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| a.name.cmp(&b.name)));
        let picked: Vec<&GitRef> = match &policy.references {
            None => matching,
            Some(limit) => limit_refs(&matching, limit, now),
        };
        for r in picked {
            chosen.insert(
                (r.kind, r.name.clone()),
                ToScan {
                    reference: r.clone(),
                    window: policy.images_per_reference,
                    policy: policy.to_string(),
                },
            );
        }
    }
    let mut out: Vec<ToScan> = chosen.into_values().collect();
    out.sort_by(|a, b| {
        a.reference
            .kind
            .cmp(&b.reference.kind)
            .then_with(|| b.reference.time.cmp(&a.reference.time))
            .then_with(|| a.reference.name.cmp(&b.reference.name))
    });
    out
}

/// `limit` over references sorted newest first.
fn limit_refs<'a>(sorted: &[&'a GitRef], limit: &Window, now: i64) -> Vec<&'a GitRef> {
    let by_last = |i: usize| limit.last.is_none_or(|n| (i as u64) < n);
    let by_in = |r: &GitRef| limit.within.is_none_or(|d| r.time > now.saturating_sub(d));
    sorted
        .iter()
        .enumerate()
        .filter(|(i, r)| match (limit.last, limit.within, limit.operator) {
            (Some(_), Some(_), Operator::Or) => by_last(*i) || by_in(r),
            _ => by_last(*i) && by_in(r),
        })
        .map(|(_, r)| *r)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleanup::policy::{defaults, Matcher};

    const NOW: i64 = 1_000_000_000;
    const DAY: i64 = 24 * 3600;

    fn r(kind: RefKind, name: &str, age_days: i64) -> GitRef {
        GitRef {
            kind,
            name: name.into(),
            head: format!("c-{name}"),
            time: NOW - age_days * DAY,
        }
    }

    fn names(s: &[ToScan]) -> Vec<String> {
        s.iter()
            .map(|t| format!("{}:{}:{}", t.reference.kind, t.reference.name, t.window))
            .collect()
    }

    #[test]
    fn defaults_pick_recent_branches_the_main_ones_and_ten_tags() {
        let mut refs = vec![
            r(RefKind::Branch, "main", 100),
            r(RefKind::Branch, "feature-new", 1),
            r(RefKind::Branch, "feature-old", 30),
            r(RefKind::Branch, "production", 400),
        ];
        for i in 0..12 {
            refs.push(r(RefKind::Tag, &format!("v{i}"), 12 - i));
        }
        let got = names(&to_scan(&refs, &defaults(), NOW));
        let mut want = vec![
            "branch:feature-new:last 2 and within 168h".to_string(),
            // Old, but named by the third default policy, which also sets its window.
            "branch:main:last 2".to_string(),
            "branch:production:last 2".to_string(),
        ];
        // The 10 newest tags: v11 (1 day) down to v2 (10 days).
        for i in (2..12).rev() {
            want.push(format!("tag:v{i}:last 1"));
        }
        assert_eq!(got, want);
    }

    #[test]
    fn last_and_in_combine_by_operator() {
        let refs = vec![
            r(RefKind::Branch, "a", 1),
            r(RefKind::Branch, "b", 2),
            r(RefKind::Branch, "c", 10),
            r(RefKind::Branch, "d", 20),
        ];
        let with = |last: Option<u64>, days: Option<i64>, operator: Operator| {
            let p = Policy {
                index: Some(0),
                kind: RefKind::Branch,
                matcher: Matcher::Regex(regex::Regex::new(".*").unwrap()),
                references: Some(Window {
                    last,
                    within: days.map(|d| d * DAY),
                    operator,
                }),
                images_per_reference: Window::UNLIMITED,
            };
            to_scan(&refs, &[p], NOW)
                .into_iter()
                .map(|t| t.reference.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(with(Some(3), None, Operator::And), ["a", "b", "c"]);
        assert_eq!(with(None, Some(5), Operator::And), ["a", "b"]);
        assert_eq!(with(Some(1), Some(15), Operator::And), ["a"]);
        assert_eq!(with(Some(1), Some(15), Operator::Or), ["a", "b", "c"]);
        assert_eq!(with(Some(3), Some(1), Operator::Or), ["a", "b", "c"]);
        assert_eq!(with(Some(0), None, Operator::And), Vec::<String>::new());
    }

    #[test]
    fn the_later_policy_sets_the_window_and_tags_never_match_branch_policies() {
        let refs = vec![r(RefKind::Branch, "main", 1), r(RefKind::Tag, "main", 1)];
        let general = Policy {
            index: Some(0),
            kind: RefKind::Branch,
            matcher: Matcher::Regex(regex::Regex::new(".*").unwrap()),
            references: None,
            images_per_reference: Window {
                last: Some(1),
                ..Window::UNLIMITED
            },
        };
        let specific = Policy {
            index: Some(1),
            matcher: Matcher::Literal("main".into()),
            images_per_reference: Window {
                last: Some(5),
                ..Window::UNLIMITED
            },
            ..general.clone()
        };
        let got = to_scan(&refs, &[general.clone(), specific.clone()], NOW);
        assert_eq!(names(&got), ["branch:main:last 5"]);
        assert!(
            got[0].policy.starts_with("keepPolicies[1]"),
            "{}",
            got[0].policy
        );
        let got = to_scan(&refs, &[specific, general], NOW);
        assert_eq!(names(&got), ["branch:main:last 1"]);
    }
}
