//! `werf ci-env`: the `WERF_*` variables a CI job's werf commands read, as a script to source.
//!
//! - [`script`]: which variables GitLab CI/CD and GitHub Actions jobs get, from the job's own
//!   variables, and how each shell writes them (pure).
//!
//! The job's own Docker config folder is made by [`crate::docker_config`].

pub mod script;
