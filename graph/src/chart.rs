//! Helm charts from a commit: `Chart.yaml`, values (`values.yaml`, `values-ENV.yaml`, extra files,
//! `--set`), werf's image values, and rendering into manifests in Helm's order.

use std::collections::BTreeMap;

use crate::context::{entries_below, lookup, read_text};
use crate::error::{Error, Location, Result};
use crate::objects::{EntryKind, ObjectId, ObjectSource};
use crate::pattern::join;
use crate::template::{exec::Exec, funcs, Set, Value};

/// A rendered document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// `CHART/templates/FILE` (the `# Source:` line).
    pub source: String,
    pub kind: String,
    pub name: String,
    pub text: String,
}

/// What a render needs besides the chart's files.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    pub release: String,
    pub namespace: String,
    pub env: Option<String>,
    /// Extra values documents (`--values`), in order, as (file name, text).
    pub values_files: Vec<(String, String)>,
    /// `--set` / `--set-string` (`a.b=c`), in order; `true` when the value stays a string.
    pub set: Vec<(String, bool)>,
    /// werf's values (`werf.image.NAME` ...), merged under `werf` and `global.werf`.
    pub werf: serde_json::Value,
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
    serde_yaml_ng::from_str::<serde_json::Value>(text).map_err(|e| Error::Config {
        at: Location {
            file: file.to_string(),
            line: e.location().map(|l| l.line()).unwrap_or(0),
            column: e.location().map(|l| l.column()).unwrap_or(0),
        },
        message: e.to_string(),
    })
}

/// Applies one `--set` expression (`a.b=c,d=e`); values are typed as Helm types them unless
/// `as_string`.
pub fn apply_set(
    values: &mut serde_json::Value,
    expr: &str,
    as_string: bool,
) -> std::result::Result<(), String> {
    for part in expr.split(',') {
        let (path, raw) = part
            .split_once('=')
            .ok_or_else(|| format!("`--set {expr}`: expected `key=value`"))?;
        let value = if as_string {
            serde_json::Value::String(raw.to_string())
        } else if raw == "true" || raw == "false" {
            serde_json::Value::Bool(raw == "true")
        } else if raw == "null" {
            serde_json::Value::Null
        } else if let Ok(i) = raw.parse::<i64>() {
            serde_json::Value::from(i)
        } else {
            serde_json::Value::String(raw.to_string())
        };
        let mut over = value;
        for key in path.rsplit('.') {
            if key.is_empty() {
                return Err(format!("`--set {expr}`: empty key in `{path}`"));
            }
            over = serde_json::json!({ key: over });
        }
        merge(values, over);
    }
    Ok(())
}

/// Renders the chart at `chart_dir` (repository-relative) of the tree `root`.
pub fn render(
    objects: &dyn ObjectSource,
    root: ObjectId,
    chart_dir: &str,
    options: &RenderOptions,
) -> Result<Vec<Manifest>> {
    let missing = |what: &str, path: String| Error::MissingPath {
        at: Location {
            file: path.clone(),
            line: 0,
            column: 0,
        },
        what: what.into(),
        path,
        hint: None,
    };
    let chart_tree = match lookup(objects, root, chart_dir)? {
        Some(e) if e.kind == EntryKind::Tree => e.id,
        _ => return Err(missing("chart folder", chart_dir.to_string())),
    };
    let read = |rel: &str| -> Result<Option<String>> {
        match lookup(objects, chart_tree, rel)? {
            Some(e) if e.kind.is_file() => Ok(Some(
                read_text(objects, e.id, &join(chart_dir, rel))?.to_string(),
            )),
            _ => Ok(None),
        }
    };
    let chart_file = join(chart_dir, "Chart.yaml");
    let chart_yaml =
        read("Chart.yaml")?.ok_or_else(|| missing("chart file", chart_file.clone()))?;
    let chart_meta = yaml_doc(&chart_file, &chart_yaml)?;
    let chart_name = chart_meta
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or("chart")
        .to_string();

    let mut values = yaml_doc(
        &join(chart_dir, "values.yaml"),
        &read("values.yaml")?.unwrap_or_default(),
    )?;
    if let Some(env) = &options.env {
        let file = format!("values-{env}.yaml");
        if let Some(text) = read(&file)? {
            merge(&mut values, yaml_doc(&join(chart_dir, &file), &text)?);
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
    merge(
        &mut values,
        serde_json::json!({ "werf": options.werf.clone(), "global": { "werf": options.werf.clone() } }),
    );

    // Helm's capitalised chart metadata.
    let meta_field = |k: &str| {
        chart_meta
            .get(k)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    };
    let chart = serde_json::json!({
        "Name": chart_name, "Version": meta_field("version"), "AppVersion": meta_field("appVersion"),
        "Description": meta_field("description"), "Type": meta_field("type"), "APIVersion": meta_field("apiVersion"),
    });
    // The root is built once; each template gets it plus its own `.Template` (values are shared).
    let Value::Map(base) = Value::from_json(&serde_json::json!({
        "Values": values,
        "Chart": chart,
        "Release": {"Name": options.release, "Namespace": options.namespace, "Revision": 1, "IsInstall": true, "IsUpgrade": false, "Service": "Helm"},
        "Capabilities": {"KubeVersion": {"Version": "v1.20.2", "Major": "1", "Minor": "20", "GitVersion": "v1.20.2"},
                         "APIVersions": ["v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "coordination.k8s.io/v1"]},
    })) else {
        unreachable!("a JSON object converts to a map")
    };
    let root_value = |template: &str| {
        let mut m = (*base).clone();
        m.insert(
            "Template".into(),
            Value::from_json(&serde_json::json!({"Name": template, "BasePath": format!("{chart_name}/templates")})),
        );
        Value::map(m)
    };

    let mut files = Vec::new();
    if let Some(t) = lookup(objects, chart_tree, "templates")?.filter(|e| e.kind == EntryKind::Tree)
    {
        files = entries_below(objects, t.id, "templates")?
            .into_iter()
            .filter(|(_, e)| e.kind.is_file())
            .map(|(path, e)| (path, e.id))
            .collect();
    }
    let table = std::sync::Arc::new(funcs::builtins());
    let mut set = Set::with_functions(table.clone());
    let mut renderable = Vec::new();
    for (rel, id) in &files {
        let base = rel.rsplit('/').next().unwrap_or(rel);
        let is_template = rel.ends_with(".yaml")
            || rel.ends_with(".yml")
            || rel.ends_with(".tpl")
            || rel.ends_with(".json");
        if !is_template || base == "NOTES.txt" {
            continue;
        }
        let name = format!("{chart_name}/{rel}");
        let text = read_text(objects, *id, &join(chart_dir, rel))?;
        set.parse(&name, &text)
            .map_err(|e| template_error(chart_dir, &chart_name, e))?;
        if !base.starts_with('_') && !rel.ends_with(".tpl") {
            renderable.push(name);
        }
    }
    let mut manifests = Vec::new();
    for name in renderable {
        let mut exec = Exec::new(&set, &table);
        exec.nil_field_is_error = true;
        let out = exec
            .render(&name, &root_value(&name))
            .map_err(|e| template_error(chart_dir, &chart_name, e))?;
        let out = out.replace("<no value>", "");
        for doc in split_documents(&out) {
            let parsed: serde_json::Value =
                serde_yaml_ng::from_str(&doc).map_err(|e| Error::Config {
                    at: Location {
                        file: join(
                            chart_dir,
                            name.trim_start_matches(&format!("{chart_name}/")),
                        ),
                        line: e.location().map(|l| l.line()).unwrap_or(0),
                        column: 0,
                    },
                    message: format!("the rendered document is not valid YAML: {e}"),
                })?;
            let kind = parsed
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or_default()
                .to_string();
            let mname = parsed
                .pointer("/metadata/name")
                .and_then(|k| k.as_str())
                .unwrap_or_default()
                .to_string();
            manifests.push(Manifest {
                source: name.clone(),
                kind,
                name: mname,
                text: doc,
            });
        }
    }
    manifests.sort_by_key(|m| {
        INSTALL_ORDER
            .iter()
            .position(|k| *k == m.kind)
            .unwrap_or(INSTALL_ORDER.len())
    });
    Ok(manifests)
}

fn template_error(chart_dir: &str, chart_name: &str, e: crate::template::Error) -> Error {
    let rel = e
        .template
        .strip_prefix(&format!("{chart_name}/"))
        .unwrap_or(&e.template);
    Error::Config {
        at: Location {
            file: join(chart_dir, rel),
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
            docs.push(doc.trim_matches('\n').to_string());
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
        out.push('\n');
    }
    out
}

/// werf's values for a chart: image references by image name, and the rest of `.Values.werf`.
pub fn werf_values(
    project: &str,
    env: Option<&str>,
    namespace: &str,
    repo: Option<&str>,
    tags: &BTreeMap<String, String>,
) -> serde_json::Value {
    let repo_value = repo.unwrap_or("REPO");
    let images: serde_json::Map<String, serde_json::Value> = tags
        .iter()
        .map(|(n, t)| (n.clone(), format!("{repo_value}:{t}").into()))
        .collect();
    let tag_map: serde_json::Map<String, serde_json::Value> = tags
        .iter()
        .map(|(n, t)| (n.clone(), t.clone().into()))
        .collect();
    serde_json::json!({
        "name": project, "env": env.unwrap_or_default(), "namespace": namespace, "repo": repo_value,
        "image": images, "tag": tag_map,
    })
}
