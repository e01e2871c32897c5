//! The Stapel schema, strict (unknown keys are errors with line and column), and its typed form.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::common::{ImportType, Opaque};

/// A string or a list of strings (`shell.install`, `includePaths`, ...).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(untagged)]
pub enum StrOrList {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl StrOrList {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            StrOrList::None => Vec::new(),
            StrOrList::One(s) => vec![s],
            StrOrList::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Names {
    One(String),
    Many(Vec<String>),
}

/// A Stapel image document as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawStapel {
    pub image: Option<Names>,
    pub artifact: Option<String>,
    pub from: Option<String>,
    pub from_latest: Option<bool>,
    pub from_image: Option<String>,
    pub from_artifact: Option<String>,
    pub from_cache_version: Option<String>,
    pub cache_version: Option<String>,
    #[serde(rename = "final")]
    pub is_final: Option<bool>,
    #[serde(default)]
    pub platform: Vec<String>,
    pub disable_git_after_patch: Option<bool>,
    #[serde(default)]
    pub git: Vec<RawGit>,
    pub shell: Option<RawShell>,
    pub ansible: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub import: Vec<RawImport>,
    #[serde(default)]
    pub dependencies: Vec<RawDependency>,
    #[serde(default)]
    pub mount: Vec<RawMount>,
    pub docker: Option<RawDocker>,
    pub image_spec: Option<Opaque>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawGit {
    pub url: Option<String>,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub commit: Option<String>,
    pub add: Option<String>,
    pub to: Option<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
    #[serde(default)]
    pub include_paths: StrOrList,
    #[serde(default)]
    pub exclude_paths: StrOrList,
    pub stage_dependencies: Option<RawStageDependencies>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawStageDependencies {
    #[serde(default)]
    pub install: StrOrList,
    #[serde(default)]
    pub before_setup: StrOrList,
    #[serde(default)]
    pub setup: StrOrList,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawShell {
    #[serde(default)]
    pub before_install: StrOrList,
    #[serde(default)]
    pub install: StrOrList,
    #[serde(default)]
    pub before_setup: StrOrList,
    #[serde(default)]
    pub setup: StrOrList,
    pub cache_version: Option<String>,
    pub before_install_cache_version: Option<String>,
    pub install_cache_version: Option<String>,
    pub before_setup_cache_version: Option<String>,
    pub setup_cache_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawImport {
    pub image: Option<String>,
    pub artifact: Option<String>,
    pub from: Option<String>,
    pub stage: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub add: String,
    pub to: Option<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
    #[serde(default)]
    pub include_paths: StrOrList,
    #[serde(default)]
    pub exclude_paths: StrOrList,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawDependency {
    pub image: String,
    pub before: Option<String>,
    pub after: Option<String>,
    #[serde(default)]
    pub imports: Vec<RawDependencyImport>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawDependencyImport {
    #[serde(rename = "type")]
    pub kind: ImportType,
    pub target_env: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawMount {
    pub from: Option<String>,
    pub from_path: Option<String>,
    pub to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDocker {
    #[serde(rename = "WORKDIR")]
    pub workdir: Option<String>,
    #[serde(rename = "USER")]
    pub user: Option<String>,
    #[serde(rename = "ENV", default)]
    pub env: BTreeMap<String, String>,
    #[serde(rename = "LABEL", default)]
    pub label: BTreeMap<String, String>,
    #[serde(rename = "EXPOSE", default)]
    pub expose: StrOrList,
    #[serde(rename = "VOLUME", default)]
    pub volume: StrOrList,
    #[serde(rename = "ENTRYPOINT", default)]
    pub entrypoint: StrOrList,
    #[serde(rename = "CMD", default)]
    pub cmd: StrOrList,
    #[serde(rename = "HEALTHCHECK")]
    pub healthcheck: Option<String>,
    #[serde(rename = "STOPSIGNAL")]
    pub stopsignal: Option<String>,
}

/// Where an image starts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Base {
    /// An image in a registry, by reference as written.
    External(String),
    /// Another image of werf.yaml (`fromImage`, `fromArtifact`).
    Image(String),
}

/// The shell stages with commands (`beforeInstall`, `install`, `beforeSetup`, `setup`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ShellStage {
    BeforeInstall,
    Install,
    BeforeSetup,
    Setup,
}

impl ShellStage {
    pub const ALL: [ShellStage; 4] = [
        ShellStage::BeforeInstall,
        ShellStage::Install,
        ShellStage::BeforeSetup,
        ShellStage::Setup,
    ];

    /// werf's name.
    pub fn name(&self) -> &'static str {
        match self {
            ShellStage::BeforeInstall => "beforeInstall",
            ShellStage::Install => "install",
            ShellStage::BeforeSetup => "beforeSetup",
            ShellStage::Setup => "setup",
        }
    }

    /// The stage an import or dependency is placed around (`before`/`after` name `install` or
    /// `setup`).
    fn around(s: &str) -> Option<ShellStage> {
        match s {
            "install" => Some(ShellStage::Install),
            "setup" => Some(ShellStage::Setup),
            _ => None,
        }
    }
}

/// One `git[]` mapping of the local repository.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct GitMapping {
    /// Repository-relative path (`""` for the root).
    pub add: String,
    /// Absolute path in the image.
    pub to: String,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub include_paths: Vec<String>,
    pub exclude_paths: Vec<String>,
    /// Globs (relative to `add`) per shell stage that depends on them.
    pub stage_dependencies: BTreeMap<ShellStage, Vec<String>>,
}

/// Where an import or dependency lands: before or after `install` or `setup`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Slot {
    BeforeInstall,
    AfterInstall,
    BeforeSetup,
    AfterSetup,
}

impl Slot {
    pub const ALL: [Slot; 4] = [
        Slot::BeforeInstall,
        Slot::AfterInstall,
        Slot::BeforeSetup,
        Slot::AfterSetup,
    ];

    /// werf's stage name for this slot.
    pub fn stage_name(&self) -> &'static str {
        match self {
            Slot::BeforeInstall => "dependenciesBeforeInstall",
            Slot::AfterInstall => "dependenciesAfterInstall",
            Slot::BeforeSetup => "dependenciesBeforeSetup",
            Slot::AfterSetup => "dependenciesAfterSetup",
        }
    }
}

/// One `import[]`: files from another image's filesystem.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ImportFiles {
    pub image: String,
    /// `stage`: the imported image as it was after this stage (default: its last stage).
    pub stage: Option<ShellStage>,
    pub add: String,
    pub to: String,
    pub owner: Option<String>,
    pub group: Option<String>,
    /// Globs relative to `add`, as a git mapping's (a folder covers what is below it).
    pub include_paths: Vec<String>,
    pub exclude_paths: Vec<String>,
    pub slot: Slot,
}

impl ImportFiles {
    /// What the import reads: `image`, or `image@stage` for a stage of it (resolved to the
    /// stage's own image once every image of werf.yaml is known; see
    /// [`crate::config::stage_source`]).
    pub fn source(&self) -> String {
        match self.stage {
            None => self.image.clone(),
            Some(s) => format!("{}@{}", self.image, s.name()),
        }
    }
}

/// One `mount[]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Mount {
    /// `from: tmp_dir`: an empty folder for each build.
    TmpDir { to: String },
    /// `from: build_dir`: a folder kept between builds of the image.
    BuildDir { to: String },
    /// `fromPath`: a folder of the building machine (relative to the project folder when not
    /// absolute). Its path enters the digest, its content does not (as in werf).
    HostPath { from: String, to: String },
}

/// A Stapel image, typed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Stapel {
    pub base: Base,
    pub from_cache_version: Option<String>,
    pub cache_version: Option<String>,
    pub disable_git_after_patch: bool,
    pub git: Vec<GitMapping>,
    /// Commands per shell stage (each stage's commands run in one layer, `sh -e`).
    pub shell: BTreeMap<ShellStage, Vec<String>>,
    /// `shell.cacheVersion` and the per-stage ones.
    pub shell_cache_version: Option<String>,
    pub stage_cache_versions: BTreeMap<ShellStage, String>,
    pub imports: Vec<ImportFiles>,
    /// `dependencies[]` env imports, by slot: (image, env name, what).
    pub dependency_env: Vec<(Slot, String, String, ImportType)>,
    pub mounts: Vec<Mount>,
    /// `docker{}` as Dockerfile instructions, in a fixed order.
    pub docker: Vec<String>,
}

impl Stapel {
    /// The werf images this image reads (base, imports, dependencies).
    pub fn images(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Base::Image(n) = &self.base {
            out.push(n.clone());
        }
        out.extend(self.imports.iter().map(|i| i.source()));
        out.extend(self.dependency_env.iter().map(|d| d.1.clone()));
        out.sort();
        out.dedup();
        out
    }
}

/// The typed image, the names it defines and whether it is an artifact (errors: the field and
/// the message; the caller adds the file and line).
pub(crate) struct Converted {
    pub names: Vec<String>,
    pub is_artifact: bool,
    pub is_final: Option<bool>,
    pub platform: Vec<String>,
    pub image_spec: Option<Opaque>,
    pub stapel: Stapel,
}

/// A path in the image: absolute, cleaned, without `..`.
fn image_path(field: &str, p: &str) -> Result<String, (String, String)> {
    if !p.starts_with('/') {
        return Err((
            field.into(),
            format!("`{p}` must be an absolute path in the image"),
        ));
    }
    no_parent(field, p)?;
    let clean = crate::pattern::clean(p.trim_start_matches('/'));
    Ok(format!("/{clean}"))
}

/// A repository path: `/` is the root; no `..`.
fn repo_path(field: &str, p: &str) -> Result<String, (String, String)> {
    no_parent(field, p)?;
    let clean = crate::pattern::clean(p.trim_start_matches('/'));
    Ok(if clean == "." { String::new() } else { clean })
}

/// Refuses a path with a `..` segment: cleaning would silently move it (`/../../src` is not
/// `src`), so werf-rs does not guess what was meant.
fn no_parent(field: &str, p: &str) -> Result<(), (String, String)> {
    if p.split('/').any(|seg| seg == "..") {
        return Err((
            field.into(),
            format!("`{p}` has a `..` segment: paths here are written without `..`"),
        ));
    }
    Ok(())
}

fn slot(field: &str, before: Option<&str>, after: Option<&str>) -> Result<Slot, (String, String)> {
    let bad = |v: &str| {
        (
            field.to_string(),
            format!("`{v}` is not a stage to import around (`install` or `setup`)"),
        )
    };
    match (before, after) {
        (Some(b), None) => match ShellStage::around(b) {
            Some(ShellStage::Install) => Ok(Slot::BeforeInstall),
            Some(ShellStage::Setup) => Ok(Slot::BeforeSetup),
            _ => Err(bad(b)),
        },
        (None, Some(a)) => match ShellStage::around(a) {
            Some(ShellStage::Install) => Ok(Slot::AfterInstall),
            Some(ShellStage::Setup) => Ok(Slot::AfterSetup),
            _ => Err(bad(a)),
        },
        (Some(_), Some(_)) => Err((field.into(), "takes `before` or `after`, not both".into())),
        (None, None) => Err((
            field.into(),
            "needs `before` or `after` (`install` or `setup`)".into(),
        )),
    }
}

/// Checks and types a raw Stapel document. Errors are `(field, message)`.
pub(crate) fn convert(raw: RawStapel) -> Result<Converted, (String, String)> {
    let (names, is_artifact) = match (raw.image, raw.artifact) {
        (Some(Names::One(n)), None) => (vec![n], false),
        (Some(Names::Many(ns)), None) => (ns, false),
        (None, Some(a)) => (vec![a], true),
        (Some(_), Some(_)) => {
            return Err((
                "artifact".into(),
                "a document is an `image` or an `artifact`, not both".into(),
            ))
        }
        (None, None) => return Err(("image".into(), "needs `image` or `artifact`".into())),
    };
    let image_name = names.join(", ");
    if raw.ansible.is_some() {
        return Err((
            "ansible".into(),
            format!(
                "`ansible` stages (image `{image_name}`) are not supported by werf-rs; use `shell`"
            ),
        ));
    }
    let base = match (raw.from, raw.from_image, raw.from_artifact) {
        (Some(f), None, None) => Base::External(f),
        (None, Some(i), None) | (None, None, Some(i)) => Base::Image(i),
        (None, None, None) => {
            return Err((
                "from".into(),
                format!("image `{image_name}` needs `from`, `fromImage` or `fromArtifact`"),
            ))
        }
        _ => {
            return Err((
                "from".into(),
                "takes one of `from`, `fromImage`, `fromArtifact`".into(),
            ))
        }
    };
    // `fromLatest` makes werf's digest follow the base tag's current image; here the base enters
    // digests by its reference as written, so the option would be a silent no-op: refused.
    if raw.from_latest == Some(true) {
        return Err((
            "fromLatest".into(),
            format!("`fromLatest: true` (image `{image_name}`) is not supported yet by werf-rs: the base enters the digest by its reference as written; pin the base by digest (`from: NAME@sha256:...`) or change `fromCacheVersion` to rebuild"),
        ));
    }
    let mut git = Vec::new();
    for (i, g) in raw.git.into_iter().enumerate() {
        let field = |k: &str| format!("git[{i}].{k}");
        if g.url.is_some() || g.branch.is_some() || g.tag.is_some() || g.commit.is_some() {
            return Err((
                field("url"),
                format!("remote git repositories (image `{image_name}`) are not supported by werf-rs; map the local repository"),
            ));
        }
        let add = repo_path(&field("add"), g.add.as_deref().unwrap_or("/"))?;
        let to = image_path(
            &field("to"),
            g.to.as_deref()
                .ok_or((field("to"), "is required".to_string()))?,
        )?;
        let mut stage_dependencies = BTreeMap::new();
        if let Some(sd) = g.stage_dependencies {
            for (stage, globs) in [
                (ShellStage::Install, sd.install),
                (ShellStage::BeforeSetup, sd.before_setup),
                (ShellStage::Setup, sd.setup),
            ] {
                let globs = globs.into_vec();
                if !globs.is_empty() {
                    stage_dependencies.insert(stage, globs);
                }
            }
        }
        let (include_paths, exclude_paths) =
            (g.include_paths.into_vec(), g.exclude_paths.into_vec());
        for (key, list) in [
            ("includePaths", &include_paths),
            ("excludePaths", &exclude_paths),
        ] {
            list.iter().try_for_each(|p| no_parent(&field(key), p))?;
        }
        git.push(GitMapping {
            add,
            to,
            owner: g.owner,
            group: g.group,
            include_paths,
            exclude_paths,
            stage_dependencies,
        });
    }
    let mut shell = BTreeMap::new();
    let mut stage_cache_versions = BTreeMap::new();
    let mut shell_cache_version = None;
    if let Some(s) = raw.shell {
        for (stage, cmds, cv) in [
            (
                ShellStage::BeforeInstall,
                s.before_install,
                s.before_install_cache_version,
            ),
            (ShellStage::Install, s.install, s.install_cache_version),
            (
                ShellStage::BeforeSetup,
                s.before_setup,
                s.before_setup_cache_version,
            ),
            (ShellStage::Setup, s.setup, s.setup_cache_version),
        ] {
            let cmds = cmds.into_vec();
            if !cmds.is_empty() {
                shell.insert(stage, cmds);
            }
            if let Some(v) = cv {
                stage_cache_versions.insert(stage, v);
            }
        }
        shell_cache_version = s.cache_version;
    }
    let mut imports = Vec::new();
    for (i, imp) in raw.import.into_iter().enumerate() {
        let field = |k: &str| format!("import[{i}].{k}");
        let image = match (imp.image, imp.artifact, imp.from) {
            (Some(n), None, None) | (None, Some(n), None) | (None, None, Some(n)) => n,
            _ => {
                return Err((
                    field("image"),
                    "needs exactly one of `image`, `artifact`".into(),
                ))
            }
        };
        let stage = match imp.stage.as_deref() {
            None => None,
            Some(s) => Some(
                ShellStage::ALL
                    .into_iter()
                    .find(|st| st.name() == s)
                    .ok_or_else(|| {
                        (
                            field("stage"),
                            format!(
                                "`{s}` is not `beforeInstall`, `install`, `beforeSetup` or `setup`"
                            ),
                        )
                    })?,
            ),
        };
        let include_paths = imp.include_paths.into_vec();
        let exclude_paths = imp.exclude_paths.into_vec();
        for (key, list) in [
            ("includePaths", &include_paths),
            ("excludePaths", &exclude_paths),
        ] {
            list.iter().try_for_each(|p| no_parent(&field(key), p))?;
            if let Some(g) = list
                .iter()
                .find(|g| g.is_empty() || g.contains(|c: char| c.is_whitespace() || c == '$'))
            {
                return Err((
                    field(key),
                    format!("`{g}`: an import glob is one non-empty word without `$`"),
                ));
            }
        }
        let add = image_path(&field("add"), &imp.add)?;
        if add == "/" && include_paths.is_empty() {
            return Err((
                field("add"),
                "`add: /` imports the whole image: name what to take with `includePaths`".into(),
            ));
        }
        let to = image_path(&field("to"), imp.to.as_deref().unwrap_or(&imp.add))?;
        imports.push(ImportFiles {
            image,
            stage,
            add,
            to,
            owner: imp.owner,
            group: imp.group,
            include_paths,
            exclude_paths,
            slot: slot(
                &field("before"),
                imp.before.as_deref(),
                imp.after.as_deref(),
            )?,
        });
    }
    let mut dependency_env = Vec::new();
    for (i, d) in raw.dependencies.into_iter().enumerate() {
        let field = |k: &str| format!("dependencies[{i}].{k}");
        let at = match (d.before.as_deref(), d.after.as_deref()) {
            (None, None) => Slot::BeforeInstall,
            (b, a) => slot(&field("before"), b, a)?,
        };
        for imp in d.imports {
            dependency_env.push((at, d.image.clone(), imp.target_env, imp.kind));
        }
    }
    let mut mounts = Vec::new();
    for (i, m) in raw.mount.into_iter().enumerate() {
        let field = |k: &str| format!("mount[{i}].{k}");
        let to = image_path(&field("to"), &m.to)?;
        match (m.from.as_deref(), m.from_path) {
            (Some("tmp_dir"), None) => mounts.push(Mount::TmpDir { to }),
            (Some("build_dir"), None) => mounts.push(Mount::BuildDir { to }),
            (None, Some(from)) => {
                if from.is_empty()
                    || from.contains(|c: char| c == ':' || c == ',' || c.is_whitespace())
                {
                    return Err((
                        field("fromPath"),
                        format!("`{from}`: a path without `:`, `,` or spaces"),
                    ));
                }
                mounts.push(Mount::HostPath { from, to })
            }
            (Some(other), None) => {
                return Err((
                    field("from"),
                    format!("`{other}` is not `tmp_dir` or `build_dir`"),
                ))
            }
            _ => return Err((field("from"), "takes `from` or `fromPath`, not both".into())),
        }
    }
    let mut docker = Vec::new();
    if let Some(d) = raw.docker {
        let quote = |v: &str| {
            format!(
                "\"{}\"",
                v.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('$', "\\$")
            )
        };
        let json = |v: &[String]| serde_json::to_string(v).expect("strings serialize");
        if let Some(w) = d.workdir {
            docker.push(format!("WORKDIR {}", image_path("docker.WORKDIR", &w)?));
        }
        if let Some(u) = d.user {
            docker.push(format!("USER {u}"));
        }
        for (k, v) in &d.env {
            docker.push(format!("ENV {k}={}", quote(v)));
        }
        for (k, v) in &d.label {
            docker.push(format!("LABEL {}={}", quote(k), quote(v)));
        }
        for p in d.expose.into_vec() {
            docker.push(format!("EXPOSE {p}"));
        }
        let volumes = d.volume.into_vec();
        if !volumes.is_empty() {
            docker.push(format!("VOLUME {}", json(&volumes)));
        }
        for (kw, v) in [("ENTRYPOINT", d.entrypoint), ("CMD", d.cmd)] {
            match v {
                StrOrList::None => {}
                StrOrList::One(s) => docker.push(format!("{kw} {s}")),
                StrOrList::Many(l) => docker.push(format!("{kw} {}", json(&l))),
            }
        }
        if let Some(h) = d.healthcheck {
            docker.push(format!("HEALTHCHECK {h}"));
        }
        if let Some(s) = d.stopsignal {
            docker.push(format!("STOPSIGNAL {s}"));
        }
    }
    Ok(Converted {
        names,
        is_artifact,
        is_final: raw.is_final,
        platform: raw.platform,
        image_spec: raw.image_spec,
        stapel: Stapel {
            base,
            from_cache_version: raw.from_cache_version,
            cache_version: raw.cache_version,
            disable_git_after_patch: raw.disable_git_after_patch.unwrap_or(false),
            git,
            shell,
            shell_cache_version,
            stage_cache_versions,
            imports,
            dependency_env,
            mounts,
            docker,
        },
    })
}
