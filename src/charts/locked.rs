//! The dependencies a render needs as `Chart.lock` pins them (declared in `Chart.yaml`, absent
//! from `charts/`, which werf's documentation has gitignored): each found in the cache under the
//! werf home, or fetched at its locked version (the archive checked against its repository's
//! digest) and cached, so that a second render needs no network.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use serde_json::json;

use super::cache::Cache;
use super::fetch::Fetcher;
use crate::project::Loaded;

/// The archives to add to the chart's `charts/`, by file name (empty when nothing is missing).
pub fn archives(
    loaded: &Loaded,
    home: &std::path::Path,
    timeouts: crate::net::Timeouts,
    access: &crate::settings::RegistrySettings,
) -> Result<BTreeMap<String, Arc<[u8]>>> {
    let wanted = werf_graph::render::dependencies_to_fetch(&loaded.db, loaded.project).clone()?;
    let mut out = BTreeMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let cache = Cache::new(home);
    let mut to_fetch = Vec::new();
    for dep in wanted.iter() {
        match cache.get(dep)? {
            Some((file, data)) => {
                out.insert(file, Arc::from(data));
            }
            None => to_fetch.push(dep),
        }
    }
    if to_fetch.is_empty() {
        return Ok(out);
    }
    let requested: Vec<serde_json::Value> = to_fetch
        .iter()
        .map(|d| json!({"name": d.name, "repository": d.repository, "version": d.version}))
        .collect();
    let fetcher = Fetcher::new(timeouts, access, &requested)?;
    let chart_dir = loaded.repo.workdir.join(&loaded.repo.prefix);
    for (dep, request) in to_fetch.into_iter().zip(&requested) {
        let fetched = fetcher
            .resolve(&chart_dir, request, Some(&dep.version))
            .with_context(|| {
                format!(
                    "fetching chart dependency `{}` {} (Chart.lock) from `{}`",
                    dep.name,
                    dep.version,
                    crate::redact::urls(&dep.repository)
                )
            })?;
        if let Some((_, file, data)) = fetched {
            cache.put(dep, &file, &data)?;
            out.insert(file, Arc::from(data));
        }
    }
    Ok(out)
}
