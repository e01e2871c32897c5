//! A bundle's chart in a registry as Helm stores charts there: an OCI manifest whose config is
//! the chart's metadata (`application/vnd.cncf.helm.config.v1+json`) and whose one layer is the
//! chart archive (`application/vnd.cncf.helm.chart.content.v1.tar+gzip`).

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use werf_registry::Registry;

use crate::{Error, Result};

pub const CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
pub const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The most a bundle's chart archive may weigh, compressed (Helm's limit for it unpacked).
pub const MAX_CHART_BYTES: i64 = werf_graph::chart::load::MAX_ARCHIVE_BYTES as i64;

/// `sha256:HEX` of `data`.
pub fn digest(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// The manifest of a chart whose metadata is `meta` and whose archive is `archive`, and its
/// config blob: (manifest, config).
pub fn manifest(meta: &serde_json::Value, archive: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let config = serde_json::to_vec(meta).unwrap_or_default();
    let text = |k: &str| meta.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": CHART_LAYER, "digest": digest(archive), "size": archive.len()}],
        "annotations": {
            "org.opencontainers.image.title": text("name"),
            "org.opencontainers.image.version": text("version"),
            "org.opencontainers.image.description": text("description"),
        },
    });
    (serde_json::to_vec(&body).unwrap_or_default(), config)
}

/// Pushes the chart (`meta` its `Chart.yaml` as JSON, `archive` its `.tgz`) as `repo:tag`;
/// returns the manifest's digest.
pub fn push(
    registry: &Registry,
    repo: &str,
    tag: &str,
    meta: &serde_json::Value,
    archive: Vec<u8>,
) -> Result<String> {
    let (body, config) = manifest(meta, &archive);
    registry.push_blob(repo, &digest(&config), config)?;
    registry.push_blob(repo, &digest(&archive), archive)?;
    let d = digest(&body);
    registry.push_manifest(repo, tag, body, MANIFEST)?;
    Ok(d)
}

/// A chart pulled from a registry.
pub struct Pulled {
    pub reference: String,
    pub manifest_digest: String,
    pub archive: Vec<u8>,
    pub files: BTreeMap<String, Arc<[u8]>>,
}

/// Pulls the chart `repo:tag` (an error naming it when it is not a Helm chart).
pub fn pull(registry: &Registry, repo: &str, tag: &str) -> Result<Pulled> {
    let reference = format!("{repo}:{tag}");
    let invalid = |message: String| Error::Invalid {
        bundle: reference.clone(),
        message,
    };
    let (body, manifest_digest) = registry.pull_manifest(&reference)?;
    let manifest: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| invalid(format!("the manifest is not JSON: {e}")))?;
    let config_type = manifest
        .pointer("/config/mediaType")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if config_type != CONFIG {
        return Err(invalid(format!(
            "not a Helm chart: its config's media type is `{config_type}`, not `{CONFIG}`"
        )));
    }
    let layers = manifest
        .get("layers")
        .and_then(|l| l.as_array())
        .cloned()
        .unwrap_or_default();
    let chart_layers: Vec<&serde_json::Value> = layers
        .iter()
        .filter(|l| l.get("mediaType").and_then(|m| m.as_str()) == Some(CHART_LAYER))
        .collect();
    let [layer] = chart_layers.as_slice() else {
        return Err(invalid(format!(
            "a Helm chart has one layer of type `{CHART_LAYER}`; this one has {}",
            chart_layers.len()
        )));
    };
    let layer_digest = layer
        .get("digest")
        .and_then(|d| d.as_str())
        .unwrap_or_default();
    let size = layer.get("size").and_then(|s| s.as_i64()).unwrap_or(-1);
    if !(0..=MAX_CHART_BYTES).contains(&size) {
        return Err(invalid(format!(
            "its chart layer's size {size} is not between 0 and {MAX_CHART_BYTES} bytes"
        )));
    }
    let archive = registry.pull_blob(repo, layer_digest, CHART_LAYER, size)?;
    if digest(&archive) != layer_digest {
        return Err(invalid(format!(
            "its chart layer's content does not have the digest `{layer_digest}`"
        )));
    }
    let files = crate::package::from_tgz(&reference, &archive).map_err(|cause| Error::Chart {
        chart: reference.clone(),
        cause: Box::new(cause),
    })?;
    Ok(Pulled {
        reference,
        manifest_digest,
        archive,
        files,
    })
}
