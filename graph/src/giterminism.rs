//! `werf-giterminism.yaml` (giterminismConfigVersion 1), as werf reads it: every directive
//! loosens one restriction; without the file every restriction holds. Read strictly (an unknown
//! key is an error naming its line), and asked by the engine (`env` in werf.yaml, `secrets`,
//! `contextAddFiles`, `mount.fromPath`) and by the command line (which uncommitted files may be
//! read from the work tree).

use serde::Deserialize;

use crate::error::{Error, Location, Result};
use crate::pattern::{Glob, NamePattern};

/// The file's name, in the project folder.
pub const FILE: &str = "werf-giterminism.yaml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Raw {
    giterminism_config_version: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    cli: RawCli,
    #[serde(default)]
    config: RawConfig,
    #[serde(default)]
    helm: RawHelm,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCli {
    #[serde(default)]
    allow_custom_tags: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    #[serde(default)]
    allow_uncommitted: bool,
    #[serde(default)]
    allow_uncommitted_templates: Vec<String>,
    #[serde(default)]
    go_template_rendering: RawGoTemplate,
    #[serde(default)]
    secrets: RawSecrets,
    #[serde(default)]
    stapel: RawStapel,
    #[serde(default)]
    dockerfile: RawDockerfile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawGoTemplate {
    #[serde(default)]
    allow_env_variables: Vec<String>,
    #[serde(default)]
    allow_uncommitted_files: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSecrets {
    #[serde(default)]
    allow_env_variables: Vec<String>,
    #[serde(default)]
    allow_files: Vec<String>,
    #[serde(default)]
    allow_value_ids: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawStapel {
    #[serde(default)]
    allow_from_latest: bool,
    #[serde(default)]
    git: RawStapelGit,
    #[serde(default)]
    mount: RawStapelMount,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawStapelGit {
    #[serde(default)]
    allow_branch: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawStapelMount {
    #[serde(default)]
    allow_build_dir: bool,
    #[serde(default)]
    allow_from_paths: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawDockerfile {
    #[serde(default)]
    allow_uncommitted: Vec<String>,
    #[serde(default)]
    allow_uncommitted_dockerignore_files: Vec<String>,
    #[serde(default)]
    allow_context_add_files: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawHelm {
    #[serde(default)]
    allow_uncommitted_files: Vec<String>,
}

/// What `werf-giterminism.yaml` allows (the default: nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Giterminism {
    pub allow_custom_tags: bool,
    /// werf.yaml itself from the work tree.
    pub allow_uncommitted_config: bool,
    /// `.werf/**/*.tmpl` from the work tree (globs, project-relative).
    pub uncommitted_templates: Vec<String>,
    /// Files `.Files.Get`/`.Files.Glob` read from the work tree.
    pub uncommitted_template_files: Vec<String>,
    /// Environment variables werf.yaml's `env` may read (names, or `/REGEXP/`).
    pub env_variables: Vec<String>,
    pub secret_env_variables: Vec<String>,
    pub secret_files: Vec<String>,
    pub secret_value_ids: Vec<String>,
    pub allow_from_latest: bool,
    pub allow_branch: bool,
    pub allow_build_dir: bool,
    pub mount_from_paths: Vec<String>,
    pub uncommitted_dockerfiles: Vec<String>,
    pub uncommitted_dockerignores: Vec<String>,
    pub context_add_files: Vec<String>,
    pub uncommitted_helm_files: Vec<String>,
}

fn glob_matches(globs: &[String], path: &str) -> bool {
    globs
        .iter()
        .any(|g| Glob::new(g.trim_start_matches("./")).matches_or_parent(path))
}

/// Whether one of `patterns` (names, or `/REGEXP/`) matches `name`.
fn name_matches(patterns: &[String], name: &str) -> bool {
    patterns
        .iter()
        .any(|p| NamePattern::new(p).is_ok_and(|p| p.matches(name)))
}

impl Giterminism {
    /// Reads the file's text (`file` names it in errors).
    pub fn parse(file: &str, text: &str) -> Result<Giterminism> {
        let err = |line: usize, column: usize, message: String| Error::Config {
            at: Location {
                file: file.to_string(),
                line,
                column,
            },
            message,
        };
        let raw: Raw = serde_yaml_ng::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((1, 0), |l| (l.line(), l.column()));
            err(line, column, e.to_string())
        })?;
        match &raw.giterminism_config_version {
            Some(serde_yaml_ng::Value::Number(n)) if n.as_u64() == Some(1) => {}
            Some(serde_yaml_ng::Value::String(s)) if s == "1" => {}
            Some(other) => {
                return Err(err(
                    1,
                    0,
                    format!("`giterminismConfigVersion` must be 1, not {other:?}"),
                ))
            }
            None => {
                return Err(err(
                    1,
                    0,
                    "`giterminismConfigVersion: 1` is required".into(),
                ))
            }
        }
        for p in &raw.config.go_template_rendering.allow_env_variables {
            NamePattern::new(p).map_err(|e| {
                err(
                    1,
                    0,
                    format!("`config.goTemplateRendering.allowEnvVariables`: {e}"),
                )
            })?;
        }
        Ok(Giterminism {
            allow_custom_tags: raw.cli.allow_custom_tags,
            allow_uncommitted_config: raw.config.allow_uncommitted,
            uncommitted_templates: raw.config.allow_uncommitted_templates,
            uncommitted_template_files: raw.config.go_template_rendering.allow_uncommitted_files,
            env_variables: raw.config.go_template_rendering.allow_env_variables,
            secret_env_variables: raw.config.secrets.allow_env_variables,
            secret_files: raw.config.secrets.allow_files,
            secret_value_ids: raw.config.secrets.allow_value_ids,
            allow_from_latest: raw.config.stapel.allow_from_latest,
            allow_branch: raw.config.stapel.git.allow_branch,
            allow_build_dir: raw.config.stapel.mount.allow_build_dir,
            mount_from_paths: raw.config.stapel.mount.allow_from_paths,
            uncommitted_dockerfiles: raw.config.dockerfile.allow_uncommitted,
            uncommitted_dockerignores: raw.config.dockerfile.allow_uncommitted_dockerignore_files,
            context_add_files: raw.config.dockerfile.allow_context_add_files,
            uncommitted_helm_files: raw.helm.allow_uncommitted_files,
        })
    }

    /// Whether werf.yaml's `env NAME` may read the variable.
    pub fn allows_env(&self, name: &str) -> bool {
        name_matches(&self.env_variables, name)
    }

    /// Whether the uncommitted work-tree file `path` (project-relative) may be read instead of
    /// the commit's, for what reads it: the config, its templates and `.Files`, Dockerfiles and
    /// `.dockerignore`s, chart files.
    pub fn allows_uncommitted(&self, path: &str, config_file: &str) -> bool {
        (self.allow_uncommitted_config && path == config_file)
            || glob_matches(&self.uncommitted_templates, path)
            || glob_matches(&self.uncommitted_template_files, path)
            || glob_matches(&self.uncommitted_dockerfiles, path)
            || glob_matches(&self.uncommitted_dockerignores, path)
            || glob_matches(&self.uncommitted_helm_files, path)
    }

    /// Whether the chart may read the uncommitted file `path` (project-relative).
    pub fn allows_uncommitted_chart_file(&self, path: &str) -> bool {
        glob_matches(&self.uncommitted_helm_files, path)
    }

    /// Whether an image may read its uncommitted Dockerfile `path` (project-relative).
    pub fn allows_uncommitted_dockerfile(&self, path: &str) -> bool {
        glob_matches(&self.uncommitted_dockerfiles, path)
    }

    /// Whether an image may read its uncommitted `.dockerignore` `path` (project-relative).
    pub fn allows_uncommitted_dockerignore(&self, path: &str) -> bool {
        glob_matches(&self.uncommitted_dockerignores, path)
    }

    /// Whether `contextAddFiles` may name `path` (project-relative).
    pub fn allows_context_add_file(&self, path: &str) -> bool {
        self.context_add_files.iter().any(|p| {
            p.trim_start_matches("./").trim_end_matches('/') == path
                || glob_matches(std::slice::from_ref(p), path)
        })
    }

    /// Whether a Stapel `mount` may take `fromPath` `path`.
    pub fn allows_mount_from_path(&self, path: &str) -> bool {
        glob_matches(&self.mount_from_paths, path)
    }

    /// Whether a werf.yaml secret from environment variable `name` is allowed.
    pub fn allows_secret_env(&self, name: &str) -> bool {
        self.secret_env_variables.iter().any(|v| v == name)
    }

    /// Whether a werf.yaml secret from file `path` is allowed.
    pub fn allows_secret_file(&self, path: &str) -> bool {
        glob_matches(&self.secret_files, path)
    }

    /// Whether a werf.yaml secret `value` with id `id` is allowed.
    pub fn allows_secret_value(&self, id: &str) -> bool {
        self.secret_value_ids.iter().any(|v| v == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_read_strictly_and_answers_as_werf() {
        let g = Giterminism::parse(
            FILE,
            "giterminismConfigVersion: 1\ncli:\n  allowCustomTags: true\nconfig:\n  allowUncommittedTemplates: [\".werf/*.tmpl\"]\n  goTemplateRendering:\n    allowEnvVariables: [CI_COMMIT_TAG, /^APP_/]\n    allowUncommittedFiles: [\"conf/**\"]\n  dockerfile:\n    allowContextAddFiles: [generated]\nhelm:\n  allowUncommittedFiles: [\".helm/values.yaml\"]\n",
        )
        .expect("parses");
        assert!(g.allow_custom_tags);
        assert!(g.allows_env("CI_COMMIT_TAG") && g.allows_env("APP_NAME"));
        assert!(!g.allows_env("HOME") && !g.allows_env("MY_APP_X"));
        assert!(g.allows_uncommitted(".werf/a.tmpl", "werf.yaml"));
        assert!(g.allows_uncommitted("conf/x/y.txt", "werf.yaml"));
        assert!(g.allows_uncommitted(".helm/values.yaml", "werf.yaml"));
        assert!(!g.allows_uncommitted("werf.yaml", "werf.yaml"));
        assert!(!g.allows_uncommitted("app/main.c", "werf.yaml"));
        assert!(g.allows_context_add_file("generated"));
        assert!(g.allows_context_add_file("generated/file"));
        assert!(!g.allows_context_add_file("other"));
        // Nothing is allowed without the file.
        let none = Giterminism::default();
        assert!(!none.allows_env("CI_COMMIT_TAG"));
        assert!(!none.allows_uncommitted("werf.yaml", "werf.yaml"));
    }

    #[test]
    fn an_unknown_key_or_version_is_an_error_naming_the_line() {
        let e = Giterminism::parse(
            FILE,
            "giterminismConfigVersion: 1\nconfig:\n  allowUncomitted: true\n",
        )
        .expect_err("typo");
        let text = e.to_string();
        assert!(
            text.contains("werf-giterminism.yaml:3") && text.contains("allowUncomitted"),
            "{text}"
        );
        let e = Giterminism::parse(FILE, "giterminismConfigVersion: 2\n").expect_err("version");
        assert!(e.to_string().contains("must be 1"), "{e}");
        let e = Giterminism::parse(FILE, "cli: {}\n").expect_err("no version");
        assert!(e.to_string().contains("is required"), "{e}");
        assert!(Giterminism::parse(FILE, "giterminismConfigVersion: \"1\"\n").is_ok());
    }
}
