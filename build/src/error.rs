//! A build's errors, and why one image failed (typed, each with its cause).

use crate::{buildah, buildkit, image_spec, imports, native, registry};

/// Errors of a build: every failed image with its cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Registry(#[from] registry::Error),
    #[error("{} image{} failed:\n  {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.iter().map(|(n, e)| format!("`{n}`: {e}")).collect::<Vec<_>>().join("\n  "))]
    Images(Vec<(String, ImageError)>),
    #[error("cache: {0}")]
    Cache(#[from] werf_cache::Error),
    #[error(transparent)]
    Plan(werf_graph::Error),
}

/// Why one image was not built. Where a backend's own message leaves out what caused it (a
/// BuildKit solve, an import's read, a base image's registry answer), the message carries the
/// causes on one line, as the build's list of failures shows each image on one line.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Cache(#[from] werf_cache::Error),
    #[error(transparent)]
    Registry(#[from] registry::Error),
    #[error(transparent)]
    Native(#[from] native::Error),
    /// A base or source image read while planning an import.
    #[error("{}", werf_base::errors::chain(.0))]
    Source(#[source] native::Error),
    #[error(transparent)]
    Buildah(#[from] buildah::Error),
    #[error("{}", werf_base::errors::chain(.0))]
    Buildkit(#[source] buildkit::Error),
    #[error("{}", werf_base::errors::chain(.0))]
    ImageSpec(#[source] image_spec::Error),
    #[error("{}", werf_base::errors::chain(.0))]
    Import(#[source] imports::Error),
    #[error(transparent)]
    Plan(#[from] werf_graph::Error),
    /// One platform of a multi-platform image failed.
    #[error("for `{platform}`: {cause}")]
    Platform {
        platform: String,
        #[source]
        cause: Box<ImageError>,
    },
    /// What this build cannot do yet (the message names it and the way around).
    #[error("{0}")]
    Unsupported(String),
    #[error("not built: a dependency or another image failed first")]
    NotBuilt,
}
