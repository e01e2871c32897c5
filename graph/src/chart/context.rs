//! What each chart's templates see, as Helm 4 builds it: `.Values` (the coalesced values, a
//! subchart's scoped under its name), `.Chart` (Chart.yaml under Go's field names, `IsRoot`),
//! `.Release`, `.Capabilities` (`KubeVersion`, `APIVersions` with `Has`, `HelmVersion`),
//! `.Files`, `.Subcharts`; and werf's `.Values.werf` (also under `global`), whose image and tag
//! maps are lazy: a template depends on the images it reads, not on all of them.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::value::{OBJECT_JSON, OBJECT_KIND, OBJECT_TEXT, OBJECT_VALUE};
use gotemplate::Value;
use serde_json::{Map, Value as Json};

use super::deps::{self, Instance};
use super::{schema, Chart, RenderOptions};
use crate::error::Result;

/// Helm 4's `.Capabilities` without a cluster (what `helm template` reports).
pub const DEFAULT_KUBE_VERSION: &str = "v1.36.0";
/// The Helm whose templates werf renders (`.Capabilities.HelmVersion`).
pub const HELM_VERSION: &str = "v4.2";
const KUBE_CLIENT_VERSION: &str = "v1.36";

/// Helm 4's default `.Capabilities.APIVersions` (the API groups its Kubernetes client knows),
/// read from Helm 4.2 itself.
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha2",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// What one chart's templates see, and which templates it renders.
#[derive(Clone, Debug)]
pub struct ChartContext {
    /// Template names' prefix (`root/charts/sub`).
    pub path: String,
    /// The chart, for its templates.
    pub chart: Arc<Chart>,
    pub root: Value,
    /// Maps that hold a lazy placeholder at some depth (see `Exec::lazy`).
    pub containers: Vec<Value>,
    /// `.Capabilities.APIVersions` (the list `Has` answers for).
    pub api_versions: Value,
}

/// The lazy image values: `werf.image` and `werf.tag` maps whose keys are the image names and
/// whose entries are computed on read.
#[derive(Clone, Debug)]
pub struct Placeholders {
    pub image: Value,
    pub tag: Value,
}

impl Placeholders {
    pub fn new(images: &[String]) -> Self {
        let keys = || Value::map(images.iter().map(|n| (n.clone(), Value::Nil)).collect());
        Placeholders {
            image: keys(),
            tag: keys(),
        }
    }
}

/// What a render reads from outside the chart: image values (`repo:tag` and `tag` of an image
/// by name) and, for `lookup`, the cluster.
pub trait RenderHost {
    fn image(&self, name: &str) -> Value;
    fn tag(&self, name: &str) -> Value;
    /// Helm's `lookup` (offline: an empty map, as `helm template`).
    fn lookup(&self, args: &[Value]) -> Result<Value, gotemplate::FuncError> {
        super::cluster::Cluster::offline().lookup(args)
    }
    /// werf's `werf_secret_file "NAME"`: `.helm/secret/NAME`, decrypted.
    fn secret_file(&self, args: &[Value]) -> Result<Value, gotemplate::FuncError> {
        let _ = args;
        Err("no secret files in this render".into())
    }
}

/// `werf_secret_file` over decrypted files by name.
pub fn secret_file(
    files: &std::collections::BTreeMap<String, String>,
    args: &[Value],
) -> Result<Value, gotemplate::FuncError> {
    let [Value::Str(name)] = args else {
        return Err("want one argument, the file's name under `.helm/secret/`".into());
    };
    files
        .get(name.trim_start_matches("./"))
        .map(|text| Value::Str(text.clone()))
        .ok_or_else(|| format!("no secret file `.helm/secret/{name}`").into())
}

/// The contexts of the chart and its enabled subcharts, for the user's values `user`; `werf` is
/// werf's own values (`.Values.werf`, without the image maps).
pub fn contexts(
    chart: &Arc<Chart>,
    user: Map<String, Json>,
    werf: Json,
    placeholders: &Placeholders,
    options: &RenderOptions,
) -> Result<Vec<ChartContext>> {
    let tree = deps::process(chart, &user)?;
    let coalesced = super::coalesce::coalesce(&tree, user, false)?;
    schema::validate(&tree, &coalesced)?;
    let mut werf_value = typed(&werf);
    if let Value::Map(m) = &werf_value {
        let mut entries = m.to_map();
        entries.insert("image".into(), placeholders.image.clone());
        entries.insert("tag".into(), placeholders.tag.clone());
        werf_value = Value::map(entries);
    }
    let values = with_werf(typed(&Json::Object(coalesced)), &tree, &werf_value, true);
    let common = Common::new(options);
    let mut out = Vec::new();
    build(&tree, values, &common, &mut out);
    let lazy = [&placeholders.image, &placeholders.tag];
    for c in &mut out {
        let mut seen = std::collections::HashMap::new();
        collect_containers(&c.root, &lazy, &mut c.containers, &mut seen);
    }
    Ok(out)
}

/// JSON as template values: integers (from `--set`) are int64, other numbers float64.
pub fn typed(v: &Json) -> Value {
    gotemplate::with_stack(|| match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int64(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(a) => Value::list(a.iter().map(typed).collect()),
        Json::Object(o) => Value::map(o.iter().map(|(k, x)| (k.clone(), typed(x))).collect()),
    })
}

fn set(map: &Value, key: &str, v: Value) -> Value {
    let mut entries = match map {
        Value::Map(m) => m.to_map(),
        _ => BTreeMap::new(),
    };
    entries.insert(key.to_string(), v);
    Value::map(entries)
}

fn get(map: &Value, key: &str) -> Value {
    match map {
        Value::Map(m) => m.get(key).cloned().unwrap_or(Value::Nil),
        _ => Value::Nil,
    }
}

/// `.Values.werf` at the top, and `global.werf` in every chart's values.
fn with_werf(values: Value, inst: &Instance, werf: &Value, root: bool) -> Value {
    let mut values = if matches!(values, Value::Map(_)) {
        values
    } else {
        Value::map(BTreeMap::new())
    };
    if root {
        values = set(&values, "werf", werf.clone());
    }
    let global = set(&get(&values, "global"), "werf", werf.clone());
    values = set(&values, "global", global);
    for child in &inst.children {
        let sub = with_werf(get(&values, &child.name), child, werf, false);
        values = set(&values, &child.name, sub);
    }
    values
}

/// What every chart's root shares: `.Release` and `.Capabilities`.
struct Common {
    release: Value,
    capabilities: Value,
    api_versions: Value,
}

impl Common {
    fn new(options: &RenderOptions) -> Self {
        let revision = options.revision.max(1);
        let release = Value::map(
            [
                ("Name", Value::Str(options.release.clone())),
                ("Namespace", Value::Str(options.namespace.clone())),
                ("Revision", Value::Int(revision as i64)),
                ("IsInstall", Value::Bool(revision == 1)),
                ("IsUpgrade", Value::Bool(revision > 1)),
                ("Service", Value::Str("Helm".into())),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        );
        let kube = options
            .kube_version
            .clone()
            .unwrap_or_else(|| DEFAULT_KUBE_VERSION.to_string());
        let (major, minor) = {
            let mut parts = kube.trim_start_matches('v').split('.');
            let major = parts.next().unwrap_or("1").to_string();
            let minor: String = parts
                .next()
                .unwrap_or("0")
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            (major, minor)
        };
        // Helm's `KubeVersion` struct: `String()` is the version; `%v` of the value and JSON
        // show its fields in order.
        let kube_version = object(
            "KubeVersion",
            [
                (OBJECT_TEXT, Value::Str(kube.clone())),
                (
                    OBJECT_VALUE,
                    Value::Str(format!("{{{kube} {kube} {major} {minor}}}")),
                ),
                (
                    OBJECT_JSON,
                    Value::Str(format!(
                        r#"{{"Version":"{kube}","Major":"{major}","Minor":"{minor}"}}"#
                    )),
                ),
                ("Version", Value::Str(kube.clone())),
                ("Major", Value::Str(major.clone())),
                ("Minor", Value::Str(minor.clone())),
            ],
        );
        // Helm's `BuildInfo`: no `String()`; its JSON names are lower-case.
        let helm_version = object(
            "BuildInfo",
            [
                (
                    OBJECT_VALUE,
                    Value::Str(format!("{{{HELM_VERSION}    {KUBE_CLIENT_VERSION}}}")),
                ),
                (
                    OBJECT_JSON,
                    Value::Str(format!(
                        r#"{{"version":"{HELM_VERSION}","go_version":"","kube_client_version":"{KUBE_CLIENT_VERSION}"}}"#
                    )),
                ),
                ("version", Value::Str(HELM_VERSION.into())),
                ("go_version", Value::Str(String::new())),
                (
                    "kube_client_version",
                    Value::Str(KUBE_CLIENT_VERSION.into()),
                ),
            ],
        );
        let api_versions = Value::list(match &options.api_versions {
            Some(list) => list.iter().map(|v| Value::Str(v.clone())).collect(),
            None => DEFAULT_API_VERSIONS
                .iter()
                .map(|v| Value::Str(v.to_string()))
                .collect(),
        });
        let capabilities = Value::map(
            [
                ("KubeVersion".to_string(), kube_version),
                ("APIVersions".to_string(), api_versions.clone()),
                ("HelmVersion".to_string(), helm_version),
            ]
            .into_iter()
            .collect(),
        );
        Common {
            release,
            capabilities,
            api_versions,
        }
    }
}

/// An object value: its kind and its fields (hidden ones included).
fn object<const N: usize>(kind: &str, fields: [(&str, Value); N]) -> Value {
    let mut m: BTreeMap<String, Value> = fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    m.insert(OBJECT_KIND.to_string(), Value::Str(kind.into()));
    Value::map(m)
}

/// Builds the root of `inst` and of every chart below it; returns `inst`'s root (what the
/// parent's `.Subcharts.NAME` is).
fn build(inst: &Instance, values: Value, common: &Common, out: &mut Vec<ChartContext>) -> Value {
    let at = out.len();
    // The parent's context comes first; children fill in after it.
    out.push(ChartContext {
        path: inst.path.clone(),
        chart: inst.chart.clone(),
        root: Value::Nil,
        containers: Vec::new(),
        api_versions: common.api_versions.clone(),
    });
    let mut subcharts = BTreeMap::new();
    for child in &inst.children {
        let child_values = match get(&values, &child.name) {
            v @ Value::Map(_) => v,
            _ => Value::map(BTreeMap::new()),
        };
        let root = gotemplate::with_stack(|| build(child, child_values, common, out));
        subcharts.insert(child.name.clone(), root);
    }
    let mut root = BTreeMap::new();
    root.insert("Chart".to_string(), chart_object(inst, at == 0));
    root.insert(
        "Files".to_string(),
        super::objects::files(&inst.chart.files),
    );
    root.insert("Release".to_string(), common.release.clone());
    root.insert("Capabilities".to_string(), common.capabilities.clone());
    root.insert("Values".to_string(), values);
    root.insert("Subcharts".to_string(), Value::map(subcharts));
    let root = Value::map(root);
    out[at].root = root.clone();
    root
}

/// `.Chart`: Chart.yaml under Go's field names, with Go's zero values for what it leaves out.
fn chart_object(inst: &Instance, is_root: bool) -> Value {
    let meta = &inst.chart.meta;
    let text = |k: &str| {
        Value::Str(
            meta.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
        )
    };
    let list = |k: &str| match meta.get(k) {
        Some(Json::Array(a)) => Value::list(a.iter().map(typed).collect()),
        _ => Value::list(Vec::new()),
    };
    let maintainers = match meta.get("maintainers") {
        Some(Json::Array(a)) => Value::list(
            a.iter()
                .map(|m| {
                    let f = |k: &str| {
                        Value::Str(m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string())
                    };
                    Value::map(
                        [
                            ("Name", f("name")),
                            ("Email", f("email")),
                            ("URL", f("url")),
                        ]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                    )
                })
                .collect(),
        ),
        _ => Value::list(Vec::new()),
    };
    let dependencies = Value::list(
        inst.dependencies
            .iter()
            .flatten()
            .map(dependency_object)
            .collect(),
    );
    let annotations = match meta.get("annotations") {
        Some(a @ Json::Object(_)) => typed(a),
        _ => Value::Nil,
    };
    let fields: Vec<(&str, Value)> = vec![
        ("APIVersion", text("apiVersion")),
        ("Annotations", annotations),
        ("AppVersion", text("appVersion")),
        ("Condition", text("condition")),
        ("Dependencies", dependencies),
        (
            "Deprecated",
            Value::Bool(
                meta.get("deprecated")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false),
            ),
        ),
        ("Description", text("description")),
        ("Home", text("home")),
        ("Icon", text("icon")),
        ("IsRoot", Value::Bool(is_root)),
        ("Keywords", list("keywords")),
        ("KubeVersion", text("kubeVersion")),
        ("Maintainers", maintainers),
        ("Name", Value::Str(inst.name.clone())),
        ("Sources", list("sources")),
        ("Tags", text("tags")),
        ("Type", text("type")),
        ("Version", text("version")),
    ];
    Value::map(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// One of `.Chart.Dependencies`, as Helm's `Dependency` struct reads in a template.
fn dependency_object(dep: &Json) -> Value {
    let text = |k: &str| {
        Value::Str(
            dep.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
        )
    };
    let list = |k: &str| match dep.get(k) {
        Some(Json::Array(a)) => Value::list(a.iter().map(typed).collect()),
        _ => Value::list(Vec::new()),
    };
    let fields: Vec<(&str, Value)> = vec![
        ("Name", text("name")),
        ("Version", text("version")),
        ("Repository", text("repository")),
        ("Condition", text("condition")),
        ("Tags", list("tags")),
        (
            "Enabled",
            Value::Bool(
                dep.get("enabled")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false),
            ),
        ),
        ("ImportValues", list("import-values")),
        ("Alias", text("alias")),
    ];
    Value::map(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// Pushes every map of `v` that holds one of `lazy` at some depth; true when `v` does. Maps
/// reached twice (a subchart's values are also its parent's) are looked at once.
fn collect_containers(
    v: &Value,
    lazy: &[&Value],
    out: &mut Vec<Value>,
    seen: &mut std::collections::HashMap<usize, bool>,
) -> bool {
    let Value::Map(m) = v else { return false };
    let key = Arc::as_ptr(m) as usize;
    if let Some(holds) = seen.get(&key) {
        return *holds;
    }
    if lazy
        .iter()
        .any(|l| matches!(l, Value::Map(x) if Arc::ptr_eq(x, m)))
    {
        seen.insert(key, true);
        return true;
    }
    let mut holds = false;
    for x in m.values() {
        holds |= gotemplate::with_stack(|| collect_containers(x, lazy, out, seen));
    }
    if holds {
        out.push(v.clone());
    }
    seen.insert(key, holds);
    holds
}
