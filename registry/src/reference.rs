//! Image references in their common form (`HOST[:PORT]/PATH[:TAG][@sha256:HEX]`) parsed without
//! the reference regex, whose compilation costs ~85 ms per process (a tenth of a no-op converge);
//! anything else (no host, Docker Hub's normalisation, non-ASCII tags, other digests) is left to
//! the regex, so the result is always what `Reference::from_str` gives.

use oci_client::Reference;

/// The longest repository path a reference may have.
const NAME_MAX: usize = 255;

/// `name` parsed by hand when it has the common form; `None` for the regex to decide.
pub fn common(name: &str) -> Option<Reference> {
    let (rest, digest) = match name.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (name, None),
    };
    let (host, path_and_tag) = rest.split_once('/')?;
    let (path, tag) = match path_and_tag.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => (path, Some(tag)),
        _ => (path_and_tag, None),
    };
    let host_ok = (host.contains('.') || host.contains(':') || host == "localhost")
        && host != "docker.io"
        && host != "index.docker.io"
        && valid_host(host);
    if !host_ok || path.len() > NAME_MAX || !path.split('/').all(valid_component) {
        return None;
    }
    if let Some(tag) = tag {
        let mut chars = tag.bytes();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_');
        if !first_ok
            || tag.len() > 128
            || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        {
            return None;
        }
    }
    if let Some(digest) = digest {
        let hex = digest.strip_prefix("sha256:")?;
        if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
    }
    let (host, path) = (host.to_string(), path.to_string());
    Some(match (tag, digest) {
        (Some(t), Some(d)) => Reference::with_tag_and_digest(host, path, t.into(), d.into()),
        (Some(t), None) => Reference::with_tag(host, path, t.into()),
        (None, Some(d)) => Reference::with_digest(host, path, d.into()),
        (None, None) => Reference::with_tag(host, path, "latest".into()),
    })
}

/// `HOST[:PORT]`: dot-separated labels of letters, digits and inner dashes.
fn valid_host(host: &str) -> bool {
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    name.split('.').all(label_ok)
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
}

/// One path component: lower-case letters and digits, separated by `.`, `_`, `__` or dashes.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reference the hand parser takes reads as the regex reads it; the common ones are
    /// taken; the rest are left to the regex.
    #[test]
    fn the_common_form_reads_as_the_regex_reads_it() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let taken = [
            "127.0.0.1:5000/mono:svc-0001-abc".to_string(),
            "registry.example.com/a/b/c:v1.2_3-x".into(),
            "localhost/app".into(),
            "localhost:5000/a__b.c-d---e:latest".into(),
            format!("ghcr.io/org/app@{digest}"),
            format!("ghcr.io/org/app:v1@{digest}"),
            format!("host.io/{}:t", "a".repeat(255)),
        ];
        for name in &taken {
            let ours = common(name).unwrap_or_else(|| panic!("`{name}` is the common form"));
            let regex: Reference = name.parse().expect("valid");
            assert_eq!(ours.whole(), regex.whole(), "{name}");
            assert_eq!(
                (
                    ours.registry(),
                    ours.repository(),
                    ours.tag(),
                    ours.digest()
                ),
                (
                    regex.registry(),
                    regex.repository(),
                    regex.tag(),
                    regex.digest()
                ),
                "{name}"
            );
        }
        let left = [
            "alpine:3.19",
            "docker.io/library/alpine:3.19",
            "index.docker.io/x/y",
            "library/alpine",
            "host.io/Upper:tag",
            "host.io/a//b:tag",
            "host.io/a-:tag",
            "host.io/a:.tag",
            "host.io/a:tägé",
            "-host.io/a:t",
            "host.io:/a:t",
            "host.io/a@sha256:abc",
            "host.io/a@sha512:abc",
            "host.io/a:t@",
            "",
        ];
        for name in left {
            assert!(common(name).is_none(), "`{name}` is left to the regex");
        }
        assert!(common(&format!("host.io/{}:t", "a".repeat(256))).is_none());
        assert!(common(&format!("host.io/a:{}", "t".repeat(129))).is_none());
    }
}
