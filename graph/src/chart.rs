//! Helm charts from a commit: `Chart.yaml`, subcharts with Helm's values scoping and `global`,
//! values (`values.yaml`, `values-ENV.yaml`, `--values`, `--set`), `.Files`, werf's image values
//! (computed only when a template reads them), and rendering into manifests in Helm's order.
//!
//! These are the pure steps; [`crate::render`] wires them into memoized queries.

use std::collections::BTreeMap;

use crate::context::{entries_below, lookup, read_text};
use crate::error::{Error, Location, Result};
use crate::objects::{EntryKind, ObjectId, ObjectSource};
use crate::pattern::{join, Glob};
use gotemplate::exec::{Exec, OBJECT_KIND};
use gotemplate::funcs::{CallError, Funcs};
use gotemplate::{Set, Value};

/// A rendered document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// `CHART/templates/FILE` (the `# Source:` line).
    pub source: String,
    pub kind: String,
    pub name: String,
    pub text: String,
}

/// What a render needs besides the chart's files (what the command line says).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RenderOptions {
    pub release: String,
    pub namespace: String,
    pub env: Option<String>,
    /// Extra values documents (`--values`), in order, as (file name, text).
    pub values_files: Vec<(String, String)>,
    /// `--set` / `--set-string` (`a.b=c`), in order; `true` when the value stays a string.
    pub set: Vec<(String, bool)>,
    /// The image repository (`--repo`); without it image values are `REPO:TAG` stubs.
    pub repo: Option<String>,
    /// `.Release.Revision` (a first install is revision 1; 0 counts as 1).
    pub revision: u64,
    /// `.Capabilities.KubeVersion.Version` (`v1.20.2` offline).
    pub kube_version: Option<String>,
}

/// A chart read from a commit: its own files and its subcharts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    /// Repository-relative folder.
    pub dir: String,
    /// The name templates and values see (the dependency's `alias`, else `Chart.yaml`'s name).
    pub name: String,
    /// Template names' prefix: `root`, `root/charts/sub`.
    pub path: String,
    /// `Chart.yaml`, as JSON text (text compares cheaply and exactly).
    pub meta: String,
    /// `values.yaml`, as JSON text.
    pub values: String,
    /// Templates (`templates/**`), by name (`PATH/templates/FILE`), with their text.
    pub templates: Vec<(String, std::sync::Arc<str>)>,
    /// Other files (what `.Files` serves), by chart-relative path.
    pub files: BTreeMap<String, std::sync::Arc<str>>,
    /// Subcharts from `charts/`, each with its `condition` from `Chart.yaml`'s dependencies.
    pub subcharts: Vec<(Chart, Option<String>)>,
}

/// Helm's install order of kinds; others come after, in file order.
const INSTALL_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn yaml_doc(file: &str, text: &str) -> Result<serde_json::Value> {
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    gotemplate::nesting::check_yaml(text).map_err(|(line, message)| Error::Config {
        at: Location {
            file: file.to_string(),
            line,
            column: 0,
        },
        message,
    })?;
    let value = serde_yaml_ng::from_str::<serde_json::Value>(text).map_err(|e| Error::Config {
        at: Location {
            file: file.to_string(),
            line: e.location().map(|l| l.line()).unwrap_or(0),
            column: e.location().map(|l| l.column()).unwrap_or(0),
        },
        message: e.to_string(),
    })?;
    // As Helm: a file of comments only (or `~`) is no values at all; anything but a map is an
    // error, never a silent replacement of every value.
    match value {
        serde_json::Value::Null => Ok(serde_json::Value::Object(Default::default())),
        v @ serde_json::Value::Object(_) => Ok(v),
        other => Err(Error::Config {
            at: Location {
                file: file.to_string(),
                line: 1,
                column: 1,
            },
            message: format!(
                "must hold a map of keys, not {}",
                match other {
                    serde_json::Value::Array(_) => "a list",
                    serde_json::Value::String(_) => "a string",
                    serde_json::Value::Number(_) => "a number",
                    _ => "a boolean",
                }
            ),
        }),
    }
}

/// The most keys a `--set` path may nest (`a.b.c...`), so a hostile path cannot build a value
/// deeper than the rest of the engine handles.
pub const MAX_SET_DEPTH: usize = 100;

/// Splits on unescaped `sep` (`\,` and `\.` stay literal, as in Helm's `strvals`).
fn split_escaped(s: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) if n == sep || n == '\\' => parts.last_mut().expect("one part").push(n),
                Some(n) => {
                    let last = parts.last_mut().expect("one part");
                    last.push('\\');
                    last.push(n);
                }
                None => parts.last_mut().expect("one part").push('\\'),
            },
            c if c == sep => parts.push(String::new()),
            c => parts.last_mut().expect("one part").push(c),
        }
    }
    parts
}

/// Applies one `--set` expression (`a.b=c,d[0].e=f`, `\,` and `\.` escaped, `{a,b}` lists);
/// values are typed as Helm types them unless `as_string`.
pub fn apply_set(
    values: &mut serde_json::Value,
    expr: &str,
    as_string: bool,
) -> std::result::Result<(), String> {
    for part in split_escaped(expr, ',') {
        let Some((path, raw)) = part.split_once('=') else {
            return Err(format!("`--set {expr}`: expected `key=value` in `{part}`"));
        };
        let scalar = |raw: &str| {
            if as_string {
                serde_json::Value::String(raw.to_string())
            } else if raw == "true" || raw == "false" {
                serde_json::Value::Bool(raw == "true")
            } else if raw == "null" {
                serde_json::Value::Null
            } else if let Ok(i) = raw.parse::<i64>() {
                serde_json::Value::from(i)
            } else {
                serde_json::Value::String(raw.to_string())
            }
        };
        let value = match raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            Some(list) if !as_string => serde_json::Value::Array(
                list.split(';')
                    .filter(|x| !x.is_empty())
                    .map(scalar)
                    .collect(),
            ),
            _ => scalar(raw),
        };
        // Path elements: keys, each optionally with list indices (`a[0][1]`).
        let mut slot = &mut *values;
        let keys = split_escaped(path, '.');
        let levels = keys.len() + path.matches('[').count();
        if levels > MAX_SET_DEPTH {
            return Err(format!(
                "`--set`: the path of `{}...` nests {levels} levels (at most {MAX_SET_DEPTH})",
                path.chars().take(40).collect::<String>()
            ));
        }
        for (i, key) in keys.iter().enumerate() {
            let (name, indices) = match key.find('[') {
                Some(b) => (&key[..b], &key[b..]),
                None => (key.as_str(), ""),
            };
            if name.is_empty() {
                return Err(format!("`--set {expr}`: empty key in `{path}`"));
            }
            if !slot.is_object() {
                *slot = serde_json::Value::Object(Default::default());
            }
            slot = slot
                .as_object_mut()
                .expect("made an object")
                .entry(name.to_string())
                .or_insert(serde_json::Value::Null);
            for idx in indices.split('[').filter(|x| !x.is_empty()) {
                let n: usize = idx
                    .strip_suffix(']')
                    .and_then(|x| x.parse().ok())
                    .ok_or_else(|| format!("`--set {expr}`: bad list index `[{idx}` in `{key}`"))?;
                if n > 65_536 {
                    return Err(format!("`--set {expr}`: list index {n} is too large"));
                }
                if !slot.is_array() {
                    *slot = serde_json::Value::Array(Vec::new());
                }
                let list = slot.as_array_mut().expect("made a list");
                if list.len() <= n {
                    list.resize(n + 1, serde_json::Value::Null);
                }
                slot = &mut list[n];
            }
            if i + 1 == keys.len() {
                *slot = value.clone();
            }
        }
    }
    Ok(())
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

/// Reads the chart (with its subcharts) whose folder `chart_dir` (repository-relative) has the
/// tree `tree`.
pub fn load(objects: &dyn ObjectSource, tree: ObjectId, chart_dir: &str) -> Result<Chart> {
    load_tree(objects, tree, chart_dir, None, None)
}

fn load_tree(
    objects: &dyn ObjectSource,
    tree: ObjectId,
    dir: &str,
    parent_path: Option<&str>,
    alias: Option<&str>,
) -> Result<Chart> {
    let mut texts: BTreeMap<String, std::sync::Arc<str>> = BTreeMap::new();
    for (rel, e) in entries_below(objects, tree, "")? {
        if !rel.starts_with("charts/") && e.kind.is_file() {
            texts.insert(rel.clone(), read_text(objects, e.id, &join(dir, &rel))?);
        }
    }
    let mut sub_dirs: BTreeMap<String, ObjectId> = BTreeMap::new();
    if let Some(charts) = lookup(objects, tree, "charts")?.filter(|e| e.kind == EntryKind::Tree) {
        for e in &objects.tree(charts.id)?.entries {
            if e.kind == EntryKind::Tree {
                sub_dirs.insert(e.name.clone(), e.id);
            } else if e.name.ends_with(".tgz") || e.name.ends_with(".tar.gz") {
                return Err(Error::Config {
                    at: Location {
                        file: join(dir, &format!("charts/{}", e.name)),
                        line: 0,
                        column: 0,
                    },
                    message: "packaged subcharts are not read: unpack it into `charts/NAME/`"
                        .into(),
                });
            }
        }
    }
    let chart_file = join(dir, "Chart.yaml");
    let meta = yaml_doc(
        &chart_file,
        texts
            .get("Chart.yaml")
            .ok_or_else(|| missing("chart file", chart_file.clone()))?,
    )?;
    let own_name = meta
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or("chart")
        .to_string();
    let name = alias.map(str::to_string).unwrap_or(own_name);
    let path = match parent_path {
        Some(p) => format!("{p}/charts/{name}"),
        None => name.clone(),
    };
    let values = yaml_doc(
        &join(dir, "values.yaml"),
        texts.get("values.yaml").map(|t| &**t).unwrap_or(""),
    )?;
    let mut templates = Vec::new();
    let mut files = BTreeMap::new();
    for (rel, text) in texts {
        if let Some(t) = rel.strip_prefix("templates/") {
            let base = t.rsplit('/').next().unwrap_or(t);
            let is_template = [".yaml", ".yml", ".tpl", ".json", ".txt"]
                .iter()
                .any(|x| t.ends_with(x));
            if is_template && base != "NOTES.txt" {
                templates.push((format!("{path}/{rel}"), text));
            }
        } else if rel != "Chart.yaml" && rel != "values.yaml" {
            files.insert(rel, text);
        }
    }
    // Subcharts: every folder of `charts/`, with `condition`/`alias` from `dependencies`.
    let deps: Vec<serde_json::Value> = meta
        .get("dependencies")
        .and_then(|d| d.as_array())
        .cloned()
        .unwrap_or_default();
    let mut subcharts = Vec::new();
    for (folder, id) in sub_dirs {
        let dep = deps
            .iter()
            .find(|d| d.get("name").and_then(|n| n.as_str()) == Some(folder.as_str()));
        let field = |k: &str| {
            dep.and_then(|d| d.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let sub = load_tree(
            objects,
            id,
            &join(dir, &format!("charts/{folder}")),
            Some(&path),
            field("alias").as_deref(),
        )?;
        subcharts.push((sub, field("condition")));
    }
    Ok(Chart {
        dir: dir.to_string(),
        name,
        path,
        meta: meta.to_string(),
        values: values.to_string(),
        templates,
        files,
        subcharts,
    })
}

/// The user's values for the root chart: `values.yaml`, `values-ENV.yaml`, `--values`, `--set`.
pub fn user_values(chart: &Chart, options: &RenderOptions) -> Result<serde_json::Value> {
    let mut values: serde_json::Value =
        serde_json::from_str(&chart.values).expect("stored as JSON");
    if let Some(env) = &options.env {
        let file = format!("values-{env}.yaml");
        if let Some(text) = chart.files.get(&file) {
            merge(&mut values, yaml_doc(&join(&chart.dir, &file), text)?);
        }
    }
    for (file, text) in &options.values_files {
        merge(&mut values, yaml_doc(file, text)?);
    }
    for (expr, as_string) in &options.set {
        apply_set(&mut values, expr, *as_string).map_err(|message| Error::Config {
            at: Location {
                file: "--set".into(),
                line: 0,
                column: 0,
            },
            message,
        })?;
    }
    Ok(values)
}

/// `over` merged onto `base` (maps key by key, `over` wins); shared parts stay shared.
fn merge_values(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Map(b), Value::Map(o)) => {
            let mut m = b.to_map();
            for (k, v) in o.iter() {
                let merged = match m.get(k) {
                    Some(old) => merge_values(old, v),
                    None => v.clone(),
                };
                m.insert(k.clone(), merged);
            }
            Value::map(m)
        }
        (_, o) => o.clone(),
    }
}

/// What one chart's templates see: the root (`.Values`, `.Chart`, `.Release`, `.Capabilities`,
/// `.Files`) and the maps on the way to the lazy werf image values.
#[derive(Clone, Debug)]
pub struct ChartContext {
    /// Template names' prefix (`root/charts/sub`).
    pub path: String,
    pub root: Value,
    /// Maps that hold a lazy placeholder at some depth (see `Exec::lazy`).
    pub containers: Vec<Value>,
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

/// The contexts of the chart and its enabled subcharts, with Helm's values scoping: a subchart
/// sees its `values.yaml` under the parent's `.Values.NAME`, and `global` flows down to all.
pub fn contexts(
    chart: &Chart,
    user: serde_json::Value,
    werf: serde_json::Value,
    placeholders: &Placeholders,
    options: &RenderOptions,
) -> Vec<ChartContext> {
    let mut werf_value = Value::from_json(&werf);
    if let Value::Map(m) = &mut werf_value {
        let mut m2 = m.to_map();
        m2.insert("image".into(), placeholders.image.clone());
        m2.insert("tag".into(), placeholders.tag.clone());
        *m = std::sync::Arc::new(gotemplate::value::Entries::new(m2));
    }
    let werf_values = Value::map(
        [
            ("werf".to_string(), werf_value.clone()),
            (
                "global".to_string(),
                Value::map([("werf".to_string(), werf_value)].into_iter().collect()),
            ),
        ]
        .into_iter()
        .collect(),
    );
    let values = merge_values(&Value::from_json(&user), &werf_values);
    let mut out = Vec::new();
    scope(chart, values, options, &mut out);
    let lazy = [&placeholders.image, &placeholders.tag];
    for c in &mut out {
        collect_containers(&c.root, &lazy, &mut c.containers);
    }
    out
}

fn truthy_path(values: &Value, path: &str) -> Option<bool> {
    let mut v = values;
    for k in path.split('.') {
        match v {
            Value::Map(m) => v = m.get(k)?,
            _ => return None,
        }
    }
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

fn scope(chart: &Chart, values: Value, options: &RenderOptions, out: &mut Vec<ChartContext>) {
    // A subchart's own defaults under the parent's values; the parent's `global` over its own.
    let mut values = values;
    let globals = match &values {
        Value::Map(m) => m.get("global").cloned().unwrap_or(Value::Nil),
        _ => Value::Nil,
    };
    let mut children = Vec::new();
    for (sub, condition) in &chart.subcharts {
        if let Some(c) = condition {
            // Helm: a condition path that resolves to `false` disables the subchart.
            if c.split(',').find_map(|p| truthy_path(&values, p.trim())) == Some(false) {
                continue;
            }
        }
        let defaults =
            Value::from_json(&serde_json::from_str(&sub.values).expect("stored as JSON"));
        let given = match &values {
            Value::Map(m) => m.get(&sub.name).cloned().unwrap_or(Value::Nil),
            _ => Value::Nil,
        };
        let mut scoped = merge_values(&defaults, &given);
        let sub_globals = match &scoped {
            Value::Map(m) => m.get("global").cloned().unwrap_or(Value::Nil),
            _ => Value::Nil,
        };
        let merged_globals = merge_values(&sub_globals, &globals);
        if let Value::Map(m) = &mut scoped {
            let mut m2 = m.to_map();
            m2.insert("global".into(), merged_globals);
            *m = std::sync::Arc::new(gotemplate::value::Entries::new(m2));
        } else {
            scoped = Value::map(
                [("global".to_string(), merged_globals)]
                    .into_iter()
                    .collect(),
            );
        }
        // The parent sees the subchart's coalesced values too.
        if let Value::Map(m) = &mut values {
            let mut m2 = m.to_map();
            m2.insert(sub.name.clone(), scoped.clone());
            *m = std::sync::Arc::new(gotemplate::value::Entries::new(m2));
        }
        children.push((sub, scoped));
    }
    out.push(context_of(chart, values, options));
    for (sub, scoped) in children {
        scope(sub, scoped, options, out);
    }
}

fn context_of(chart: &Chart, values: Value, options: &RenderOptions) -> ChartContext {
    let meta: serde_json::Value = serde_json::from_str(&chart.meta).expect("stored as JSON");
    let field = |k: &str| meta.get(k).cloned().unwrap_or(serde_json::Value::Null);
    let kube = options.kube_version.as_deref().unwrap_or("v1.20.2");
    let (major, minor) = {
        let mut parts = kube.trim_start_matches('v').split('.');
        (
            parts.next().unwrap_or("1").to_string(),
            parts.next().unwrap_or("20").to_string(),
        )
    };
    let revision = options.revision.max(1);
    let Value::Map(base) = Value::from_json(&serde_json::json!({
        "Chart": {
            "Name": chart.name, "Version": field("version"), "AppVersion": field("appVersion"),
            "Description": field("description"), "Type": field("type"), "APIVersion": field("apiVersion"),
        },
        "Release": {
            "Name": options.release, "Namespace": options.namespace, "Revision": revision,
            "IsInstall": revision == 1, "IsUpgrade": revision > 1, "Service": "Helm",
        },
        "Capabilities": {
            "KubeVersion": {"Version": kube, "Major": major, "Minor": minor, "GitVersion": kube},
            "APIVersions": ["v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "coordination.k8s.io/v1"],
        },
    })) else {
        unreachable!("a JSON object converts to a map")
    };
    let mut root = base.to_map();
    root.insert("Values".into(), values);
    root.insert("Files".into(), files_object(&chart.files));
    ChartContext {
        path: chart.path.clone(),
        root: Value::map(root),
        containers: Vec::new(),
    }
}

/// Pushes every map of `v` that holds one of `lazy` at some depth; true when `v` does.
fn collect_containers(v: &Value, lazy: &[&Value], out: &mut Vec<Value>) -> bool {
    let Value::Map(m) = v else { return false };
    if lazy
        .iter()
        .any(|l| matches!(l, Value::Map(x) if std::sync::Arc::ptr_eq(x, m)))
    {
        return true;
    }
    let mut holds = false;
    for x in m.values() {
        holds |= collect_containers(x, lazy, out);
    }
    if holds {
        out.push(v.clone());
    }
    holds
}

/// `.Files`: an object value whose methods [`files_method`] serves.
fn files_object(files: &BTreeMap<String, std::sync::Arc<str>>) -> Value {
    Value::map(
        [
            (OBJECT_KIND.to_string(), Value::Str("Files".into())),
            (
                "files".to_string(),
                Value::map(
                    files
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::Str(v.to_string())))
                        .collect(),
                ),
            ),
        ]
        .into_iter()
        .collect(),
    )
}

/// Helm's `.Files` methods: `Get`, `GetBytes`, `Glob`, `Lines`, `AsConfig`, `AsSecrets`.
pub fn files_method(
    kind: &str,
    receiver: &Value,
    method: &str,
    args: &[Value],
) -> Option<std::result::Result<Value, String>> {
    if kind != "Files" {
        return None;
    }
    let files = match receiver {
        Value::Map(m) => match m.get("files") {
            Some(Value::Map(f)) => f.clone(),
            _ => Default::default(),
        },
        _ => Default::default(),
    };
    let arg = |i: usize| match args.get(i) {
        Some(Value::Str(s)) => Ok(s.clone()),
        _ => Err(format!("`.Files.{method}` wants a path")),
    };
    let text_of = |p: &str| match files.get(p) {
        Some(Value::Str(s)) => s.clone(),
        _ => String::new(),
    };
    let by_base = |encode: fn(&str) -> String| {
        let m: BTreeMap<String, Value> = files
            .iter()
            .map(|(k, v)| {
                let base = k.rsplit('/').next().unwrap_or(k).to_string();
                let text = match v {
                    Value::Str(s) => s.as_str(),
                    _ => "",
                };
                (base, Value::Str(encode(text)))
            })
            .collect();
        gotemplate::yaml::to_yaml(&Value::map(m))
    };
    Some(match method {
        "Get" | "GetBytes" => arg(0).map(|p| Value::Str(text_of(&p))),
        "Lines" => arg(0).map(|p| {
            let text = text_of(&p);
            Value::list(
                text.trim_end_matches('\n')
                    .split('\n')
                    .map(|l| Value::Str(l.into()))
                    .collect(),
            )
        }),
        "Glob" => arg(0).map(|pattern| {
            let glob = Glob::new(&pattern);
            let picked: BTreeMap<String, Value> = files
                .iter()
                .filter(|(k, _)| glob.matches(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut m = BTreeMap::new();
            m.insert(OBJECT_KIND.to_string(), Value::Str("Files".into()));
            m.insert("files".to_string(), Value::map(picked));
            Value::map(m)
        }),
        "AsConfig" if files.is_empty() => Ok(Value::Str(String::new())),
        "AsConfig" => Ok(Value::Str(by_base(|t| t.to_string()))),
        "AsSecrets" if files.is_empty() => Ok(Value::Str(String::new())),
        "AsSecrets" => Ok(Value::Str(by_base(|t| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(t)
        }))),
        _ => return None,
    })
}

/// What chart templates may call: Sprig's and Helm's functions, and werf's `werf_image`.
pub fn functions() -> &'static std::sync::Arc<Funcs> {
    static TABLE: std::sync::OnceLock<std::sync::Arc<Funcs>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut f = gotemplate::helm::funcs();
        f.insert_context("werf_image", werf_image);
        std::sync::Arc::new(f)
    })
}

/// werf 1.2's `{{ tuple "backend" . | werf_image }}`: `.Values.werf.image.backend`, read lazily
/// (the template depends on that image alone).
fn werf_image(exec: &mut Exec<'_>, args: &[Value]) -> std::result::Result<Value, CallError> {
    let (image, root) = match args {
        [Value::List(l)] if l.len() == 2 => (l[0].clone(), l[1].clone()),
        [image, root] => (image.clone(), root.clone()),
        _ => return Err("want (tuple \"IMAGE\" $)".into()),
    };
    let Value::Str(image) = image else {
        return Err("the image name must be a string".into());
    };
    let path = [
        "Values".to_string(),
        "werf".to_string(),
        "image".to_string(),
    ];
    let images = exec.field_path(root, &path)?;
    if !matches!(&images, Value::Map(m) if m.contains_key(&image)) {
        return Err(format!("no image `{image}` in werf.yaml").into());
    }
    Ok(match exec.lazy_entry(&images, &image) {
        Some(v) => v,
        None => exec.field_path(images, &[image])?,
    })
}

/// How templates read image values: `repo:tag` and `tag` of an image by name.
pub trait ImageValues {
    fn image(&self, name: &str) -> Value;
    fn tag(&self, name: &str) -> Value;
}

/// Every template of the chart and its subcharts parsed into one set (defines are shared, as in
/// Helm).
pub fn template_set(chart: &Chart) -> Result<Set> {
    let mut set = Set::with_functions(functions().clone());
    let mut stack = vec![chart];
    while let Some(c) = stack.pop() {
        for (name, text) in &c.templates {
            set.parse(name, text)
                .map_err(|e| template_error(chart, e))?;
        }
        stack.extend(c.subcharts.iter().map(|(s, _)| s));
    }
    Ok(set)
}

/// The templates that produce manifests (not partials), with the context each renders in.
pub fn renderable<'c>(chart: &'c Chart, contexts: &[ChartContext]) -> Vec<(&'c str, usize)> {
    let mut out = Vec::new();
    let mut stack = vec![chart];
    while let Some(c) = stack.pop() {
        if let Some(ctx) = contexts.iter().position(|x| x.path == c.path) {
            for (name, _) in &c.templates {
                let base = name.rsplit('/').next().unwrap_or(name);
                if !base.starts_with('_') && !name.ends_with(".tpl") && !name.ends_with(".txt") {
                    out.push((name.as_str(), ctx));
                }
            }
            stack.extend(c.subcharts.iter().map(|(s, _)| s));
        }
    }
    out.sort();
    out
}

/// Renders one template in `ctx` into its manifests; image values come from `images` on read.
pub fn render_template(
    chart: &Chart,
    set: &Set,
    name: &str,
    ctx: &ChartContext,
    placeholders: &Placeholders,
    images: &dyn ImageValues,
) -> Result<Vec<Manifest>> {
    let table = functions();
    let image = |n: &str| images.image(n);
    let tag = |n: &str| images.tag(n);
    let methods = files_method;
    let mut root = match &ctx.root {
        Value::Map(m) => m.to_map(),
        _ => BTreeMap::new(),
    };
    let base = name.rsplit_once("/templates/").map_or(name, |(b, _)| b);
    root.insert(
        "Template".into(),
        Value::from_json(
            &serde_json::json!({"Name": name, "BasePath": format!("{base}/templates")}),
        ),
    );
    // `.Template` makes a new root map, which holds the placeholders as the shared root does.
    let root = Value::map(root);
    let mut containers = ctx.containers.clone();
    containers.push(root.clone());
    let mut exec = Exec::new(set, table);
    exec.nil_field_is_error = true;
    exec.methods = Some(&methods);
    exec.lazy(placeholders.image.clone(), &image, &containers);
    exec.lazy(placeholders.tag.clone(), &tag, &[]);
    let out = exec
        .render(name, &root)
        .map_err(|e| template_error(chart, e))?;
    let out = out.replace("<no value>", "");
    let file = source_file(chart, name);
    let mut manifests = Vec::new();
    for doc in split_documents(&out) {
        let parsed: serde_json::Value =
            serde_yaml_ng::from_str(&doc).map_err(|e| Error::Config {
                at: Location {
                    file: file.clone(),
                    line: e.location().map(|l| l.line()).unwrap_or(0),
                    column: 0,
                },
                message: format!("the rendered document is not valid YAML: {e}"),
            })?;
        let field = |p: &str| {
            parsed
                .pointer(p)
                .and_then(|k| k.as_str())
                .unwrap_or_default()
                .to_string()
        };
        manifests.push(Manifest {
            source: name.to_string(),
            kind: field("/kind"),
            name: field("/metadata/name"),
            text: doc,
        });
    }
    Ok(manifests)
}

/// Sorts manifests into Helm's install order (kinds first, then file order).
pub fn install_order(manifests: &mut [Manifest]) {
    manifests.sort_by_key(|m| {
        INSTALL_ORDER
            .iter()
            .position(|k| *k == m.kind)
            .unwrap_or(INSTALL_ORDER.len())
    });
}

/// The repository path of template `name` (`root/charts/sub/templates/x.yaml`).
fn source_file(chart: &Chart, name: &str) -> String {
    let rel = name
        .strip_prefix(&format!("{}/", chart.path))
        .unwrap_or(name);
    join(&chart.dir, rel)
}

fn template_error(chart: &Chart, e: gotemplate::Error) -> Error {
    Error::Config {
        at: Location {
            file: source_file(chart, &e.template),
            line: e.pos.line,
            column: e.pos.col,
        },
        message: e.message,
    }
}

/// Non-empty YAML documents of a rendered template (split on `---` lines, comments-only dropped).
fn split_documents(text: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut push = |doc: &mut String| {
        let has_content = doc
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        if has_content {
            // As Helm: each document is trimmed of surrounding whitespace, then ends with one
            // newline, which a literal block scalar at its end keeps (`data: |`).
            let mut trimmed = doc.trim().to_string();
            trimmed.push('\n');
            docs.push(trimmed);
        }
        doc.clear();
    };
    for line in text.lines() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            push(&mut current);
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    push(&mut current);
    docs
}

/// Helm's `helm template` output: each document after `---` and its `# Source:` line.
pub fn to_stream(manifests: &[Manifest]) -> String {
    let mut out = String::new();
    for m in manifests {
        out.push_str("---\n# Source: ");
        out.push_str(&m.source);
        out.push('\n');
        out.push_str(&m.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_scalar_at_the_end_of_a_document_keeps_its_newline() {
        let docs = split_documents(
            "# a comment\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  a: |\n    hello\n---\n\n  \nkind: B\ndata:\n  b: |\n    last",
        );
        assert_eq!(docs.len(), 2, "{docs:?}");
        for (doc, key, want) in [(&docs[0], "a", "hello\n"), (&docs[1], "b", "last\n")] {
            let v: serde_json::Value = serde_yaml_ng::from_str(doc).expect("yaml");
            assert_eq!(v["data"][key], want, "{doc:?}");
        }
    }
}
