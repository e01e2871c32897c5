//! Stapel images (werf's own image syntax): `from`, `git` mappings, `shell` stages, `import`,
//! `dependencies`, `mount`, `docker`, in werf's stage order.
//!
//! A Stapel image is translated into a multi-stage Dockerfile whose stages are werf's stages, over
//! a synthetic build context that holds exactly the files each stage reads (a git mapping's
//! selection, and per `stageDependencies` the files a shell stage depends on). The Dockerfile
//! machinery then gives each stage a content digest and builds it; nothing new is trusted.
//!
//! - [`configs`]: Stapel documents of werf.yaml as image configs, one per werf stage.
//! - [`schema`]: the strict schema and its typed form.
//! - [`select`]: which files a mapping (and a stage's dependencies) selects, as synthetic trees.
//! - [`translate`]: the stages, written as a Dockerfile over the synthetic context.

pub mod configs;
pub mod schema;
pub mod select;
pub mod translate;

pub use schema::Stapel;
