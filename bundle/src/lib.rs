//! werf bundles: a project's chart with its images' references and deploy values, published as
//! an OCI Helm chart (Helm's media types, so `helm pull oci://…` reads it) and deployed later
//! without the Git repository; copied with every image it references between registries and
//! archives (air-gapped transfer).
//!
//! - [`version`]: the chart version a bundle's tag gives (werf's rule).
//! - [`package`]: chart files as a reproducible Helm chart archive, and back.
//! - [`compose`]: a project's chart files made into a bundle's (values with werf's service
//!   values, fetched dependencies in `charts/`).
//! - [`artifact`]: the chart pushed to and pulled from a registry as an OCI artifact.
//! - [`images`]: an image (a manifest or an index) copied between repositories.
//! - [`archive`]: a bundle archive: the chart and its images' blobs in one file (an OCI layout).
//! - [`copy`]: a bundle and its images between registries and archives, references retargeted.
//! - [`export`]: `werf export`: an image under another reference, werf's labels removed.

pub mod archive;
pub mod artifact;
pub mod compose;
pub mod copy;
pub mod export;
pub mod images;
pub mod package;
pub mod version;

/// Errors of bundles.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("registry")]
    Registry(#[source] Box<werf_registry::Error>),
    #[error("bundle `{bundle}`: {message}")]
    Invalid { bundle: String, message: String },
    #[error("bundle chart `{chart}`")]
    Chart {
        chart: String,
        #[source]
        cause: Box<werf_graph::Error>,
    },
    #[error("bundle archive `{path}`")]
    Io {
        path: String,
        #[source]
        cause: std::io::Error,
    },
}

impl From<werf_registry::Error> for Error {
    fn from(e: werf_registry::Error) -> Self {
        Error::Registry(Box::new(e))
    }
}

/// Result with the bundle error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
