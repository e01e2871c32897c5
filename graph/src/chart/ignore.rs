//! `.helmignore`, as Helm's `pkg/ignore` reads and applies it: shell globs (`filepath.Match`),
//! a pattern without `/` matched against the base name, a trailing `/` for folders only, a
//! leading `/` anchored at the chart root, `!` negation with Helm's own rule (a negated pattern
//! that does not match ignores the path), `**` refused; and the default `templates/.?*`.

use crate::pattern::Glob;

#[derive(Clone, Debug)]
struct Rule {
    glob: Glob,
    negate: bool,
    dir_only: bool,
    /// Match the base name only (the pattern has no `/`).
    base_only: bool,
}

/// A `.helmignore` line Helm refuses, worded as Helm words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("double-star (**) syntax is not supported")]
    DoubleStar,
    #[error("`{0}`: syntax error in pattern")]
    Syntax(String),
}

/// The rules of one chart.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// Parses `.helmignore` text (errors name the line), then adds Helm's default rule.
    pub fn parse(text: &str) -> Result<Rules, (usize, RuleError)> {
        let mut rules = Rules::default();
        for (i, line) in text.lines().enumerate() {
            rules.add(line).map_err(|m| (i + 1, m))?;
        }
        rules.add_defaults();
        Ok(rules)
    }

    /// Only Helm's default rule (a chart without `.helmignore`).
    pub fn defaults() -> Rules {
        let mut rules = Rules::default();
        rules.add_defaults();
        rules
    }

    fn add_defaults(&mut self) {
        // Dot files under templates/ are never templates.
        let _ = self.add("templates/.?*");
    }

    fn add(&mut self, line: &str) -> Result<(), RuleError> {
        let mut rule = line.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err(RuleError::DoubleStar);
        }
        if rule.matches('[').count() != rule.matches(']').count() {
            return Err(RuleError::Syntax(rule.to_string()));
        }
        let negate = rule.starts_with('!');
        if negate {
            rule = &rule[1..];
        }
        let dir_only = rule.ends_with('/');
        let rule = rule.trim_end_matches('/');
        let (pattern, base_only) = if let Some(anchored) = rule.strip_prefix('/') {
            (anchored, false)
        } else {
            (rule, !rule.contains('/'))
        };
        self.rules.push(Rule {
            glob: Glob::new(pattern),
            negate,
            dir_only,
            base_only,
        });
        Ok(())
    }

    /// Whether `path` (chart-relative, `/`-separated) is ignored; `is_dir` for folders (an
    /// ignored folder is skipped whole).
    pub fn ignores(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." {
            return false;
        }
        let base = path.rsplit('/').next().unwrap_or(path);
        for r in &self.rules {
            let subject = if r.base_only { base } else { path };
            if r.negate {
                if r.dir_only && !is_dir {
                    return true;
                }
                if !r.glob.matches(subject) {
                    return true;
                }
                continue;
            }
            if r.dir_only && !is_dir {
                continue;
            }
            if r.glob.matches(subject) {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_as_helm_applies_them() {
        let rules =
            Rules::parse("# comment\n*.bak\n/secret.txt\ndocs/\nnested/*.tmp\n").expect("parses");
        assert!(
            rules.ignores("a/b/file.bak", false),
            "base-name match anywhere"
        );
        assert!(rules.ignores("secret.txt", false));
        assert!(
            !rules.ignores("sub/secret.txt", false),
            "anchored at the root"
        );
        assert!(rules.ignores("docs", true));
        assert!(!rules.ignores("docs", false), "folders only");
        assert!(rules.ignores("nested/x.tmp", false));
        assert!(!rules.ignores("nested/deeper/x.tmp", false));
        assert!(
            rules.ignores("templates/.hidden.yaml", false),
            "the default rule"
        );
        assert!(!rules.ignores("templates/deployment.yaml", false));
        assert_eq!(Rules::parse("ok\na/**/b\n").expect_err("double star").0, 2);
    }
}
