//! werf.yaml's checks that need no Git: names, duplicates, dependencies, paths.

use std::collections::HashMap;

use super::schema::*;
use crate::error::{Error, Result};

/// An image name werf cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image name `{0}`: use `/`-separated segments of letters, digits, `.`, `_`, `-`")]
pub struct BadImageName(String);

/// A path of werf.yaml that leaves the project.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("`{0}` must be relative to the project directory")]
    Absolute(String),
    #[error("`{0}` points outside the project directory")]
    Outside(String),
}

/// Image names are `/`-separated segments of `[A-Za-z0-9._-]`.
pub(crate) fn validate_image_name(name: &str) -> std::result::Result<(), BadImageName> {
    let ok = !name.is_empty()
        && name.split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        });
    if ok {
        Ok(())
    } else {
        Err(BadImageName(name.to_string()))
    }
}

/// Normalizes a relative path: `./a//b/` -> `a/b`, `.` -> ``; absolute paths and `..` escapes are errors.
pub fn normalize_rel_path(p: &str) -> std::result::Result<String, PathError> {
    if p.starts_with('/') {
        return Err(PathError::Absolute(p.to_string()));
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathError::Outside(p.to_string()));
                }
            }
            s => parts.push(s),
        }
    }
    Ok(parts.join("/"))
}

pub(crate) fn validate(config: &WerfConfig) -> Result<()> {
    // `imageSpec`s are read strictly now (the build applies them): an unknown key or a bad
    // value names itself.
    if let Some(spec) = &config.meta.build.image_spec {
        crate::image_spec::ImageSpec::parse(&spec.0, true).map_err(|source| Error::ImageSpec {
            at: config.at(1),
            image: None,
            spec: Box::new(source),
        })?;
    }
    for img in &config.images {
        if let Some(spec) = &img.image_spec {
            crate::image_spec::ImageSpec::parse(&spec.0, false).map_err(|source| {
                Error::ImageSpec {
                    at: config.at(img.line),
                    image: Some(img.name.clone()),
                    spec: Box::new(source),
                }
            })?;
        }
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for img in &config.images {
        if let Some(first) = seen.insert(&img.name, img.line) {
            return Err(Error::Config {
                at: config.at(img.line),
                message: format!(
                    "image `{}` is defined twice (first at line {first})",
                    img.name
                ),
            });
        }
    }
    for img in &config.images {
        let mut build_args: HashMap<&str, &str> = HashMap::new();
        for dep in &img.dependencies {
            if dep.image == img.name {
                return Err(Error::Cycle {
                    at: config.at(img.line),
                    cycle: vec![img.name.clone(), img.name.clone()],
                });
            }
            if !seen.contains_key(dep.image.as_str()) {
                return Err(Error::Config {
                    at: config.at(img.line),
                    message: format!(
                        "image `{}` depends on `{}`, which is not defined in werf.yaml",
                        img.name, dep.image
                    ),
                });
            }
            for imp in &dep.imports {
                if let Some(other) = build_args.insert(&imp.target_build_arg, &dep.image) {
                    return Err(Error::Config {
                        at: config.at(img.line),
                        message: format!(
                            "build arg `{}` of image `{}` is imported from both `{other}` and `{}`",
                            imp.target_build_arg, img.name, dep.image
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}
