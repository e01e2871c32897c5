//! Stapel documents of werf.yaml as image configs: a Stapel image becomes one internal image per
//! werf stage (the last is the image itself), and `IMAGE@STAGE` imports name the stage image they
//! read.

use std::collections::BTreeMap;

use crate::config::documents::{key_line, yaml_error, Document};
use crate::config::schema::*;
use crate::config::validate::validate_image_name;
use crate::error::{Error, Location, Result};

/// The images of a Stapel document.
pub(crate) fn stapel_configs(
    file: &str,
    doc: &Document<'_>,
    is_artifact_doc: bool,
) -> Result<Vec<ImageConfig>> {
    let raw: crate::stapel::schema::RawStapel =
        serde_yaml_ng::from_str(doc.text).map_err(|e| yaml_error(file, doc, e))?;
    let line = key_line(doc, if is_artifact_doc { "artifact" } else { "image" });
    let at = |line: usize| Location {
        file: file.to_string(),
        line,
        column: 0,
    };
    let c = crate::stapel::schema::convert(raw).map_err(|(field, message)| {
        let top = field
            .split(['.', '['])
            .next()
            .unwrap_or(field.as_str())
            .to_string();
        Error::Config {
            at: at(key_line(doc, &top)),
            message: format!("`{field}`: {message}"),
        }
    })?;
    if c.names.is_empty() {
        return Err(Error::Config {
            at: at(line),
            message: "`image` must name at least one image".into(),
        });
    }
    for n in &c.names {
        validate_image_name(n).map_err(|e| Error::Config {
            at: at(line),
            message: e.to_string(),
        })?;
    }
    let stapel = std::sync::Arc::new(c.stapel);
    let images = stapel.images();
    let stage_names = crate::stapel::translate::stage_names(&stapel);
    let arg = |name: &str| {
        crate::stapel::translate::image_arg(
            images
                .iter()
                .position(|i| i == name)
                .expect("every image read is numbered"),
        )
    };
    let name_import = |image: &str, build_arg: String| Dependency {
        image: image.to_string(),
        imports: vec![Import {
            kind: ImportType::ImageName,
            target_build_arg: build_arg,
        }],
    };
    let mut out = Vec::new();
    for name in &c.names {
        for (k, stage) in stage_names.iter().enumerate() {
            let last = k + 1 == stage_names.len();
            // What this stage reads: the stage before (or the base), its imports, its
            // dependencies' values.
            let mut dependencies = Vec::new();
            if k == 0 {
                if let crate::stapel::schema::Base::Image(b) = &stapel.base {
                    dependencies.push(name_import(b, arg(b)));
                }
            } else {
                dependencies.push(name_import(
                    &stage_image_name(name, stage_names[k - 1]),
                    crate::stapel::translate::PREV_ARG.to_string(),
                ));
            }
            for slot in crate::stapel::schema::Slot::ALL {
                if slot.stage_name() != *stage {
                    continue;
                }
                for imp in stapel.imports.iter().filter(|i| i.slot == slot) {
                    // `IMAGE@STAGE` until [`resolve_stage_sources`] names the stage's image.
                    dependencies.push(name_import(&imp.source(), arg(&imp.source())));
                }
                for (s, image, env, kind) in &stapel.dependency_env {
                    if *s == slot {
                        dependencies.push(Dependency {
                            image: image.clone(),
                            imports: vec![Import {
                                kind: *kind,
                                target_build_arg: env.clone(),
                            }],
                        });
                    }
                }
            }
            out.push(ImageConfig {
                name: if last {
                    name.clone()
                } else {
                    stage_image_name(name, stage)
                },
                line,
                is_final: last && c.is_final.unwrap_or(!c.is_artifact),
                context: String::new(),
                dockerfile: String::new(),
                context_add_files: Vec::new(),
                target: None,
                args: BTreeMap::new(),
                platform: c.platform.clone(),
                cache_version: None,
                dependencies,
                add_host: Vec::new(),
                network: None,
                secret_ids: Vec::new(),
                ssh: None,
                secrets: Vec::new(),
                staged: None,
                image_spec: if last { c.image_spec.clone() } else { None },
                stapel: Some(StapelStage {
                    stapel: stapel.clone(),
                    image: name.clone(),
                    stage: stage.to_string(),
                    last,
                }),
            });
        }
    }
    Ok(out)
}

/// The image an import of `image` as it was after werf stage `stage` reads: the stage image of
/// the last stage of `image` at or before `stage` in werf's order (the image itself when that is
/// its last stage), or its base image when it has no stage that early. `stages` are `image`'s
/// (werf stage name, image name) in order.
/// Why an import's `stage` names no image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageSourceError {
    #[error("`{0}` is not a werf stage")]
    NotAStage(String),
    #[error("`stage: {stage}` imports a stage of `{image}`, which is not a Stapel image")]
    NotStapel { image: String, stage: String },
    #[error("`{image}` has no stage up to `{stage}`: import from its base `{base}` instead")]
    BeforeFirst {
        image: String,
        stage: String,
        base: String,
    },
}

pub fn stage_source(
    image: &str,
    stage: &str,
    stages: &[(&str, &str)],
    base: Option<&crate::stapel::schema::Base>,
) -> std::result::Result<String, StageSourceError> {
    use crate::stapel::translate::STAGE_ORDER;
    let order = |s: &str| STAGE_ORDER.iter().position(|o| *o == s);
    let wanted = order(stage).ok_or_else(|| StageSourceError::NotAStage(stage.to_string()))?;
    let (false, Some(base)) = (stages.is_empty(), base) else {
        return Err(StageSourceError::NotStapel {
            image: image.to_string(),
            stage: stage.to_string(),
        });
    };
    if let Some((_, name)) = stages
        .iter()
        .rev()
        .find(|(s, _)| order(s).is_some_and(|o| o <= wanted))
    {
        return Ok(name.to_string());
    }
    match base {
        crate::stapel::schema::Base::Image(b) => Ok(b.clone()),
        crate::stapel::schema::Base::External(r) => Err(StageSourceError::BeforeFirst {
            image: image.to_string(),
            stage: stage.to_string(),
            base: r.clone(),
        }),
    }
}

/// Names the images that `IMAGE@STAGE` dependencies (imports with `stage`) read.
pub(crate) fn resolve_stage_sources(config: &mut WerfConfig) -> Result<()> {
    let mut resolved: Vec<(usize, usize, String)> = Vec::new();
    for (i, img) in config.images.iter().enumerate() {
        for (d, dep) in img.dependencies.iter().enumerate() {
            let Some((source, stage)) = dep.image.split_once('@') else {
                continue;
            };
            let stages: Vec<(&str, &str)> = config
                .images
                .iter()
                .filter_map(|o| {
                    o.stapel
                        .as_ref()
                        .filter(|s| s.image == source)
                        .map(|s| (s.stage.as_str(), o.name.as_str()))
                })
                .collect();
            let base = config
                .images
                .iter()
                .find_map(|o| o.stapel.as_ref().filter(|s| s.image == source))
                .map(|s| s.stapel.base.clone());
            let exists = config.images.iter().any(|o| o.name == source);
            if !exists {
                return Err(Error::Config {
                    at: config.at(img.line),
                    message: format!(
                        "image `{}` imports from `{source}`, which is not defined in werf.yaml",
                        img.name
                    ),
                });
            }
            let name =
                stage_source(source, stage, &stages, base.as_ref()).map_err(|m| Error::Config {
                    at: config.at(img.line),
                    message: format!("image `{}`: {m}", img.name),
                })?;
            resolved.push((i, d, name));
        }
    }
    for (i, d, name) in resolved {
        config.images[i].dependencies[d].image = name;
    }
    Ok(())
}

/// The internal image holding stage `stage` of Stapel image `image` (the last stage is the image
/// itself).
pub fn stage_image_name(image: &str, stage: &str) -> String {
    format!("{image}/stapel-stage/{stage}")
}
