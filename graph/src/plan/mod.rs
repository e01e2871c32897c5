//! Tracked queries: config -> image DAG -> per-image sources -> per-stage digests -> image plans.
//!
//! Each query logs when its body runs, so tests can assert what an input change recomputed.
//! Early cutoff comes from salsa's backdating: a query that recomputes an equal value (same tree
//! id, same parsed Dockerfile) does not invalidate the queries that read it.
//!
//! - [`werf_yaml`]: werf.yaml read from the commit (its blob, partials, `.Files`) and parsed.
//! - [`settings`]: the image DAG and each image's settings.
//! - [`sources`]: each image's layout (where its context, Dockerfile and `.dockerignore` are), its
//!   context's tree, its Dockerfile resolved (or its Stapel translation) and `.dockerignore`.
//! - [`stage`]: each stage's plan and digest.
//! - [`image`]: each image's stages, plan, tag and digest, and the placeholders dependencies stand
//!   for.
//! - [`memo`]: plans remembered across processes (the inputs' digest, the encoding, the seed).
//! - [`carry`]: every image's digest along a sequence of trees, asking only for the images a
//!   tree's diff may have changed (the cleanup's history walk).
//! - this file: every image planned (or just its digest), in parallel, with progress reported.

pub mod carry;
pub mod image;
pub mod memo;
pub mod settings;
pub mod sources;
pub mod stage;
pub mod werf_yaml;

use std::sync::Arc;

use rayon::prelude::*;

use crate::db::{Database, ImageKey, Project};
use crate::digest::Digest;
use crate::error::Result;

pub use image::{
    image_digest, image_plan, image_stages, placeholder, placeholder_images, ImagePlan, ImageStages,
};
pub use settings::{image_dag, image_settings, ImageSettings};
pub use sources::{
    dockerignore, image_layout, image_sources, resolved_dockerfile, stapel_translation,
    ImageLayout, ImageSources,
};
pub use stage::{context_source, stage_plan, BaseRef, Component, SourceUse, StagePlan};
pub use werf_yaml::{config, config_blob, image_positions};

/// Progress of a plan, for the caller to draw (the engine never draws).
pub trait Reporter: Sync {
    /// Planning starts for `images` images.
    fn start(&self, _images: usize) {}
    /// One image's plan is done (or failed).
    fn planned(&self, _image: &str, _ok: bool) {}
}

/// A reporter that reports nothing.
pub struct Silent;

impl Reporter for Silent {}

/// Plans for every image of the project, in werf.yaml order, computed in parallel (rayon).
/// A config error (including a cycle) fails the whole plan; other errors stay per image.
pub fn plan_all(db: &Database, project: Project) -> Result<Vec<(String, Result<Arc<ImagePlan>>)>> {
    plan_all_with(db, project, &Silent)
}

/// [`plan_all`] with progress reports.
pub fn plan_all_with(
    db: &Database,
    project: Project,
    reporter: &dyn Reporter,
) -> Result<Vec<(String, Result<Arc<ImagePlan>>)>> {
    each_image(db, project, reporter, |db, key| {
        image_plan(db, project, key).clone()
    })
}

/// Every image's digest (its tag's source), in werf.yaml order, computed in parallel: what a
/// tag needs and no more (see [`image::image_stages`]). Errors as [`plan_all`]'s.
pub fn digests_all(db: &Database, project: Project) -> Result<Vec<(String, Result<Digest>)>> {
    each_image(db, project, &Silent, |db, key| {
        image_digest(db, project, key).clone()
    })
}

/// `ask` of every image of werf.yaml, in its order, in parallel (rayon), each reported done
/// or failed. A config error (including a cycle) fails the whole request.
fn each_image<T: Send>(
    db: &Database,
    project: Project,
    reporter: &dyn Reporter,
    ask: impl Fn(&Database, ImageKey<'_>) -> Result<T> + Sync + Send,
) -> Result<Vec<(String, Result<T>)>> {
    let config = config(db, project).clone()?;
    image_dag(db, project).clone()?;
    let names: Vec<String> = config.images.iter().map(|i| i.name.clone()).collect();
    reporter.start(names.len());
    Ok(names
        .into_par_iter()
        .map_with(db.clone(), |db, name| {
            let key = ImageKey::new(db, name.clone());
            let answer = ask(db, key);
            reporter.planned(&name, answer.is_ok());
            (name, answer)
        })
        .collect())
}
