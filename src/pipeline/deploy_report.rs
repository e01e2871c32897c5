//! werf's deploy report (`--save-deploy-report`, `--deploy-report-path`): the release, its
//! namespace, the revision and its status as werf writes them (version 2 of nelm's report: JSON,
//! tab-indented; `skipped` when there was nothing to change), and, beyond werf's keys, the
//! objects of that revision. Written whole or not at all, after the deploy, failed ones too.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::deploy::release::{documents, Record};

/// werf's default report path.
pub const DEFAULT_PATH: &str = ".werf-deploy-report.json";

/// Why a report cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid `--deploy-report-path` `{0}`: the extension must be `.json` or none")]
    Extension(String),
    #[error("cannot write the deploy report `{path}`")]
    Write {
        path: String,
        #[source]
        source: werf_base::files::Error,
    },
}

/// The report's content.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct DeployReport {
    pub version: u32,
    pub release: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub revision: u64,
    pub status: String,
    pub resources: Vec<Resource>,
}

/// One object of the revision.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Resource {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The path werf writes to: `given` with `.json` added when it has no extension.
pub fn path(given: &Path) -> Result<PathBuf, Error> {
    match given.extension().and_then(|e| e.to_str()) {
        None => {
            let mut p = given.as_os_str().to_owned();
            p.push(".json");
            Ok(PathBuf::from(p))
        }
        Some("json") => Ok(given.to_path_buf()),
        Some(_) => Err(Error::Extension(given.display().to_string())),
    }
}

/// The report of release `name` in `namespace` from its last record (`None`: the release has
/// none). `up_to_date`: the converge changed nothing (werf's `skipped`).
pub fn report(
    name: &str,
    namespace: &str,
    last: Option<&Record>,
    up_to_date: bool,
) -> DeployReport {
    let status = match (up_to_date, last) {
        (true, _) => "skipped".to_string(),
        (false, Some(r)) => r.status().as_str().to_string(),
        (false, None) => "unknown".to_string(),
    };
    let resources = last
        .map(|r| {
            documents(r.manifest())
                .iter()
                .filter_map(|(_, text)| resource(text))
                .collect()
        })
        .unwrap_or_default();
    DeployReport {
        version: 2,
        release: name.to_string(),
        namespace: namespace.to_string(),
        revision: last.map_or(0, Record::revision),
        status,
        resources,
    }
}

fn resource(text: &str) -> Option<Resource> {
    let v: serde_json::Value = serde_yaml_ng::from_str(text).ok()?;
    let field = |k: &str| v.get(k)?.as_str().map(str::to_string);
    let meta = v.get("metadata")?;
    Some(Resource {
        api_version: field("apiVersion")?,
        kind: field("kind")?,
        name: meta.get("name")?.as_str()?.to_string(),
        namespace: meta
            .get("namespace")
            .and_then(|n| n.as_str())
            .map(str::to_string),
    })
}

/// The report as werf formats it (tab-indented JSON, no final line break).
pub fn to_json(report: &DeployReport) -> Vec<u8> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    report
        .serialize(&mut ser)
        .expect("a report serializes to JSON");
    out
}

/// Writes `report` to `path` whole or not at all.
pub fn write(path: &Path, report: &DeployReport) -> Result<(), Error> {
    werf_base::files::write_whole(path, &to_json(report), false).map_err(|source| Error::Write {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_werfs_rule() {
        assert_eq!(
            path(Path::new("report")).expect("no extension"),
            PathBuf::from("report.json")
        );
        assert_eq!(
            path(Path::new("out/r.json")).expect("json"),
            PathBuf::from("out/r.json")
        );
        assert!(matches!(
            path(Path::new("r.yaml")),
            Err(Error::Extension(_))
        ));
    }

    #[test]
    fn the_json_is_werfs_shape() {
        let r = DeployReport {
            version: 2,
            release: "app".into(),
            namespace: "prod".into(),
            revision: 3,
            status: "deployed".into(),
            resources: vec![Resource {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                name: "c".into(),
                namespace: None,
            }],
        };
        assert_eq!(
            String::from_utf8(to_json(&r)).expect("utf-8"),
            "{\n\t\"version\": 2,\n\t\"release\": \"app\",\n\t\"namespace\": \"prod\",\n\t\"revision\": 3,\n\t\"status\": \"deployed\",\n\t\"resources\": [\n\t\t{\n\t\t\t\"apiVersion\": \"v1\",\n\t\t\t\"kind\": \"ConfigMap\",\n\t\t\t\"name\": \"c\"\n\t\t}\n\t]\n}"
        );
        let none = report("app", "prod", None, false);
        assert_eq!((none.revision, none.status.as_str()), (0, "unknown"));
        assert!(!String::from_utf8(to_json(&none))
            .expect("utf-8")
            .contains("revision"));
    }
}
