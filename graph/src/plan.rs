//! Tracked queries: config -> image DAG -> per-image sources -> per-stage digests -> image plans.
//!
//! Each query logs when its body runs, so tests can assert what an input change recomputed.
//! Early cutoff comes from salsa's backdating: a query that recomputes an equal value (same tree
//! id, same parsed Dockerfile) does not invalidate the queries that read it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use crate::config::{parse, parse_with, ImageConfig, ImportType, TemplateInputs, WerfConfig};
use crate::context::{
    clean_source, lookup, read_text, source_covers, Context, SourceContent, WorkFile,
};
use crate::dag::ImageDag;
use crate::db::{Database, Db, ImageKey, Project, StageKey};
use crate::digest::{Builder, Digest};
use crate::dockerfile::{self as df, Base, CopyFrom, Resolved};
use crate::error::{Error, Location, Result};
use crate::objects::{EntryKind, ObjectId};
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

/// A COPY source as shown in labels: cleaned, `.` for the whole context.
fn display_source(src: &str) -> String {
    let clean = clean_source(src);
    if clean.is_empty() {
        ".".to_string()
    } else {
        clean
    }
}

/// Each image's position in werf.yaml, by name (finding an image is then constant time, not a
/// scan of every image: planning stays linear in the number of images).
#[salsa::tracked(returns(ref))]
pub fn image_positions(
    db: &dyn Db,
    project: Project,
) -> Result<Arc<std::collections::HashMap<String, usize>>> {
    let config = config(db, project).clone()?;
    Ok(Arc::new(
        config
            .images
            .iter()
            .enumerate()
            .map(|(i, img)| (img.name.clone(), i))
            .collect(),
    ))
}

/// werf.yaml's blob id at the project's root tree.
#[salsa::tracked(returns(ref))]
pub fn config_blob(db: &dyn Db, project: Project) -> Result<ObjectId> {
    let file = project.config_file(db);
    db.log_execution("config_blob", file);
    let path = join(project.prefix(db), file);
    match crate::paths::entry(db, project, &path)? {
        Some(e) if e.kind.is_file() => Ok(e.id),
        _ => Err(Error::MissingPath {
            at: Location {
                file: file.clone(),
                line: 0,
                column: 0,
            },
            what: "config file".into(),
            path: path.clone(),
            hint: Some("not in the commit: commit it, or use `--dev` for the work tree".into()),
        }),
    }
}

/// The parsed, validated werf.yaml.
#[salsa::tracked(returns(ref))]
pub fn config(db: &dyn Db, project: Project) -> Result<Arc<WerfConfig>> {
    let file = project.config_file(db);
    db.log_execution("config", file);
    let blob = config_blob(db, project).clone()?;
    let text = read_text(db.objects(), blob, file)?;
    if !text.contains("{{") {
        return parse(file, &text).map(Arc::new);
    }
    // A templated werf.yaml may read any project file (`.Files`), so it depends on the tree,
    // and on the environment it was given.
    let root = project.root_tree(db);
    let prefix = project.prefix(db).clone();
    let env = project.template_env(db).clone();
    let objects = db.objects();
    let files =
        move |kind: &str, _: &gotemplate::Value, method: &str, args: &[gotemplate::Value]| {
            project_files_method(objects, root, &prefix, kind, method, args)
        };
    let partials = partials(
        objects,
        root,
        &project.prefix(db).clone(),
        env.templates_dir.as_deref().unwrap_or(".werf"),
    )?;
    let inputs = TemplateInputs {
        env: env.env.as_deref(),
        vars: Some(&env.vars),
        files: Some(&files),
        commit: env.commit.as_ref(),
        partials: &partials,
        giterminism: env.giterminism.as_ref(),
    };
    parse_with(file, &text, &inputs).map(Arc::new)
}

/// werf.yaml's partials: every `*.tmpl` below the templates folder (`.werf` in the project, or
/// `--config-templates-dir`), named by its path below that folder, as werf names them.
fn partials(
    objects: &dyn crate::objects::ObjectSource,
    root: ObjectId,
    prefix: &str,
    dir: &str,
) -> Result<Vec<(String, String, String)>> {
    let dir = dir.trim_end_matches('/');
    let Some(entry) = lookup(objects, root, &join(prefix, dir))? else {
        return Ok(Vec::new());
    };
    if entry.kind != crate::objects::EntryKind::Tree {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (path, e) in crate::context::entries_below(objects, entry.id, "")? {
        let name = path.trim_start_matches('/').to_string();
        if e.kind.is_file() && name.ends_with(".tmpl") {
            let file = join(dir, &name);
            let text = read_text(objects, e.id, &file)?.to_string();
            out.push((name, file, text));
        }
    }
    out.sort();
    Ok(out)
}

/// werf's `.Files` in werf.yaml: `Get`, `Exists` and `Glob` over the project's committed files.
fn project_files_method(
    objects: &dyn crate::objects::ObjectSource,
    root: ObjectId,
    prefix: &str,
    kind: &str,
    method: &str,
    args: &[gotemplate::Value],
) -> Option<std::result::Result<gotemplate::Value, String>> {
    use gotemplate::Value;
    if kind != "ProjectFiles" {
        return None;
    }
    let Some(Value::Str(arg)) = args.first() else {
        return Some(Err(format!("`.Files.{method}` wants a path")));
    };
    let read = |rel: &str| -> std::result::Result<Option<String>, String> {
        match lookup(objects, root, &join(prefix, rel)).map_err(|e| e.to_string())? {
            Some(e) if e.kind.is_file() => read_text(objects, e.id, rel)
                .map(|t| Some(t.to_string()))
                .map_err(|e| e.to_string()),
            _ => Ok(None),
        }
    };
    Some(match method {
        "Get" => read(arg).and_then(|t| {
            t.map(Value::Str)
                .ok_or_else(|| format!("file `{arg}` is not in the commit"))
        }),
        "Exists" => read(arg).map(|t| Value::Bool(t.is_some())),
        "Glob" => (|| {
            let glob = crate::pattern::Glob::new(arg);
            let tree = match lookup(objects, root, prefix).map_err(|e| e.to_string())? {
                Some(e) => e.id,
                None => return Ok(Value::map(Default::default())),
            };
            let mut out = std::collections::BTreeMap::new();
            for (path, e) in
                crate::context::entries_below(objects, tree, "").map_err(|e| e.to_string())?
            {
                let path = path.trim_start_matches('/').to_string();
                if e.kind.is_file() && glob.matches(&path) {
                    let text = read_text(objects, e.id, &path).map_err(|e| e.to_string())?;
                    out.insert(path, Value::Str(text.to_string()));
                }
            }
            Ok(Value::map(out))
        })(),
        _ => return None,
    })
}

/// The image DAG.
#[salsa::tracked(returns(ref))]
pub fn image_dag(db: &dyn Db, project: Project) -> Result<Arc<ImageDag>> {
    db.log_execution("image_dag", "");
    let config = config(db, project).clone()?;
    ImageDag::build(&config).map(Arc::new)
}

/// One image's config plus the meta settings that reach its digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ImageSettings {
    pub image: ImageConfig,
    pub file: String,
    pub platform: Vec<String>,
    pub meta_cache_version: Option<String>,
    pub meta_image_spec: Option<String>,
}

impl ImageSettings {
    /// Build args: werf.yaml `args`, then dependency imports as placeholders.
    pub fn build_args(&self) -> BTreeMap<String, String> {
        let mut args = self.image.args.clone();
        for dep in &self.image.dependencies {
            for imp in &dep.imports {
                args.insert(
                    imp.target_build_arg.clone(),
                    placeholder(&dep.image, imp.kind),
                );
            }
        }
        args
    }
}

/// The settings of one image (backdated when other images' config changes).
#[salsa::tracked(returns(ref))]
pub fn image_settings<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<Arc<ImageSettings>> {
    let name = image.name(db);
    db.log_execution("image_settings", name);
    let config = config(db, project).clone()?;
    let img = image_positions(db, project)
        .as_ref()
        .ok()
        .and_then(|p| p.get(name))
        .and_then(|&i| config.images.get(i))
        .ok_or_else(|| Error::Config {
            at: config.at(0),
            message: format!("image `{name}` is not defined"),
        })?;
    let mut platform = if img.platform.is_empty() {
        config.meta.build.platform.clone()
    } else {
        img.platform.clone()
    };
    platform.sort();
    Ok(Arc::new(ImageSettings {
        image: img.clone(),
        file: config.file.clone(),
        platform,
        meta_cache_version: config.meta.build.cache_version.clone(),
        meta_image_spec: config.meta.build.image_spec.as_ref().map(|o| o.0.clone()),
    }))
}

/// Where an image's inputs live in the commit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ImageSources {
    /// Context folder, project-relative (`""` for the project folder).
    pub context: String,
    /// Context folder, repository-relative.
    pub context_repo_path: String,
    pub context_tree: Option<ObjectId>,
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

/// Looks up the context tree, the Dockerfile and `.dockerignore` of an image.
#[salsa::tracked(returns(ref))]
pub fn image_sources<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<Arc<ImageSources>> {
    db.log_execution("image_sources", image.name(db));
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
        return Ok(Arc::new(ImageSources {
            context: String::new(),
            context_repo_path: String::new(),
            context_tree: Some(t.context),
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

    let context_tree = match crate::paths::entry(db, project, &context_repo_path)? {
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
    };
    let dockerfile = join(&img.context, &img.dockerfile);
    let dockerfile_blob = match context_tree
        .map(|t| lookup(db.objects(), t, &img.dockerfile))
        .transpose()?
        .flatten()
    {
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
    let dockerignore = match context_tree
        .map(|t| lookup(db.objects(), t, ".dockerignore"))
        .transpose()?
        .flatten()
    {
        Some(e) if e.kind.is_file() => Some((join(&img.context, ".dockerignore"), e.id)),
        _ => None,
    };
    Ok(Arc::new(ImageSources {
        context: img.context.clone(),
        context_repo_path,
        context_tree,
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
    db.log_execution("stapel_translation", name);
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

/// The image's Dockerfile, parsed and resolved with its args, dependency imports and target.
#[salsa::tracked(returns(ref))]
pub fn resolved_dockerfile<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<Arc<Resolved>> {
    db.log_execution("resolved_dockerfile", image.name(db));
    let settings = image_settings(db, project, image).clone()?;
    let sources = image_sources(db, project, image).clone()?;
    let text = read_text(db.objects(), sources.dockerfile_blob, &sources.dockerfile)?;
    let parsed = df::parse(&sources.dockerfile, &text)?;
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
    db.log_execution("dockerignore", image.name(db));
    let sources = image_sources(db, project, image).clone()?;
    match &sources.dockerignore {
        None => Ok(Arc::default()),
        Some((path, id)) => Ok(Arc::new(DockerIgnore::parse(&read_text(
            db.objects(),
            *id,
            path,
        )?))),
    }
}

/// One named input of a digest, kept so a later run can say which input changed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Component {
    pub label: String,
    /// What a human sees (instruction text, `stage build`, `3 paths`).
    pub value: String,
    pub digest: Digest,
}

impl Component {
    fn text(label: impl Into<String>, value: impl Into<String>) -> Self {
        let value = value.into();
        Component {
            label: label.into(),
            digest: Digest::of_bytes("text", value.as_bytes()),
            value,
        }
    }

    fn digest(label: impl Into<String>, value: impl Into<String>, digest: Digest) -> Self {
        Component {
            label: label.into(),
            value: value.into(),
            digest,
        }
    }
}

/// The base of a stage, as the plan shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BaseRef {
    Scratch,
    Stage { index: usize },
    External { reference: String },
    Image { name: String },
}

/// A COPY/ADD source of a stage, resolved in the context.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SourceUse {
    pub line: usize,
    pub content: SourceContent,
}

/// One Dockerfile stage with its digest and everything that went into it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct StagePlan {
    pub index: usize,
    pub label: String,
    pub line: usize,
    pub digest: Digest,
    pub base: BaseRef,
    pub components: Vec<Component>,
    pub sources: Vec<SourceUse>,
    /// Other stages of the same Dockerfile this stage reads (`FROM`, `COPY --from`).
    pub stage_deps: Vec<usize>,
    /// werf images this stage reads (`FROM`, `COPY --from`, build args, `dependencies`).
    pub image_deps: Vec<String>,
}

/// The digest of one stage.
#[salsa::tracked(returns(ref))]
pub fn stage_plan<'db>(
    db: &'db dyn Db,
    project: Project,
    stage: StageKey<'db>,
) -> Result<Arc<StagePlan>> {
    let name = stage.image(db);
    let index = stage.index(db);
    db.log_execution("stage_plan", &format!("{name}#{index}"));
    let image = ImageKey::new(db, name.clone());
    let settings = image_settings(db, project, image).clone()?;
    let resolved = resolved_dockerfile(db, project, image).clone()?;
    let sources = image_sources(db, project, image).clone()?;
    let ignore = dockerignore(db, project, image).clone()?;
    let st = &resolved.stages[index];
    let at = |line: usize| Location {
        file: sources.dockerfile.clone(),
        line,
        column: 0,
    };

    let mut components = Vec::new();
    let mut stage_deps = BTreeSet::new();
    let mut image_deps: BTreeSet<String> = BTreeSet::new();
    let image_digest = |dep: &str| -> Result<Digest> {
        image_digest(db, project, ImageKey::new(db, dep.to_string())).clone()
    };
    let stage_digest = |i: usize| -> Result<Arc<StagePlan>> {
        stage_plan(db, project, StageKey::new(db, name.clone(), i)).clone()
    };

    components.push(Component::text("platform", settings.platform.join(",")));
    let base = match &st.base {
        Base::Scratch => {
            components.push(Component::text("base", "scratch"));
            BaseRef::Scratch
        }
        Base::Stage(i) => {
            let p = stage_digest(*i)?;
            components.push(Component::digest(
                "base",
                format!("stage {}", p.label),
                p.digest,
            ));
            stage_deps.insert(*i);
            BaseRef::Stage { index: *i }
        }
        Base::External(r) => match placeholder_images(r).first() {
            Some(dep) => {
                components.push(Component::digest(
                    "base",
                    format!("image {dep}"),
                    image_digest(dep)?,
                ));
                image_deps.insert(dep.clone());
                BaseRef::Image { name: dep.clone() }
            }
            None => {
                components.push(Component::text("base", r.clone()));
                BaseRef::External {
                    reference: r.clone(),
                }
            }
        },
    };
    components.push(Component::text("from", st.from_text.clone()));

    let ctx = Context {
        objects: db.objects(),
        store: db.store(),
        tree: sources.context_tree,
        ignore: &ignore,
        work_files: &sources.work_files,
    };
    let mut used = Vec::new();
    for (k, step) in st.steps.iter().enumerate() {
        components.push(Component::text(format!("step {k}"), step.text.clone()));
        let Some(copy) = &step.copy else { continue };
        match &copy.from {
            None => {
                for src in copy.context_sources() {
                    let content = ctx.source(src)?.ok_or_else(|| Error::MissingPath {
                        at: at(step.line),
                        what: format!("{} source", if copy.add { "ADD" } else { "COPY" }),
                        path: src.to_string(),
                        hint: Some(format!(
                            "no such path in context `{}`{}",
                            if sources.context.is_empty() {
                                "."
                            } else {
                                &sources.context
                            },
                            if ignore.is_empty() {
                                ""
                            } else {
                                " after `.dockerignore`"
                            }
                        )),
                    })?;
                    let n = content.matched.len();
                    components.push(Component::digest(
                        format!("step {k} files {}", display_source(src)),
                        format!("{n} path{}", if n == 1 { "" } else { "s" }),
                        content.digest,
                    ));
                    used.push(SourceUse {
                        line: step.line,
                        content,
                    });
                }
            }
            Some(CopyFrom::Stage(i)) if settings.image.stapel.is_some() => {
                // A Stapel import: the checksum of the files it copies enters, not the source's
                // digest (see `crate::imports`).
                let alias = &resolved.stages[*i];
                let source = match &alias.base {
                    Base::External(r) => placeholder_images(r).into_iter().next(),
                    _ => None,
                }
                .ok_or_else(|| Error::Dockerfile {
                    at: at(step.line),
                    message: format!("import stage `{}` does not name an image", alias.label()),
                })?;
                let spec = crate::imports::ImportSpec {
                    source: source.clone(),
                    add: copy.sources.join(" "),
                    include: copy.flag_values("werf-include"),
                    exclude: copy.flag_values("exclude"),
                };
                let source_tag = image_digest(&source)?.tag();
                let key = crate::imports::key(&source_tag, &spec);
                let Some(checksum) = project.import_checksums(db).get(&key) else {
                    return Err(Error::ImportPending {
                        image: name.clone(),
                        spec: Box::new(spec),
                        source_tag,
                        key,
                    });
                };
                components.push(Component::digest(
                    format!("step {k} from"),
                    format!(
                        "files `{}` of image {source} (checksum {})",
                        spec.add,
                        &checksum[..checksum.len().min(12)]
                    ),
                    {
                        let mut b = Builder::new("import");
                        b.str("checksum", checksum);
                        b.finish()
                    },
                ));
                stage_deps.insert(*i);
                image_deps.insert(source);
            }
            Some(CopyFrom::Stage(i)) => {
                let p = stage_digest(*i)?;
                components.push(Component::digest(
                    format!("step {k} from"),
                    format!("stage {}", p.label),
                    p.digest,
                ));
                stage_deps.insert(*i);
            }
            Some(CopyFrom::External(r)) => {
                if let Some(dep) = placeholder_images(r).first() {
                    components.push(Component::digest(
                        format!("step {k} from"),
                        format!("image {dep}"),
                        image_digest(dep)?,
                    ));
                    image_deps.insert(dep.clone());
                }
            }
        }
    }
    let mut referenced: BTreeSet<String> = st
        .steps
        .iter()
        .flat_map(|s| placeholder_images(&s.text))
        .collect();
    referenced.extend(placeholder_images(&st.from_text));
    for dep in referenced {
        if image_deps.insert(dep.clone()) {
            components.push(Component::digest(
                format!("image {dep}"),
                dep.clone(),
                image_digest(&dep)?,
            ));
        }
    }

    if index == resolved.target {
        let img = &settings.image;
        components.push(Component::text(
            "target",
            img.target.clone().unwrap_or_default(),
        ));
        let cache_version = [
            settings.meta_cache_version.as_deref(),
            img.cache_version.as_deref(),
        ];
        if cache_version.iter().any(Option::is_some) {
            components.push(Component::text(
                "cacheVersion",
                cache_version.map(|c| c.unwrap_or("")).join("/"),
            ));
        }
        for dep in &img.dependencies {
            // A Stapel stage names its base, the stage before and its imports' sources through
            // build args its `FROM` lines read: they entered above as the base and as imported
            // files, and an import must not enter again by its source's digest.
            use crate::stapel::translate::{IMAGE_ARG_PREFIX, PREV_ARG};
            let stapel_image_arg = |arg: &str| arg == PREV_ARG || arg.starts_with(IMAGE_ARG_PREFIX);
            if img.stapel.is_some()
                && dep
                    .imports
                    .iter()
                    .all(|i| stapel_image_arg(&i.target_build_arg))
            {
                image_deps.insert(dep.image.clone());
                continue;
            }
            let imports: Vec<String> = dep
                .imports
                .iter()
                .map(|i| format!("{}={}", i.target_build_arg, i.kind.as_str()))
                .collect();
            components.push(Component::digest(
                format!("dependency {}", dep.image),
                imports.join(","),
                {
                    let mut b = Builder::new("dependency");
                    b.str("imports", &imports.join(","))
                        .digest("image", &image_digest(&dep.image)?);
                    b.finish()
                },
            ));
            image_deps.insert(dep.image.clone());
        }
        let optional = [
            (
                "addHost",
                (!img.add_host.is_empty()).then(|| img.add_host.join(",")),
            ),
            ("network", img.network.clone()),
            (
                "secrets",
                (!img.secret_ids.is_empty()).then(|| img.secret_ids.join(",")),
            ),
            ("imageSpec", img.image_spec.as_ref().map(|o| o.0.clone())),
            ("build.imageSpec", settings.meta_image_spec.clone()),
            (
                "contextAddFiles",
                (!img.context_add_files.is_empty()).then(|| img.context_add_files.join(",")),
            ),
        ];
        for (label, value) in optional {
            if let Some(v) = value {
                components.push(Component::text(label, v));
            }
        }
    }

    let mut b = Builder::new("stage");
    for c in &components {
        b.digest(&c.label, &c.digest);
    }
    Ok(Arc::new(StagePlan {
        index,
        label: st.label(),
        line: st.line,
        digest: b.finish(),
        base,
        components,
        sources: used,
        stage_deps: stage_deps.into_iter().collect(),
        image_deps: image_deps.into_iter().collect(),
    }))
}

/// An image with its tag and the stages that produce it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
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

/// The plan of one image: its target stage's digest is its tag.
#[salsa::tracked(returns(ref))]
pub fn image_plan<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
) -> Result<Arc<ImagePlan>> {
    let name = image.name(db);
    db.log_execution("image_plan", name);
    // A cycle must be reported before digests recurse along it.
    image_dag(db, project).clone()?;
    let settings = image_settings(db, project, image).clone()?;
    let resolved = resolved_dockerfile(db, project, image).clone()?;
    let sources = image_sources(db, project, image).clone()?;
    let ignore = dockerignore(db, project, image).clone()?;

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
    let target = stages[&resolved.target].clone();
    let mut dependencies: BTreeSet<String> = stages
        .values()
        .flat_map(|s| s.image_deps.iter().cloned())
        .collect();
    dependencies.extend(settings.image.dependencies.iter().map(|d| d.image.clone()));
    Ok(Arc::new(ImagePlan {
        name: name.clone(),
        digest: target.digest,
        tag: target.digest.tag(),
        is_final: settings.image.is_final,
        sources,
        ignore,
        target: resolved.target,
        stages: stages.into_values().collect(),
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
    db.log_execution("image_digest", image.name(db));
    image_plan(db, project, image)
        .as_ref()
        .map(|p| p.digest)
        .map_err(Clone::clone)
}

/// Progress of a plan, for the caller to draw (the engine never draws).
pub trait Reporter: Sync {
    /// Planning starts for `images` images.
    fn start(&self, _images: usize) {}
    /// One image's plan is done (or failed).
    fn planned(&self, _image: &str, _ok: bool) {}
}

/// A reporter that reports nothing.
pub struct Silent;

impl Reporter for Silent {}

/// Plans for every image of the project, in werf.yaml order, computed in parallel (rayon).
/// A config error (including a cycle) fails the whole plan; other errors stay per image.
pub fn plan_all(db: &Database, project: Project) -> Result<Vec<(String, Result<Arc<ImagePlan>>)>> {
    plan_all_with(db, project, &Silent)
}

/// [`plan_all`] with progress reports.
pub fn plan_all_with(
    db: &Database,
    project: Project,
    reporter: &dyn Reporter,
) -> Result<Vec<(String, Result<Arc<ImagePlan>>)>> {
    let config = config(db, project).clone()?;
    image_dag(db, project).clone()?;
    let names: Vec<String> = config.images.iter().map(|i| i.name.clone()).collect();
    reporter.start(names.len());
    Ok(names
        .into_par_iter()
        .map_with(db.clone(), |db, name| {
            let key = ImageKey::new(db, name.clone());
            let plan = image_plan(db, project, key).clone();
            reporter.planned(&name, plan.is_ok());
            (name, plan)
        })
        .collect())
}
