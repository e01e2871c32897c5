//! What builds one image and pushes it under its tag: the [`Backend`] trait, with the native
//! builder for images without `RUN`, and buildah and BuildKit for the others. The external
//! runners share [`external`]: with an `imageSpec` they push under a staging tag, and the
//! image's own tag only ever names the image with its spec applied.

use std::collections::HashMap;
use std::path::Path;

use werf_graph::plan::ImagePlan;
use werf_graph::ObjectSource;

use crate::native::{self, Published};
use crate::registry::Registry;
use crate::{buildah, buildkit, image_spec, oci, push, ImageError};

/// One image to build, with everything a backend reads.
pub struct Job<'a> {
    pub plan: &'a ImagePlan,
    /// Every werf image it depends on, as published.
    pub images: &'a HashMap<String, Published>,
    pub objects: &'a dyn ObjectSource,
    pub registry: &'a Registry,
    pub repo: &'a str,
    pub project: &'a str,
    /// The project folder (werf.yaml `secrets[].src` and `mount[].fromPath` are below it).
    pub project_dir: &'a Path,
    /// `os/arch` to build for.
    pub platform: &'a str,
    /// A BuildKit daemon building it was lost (it is built again on another).
    pub lost_daemon: &'a (dyn Fn(&str) + Sync),
    /// The step a BuildKit daemon started (`[2/3] RUN ...`).
    pub step: &'a (dyn Fn(&str) + Sync),
}

/// What a backend pushed.
pub struct Pushed {
    /// The manifest digest under the plan's tag.
    pub digest: String,
    /// Bytes uploaded (counted by the native builder; the runners push themselves).
    pub uploaded: u64,
    /// The image as the next image reads it.
    pub published: Published,
    /// The BuildKit daemon that built it.
    pub builder: Option<String>,
}

/// Builds one image whose dependencies exist and pushes it under its plan's tag.
pub trait Backend: Sync {
    fn build_and_push(&self, job: &Job<'_>) -> Result<Pushed, ImageError>;

    /// Whether it builds for the platform a job names (else only for this machine's).
    fn builds_for_any_platform(&self) -> bool {
        true
    }
}

/// The daemonless builder (images without `RUN`).
pub struct Native;

impl Backend for Native {
    fn build_and_push(&self, job: &Job<'_>) -> Result<Pushed, ImageError> {
        let plan = job.plan;
        let inputs = native::Inputs {
            project: job.project,
            plan,
            objects: job.objects,
            images: job.images,
            registry: job.registry,
            platform: job.platform.to_string(),
        };
        let out = native::build(&inputs)?;
        let out = match &plan.image_spec {
            Some(spec) => image_spec::to_built(out, spec, job.project, &plan.name),
            None => out,
        };
        let uploaded = push::push(job.registry, job.repo, &plan.tag, &out)?;
        let digest = oci::sha256(&out.manifest_bytes);
        let published = Published {
            repo: job.repo.to_string(),
            tag: plan.tag.clone(),
            manifest_digest: digest.clone(),
            manifest: out.manifest,
            config: out.config,
        };
        Ok(Pushed {
            digest,
            uploaded,
            published,
            builder: None,
        })
    }
}

impl Backend for buildah::Buildah {
    fn builds_for_any_platform(&self) -> bool {
        false
    }

    fn build_and_push(&self, job: &Job<'_>) -> Result<Pushed, ImageError> {
        external(job, |plan, build_args| {
            let inputs = buildah::Inputs {
                plan,
                objects: job.objects,
                repo: job.repo,
                project: job.project,
                insecure: job.registry.insecure_hosts(),
                build_args,
                network: job.plan.network.clone(),
                project_dir: job.project_dir,
            };
            Ok((buildah::Buildah::build_and_push(self, &inputs)?, None))
        })
    }
}

impl Backend for buildkit::Fleet {
    fn build_and_push(&self, job: &Job<'_>) -> Result<Pushed, ImageError> {
        if job.plan.ssh.is_some() {
            return Err(ImageError::Unsupported(format!(
                "image `{}`: werf.yaml `ssh` is not supported yet with `--backend buildkit` (the SSH agent reaches `RUN --mount=type=ssh` with `--backend buildah`)",
                job.plan.name
            )));
        }
        external(job, |plan, build_args| {
            let inputs = buildkit::Inputs {
                plan,
                objects: job.objects,
                registry: job.registry,
                repo: job.repo,
                project: job.project,
                build_args,
                platform: job.platform,
                project_dir: job.project_dir,
            };
            let built = buildkit::Fleet::build_and_push(self, &inputs, job.lost_daemon, job.step)
                .map_err(ImageError::Buildkit)?;
            Ok((built.manifest_digest, Some(built.daemon)))
        })
    }
}

/// Runs an external runner (`run(plan, build args)` pushes `plan` under its tag and returns
/// the manifest digest and the daemon), then applies the `imageSpec` and reads what was pushed.
fn external(
    job: &Job<'_>,
    run: impl FnOnce(&ImagePlan, Vec<(String, String)>) -> Result<(String, Option<String>), ImageError>,
) -> Result<Pushed, ImageError> {
    let plan = job.plan;
    let staged;
    let runner_plan: &ImagePlan = match &plan.image_spec {
        Some(_) => {
            staged = ImagePlan {
                tag: format!("{}-unspecced", plan.tag),
                ..plan.clone()
            };
            &staged
        }
        None => plan,
    };
    let build_args: Vec<(String, String)> = plan
        .build_args
        .iter()
        .map(|(k, v)| (k.clone(), native::substitute(v, job.images)))
        .collect();
    let (digest, builder) = run(runner_plan, build_args)?;
    // werf.yaml's `imageSpec` rewrites what the runner pushed.
    let digest = match &plan.image_spec {
        Some(spec) => {
            let specced = image_spec::to_pushed(
                job.registry,
                job.repo,
                (&runner_plan.tag, &plan.tag),
                spec,
                (job.project, &plan.name),
            )
            .map_err(ImageError::ImageSpec)?;
            // The staging tag goes (a registry that deletes nothing keeps it; `werf cleanup`
            // does not count it as an image).
            let _ = job.registry.delete_manifest(job.repo, &digest);
            specced
        }
        None => digest,
    };
    // What the runner pushed, as the next image reads it.
    let published = native::resolve_external(
        job.registry,
        &format!("{}:{}", job.repo, plan.tag),
        job.platform,
    )?;
    Ok(Pushed {
        digest,
        uploaded: 0,
        published,
        builder,
    })
}
