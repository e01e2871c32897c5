//! Multi-platform images: each platform built natively (its base images resolved for that
//! platform from their indexes, the werf images it reads too) and pushed by digest, then an OCI
//! image index naming each manifest with its platform pushed under the tag. Images with `RUN`
//! need a runner per platform, which werf-rs does not drive yet: a clear error naming the
//! platform.

use std::collections::HashMap;

use werf_graph::plan::ImagePlan;

use crate::backend::{Job, Pushed};
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

/// The index of `manifests` (each a manifest's digest and size, with its platform).
pub fn index(manifests: &[(String, i64, Platform)]) -> Vec<u8> {
    let list: Vec<Descriptor> = manifests
        .iter()
        .map(|(digest, size, platform)| Descriptor {
            media_type: oci::MANIFEST.to_string(),
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

/// Builds `job.plan` for each of its platforms and pushes the index under its tag.
pub fn build_and_push(shared: &Shared<'_>, job: &Job<'_>) -> Result<Pushed, ImageError> {
    let plan: &ImagePlan = job.plan;
    if crate::run::has_run(plan) {
        let other = plan
            .platform
            .iter()
            .find(|p| p.as_str() != "linux/amd64")
            .unwrap_or(&plan.platform[0]);
        return Err(ImageError::Unsupported(format!(
            "image `{}` has `RUN` and builds for {}: the native builder makes every platform of an image without `RUN`, but `RUN` for `{other}` needs a runner for that platform, which werf-rs does not drive yet (build it for one platform, or without `RUN`)",
            plan.name,
            plan.platform.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    let mut manifests = Vec::new();
    let mut uploaded = 0;
    let mut first: Option<Published> = None;
    for platform in &plan.platform {
        // The werf images it reads, as published for this platform.
        let mut images = HashMap::new();
        for dep in &plan.dependencies {
            let tag = shared.tags.get(dep).cloned().unwrap_or_default();
            let p = native::resolve_external(
                shared.registry,
                &format!("{}:{tag}", shared.repo),
                platform,
            )?;
            images.insert(dep.clone(), p);
        }
        let inputs = native::Inputs {
            project: job.project,
            plan,
            objects: job.objects,
            images: &images,
            registry: shared.registry,
            platform: platform.clone(),
        };
        let out = native::build(&inputs)?;
        let out = match &plan.image_spec {
            Some(spec) => image_spec::to_built(out, spec, job.project, &plan.name),
            None => out,
        };
        let digest = oci::sha256(&out.manifest_bytes);
        // By digest, untagged: only the index carries the tag.
        uploaded += push::push(shared.registry, shared.repo, &digest, &out)?;
        manifests.push((
            digest.clone(),
            out.manifest_bytes.len() as i64,
            platform_of(platform),
        ));
        if first.is_none() {
            first = Some(Published {
                repo: shared.repo.to_string(),
                tag: plan.tag.clone(),
                manifest_digest: digest,
                manifest: out.manifest,
                config: out.config,
            });
        }
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
            ("sha256:aa".into(), 10, platform_of("linux/amd64")),
            ("sha256:bb".into(), 11, platform_of("linux/arm/v7")),
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
