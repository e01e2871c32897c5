//! A chart rendered on its own, outside the graph: a bundle's chart, whose image references are
//! values it carries (`werf.image.NAME`), not tags a Git commit computes. The same steps as the
//! memoized render ([`crate::render`]), run once.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::Value;
use serde_json::Value as Json;

use super::output::Template;
use super::RenderOptions;
use super::{output, Chart, ChartContext, Cluster, Manifest, Placeholders, RenderHost};
use crate::error::Result;

/// What a standalone chart knows of werf: the project's name, the repository its images were
/// published to, and each image's reference (`REPO:TAG`) by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Service {
    pub project: String,
    pub repo: String,
    pub images: BTreeMap<String, String>,
}

/// A standalone chart made ready for one set of options: its contexts and templates.
pub struct Prepared {
    placeholders: Placeholders,
    contexts: Vec<ChartContext>,
    templates: Vec<Template>,
    set: gotemplate::Set,
    host: Host,
}

/// Image values from the references the chart carries; `lookup` reads the cluster.
struct Host {
    images: BTreeMap<String, String>,
    cluster: Cluster,
    secret_files: BTreeMap<String, String>,
}

impl RenderHost for Host {
    fn image(&self, name: &str) -> Value {
        self.images
            .get(name)
            .map_or(Value::Nil, |r| Value::Str(r.clone()))
    }

    fn tag(&self, name: &str) -> Value {
        self.images
            .get(name)
            .and_then(|r| tag_of(r))
            .map_or(Value::Nil, |t| Value::Str(t.to_string()))
    }

    fn lookup(&self, args: &[Value]) -> std::result::Result<Value, gotemplate::FuncError> {
        self.cluster.lookup(args)
    }

    fn secret_file(&self, args: &[Value]) -> std::result::Result<Value, gotemplate::FuncError> {
        super::context::secret_file(&self.secret_files, args)
    }
}

/// The tag of a reference `HOST/PATH:TAG` (none after a digest or without a tag).
pub fn tag_of(reference: &str) -> Option<&str> {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if last.contains('@') {
        return None;
    }
    last.rsplit_once(':').map(|(_, t)| t)
}

/// Prepares `chart` for `options`, with `service`'s values as `.Values.werf` (the command line's
/// namespace and environment beside them).
pub fn prepare(
    chart: &Arc<Chart>,
    service: &Service,
    options: &RenderOptions,
    cluster: Cluster,
) -> Result<Prepared> {
    let chart = if options.dependency_archives.is_empty() {
        chart.clone()
    } else {
        Arc::new(super::load::with_archives(
            chart,
            &options.dependency_archives,
        )?)
    };
    let names: Vec<String> = service.images.keys().cloned().collect();
    let placeholders = Placeholders::new(&names);
    let user = super::user_values(&chart, options)?;
    let werf = serde_json::json!({
        "name": service.project,
        "env": options.env.clone().unwrap_or_default(),
        "namespace": options.namespace,
        "repo": service.repo,
    });
    let contexts = super::contexts(&chart, user, werf, &placeholders, options)?;
    let templates = output::templates(&contexts);
    let set = output::template_set(&templates)?;
    Ok(Prepared {
        placeholders,
        contexts,
        templates,
        set,
        host: Host {
            images: service.images.clone(),
            cluster,
            secret_files: options.secret_files.clone(),
        },
    })
}

impl Prepared {
    /// The chart's context for template `name` (the deepest chart whose templates hold it).
    fn context_of(&self, name: &str) -> Option<&ChartContext> {
        self.contexts
            .iter()
            .filter(|c| name.starts_with(&format!("{}/templates/", c.path)))
            .max_by_key(|c| c.path.len())
    }

    /// Every manifest, in Helm's install order (a failing `NOTES.txt` fails it, as in Helm).
    pub fn manifests(&self) -> Result<Vec<Manifest>> {
        self.notes()?;
        let mut manifests = Vec::new();
        for name in output::renderable(&self.templates) {
            let Some(ctx) = self.context_of(name) else {
                continue;
            };
            manifests.extend(output::render_template(
                &self.templates,
                &self.set,
                name,
                ctx,
                &self.placeholders,
                &self.host,
            )?);
        }
        output::install_order(&mut manifests);
        Ok(manifests)
    }

    /// The top chart's `NOTES.txt` rendered (every chart's is rendered, as Helm does).
    pub fn notes(&self) -> Result<String> {
        let mut kept = String::new();
        let top = self.contexts.iter().min_by_key(|c| c.path.len());
        for ctx in &self.contexts {
            let Some(t) = output::notes_template(&self.templates, &ctx.path) else {
                continue;
            };
            let text = output::render_text(
                &self.templates,
                &self.set,
                &t.name,
                ctx,
                &self.placeholders,
                &self.host,
            )?;
            if top.is_some_and(|top| top.path == ctx.path) {
                kept = text;
            }
        }
        Ok(kept)
    }

    /// The enabled charts' custom resource definitions (`crds/`).
    pub fn crds(&self) -> Vec<(String, String)> {
        output::crds(&self.contexts)
    }
}

/// werf's service values a bundle carries in its `values.yaml`: `werf.name`, `werf.repo`,
/// `werf.image.NAME` (with `werf.tag.NAME` derived).
pub fn service_values(service: &Service) -> Json {
    let tags: serde_json::Map<String, Json> = service
        .images
        .iter()
        .filter_map(|(n, r)| tag_of(r).map(|t| (n.clone(), Json::String(t.to_string()))))
        .collect();
    serde_json::json!({
        "name": service.project,
        "repo": service.repo,
        "image": service.images,
        "tag": tags,
    })
}

/// werf's service values read back from a bundle's chart values (`werf.image.NAME` must be
/// strings).
pub fn service_of(values: &serde_json::Map<String, Json>) -> std::result::Result<Service, String> {
    let Some(werf) = values.get("werf") else {
        return Ok(Service::default());
    };
    let Json::Object(werf) = werf else {
        return Err("`.Values.werf` is not a map".into());
    };
    let text = |k: &str| werf.get(k).and_then(Json::as_str).unwrap_or_default();
    let mut images = BTreeMap::new();
    match werf.get("image") {
        None | Some(Json::Null) => {}
        Some(Json::Object(m)) => {
            for (name, v) in m {
                let Json::String(r) = v else {
                    return Err(format!("`.Values.werf.image.{name}` is not a string: {v}"));
                };
                images.insert(name.clone(), r.clone());
            }
        }
        Some(other) => return Err(format!("`.Values.werf.image` is not a map: {other}")),
    }
    Ok(Service {
        project: text("name").to_string(),
        repo: text("repo").to_string(),
        images,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(files: &[(&str, &str)]) -> Arc<Chart> {
        let files = files
            .iter()
            .map(|(n, t)| (n.to_string(), Arc::from(t.as_bytes())))
            .collect();
        Arc::new(super::super::load::from_files("bundle", files).expect("chart"))
    }

    #[test]
    fn image_values_tags_and_werf_image_come_from_the_carried_references() {
        let c = chart(&[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
            ("values.yaml", "werf:\n  image:\n    api: r.example/p:abc\n"),
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: {{ .Values.werf.image.api }}\n  t: {{ .Values.werf.tag.api }}\n  f: {{ werf_image (tuple \"api\" $) }}\n  ns: {{ .Values.werf.namespace }}\n  r: {{ .Values.werf.repo }}\n",
            ),
            ("templates/NOTES.txt", "image {{ .Values.werf.image.api }}"),
        ]);
        let values = c.values.clone();
        let service = Service {
            repo: "r.example/p".into(),
            ..service_of(&values).expect("service")
        };
        let options = RenderOptions {
            release: "rel".into(),
            namespace: "ns1".into(),
            ..Default::default()
        };
        let p = prepare(&c, &service, &options, Cluster::offline()).expect("prepare");
        let m = p.manifests().expect("render");
        assert_eq!(m.len(), 1);
        assert!(m[0].text.contains("v: r.example/p:abc"), "{}", m[0].text);
        assert!(m[0].text.contains("t: abc"), "{}", m[0].text);
        assert!(m[0].text.contains("f: r.example/p:abc"), "{}", m[0].text);
        assert!(m[0].text.contains("ns: ns1"), "{}", m[0].text);
        assert!(m[0].text.contains("r: r.example/p\n"), "{}", m[0].text);
        assert_eq!(p.notes().expect("notes"), "image r.example/p:abc");
    }

    #[test]
    fn service_values_round_trip_and_bad_ones_are_named() {
        let s = Service {
            project: "p".into(),
            repo: "r/p".into(),
            images: [("a".to_string(), "r/p:t1".to_string())].into(),
        };
        let Json::Object(werf) = service_values(&s) else {
            panic!("a map")
        };
        assert_eq!(werf["tag"]["a"], "t1");
        let values: serde_json::Map<String, Json> = [("werf".to_string(), Json::Object(werf))]
            .into_iter()
            .collect();
        assert_eq!(service_of(&values).expect("read"), s);
        let bad: serde_json::Map<String, Json> =
            serde_json::from_str(r#"{"werf":{"image":{"a":1}}}"#).unwrap();
        assert!(service_of(&bad)
            .unwrap_err()
            .contains("`.Values.werf.image.a`"));
        assert_eq!(tag_of("h:5000/p@sha256:ab"), None);
        assert_eq!(tag_of("h:5000/p"), None);
        assert_eq!(tag_of("h:5000/p:t"), Some("t"));
    }
}
