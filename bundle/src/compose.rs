//! A project's chart made into a bundle's (pure): `Chart.yaml` at the bundle's version,
//! `values.yaml` with the publish's values and werf's service values (project, repository, each
//! image's reference) merged in, the dependencies `Chart.lock` pinned packaged into `charts/`,
//! and every other file (werf's encrypted `secret-values.yaml` and `secret/` included, still
//! encrypted) as it is.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value as Json};
use werf_graph::chart::standalone::{service_values, Service};
use werf_graph::chart::Chart;

/// A chart's files by chart-relative path.
pub type Files = BTreeMap<String, Arc<[u8]>>;

/// What a bundle is made of.
pub struct Parts<'a> {
    /// The chart folder's files, chart-relative, as the loader read them.
    pub files: BTreeMap<String, Arc<[u8]>>,
    /// The same chart, loaded (its metadata and default values).
    pub chart: &'a Chart,
    /// The values the publish was given (`--values`, `--set`...), merged in order.
    pub user: Map<String, Json>,
    pub service: Service,
    /// Fetched dependencies by archive name (`NAME-VERSION.tgz`).
    pub dependencies: BTreeMap<String, Arc<[u8]>>,
    /// The chart version ([`crate::version::chart_version`]).
    pub version: String,
}

/// The bundle's files.
pub fn bundle_files(parts: Parts<'_>) -> BTreeMap<String, Arc<[u8]>> {
    let mut files = parts.files;
    let mut meta = match &parts.chart.meta {
        Json::Object(m) => m.clone(),
        _ => Map::new(),
    };
    meta.insert("version".into(), Json::String(parts.version));
    files.insert("Chart.yaml".into(), yaml(&Json::Object(meta)));

    let mut values = parts.chart.values.clone();
    merge(&mut values, parts.user);
    let mut werf = Map::new();
    if let Json::Object(s) = service_values(&parts.service) {
        werf = s;
    }
    merge(
        &mut values,
        [("werf".to_string(), Json::Object(werf))]
            .into_iter()
            .collect(),
    );
    files.insert("values.yaml".into(), yaml(&Json::Object(values)));

    for (name, data) in parts.dependencies {
        files.insert(format!("charts/{name}"), data);
    }
    files
}

/// Values merged as Helm merges values files: maps key by key, anything else replaced.
pub fn merge(base: &mut Map<String, Json>, over: Map<String, Json>) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Json::Object(b)), Json::Object(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn yaml(v: &Json) -> Arc<[u8]> {
    let text = gotemplate::yaml::emit::to_yaml(&werf_graph::chart::context::typed(v));
    Arc::from(text.into_bytes())
}

/// The bundle's files with every image reference moved to `repo` (same tags), and
/// `werf.repo` with them: what a copy to another repository publishes. Returns the files and
/// the references' moves (from, to).
pub fn retarget(
    chart: &Chart,
    files: &BTreeMap<String, Arc<[u8]>>,
    repo: &str,
    version: &str,
) -> Result<(Files, Vec<(String, String)>), String> {
    let service = werf_graph::chart::standalone::service_of(&chart.values)?;
    let mut moves = Vec::new();
    let mut images = BTreeMap::new();
    for (name, reference) in &service.images {
        let tag = werf_graph::chart::standalone::tag_of(reference).ok_or_else(|| {
            format!("`.Values.werf.image.{name}` = `{reference}` has no tag to copy by")
        })?;
        let to = format!("{repo}:{tag}");
        moves.push((reference.clone(), to.clone()));
        images.insert(name.clone(), to);
    }
    let moved = Service {
        project: service.project,
        repo: repo.to_string(),
        images,
    };
    let mut values = chart.values.clone();
    if let Json::Object(s) = service_values(&moved) {
        merge(
            &mut values,
            [("werf".to_string(), Json::Object(s))]
                .into_iter()
                .collect(),
        );
    }
    let mut out = files.clone();
    out.insert("values.yaml".into(), yaml(&Json::Object(values)));
    let mut meta = match &chart.meta {
        Json::Object(m) => m.clone(),
        _ => Map::new(),
    };
    meta.insert("version".into(), Json::String(version.to_string()));
    out.insert("Chart.yaml".into(), yaml(&Json::Object(meta)));
    Ok((out, moves))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> BTreeMap<String, Arc<[u8]>> {
        list.iter()
            .map(|(p, t)| (p.to_string(), Arc::from(t.as_bytes())))
            .collect()
    }

    #[test]
    fn values_merge_the_publish_s_and_werf_s_and_secrets_stay_encrypted() {
        let f = files(&[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.1.0\n"),
            ("values.yaml", "replicas: 1\nconf:\n  a: 1\n  b: 2\n"),
            ("secret-values.yaml", "password: 1000abcdef\n"),
            ("templates/d.yaml", "kind: X\n"),
        ]);
        let chart = werf_graph::chart::load::from_files(".helm", f.clone()).unwrap();
        let dep = crate::package::to_tgz(
            "dep",
            &files(&[("Chart.yaml", "apiVersion: v2\nname: dep\nversion: 1.0.0\n")]),
        )
        .unwrap();
        let user: Map<String, Json> =
            serde_json::from_str(r#"{"conf":{"b":3},"extra":"x"}"#).unwrap();
        let out = bundle_files(Parts {
            files: f,
            chart: &chart,
            user,
            service: Service {
                project: "proj".into(),
                repo: "r.example/proj".into(),
                images: [("api".to_string(), "r.example/proj:t1".to_string())].into(),
            },
            dependencies: [("dep-1.0.0.tgz".to_string(), Arc::from(dep.clone()))].into(),
            version: "1.2.3".into(),
        });
        let back = werf_graph::chart::load::from_files("b", out.clone()).unwrap();
        assert_eq!(back.meta["version"], "1.2.3");
        assert_eq!(back.values["replicas"], 1.0);
        assert_eq!(back.values["conf"]["a"], 1.0);
        assert_eq!(back.values["conf"]["b"], 3.0);
        assert_eq!(back.values["extra"], "x");
        assert_eq!(back.values["werf"]["image"]["api"], "r.example/proj:t1");
        assert_eq!(back.values["werf"]["tag"]["api"], "t1");
        assert_eq!(back.values["werf"]["repo"], "r.example/proj");
        assert_eq!(&*out["secret-values.yaml"], b"password: 1000abcdef\n");
        assert_eq!(&*out["charts/dep-1.0.0.tgz"], &dep[..]);
        assert_eq!(back.subcharts[0].name, "dep");

        let (moved, moves) = retarget(&back, &out, "other.example/p2", "1.2.3").unwrap();
        assert_eq!(
            moves,
            [(
                "r.example/proj:t1".to_string(),
                "other.example/p2:t1".to_string()
            )]
        );
        let again = werf_graph::chart::load::from_files("b", moved).unwrap();
        assert_eq!(again.values["werf"]["image"]["api"], "other.example/p2:t1");
        assert_eq!(again.values["werf"]["repo"], "other.example/p2");
        assert_eq!(again.values["conf"]["b"], 3.0);
    }
}
