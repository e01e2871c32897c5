//! From templates to manifests, as Helm 4 does it: every template of the enabled charts parsed
//! into one set in Helm's order (deeper charts first, so a parent's `define` wins), each
//! rendering template's text split into documents with Helm 4's rule for v2 charts, documents
//! sorted into Helm's install order with hooks apart, and the `helm template` stream.

use std::sync::Arc;

use gotemplate::exec::Exec;
use gotemplate::yaml::load::Numbers;
use gotemplate::{Set, Value};

use super::context::{ChartContext, Placeholders, RenderHost};
use super::{chart_error, Manifest};
use crate::error::{Error, Location, Result};
use crate::pattern::join;

/// One template of an enabled chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// `root/charts/sub/templates/x.yaml`.
    pub name: String,
    /// The file it came from (repository-relative; inside a packaged subchart, below the
    /// archive's path).
    pub file: String,
    pub text: Arc<str>,
    /// It produces manifests (not a partial, not `NOTES.txt`, not in a library chart).
    pub renders: bool,
}

/// Helm's install order of kinds; other kinds come after, by kind name.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
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
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The hook events Helm knows; a hook naming another is dropped, as Helm drops it.
const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

/// The templates of the enabled charts, in Helm's parse order: more `/` first, then names in
/// reverse order (so among equals the first name is parsed last and its defines win).
pub fn templates(contexts: &[ChartContext]) -> Vec<Template> {
    let mut out = Vec::new();
    for ctx in contexts {
        let library = ctx.chart.is_library();
        for (rel, text) in &ctx.chart.templates {
            let base = rel.rsplit('/').next().unwrap_or(rel);
            let partial = base.starts_with('_');
            if library && !partial {
                continue;
            }
            out.push(Template {
                name: format!("{}/{rel}", ctx.path),
                file: join(&ctx.chart.dir, rel),
                text: text.clone(),
                renders: !partial && !rel.ends_with("NOTES.txt"),
            });
        }
    }
    out.sort_by(|a, b| {
        let depth = |t: &Template| t.name.matches('/').count();
        depth(b).cmp(&depth(a)).then_with(|| b.name.cmp(&a.name))
    });
    out
}

/// Every template parsed into one set (defines are shared, as in Helm).
pub fn template_set(templates: &[Template]) -> Result<Set> {
    let mut set = Set::with_functions(super::funcs::functions().clone());
    for t in templates {
        set.parse(&t.name, &t.text)
            .map_err(|e| template_error(templates, e))?;
    }
    Ok(set)
}

/// The templates that produce manifests, in Helm's order (file paths sorted).
pub fn renderable(templates: &[Template]) -> Vec<&str> {
    let mut out: Vec<&str> = templates
        .iter()
        .filter(|t| t.renders)
        .map(|t| t.name.as_str())
        .collect();
    out.sort_unstable();
    out
}

fn template_error(templates: &[Template], e: gotemplate::Error) -> Error {
    let file = templates
        .iter()
        .find(|t| t.name == e.template)
        .map_or_else(|| e.template.clone(), |t| t.file.clone());
    Error::Config {
        at: Location {
            file,
            line: e.pos.line,
            column: e.column().unwrap_or(0),
        },
        message: e.message,
    }
}

/// Renders template `name` in `ctx` into its documents; image values come from `images` on
/// read.
pub fn render_template(
    templates: &[Template],
    set: &Set,
    name: &str,
    ctx: &ChartContext,
    placeholders: &Placeholders,
    images: &dyn RenderHost,
) -> Result<Vec<Manifest>> {
    let out = render_text(templates, set, name, ctx, placeholders, images)?;
    let file = templates
        .iter()
        .find(|t| t.name == name)
        .map_or_else(|| name.to_string(), |t| t.file.clone());
    let mut manifests = Vec::new();
    for doc in split_documents(&out) {
        // Integers as written: the object is what a deploy applies (the API server types
        // numbers itself); kind, name and hook read the same in either number mode.
        let head = gotemplate::yaml::load::load_with(&doc, Numbers::AsWritten)
            .map_err(|e| chart_error(&file, 0, 0, format!("YAML parse error on {name}: {e}")))?;
        let text_at = |p: &str| {
            head.pointer(p)
                .and_then(|k| k.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let hook = head.pointer("/metadata/annotations/helm.sh~1hook");
        if let Some(events) = hook {
            let events = events.as_str().unwrap_or_default();
            let known = events
                .split(',')
                .all(|e| HOOK_EVENTS.contains(&e.trim().to_lowercase().as_str()));
            if !known {
                continue;
            }
        }
        manifests.push(Manifest {
            source: name.to_string(),
            kind: text_at("/kind"),
            name: text_at("/metadata/name"),
            text: doc,
            hook: hook.is_some(),
            object: Arc::new(head),
        });
    }
    Ok(manifests)
}

/// The text template `name` renders (Helm's: `<no value>` printed as nothing), for a manifest
/// template and for `NOTES.txt` alike.
pub fn render_text(
    templates: &[Template],
    set: &Set,
    name: &str,
    ctx: &ChartContext,
    placeholders: &Placeholders,
    images: &dyn RenderHost,
) -> Result<String> {
    let table = super::funcs::functions();
    let image = |n: &str| images.image(n);
    let tag = |n: &str| images.tag(n);
    let api_versions = ctx.api_versions.clone();
    let methods = move |kind: &str, receiver: &Value, method: &str, args: &[Value]| {
        super::objects::method(&api_versions, kind, receiver, method, args)
    };
    let mut root = match &ctx.root {
        Value::Map(m) => m.to_map(),
        _ => Default::default(),
    };
    let base = name.rsplit_once("/templates/").map_or(name, |(b, _)| b);
    root.insert(
        "Template".into(),
        Value::map(
            [
                ("Name".to_string(), Value::Str(name.to_string())),
                (
                    "BasePath".to_string(),
                    Value::Str(format!("{base}/templates")),
                ),
            ]
            .into_iter()
            .collect(),
        ),
    );
    // `.Template` makes a new root map, which holds the placeholders as the shared root does.
    let root = Value::map(root);
    let mut containers = ctx.containers.clone();
    containers.push(root.clone());
    let mut exec = Exec::new(set, table);
    exec.nil_field_is_error = true;
    exec.methods = Some(&methods);
    let run_functions = |name: &str, args: &[Value]| match name {
        "lookup" => Some(images.lookup(args)),
        "werf_secret_file" => Some(images.secret_file(args)),
        _ => None,
    };
    exec.run_functions = Some(&run_functions);
    exec.lazy(placeholders.image.clone(), &image, &containers);
    exec.lazy(placeholders.tag.clone(), &tag, &[]);
    let out = exec
        .render(name, &root)
        .map_err(|e| template_error(templates, e))?;
    let out = out.replace("<no value>", "");
    Ok(out)
}

/// The notes template of the top chart (`CHART/templates/NOTES.txt`), when it has one: what
/// Helm renders into the release's notes (subcharts' notes are not, as Helm's default).
pub fn notes_template<'t>(templates: &'t [Template], top: &str) -> Option<&'t Template> {
    let name = format!("{top}/templates/NOTES.txt");
    templates.iter().find(|t| t.name == name)
}

/// Helm 4's `SplitManifests` for v2 charts: the text with leading space trimmed, split on the
/// separator `(?:^|\s*\n)---\s*`, blank pieces dropped, each piece with leading space trimmed
/// (trailing space is kept, so a block scalar at the end keeps its newline).
pub fn split_documents(text: &str) -> Vec<String> {
    static SEP: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let sep = SEP.get_or_init(|| {
        regex::Regex::new(r"(?:^|[\t\n\x0C\r ]*\n)---[\t\n\x0C\r ]*").expect("a valid pattern")
    });
    sep.split(text.trim_start())
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.trim_start().to_string())
        .collect()
}

/// Sorts manifests as Helm does: manifests before hooks, each by Helm's kind order (unknown
/// kinds last, by kind name), keeping file order among equals.
pub fn install_order(manifests: &mut [Manifest]) {
    manifests.sort_by(|a, b| {
        let rank = |m: &Manifest| {
            INSTALL_ORDER
                .iter()
                .position(|k| *k == m.kind)
                .unwrap_or(INSTALL_ORDER.len())
        };
        a.hook
            .cmp(&b.hook)
            .then_with(|| rank(a).cmp(&rank(b)))
            .then_with(|| {
                if rank(a) == INSTALL_ORDER.len() {
                    a.kind.cmp(&b.kind)
                } else {
                    std::cmp::Ordering::Equal
                }
            })
    });
}

/// The custom resource definitions of the enabled charts (`crds/*.yaml|yml|json`, parents first,
/// files in path order), as (file, document) pairs: installed before the release, never
/// templated, never pruned, as Helm does with them.
pub fn crds(contexts: &[ChartContext]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for ctx in contexts {
        for (rel, data) in &ctx.chart.files {
            let manifest = [".yaml", ".yml", ".json"].iter().any(|e| rel.ends_with(e));
            if rel.starts_with("crds/") && manifest {
                let text = String::from_utf8_lossy(data);
                for doc in split_documents(&text) {
                    out.push((join(&ctx.chart.dir, rel), doc));
                }
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_as_helm_4_splits_them() {
        // The pieces Helm 4 printed for the same text (tests/charts/output).
        let docs = split_documents(
            "# only a comment\n---\napiVersion: v1\nkind: Service\n---\n\n---\napiVersion: v1\ndata:\n  a: |\n    x\n",
        );
        assert_eq!(
            docs,
            [
                "# only a comment",
                "apiVersion: v1\nkind: Service",
                "---\napiVersion: v1\ndata:\n  a: |\n    x\n",
            ]
        );
        assert_eq!(split_documents("---apiVersion: v1\n"), ["apiVersion: v1\n"]);
        assert!(split_documents("\n \n\t").is_empty());
    }
}
