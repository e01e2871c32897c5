//! Helm charts from a commit, loaded and rendered as Helm 4 does it. These are the pure steps;
//! [`crate::render`] wires them into memoized queries.
//!
//! - [`load`]: a chart and its subcharts (folders and packaged `.tgz`) from a Git tree, binary
//!   files included, `.helmignore` applied.
//! - [`ignore`]: `.helmignore` rules.
//! - [`lock`]: `Chart.lock` (Helm's digest) and picking a dependency's version.
//! - [`deps`]: dependencies as Helm processes them: `condition`, `tags`, `alias` copies,
//!   `import-values`, library charts, declared charts missing from `charts/`.
//! - [`instance`]: a chart as it renders, under its name, at its place in the tree.
//! - [`values`]: user values (`values-ENV.yaml`, `--values`, `--set`) and paths into values.
//! - [`strvals`]: `--set` and `--set-string` expressions read as Helm's `strvals` reads them.
//! - [`coalesce`]: Helm's coalescing of the user's values with each chart's defaults.
//! - [`schema`]: `values.schema.json` validation of each chart's values.
//! - [`standalone`]: a chart rendered outside the graph (a bundle's, its images carried as
//!   values).
//! - [`cluster`]: what `lookup` reads of a live cluster (a trait the binary implements).
//! - [`context`]: what templates see: `.Values`, `.Chart`, `.Release`, `.Capabilities`,
//!   `.Files`, `.Template`, `.Subcharts`, and werf's lazy image values.
//! - [`objects`]: the methods of `.Files` and `.Capabilities.APIVersions`.
//! - [`funcs`]: the function table: Sprig's and Helm's, and werf's `werf_image`.
//! - [`output`]: the template set in Helm's parse order, rendering one template, splitting
//!   documents as Helm 4 splits them, install order, hooks, the `helm template` stream.

pub mod cluster;
pub mod coalesce;
pub mod context;
pub mod deps;
pub mod funcs;
pub mod ignore;
pub mod instance;
pub mod load;
pub mod lock;
pub mod objects;
pub mod output;
pub mod schema;
pub mod standalone;
pub mod strvals;
pub mod values;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{Error, Location};

pub use cluster::{Cluster, Lookup, LookupError};
pub use context::{contexts, ChartContext, Placeholders, RenderHost};
pub use load::load;
pub use output::{install_order, render_template, renderable, template_set, to_stream};
pub use values::{apply_set, user_values, SetKind, MAX_SET_DEPTH};

/// A rendered document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// `CHART/templates/FILE` (the `# Source:` line).
    pub source: String,
    /// Empty for a document without one (a comment-only document, which Helm keeps).
    pub kind: String,
    pub name: String,
    /// The document's text as Helm prints it after its `# Source:` line.
    pub text: String,
    /// The text parsed once, as the API server reads it (YAML 1.1, integers as written); null
    /// for a comment-only document. Deploys apply this, not a second parse of `text`; shared,
    /// as manifests are copied from a template's render into the chart's.
    pub object: Arc<serde_json::Value>,
    /// A hook (`helm.sh/hook`): printed after the manifests, applied by the hook machinery.
    pub hook: bool,
}

/// What a render needs besides the chart's files (what the command line says).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RenderOptions {
    pub release: String,
    pub namespace: String,
    pub env: Option<String>,
    /// Extra values documents (`--values`), in order, as (file name, text).
    pub values_files: Vec<(String, String)>,
    /// `--set-json`, `--set`, `--set-string`, `--set-file` (as literals) and `--set-literal`
    /// expressions (`a.b=c`), in the order they apply.
    pub set: Vec<(String, values::SetKind)>,
    /// The image repository (`--repo`); without it image values are `REPO:TAG` stubs.
    pub repo: Option<String>,
    /// `--use-custom-tag`: the tag each image is referenced by (its content tag when absent).
    pub custom_tags: BTreeMap<String, crate::custom_tag::ImageTag>,
    /// `.Release.Revision` (a first install is revision 1; 0 counts as 1).
    pub revision: u64,
    /// `.Capabilities.KubeVersion.Version` (Helm 4's default, `v1.36.0`, offline).
    pub kube_version: Option<String>,
    /// `.Capabilities.APIVersions` from the cluster (Helm 4's default set offline).
    pub api_versions: Option<Vec<String>>,
    /// werf's secret files (`.helm/secret/NAME`), decrypted, for `werf_secret_file "NAME"`.
    pub secret_files: BTreeMap<String, String>,
    /// Dependencies fetched as `Chart.lock` pins them (see [`lock::missing`]), by archive name:
    /// added to the top chart's `charts/` as `helm dependency build` would have put them.
    pub dependency_archives: BTreeMap<String, Arc<[u8]>>,
}

/// A chart as read from its files: its own templates and files, its subcharts as they are in
/// `charts/` (before dependency processing decides which are enabled and under which names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    /// Where it was read: a repository-relative folder, or `FOLDER/charts/NAME.tgz` for a
    /// packaged subchart.
    pub dir: String,
    /// `Chart.yaml`'s `name`.
    pub name: String,
    /// `Chart.yaml` as JSON (Helm's reading: strings for `version` and `appVersion`).
    pub meta: serde_json::Value,
    /// `values.yaml` as Helm reads it (YAML 1.1, numbers as float64, documents merged).
    pub values: serde_json::Map<String, serde_json::Value>,
    /// `values.schema.json`, parsed.
    pub schema: Option<serde_json::Value>,
    /// Templates (`templates/**`), chart-relative, in path order.
    pub templates: Vec<(String, Arc<str>)>,
    /// Every other file (`.Files`), chart-relative, binary or not.
    pub files: BTreeMap<String, Arc<[u8]>>,
    /// Subcharts found in `charts/`, in name order.
    pub subcharts: Vec<Arc<Chart>>,
    /// `Chart.lock`'s text, when the chart has one.
    pub lock: Option<String>,
}

impl Chart {
    /// A string field of `Chart.yaml`.
    pub fn field(&self, key: &str) -> &str {
        self.meta.get(key).and_then(|v| v.as_str()).unwrap_or("")
    }

    /// A `library` chart: only its partials are used, nothing of it renders.
    pub fn is_library(&self) -> bool {
        self.field("type") == "library"
    }

    /// `Chart.yaml`'s dependencies.
    pub fn dependencies(&self) -> &[serde_json::Value] {
        self.meta
            .get("dependencies")
            .and_then(|d| d.as_array())
            .map_or(&[], Vec::as_slice)
    }

    /// The declared dependencies no subchart in `charts/` answers (by name), as Helm's
    /// `CheckDependencies` finds them.
    pub fn absent_dependencies(&self) -> Vec<&serde_json::Value> {
        self.dependencies()
            .iter()
            .filter(|d| {
                let name = d.get("name").and_then(|n| n.as_str()).unwrap_or("");
                !self.subcharts.iter().any(|c| c.name == name)
            })
            .collect()
    }
}

pub(crate) fn missing(what: &str, path: String) -> Error {
    Error::MissingPath {
        at: Location {
            file: path.clone(),
            line: 0,
            column: 0,
        },
        what: what.into(),
        path,
        hint: None,
    }
}

/// An error about a chart file.
pub(crate) fn chart_error(file: &str, line: usize, column: usize, message: String) -> Error {
    Error::Config {
        at: Location {
            file: file.to_string(),
            line,
            column,
        },
        message,
    }
}
