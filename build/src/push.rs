//! Images pushed to the registry: a natively built one blobs first (mounted from their source
//! repository when it is on the same registry, else uploaded), then its manifest; the digests
//! of images already there; and record tags (a manifest with no layers whose config's labels
//! say what it records).

use std::collections::HashMap;
use std::sync::Arc;

use werf_graph::plan::ImagePlan;

use crate::native::{self, LayerRef};
use crate::oci;
use crate::registry::{host_of, Registry};

/// The manifest digests of existing images, asked of the registry (a HEAD each, 8 at a time).
pub fn current_digests(
    registry: &Registry,
    repo: &str,
    existing: &[&Arc<ImagePlan>],
) -> Result<HashMap<String, String>, crate::registry::Error> {
    let digests = crate::registry::parallel(existing, |p| {
        registry.manifest_digest(&format!("{repo}:{}", p.tag))
    })?;
    Ok(existing
        .iter()
        .zip(digests)
        .map(|(p, d)| (p.tag.clone(), d.unwrap_or_default()))
        .collect())
}

/// Pushes the record tag `repo:tag`: a manifest with no layers whose config carries `labels`
/// (each record its own manifest, so deleting one takes nothing else).
pub fn record(
    registry: &Registry,
    repo: &str,
    tag: &str,
    labels: &[(&str, &str)],
) -> Result<(), crate::registry::Error> {
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": []},
    });
    let config_bytes = serde_json::to_vec(&config).expect("a JSON value serializes");
    let manifest = oci::Manifest::of(&config_bytes, Vec::new());
    let manifest_bytes = serde_json::to_vec(&manifest).expect("a manifest serializes");
    registry.push_blob(repo, &manifest.config.digest, config_bytes)?;
    registry.push_manifest(repo, tag, manifest_bytes, oci::MANIFEST)
}

/// Pushes one image: blobs the repository lacks (mounted from their source repository when it is
/// on the same registry, else uploaded), then the config, then the manifest under its tag.
/// Returns the bytes uploaded.
pub fn push(
    registry: &Registry,
    repo: &str,
    tag: &str,
    built: &native::Built,
) -> Result<u64, crate::registry::Error> {
    let mut uploaded = 0u64;
    // A registry can lose a blob to a race with another upload of it (two runs pushing the same
    // commit) and then refuse the manifest even after its own retries: the blobs are sent again,
    // whatever the registry says it has, before the manifest is tried again.
    let mut round = 0;
    loop {
        uploaded += push_blobs(registry, repo, built, round > 0)?;
        match registry.push_manifest(repo, tag, built.manifest_bytes.clone(), oci::MANIFEST) {
            Err(crate::registry::Error::ManifestBlobs { .. }) if round < 2 => round += 1,
            other => return other.map(|()| uploaded),
        }
    }
}

/// Uploads the blobs of `built` the repository lacks (all of them when `force`); returns the
/// bytes uploaded.
fn push_blobs(
    registry: &Registry,
    repo: &str,
    built: &native::Built,
    force: bool,
) -> Result<u64, crate::registry::Error> {
    let mut uploaded = 0u64;
    for layer in &built.layers {
        let d = layer.descriptor();
        if !force && registry.blob_exists(repo, &d.digest)? {
            continue;
        }
        match layer {
            LayerRef::Local(l) => {
                uploaded += l.size;
                let (file, size) = l.file();
                registry.push_blob_file(repo, &d.digest, file, size)?;
            }
            LayerRef::Remote {
                descriptor,
                repo: source,
            } => {
                let same_registry = host_of(source) == host_of(repo);
                let source_path = source.split_once('/').map(|(_, p)| p).unwrap_or(source);
                if same_registry && registry.mount_blob(repo, source_path, &descriptor.digest)? {
                    continue;
                }
                let data = registry.pull_blob_to_file(
                    source,
                    &descriptor.digest,
                    &descriptor.media_type,
                    descriptor.size,
                )?;
                let size = data.metadata().map(|m| m.len()).unwrap_or(0);
                uploaded += size;
                registry.push_blob_file(repo, &descriptor.digest, Arc::new(data), size)?;
            }
        }
    }
    let config_digest = &built.manifest.config.digest;
    if force || !registry.blob_exists(repo, config_digest)? {
        uploaded += built.config_bytes.len() as u64;
        registry.push_blob(repo, config_digest, built.config_bytes.clone())?;
    }
    Ok(uploaded)
}
