//! Path patterns: `.dockerignore` rules and COPY/ADD source wildcards (Go `filepath.Match` plus `**`).

/// A compiled glob over `/`-separated relative paths: `*` and `?` stay within one segment,
/// `[...]` is a character class, `**` spans any number of segments.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Glob {
    pattern: String,
}

/// True if `s` contains glob metacharacters.
pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

impl Glob {
    /// Compiles a pattern (already cleaned: no leading `/`, no `./`).
    pub fn new(pattern: &str) -> Self {
        Glob {
            pattern: pattern.to_string(),
        }
    }

    /// The pattern text.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the whole `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        let p: Vec<char> = self.pattern.chars().collect();
        let s: Vec<char> = path.chars().collect();
        match_here(&p, &s)
    }
}

fn match_here(p: &[char], s: &[char]) -> bool {
    if p.is_empty() {
        return s.is_empty();
    }
    match p[0] {
        '*' if p.get(1) == Some(&'*') => {
            // `**/` may match zero segments; `**` anything at all.
            let rest = &p[2..];
            if rest.first() == Some(&'/') && match_here(&rest[1..], s) {
                return true;
            }
            (0..=s.len()).any(|i| match_here(rest, &s[i..]))
        }
        '*' => {
            let rest = &p[1..];
            let mut i = 0;
            loop {
                if match_here(rest, &s[i..]) {
                    return true;
                }
                if i == s.len() || s[i] == '/' {
                    return false;
                }
                i += 1;
            }
        }
        '?' => !s.is_empty() && s[0] != '/' && match_here(&p[1..], &s[1..]),
        '[' => {
            let Some((matched, used)) = s.first().and_then(|c| class_match(&p[1..], *c)) else {
                return false;
            };
            matched && s[0] != '/' && match_here(&p[1 + used..], &s[1..])
        }
        '\\' if p.len() > 1 => !s.is_empty() && s[0] == p[1] && match_here(&p[2..], &s[1..]),
        c => !s.is_empty() && s[0] == c && match_here(&p[1..], &s[1..]),
    }
}

/// Matches `c` against a class body (after `[`); returns (matched, chars used including `]`).
fn class_match(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 0;
    let negate = matches!(p.first(), Some('^' | '!'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = p[i];
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|h| *h != ']') {
            if lo <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

/// One `.dockerignore` rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IgnoreRule {
    pub glob: Glob,
    /// `!pattern`: re-include.
    pub negated: bool,
}

/// Parsed `.dockerignore`: rules in order, the last matching rule wins.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DockerIgnore {
    pub rules: Vec<IgnoreRule>,
}

impl DockerIgnore {
    /// Parses `.dockerignore` text: comments and blank lines dropped, patterns cleaned.
    pub fn parse(text: &str) -> Self {
        let rules = text
            .lines()
            .filter_map(|l| {
                let t = l.trim();
                if t.is_empty() || t.starts_with('#') {
                    return None;
                }
                let (negated, pat) = match t.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, t),
                };
                let cleaned = clean(pat);
                if cleaned.is_empty() {
                    return None;
                }
                Some(IgnoreRule {
                    glob: Glob::new(&cleaned),
                    negated,
                })
            })
            .collect();
        DockerIgnore { rules }
    }

    /// No rules at all: nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// True if some rule re-includes paths (then excluded directories must still be walked).
    pub fn has_negations(&self) -> bool {
        self.rules.iter().any(|r| r.negated)
    }

    /// Whether `path` (relative to the context) is excluded. A rule matches a path or any of its
    /// parent directories, as in Docker.
    pub fn is_excluded(&self, path: &str) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            if rule_matches(&rule.glob, path) {
                excluded = !rule.negated;
            }
        }
        excluded
    }

    /// A canonical text of the rules, for cache keys and digests (comments and order-preserving).
    pub fn canonical(&self) -> String {
        self.rules
            .iter()
            .map(|r| format!("{}{}\n", if r.negated { "!" } else { "" }, r.glob.as_str()))
            .collect()
    }
}

fn rule_matches(glob: &Glob, path: &str) -> bool {
    if glob.matches(path) {
        return true;
    }
    // Parent directories: `a/b/c` is excluded by a rule matching `a` or `a/b`.
    path.match_indices('/')
        .any(|(i, _)| glob.matches(&path[..i]))
}

/// Joins two `/`-separated relative paths, either of which may be empty.
pub fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

/// Cleans a pattern like Go's `filepath.Clean`, without a leading `/` or `./`.
pub fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(Glob::new("*.go").matches("main.go"));
        assert!(!Glob::new("*.go").matches("a/main.go"));
        assert!(Glob::new("**/*.go").matches("a/b/main.go"));
        assert!(Glob::new("**/*.go").matches("main.go"));
        assert!(Glob::new("a/**").matches("a/b/c"));
        assert!(Glob::new("f?le[0-9]").matches("file7"));
        assert!(!Glob::new("f?le[!0-9]").matches("file7"));
    }

    #[test]
    fn dockerignore_last_rule_wins_and_parents_match() {
        let di = DockerIgnore::parse("# c\nnode_modules\n*.md\n!README.md\n/tmp/\n");
        assert!(di.is_excluded("node_modules/x/y.js"));
        assert!(di.is_excluded("CHANGES.md"));
        assert!(!di.is_excluded("README.md"));
        assert!(di.is_excluded("tmp/a"));
        assert!(!di.is_excluded("src/x.md"));
        assert_eq!(di.canonical(), "node_modules\n*.md\n!README.md\ntmp\n");
    }
}
