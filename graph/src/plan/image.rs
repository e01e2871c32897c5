//! Each image's plan, tag and digest, and the placeholders its dependencies stand for while
//! digests are computed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use super::{
    dockerignore, image_dag, image_layout, image_settings, image_sources, resolved_dockerfile,
    stage_plan, ImageSettings, ImageSources, StagePlan,
};
use crate::config::ImportType;
use crate::context::{clean_source, source_covers, Context};
use crate::db::{Db, ImageKey, Project, StageKey};
use crate::digest::Digest;
use crate::dockerfile::Resolved;
use crate::error::Result;
use crate::pattern::{has_wildcard, join, DockerIgnore};

/// The build-arg value standing for a dependency's property while digests are computed: the
/// dependency's digest enters instead, so registry names and tags never reach a digest.
pub fn placeholder(image: &str, kind: ImportType) -> String {
    format!("werf-image({image}).{}", kind.as_str())
}

/// Images named by placeholders inside `text`.
pub fn placeholder_images(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("werf-image(") {
        let after = &rest[i + "werf-image(".len()..];
        match after.find(')') {
            Some(end) => {
                out.push(after[..end].to_string());
                rest = &after[end..];
            }
            None => break,
        }
    }
    out
}

/// An image with its tag and the stages that produce it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct ImagePlan {
    pub name: String,
    pub digest: Digest,
    /// The first 56 hex characters of the digest.
    pub tag: String,
    pub is_final: bool,
    pub sources: Arc<ImageSources>,
    #[serde(skip)]
    pub ignore: Arc<DockerIgnore>,
    /// Index of the target stage.
    pub target: usize,
    /// The stages the target needs, by index.
    pub stages: Vec<Arc<StagePlan>>,
    /// Direct werf-image dependencies.
    pub dependencies: Vec<String>,
    /// Platforms to build for (`os/arch`), sorted; empty means the default.
    pub platform: Vec<String>,
    /// Build args: werf.yaml `args` and dependency imports (as placeholders, see [`placeholder`]).
    pub build_args: BTreeMap<String, String>,
    /// werf.yaml `network` for `RUN`.
    pub network: Option<String>,
    /// werf.yaml `addHost` for `RUN` (`host:ip`).
    pub add_host: Vec<String>,
    /// A Stapel image's `mount[].fromPath` as (folder of the building machine, path in the
    /// image), for its shell stages.
    pub host_mounts: Vec<(String, String)>,
    /// werf.yaml `secrets`, for `RUN --mount=type=secret` (never serialized: a value may be
    /// written in werf.yaml).
    #[serde(skip)]
    pub secrets: Vec<crate::config::SecretSource>,
    /// The resolved Dockerfile (dependency build args are placeholders, see [`placeholder`]).
    #[serde(skip)]
    pub dockerfile: Arc<Resolved>,
    /// For a stage of a Stapel image: the image's name, werf's stage name, and whether it is the
    /// last stage (the image itself).
    pub stapel_stage: Option<(String, String, bool)>,
    /// `build.imageSpec` merged with the image's `imageSpec`, applied to the built image's
    /// config (none for a Stapel image's earlier stages). Already in the digest.
    #[serde(skip)]
    pub image_spec: Option<Arc<crate::image_spec::ImageSpec>>,
    /// werf.yaml `ssh`, for `RUN --mount=type=ssh` (not in the digest: it grants access).
    pub ssh: Option<String>,
}

impl ImagePlan {
    /// The target stage.
    pub fn target_stage(&self) -> &StagePlan {
        self.stages
            .iter()
            .find(|s| s.index == self.target)
            .expect("the target stage is part of the plan")
    }

    /// A path of this image's build context as a repository path (a Stapel selection
    /// `git-N-WHAT/rest` is below mapping N's `add`).
    pub fn repo_path(&self, path: &str) -> String {
        if self.is_stapel() {
            if let Some((n, _, rest)) = crate::stapel::translate::parse_source(path) {
                if let Some(add) = self.sources.stapel_paths.get(n) {
                    return join(add, rest);
                }
            }
        }
        join(&self.sources.context_repo_path, path.trim_end_matches('/'))
    }

    /// Whether this is a Stapel image's stage other than its last (werf.yaml does not name it).
    pub fn is_internal(&self) -> bool {
        self.stapel_stage.as_ref().is_some_and(|s| !s.2)
    }

    /// Whether this is a Stapel image (its context is synthetic: see [`crate::stapel`]).
    pub fn is_stapel(&self) -> bool {
        self.sources.stapel
    }

    /// The image's build context (Git tree, `.dockerignore`, `contextAddFiles`) for reading files.
    pub fn context<'a>(&'a self, objects: &'a dyn crate::ObjectSource) -> Context<'a> {
        Context {
            objects,
            store: &crate::context::NoStore,
            tree: self.sources.context_tree,
            ignore: &self.ignore,
            work_files: &self.sources.work_files,
        }
    }

    /// Whether a change to the repository-relative `path` could change this image's tag.
    pub fn uses_path(&self, path: &str) -> bool {
        if self.is_stapel() {
            return self
                .sources
                .stapel_paths
                .iter()
                .any(|p| p.is_empty() || path == p || path.starts_with(&format!("{p}/")));
        }
        let ctx = &self.sources.context_repo_path;
        let Some(rel) = (if ctx.is_empty() {
            Some(path)
        } else {
            path.strip_prefix(ctx.as_str())
                .and_then(|r| r.strip_prefix('/'))
        }) else {
            return false;
        };
        if rel == ".dockerignore" || Some(rel) == self.dockerfile_context_path() {
            return true;
        }
        if self.ignore.is_excluded(rel) {
            return false;
        }
        self.stages
            .iter()
            .flat_map(|s| &s.sources)
            .any(|u| source_covers(&clean_source(&u.content.source), rel))
    }

    fn dockerfile_context_path(&self) -> Option<&str> {
        let s = &self.sources;
        let rel = s.dockerfile.strip_prefix(s.context.as_str())?;
        Some(rel.trim_start_matches('/'))
    }

    /// Repository-relative folders and files a dirty check must look at for this image.
    pub fn watched_paths(&self) -> Vec<String> {
        if self.is_stapel() {
            let mut out = self.sources.stapel_paths.clone();
            out.sort();
            out.dedup();
            return out;
        }
        let ctx = &self.sources.context_repo_path;
        let mut out = vec![join(ctx, ".dockerignore")];
        if let Some(d) = self.dockerfile_context_path() {
            out.push(join(ctx, d));
        }
        for u in self.stages.iter().flat_map(|s| &s.sources) {
            let src = clean_source(&u.content.source);
            let literal: Vec<&str> = src
                .split('/')
                .take_while(|seg| !has_wildcard(seg))
                .collect();
            out.push(join(ctx, &literal.join("/")));
        }
        out.sort();
        out.dedup();
        out
    }
}

/// The stages an image's target needs (planned, by index) and the target's index: all its tag
/// needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageStages {
    pub target: usize,
    pub stages: Vec<Arc<StagePlan>>,
}

impl ImageStages {
    /// The target stage.
    pub fn target_stage(&self) -> &Arc<StagePlan> {
        self.stages
            .iter()
            .find(|s| s.index == self.target)
            .expect("the target stage is planned")
    }
}

/// An image's stages, or the first error its plan meets: it checks what [`image_plan`] needs,
/// in the same order, so an image plans exactly when this succeeds. It reads the image's layout,
/// not its sources (which hold the context's tree): a context whose tree changes elsewhere (one
/// at the repository root changes on every commit) does not run it again, and a tag asked for
/// through [`image_digest`] builds no plan.
#[salsa::tracked(returns(ref))]
pub fn image_stages<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<ImageStages> {
    let name = image.name(db);
    db.log_execution("image_stages", format_args!("{name}"));
    // A cycle must be reported before digests recurse along it.
    image_dag(db, project).clone()?;
    image_settings(db, project, image).clone()?;
    let resolved = resolved_dockerfile(db, project, image).clone()?;
    // Not the image's sources, which hold the context's tree (see `image_layout`).
    image_layout(db, project, image).clone()?;
    dockerignore(db, project, image).clone()?;

    let mut needed = BTreeSet::new();
    let mut frontier = vec![resolved.target];
    let mut stages = BTreeMap::new();
    while let Some(i) = frontier.pop() {
        if !needed.insert(i) {
            continue;
        }
        let plan = stage_plan(db, project, StageKey::new(db, name.clone(), i)).clone()?;
        frontier.extend(plan.stage_deps.iter().copied());
        stages.insert(i, plan);
    }
    Ok(ImageStages {
        target: resolved.target,
        stages: stages.into_values().collect(),
    })
}

/// The plan of one image: its target stage's digest is its tag.
#[salsa::tracked(returns(ref))]
pub fn image_plan<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<Arc<ImagePlan>> {
    let name = image.name(db);
    db.log_execution("image_plan", format_args!("{name}"));
    let staged = image_stages(db, project, image).clone()?;
    let digest = staged.target_stage().digest;
    let ImageStages { target, stages } = staged;
    // `image_stages` succeeded, so these do (the sources are the layout and the context's
    // tree, which the layout looked up).
    let settings = image_settings(db, project, image).clone()?;
    let resolved = resolved_dockerfile(db, project, image).clone()?;
    let sources = image_sources(db, project, image).clone()?;
    let ignore = dockerignore(db, project, image).clone()?;
    let mut dependencies: BTreeSet<String> = stages
        .iter()
        .flat_map(|s| s.image_deps.iter().cloned())
        .collect();
    dependencies.extend(settings.image.dependencies.iter().map(|d| d.image.clone()));
    Ok(Arc::new(ImagePlan {
        name: name.clone(),
        digest,
        tag: digest.tag(),
        is_final: settings.image.is_final,
        sources,
        ignore,
        target,
        stages,
        dependencies: dependencies.into_iter().collect(),
        platform: settings.platform.clone(),
        build_args: settings.build_args(),
        network: settings.image.network.clone(),
        add_host: settings.image.add_host.clone(),
        secrets: settings.image.secrets.clone(),
        host_mounts: settings
            .image
            .stapel
            .as_ref()
            .map(|s| {
                s.stapel
                    .mounts
                    .iter()
                    .filter_map(|m| match m {
                        crate::stapel::schema::Mount::HostPath { from, to } => {
                            Some((from.clone(), to.clone()))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        dockerfile: resolved,
        stapel_stage: settings
            .image
            .stapel
            .as_ref()
            .map(|s| (s.image.clone(), s.stage.clone(), s.last)),
        image_spec: effective_image_spec(&settings),
        ssh: settings.image.ssh.clone(),
    }))
}

/// The `imageSpec` the build applies: `build.imageSpec` merged into the image's (werf.yaml was
/// checked when read, so both parse).
fn effective_image_spec(settings: &ImageSettings) -> Option<Arc<crate::image_spec::ImageSpec>> {
    use crate::image_spec::ImageSpec;
    if settings.image.is_internal() {
        return None;
    }
    let meta = settings
        .meta_image_spec
        .as_deref()
        .and_then(|j| ImageSpec::parse(j, true).ok());
    let image = settings
        .image
        .image_spec
        .as_ref()
        .and_then(|o| ImageSpec::parse(&o.0, false).ok());
    ImageSpec::merge(meta.as_ref(), image.as_ref()).map(Arc::new)
}

/// Just the digest of an image: what dependants read, so they are cut off when a dependency's
/// plan changes (another tree id, a moved line) but its digest does not.
#[salsa::tracked(returns(ref))]
pub fn image_digest<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<Digest> {
    if let Some(digest) = super::memo::seeded(db, project, image.name(db)) {
        return Ok(digest);
    }
    db.log_execution("image_digest", format_args!("{}", image.name(db)));
    image_stages(db, project, image)
        .as_ref()
        .map(|s| s.target_stage().digest)
        .map_err(Clone::clone)
}
