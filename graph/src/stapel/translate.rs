//! A Stapel image as a chain of one-stage Dockerfiles over a synthetic context, one per werf
//! stage. Each stage is its own image `FROM` the one before (so each is stored in the registry
//! under its own digest and reused), and the last is the image itself. The stages that exist
//! follow from the config alone ([`stage_names`]; werf leaves out stages with nothing to do):
//!
//! (`from`, folded into the first), `beforeInstall`, `dependenciesBeforeInstall`, `gitArchive`,
//! `install`,
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

use crate::error::Result;
use crate::objects::{EntryKind, MemoryObjects, ObjectId, ObjectSource, TreeEntry};

use super::schema::{Base, Mount, ShellStage, Slot, Stapel};
use super::select::{select, Selection};

/// The build arg naming the previous stage's image.
pub const PREV_ARG: &str = "WERF_STAPEL_PREV";

/// What opens the build args naming the werf images a Stapel image reads.
pub const IMAGE_ARG_PREFIX: &str = "WERF_STAPEL_IMAGE_";

/// The build arg naming werf image number `i` of this image (see [`Stapel::images`]).
pub fn image_arg(i: usize) -> String {
    format!("{IMAGE_ARG_PREFIX}{i}")
}

/// werf's stage order (`from` is folded into the first stage that exists).
pub const STAGE_ORDER: [&str; 12] = [
    "from",
    "beforeInstall",
    "dependenciesBeforeInstall",
    "gitArchive",
    "install",
    "dependenciesAfterInstall",
    "beforeSetup",
    "dependenciesBeforeSetup",
    "setup",
    "dependenciesAfterSetup",
    "gitLatestPatch",
    "dockerInstructions",
];

/// The stages of `stapel` in werf's order, as the config alone decides them.
pub fn stage_names(stapel: &Stapel) -> Vec<&'static str> {
    let deps = |stage: ShellStage| {
        stapel
            .git
            .iter()
            .any(|m| m.stage_dependencies.contains_key(&stage))
    };
    let shell = |stage: ShellStage| stapel.shell.contains_key(&stage) || deps(stage);
    let slot = |slot: Slot| {
        stapel.imports.iter().any(|i| i.slot == slot)
            || stapel.dependency_env.iter().any(|d| d.0 == slot)
    };
    let candidates: [(&'static str, bool); 11] = [
        (
            "beforeInstall",
            stapel.shell.contains_key(&ShellStage::BeforeInstall),
        ),
        (Slot::BeforeInstall.stage_name(), slot(Slot::BeforeInstall)),
        (
            "gitArchive",
            stapel.git.iter().any(|m| m.stage_dependencies.is_empty()),
        ),
        ("install", shell(ShellStage::Install)),
        (Slot::AfterInstall.stage_name(), slot(Slot::AfterInstall)),
        ("beforeSetup", shell(ShellStage::BeforeSetup)),
        (Slot::BeforeSetup.stage_name(), slot(Slot::BeforeSetup)),
        ("setup", shell(ShellStage::Setup)),
        (Slot::AfterSetup.stage_name(), slot(Slot::AfterSetup)),
        (
            "gitLatestPatch",
            !stapel.disable_git_after_patch
                && stapel.git.iter().any(|m| !m.stage_dependencies.is_empty()),
        ),
        ("dockerInstructions", !stapel.docker.is_empty()),
    ];
    let out: Vec<&'static str> = candidates
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| n)
        .collect();
    // werf's `from` stage only relabels the base: it is folded into the first stage (which
    // starts `FROM` the base and carries the from cache versions); an image with nothing but a
    // base is its `from` stage.
    if out.is_empty() {
        vec!["from"]
    } else {
        out
    }
}

/// One stage as a Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StageText {
    /// werf's name (`install`).
    pub name: &'static str,
    pub dockerfile: String,
}

/// A Stapel image written as Dockerfiles.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Translated {
    /// The synthetic context root every stage reads from.
    pub context: ObjectId,
    /// Repository paths the image reads (each mapping's `add`), for the dirty check.
    pub paths: Vec<String>,
    /// In [`stage_names`] order.
    pub stages: Vec<StageText>,
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

/// Writes `image`'s stages over the commit, whose entries `entry_at` finds by repository path
/// (the engine passes [`crate::paths::entry`], so a save outside every mapping's `add` does
/// not translate the image again).
pub fn translate(
    objects: &dyn ObjectSource,
    synthetic: &MemoryObjects,
    store: &dyn crate::context::DigestStore,
    entry_at: &dyn Fn(&str) -> Result<Option<TreeEntry>>,
    image: &str,
    stapel: &Stapel,
) -> Result<Translated> {
    let images = stapel.images();
    let arg_of = |name: &str| -> String {
        image_arg(
            images
                .iter()
                .position(|i| i == name)
                .expect("every image read is numbered"),
        )
    };

    // The context: each mapping's whole selection and its per-stage dependencies.
    let mut context_entries: Vec<TreeEntry> = Vec::new();
    let mut copies_all: Vec<(bool, String)> = Vec::new(); // (has stage deps, COPY line)
    let mut stage_copies: BTreeMap<ShellStage, Vec<String>> = BTreeMap::new();
    let mut paths = Vec::new();
    for (n, m) in stapel.git.iter().enumerate() {
        paths.push(m.add.clone());
        let at = entry_at(&m.add)?;
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
        let to_dir = |src: &str| {
            if src.ends_with('/') {
                format!("{}/", m.to.trim_end_matches('/'))
            } else {
                m.to.clone()
            }
        };
        // The mapping's selection, narrowed to `only` (a stage's dependencies) when given.
        let selection = |only: Option<&[String]>| {
            select(
                objects,
                synthetic,
                store,
                at.clone(),
                &m.include_paths,
                &m.exclude_paths,
                only,
            )
        };
        let copy = |src: &str| format!("COPY {}{src} {}", chown(&m.owner, &m.group), to_dir(src));
        if let Some(src) = add_entry(source_name(n, "all"), selection(None)?) {
            copies_all.push((!m.stage_dependencies.is_empty(), copy(&src)));
        }
        for (stage, globs) in &m.stage_dependencies {
            let name = source_name(n, &stage.name().to_ascii_lowercase());
            if let Some(src) = add_entry(name, selection(Some(globs))?) {
                stage_copies.entry(*stage).or_default().push(copy(&src));
            }
        }
    }
    let context = synthetic.add_tree(context_entries);

    // Each stage's own instructions, and the aliases of imported images it needs.
    let slot_body = |slot: Slot| -> (Vec<String>, Vec<String>) {
        let mut body = Vec::new();
        let mut aliases = Vec::new();
        for (i, imp) in stapel
            .imports
            .iter()
            .enumerate()
            .filter(|(_, i)| i.slot == slot)
        {
            let alias = format!("import-{i}");
            aliases.push(format!("FROM ${{{}}} AS {alias}", arg_of(&imp.source())));
            // A filtered import: globs relative to `add` (the native builder's
            // `--werf-include`/`--exclude` on `COPY --from`; these stages have no `RUN`, so
            // they are always built natively).
            let filters: String = imp
                .include_paths
                .iter()
                .map(|g| format!("--werf-include={g} "))
                .chain(imp.exclude_paths.iter().map(|g| format!("--exclude={g} ")))
                .collect();
            body.push(format!(
                "COPY {}{filters}--from={alias} {} {}",
                chown(&imp.owner, &imp.group),
                imp.add,
                imp.to
            ));
        }
        for (s, _image, env, _kind) in &stapel.dependency_env {
            if *s == slot {
                body.push(format!("ARG {env}"));
                body.push(format!("ENV {env}=${{{env}}}"));
            }
        }
        (body, aliases)
    };
    let shell_body = |stage: ShellStage| -> Vec<String> {
        let mut body = Vec::new();
        if let Some(v) = &stapel.shell_cache_version {
            body.push(format!("ARG WERF_SHELL_CACHE_VERSION={}", quote_arg(v)));
        }
        if let Some(v) = stapel.stage_cache_versions.get(&stage) {
            body.push(format!("ARG WERF_STAGE_CACHE_VERSION={}", quote_arg(v)));
        }
        body.extend(stage_copies.get(&stage).cloned().unwrap_or_default());
        if let Some(commands) = stapel.shell.get(&stage) {
            // A host folder is mounted by the builder (buildah's `--volume`); its path is
            // written here so it enters the digest.
            for (k, m) in stapel.mounts.iter().enumerate() {
                if let Mount::HostPath { from, to } = m {
                    body.push(format!(
                        "ARG WERF_MOUNT_FROM_PATH_{k}={}",
                        quote_arg(&format!("{from}:{to}"))
                    ));
                }
            }
            let mounts: String = stapel
                .mounts
                .iter()
                .map(|m| match m {
                    Mount::TmpDir { to } => format!("--mount=type=tmpfs,target={to} "),
                    Mount::BuildDir { to } => {
                        format!("--mount=type=cache,target={to},id=werf-build-dir-{image} ")
                    }
                    Mount::HostPath { .. } => String::new(),
                })
                .collect();
            body.push(format!("RUN {mounts}{}", shell_json(commands)));
        }
        body
    };

    let mut from_body = Vec::new();
    if let Some(v) = &stapel.from_cache_version {
        from_body.push(format!("ARG WERF_FROM_CACHE_VERSION={}", quote_arg(v)));
    }
    if let Some(v) = &stapel.cache_version {
        from_body.push(format!("ARG WERF_CACHE_VERSION={}", quote_arg(v)));
    }
    let mut stages = Vec::new();
    for (k, name) in stage_names(stapel).into_iter().enumerate() {
        let (mut body, aliases): (Vec<String>, Vec<String>) = match name {
            "from" => (Vec::new(), Vec::new()),
            "beforeInstall" => (shell_body(ShellStage::BeforeInstall), Vec::new()),
            "install" => (shell_body(ShellStage::Install), Vec::new()),
            "beforeSetup" => (shell_body(ShellStage::BeforeSetup), Vec::new()),
            "setup" => (shell_body(ShellStage::Setup), Vec::new()),
            "gitArchive" => (
                copies_all
                    .iter()
                    .filter(|(deps, _)| !deps)
                    .map(|(_, c)| c.clone())
                    .collect(),
                Vec::new(),
            ),
            "gitLatestPatch" => (
                copies_all
                    .iter()
                    .filter(|(deps, _)| *deps)
                    .map(|(_, c)| c.clone())
                    .collect(),
                Vec::new(),
            ),
            "dockerInstructions" => (stapel.docker.clone(), Vec::new()),
            other => {
                let slot = Slot::ALL
                    .into_iter()
                    .find(|s| s.stage_name() == other)
                    .expect("every stage name is known");
                slot_body(slot)
            }
        };
        if k == 0 {
            // The folded `from` stage: its cache versions open the first stage.
            body.splice(0..0, from_body.iter().cloned());
        }
        let mut text = String::new();
        let base = if k == 0 {
            match &stapel.base {
                Base::External(r) => r.clone(),
                Base::Image(n) => {
                    text.push_str(&format!("ARG {}\n", arg_of(n)));
                    format!("${{{}}}", arg_of(n))
                }
            }
        } else {
            text.push_str(&format!("ARG {PREV_ARG}\n"));
            format!("${{{PREV_ARG}}}")
        };
        for a in &aliases {
            // `FROM ${ARG} AS import-N`: declare the arg first.
            let arg = a
                .trim_start_matches("FROM ${")
                .split('}')
                .next()
                .unwrap_or_default();
            text.push_str(&format!("ARG {arg}\n"));
        }
        for a in &aliases {
            text.push_str(a);
            text.push('\n');
        }
        text.push_str(&format!("FROM {base} AS {}\n", stage_label(name)));
        for line in body {
            text.push_str(&line);
            text.push('\n');
        }
        stages.push(StageText {
            name,
            dockerfile: text,
        });
    }
    Ok(Translated {
        context,
        paths,
        stages,
    })
}

/// The context entry holding mapping `n`'s selection `what` (`all`, or the lower-cased shell
/// stage whose dependencies it holds).
fn source_name(n: usize, what: &str) -> String {
    format!("git-{n}-{what}")
}

/// A path of a Stapel stage's context (`git-N-WHAT/rest`) as (mapping N, WHAT, rest below the
/// selection); `None` for anything else.
pub fn parse_source(path: &str) -> Option<(usize, &str, &str)> {
    let path = path.trim_end_matches('/');
    let (head, rest) = path.split_once('/').unwrap_or((path, ""));
    let (n, what) = head.strip_prefix("git-")?.split_once('-')?;
    Some((n.parse().ok()?, what, rest))
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
