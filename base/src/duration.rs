//! werf's durations: a whole number of seconds, or one with a unit (`20s`, `5m`, `1h`), as
//! `--timeout`, `--connect-timeout` and the tracking annotations take them.

use std::time::Duration;

/// A text that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a duration (`20s`, `5m`, `1h` or seconds)")]
pub struct NotADuration(pub String);

/// Reads `s` as a duration.
pub fn parse(s: &str) -> Result<Duration, NotADuration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let bad = || NotADuration(s.to_string());
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    }
    .ok_or_else(bad)?;
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("5x"), Err(NotADuration("5x".into())));
        assert_eq!(parse(""), Err(NotADuration(String::new())));
        assert_eq!(
            parse("99999999999999999999h"),
            Err(NotADuration("99999999999999999999h".into()))
        );
    }
}
