//! The converge pipeline the commands share: publish the images, render the chart, and make the
//! desired objects of the next revision; the commands (`build`, `render`, `plan`, `converge`,
//! `rollback`, `dismiss`) call these instead of borrowing from one another.
//!
//! - [`publish`]: build and push what the registry lacks.
//! - [`builder`]: what builds images with `RUN` when `--backend` is not given.
//! - [`render`]: render options (names, values, secrets), manifests and CRDs.
//! - [`bundle`]: a project's chart published as a bundle, and a pulled bundle to deploy.
//! - [`source`]: what a deploy renders: a project's chart or a bundle's.
//! - [`images`]: custom tags and `--require-built-images`.
//! - [`deploy_report`]: werf's deploy report.
//! - [`desired`]: the runtime, the cluster target, the release, and the desired objects.
//! - [`why`]: two revisions side by side, and the chain from an edited file to an image or object.

pub mod builder;
pub mod bundle;
pub mod deploy_report;
pub mod desired;
pub mod images;
pub mod publish;
pub mod render;
pub mod source;
pub mod why;
