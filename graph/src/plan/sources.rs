//! Each image's sources: where its context, Dockerfile and `.dockerignore` are (its layout),
//! its context's tree, its Dockerfile resolved (or its Stapel translation).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::{config, image_settings};
use crate::context::{lookup, read_text, WorkFile};
use crate::db::{Db, ImageKey, Project};
use crate::dockerfile::{self as df, Resolved};
use crate::error::{Error, Location, Result};
use crate::objects::{EntryKind, ObjectId, TreeEntry};
use crate::pattern::{join, DockerIgnore};

/// Where an image's inputs live in the commit, but not its context's tree: what a stage reads
/// of its image. A context whose tree changes elsewhere than its Dockerfile and `.dockerignore`
/// (one at the repository root changes on every commit) leaves this as it was.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct ImageLayout {
    /// Context folder, project-relative (`""` for the project folder).
    pub context: String,
    /// Context folder, repository-relative.
    pub context_repo_path: String,
    /// A Stapel image's context: synthetic, named by its content (see [`crate::stapel`]).
    pub synthetic_context: Option<ObjectId>,
    /// Dockerfile path, project-relative.
    pub dockerfile: String,
    pub dockerfile_blob: ObjectId,
    /// `.dockerignore` of the context: project-relative path and blob.
    pub dockerignore: Option<(String, ObjectId)>,
    /// `contextAddFiles`, by context-relative path.
    pub work_files: BTreeMap<String, WorkFile>,
    /// A Stapel image (its context and Dockerfile are synthetic).
    pub stapel: bool,
    /// For a Stapel image: the repository paths its git mappings add.
    pub stapel_paths: Vec<String>,
}

/// Where an image's inputs live in the commit: its [`ImageLayout`] (read through `Deref`) and
/// its context's tree.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct ImageSources {
    pub layout: Arc<ImageLayout>,
    pub context_tree: Option<ObjectId>,
}

impl std::ops::Deref for ImageSources {
    type Target = ImageLayout;

    fn deref(&self) -> &ImageLayout {
        &self.layout
    }
}

/// An image's sources: its layout and the tree of its context (looked up by path, or the
/// synthetic one of a Stapel image).
#[salsa::tracked(returns(ref))]
pub fn image_sources<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<Arc<ImageSources>> {
    db.log_execution("image_sources", format_args!("{}", image.name(db)));
    let layout = image_layout(db, project, image).clone()?;
    // The layout made sure a context of the commit is a folder (none: `contextAddFiles` only).
    let context_tree = match layout.synthetic_context {
        Some(tree) => Some(tree),
        None => crate::paths::entry(db, project, &layout.context_repo_path)?.map(|e| e.id),
    };
    Ok(Arc::new(ImageSources {
        layout,
        context_tree,
    }))
}

/// Finds the context, the Dockerfile and `.dockerignore` of an image.
#[salsa::tracked(returns(ref))]
pub fn image_layout<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<Arc<ImageLayout>> {
    db.log_execution("image_layout", format_args!("{}", image.name(db)));
    let settings = image_settings(db, project, image).clone()?;
    let img = &settings.image;
    let at = Location {
        file: settings.file.clone(),
        line: img.line,
        column: 0,
    };
    let prefix = project.prefix(db);
    if let Some(st) = &img.stapel {
        // The Stapel stage as a Dockerfile over a synthetic context (see `crate::stapel`).
        let t = stapel_translation(db, project, ImageKey::new(db, st.image.clone())).clone()?;
        let stage = t
            .stages
            .iter()
            .find(|s| s.name == st.stage)
            .expect("the translation has every stage the config names");
        let dockerfile_blob = db.synthetic().add_blob(stage.dockerfile.as_bytes());
        return Ok(Arc::new(ImageLayout {
            context: String::new(),
            context_repo_path: String::new(),
            synthetic_context: Some(t.context),
            dockerfile: format!(
                "{} (image `{}`, stage `{}`)",
                settings.file, st.image, st.stage
            ),
            dockerfile_blob,
            dockerignore: None,
            work_files: BTreeMap::new(),
            stapel: true,
            stapel_paths: t.paths.clone(),
        }));
    }
    let context_repo_path = join(prefix, &img.context);
    let shown_context = if img.context.is_empty() {
        "."
    } else {
        &img.context
    };

    let mut work_files = BTreeMap::new();
    let all_work = project.work_files(db);
    for declared in &img.context_add_files {
        let repo_path = join(&context_repo_path, declared);
        let mut found = false;
        for (path, wf) in all_work.range(repo_path.clone()..) {
            if !(path == &repo_path || path.starts_with(&format!("{repo_path}/"))) {
                break;
            }
            let rel = path[context_repo_path.len()..].trim_start_matches('/');
            work_files.insert(rel.to_string(), *wf);
            found = true;
        }
        if !found {
            return Err(Error::MissingPath {
                at: at.clone(),
                what: "contextAddFiles entry".into(),
                path: join(&img.context, declared),
                hint: Some("not found in the work tree".into()),
            });
        }
    }

    // The context's tree is read here, not kept: when it changes elsewhere than in the two files
    // below, this runs again and its value stays as it was. The project's folder is a folder in
    // every commit (werf.yaml is in it): its two files are looked up by path, so a change
    // anywhere else in the project (every commit makes one) is not a read of this image
    // (`paths::Read`).
    let at_project = img.context.is_empty();
    let context_tree = if at_project {
        None
    } else {
        match crate::paths::entry(db, project, &context_repo_path)? {
            Some(e) if e.kind == EntryKind::Tree => Some(e.id),
            Some(_) => {
                return Err(Error::Config {
                    at,
                    message: format!(
                        "context `{shown_context}` of image `{}` is a file, not a folder",
                        img.name
                    ),
                })
            }
            None if !work_files.is_empty() => None,
            None => {
                return Err(Error::MissingPath {
                    at,
                    what: "context".into(),
                    path: shown_context.to_string(),
                    hint: Some(format!("image `{}`", img.name)),
                })
            }
        }
    };
    let in_context = |path: &str| -> Result<Option<TreeEntry>> {
        match context_tree {
            Some(tree) => lookup(db.objects(), tree, path),
            // `lookup` and `entry` resolve a path alike (empty names skipped, folders by name).
            None if at_project => crate::paths::entry(db, project, &join(&context_repo_path, path)),
            None => Ok(None),
        }
    };
    let dockerfile = join(&img.context, &img.dockerfile);
    let dockerfile_blob = match in_context(&img.dockerfile)? {
        Some(e) if e.kind.is_file() => e.id,
        _ => {
            return Err(Error::MissingPath {
                at,
                what: "Dockerfile".into(),
                path: dockerfile,
                hint: Some(format!(
                    "image `{}`, relative to context `{shown_context}`",
                    img.name
                )),
            })
        }
    };
    let dockerignore = match in_context(".dockerignore")? {
        Some(e) if e.kind.is_file() => Some((join(&img.context, ".dockerignore"), e.id)),
        _ => None,
    };
    Ok(Arc::new(ImageLayout {
        context: img.context.clone(),
        context_repo_path,
        synthetic_context: None,
        dockerfile,
        dockerfile_blob,
        dockerignore,
        work_files,
        stapel: false,
        stapel_paths: Vec::new(),
    }))
}

/// A Stapel image's stages written as Dockerfiles over its synthetic context (one translation
/// for all its stages).
#[salsa::tracked(returns(ref))]
pub fn stapel_translation<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<Arc<crate::stapel::translate::Translated>> {
    let name = image.name(db);
    db.log_execution("stapel_translation", format_args!("{name}"));
    let config = config(db, project).clone()?;
    let stage = config
        .images
        .iter()
        .find_map(|i| i.stapel.as_ref().filter(|s| &s.image == name))
        .ok_or_else(|| Error::Config {
            at: config.at(0),
            message: format!("image `{name}` is not a Stapel image"),
        })?;
    crate::stapel::translate::translate(
        db.objects(),
        db.synthetic(),
        db.store(),
        &|path| crate::paths::entry(db, project, path),
        name,
        &stage.stapel,
    )
    .map(Arc::new)
}

/// The files an image's build reads besides its context: the Dockerfile and the `.dockerignore`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BuildFiles {
    /// Dockerfile path (project-relative, or a Stapel stage's name) and blob.
    pub dockerfile: (String, ObjectId),
    /// `.dockerignore` path (project-relative) and blob.
    pub dockerignore: Option<(String, ObjectId)>,
}

/// [`BuildFiles`] of an image: narrower than its [`image_layout`] (a changed `contextAddFiles`
/// file leaves this value as it was, so salsa does not parse either file again).
#[salsa::tracked(returns(ref))]
pub fn build_files<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<Arc<BuildFiles>> {
    db.log_execution("build_files", format_args!("{}", image.name(db)));
    let sources = image_layout(db, project, image).clone()?;
    Ok(Arc::new(BuildFiles {
        dockerfile: (sources.dockerfile.clone(), sources.dockerfile_blob),
        dockerignore: sources.dockerignore.clone(),
    }))
}

/// The image's Dockerfile, parsed and resolved with its args, dependency imports and target.
#[salsa::tracked(returns(ref))]
pub fn resolved_dockerfile<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<Arc<Resolved>> {
    db.log_execution("resolved_dockerfile", format_args!("{}", image.name(db)));
    let settings = image_settings(db, project, image).clone()?;
    let files = build_files(db, project, image).clone()?;
    let (path, blob) = &files.dockerfile;
    let text = read_text(db.objects(), *blob, path)?;
    let parsed = df::parse(path, &text)?;
    df::resolve(
        &parsed,
        &settings.build_args(),
        settings.image.target.as_deref(),
    )
    .map(Arc::new)
}

/// The image's `.dockerignore` rules (empty when there is none).
#[salsa::tracked(returns(ref))]
pub fn dockerignore<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<Arc<DockerIgnore>> {
    db.log_execution("dockerignore", format_args!("{}", image.name(db)));
    let files = build_files(db, project, image).clone()?;
    match &files.dockerignore {
        None => Ok(Arc::default()),
        Some((path, id)) => Ok(Arc::new(DockerIgnore::parse(&read_text(
            db.objects(),
            *id,
            path,
        )?))),
    }
}
