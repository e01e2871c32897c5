//! The walk of one reference's history, and `imagesPerReference`.
//!
//! werf's rule, per image: among the commits of the reference's history that have an image in
//! the registry, take each distinct tag once, dated by the newest commit that has it; keep the
//! `last` N newest, or those within `in`, or both combined by `operator`. A tag reference looks
//! at its own commit only. Here a commit "has" an image when the tag the engine computes for it
//! at that commit is in the registry (no metadata is read).
//!
//! Commits are visited newest first (committer time, a priority queue over the parents), so the
//! first commit that shows a tag is its newest, and an image is done as soon as no older commit
//! could change its choice; the walk ends when every image of the head is done.

use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use super::policy::{Operator, RefKind, Window};
use super::refs::ToScan;
use super::CommitId;

/// A commit as the walk needs it.
#[derive(Clone, Debug)]
pub struct Commit {
    /// Committer time, unix seconds.
    pub time: i64,
    pub parents: Vec<CommitId>,
}

/// Where the walk reads commits and the tags the engine computes for them.
pub trait Source {
    type Error;
    fn commit(&mut self, id: &str) -> Result<Commit, Self::Error>;
    /// Image name -> tag at `id` (images whose plan fails there are absent).
    fn tags(&mut self, id: &str) -> Result<Arc<Tags>, Self::Error>;
}

/// Image name -> tag at one commit, sorted by name. A source shares the strings between
/// commits, so a history of hundreds of commits of thousands of images holds each name and
/// tag once, and each commit a vector of pointers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tags(Vec<(Arc<str>, Arc<str>)>);

impl Tags {
    /// The tag of `image`.
    pub fn get(&self, image: &str) -> Option<&Arc<str>> {
        self.0
            .binary_search_by(|(name, _)| (**name).cmp(image))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// The images, in name order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.iter().map(|(name, _)| &**name)
    }
}

impl FromIterator<(Arc<str>, Arc<str>)> for Tags {
    /// The pairs in any order; of two with one name, the last is kept.
    fn from_iter<I: IntoIterator<Item = (Arc<str>, Arc<str>)>>(pairs: I) -> Self {
        let mut v: Vec<_> = pairs.into_iter().collect();
        // Stable: equal names keep their order, and the last of them stays below.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Arc<str>, Arc<str>)> = Vec::with_capacity(v.len());
        for pair in v {
            match out.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => out.push(pair),
            }
        }
        Tags(out)
    }
}

/// A tag a reference keeps, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    pub tag: String,
    pub image: String,
    /// The newest commit of the reference's history with this tag.
    pub commit: CommitId,
    /// `branch `main`` / `tag `v1.0``.
    pub reference: String,
    pub policy: String,
}

/// What one walk found.
#[derive(Debug, Default)]
pub struct Scan {
    pub kept: Vec<Kept>,
    /// Commits visited.
    pub commits: usize,
    /// Every tag seen on the way with its image (so the report names the image of a tag it
    /// deletes when history still computes it).
    pub seen: BTreeMap<String, String>,
}

struct Found {
    tag: String,
    commit: CommitId,
    time: i64,
}

#[derive(Default)]
struct ImageState {
    found: Vec<Found>,
    tags: HashSet<Arc<str>>,
    done: bool,
}

/// Whether an image whose walk has found `found` tags and reached a commit of time `time` can
/// stop: no older commit could be chosen any more.
fn done(w: &Window, found: usize, time: i64, now: i64) -> bool {
    let count_full = w.last.is_some_and(|n| found as u64 >= n);
    let too_old = w.within.is_some_and(|d| time <= now.saturating_sub(d));
    match (w.last, w.within, w.operator) {
        (None, None, _) => false,
        (None, Some(_), _) => too_old,
        (Some(_), None, _) => count_full,
        (Some(_), Some(_), Operator::And) => count_full || too_old,
        (Some(_), Some(_), Operator::Or) => count_full && too_old,
    }
}

/// Which of the found tags (newest first) the window keeps.
fn choose<'a>(w: &Window, found: &'a [Found], now: i64) -> impl Iterator<Item = &'a Found> + 'a {
    let w = *w;
    let recent = move |f: &Found| w.within.is_none_or(|d| f.time > now.saturating_sub(d));
    let mut within_count = 0u64;
    found
        .iter()
        .enumerate()
        .filter(move |(i, f)| {
            let by_last = w.last.is_none_or(|n| (*i as u64) < n);
            match (w.last, w.within, w.operator) {
                (Some(_), Some(_), Operator::Or) => by_last || recent(f),
                (Some(n), Some(_), Operator::And) => {
                    // The first N of those within `in`.
                    if recent(f) && within_count < n {
                        within_count += 1;
                        true
                    } else {
                        false
                    }
                }
                _ => by_last && recent(f),
            }
        })
        .map(|(_, f)| f)
}

/// Walks `scan`'s reference and returns what it keeps. `present`: whether a tag is in the
/// registry.
pub fn walk<S: Source>(
    source: &mut S,
    scan: &ToScan,
    present: &dyn Fn(&str) -> bool,
    now: i64,
) -> Result<Scan, S::Error> {
    let reference = &scan.reference;
    let window = &scan.window;
    let mut out = Scan::default();
    let head_tags = source.tags(&reference.head)?;
    // The images of the reference's head are the ones it keeps.
    let mut images: HashMap<&str, ImageState> = head_tags
        .names()
        .map(|k| (k, ImageState::default()))
        .collect();
    let mut queue: BinaryHeap<(i64, CommitId)> = BinaryHeap::new();
    let mut queued: HashSet<CommitId> = HashSet::new();
    let head = source.commit(&reference.head)?;
    queue.push((head.time, reference.head.clone()));
    queued.insert(reference.head.clone());
    let depth_one = reference.kind == RefKind::Tag;
    let mut pending = images.len();
    while let Some((time, id)) = queue.pop() {
        if pending == 0 {
            break;
        }
        out.commits += 1;
        let tags = if id == reference.head {
            head_tags.clone()
        } else {
            source.tags(&id)?
        };
        for (image, state) in images.iter_mut() {
            if state.done {
                continue;
            }
            if let Some(tag) = tags.get(image) {
                if !out.seen.contains_key(&**tag) {
                    out.seen.insert(tag.to_string(), image.to_string());
                }
                if present(tag) && !state.tags.contains(tag) {
                    // Counted only while the window may still choose it (werf skips commits
                    // older than `in` under `And`).
                    state.tags.insert(tag.clone());
                    state.found.push(Found {
                        tag: tag.to_string(),
                        commit: id.clone(),
                        time,
                    });
                }
            }
            if done(window, state.found.len(), time, now) {
                state.done = true;
                pending -= 1;
            }
        }
        if depth_one {
            break;
        }
        let commit = if id == reference.head {
            head.clone()
        } else {
            source.commit(&id)?
        };
        for p in commit.parents {
            if queued.insert(p.clone()) {
                let t = source.commit(&p)?.time;
                queue.push((t, p));
            }
        }
    }
    let label = format!("{} `{}`", reference.kind, reference.name);
    let mut names: Vec<&&str> = images.keys().collect();
    names.sort();
    for image in names {
        let state = &images[*image];
        for f in choose(window, &state.found, now) {
            out.kept.push(Kept {
                tag: f.tag.clone(),
                image: image.to_string(),
                commit: f.commit.clone(),
                reference: label.clone(),
                policy: scan.policy.clone(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleanup::refs::GitRef;

    const NOW: i64 = 1_000_000_000;
    const DAY: i64 = 24 * 3600;

    /// Age in days, parents, image -> tag.
    type FakeCommit = (i64, Vec<String>, Arc<Tags>);

    /// A history: commit -> its [`FakeCommit`].
    #[derive(Default)]
    struct Fake {
        commits: HashMap<String, FakeCommit>,
        tag_calls: HashMap<String, usize>,
    }

    impl Fake {
        fn add(&mut self, id: &str, age: i64, parents: &[&str], tags: &[(&str, &str)]) {
            self.commits.insert(
                id.into(),
                (
                    age,
                    parents.iter().map(|p| p.to_string()).collect(),
                    Arc::new(
                        tags.iter()
                            .map(|(k, v)| (Arc::from(*k), Arc::from(*v)))
                            .collect(),
                    ),
                ),
            );
        }
    }

    impl Source for Fake {
        type Error = String;
        fn commit(&mut self, id: &str) -> Result<Commit, String> {
            let (age, parents, _) = self.commits.get(id).ok_or(format!("no {id}"))?;
            Ok(Commit {
                time: NOW - age * DAY,
                parents: parents.clone(),
            })
        }
        fn tags(&mut self, id: &str) -> Result<Arc<Tags>, String> {
            *self.tag_calls.entry(id.into()).or_default() += 1;
            Ok(self.commits.get(id).ok_or(format!("no {id}"))?.2.clone())
        }
    }

    /// c5 (newest) .. c1 on a line; image `app` changes at c1, c3, c5; `base` never changes.
    fn line() -> Fake {
        let mut f = Fake::default();
        f.add("c1", 50, &[], &[("app", "a1"), ("base", "b")]);
        f.add("c2", 40, &["c1"], &[("app", "a1"), ("base", "b")]);
        f.add("c3", 30, &["c2"], &[("app", "a3"), ("base", "b")]);
        f.add("c4", 3, &["c3"], &[("app", "a3"), ("base", "b")]);
        f.add("c5", 1, &["c4"], &[("app", "a5"), ("base", "b")]);
        f
    }

    fn scan(kind: RefKind, head: &str, window: Window) -> ToScan {
        ToScan {
            reference: GitRef {
                kind,
                name: "main".into(),
                head: head.into(),
                time: NOW,
            },
            window,
            policy: "p".into(),
        }
    }

    fn kept(f: &mut Fake, s: &ToScan, present: &[&str]) -> Vec<String> {
        let present: HashSet<String> = present.iter().map(|s| s.to_string()).collect();
        walk(f, s, &|t| present.contains(t), NOW)
            .unwrap()
            .kept
            .into_iter()
            .map(|k| format!("{}={}@{}", k.image, k.tag, k.commit))
            .collect()
    }

    fn w(last: Option<u64>, days: Option<i64>, operator: Operator) -> Window {
        Window {
            last,
            within: days.map(|d| d * DAY),
            operator,
        }
    }

    const ALL: &[&str] = &["a1", "a3", "a5", "b"];

    #[test]
    fn tags_are_found_by_name_and_the_last_of_one_name_wins() {
        let pair = |k: &str, v: &str| (Arc::<str>::from(k), Arc::<str>::from(v));
        let tags: Tags = [pair("web", "w1"), pair("api", "a1"), pair("web", "w2")]
            .into_iter()
            .collect();
        assert_eq!(tags.names().collect::<Vec<_>>(), ["api", "web"]);
        assert_eq!(tags.get("web").map(|t| &**t), Some("w2"));
        assert_eq!(tags.get("api").map(|t| &**t), Some("a1"));
        assert_eq!(tags.get("db"), None);
        assert_eq!(Tags::default().get("api"), None);
    }

    #[test]
    fn last_n_distinct_tags_dated_by_their_newest_commit() {
        let mut f = line();
        let s = scan(RefKind::Branch, "c5", w(Some(2), None, Operator::And));
        assert_eq!(
            kept(&mut f, &s, ALL),
            ["app=a5@c5", "app=a3@c4", "base=b@c5"]
        );
        // `base` never changes, so its second tag is looked for down to the root commit;
        // each commit's tags are asked for once.
        assert_eq!(f.tag_calls.len(), 5, "{:?}", f.tag_calls);
        assert!(f.tag_calls.values().all(|n| *n == 1), "{:?}", f.tag_calls);
    }

    #[test]
    fn the_walk_ends_when_every_image_is_done() {
        let mut f = line();
        let s = scan(RefKind::Branch, "c5", w(Some(1), None, Operator::And));
        assert_eq!(kept(&mut f, &s, ALL), ["app=a5@c5", "base=b@c5"]);
        assert_eq!(f.tag_calls.keys().collect::<Vec<_>>(), ["c5"]);
    }

    #[test]
    fn a_tag_missing_from_the_registry_is_skipped_and_the_walk_goes_further() {
        let mut f = line();
        let s = scan(RefKind::Branch, "c5", w(Some(2), None, Operator::And));
        // a5 was never built (CI has not run yet): the two newest built are a3 and a1.
        assert_eq!(
            kept(&mut f, &s, &["a1", "a3", "b"]),
            ["app=a3@c4", "app=a1@c2", "base=b@c5"]
        );
    }

    #[test]
    fn within_and_or() {
        let mut f = line();
        // Only within 10 days: a5 (1 day) and a3 dated by c4 (3 days); a1 is 40 days old.
        let s = scan(RefKind::Branch, "c5", w(None, Some(10), Operator::And));
        assert_eq!(
            kept(&mut f, &s, ALL),
            ["app=a5@c5", "app=a3@c4", "base=b@c5"]
        );
        let s = scan(RefKind::Branch, "c5", w(Some(1), Some(10), Operator::And));
        assert_eq!(kept(&mut f, &s, ALL), ["app=a5@c5", "base=b@c5"]);
        // Or: the last 1 or anything within 2 days.
        let s = scan(RefKind::Branch, "c5", w(Some(1), Some(2), Operator::Or));
        assert_eq!(kept(&mut f, &s, ALL), ["app=a5@c5", "base=b@c5"]);
        let s = scan(RefKind::Branch, "c5", w(Some(3), Some(2), Operator::Or));
        assert_eq!(
            kept(&mut f, &s, ALL),
            ["app=a5@c5", "app=a3@c4", "app=a1@c2", "base=b@c5"]
        );
        // Nothing within half a day: nothing kept.
        let s = scan(
            RefKind::Branch,
            "c5",
            Window {
                within: Some(DAY / 2),
                ..w(Some(2), None, Operator::And)
            },
        );
        assert_eq!(kept(&mut f, &s, ALL), Vec::<String>::new());
        // Unlimited: every tag of the history.
        let s = scan(RefKind::Branch, "c5", Window::UNLIMITED);
        assert_eq!(
            kept(&mut f, &s, ALL),
            ["app=a5@c5", "app=a3@c4", "app=a1@c2", "base=b@c5"]
        );
    }

    #[test]
    fn a_tag_reference_keeps_its_own_commit_only() {
        let mut f = line();
        let s = scan(RefKind::Tag, "c3", w(Some(5), None, Operator::And));
        assert_eq!(kept(&mut f, &s, ALL), ["app=a3@c3", "base=b@c3"]);
        assert_eq!(f.tag_calls.len(), 1);
        // ... and nothing when that commit's image was never built.
        let s = scan(RefKind::Tag, "c3", w(Some(5), None, Operator::And));
        assert_eq!(kept(&mut f, &s, &["a1", "b"]), ["base=b@c3"]);
    }

    #[test]
    fn merges_are_walked_newest_first_across_both_parents() {
        let mut f = Fake::default();
        // m (merge, 1 day) <- main line x (10 days) and side line s (2 days); root r.
        f.add("r", 30, &[], &[("app", "t-r")]);
        f.add("x", 10, &["r"], &[("app", "t-x")]);
        f.add("s", 2, &["r"], &[("app", "t-s")]);
        f.add("m", 1, &["x", "s"], &[("app", "t-s")]);
        let s = scan(RefKind::Branch, "m", w(Some(2), None, Operator::And));
        // t-s is dated by m; the next newest distinct tag is t-x (10 days), not t-r.
        assert_eq!(
            kept(&mut f, &s, &["t-r", "t-x", "t-s"]),
            ["app=t-s@m", "app=t-x@x"]
        );
    }

    #[test]
    fn images_only_in_older_commits_are_not_kept_by_this_reference() {
        let mut f = Fake::default();
        f.add("old", 5, &[], &[("app", "a"), ("gone", "g")]);
        f.add("new", 1, &["old"], &[("app", "a2")]);
        let s = scan(RefKind::Branch, "new", w(Some(5), None, Operator::And));
        assert_eq!(
            kept(&mut f, &s, &["a", "a2", "g"]),
            ["app=a2@new", "app=a@old"]
        );
    }
}
