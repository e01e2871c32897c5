//! A Stapel image as a multi-stage Dockerfile over a synthetic context, one Dockerfile stage per
//! werf stage (empty stages are left out, as werf skips them):
//!
//! `from`, `beforeInstall`, `dependenciesBeforeInstall`, `gitArchive`, `install`,
//! `dependenciesAfterInstall`, `beforeSetup`, `dependenciesBeforeSetup`, `setup`,
//! `dependenciesAfterSetup`, `gitLatestPatch`, `dockerInstructions`.
//!
//! Each stage starts `FROM` the one before, so its digest covers everything before it plus its
//! own inputs:
//! - a mapping without `stageDependencies` is copied whole in `gitArchive`: every edit to its
//!   files reaches `install` and what follows;
//! - a mapping with `stageDependencies` copies into `install`/`beforeSetup`/`setup` only the
//!   files that stage depends on (before its commands run), and whole in `gitLatestPatch`: an
//!   edit to another file reaches only `gitLatestPatch` and later;
//! - shell commands run in one `RUN` per stage (`/bin/sh -ec`), with the stage's cache versions
//!   as `ARG`s (in the digest, not in the image) and `mount`s as `RUN --mount`;
//! - imports are `COPY --from` a stage aliasing the imported image, dependencies' imports are
//!   `ENV` from build args the builder fills with the dependency's name, tag, digest...
//!
//! The context root holds `git-N-all` (the mapping's selection) and `git-N-STAGE` (its
//! dependencies for STAGE), as synthetic trees (see [`super::select`]).

use std::collections::BTreeMap;

use crate::config::ImportType;
use crate::error::Result;
use crate::objects::{EntryKind, MemoryObjects, ObjectId, ObjectSource, TreeEntry};

use super::schema::{Base, Mount, ShellStage, Slot, Stapel};
use super::select::{select, Selection};

/// A Stapel image written as a Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Translated {
    pub dockerfile: String,
    /// The synthetic context root.
    pub context: ObjectId,
    /// Repository paths the image reads (each mapping's `add`), for the dirty check.
    pub paths: Vec<String>,
    /// Build args the builder fills: arg -> (werf image, what).
    pub image_args: BTreeMap<String, (String, ImportType)>,
}

/// The build arg naming werf image number `i` of this image.
fn image_arg(i: usize) -> String {
    format!("WERF_STAPEL_IMAGE_{i}")
}

fn shell_json(commands: &[String]) -> String {
    let script = commands.join("\n");
    serde_json::to_string(&["/bin/sh", "-ec", &script]).expect("strings serialize")
}

/// `--chown=owner:group` when either is set.
fn chown(owner: &Option<String>, group: &Option<String>) -> String {
    match (owner, group) {
        (None, None) => String::new(),
        (Some(o), None) => format!("--chown={o} "),
        (None, Some(g)) => format!("--chown=0:{g} "),
        (Some(o), Some(g)) => format!("--chown={o}:{g} "),
    }
}

/// Writes `image`'s stages over the commit `root` (project folder `prefix`).
pub fn translate(
    objects: &dyn ObjectSource,
    synthetic: &MemoryObjects,
    root: ObjectId,
    image: &str,
    stapel: &Stapel,
) -> Result<Translated> {
    // The werf images this image reads, numbered in a fixed order.
    let images = stapel.images();
    let arg_of = |name: &str| -> String {
        image_arg(
            images
                .iter()
                .position(|i| i == name)
                .expect("every image read is numbered"),
        )
    };
    let mut image_args = BTreeMap::new();
    for name in &images {
        image_args.insert(arg_of(name), (name.clone(), ImportType::ImageName));
    }

    // The context: each mapping's whole selection and its per-stage dependencies.
    let mut context_entries: Vec<TreeEntry> = Vec::new();
    let mut copies_all: Vec<(bool, String)> = Vec::new(); // (has stage deps, COPY line)
    let mut stage_copies: BTreeMap<ShellStage, Vec<String>> = BTreeMap::new();
    let mut paths = Vec::new();
    for (n, m) in stapel.git.iter().enumerate() {
        paths.push(m.add.clone());
        let mut add_entry = |name: String, sel: Selection| -> Option<String> {
            let (kind, id, dir) = match sel {
                Selection::Empty => return None,
                Selection::File(e) => (e.kind, e.id, false),
                Selection::Tree(id) => (EntryKind::Tree, id, true),
            };
            context_entries.push(TreeEntry {
                name: name.clone(),
                kind,
                id,
            });
            Some(if dir { format!("{name}/") } else { name })
        };
        let all = select(
            objects,
            synthetic,
            root,
            &m.add,
            &m.include_paths,
            &m.exclude_paths,
            None,
        )?;
        let to_dir = |src: &str| {
            if src.ends_with('/') {
                format!("{}/", m.to.trim_end_matches('/'))
            } else {
                m.to.clone()
            }
        };
        if let Some(src) = add_entry(format!("git-{n}-all"), all) {
            copies_all.push((
                !m.stage_dependencies.is_empty(),
                format!("COPY {}{src} {}", chown(&m.owner, &m.group), to_dir(&src)),
            ));
        }
        for (stage, globs) in &m.stage_dependencies {
            let sel = select(
                objects,
                synthetic,
                root,
                &m.add,
                &m.include_paths,
                &m.exclude_paths,
                Some(globs),
            )?;
            let name = format!("git-{n}-{}", stage.name().to_ascii_lowercase());
            if let Some(src) = add_entry(name, sel) {
                stage_copies.entry(*stage).or_default().push(format!(
                    "COPY {}{src} {}",
                    chown(&m.owner, &m.group),
                    to_dir(&src)
                ));
            }
        }
    }
    let context = synthetic.add_tree(context_entries);

    // Stages, each a list of instructions; empty ones are left out.
    let mut stages: Vec<(&'static str, Vec<String>)> = Vec::new();
    let mut aliases: Vec<String> = Vec::new();
    let mut from_stage = Vec::new();
    if let Some(v) = &stapel.from_cache_version {
        from_stage.push(format!("ARG WERF_FROM_CACHE_VERSION={}", quote_arg(v)));
    }
    if let Some(v) = &stapel.cache_version {
        from_stage.push(format!("ARG WERF_CACHE_VERSION={}", quote_arg(v)));
    }
    let base = match &stapel.base {
        Base::External(r) => r.clone(),
        Base::Image(n) => format!("${{{}}}", arg_of(n)),
    };
    let slot_body = |slot: Slot, aliases: &mut Vec<String>| -> Vec<String> {
        let mut body = Vec::new();
        for (i, imp) in stapel
            .imports
            .iter()
            .enumerate()
            .filter(|(_, i)| i.slot == slot)
        {
            let alias = format!("import-{i}");
            aliases.push(format!("FROM ${{{}}} AS {alias}", arg_of(&imp.image)));
            body.push(format!(
                "COPY {}--from={alias} {} {}",
                chown(&imp.owner, &imp.group),
                imp.add,
                imp.to
            ));
        }
        for (s, _image, env, _kind) in stapel.dependency_env.iter() {
            if *s == slot {
                body.push(format!("ARG {env}"));
                body.push(format!("ENV {env}=${{{env}}}"));
            }
        }
        body
    };
    let shell_body = |stage: ShellStage| -> Vec<String> {
        let mut body = Vec::new();
        let Some(commands) = stapel.shell.get(&stage) else {
            // A stage without commands still takes its dependencies' files.
            return stage_copies.get(&stage).cloned().unwrap_or_default();
        };
        if let Some(v) = &stapel.shell_cache_version {
            body.push(format!("ARG WERF_SHELL_CACHE_VERSION={}", quote_arg(v)));
        }
        if let Some(v) = stapel.stage_cache_versions.get(&stage) {
            body.push(format!("ARG WERF_STAGE_CACHE_VERSION={}", quote_arg(v)));
        }
        body.extend(stage_copies.get(&stage).cloned().unwrap_or_default());
        let mounts: String = stapel
            .mounts
            .iter()
            .map(|m| match m {
                Mount::TmpDir { to } => format!("--mount=type=tmpfs,target={to} "),
                Mount::BuildDir { to } => {
                    format!("--mount=type=cache,target={to},id=werf-build-dir-{image} ")
                }
            })
            .collect();
        body.push(format!("RUN {mounts}{}", shell_json(commands)));
        body
    };
    stages.push(("from", from_stage));
    stages.push(("beforeInstall", shell_body(ShellStage::BeforeInstall)));
    stages.push((
        Slot::BeforeInstall.stage_name(),
        slot_body(Slot::BeforeInstall, &mut aliases),
    ));
    stages.push((
        "gitArchive",
        copies_all
            .iter()
            .filter(|(deps, _)| !deps)
            .map(|(_, c)| c.clone())
            .collect(),
    ));
    stages.push(("install", shell_body(ShellStage::Install)));
    stages.push((
        Slot::AfterInstall.stage_name(),
        slot_body(Slot::AfterInstall, &mut aliases),
    ));
    stages.push(("beforeSetup", shell_body(ShellStage::BeforeSetup)));
    stages.push((
        Slot::BeforeSetup.stage_name(),
        slot_body(Slot::BeforeSetup, &mut aliases),
    ));
    stages.push(("setup", shell_body(ShellStage::Setup)));
    stages.push((
        Slot::AfterSetup.stage_name(),
        slot_body(Slot::AfterSetup, &mut aliases),
    ));
    if !stapel.disable_git_after_patch {
        stages.push((
            "gitLatestPatch",
            copies_all
                .iter()
                .filter(|(deps, _)| *deps)
                .map(|(_, c)| c.clone())
                .collect(),
        ));
    }
    stages.push(("dockerInstructions", stapel.docker.clone()));

    let mut out = String::new();
    for name in &images {
        out.push_str(&format!("ARG {}\n", arg_of(name)));
    }
    for a in &aliases {
        out.push_str(a);
        out.push('\n');
    }
    let mut previous: Option<String> = None;
    for (name, body) in stages {
        // `from` always exists; others only with instructions.
        if name != "from" && body.is_empty() {
            continue;
        }
        let label = stage_label(name);
        match &previous {
            None => out.push_str(&format!("FROM {base} AS {label}\n")),
            Some(p) => out.push_str(&format!("FROM {p} AS {label}\n")),
        }
        for line in body {
            out.push_str(&line);
            out.push('\n');
        }
        previous = Some(label);
    }
    Ok(Translated {
        dockerfile: out,
        context,
        paths,
        image_args,
    })
}

/// A Dockerfile stage name for werf's stage (lower case, `-` for word breaks).
pub fn stage_label(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// An `ARG` default, quoted so spaces and `$` stay literal.
fn quote_arg(v: &str) -> String {
    format!(
        "\"{}\"",
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('$', "\\$")
    )
}
