//! Which container logs a failure report shows: werf's log annotations, read and applied, pure.

use serde_json::Value;

use crate::invalid::Invalid;

/// Which container logs a failure report shows, from werf's annotations: `werf.io/skip-logs`,
/// `werf.io/skip-logs-for-containers`, `werf.io/show-logs-only-for-containers`,
/// `werf.io/log-regex` and `werf.io/log-regex-for-CONTAINER`.
#[derive(Clone, Debug, Default)]
pub struct LogPolicy {
    pub skip: bool,
    pub only: Option<Vec<String>>,
    pub skip_containers: Vec<String>,
    pub regex: Option<regex::Regex>,
    pub per_container: Vec<(String, regex::Regex)>,
}

fn names(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

impl LogPolicy {
    /// Reads the annotations of `object`; a bad value is an error naming the annotation.
    pub fn of(object: &Value) -> Result<LogPolicy, Invalid> {
        let regex = |key: &str, text: &str| {
            regex::Regex::new(text).map_err(|source| Invalid::Regex {
                key: key.to_string(),
                source,
            })
        };
        let mut p = LogPolicy::default();
        let Some(annotations) = object
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
        else {
            return Ok(p);
        };
        for (key, v) in annotations {
            let Some(v) = v.as_str() else { continue };
            match key.as_str() {
                "werf.io/skip-logs" => {
                    p.skip = match v.trim() {
                        "true" => true,
                        "false" => false,
                        other => {
                            return Err(Invalid::NotOneOf {
                                key: "werf.io/skip-logs",
                                value: other.to_string(),
                                allowed: "`true` or `false`",
                            })
                        }
                    }
                }
                "werf.io/skip-logs-for-containers" => p.skip_containers = names(v),
                "werf.io/show-logs-only-for-containers" => p.only = Some(names(v)),
                "werf.io/log-regex" => p.regex = Some(regex(key, v)?),
                _ => {
                    if let Some(c) = key.strip_prefix("werf.io/log-regex-for-") {
                        p.per_container.push((c.to_string(), regex(key, v)?));
                    }
                }
            }
        }
        Ok(p)
    }

    /// Whether `container`'s logs are shown at all.
    pub fn shows(&self, container: &str) -> bool {
        !self.skip
            && !self.skip_containers.iter().any(|c| c == container)
            && self
                .only
                .as_ref()
                .is_none_or(|only| only.iter().any(|c| c == container))
    }

    /// The lines of `container`'s log that are shown (a container's own regex wins).
    pub fn filter<'a>(&self, container: &str, log: &'a str) -> Vec<&'a str> {
        let re = self
            .per_container
            .iter()
            .find(|(c, _)| c == container)
            .map(|(_, r)| r)
            .or(self.regex.as_ref());
        log.lines()
            .filter(|l| re.is_none_or(|r| r.is_match(l)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn log_annotations_choose_containers_and_lines() {
        let p = LogPolicy::of(&json!({"metadata": {"annotations": {
            "werf.io/show-logs-only-for-containers": "app, migrate",
            "werf.io/skip-logs-for-containers": "migrate",
            "werf.io/log-regex": "ERROR",
            "werf.io/log-regex-for-app": "^panic"}}}))
        .expect("valid");
        assert!(p.shows("app") && !p.shows("migrate") && !p.shows("sidecar"));
        assert_eq!(p.filter("app", "ok\npanic: x\nERROR y\n"), ["panic: x"]);
        assert_eq!(p.filter("other", "ok\nERROR y\n"), ["ERROR y"]);
        let skip =
            LogPolicy::of(&json!({"metadata": {"annotations": {"werf.io/skip-logs": "true"}}}))
                .expect("valid");
        assert!(!skip.shows("app"));
        assert!(LogPolicy::default().shows("any"));
        let e = LogPolicy::of(&json!({"metadata": {"annotations": {"werf.io/log-regex": "("}}}))
            .unwrap_err();
        assert!(
            matches!(&e, Invalid::Regex { key, .. } if key == "werf.io/log-regex")
                && e.to_string()
                    .starts_with("`werf.io/log-regex` is not a valid regular expression"),
            "{e}"
        );
    }
}
