//! `cleanup.keepPolicies` typed: reference selectors, limits and durations, with werf's defaults.
//!
//! werf's semantics: `branch:`/`tag:` is a literal name (matched whole) or a `/regexp/` (Go
//! syntax, unanchored); `limit.last` defaults to unlimited, `limit.operator` to `And`;
//! `imagesPerReference.last` defaults to 1 when the policy sets no `imagesPerReference`, and
//! `-1` means unlimited. Without any policy, werf's three defaults apply (see [`defaults`]).

use std::fmt;

use regex::Regex;

use crate::config::{CleanupMeta, Limit, LimitOperator};
use crate::error::{Error, Location, Result};

/// How a `last` and an `in` limit combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    And,
    Or,
}

/// A `last`/`in`/`operator` limit, `in` in seconds; `last: None` is unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub last: Option<u64>,
    pub within: Option<i64>,
    pub operator: Operator,
}

impl Window {
    /// No limit at all.
    pub const UNLIMITED: Window = Window {
        last: None,
        within: None,
        operator: Operator::And,
    };
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.last.map(|n| format!("last {n}"));
        let within = self.within.map(|s| format!("within {}", hours(s)));
        match (last, within) {
            (Some(l), Some(w)) => {
                let op = match self.operator {
                    Operator::And => "and",
                    Operator::Or => "or",
                };
                write!(f, "{l} {op} {w}")
            }
            (Some(x), None) | (None, Some(x)) => f.write_str(&x),
            (None, None) => f.write_str("all"),
        }
    }
}

fn hours(secs: i64) -> String {
    if secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else {
        format!("{secs}s")
    }
}

/// A reference name pattern: a literal name or a regular expression.
#[derive(Clone, Debug)]
pub enum Matcher {
    Literal(String),
    Regex(Regex),
}

impl Matcher {
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Literal(l) => l == name,
            Matcher::Regex(r) => r.is_match(name),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Literal(l) => f.write_str(l),
            Matcher::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// Branches or tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefKind {
    Branch,
    Tag,
}

impl fmt::Display for RefKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefKind::Branch => "branch",
            RefKind::Tag => "tag",
        })
    }
}

/// One keep policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// `keepPolicies[N]`, or `None` for werf's defaults.
    pub index: Option<usize>,
    pub kind: RefKind,
    pub matcher: Matcher,
    /// `references.limit`.
    pub references: Option<Window>,
    /// `imagesPerReference`.
    pub images_per_reference: Window,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "keepPolicies[{i}]")?,
            None => f.write_str("default policy")?,
        }
        write!(f, " ({} {}", self.kind, self.matcher)?;
        if let Some(r) = &self.references {
            write!(f, ", references {r}")?;
        }
        if self.kind == RefKind::Branch {
            write!(f, ", images {}", self.images_per_reference)?;
        }
        f.write_str(")")
    }
}

/// What `cleanup:` asks for, resolved.
#[derive(Clone, Debug)]
pub struct Cleanup {
    /// `cleanup.disable`: the command does nothing.
    pub disabled: bool,
    pub policies: Vec<Policy>,
    pub git_history: bool,
    pub kubernetes: bool,
    /// `keepImagesBuiltWithinLastNHours` in seconds; `None` when that policy is disabled.
    pub fresh_within: Option<i64>,
}

/// Resolves werf.yaml's `cleanup:` (errors name the field, in file `file`).
pub fn resolve(meta: &CleanupMeta, file: &str) -> Result<Cleanup> {
    let err = |path: String, message: String| Error::Config {
        at: Location {
            file: file.to_string(),
            line: 0,
            column: 0,
        },
        message: format!("`cleanup.{path}`: {message}"),
    };
    let mut policies = Vec::new();
    for (i, p) in meta.keep_policies.iter().enumerate() {
        let at = |field: &str| format!("keepPolicies[{i}].{field}");
        let refs = p.references.as_ref().ok_or_else(|| {
            err(
                at("references"),
                "is required (a `branch` or a `tag`)".into(),
            )
        })?;
        let (kind, text, field) = match (&refs.branch, &refs.tag) {
            (Some(b), None) => (RefKind::Branch, b, "references.branch"),
            (None, Some(t)) => (RefKind::Tag, t, "references.tag"),
            (Some(_), Some(_)) => {
                return Err(err(
                    at("references"),
                    "takes a `branch` or a `tag`, not both".into(),
                ))
            }
            (None, None) => {
                return Err(err(at("references"), "needs a `branch` or a `tag`".into()))
            }
        };
        let matcher = matcher(text).map_err(|e| err(at(field), e.to_string()))?;
        let references = refs
            .limit
            .as_ref()
            .map(|l| window(l, None).map_err(|e| err(at("references.limit"), e.to_string())))
            .transpose()?;
        let images_per_reference = match &p.images_per_reference {
            Some(l) => {
                window(l, Some(1)).map_err(|e| err(at("imagesPerReference"), e.to_string()))?
            }
            None => Window {
                last: Some(1),
                ..Window::UNLIMITED
            },
        };
        policies.push(Policy {
            index: Some(i),
            kind,
            matcher,
            references,
            images_per_reference,
        });
    }
    if policies.is_empty() {
        policies = defaults();
    }
    let fresh_within = (meta.disable_built_within_last_n_hours_policy != Some(true)).then(|| {
        let hours = meta.keep_images_built_within_last_n_hours.unwrap_or(2);
        i64::try_from(hours.saturating_mul(3600)).unwrap_or(i64::MAX)
    });
    Ok(Cleanup {
        disabled: meta.disable == Some(true),
        policies,
        git_history: meta.disable_git_history_based_policy != Some(true),
        kubernetes: meta.disable_kubernetes_based_policy != Some(true),
        fresh_within,
    })
}

/// werf's policies when werf.yaml sets none: the last 10 tags; the 10 branches active within a
/// week with up to 2 images each from that week; 2 images of `main|master|staging|production`.
pub fn defaults() -> Vec<Policy> {
    let week = 7 * 24 * 3600;
    let re = |s: &str| Matcher::Regex(Regex::new(s).expect("default patterns compile"));
    vec![
        Policy {
            index: None,
            kind: RefKind::Tag,
            matcher: re(".*"),
            references: Some(Window {
                last: Some(10),
                ..Window::UNLIMITED
            }),
            images_per_reference: Window {
                last: Some(1),
                ..Window::UNLIMITED
            },
        },
        Policy {
            index: None,
            kind: RefKind::Branch,
            matcher: re(".*"),
            references: Some(Window {
                last: Some(10),
                within: Some(week),
                operator: Operator::And,
            }),
            images_per_reference: Window {
                last: Some(2),
                within: Some(week),
                operator: Operator::And,
            },
        },
        Policy {
            index: None,
            kind: RefKind::Branch,
            matcher: re("^(main|master|staging|production)$"),
            references: None,
            images_per_reference: Window {
                last: Some(2),
                ..Window::UNLIMITED
            },
        },
    ]
}

/// Why a keep policy's reference or limit cannot be read.
#[derive(Debug, thiserror::Error)]
enum PolicyError {
    #[error("`{text}` is not a valid regular expression: {cause}")]
    Regex { text: String, cause: regex::Error },
    #[error("is empty")]
    Empty,
    #[error("`last: {0}` must be -1 (no limit) or at least 0")]
    Last(i64),
    #[error("`in: {text}` is not a duration (`168h`, `30m`): {cause}")]
    Duration {
        text: String,
        cause: gotemplate::date::DurationError,
    },
    #[error("`in: {0}` is negative")]
    Negative(String),
}

/// `name` or `/regexp/`.
fn matcher(text: &str) -> std::result::Result<Matcher, PolicyError> {
    match text
        .strip_prefix('/')
        .and_then(|t| t.strip_suffix('/'))
        .filter(|_| text.len() >= 2)
    {
        Some(re) => Regex::new(re)
            .map(Matcher::Regex)
            .map_err(|cause| PolicyError::Regex {
                text: text.to_string(),
                cause,
            }),
        None if text.is_empty() => Err(PolicyError::Empty),
        None => Ok(Matcher::Literal(text.to_string())),
    }
}

/// A config limit; `last: -1` is unlimited, `default_last` applies when `last` is absent.
fn window(l: &Limit, default_last: Option<u64>) -> std::result::Result<Window, PolicyError> {
    let last = match l.last {
        None => default_last,
        Some(-1) => None,
        Some(n) if n >= 0 => Some(n as u64),
        Some(n) => return Err(PolicyError::Last(n)),
    };
    let within = l
        .within
        .as_deref()
        .map(|d| {
            let nanos =
                gotemplate::date::parse_duration(d).map_err(|cause| PolicyError::Duration {
                    text: d.to_string(),
                    cause,
                })?;
            if nanos < 0 {
                return Err(PolicyError::Negative(d.to_string()));
            }
            Ok(i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX))
        })
        .transpose()?;
    let operator = match l.operator {
        Some(LimitOperator::Or) => Operator::Or,
        _ => Operator::And,
    };
    Ok(Window {
        last,
        within,
        operator,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{KeepPolicy, References};

    fn policy(branch: Option<&str>, tag: Option<&str>) -> KeepPolicy {
        KeepPolicy {
            references: Some(References {
                branch: branch.map(String::from),
                tag: tag.map(String::from),
                limit: None,
            }),
            images_per_reference: None,
        }
    }

    #[test]
    fn no_policy_means_werfs_three_defaults() {
        let c = resolve(&CleanupMeta::default(), "werf.yaml").unwrap();
        assert_eq!(c.policies.len(), 3);
        assert_eq!(
            c.policies.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            [
                "default policy (tag /.*/, references last 10)",
                "default policy (branch /.*/, references last 10 and within 168h, images last 2 and within 168h)",
                "default policy (branch /^(main|master|staging|production)$/, images last 2)",
            ]
        );
        assert_eq!(c.fresh_within, Some(7200));
        assert!(c.git_history && c.kubernetes);
    }

    #[test]
    fn literals_match_whole_names_and_regexps_anywhere() {
        let lit = matcher("main").unwrap();
        assert!(lit.matches("main"));
        assert!(!lit.matches("main2"));
        let re = matcher("/^feature-/").unwrap();
        assert!(re.matches("feature-x"));
        assert!(!re.matches("x-feature-"));
        let any = matcher("/fix/").unwrap();
        assert!(any.matches("hotfix-1"));
    }

    #[test]
    fn images_per_reference_defaults_to_one_and_minus_one_is_unlimited() {
        let mut meta = CleanupMeta::default();
        meta.keep_policies.push(policy(Some("main"), None));
        let mut p = policy(Some("/.*/"), None);
        p.images_per_reference = Some(Limit {
            last: Some(-1),
            within: Some("12h".into()),
            operator: Some(LimitOperator::Or),
        });
        meta.keep_policies.push(p);
        let c = resolve(&meta, "werf.yaml").unwrap();
        assert_eq!(c.policies[0].images_per_reference.last, Some(1));
        assert_eq!(
            c.policies[1].images_per_reference,
            Window {
                last: None,
                within: Some(12 * 3600),
                operator: Operator::Or
            }
        );
    }

    #[test]
    fn bad_policies_name_the_field() {
        let cases: Vec<(KeepPolicy, &str)> = vec![
            (
                policy(Some("/(/"), None),
                "`cleanup.keepPolicies[0].references.branch`: `/(/` is not a valid regular expression",
            ),
            (
                policy(Some("a"), Some("b")),
                "`cleanup.keepPolicies[0].references`: takes a `branch` or a `tag`, not both",
            ),
            (
                KeepPolicy {
                    references: Some(References {
                        branch: Some("main".into()),
                        tag: None,
                        limit: Some(Limit {
                            last: None,
                            within: Some("a week".into()),
                            operator: None,
                        }),
                    }),
                    images_per_reference: None,
                },
                "`cleanup.keepPolicies[0].references.limit`: `in: a week` is not a duration",
            ),
            (
                KeepPolicy {
                    references: Some(References {
                        branch: Some("main".into()),
                        tag: None,
                        limit: None,
                    }),
                    images_per_reference: Some(Limit {
                        last: Some(-2),
                        within: None,
                        operator: None,
                    }),
                },
                "`cleanup.keepPolicies[0].imagesPerReference`: `last: -2` must be -1",
            ),
        ];
        for (p, want) in cases {
            let meta = CleanupMeta {
                keep_policies: vec![p],
                ..Default::default()
            };
            let e = resolve(&meta, "werf.yaml").unwrap_err().to_string();
            assert!(e.starts_with("werf.yaml: "), "{e}");
            assert!(e.contains(want), "{e}\nwant: {want}");
        }
    }

    #[test]
    fn switches_turn_policies_off() {
        let meta = CleanupMeta {
            disable_kubernetes_based_policy: Some(true),
            disable_git_history_based_policy: Some(true),
            disable_built_within_last_n_hours_policy: Some(true),
            ..Default::default()
        };
        let c = resolve(&meta, "werf.yaml").unwrap();
        assert!(!c.kubernetes && !c.git_history);
        assert_eq!(c.fresh_within, None);
        let meta = CleanupMeta {
            keep_images_built_within_last_n_hours: Some(0),
            ..Default::default()
        };
        assert_eq!(resolve(&meta, "werf.yaml").unwrap().fresh_within, Some(0));
    }
}
