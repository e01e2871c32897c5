//! werf.yaml's typed model: the meta document, images (Dockerfile and Stapel), dependencies,
//! imports, secrets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Location;

pub use super::common::{ImportType, Opaque};

/// The parsed, validated werf.yaml.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct WerfConfig {
    /// The file name as shown in messages (relative to the project directory).
    pub file: String,
    pub meta: Meta,
    /// Images in file order.
    pub images: Vec<ImageConfig>,
}

impl WerfConfig {
    /// The image called `name`.
    pub fn image(&self, name: &str) -> Option<&ImageConfig> {
        self.images.iter().find(|i| i.name == name)
    }

    /// A location in this file.
    pub fn at(&self, line: usize) -> Location {
        Location {
            file: self.file.clone(),
            line,
            column: 0,
        }
    }
}

/// The meta document (`configVersion: 1`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Meta {
    pub config_version: u32,
    pub project: String,
    #[serde(default)]
    pub build: BuildMeta,
    #[serde(default)]
    pub deploy: DeployMeta,
    #[serde(default)]
    pub cleanup: CleanupMeta,
    #[serde(default)]
    pub git_worktree: GitWorktreeMeta,
}

/// `build:` in the meta document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BuildMeta {
    pub cache_version: Option<String>,
    #[serde(default)]
    pub platform: Vec<String>,
    pub staged: Option<bool>,
    pub image_spec: Option<Opaque>,
}

/// `deploy:` in the meta document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeployMeta {
    pub helm_chart_dir: Option<String>,
    pub helm_chart_config: Option<HelmChartConfig>,
    pub helm_release: Option<String>,
    pub helm_release_slug: Option<bool>,
    pub namespace: Option<String>,
    pub namespace_slug: Option<bool>,
}

/// `deploy.helmChartConfig`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HelmChartConfig {
    pub app_version: Option<String>,
}

/// `cleanup:` in the meta document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CleanupMeta {
    pub disable: Option<bool>,
    pub disable_kubernetes_based_policy: Option<bool>,
    pub disable_git_history_based_policy: Option<bool>,
    #[serde(rename = "disableBuiltWithinLastNHoursPolicy")]
    pub disable_built_within_last_n_hours_policy: Option<bool>,
    #[serde(rename = "keepImagesBuiltWithinLastNHours")]
    pub keep_images_built_within_last_n_hours: Option<u64>,
    #[serde(default)]
    pub keep_policies: Vec<KeepPolicy>,
}

/// One `cleanup.keepPolicies[]` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeepPolicy {
    pub references: Option<References>,
    pub images_per_reference: Option<Limit>,
}

/// `keepPolicies[].references`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct References {
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub limit: Option<Limit>,
}

/// A `last`/`in`/`operator` limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limit {
    pub last: Option<i64>,
    #[serde(rename = "in")]
    pub within: Option<String>,
    pub operator: Option<LimitOperator>,
}

/// How `last` and `in` combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LimitOperator {
    And,
    Or,
}

/// `gitWorktree:` in the meta document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GitWorktreeMeta {
    pub force_shallow_clone: Option<bool>,
    pub allow_unshallow: Option<bool>,
    pub allow_fetch_origin_branches_and_tags: Option<bool>,
}

/// A Dockerfile image.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ImageConfig {
    pub name: String,
    /// Line of the image's document in werf.yaml.
    pub line: usize,
    pub is_final: bool,
    /// Context directory relative to the project directory (`""` for the project root).
    pub context: String,
    /// Dockerfile path relative to the context.
    pub dockerfile: String,
    pub context_add_files: Vec<String>,
    pub target: Option<String>,
    pub args: BTreeMap<String, String>,
    pub platform: Vec<String>,
    pub cache_version: Option<String>,
    pub dependencies: Vec<Dependency>,
    pub add_host: Vec<String>,
    pub network: Option<String>,
    pub secret_ids: Vec<String>,
    /// werf.yaml `ssh`: the SSH agent `RUN --mount=type=ssh` reaches (not part of a digest: it
    /// grants access, like a secret).
    pub ssh: Option<String>,
    /// Where each secret's value comes from, by id (read at build time, never part of a
    /// digest or of any output).
    #[serde(skip)]
    pub secrets: Vec<SecretSource>,
    pub staged: Option<bool>,
    pub image_spec: Option<Opaque>,
    /// One stage of a Stapel image (then `context` and `dockerfile` are unused: the stage is a
    /// Dockerfile over a synthetic context, see [`crate::stapel`]).
    pub stapel: Option<StapelStage>,
}

/// Which stage of which Stapel image an [`ImageConfig`] is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct StapelStage {
    #[serde(skip)]
    pub stapel: std::sync::Arc<crate::stapel::Stapel>,
    /// The image's name in werf.yaml.
    pub image: String,
    /// werf's stage name (`install`).
    pub stage: String,
    /// The image's last stage: the image itself.
    pub last: bool,
}

impl ImageConfig {
    /// Whether this is a stage of a Stapel image other than its last (an image werf.yaml does
    /// not name: reports and values leave it out).
    pub fn is_internal(&self) -> bool {
        self.stapel.as_ref().is_some_and(|s| !s.last)
    }
}

/// One `dependencies[]` entry of a Dockerfile image.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Dependency {
    pub image: String,
    #[serde(default)]
    pub imports: Vec<Import>,
}

/// One `dependencies[].imports[]` entry: a property of the dependency passed as a build arg.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Import {
    #[serde(rename = "type")]
    pub kind: ImportType,
    pub target_build_arg: String,
}

/// A werf.yaml `secrets` entry: an id and where its value is read from.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretSource {
    pub id: String,
    pub from: SecretFrom,
}

/// Where a secret's value is.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SecretFrom {
    /// An environment variable of the werf process.
    Env(String),
    /// A file, relative to the project folder.
    File(String),
    /// The value written in werf.yaml.
    Value(String),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = match &self.from {
            SecretFrom::Env(v) => format!("env `{v}`"),
            SecretFrom::File(p) => format!("file `{p}`"),
            SecretFrom::Value(_) => "a value".to_string(),
        };
        write!(f, "secret `{}` from {from}", self.id)
    }
}
