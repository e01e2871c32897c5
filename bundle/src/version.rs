//! The chart version a bundle's tag gives, as werf gives it: the tag itself when it is a
//! semantic version, else `0.0.0-UNIXTIME-SLUG` (a prerelease, so any release version sorts
//! above it).

/// The chart version for `tag`, published at `now` (seconds since the epoch).
pub fn chart_version(tag: &str, now: u64) -> String {
    if let Some(v) = semantic(tag) {
        return v;
    }
    let slug = werf_base::slug::slugify(tag);
    if slug.is_empty() {
        format!("0.0.0-{now}")
    } else {
        format!("0.0.0-{now}-{slug}")
    }
}

/// `tag` as a normalized semantic version (`v1.2` is `1.2.0`), when it is one.
fn semantic(tag: &str) -> Option<String> {
    let object = gotemplate::semver::object(tag).ok()?;
    let text = gotemplate::semver::display(&object)?;
    // Masterminds' parser takes any prerelease text; a chart version's must be `[0-9A-Za-z-.]`.
    let valid = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
    valid.then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semantic_tags_are_versions_others_prereleases_of_zero() {
        assert_eq!(chart_version("1.2.3", 7), "1.2.3");
        assert_eq!(chart_version("v1.2", 7), "1.2.0");
        assert_eq!(chart_version("1.0.0-rc.1", 7), "1.0.0-rc.1");
        assert_eq!(
            chart_version("latest", 1700000000),
            "0.0.0-1700000000-latest"
        );
        assert_eq!(chart_version("Main_Branch", 5), "0.0.0-5-main-branch");
        assert_eq!(chart_version("___", 5), "0.0.0-5");
    }
}
