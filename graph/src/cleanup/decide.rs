//! Every tag of the repository, kept with all its reasons or deleted.
//!
//! A werf-rs image tag is kept when a reference's history keeps it, when a Kubernetes object
//! uses it, or when it is fresh (first seen less than `keepImagesBuiltWithinLastNHours` ago; a
//! tag with no record of when it appeared counts as fresh). Every other image tag is deleted.
//! A record (an import's `imp-…`, see [`crate::imports`]; a custom tag's `ctm-…`, see
//! [`crate::custom_tag`]) follows the tag it is about. A custom tag a record names goes with its
//! content tag: kept while that is kept, deleted with it; a workload using the custom tag keeps
//! the content tag. Tags of another shape are not ours and always stay.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::history::Kept;
use super::{is_image_tag, record_source};

/// A Kubernetes object that uses an image.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Use {
    pub context: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
}

impl fmt::Display for Use {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} `{}/{}` in context `{}`",
            self.kind, self.namespace, self.name, self.context
        )
    }
}

/// Why a tag stays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A reference's history needs it.
    History(Kept),
    /// A workload uses it.
    InUse(Use),
    /// It appeared less than the fresh window ago (`first_seen` unix seconds), or we have no
    /// record of when it appeared (`None`).
    Fresh { first_seen: Option<i64> },
    /// Not a werf-rs image tag.
    NotOurs,
    /// Its manifest is also the manifest of this kept tag: deleting the manifest would take the
    /// kept tag with it.
    SharesManifest { with: String },
    /// It is a record about this kept tag (an import's checksum, or a custom tag).
    RecordOf { source: String },
    /// It is a custom tag of this kept content tag (see [`crate::custom_tag`]).
    CustomTagOf { content: String },
    /// A workload uses it through this custom tag.
    InUseThrough { custom: String, by: Use },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::History(k) => write!(
                f,
                "{} needs it for image `{}` at commit {} ({})",
                k.reference,
                k.image,
                &k.commit[..k.commit.len().min(12)],
                k.policy
            ),
            Reason::InUse(u) => write!(f, "used by {u}"),
            Reason::Fresh {
                first_seen: Some(t),
            } => write!(
                f,
                "fresh: first seen at {t} (unix time), inside the keep window"
            ),
            Reason::Fresh { first_seen: None } => {
                f.write_str("fresh: no record of when it appeared")
            }
            Reason::NotOurs => f.write_str("not a werf-rs image tag"),
            Reason::SharesManifest { with } => {
                write!(f, "its manifest is also kept tag `{with}`'s")
            }
            Reason::RecordOf { source } => write!(f, "a record about kept tag `{source}`"),
            Reason::CustomTagOf { content } => {
                write!(f, "a custom tag of kept tag `{content}`")
            }
            Reason::InUseThrough { custom, by } => {
                write!(f, "used through custom tag `{custom}` by {by}")
            }
        }
    }
}

/// The decision on one tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub tag: String,
    /// The image, when the history walk computed this tag for one.
    pub image: Option<String>,
    /// Empty: delete.
    pub reasons: Vec<Reason>,
}

impl Decision {
    pub fn keep(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// What the decision reads.
pub struct Inputs<'a> {
    /// Every tag of the repository.
    pub tags: &'a BTreeSet<String>,
    /// What the history walks keep.
    pub history: &'a [Kept],
    /// Tags used by workloads.
    pub in_use: &'a BTreeMap<String, Vec<Use>>,
    /// When each tag was first seen (unix seconds).
    pub first_seen: &'a BTreeMap<String, i64>,
    /// The fresh window in seconds (`None`: policy off).
    pub fresh_within: Option<i64>,
    /// Tag -> image, for tags the walks computed.
    pub images: &'a BTreeMap<String, String>,
    pub now: i64,
}

/// One decision per tag, in tag order. A record stays exactly while the tag it is about
/// stays; a custom tag a record names stays while one of its content tags stays, or while a
/// workload uses it.
pub fn decide(i: &Inputs<'_>) -> Vec<Decision> {
    let mut history: BTreeMap<&str, Vec<&Kept>> = BTreeMap::new();
    for k in i.history {
        history.entry(k.tag.as_str()).or_default().push(k);
    }
    let aliases = crate::custom_tag::aliases(i.tags);
    // A workload that uses a custom tag uses the content tags it aliases.
    let mut through: BTreeMap<&str, Vec<Reason>> = BTreeMap::new();
    for (custom, contents) in &aliases {
        for u in i.in_use.get(custom).into_iter().flatten() {
            for c in contents {
                through
                    .entry(c.as_str())
                    .or_default()
                    .push(Reason::InUseThrough {
                        custom: custom.clone(),
                        by: u.clone(),
                    });
            }
        }
    }
    let mut decisions: Vec<Decision> = i
        .tags
        .iter()
        .map(|tag| {
            let mut reasons = Vec::new();
            if record_source(tag).is_some() || aliases.contains_key(tag) {
                // Decided below, after the tags they are about.
            } else if !is_image_tag(tag) {
                reasons.push(Reason::NotOurs);
            } else {
                for k in history.get(tag.as_str()).into_iter().flatten() {
                    reasons.push(Reason::History((*k).clone()));
                }
                for u in i.in_use.get(tag).into_iter().flatten() {
                    reasons.push(Reason::InUse(u.clone()));
                }
                reasons.extend(through.remove(tag.as_str()).into_iter().flatten());
                if let Some(window) = i.fresh_within {
                    match i.first_seen.get(tag) {
                        None => reasons.push(Reason::Fresh { first_seen: None }),
                        Some(t) if *t > i.now.saturating_sub(window) => {
                            reasons.push(Reason::Fresh {
                                first_seen: Some(*t),
                            })
                        }
                        Some(_) => {}
                    }
                }
            }
            Decision {
                tag: tag.clone(),
                image: i
                    .images
                    .get(tag)
                    .cloned()
                    .or_else(|| history.get(tag.as_str()).map(|k| k[0].image.clone())),
                reasons,
            }
        })
        .collect();
    let kept: BTreeSet<String> = decisions
        .iter()
        .filter(|d| d.keep())
        .map(|d| d.tag.clone())
        .collect();
    for d in &mut decisions {
        if let Some(contents) = aliases.get(&d.tag) {
            for u in i.in_use.get(&d.tag).into_iter().flatten() {
                d.reasons.push(Reason::InUse(u.clone()));
            }
            for c in contents.iter().filter(|c| kept.contains(*c)) {
                d.reasons.push(Reason::CustomTagOf { content: c.clone() });
            }
        } else if let Some(source) = record_source(&d.tag) {
            if kept.contains(source) {
                d.reasons.push(Reason::RecordOf {
                    source: source.to_string(),
                });
            }
        }
    }
    decisions
}

/// The second look, once the registry said which manifest each tag to delete names: a tag whose
/// manifest a kept tag shares, or that a workload uses by digest (`repo@sha256:...`), stays.
/// `digests`: tag to delete -> its manifest digest; `kept`: manifest digest -> a kept tag.
pub fn protect_shared(
    decisions: &mut [Decision],
    digests: &BTreeMap<String, String>,
    kept: &BTreeMap<String, String>,
    digest_uses: &BTreeMap<String, Vec<Use>>,
) {
    for d in decisions.iter_mut().filter(|d| !d.keep()) {
        let Some(digest) = digests.get(&d.tag) else {
            continue;
        };
        if let Some(with) = kept.get(digest) {
            d.reasons
                .push(Reason::SharesManifest { with: with.clone() });
        }
        for u in digest_uses.get(digest).into_iter().flatten() {
            d.reasons.push(Reason::InUse(u.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(c: char) -> String {
        std::iter::repeat_n(c, 56).collect()
    }

    #[test]
    fn each_policy_keeps_for_its_reason_and_the_rest_is_deleted() {
        let tags: BTreeSet<String> = [t('a'), t('b'), t('c'), t('d'), t('e'), "latest".into()]
            .into_iter()
            .collect();
        let history = vec![Kept {
            tag: t('a'),
            image: "app".into(),
            commit: "0123456789abcdef".into(),
            reference: "branch `main`".into(),
            policy: "p".into(),
        }];
        let in_use: BTreeMap<String, Vec<Use>> = [(
            t('b'),
            vec![Use {
                context: "ctx".into(),
                namespace: "ns".into(),
                kind: "Deployment".into(),
                name: "web".into(),
            }],
        )]
        .into_iter()
        .collect();
        let now = 100_000;
        // c: seen an hour ago (fresh under 2h); d: seen a day ago; e: never seen.
        let first_seen: BTreeMap<String, i64> = [
            (t('a'), 0),
            (t('b'), 0),
            (t('c'), now - 3600),
            (t('d'), now - 86_400),
        ]
        .into_iter()
        .collect();
        let images = [(t('d'), "old-app".to_string())].into_iter().collect();
        let out = decide(&Inputs {
            tags: &tags,
            history: &history,
            in_use: &in_use,
            first_seen: &first_seen,
            fresh_within: Some(7200),
            images: &images,
            now,
        });
        let shown: Vec<String> = out
            .iter()
            .map(|d| {
                format!(
                    "{} {:?}: {}",
                    &d.tag[..1],
                    d.image,
                    d.reasons
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                "a Some(\"app\"): branch `main` needs it for image `app` at commit 0123456789ab (p)",
                "b None: used by Deployment `ns/web` in context `ctx`",
                "c None: fresh: first seen at 96400 (unix time), inside the keep window",
                "d Some(\"old-app\"): ",
                "e None: fresh: no record of when it appeared",
                "l None: not a werf-rs image tag",
            ]
        );
        assert_eq!(
            out.iter()
                .filter(|d| !d.keep())
                .map(|d| &d.tag)
                .collect::<Vec<_>>(),
            [&t('d')]
        );
        // With the fresh policy off, c and e go too.
        let out = decide(&Inputs {
            tags: &tags,
            history: &history,
            in_use: &in_use,
            first_seen: &first_seen,
            fresh_within: None,
            images: &images,
            now,
        });
        assert_eq!(
            out.iter()
                .filter(|d| !d.keep())
                .map(|d| &d.tag[..1])
                .collect::<Vec<_>>(),
            ["c", "d", "e"]
        );
    }

    #[test]
    fn a_shared_manifest_or_a_use_by_digest_keeps_a_tag() {
        let d = |tag: &str, keep: bool| Decision {
            tag: tag.into(),
            image: None,
            reasons: if keep { vec![Reason::NotOurs] } else { vec![] },
        };
        let mut decisions = vec![
            d("x", false),
            d("y", false),
            d("z", false),
            d("latest", true),
        ];
        let digests: BTreeMap<String, String> = [
            ("x".to_string(), "sha256:1".to_string()),
            ("y".to_string(), "sha256:2".to_string()),
            ("z".to_string(), "sha256:3".to_string()),
        ]
        .into_iter()
        .collect();
        let kept = [("sha256:1".to_string(), "latest".to_string())]
            .into_iter()
            .collect();
        let uses = [(
            "sha256:2".to_string(),
            vec![Use {
                context: "c".into(),
                namespace: "n".into(),
                kind: "Pod".into(),
                name: "p".into(),
            }],
        )]
        .into_iter()
        .collect();
        protect_shared(&mut decisions, &digests, &kept, &uses);
        let shown: Vec<String> = decisions
            .iter()
            .map(|d| {
                format!(
                    "{}: {}",
                    d.tag,
                    d.reasons
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                "x: its manifest is also kept tag `latest`'s",
                "y: used by Pod `n/p` in context `c`",
                "z: ",
                "latest: not a werf-rs image tag",
            ]
        );
    }

    #[test]
    fn an_import_record_stays_exactly_while_its_source_stays() {
        let spec = crate::imports::ImportSpec {
            source: "builder".into(),
            add: "/out".into(),
            include: Vec::new(),
            exclude: Vec::new(),
        };
        let record = |source: &str| {
            crate::imports::record_tag(&crate::imports::key(source, &spec), &"c".repeat(48))
        };
        let (kept_record, gone_record) = (record(&t('a')), record(&t('b')));
        let tags: BTreeSet<String> = [t('a'), t('b'), kept_record.clone(), gone_record.clone()]
            .into_iter()
            .collect();
        let history = vec![Kept {
            tag: t('a'),
            image: "builder".into(),
            commit: "0123456789abcdef".into(),
            reference: "branch `main`".into(),
            policy: "p".into(),
        }];
        let out = decide(&Inputs {
            tags: &tags,
            history: &history,
            in_use: &BTreeMap::new(),
            first_seen: &BTreeMap::new(),
            fresh_within: None,
            images: &BTreeMap::new(),
            now: 0,
        });
        let by_tag: BTreeMap<&str, &Decision> = out.iter().map(|d| (d.tag.as_str(), d)).collect();
        assert_eq!(
            by_tag[kept_record.as_str()].reasons,
            [Reason::RecordOf { source: t('a') }]
        );
        // Its source is deleted, so is the record (it is ours, not another tool's).
        assert!(!by_tag[t('b').as_str()].keep());
        assert!(!by_tag[gone_record.as_str()].keep());
    }

    #[test]
    fn a_custom_tag_goes_with_its_content_tag_and_a_use_of_it_keeps_that() {
        use crate::custom_tag::record_tag;
        let web = Use {
            context: "ctx".into(),
            namespace: "ns".into(),
            kind: "Deployment".into(),
            name: "web".into(),
        };
        // a: kept by history, custom tag `main`; b: old, custom tag `v1` (deleted with it);
        // c: old, but its custom tag `prod` is what a workload runs; `pinned`: no record.
        let tags: BTreeSet<String> = [
            t('a'),
            t('b'),
            t('c'),
            "main".into(),
            "v1".into(),
            "prod".into(),
            "pinned".into(),
            record_tag(&t('a'), "main"),
            record_tag(&t('b'), "v1"),
            record_tag(&t('c'), "prod"),
        ]
        .into_iter()
        .collect();
        let history = vec![Kept {
            tag: t('a'),
            image: "app".into(),
            commit: "0123456789abcdef".into(),
            reference: "branch `main`".into(),
            policy: "p".into(),
        }];
        let in_use = [("prod".to_string(), vec![web.clone()])].into();
        let out = decide(&Inputs {
            tags: &tags,
            history: &history,
            in_use: &in_use,
            first_seen: &BTreeMap::new(),
            fresh_within: None,
            images: &BTreeMap::new(),
            now: 0,
        });
        let by_tag: BTreeMap<&str, &Decision> = out.iter().map(|d| (d.tag.as_str(), d)).collect();
        assert_eq!(
            by_tag["main"].reasons,
            [Reason::CustomTagOf { content: t('a') }]
        );
        assert_eq!(by_tag["v1"].reasons, []);
        assert!(!by_tag[t('b').as_str()].keep());
        assert!(!by_tag[record_tag(&t('b'), "v1").as_str()].keep());
        assert_eq!(
            by_tag[t('c').as_str()].reasons,
            [Reason::InUseThrough {
                custom: "prod".into(),
                by: web.clone()
            }]
        );
        assert_eq!(
            by_tag["prod"].reasons,
            [Reason::InUse(web), Reason::CustomTagOf { content: t('c') }]
        );
        assert_eq!(
            by_tag[record_tag(&t('c'), "prod").as_str()].reasons,
            [Reason::RecordOf { source: t('c') }]
        );
        assert_eq!(by_tag["pinned"].reasons, [Reason::NotOurs]);
        assert_eq!(
            by_tag["main"].reasons[0].to_string(),
            format!("a custom tag of kept tag `{}`", t('a'))
        );
    }
}
