//! Each stage's plan: its base, the sources its instructions read, and its digest.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;

use super::sources::{build_files, image_layout};
use super::{
    dockerignore, image_digest, image_settings, image_sources, placeholder_images,
    resolved_dockerfile,
};
use crate::context::{clean_source, Context, SourceContent};
use crate::db::{Db, ImageKey, Project, StageKey};
use crate::digest::{Builder, Digest};
use crate::dockerfile::{Base, CopyFrom};
use crate::error::{Error, Location, Result};
use crate::pattern::join;

/// One named input of a digest, kept so a later run can say which input changed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BaseRef {
    Scratch,
    Stage { index: usize },
    External { reference: String },
    Image { name: String },
}

/// A COPY/ADD source of a stage, resolved in the context.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct SourceUse {
    pub line: usize,
    pub content: SourceContent,
}

/// One Dockerfile stage with its digest and everything that went into it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
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

/// One COPY/ADD source of an image, matched in its context and digested (`None`: nothing
/// matched). A query of its own, so a stage does not read its context's tree: a context whose
/// tree changes elsewhere (one at the repository root changes on every commit) matches its
/// sources again, and the stage is planned again only when they hold other content.
#[salsa::tracked(returns(ref))]
pub fn context_source<'db>(
    db: &'db dyn Db,
    project: Project,
    image: ImageKey<'db>,
    source: String,
) -> Result<Option<SourceContent>> {
    db.log_execution(
        "context_source",
        format_args!("{} {source}", image.name(db)),
    );
    let layout = image_layout(db, project, image).clone()?;
    let ignore = dockerignore(db, project, image).clone()?;
    let objects = db.objects();
    let store = db.store();
    if !layout.stapel && layout.context.is_empty() && Context::is_literal(&source) {
        // A context at the project's root has a new tree on every commit: a source that names
        // one path is looked up by that path, so a change elsewhere does not match it again.
        // Any other context's tree changes with its own files only: its sources are matched in
        // it, without a record per path (10,000 images keep 10 MiB less).
        let path = join(&layout.context_repo_path, &clean_source(&source));
        let found = crate::paths::entry(db, project, &path)?;
        let context = Context {
            objects,
            store,
            tree: None,
            ignore: &ignore,
            work_files: &layout.work_files,
        };
        return context.literal_source(&source, found);
    }
    let sources = image_sources(db, project, image).clone()?;
    Context {
        objects,
        store,
        tree: sources.context_tree,
        ignore: &ignore,
        work_files: &sources.work_files,
    }
    .source(&source)
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
    db.log_execution("stage_plan", format_args!("{name}#{index}"));
    let image = ImageKey::new(db, name.clone());
    let settings = image_settings(db, project, image).clone()?;
    let resolved = resolved_dockerfile(db, project, image).clone()?;
    // Not the image's sources, which hold the context's tree: the stage reads its context
    // through `context_source` only.
    let dockerfile = build_files(db, project, image)
        .clone()?
        .dockerfile
        .0
        .clone();
    let st = &resolved.stages[index];
    let at = |line: usize| Location {
        file: dockerfile.clone(),
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

    let mut used = Vec::new();
    for (k, step) in st.steps.iter().enumerate() {
        components.push(Component::text(format!("step {k}"), step.text.clone()));
        let Some(copy) = &step.copy else { continue };
        match &copy.from {
            None => {
                for src in copy.context_sources() {
                    let Some(content) =
                        context_source(db, project, image, src.to_string()).clone()?
                    else {
                        let sources = image_layout(db, project, image).clone()?;
                        let ignore = dockerignore(db, project, image).clone()?;
                        return Err(Error::MissingPath {
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
                        });
                    };
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

/// A COPY source as shown in labels: cleaned, `.` for the whole context.
fn display_source(src: &str) -> String {
    let clean = clean_source(src);
    if clean.is_empty() {
        ".".to_string()
    } else {
        clean
    }
}
