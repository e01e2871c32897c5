//! Multi-platform images: each platform built (its base images resolved for that platform from
//! their indexes, the werf images it reads too), then an OCI image index naming each manifest
//! with its platform pushed under the tag. Images without `RUN` are built natively and pushed
//! by digest; images with `RUN` go to the BuildKit daemons once per platform (each under a
//! staging tag `TAG-OS-ARCH`, which goes when cleanup deletes the image); buildah builds for
//! this machine's platform only, so it is a clear error naming the platform. A platform the
//! daemons cannot run is their error, named with the platform.

use std::collections::HashMap;

use werf_graph::plan::ImagePlan;

use crate::backend::{Backend, Job, Pushed};
use crate::native::{self, Published};
use crate::oci::{self, Descriptor, Platform};
use crate::registry::Registry;
use crate::{image_spec, push, ImageError};

/// What every platform's build shares.
pub struct Shared<'a> {
    pub registry: &'a Registry,
    pub repo: &'a str,
    /// The tag of every werf image `plan` reads.
    pub tags: &'a HashMap<String, String>,
}

/// `os/arch[/variant]` as an index's platform.
pub fn platform_of(text: &str) -> Platform {
    let mut parts = text.split('/');
    let os = parts.next().unwrap_or("linux").to_string();
    let architecture = parts.next().unwrap_or("amd64").to_string();
    Platform {
        architecture,
        os,
        variant: parts.next().map(str::to_string),
    }
}

/// The index of `manifests` (each a manifest's digest, size, platform and media type).
pub fn index(manifests: &[(String, i64, Platform, String)]) -> Vec<u8> {
    let list: Vec<Descriptor> = manifests
        .iter()
        .map(|(digest, size, platform, media_type)| Descriptor {
            media_type: media_type.clone(),
            digest: digest.clone(),
            size: *size,
            platform: Some(platform.clone()),
        })
        .collect();
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": oci::OCI_INDEX,
        "manifests": list,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Builds `job.plan` for each of its platforms (`RUN` through `backend`) and pushes the index
/// under its tag.
pub fn build_and_push(
    shared: &Shared<'_>,
    job: &Job<'_>,
    backend: &dyn Backend,
) -> Result<Pushed, ImageError> {
    let plan: &ImagePlan = job.plan;
    let runs = crate::run::has_run(plan);
    if runs && !backend.builds_for_any_platform() {
        let other = plan
            .platform
            .iter()
            .find(|p| p.as_str() != "linux/amd64")
            .unwrap_or(&plan.platform[0]);
        return Err(ImageError::Unsupported(format!(
            "image `{}` has `RUN` and builds for {}: buildah builds for this machine's platform only, not for `{other}` (use `--backend buildkit`, whose daemons build per platform)",
            plan.name,
            plan.platform
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut manifests = Vec::new();
    let mut uploaded = 0;
    let mut first: Option<Published> = None;
    for platform in &plan.platform {
        let named = |cause: ImageError| ImageError::Platform {
            platform: platform.clone(),
            cause: Box::new(cause),
        };
        // The werf images it reads, as published for this platform.
        let mut images = HashMap::new();
        for dep in &plan.dependencies {
            let tag = shared.tags.get(dep).cloned().unwrap_or_default();
            let p = native::resolve_external(
                shared.registry,
                &format!("{}:{tag}", shared.repo),
                platform,
            )
            .map_err(|e| named(e.into()))?;
            images.insert(dep.clone(), p);
        }
        let (digest, size, media_type, published) = if runs {
            let staged = ImagePlan {
                tag: format!("{}-{}", plan.tag, platform.replace('/', "-")),
                ..plan.clone()
            };
            let one = Job {
                plan: &staged,
                images: &images,
                platform,
                ..*job
            };
            let pushed = backend.build_and_push(&one).map_err(named)?;
            let (body, _) = shared
                .registry
                .pull_manifest(&format!("{}@{}", shared.repo, pushed.digest))
                .map_err(|e| named(e.into()))?;
            let media_type = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["mediaType"].as_str().map(str::to_string))
                .unwrap_or_else(|| oci::MANIFEST.to_string());
            uploaded += pushed.uploaded;
            (
                pushed.digest,
                body.len() as i64,
                media_type,
                pushed.published,
            )
        } else {
            let inputs = native::Inputs {
                project: job.project,
                plan,
                objects: job.objects,
                images: &images,
                registry: shared.registry,
                platform: platform.clone(),
            };
            let out = native::build(&inputs).map_err(|e| named(e.into()))?;
            let out = match &plan.image_spec {
                Some(spec) => image_spec::to_built(out, spec, job.project, &plan.name),
                None => out,
            };
            let digest = oci::sha256(&out.manifest_bytes);
            // By digest, untagged: only the index carries the tag.
            uploaded += push::push(shared.registry, shared.repo, &digest, &out)
                .map_err(|e| named(e.into()))?;
            let size = out.manifest_bytes.len() as i64;
            let published = Published {
                repo: shared.repo.to_string(),
                tag: plan.tag.clone(),
                manifest_digest: digest.clone(),
                manifest: out.manifest,
                config: out.config,
            };
            (digest, size, oci::MANIFEST.to_string(), published)
        };
        manifests.push((digest, size, platform_of(platform), media_type));
        first.get_or_insert(published);
    }
    let body = index(&manifests);
    let digest = oci::sha256(&body);
    shared
        .registry
        .push_manifest(shared.repo, &plan.tag, body, oci::OCI_INDEX)?;
    let mut published = first.ok_or_else(|| {
        ImageError::Unsupported(format!("image `{}` has no platform to build", plan.name))
    })?;
    published.manifest_digest = digest.clone();
    published.tag = plan.tag.clone();
    Ok(Pushed {
        digest,
        uploaded,
        published,
        builder: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_names_each_manifest_with_its_platform() {
        let body = index(&[
            (
                "sha256:aa".into(),
                10,
                platform_of("linux/amd64"),
                oci::MANIFEST.into(),
            ),
            (
                "sha256:bb".into(),
                11,
                platform_of("linux/arm/v7"),
                oci::MANIFEST.into(),
            ),
        ]);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["mediaType"], oci::OCI_INDEX);
        assert_eq!(
            v["manifests"][0]["platform"],
            serde_json::json!({"architecture": "amd64", "os": "linux"})
        );
        assert_eq!(
            v["manifests"][1]["platform"],
            serde_json::json!({"architecture": "arm", "os": "linux", "variant": "v7"})
        );
        assert_eq!(v["manifests"][1]["size"], 11);
    }
}
