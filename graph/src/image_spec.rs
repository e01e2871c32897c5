//! werf.yaml's `imageSpec` (an image's, and `build.imageSpec` for every image): read with every
//! key checked, merged as werf merges the two, and applied to an OCI image config (JSON), as
//! werf's `imageSpec` stage does after the build. Pure: the build applies it to what it built.
//!
//! werf's own labels (`werf`, `werf.io/image`, `werf.io/stage-digest`, `werf-parent-stage-id`)
//! survive any `removeLabels`, as in werf: cleanup needs them. Label values may name the image
//! and the project as `%image%` and `%project%`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::pattern::NamePattern;

/// A health check as werf.yaml writes it (durations in seconds).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Healthcheck {
    pub test: Vec<String>,
    pub interval: Option<u64>,
    pub timeout: Option<u64>,
    pub start_period: Option<u64>,
    pub retries: Option<u64>,
}

/// One `imageSpec`, or the merge of `build.imageSpec` into an image's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ImageSpec {
    pub author: Option<String>,
    pub clear_history: bool,
    pub clear_werf_labels: bool,
    pub keep_essential_werf_labels: bool,
    pub remove_labels: Vec<String>,
    pub remove_volumes: Vec<String>,
    pub remove_env: Vec<String>,
    pub clear_cmd: bool,
    pub clear_entrypoint: bool,
    pub clear_user: bool,
    pub clear_working_dir: bool,
    pub volumes: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    pub expose: Vec<String>,
    pub user: Option<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub stop_signal: Option<String>,
    pub healthcheck: Option<Healthcheck>,
}

/// The keys of an image's `imageSpec.config`.
const IMAGE_CONFIG_KEYS: &[&str] = &[
    "clearWerfLabels",
    "keepEssentialWerfLabels",
    "removeLabels",
    "removeVolumes",
    "removeEnv",
    "clearCmd",
    "clearEntrypoint",
    "clearUser",
    "clearWorkingDir",
    "volumes",
    "labels",
    "env",
    "expose",
    "user",
    "cmd",
    "entrypoint",
    "workingDir",
    "stopSignal",
    "healthcheck",
];

/// The keys of `build.imageSpec.config` (werf allows fewer for every image).
const GLOBAL_CONFIG_KEYS: &[&str] = &[
    "clearWerfLabels",
    "keepEssentialWerfLabels",
    "removeLabels",
    "labels",
];

/// The labels werf's cleanup needs: never removed by `removeLabels`.
const ESSENTIAL_LABELS: &[&str] = &[
    "werf",
    "werf.io/image",
    "werf.io/stage-digest",
    "werf-parent-stage-id",
];

/// Why an `imageSpec` cannot be read, naming the key at fault (comparable and hashable: it is
/// part of the graph's errors).
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SpecError {
    #[error("`{root}`: {reason}")]
    Json { root: &'static str, reason: String },
    #[error("`{path}` must be a map")]
    NotAMap { path: String },
    #[error("`{path}` must be {expected}, not {found}")]
    Type {
        path: String,
        expected: &'static str,
        found: String,
    },
    #[error("`{path}.{key}` is not a key werf knows here (known: {})", known.join(", "))]
    Unknown {
        path: String,
        key: String,
        known: &'static [&'static str],
    },
    #[error("`{path}`: {pattern}")]
    Pattern {
        path: String,
        pattern: crate::pattern::BadPattern,
    },
}

fn unknown(path: &str, key: &str, known: &'static [&'static str]) -> SpecError {
    SpecError::Unknown {
        path: path.to_string(),
        key: key.to_string(),
        known,
    }
}

fn not_a_map(path: &str) -> SpecError {
    SpecError::NotAMap {
        path: path.to_string(),
    }
}

fn wrong(path: &str, expected: &'static str, found: &Value) -> SpecError {
    SpecError::Type {
        path: path.to_string(),
        expected,
        found: found.to_string(),
    }
}

fn string(v: &Value, path: &str) -> Result<String, SpecError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(wrong(path, "a string", other)),
    }
}

fn strings(v: &Value, path: &str) -> Result<Vec<String>, SpecError> {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| string(x, &format!("{path}[{i}]")))
            .collect(),
        // werf reads `cmd: x` as one element too.
        Value::String(s) => Ok(vec![s.clone()]),
        other => Err(wrong(path, "a list of strings", other)),
    }
}

fn map(v: &Value, path: &str) -> Result<BTreeMap<String, String>, SpecError> {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| Ok((k.clone(), string(x, &format!("{path}.{k}"))?)))
            .collect(),
        other => Err(wrong(path, "a map of strings", other)),
    }
}

fn flag(v: &Value, path: &str) -> Result<bool, SpecError> {
    v.as_bool().ok_or_else(|| wrong(path, "true or false", v))
}

fn seconds(v: &Value, path: &str) -> Result<u64, SpecError> {
    v.as_u64()
        .ok_or_else(|| wrong(path, "a whole number of seconds", v))
}

impl ImageSpec {
    /// Reads an `imageSpec` (JSON of the YAML value); `global` for `build.imageSpec`. Every key
    /// is checked: an unknown one is an error naming it.
    pub fn parse(json: &str, global: bool) -> Result<ImageSpec, SpecError> {
        let root = if global {
            "build.imageSpec"
        } else {
            "imageSpec"
        };
        let v: Value = serde_json::from_str(json).map_err(|e| SpecError::Json {
            root,
            reason: e.to_string(),
        })?;
        let Value::Object(top) = v else {
            return Err(not_a_map(root));
        };
        let mut spec = ImageSpec::default();
        for (key, value) in &top {
            let path = format!("{root}.{key}");
            match key.as_str() {
                "author" => spec.author = Some(string(value, &path)?),
                "clearHistory" => spec.clear_history = flag(value, &path)?,
                "config" => spec.read_config(value, &path, global)?,
                _ => return Err(unknown(root, key, &["author", "clearHistory", "config"])),
            }
        }
        Ok(spec)
    }

    fn read_config(&mut self, value: &Value, path: &str, global: bool) -> Result<(), SpecError> {
        let Value::Object(config) = value else {
            return Err(not_a_map(path));
        };
        let allowed = if global {
            GLOBAL_CONFIG_KEYS
        } else {
            IMAGE_CONFIG_KEYS
        };
        for (key, v) in config {
            if !allowed.contains(&key.as_str()) {
                return Err(unknown(path, key, allowed));
            }
            let at = format!("{path}.{key}");
            match key.as_str() {
                "clearWerfLabels" => self.clear_werf_labels = flag(v, &at)?,
                "keepEssentialWerfLabels" => self.keep_essential_werf_labels = flag(v, &at)?,
                "removeLabels" => self.remove_labels = strings(v, &at)?,
                "removeVolumes" => self.remove_volumes = strings(v, &at)?,
                "removeEnv" => self.remove_env = strings(v, &at)?,
                "clearCmd" => self.clear_cmd = flag(v, &at)?,
                "clearEntrypoint" => self.clear_entrypoint = flag(v, &at)?,
                "clearUser" => self.clear_user = flag(v, &at)?,
                "clearWorkingDir" => self.clear_working_dir = flag(v, &at)?,
                "volumes" => self.volumes = strings(v, &at)?,
                "labels" => self.labels = map(v, &at)?,
                "env" => self.env = map(v, &at)?,
                "expose" => self.expose = strings(v, &at)?,
                "user" => self.user = Some(string(v, &at)?),
                "cmd" => self.cmd = Some(strings(v, &at)?),
                "entrypoint" => self.entrypoint = Some(strings(v, &at)?),
                "workingDir" => self.working_dir = Some(string(v, &at)?),
                "stopSignal" => self.stop_signal = Some(string(v, &at)?),
                "healthcheck" => self.healthcheck = Some(healthcheck(v, &at)?),
                _ => return Err(unknown(path, key, allowed)),
            }
        }
        // Patterns are checked now, not at build time.
        for p in self
            .remove_labels
            .iter()
            .chain(&self.remove_volumes)
            .chain(&self.remove_env)
        {
            NamePattern::new(p).map_err(|pattern| SpecError::Pattern {
                path: path.to_string(),
                pattern,
            })?;
        }
        Ok(())
    }

    /// werf's merge of `build.imageSpec` (`meta`) into an image's: the image's author unless it
    /// has none, either's `clearHistory`, the meta labels over the image's, both lists of
    /// labels to remove.
    pub fn merge(meta: Option<&ImageSpec>, image: Option<&ImageSpec>) -> Option<ImageSpec> {
        let (meta, image) = match (meta, image) {
            (None, None) => return None,
            (None, Some(i)) => return Some(i.clone()),
            (Some(m), i) => (m, i.cloned().unwrap_or_default()),
        };
        let mut out = image;
        if out.author.is_none() {
            out.author = meta.author.clone();
        }
        out.clear_history |= meta.clear_history;
        out.keep_essential_werf_labels |= meta.keep_essential_werf_labels;
        out.clear_werf_labels |= meta.clear_werf_labels;
        for (k, v) in &meta.labels {
            out.labels.insert(k.clone(), v.clone());
        }
        for l in &meta.remove_labels {
            if !out.remove_labels.contains(l) {
                out.remove_labels.push(l.clone());
            }
        }
        Some(out)
    }

    /// Applies the spec to an OCI image config (`config` being its JSON object).
    pub fn apply(&self, config: &mut Value, project: &str, image: &str) {
        let Value::Object(top) = config else {
            return;
        };
        if let Some(author) = &self.author {
            top.insert("author".into(), Value::String(author.clone()));
        }
        if self.clear_history {
            top.remove("history");
        }
        let inner = top
            .entry("config")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(c) = inner else {
            return;
        };
        // Labels: removed (werf's own kept), then added with `%image%` and `%project%`.
        let remove: Vec<NamePattern> = self
            .remove_labels
            .iter()
            .filter_map(|p| NamePattern::new(p).ok())
            .collect();
        let labels = object(c, "Labels");
        labels.retain(|k, _| {
            ESSENTIAL_LABELS.contains(&k.as_str()) || !remove.iter().any(|p| p.matches(k))
        });
        for (k, v) in &self.labels {
            let v = v.replace("%image%", image).replace("%project%", project);
            labels.insert(k.clone(), Value::String(v));
        }
        drop_empty(c, "Labels");
        // Volumes.
        let remove: Vec<NamePattern> = self
            .remove_volumes
            .iter()
            .filter_map(|p| NamePattern::new(p).ok())
            .collect();
        let volumes = object(c, "Volumes");
        volumes.retain(|k, _| !remove.iter().any(|p| p.matches(k)));
        for v in &self.volumes {
            volumes.insert(v.clone(), Value::Object(Map::new()));
        }
        drop_empty(c, "Volumes");
        // Env: `NAME=value` entries, removed by name, then set in place or appended.
        let remove: Vec<NamePattern> = self
            .remove_env
            .iter()
            .filter_map(|p| NamePattern::new(p).ok())
            .collect();
        let mut env: Vec<String> = c
            .get("Env")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        env.retain(|e| {
            let name = e.split_once('=').map_or(e.as_str(), |(n, _)| n);
            !remove.iter().any(|p| p.matches(name))
        });
        for (name, value) in &self.env {
            let entry = format!("{name}={value}");
            match env
                .iter_mut()
                .find(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) == name)
            {
                Some(slot) => *slot = entry,
                None => env.push(entry),
            }
        }
        if env.is_empty() {
            c.remove("Env");
        } else {
            c.insert(
                "Env".into(),
                Value::Array(env.into_iter().map(Value::String).collect()),
            );
        }
        // Ports: `80` is `80/tcp`.
        if !self.expose.is_empty() {
            let ports = object(c, "ExposedPorts");
            for p in &self.expose {
                let p = if p.contains('/') {
                    p.clone()
                } else {
                    format!("{p}/tcp")
                };
                ports.insert(p, Value::Object(Map::new()));
            }
        }
        let set_or_clear =
            |c: &mut Map<String, Value>, key: &str, clear: bool, value: Option<Value>| {
                if clear {
                    c.remove(key);
                }
                if let Some(v) = value {
                    c.insert(key.into(), v);
                }
            };
        let list = |l: &Option<Vec<String>>| {
            l.as_ref()
                .map(|l| Value::Array(l.iter().cloned().map(Value::String).collect()))
        };
        set_or_clear(c, "Cmd", self.clear_cmd, list(&self.cmd));
        set_or_clear(
            c,
            "Entrypoint",
            self.clear_entrypoint,
            list(&self.entrypoint),
        );
        set_or_clear(
            c,
            "User",
            self.clear_user,
            self.user.clone().map(Value::String),
        );
        set_or_clear(
            c,
            "WorkingDir",
            self.clear_working_dir,
            self.working_dir.clone().map(Value::String),
        );
        if let Some(s) = &self.stop_signal {
            c.insert("StopSignal".into(), Value::String(s.clone()));
        }
        if let Some(h) = &self.healthcheck {
            let ns = |s: Option<u64>| s.map(|s| Value::from(s.saturating_mul(1_000_000_000)));
            let mut hc = Map::new();
            hc.insert(
                "Test".into(),
                Value::Array(h.test.iter().cloned().map(Value::String).collect()),
            );
            for (k, v) in [
                ("Interval", ns(h.interval)),
                ("Timeout", ns(h.timeout)),
                ("StartPeriod", ns(h.start_period)),
                ("Retries", h.retries.map(Value::from)),
            ] {
                if let Some(v) = v {
                    hc.insert(k.into(), v);
                }
            }
            c.insert("Healthcheck".into(), Value::Object(hc));
        }
    }
}

fn healthcheck(v: &Value, path: &str) -> Result<Healthcheck, SpecError> {
    let Value::Object(m) = v else {
        return Err(not_a_map(path));
    };
    let mut h = Healthcheck::default();
    for (k, x) in m {
        let at = format!("{path}.{k}");
        match k.as_str() {
            "test" => h.test = strings(x, &at)?,
            "interval" => h.interval = Some(seconds(x, &at)?),
            "timeout" => h.timeout = Some(seconds(x, &at)?),
            "startPeriod" => h.start_period = Some(seconds(x, &at)?),
            "retries" => h.retries = Some(seconds(x, &at)?),
            _ => {
                return Err(unknown(
                    path,
                    k,
                    &["test", "interval", "timeout", "startPeriod", "retries"],
                ))
            }
        }
    }
    Ok(h)
}

fn object<'m>(c: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    if !matches!(c.get(key), Some(Value::Object(_))) {
        c.insert(key.into(), Value::Object(Map::new()));
    }
    match c.get_mut(key) {
        Some(Value::Object(m)) => m,
        _ => unreachable!("inserted above"),
    }
}

fn drop_empty(c: &mut Map<String, Value>, key: &str) {
    if matches!(c.get(key), Some(Value::Object(m)) if m.is_empty()) {
        c.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_key_is_checked_and_named() {
        let e = ImageSpec::parse(r#"{"config":{"labelz":{}}}"#, false).expect_err("typo");
        assert!(
            matches!(&e, SpecError::Unknown { path, key, .. } if path == "imageSpec.config" && key == "labelz"),
            "{e}"
        );
        assert!(e.to_string().contains("`imageSpec.config.labelz`"), "{e}");
        let e = ImageSpec::parse(r#"{"config":{"env":{"A":"1"}}}"#, true).expect_err("global");
        assert!(
            e.to_string().contains("`build.imageSpec.config.env`"),
            "{e}"
        );
        let e = ImageSpec::parse(r#"{"config":{"removeLabels":["/(/"]}}"#, false)
            .expect_err("bad regex");
        assert!(
            matches!(&e, SpecError::Pattern { path, .. } if path == "imageSpec.config"),
            "{e}"
        );
        assert!(
            e.to_string().contains("not a valid regular expression"),
            "{e}"
        );
        let e = ImageSpec::parse(r#"{"clearHistory":"yes"}"#, false).expect_err("type");
        assert!(
            e.to_string()
                .contains("`imageSpec.clearHistory` must be true or false"),
            "{e}"
        );
    }

    #[test]
    fn the_spec_rewrites_the_config_as_werf_does() {
        let spec = ImageSpec::parse(
            r#"{"author":"Dev <dev@example.com>","clearHistory":true,"config":{
                "labels":{"app":"%project%-%image%","keep":"new"},
                "removeLabels":["old","/^tmp\\./","werf"],
                "env":{"PATH":"/app/bin","NEW":"1"},"removeEnv":["SECRET","/^DEBUG_/"],
                "volumes":["/data"],"removeVolumes":["/cache"],
                "expose":["8080","53/udp"],"user":"1000:1000","workingDir":"/app",
                "entrypoint":["/app/run"],"clearCmd":true,"stopSignal":"SIGINT",
                "healthcheck":{"test":["CMD","true"],"interval":30,"retries":3}}}"#,
            false,
        )
        .expect("parses");
        let mut config = json!({
            "architecture": "amd64", "os": "linux",
            "history": [{"created_by": "x"}],
            "config": {
                "Labels": {"old": "1", "tmp.a": "2", "keep": "old", "werf": "shop", "werf.io/image": "app"},
                "Env": ["PATH=/usr/bin", "SECRET=x", "DEBUG_A=1", "KEEP=1"],
                "Volumes": {"/cache": {}},
                "Cmd": ["sh"]
            },
            "rootfs": {"type": "layers", "diff_ids": []}
        });
        spec.apply(&mut config, "shop", "app");
        assert_eq!(
            config,
            json!({
                "architecture": "amd64", "os": "linux",
                "author": "Dev <dev@example.com>",
                "config": {
                    "Labels": {"app": "shop-app", "keep": "new", "werf": "shop", "werf.io/image": "app"},
                    "Env": ["PATH=/app/bin", "KEEP=1", "NEW=1"],
                    "Volumes": {"/data": {}},
                    "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
                    "User": "1000:1000",
                    "WorkingDir": "/app",
                    "Entrypoint": ["/app/run"],
                    "StopSignal": "SIGINT",
                    "Healthcheck": {"Test": ["CMD", "true"], "Interval": 30_000_000_000u64, "Retries": 3}
                },
                "rootfs": {"type": "layers", "diff_ids": []}
            })
        );
    }

    #[test]
    fn meta_and_image_specs_merge_as_werf_merges_them() {
        let meta = ImageSpec::parse(
            r#"{"author":"meta","clearHistory":true,"config":{"labels":{"a":"meta","m":"1"},"removeLabels":["x"]}}"#,
            true,
        )
        .expect("meta");
        let image = ImageSpec::parse(
            r#"{"config":{"labels":{"a":"image","i":"1"},"removeLabels":["y"]}}"#,
            false,
        )
        .expect("image");
        let merged = ImageSpec::merge(Some(&meta), Some(&image)).expect("merged");
        assert_eq!(merged.author.as_deref(), Some("meta"));
        assert!(merged.clear_history);
        assert_eq!(merged.labels["a"], "meta");
        assert_eq!(merged.labels["i"], "1");
        assert_eq!(merged.remove_labels, ["y", "x"]);
        assert_eq!(ImageSpec::merge(None, None), None);
    }
}
