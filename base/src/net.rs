//! Network settings shared by the registry and Kubernetes clients, and the bounds on what is
//! read from the network.

use std::time::Duration;

/// Connect and read timeouts (`--connect-timeout`, `--read-timeout`).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// How long connecting may take.
    pub connect: Duration,
    /// How long a request may go without an answer.
    pub read: Duration,
}

/// The most bytes of one answer read into memory: an `index.yaml`, a manifest, a tag list, a
/// token answer (`WERF_MAX_BODY_SIZE`, default 128 MiB).
pub fn max_body() -> u64 {
    limit("WERF_MAX_BODY_SIZE", 128 << 20)
}

/// The most bytes of one chart archive downloaded (`WERF_MAX_CHART_SIZE`, default 100 MiB:
/// Helm's own limit on a chart's unpacked size).
pub fn max_chart() -> u64 {
    limit("WERF_MAX_CHART_SIZE", 100 << 20)
}

/// The most pages of one tag listing (`WERF_MAX_TAG_PAGES`, default 10,000).
pub fn max_tag_pages() -> u64 {
    limit("WERF_MAX_TAG_PAGES", 10_000)
}

/// The most tags of one repository (`WERF_MAX_TAGS`, default 1,000,000).
pub fn max_tags() -> u64 {
    limit("WERF_MAX_TAGS", 1_000_000)
}

/// A limit from the environment: a whole number, with an optional `KiB`, `MiB` or `GiB`; an
/// unreadable value is ignored with a warning, keeping the default.
fn limit(var: &str, default: u64) -> u64 {
    let Ok(text) = std::env::var(var) else {
        return default;
    };
    match parse_size(&text) {
        Some(v) if v > 0 => v,
        _ => {
            tracing::warn!("`{var}={text}` is not a size (like `64MiB`): using {default}");
            default
        }
    }
}

fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits.parse().ok()?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is {size} bytes, over the limit of {limit} bytes ({var})")]
    Announced {
        size: u64,
        limit: u64,
        var: &'static str,
    },
    #[error("the answer went past the limit of {limit} bytes ({var})")]
    TooLong { limit: u64, var: &'static str },
    #[error("reading the answer")]
    Read(#[source] reqwest::Error),
}

/// Reads `resp`'s body into memory, refusing one announced or found to be over `limit`
/// (named by `var`), without holding more than the limit.
pub async fn read_body(
    mut resp: reqwest::Response,
    limit: u64,
    var: &'static str,
) -> Result<Vec<u8>, BodyError> {
    if let Some(size) = resp.content_length().filter(|&n| n > limit) {
        return Err(BodyError::Announced { size, limit, var });
    }
    let mut out = Vec::with_capacity(resp.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Read)? {
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(BodyError::TooLong { limit, var });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_binary_units() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("64MiB"), Some(64 << 20));
        assert_eq!(parse_size("2 GiB"), Some(2 << 30));
        assert_eq!(parse_size("1KiB"), Some(1024));
        assert_eq!(parse_size("12MB"), None);
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("99999999999999999999GiB"), None);
    }
}
