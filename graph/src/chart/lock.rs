//! `Chart.lock` as Helm writes and checks it: the locked name, repository and version of each
//! dependency, and a digest over what `Chart.yaml` asked for and what was locked (Helm's
//! `HashReq`: SHA-256 of the two lists as Go's `encoding/json` writes them); and the choice of
//! a version: the highest one a dependency's constraint allows.

use serde_json::Value as Json;

/// One locked dependency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locked {
    pub name: String,
    pub repository: String,
    pub version: String,
}

/// A parsed `Chart.lock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    pub dependencies: Vec<Locked>,
    pub digest: String,
}

fn text(v: &Json, key: &str) -> String {
    match v.get(key) {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => gotemplate::value::format_float_g(n.as_f64().unwrap_or(0.0)),
        _ => String::new(),
    }
}

/// A `Chart.yaml` dependency as Go marshals Helm's `Dependency` struct (field order and
/// `omitempty` as declared there).
fn dependency_json(dep: &Json) -> String {
    let mut fields: Vec<String> = vec![format!("\"name\":{}", go_json(&text(dep, "name")))];
    let version = text(dep, "version");
    if !version.is_empty() {
        fields.push(format!("\"version\":{}", go_json(&version)));
    }
    fields.push(format!(
        "\"repository\":{}",
        go_json(&text(dep, "repository"))
    ));
    let condition = text(dep, "condition");
    if !condition.is_empty() {
        fields.push(format!("\"condition\":{}", go_json(&condition)));
    }
    if let Some(Json::Array(tags)) = dep.get("tags") {
        if !tags.is_empty() {
            let tags: Vec<String> = tags
                .iter()
                .map(|t| go_json(t.as_str().unwrap_or_default()))
                .collect();
            fields.push(format!("\"tags\":[{}]", tags.join(",")));
        }
    }
    if dep.get("enabled") == Some(&Json::Bool(true)) {
        fields.push("\"enabled\":true".into());
    }
    if let Some(Json::Array(iv)) = dep.get("import-values") {
        if !iv.is_empty() {
            let values =
                gotemplate::funcs::to_json(&gotemplate::Value::from_json(&Json::Array(iv.clone())));
            fields.push(format!("\"import-values\":{values}"));
        }
    }
    let alias = text(dep, "alias");
    if !alias.is_empty() {
        fields.push(format!("\"alias\":{}", go_json(&alias)));
    }
    format!("{{{}}}", fields.join(","))
}

/// A string as Go's `encoding/json` writes it (`<`, `>`, `&` escaped).
fn go_json(s: &str) -> String {
    gotemplate::funcs::to_json(&gotemplate::Value::Str(s.to_string()))
}

/// Helm's `HashReq(requested, locked)`: `sha256:HEX`.
pub fn digest(requested: &[Json], locked: &[Locked]) -> String {
    use sha2::Digest as _;
    let req: Vec<String> = requested.iter().map(dependency_json).collect();
    let lock: Vec<String> = locked
        .iter()
        .map(|l| {
            let mut fields = vec![format!("\"name\":{}", go_json(&l.name))];
            if !l.version.is_empty() {
                fields.push(format!("\"version\":{}", go_json(&l.version)));
            }
            fields.push(format!("\"repository\":{}", go_json(&l.repository)));
            format!("{{{}}}", fields.join(","))
        })
        .collect();
    let data = format!("[[{}],[{}]]", req.join(","), lock.join(","));
    let sum = sha2::Sha256::digest(data.as_bytes());
    format!(
        "sha256:{}",
        sum.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// `Chart.lock` text as Helm writes it (keys sorted; `generated` is RFC 3339 with nanoseconds).
pub fn to_yaml(locked: &[Locked], digest: &str, generated: &str) -> String {
    use gotemplate::Value;
    let deps: Vec<Value> = locked
        .iter()
        .map(|l| {
            Value::map(
                [
                    ("name".to_string(), Value::Str(l.name.clone())),
                    ("repository".to_string(), Value::Str(l.repository.clone())),
                    ("version".to_string(), Value::Str(l.version.clone())),
                ]
                .into_iter()
                .collect(),
            )
        })
        .collect();
    let lock = Value::map(
        [
            ("dependencies".to_string(), Value::list(deps)),
            ("digest".to_string(), Value::Str(digest.to_string())),
            ("generated".to_string(), Value::Str(generated.to_string())),
        ]
        .into_iter()
        .collect(),
    );
    format!("{}\n", gotemplate::yaml::to_yaml(&lock))
}

/// Reads `Chart.lock`.
pub fn parse(text_: &str) -> Result<Lock, gotemplate::yaml::load::LoadError> {
    let v = gotemplate::yaml::load::load_with(text_, gotemplate::yaml::load::Numbers::AsWritten)?;
    let dependencies = v
        .get("dependencies")
        .and_then(|d| d.as_array())
        .map(|d| {
            d.iter()
                .map(|x| Locked {
                    name: text(x, "name"),
                    repository: text(x, "repository"),
                    version: text(x, "version"),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Lock {
        dependencies,
        digest: text(&v, "digest"),
    })
}

/// The dependencies `Chart.yaml` declares that are not in `charts/`, as `Chart.lock` pins them:
/// what a render fetches (werf's documentation has `charts/` gitignored and `Chart.lock`
/// committed). Without a lock, or with one out of sync with `Chart.yaml`, an error naming the
/// file says what to run; a local (`file://`) or repository-less dependency must be in `charts/`.
pub fn missing(chart: &super::Chart) -> crate::error::Result<Vec<Locked>> {
    let requested = chart.dependencies();
    let absent = chart.absent_dependencies();
    if absent.is_empty() {
        return Ok(Vec::new());
    }
    let names = || {
        absent
            .iter()
            .map(|d| text(d, "name"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let lock_file = crate::pattern::join(&chart.dir, "Chart.lock");
    let Some(lock_text) = &chart.lock else {
        return Err(super::chart_error(
            &crate::pattern::join(&chart.dir, "Chart.yaml"),
            0,
            0,
            format!(
                "found in Chart.yaml, but missing in charts/ directory: {} (and no Chart.lock to fetch them by: run `werf helm dependency update` and commit Chart.lock)",
                names()
            ),
        ));
    };
    let lock = parse(lock_text)
        .map_err(|e| super::chart_error(&lock_file, e.line, e.column, e.message))?;
    if digest(requested, &lock.dependencies) != lock.digest {
        return Err(super::chart_error(
            &lock_file,
            0,
            0,
            "the lock file is out of sync with the dependencies file (`Chart.yaml`): run `werf helm dependency update`".into(),
        ));
    }
    let mut out = Vec::new();
    for dep in absent {
        let name = text(dep, "name");
        let repository = text(dep, "repository");
        let local = repository.is_empty() || repository.starts_with("file://");
        let pinned = lock.dependencies.iter().find(|l| l.name == name);
        match pinned {
            Some(l) if !local => out.push(l.clone()),
            _ => {
                return Err(super::chart_error(
                    &crate::pattern::join(&chart.dir, "Chart.yaml"),
                    0,
                    0,
                    format!(
                        "found in Chart.yaml, but missing in charts/ directory: {name} (a {} dependency is not fetched: run `werf helm dependency build`)",
                        if local { "local" } else { "not locked" }
                    ),
                ))
            }
        }
    }
    Ok(out)
}

/// The highest of `versions` that `constraint` allows (an empty constraint allows any release).
pub fn pick_version<'v>(
    constraint: &str,
    versions: impl IntoIterator<Item = &'v str>,
) -> Option<String> {
    let constraint = if constraint.trim().is_empty() {
        "*"
    } else {
        constraint
    };
    versions
        .into_iter()
        .filter(|v| gotemplate::semver::matches(constraint, v).unwrap_or(false))
        .max_by(|a, b| gotemplate::semver::compare(a, b).unwrap_or(std::cmp::Ordering::Equal))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart_with(deps: &str, lock: Option<&str>, present: &[&str]) -> super::super::Chart {
        let meta: Json = gotemplate::yaml::load::load(&format!(
            "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n{deps}"
        ))
        .expect("YAML");
        let sub = |name: &str| {
            std::sync::Arc::new(super::super::Chart {
                dir: format!("app/charts/{name}"),
                name: name.into(),
                meta: serde_json::json!({"name": name}),
                values: Default::default(),
                schema: None,
                templates: Vec::new(),
                files: Default::default(),
                subcharts: Vec::new(),
                lock: None,
            })
        };
        super::super::Chart {
            dir: ".helm".into(),
            name: "app".into(),
            meta,
            values: Default::default(),
            schema: None,
            templates: Vec::new(),
            files: Default::default(),
            subcharts: present.iter().map(|n| sub(n)).collect(),
            lock: lock.map(str::to_string),
        }
    }

    #[test]
    fn missing_dependencies_come_from_an_up_to_date_lock_only() {
        let deps = "- name: a\n  version: ^1.0.0\n  repository: https://x/\n- name: b\n  version: 2.0.0\n  repository: oci://r/c\n";
        let requested: Vec<Json> = chart_with(deps, None, &[]).meta["dependencies"]
            .as_array()
            .expect("list")
            .clone();
        let locked = vec![
            Locked {
                name: "a".into(),
                repository: "https://x/".into(),
                version: "1.4.0".into(),
            },
            Locked {
                name: "b".into(),
                repository: "oci://r/c".into(),
                version: "2.0.0".into(),
            },
        ];
        let lock = to_yaml(
            &locked,
            &digest(&requested, &locked),
            "2026-01-01T00:00:00Z",
        );
        // Nothing missing: nothing to fetch, the lock not even read.
        assert!(missing(&chart_with(deps, None, &["a", "b"]))
            .expect("ok")
            .is_empty());
        // `a` missing: its locked version.
        assert_eq!(
            missing(&chart_with(deps, Some(&lock), &["b"])).expect("ok"),
            vec![locked[0].clone()]
        );
        // No lock, or one out of sync: errors naming the file.
        let e = missing(&chart_with(deps, None, &["b"])).expect_err("no lock");
        assert!(e.to_string().contains("no Chart.lock"), "{e}");
        let changed = deps.replace("^1.0.0", "^1.5.0");
        let e = missing(&chart_with(&changed, Some(&lock), &["b"])).expect_err("out of sync");
        assert!(
            e.to_string().contains(".helm/Chart.lock") && e.to_string().contains("out of sync"),
            "{e}"
        );
        // A local dependency is never fetched.
        let local = "- name: l\n  version: 0.1.0\n  repository: file://../l\n";
        let requested: Vec<Json> = chart_with(local, None, &[]).meta["dependencies"]
            .as_array()
            .expect("list")
            .clone();
        let l = vec![Locked {
            name: "l".into(),
            repository: "file://../l".into(),
            version: "0.1.0".into(),
        }];
        let lock = to_yaml(&l, &digest(&requested, &l), "2026-01-01T00:00:00Z");
        let e = missing(&chart_with(local, Some(&lock), &[])).expect_err("local");
        assert!(
            e.to_string().contains("a local dependency is not fetched"),
            "{e}"
        );
    }
    use serde_json::json;

    #[test]
    fn the_digest_is_helm_s() {
        // Chart.yaml and the lock that Helm 4's `dependency update` wrote, with its digest.
        let requested = [
            json!({"name": "oci-lib", "version": "^1.0.0", "repository": "oci://127.0.0.1:59507/charts"}),
            json!({"name": "web-lib", "version": "~0.3.0", "repository": "http://127.0.0.1:38593", "alias": "web"}),
        ];
        let locked = [
            Locked {
                name: "oci-lib".into(),
                repository: "oci://127.0.0.1:59507/charts".into(),
                version: "1.2.0".into(),
            },
            Locked {
                name: "web-lib".into(),
                repository: "http://127.0.0.1:38593".into(),
                version: "0.3.1".into(),
            },
        ];
        assert_eq!(
            digest(&requested, &locked),
            "sha256:8bc6d50ea9c3cb2b6561b80e2fa288f50648bbeb7e208f1ba8c83f4c2d762fa9"
        );
        let text = to_yaml(&locked, "sha256:x", "2026-11-30T05:43:56.390251081Z");
        assert_eq!(
            text,
            "dependencies:\n- name: oci-lib\n  repository: oci://127.0.0.1:59507/charts\n  version: 1.2.0\n- name: web-lib\n  repository: http://127.0.0.1:38593\n  version: 0.3.1\ndigest: sha256:x\ngenerated: \"2026-11-30T05:43:56.390251081Z\"\n"
        );
        assert_eq!(parse(&text).expect("parses").dependencies, locked);
    }

    #[test]
    fn the_highest_allowed_version_is_picked() {
        let versions = ["1.0.0", "1.2.0", "2.0.0", "1.3.0-rc.1"];
        assert_eq!(pick_version("^1.0.0", versions).as_deref(), Some("1.2.0"));
        assert_eq!(pick_version("", versions).as_deref(), Some("2.0.0"));
        assert_eq!(pick_version(">3", versions), None);
    }
}
