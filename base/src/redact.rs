//! Keeping secrets out of what we print: URLs lose their `user:password@`, known secret values
//! are masked, and parser messages are cut down to where the problem is.

/// What stands in for a removed secret.
pub const MASK: &str = "[REDACTED]";

/// `text` with the userinfo of every URL in it removed (`https://u:p@host/x` -> `https://host/x`).
pub fn urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the first `/`, `?`, `#`, whitespace or quote.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#' | '`' | '"' | '\'') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => out.push_str(&authority[at + 1..]),
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// An image reference without `user:password@` in front of its host (a `--repo` written like a
/// URL with credentials), and URLs in it without userinfo.
pub fn reference(text: &str) -> String {
    let text = urls(text);
    match text.split_once('@') {
        Some((before, after)) if !before.contains('/') && before.contains(':') => {
            format!("{MASK}@{after}")
        }
        _ => text,
    }
}

/// Secret values known to a run (tokens, passwords, keys), masked wherever they would be printed.
#[derive(Clone, Debug, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// Remembers `value` as secret (empty and very short values are not worth masking).
    pub fn add(&mut self, value: &str) {
        let value = value.trim();
        if value.len() >= 4 && !self.0.iter().any(|s| s == value) {
            self.0.push(value.to_string());
        }
    }

    /// `text` with every known secret masked and URLs without userinfo.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = urls(text);
        // Longest first, so a secret that contains another is masked whole.
        let mut secrets: Vec<&String> = self.0.iter().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for s in secrets {
            out = out.replace(s.as_str(), MASK);
        }
        out
    }
}

/// A parser's message cut down to its position (`line 3 column 7`), for files that hold secrets:
/// YAML parsers quote the offending text, which may be a token.
pub fn position_only(message: &str) -> String {
    let words: Vec<&str> = message.split_whitespace().collect();
    for w in words.windows(4) {
        if w[0] == "line" && w[2] == "column" {
            let num = |s: &str| {
                s.trim_matches(|c: char| !c.is_ascii_digit())
                    .parse::<u64>()
                    .ok()
            };
            if let (Some(l), Some(c)) = (num(w[1]), num(w[3])) {
                return format!("at line {l} column {c}");
            }
        }
    }
    "at an unknown position".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_removed_from_every_url() {
        assert_eq!(
            urls("cannot reach `https://admin:s3cret@10.0.0.1:6443/api` or http://tok@h/x"),
            "cannot reach `https://10.0.0.1:6443/api` or http://h/x"
        );
        assert_eq!(urls("no url here"), "no url here");
        assert_eq!(urls("https://host:443"), "https://host:443");
    }

    #[test]
    fn references_lose_their_credentials() {
        assert_eq!(
            reference("admin:s3cret@registry.example/app:1"),
            "[REDACTED]@registry.example/app:1"
        );
        assert_eq!(reference("host/app@sha256:ab"), "host/app@sha256:ab");
    }

    #[test]
    fn known_secrets_are_masked() {
        let mut s = Secrets::default();
        s.add("abcd-token-1234");
        s.add("abcd");
        s.add("x");
        assert_eq!(
            s.scrub("bad token abcd-token-1234 and abcd, x"),
            "bad token [REDACTED] and [REDACTED], x"
        );
    }

    #[test]
    fn parser_messages_keep_only_the_position() {
        assert_eq!(
            position_only(
                "users[0].user.token: invalid type: map, expected a string at line 12 column 14"
            ),
            "at line 12 column 14"
        );
        assert_eq!(position_only("something odd"), "at an unknown position");
    }
}
