//! Path patterns: `.dockerignore` rules and COPY/ADD source wildcards (Go `filepath.Match` plus `**`);
//! and werf's name lists ([`NamePattern`]: a name, or `/REGEXP/`).

/// An entry of werf's name lists (`imageSpec`'s `removeLabels`, giterminism's
/// `allowEnvVariables`): a name matched exactly, or `/REGEXP/` matched as Go's `MatchString`
/// (anywhere, unless anchored).
pub enum NamePattern {
    Exact(String),
    Regex(regex::Regex),
}

/// A `/REGEXP/` entry that does not compile, with the regex compiler's reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("`{pattern}` is not a valid regular expression: {reason}")]
pub struct BadPattern {
    pattern: String,
    reason: String,
}

impl NamePattern {
    pub fn new(p: &str) -> Result<NamePattern, BadPattern> {
        match p.strip_prefix('/').and_then(|r| r.strip_suffix('/')) {
            Some(re) if p.len() >= 2 => regex::RegexBuilder::new(re)
                .size_limit(1 << 20)
                .build()
                .map(NamePattern::Regex)
                .map_err(|e| BadPattern {
                    pattern: p.to_string(),
                    reason: e.to_string(),
                }),
            _ => Ok(NamePattern::Exact(p.to_string())),
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        match self {
            NamePattern::Exact(e) => e == s,
            NamePattern::Regex(r) => r.is_match(s),
        }
    }
}

/// A compiled glob over `/`-separated relative paths: `*` and `?` stay within one segment,
/// `[...]` is a character class, `**` spans any number of segments.
///
/// Matching never backtracks: the pattern is compiled into tokens and the path is run through
/// them as a set of live positions (a Thompson NFA), so a match costs at most
/// `path length × pattern length` steps whatever the pattern (`*a*a*a*a*b` included).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Glob {
    pattern: String,
    tokens: Vec<Token>,
}

/// One compiled element of a glob.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
enum Token {
    /// A character, matched exactly.
    Char(char),
    /// `?`: one character other than `/`.
    One,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**`: any run of characters.
    DoubleStar,
    /// Reads nothing: the path may go on at this token or at token `to` (`**/` matching no
    /// folder at all is a split past `**/`).
    Split { to: usize },
    /// `[...]`: one character (never `/`) in or out of the ranges.
    Class {
        negate: bool,
        ranges: Vec<(char, char)>,
    },
    /// An unterminated `[`: matches nothing, as in Go's `filepath.Match` (an error there).
    Never,
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
            tokens: compile(pattern),
        }
    }

    /// The pattern text.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the whole `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        self.run(path, false)
    }

    /// Whether `path` or one of its parent folders matches (`a/b/c` by a glob matching `a` or
    /// `a/b`), in the same one pass over `path`.
    pub fn matches_or_parent(&self, path: &str) -> bool {
        self.run(path, true)
    }

    /// The path through the tokens as a set of live positions (a Pike VM without captures):
    /// each character costs at most one step per token.
    fn run(&self, path: &str, parents: bool) -> bool {
        self.may_match(path, parents) && self.run_tokens(path, parents)
    }

    /// A quick refusal before the run (most paths of a listing match no rule): every match
    /// ends with the pattern's trailing literal characters, so a path that does not end with
    /// them (nor, with `parents`, any of its parent folders) cannot match. The tail starts past
    /// the last token a split may jump to, as the characters before may be skipped.
    fn may_match(&self, path: &str, parents: bool) -> bool {
        let mut start = self.tokens.len();
        while start > 0 && matches!(self.tokens[start - 1], Token::Char(_)) {
            start -= 1;
        }
        let jumps = self.tokens.iter().filter_map(|t| match t {
            Token::Split { to } => Some(*to),
            _ => None,
        });
        let start = jumps.fold(start, usize::max).min(self.tokens.len());
        let tail = &self.tokens[start..];
        if tail.is_empty() {
            return true;
        }
        let ends_with_tail = |s: &str| {
            let mut chars = s.chars().rev();
            tail.iter()
                .rev()
                .all(|t| matches!(t, Token::Char(c) if chars.next() == Some(*c)))
        };
        ends_with_tail(path)
            || (parents
                && path
                    .match_indices('/')
                    .any(|(i, _)| ends_with_tail(&path[..i])))
    }

    fn run_tokens(&self, path: &str, parents: bool) -> bool {
        let end = self.tokens.len();
        // `stamp[i] == generation`: position `i` is in the current set.
        let mut stamp = vec![0u32; end + 1];
        let mut generation = 1u32;
        let (mut live, mut next, mut stack) = (Vec::new(), Vec::new(), Vec::new());
        self.add(0, &mut live, &mut stamp, generation, &mut stack);
        for c in path.chars() {
            if parents && c == '/' && stamp[end] == generation {
                return true;
            }
            generation += 1;
            next.clear();
            for &i in &live {
                let Some(token) = self.tokens.get(i) else {
                    continue;
                };
                let (stay, advance) = step(token, c);
                if stay {
                    self.add(i, &mut next, &mut stamp, generation, &mut stack);
                }
                if advance {
                    self.add(i + 1, &mut next, &mut stamp, generation, &mut stack);
                }
            }
            if next.is_empty() {
                return false;
            }
            std::mem::swap(&mut live, &mut next);
        }
        stamp[end] == generation
    }

    /// Adds position `i` and every position reachable from it without reading a character:
    /// past a star (which may match nothing), and both ways of a split.
    fn add(
        &self,
        i: usize,
        list: &mut Vec<usize>,
        stamp: &mut [u32],
        generation: u32,
        stack: &mut Vec<usize>,
    ) {
        stack.push(i);
        while let Some(i) = stack.pop() {
            if stamp[i] == generation {
                continue;
            }
            stamp[i] = generation;
            list.push(i);
            match self.tokens.get(i) {
                Some(Token::Star | Token::DoubleStar) => stack.push(i + 1),
                Some(Token::Split { to }) => stack.extend([i + 1, *to]),
                _ => {}
            }
        }
    }
}

/// What reading `c` at `token` allows: (stay at the token, move past it).
fn step(token: &Token, c: char) -> (bool, bool) {
    match token {
        Token::Char(t) => (false, *t == c),
        Token::One => (false, c != '/'),
        Token::Star => (c != '/', false),
        Token::DoubleStar => (true, false),
        Token::Split { .. } => (false, false),
        Token::Class { negate, ranges } => {
            let inside = ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi);
            (false, c != '/' && inside != *negate)
        }
        Token::Never => (false, false),
    }
}

fn compile(pattern: &str) -> Vec<Token> {
    let p: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '*' if p.get(i + 1) == Some(&'*') => {
                if p.get(i + 2) == Some(&'/') {
                    // `**/`: no folder at all (on past the slash), or `**` then `/`.
                    let to = tokens.len() + 3;
                    tokens.extend([Token::Split { to }, Token::DoubleStar, Token::Char('/')]);
                    i += 3;
                } else {
                    tokens.push(Token::DoubleStar);
                    i += 2;
                }
            }
            '*' => {
                tokens.push(Token::Star);
                i += 1;
            }
            '?' => {
                tokens.push(Token::One);
                i += 1;
            }
            '[' => match class(&p[i + 1..]) {
                Some((token, used)) => {
                    tokens.push(token);
                    i += 1 + used;
                }
                None => {
                    tokens.push(Token::Never);
                    break;
                }
            },
            '\\' if i + 1 < p.len() => {
                tokens.push(Token::Char(p[i + 1]));
                i += 2;
            }
            c => {
                tokens.push(Token::Char(c));
                i += 1;
            }
        }
    }
    tokens
}

/// Compiles a class body (after `[`); returns the token and the characters used, `]` included.
fn class(p: &[char]) -> Option<(Token, usize)> {
    let mut i = 0;
    let negate = matches!(p.first(), Some('^' | '!'));
    if negate {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((Token::Class { negate, ranges }, i + 1));
        }
        first = false;
        let lo = p[i];
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|h| *h != ']') {
            ranges.push((lo, p[i + 2]));
            i += 3;
        } else {
            ranges.push((lo, lo));
            i += 1;
        }
    }
    None
}

/// One `.dockerignore` rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct IgnoreRule {
    pub glob: Glob,
    /// `!pattern`: re-include.
    pub negated: bool,
}

/// Parsed `.dockerignore`: rules in order, the last matching rule wins.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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

/// Parent directories count: `a/b/c` is excluded by a rule matching `a` or `a/b`.
fn rule_matches(glob: &Glob, path: &str) -> bool {
    glob.matches_or_parent(path)
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
        assert!(Glob::new("a/**/b").matches("a/b"));
        assert!(Glob::new("a/**/b").matches("a/x/y/b"));
        assert!(!Glob::new("a/**/b").matches("a/xb"));
        assert!(Glob::new("a\\*").matches("a*"));
        assert!(!Glob::new("a\\*").matches("ab"));
        assert!(!Glob::new("a[b").matches("a[b"));
        assert!(!Glob::new("[a]").matches("/"));
    }

    #[test]
    fn a_path_or_a_parent_in_one_pass() {
        let g = Glob::new("a/*");
        assert!(g.matches_or_parent("a/b"));
        assert!(g.matches_or_parent("a/b/c/d"));
        assert!(!g.matches_or_parent("a"));
        assert!(!g.matches_or_parent("b/a/c"));
        let deep = Glob::new("x");
        assert!(deep.matches_or_parent("x/y"));
        assert!(!deep.matches_or_parent("xy/z"));
        // Agrees with asking each prefix.
        for path in ["a", "a/b", "a/b/c", "ab/c", "a//b", "/a", "a/"] {
            for pattern in ["a", "a/b", "*", "a/*", "**/b", "?/b", "a/**"] {
                let g = Glob::new(pattern);
                let by_prefix =
                    g.matches(path) || path.match_indices('/').any(|(i, _)| g.matches(&path[..i]));
                assert_eq!(
                    g.matches_or_parent(path),
                    by_prefix,
                    "`{pattern}` on `{path}`"
                );
            }
        }
    }

    #[test]
    fn the_quick_refusal_refuses_only_what_the_run_refuses() {
        let patterns = [
            "**/*.md",
            "tmp",
            "tmp/",
            "a/**/",
            "**/",
            "a/**/b",
            "*.go",
            "x\\*",
            "[ab]c",
            "a?",
            "**/b/c",
            "a/**/b/**/",
            "c",
            "",
            "*",
            "a[b",
        ];
        let paths = [
            "README.md",
            "a/b.md",
            "a/b.go",
            "a/b.md/c",
            "tmp",
            "tmp/x",
            "a/tmp",
            "xtmp",
            "a/b",
            "a/x/b",
            "a/x/b/c",
            "c",
            "b/c",
            "bc",
            "x*",
            "a/",
            "ab",
            "a/b/c/d.md",
        ];
        let mut refused = 0;
        for pattern in patterns {
            let g = Glob::new(pattern);
            for path in paths {
                for parents in [false, true] {
                    let whole = g.run_tokens(path, parents);
                    assert_eq!(
                        g.run(path, parents),
                        whole,
                        "`{pattern}` on `{path}` (parents: {parents})"
                    );
                    if !g.may_match(path, parents) {
                        refused += 1;
                    }
                }
            }
        }
        assert!(refused > 100, "the refusal applies: {refused}");
        assert!(!Glob::new("**/*.md").may_match("a/b.go", true));
        assert!(Glob::new("**/*.md").may_match("a.md/b.go", true));
    }

    #[test]
    fn a_pattern_made_to_backtrack_answers_at_once() {
        // Exponential for a backtracking matcher (it never finished on 200 characters).
        let glob = Glob::new("*a*a*a*a*a*a*a*a*a*a*b");
        let name = "a".repeat(200);
        assert!(!glob.matches(&name));
        assert!(glob.matches(&format!("{name}b")));
        let deep = Glob::new("**/**/**/**/**/**/**/**/x");
        let path = "d/".repeat(500);
        assert!(!deep.matches(&path));
        assert!(deep.matches(&format!("{path}x")));
    }

    /// The backtracking definition the compiled matcher must agree with (small inputs only).
    fn reference(p: &[char], s: &[char]) -> bool {
        if p.is_empty() {
            return s.is_empty();
        }
        match p[0] {
            '*' if p.get(1) == Some(&'*') => {
                let rest = &p[2..];
                if rest.first() == Some(&'/') && reference(&rest[1..], s) {
                    return true;
                }
                (0..=s.len()).any(|i| reference(rest, &s[i..]))
            }
            '*' => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != '/')
                .any(|i| reference(&p[1..], &s[i..])),
            '?' => !s.is_empty() && s[0] != '/' && reference(&p[1..], &s[1..]),
            c => !s.is_empty() && s[0] == c && reference(&p[1..], &s[1..]),
        }
    }

    #[test]
    fn the_compiled_matcher_agrees_with_the_backtracking_definition() {
        // Every pattern and path over a small alphabet, up to a few characters each.
        fn all(alphabet: &[char], max: usize) -> Vec<String> {
            let mut out = vec![String::new()];
            let mut frontier = vec![String::new()];
            for _ in 0..max {
                frontier = frontier
                    .iter()
                    .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                    .collect();
                out.extend(frontier.iter().cloned());
            }
            out
        }
        let patterns = all(&['a', '/', '*', '?'], 5);
        let paths = all(&['a', 'b', '/'], 5);
        let mut checked = 0;
        for p in &patterns {
            let glob = Glob::new(p);
            let pc: Vec<char> = p.chars().collect();
            for s in &paths {
                let sc: Vec<char> = s.chars().collect();
                assert_eq!(glob.matches(s), reference(&pc, &sc), "`{p}` against `{s}`");
                checked += 1;
            }
        }
        assert_eq!(checked, patterns.len() * paths.len());
        assert!(checked > 100_000);
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

    #[test]
    fn fuzz_glob_and_ignore_files() {
        // Input: a pattern, a NUL, a path. Never a panic; on short inputs, the definition's answer.
        let seeds: &[&[u8]] = &[
            b"**/*.go\0a/b/main.go",
            b"f?le[!0-9]\0file7",
            b"*a*a*a*a*b\0aaaaaaaaaaaaaaaaaaaa",
            b"a/**/b\0a/x/y/b",
            b"[a-\0x",
        ];
        werf_fuzz::run("glob", seeds, |input| {
            let text = String::from_utf8_lossy(input);
            let (pattern, path) = text.split_once('\0').unwrap_or((&text, ""));
            let glob = Glob::new(pattern);
            let got = glob.matches(path);
            let simple = !pattern.contains(['[', '\\']);
            if simple && pattern.chars().count() <= 10 && path.chars().count() <= 12 {
                let (p, s): (Vec<char>, Vec<char>) =
                    (pattern.chars().collect(), path.chars().collect());
                assert_eq!(got, reference(&p, &s), "`{pattern}` against `{path}`");
            }
            let ignore = DockerIgnore::parse(&text);
            let _ = ignore.is_excluded(path);
            let _ = crate::chart::ignore::Rules::parse(&text);
        });
    }
}
