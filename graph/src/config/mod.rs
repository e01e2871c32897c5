//! werf.yaml: template step, multi-document split, strict schema, validation with locations.
//!
//! The loader ([`parse_with`]) runs in three steps, each with file/line/column errors:
//!
//! - [`template`]: Go templates with Sprig, `env`, `.Env`, `.Files`, `.Commit`.
//! - [`documents`]: YAML documents with their first line.
//! - per document: classify (meta, Dockerfile image, or Stapel image) and deserialize strictly
//!   (unknown keys are errors): [`images`] for Dockerfile images, [`crate::stapel::configs`] for
//!   Stapel ones.
//!
//! [`schema`] holds the typed model; [`validate`] checks names, duplicates, dependencies and paths
//! that need no Git.

pub mod common;
pub mod documents;
mod images;
pub mod schema;
pub mod template;
pub mod validate;

use crate::error::{Error, Location, Result};
use crate::stapel::configs::{resolve_stage_sources, stapel_configs};
use documents::{key_line, yaml_error};
use images::{image_configs, RawDockerfileImage};

pub use crate::stapel::configs::{stage_image_name, stage_source};
pub use documents::{split_documents, Document};
pub use schema::*;
pub use template::{render_template, CommitInfo, TemplateEnv, TemplateInputs};
use validate::validate;
pub use validate::{normalize_rel_path, PathError};

/// Parses and validates werf.yaml text. `file` is the name used in messages.
pub fn parse(file: &str, text: &str) -> Result<WerfConfig> {
    parse_with(file, text, &TemplateInputs::default())
}

/// [`parse`] with what the template step may read.
pub fn parse_with(file: &str, text: &str, inputs: &TemplateInputs<'_>) -> Result<WerfConfig> {
    let rendered = render_template(file, text, inputs)?;
    let at = |line: usize| Location {
        file: file.to_string(),
        line,
        column: 0,
    };
    gotemplate::nesting::check_yaml(&rendered).map_err(|(line, message)| Error::Config {
        at: at(line),
        message,
    })?;
    let mut meta: Option<(Meta, usize)> = None;
    let mut images: Vec<ImageConfig> = Vec::new();
    for doc in split_documents(&rendered) {
        let value: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(doc.text).map_err(|e| yaml_error(file, &doc, e))?;
        let map = value.as_mapping().ok_or_else(|| Error::Config {
            at: at(doc.first_line),
            message: "a werf.yaml document must be a mapping".into(),
        })?;
        let has = |k: &str| map.contains_key(k);
        if has("configVersion") {
            let parsed: Meta =
                serde_yaml_ng::from_str(doc.text).map_err(|e| yaml_error(file, &doc, e))?;
            if let Some((_, first)) = &meta {
                return Err(Error::Config {
                    at: at(doc.first_line),
                    message: format!(
                        "a second meta document (`configVersion`); the first is at line {first}"
                    ),
                });
            }
            if parsed.config_version != 1 {
                return Err(Error::Config {
                    at: at(key_line(&doc, "configVersion")),
                    message: format!(
                        "`configVersion: {}` is not supported; use `configVersion: 1`",
                        parsed.config_version
                    ),
                });
            }
            if parsed.project.trim().is_empty() {
                return Err(Error::Config {
                    at: at(key_line(&doc, "project")),
                    message: "`project` must not be empty".into(),
                });
            }
            if parsed.build.staged == Some(true) {
                let line = doc
                    .text
                    .lines()
                    .position(|l| l.trim_start().starts_with("staged:"))
                    .map_or(doc.first_line, |i| doc.first_line + i);
                return Err(Error::Config {
                    at: at(line),
                    message: "`build.staged: true` (layer-by-layer caching of Dockerfile instructions in the registry) is not supported yet by werf-rs: remove it (images are cached whole, by content)".into(),
                });
            }
            meta = Some((parsed, doc.first_line));
        } else if has("dockerfile") {
            let raw: RawDockerfileImage =
                serde_yaml_ng::from_str(doc.text).map_err(|e| yaml_error(file, &doc, e))?;
            images.extend(image_configs(file, &doc, raw)?);
        } else if has("image") || has("artifact") {
            images.extend(stapel_configs(file, &doc, has("artifact"))?);
        } else {
            return Err(Error::Config {
                at: at(doc.first_line),
                message: "document is neither the meta document (`configVersion`) nor an image (`image` + `dockerfile`)".into(),
            });
        }
    }
    let (meta, _) = meta.ok_or_else(|| Error::Config {
        at: at(1),
        message: "no meta document: add `configVersion: 1` and `project: NAME`".into(),
    })?;
    let mut config = WerfConfig {
        file: file.to_string(),
        meta,
        images,
    };
    resolve_stage_sources(&mut config)?;
    validate(&config)?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const OK: &str = "project: demo\nconfigVersion: 1\n---\nimage: [a, b]\ndockerfile: Dockerfile\ncontext: ./svc/\nargs:\n  N: 3\n---\n# only a comment\n---\nimage: c\ndockerfile: x/Dockerfile\ndependencies:\n- image: a\n  imports:\n  - type: ImageName\n    targetBuildArg: BASE\n";

    #[test]
    fn secrets_are_read_with_their_source_and_bad_ones_are_named() {
        let doc = |secrets: &str| {
            format!("project: p\nconfigVersion: 1\n---\nimage: a\ndockerfile: Dockerfile\nsecrets:\n{secrets}")
        };
        let c = parse(
            "werf.yaml",
            &doc("- env: TOKEN\n- src: dir/key.pem\n- id: v\n  value: hidden\n"),
        )
        .unwrap();
        let ids: Vec<&str> = c.images[0].secrets.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["TOKEN", "key.pem", "v"]);
        assert_eq!(c.images[0].secret_ids, ["TOKEN", "key.pem", "v"]);
        // The value is never shown, not even in debug output.
        let shown = format!("{:?}", c.images[0]);
        assert!(shown.contains("secret `v` from a value"), "{shown}");
        assert!(!shown.contains("hidden"), "{shown}");
        for (secrets, want) in [
            (
                "- env: A\n  value: b\n",
                "needs exactly one of `env`, `src`, `value`",
            ),
            (
                "- value: b\n",
                "a `secrets` entry with `value` needs an `id`",
            ),
            (
                "- id: a,b\n  value: c\n",
                "secret id `a,b` must be a non-empty word",
            ),
        ] {
            let e = parse("werf.yaml", &doc(secrets)).unwrap_err().to_string();
            assert!(e.starts_with("werf.yaml:6"), "{e}");
            assert!(e.contains(want), "{e}\nwant: {want}");
        }
    }

    #[test]
    fn parses_multi_document_with_image_lists() {
        let c = parse("werf.yaml", OK).expect("valid config");
        assert_eq!(c.meta.project, "demo");
        let names: Vec<_> = c.images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(c.images[0].context, "svc");
        assert_eq!(c.images[0].args["N"], "3");
        assert_eq!(c.images[0].line, 4);
        assert_eq!(c.images[2].line, 12);
        assert_eq!(
            c.images[2].dependencies[0].imports[0].kind,
            ImportType::ImageName
        );
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let text = "project: demo\nconfigVersion: 1\n---\nimage: a\ndockerfile: D\n  \ncontxt: x\n";
        let err = parse("werf.yaml", text).expect_err("unknown key");
        let msg = err.to_string();
        assert!(
            msg.starts_with("werf.yaml:7:1: unknown field `contxt`"),
            "{msg}"
        );
    }

    #[test]
    fn commit_values_and_partials_render_as_werf_gives_them() {
        let commit = CommitInfo {
            hash: "0123456789abcdef0123456789abcdef01234567".into(),
            unix: 1_767_225_600,
            offset: 3 * 3600,
        };
        let partials = vec![(
            "images/app.tmpl".to_string(),
            ".werf/images/app.tmpl".to_string(),
            "{{ define \"args\" }}REV: \"{{ .Commit.Hash }}\"{{ end }}image: app\ndockerfile: Dockerfile\nargs:\n  {{ include \"args\" . }}\n  WHEN: \"{{ .Commit.Date.Human }}\"\n  UNIX: \"{{ .Commit.Date.Unix }}\"\n".to_string(),
        )];
        let inputs = TemplateInputs {
            commit: Some(&commit),
            partials: &partials,
            ..Default::default()
        };
        let text = "project: p\nconfigVersion: 1\n---\n{{ include \"images/app.tmpl\" . }}\n";
        let config = parse_with("werf.yaml", text, &inputs).expect("renders");
        let args = &config.images[0].args;
        assert_eq!(args["REV"], commit.hash);
        assert_eq!(args["WHEN"], "2026-01-01 03:00:00 +0300 +0300");
        assert_eq!(args["UNIX"], "1767225600");
        // A partial's error names its file and line.
        let broken = vec![(
            "b.tmpl".to_string(),
            ".werf/b.tmpl".to_string(),
            "x\n{{ fail \"broken\" }}".to_string(),
        )];
        let inputs = TemplateInputs {
            commit: Some(&commit),
            partials: &broken,
            ..Default::default()
        };
        let e = parse_with("werf.yaml", "{{ include \"b.tmpl\" . }}", &inputs).expect_err("fails");
        assert!(e.to_string().contains(".werf/b.tmpl:2"), "{e}");
    }

    #[test]
    fn the_template_step_renders_env_and_reports_errors_with_location() {
        let vars: BTreeMap<String, String> = [("APP".to_string(), "shop".to_string())].into();
        let inputs = TemplateInputs {
            env: Some("prod"),
            vars: Some(&vars),
            files: None,
            ..Default::default()
        };
        let text = "project: {{ env \"APP\" }}-{{ .Env }}\nconfigVersion: 1\n{{- range $i := until 2 }}\n---\nimage: img{{ $i }}\ndockerfile: Dockerfile\n{{- end }}\n";
        let config = parse_with("werf.yaml", text, &inputs).expect("renders");
        assert_eq!(config.meta.project, "shop-prod");
        assert_eq!(config.images.len(), 2);
        let err = parse(
            "werf.yaml",
            "project: x\nconfigVersion: 1\nb: {{ .Env | nosuch }}\n",
        )
        .expect_err("template");
        assert!(err.to_string().starts_with("werf.yaml:3:"), "{err}");
        let err =
            parse("werf.yaml", "project: {{ required \"set APP\" \"\" }}\n").expect_err("required");
        assert!(err.to_string().contains("set APP"), "{err}");
    }

    #[test]
    fn duplicate_and_unknown_dependency() {
        let dup = "project: d\nconfigVersion: 1\n---\nimage: a\ndockerfile: D\n---\nimage: a\ndockerfile: D\n";
        assert!(parse("werf.yaml", dup)
            .expect_err("dup")
            .to_string()
            .contains("defined twice (first at line 4)"));
        let unk = "project: d\nconfigVersion: 1\n---\nimage: a\ndockerfile: D\ndependencies: [{image: zz}]\n";
        assert!(parse("werf.yaml", unk)
            .expect_err("unknown dep")
            .to_string()
            .contains("`zz`, which is not defined"));
    }

    #[test]
    fn paths_are_normalized_and_checked() {
        assert_eq!(normalize_rel_path("./a//b/").as_deref(), Ok("a/b"));
        assert_eq!(normalize_rel_path(".").as_deref(), Ok(""));
        assert_eq!(
            normalize_rel_path("../x"),
            Err(PathError::Outside("../x".into()))
        );
        assert_eq!(
            normalize_rel_path("a/../../x").map_err(|e| e.to_string()),
            Err("`a/../../x` points outside the project directory".into())
        );
        assert_eq!(
            normalize_rel_path("/x").map_err(|e| e.to_string()),
            Err("`/x` must be relative to the project directory".into())
        );
    }
}
