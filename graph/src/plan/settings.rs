//! The image DAG and each image's settings from werf.yaml.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::{config, image_positions, placeholder};
use crate::config::ImageConfig;
use crate::dag::ImageDag;
use crate::db::{Db, ImageKey, Project};
use crate::error::{Error, Result};

/// The image DAG.
#[salsa::tracked(returns(ref))]
pub fn image_dag(db: &dyn Db, project: Project) -> Result<Arc<ImageDag>> {
    db.log_execution("image_dag", format_args!(""));
    let config = config(db, project).clone()?;
    ImageDag::build(&config).map(Arc::new)
}

/// One image's config plus the meta settings that reach its digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ImageSettings {
    pub image: ImageConfig,
    pub file: String,
    pub platform: Vec<String>,
    pub meta_cache_version: Option<String>,
    pub meta_image_spec: Option<String>,
}

impl ImageSettings {
    /// Build args: werf.yaml `args`, then dependency imports as placeholders.
    pub fn build_args(&self) -> BTreeMap<String, String> {
        let mut args = self.image.args.clone();
        for dep in &self.image.dependencies {
            for imp in &dep.imports {
                args.insert(
                    imp.target_build_arg.clone(),
                    placeholder(&dep.image, imp.kind),
                );
            }
        }
        args
    }
}

/// Whether `text` is a platform `OS/ARCH[/VARIANT]` (lowercase letters, digits and `_`).
pub fn is_platform(text: &str) -> bool {
    let parts: Vec<&str> = text.split('/').collect();
    (2..=3).contains(&parts.len())
        && parts.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// The settings of one image (backdated when other images' config changes).
#[salsa::tracked(returns(ref))]
pub fn image_settings<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<Arc<ImageSettings>> {
    let name = image.name(db);
    db.log_execution("image_settings", format_args!("{name}"));
    let config = config(db, project).clone()?;
    let img = image_positions(db, project)
        .as_ref()
        .ok()
        .and_then(|p| p.get(name))
        .and_then(|&i| config.images.get(i))
        .ok_or_else(|| Error::Config {
            at: config.at(0),
            message: format!("image `{name}` is not defined"),
        })?;
    let asked = &project.template_env(db).platforms;
    let mut platform = if !asked.is_empty() {
        asked.clone()
    } else {
        let own = if img.platform.is_empty() {
            &config.meta.build.platform
        } else {
            &img.platform
        };
        if let Some(bad) = own.iter().find(|p| !is_platform(p)) {
            return Err(Error::Config {
                at: config.at(img.line),
                message: format!(
                    "image `{name}`: `platform` `{bad}` is not `OS/ARCH[/VARIANT]` (as `linux/amd64` or `linux/arm/v7`)"
                ),
            });
        }
        own.clone()
    };
    platform.sort();
    Ok(Arc::new(ImageSettings {
        image: img.clone(),
        file: config.file.clone(),
        platform,
        meta_cache_version: config.meta.build.cache_version.clone(),
        meta_image_spec: config.meta.build.image_spec.as_ref().map(|o| o.0.clone()),
    }))
}
