//! Charts from repositories, for `werf helm dependency` and for every command that renders.
//!
//! - [`fetch`]: one dependency fetched from an OCI registry, a classic repository or a folder.
//! - [`cache`]: fetched archives under the werf home, by content digest, found again offline.
//! - [`repos`]: named repositories in Helm's `repositories.yaml` (`werf helm repo`).
//! - [`locked`]: the dependencies a render needs as `Chart.lock` pins them, from the cache or
//!   fetched.

pub mod cache;
pub mod fetch;
pub mod locked;
pub mod repos;
