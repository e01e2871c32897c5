//! werf.yaml's `imageSpec` applied to a built image (the decision is
//! [`werf_graph::image_spec`]'s; this only rewrites configs and manifests): before the native
//! builder pushes, and after buildah or BuildKit pushed (the config and manifest replaced under
//! the same tag; the layers are not touched).

use werf_graph::image_spec::ImageSpec;

use super::native::Built;
use super::oci::{self, Manifest};
use crate::registry::Registry;

/// Why a spec could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("applying `imageSpec` to `{reference}`: {message}")]
    Pushed { reference: String, message: String },
    #[error("applying `imageSpec` to `{reference}`")]
    Registry {
        reference: String,
        #[source]
        source: crate::registry::Error,
    },
}

/// `built` with its config rewritten by `spec` (and its manifest pointing at the new config).
pub fn to_built(built: Built, spec: &ImageSpec, project: &str, image: &str) -> Built {
    let mut config = serde_json::to_value(&built.config).unwrap_or_default();
    spec.apply(&mut config, project, image);
    let config_bytes = serde_json::to_vec(&config).unwrap_or_default();
    let manifest = Manifest::of(
        &config_bytes,
        built.layers.iter().map(|l| l.descriptor()).collect(),
    );
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let parsed = serde_json::from_value(config).unwrap_or(built.config);
    Built {
        config_bytes,
        manifest_bytes,
        manifest,
        config: parsed,
        layers: built.layers,
    }
}

/// Rewrites the image an external builder pushed as `repo:FROM` (`tags` is (FROM, TO)): its
/// config through `spec`, a new manifest (same layers, the manifest's own media types) pushed
/// as `repo:TO`. `names` is (project, image). Returns the new manifest's digest.
pub fn to_pushed(
    registry: &Registry,
    repo: &str,
    tags: (&str, &str),
    spec: &ImageSpec,
    names: (&str, &str),
) -> Result<String, Error> {
    let (from, tag) = tags;
    let (project, image) = names;
    let reference = format!("{repo}:{from}");
    let registry_err = |source| Error::Registry {
        reference: reference.clone(),
        source,
    };
    let fail = |message: String| Error::Pushed {
        reference: reference.clone(),
        message,
    };
    let (bytes, _) = registry.pull_manifest(&reference).map_err(registry_err)?;
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| fail(format!("the manifest: {e}")))?;
    if manifest.get("manifests").is_some() {
        return Err(fail(
            "a multi-platform image (an index): `imageSpec` is applied to single-platform images only so far"
                .into(),
        ));
    }
    let media_type = manifest["mediaType"]
        .as_str()
        .unwrap_or(oci::MANIFEST)
        .to_string();
    let config_descriptor = &manifest["config"];
    let (digest, config_media, size) = (
        config_descriptor["digest"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        config_descriptor["mediaType"]
            .as_str()
            .unwrap_or(oci::CONFIG)
            .to_string(),
        config_descriptor["size"].as_i64().unwrap_or(0),
    );
    let config_bytes = registry
        .pull_blob(repo, &digest, &config_media, size)
        .map_err(registry_err)?;
    let mut config: serde_json::Value =
        serde_json::from_slice(&config_bytes).map_err(|e| fail(format!("the config: {e}")))?;
    spec.apply(&mut config, project, image);
    let new_config = serde_json::to_vec(&config).map_err(|e| fail(e.to_string()))?;
    let new_digest = oci::sha256(&new_config);
    registry
        .push_blob(repo, &new_digest, new_config.clone())
        .map_err(registry_err)?;
    manifest["config"]["digest"] = serde_json::Value::String(new_digest);
    manifest["config"]["size"] = serde_json::Value::from(new_config.len());
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| fail(e.to_string()))?;
    let manifest_digest = oci::sha256(&manifest_bytes);
    registry
        .push_manifest(repo, tag, manifest_bytes, &media_type)
        .map_err(registry_err)?;
    Ok(manifest_digest)
}
