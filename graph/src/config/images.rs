//! Dockerfile image documents: the raw strict schema and its conversion into image configs.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::documents::{key_line, Document};
use super::schema::*;
use super::validate::{normalize_rel_path, validate_image_name};
use crate::error::{Error, Location, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawDockerfileImage {
    image: ImageNames,
    #[serde(rename = "final")]
    is_final: Option<bool>,
    dockerfile: String,
    context: Option<String>,
    #[serde(default)]
    context_add_files: Vec<String>,
    target: Option<String>,
    #[serde(default)]
    args: BTreeMap<String, Scalar>,
    #[serde(default)]
    platform: Vec<String>,
    cache_version: Option<String>,
    #[serde(default)]
    dependencies: Vec<Dependency>,
    #[serde(default)]
    add_host: Vec<String>,
    network: Option<String>,
    #[serde(default)]
    secrets: Vec<RawSecret>,
    staged: Option<bool>,
    image_spec: Option<Opaque>,
    /// SSH agent for `RUN --mount=type=ssh` (`default`, or `default=SOCKET`).
    ssh: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ImageNames {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecret {
    id: Option<String>,
    env: Option<String>,
    src: Option<String>,
    value: Option<String>,
}

/// A YAML scalar read as a string (werf's `args` accept numbers and booleans too).
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Str(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

pub(crate) fn image_configs(
    file: &str,
    doc: &Document<'_>,
    raw: RawDockerfileImage,
) -> Result<Vec<ImageConfig>> {
    let line = key_line(doc, "image");
    let at = |line: usize| Location {
        file: file.to_string(),
        line,
        column: 0,
    };
    let names = match raw.image {
        ImageNames::One(n) => vec![n],
        ImageNames::Many(ns) => ns,
    };
    if names.is_empty() {
        return Err(Error::Config {
            at: at(line),
            message: "`image` must name at least one image".into(),
        });
    }
    for n in &names {
        validate_image_name(n).map_err(|e| Error::Config {
            at: at(line),
            message: e.to_string(),
        })?;
    }
    if raw.staged == Some(true) {
        return Err(Error::Config {
            at: at(key_line(doc, "staged")),
            message: "`staged: true` (layer-by-layer caching of Dockerfile instructions in the registry) is not supported yet by werf-rs: remove it (images are cached whole, by content)".into(),
        });
    }
    let context =
        normalize_rel_path(raw.context.as_deref().unwrap_or(".")).map_err(|m| Error::Config {
            at: at(key_line(doc, "context")),
            message: format!("`context`: {m}"),
        })?;
    let dockerfile = normalize_rel_path(&raw.dockerfile).map_err(|m| Error::Config {
        at: at(key_line(doc, "dockerfile")),
        message: format!("`dockerfile`: {m}"),
    })?;
    if dockerfile.is_empty() {
        return Err(Error::Config {
            at: at(key_line(doc, "dockerfile")),
            message: "`dockerfile` must name a file".into(),
        });
    }
    let mut context_add_files = Vec::new();
    for f in raw.context_add_files {
        let p = normalize_rel_path(&f).map_err(|m| Error::Config {
            at: at(key_line(doc, "contextAddFiles")),
            message: format!("`contextAddFiles` entry `{f}`: {m}"),
        })?;
        if p.is_empty() {
            return Err(Error::Config {
                at: at(key_line(doc, "contextAddFiles")),
                message: "`contextAddFiles` entry must name a path inside the context".into(),
            });
        }
        context_add_files.push(p);
    }
    context_add_files.sort();
    context_add_files.dedup();
    let mut secret_ids = Vec::new();
    let mut secrets = Vec::new();
    for s in raw.secrets {
        let from = match (s.env.clone(), s.src.clone(), s.value.clone()) {
            (Some(e), None, None) => SecretFrom::Env(e),
            (None, Some(p), None) => SecretFrom::File(p),
            (None, None, Some(v)) => SecretFrom::Value(v),
            _ => {
                return Err(Error::Config {
                    at: at(key_line(doc, "secrets")),
                    message: "each `secrets` entry needs exactly one of `env`, `src`, `value`"
                        .into(),
                })
            }
        };
        let id =
            s.id.or_else(|| s.env.clone())
                .or_else(|| {
                    s.src.as_ref().map(|p| {
                        p.rsplit('/')
                            .next()
                            .expect("rsplit yields at least one part")
                            .to_string()
                    })
                })
                .ok_or_else(|| Error::Config {
                    at: at(key_line(doc, "secrets")),
                    message: "a `secrets` entry with `value` needs an `id`".into(),
                })?;
        if id.is_empty() || id.contains([',', '=', '/']) || id.contains(char::is_whitespace) {
            return Err(Error::Config {
                at: at(key_line(doc, "secrets")),
                message: format!(
                    "secret id `{id}` must be a non-empty word without `,`, `=` or `/`"
                ),
            });
        }
        secrets.push(SecretSource {
            id: id.clone(),
            from,
        });
        secret_ids.push(id);
    }
    let args: BTreeMap<String, String> = raw
        .args
        .into_iter()
        .map(|(k, v)| (k, v.into_string()))
        .collect();
    Ok(names
        .into_iter()
        .map(|name| ImageConfig {
            name,
            line,
            is_final: raw.is_final.unwrap_or(true),
            context: context.clone(),
            dockerfile: dockerfile.clone(),
            context_add_files: context_add_files.clone(),
            target: raw.target.clone(),
            args: args.clone(),
            platform: raw.platform.clone(),
            cache_version: raw.cache_version.clone(),
            dependencies: raw.dependencies.clone(),
            add_host: raw.add_host.clone(),
            network: raw.network.clone(),
            secret_ids: secret_ids.clone(),
            ssh: raw.ssh.clone(),
            secrets: secrets.clone(),
            staged: raw.staged,
            image_spec: raw.image_spec.clone(),
            stapel: None,
        })
        .collect())
}
