//! `werf graph`: the whole converge graph (images, stages, files, chart, templates with the image
//! values each read, objects), registry state with `--repo`, and the JSON schema it follows.

use crate::registry::Registry;
use crate::support::Repo;

const WERF_YAML: &str = "project: view
configVersion: 1
---
image: app
context: app
dockerfile: Dockerfile
---
image: tool
from: alpine:3.19
git:
- add: /app
  to: /src
  stageDependencies:
    install: [x.txt]
shell:
  install: [ls /src]
";

fn project() -> Repo {
    let mut r = Repo::new(&[
        ("werf.yaml", WERF_YAML),
        ("app/Dockerfile", "FROM scratch\nCOPY x.txt /x.txt\n"),
        ("app/x.txt", "x\n"),
        (".helm/Chart.yaml", "apiVersion: v2\nname: view\nversion: 1.0.0\n"),
        (
            ".helm/templates/app.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n      - image: {{ .Values.werf.image.app }}\n",
        ),
        (
            ".helm/templates/plain.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  a: b\n",
        ),
        (
            ".helm/templates/looked.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: looked\ndata:\n  n: {{ len (lookup \"v1\" \"Secret\" \"\" \"\") | quote }}\n",
        ),
    ]);
    r.commit("init");
    r
}

fn json(r: &Repo, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["graph", "--format", "json"];
    args.extend_from_slice(extra);
    let out = r.werf(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn has_edge(g: &serde_json::Value, from: &str, to: &str, label: &str) -> bool {
    g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["from"] == from && e["to"] == to && e["label"] == label)
}

fn node<'a>(g: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id)
}

#[test]
fn the_graph_reaches_from_files_to_objects_and_follows_its_schema() {
    let r = project();
    let g = json(&r, &[]);
    // The schema in docs/ accepts it (and would refuse a node without a digest field).
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/graph.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator.iter_errors(&g).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let mut broken = g.clone();
    broken["nodes"][0].as_object_mut().unwrap().remove("digest");
    assert!(!validator.is_valid(&broken));

    // Files -> image -> template -> object.
    assert!(
        has_edge(&g, "stage:app#0", "tree:app", "COPY x.txt (line 2)")
            || has_edge(&g, "stage:app#0", "file:app/x.txt", "COPY x.txt (line 2)"),
        "{g:#}"
    );
    assert!(has_edge(
        &g,
        "template:view/templates/app.yaml",
        "image:app",
        "reads image values"
    ));
    assert!(has_edge(
        &g,
        "object:Deployment/app",
        "template:view/templates/app.yaml",
        "rendered by"
    ));
    assert!(has_edge(
        &g,
        "template:view/templates/app.yaml",
        "chart:.helm",
        "in chart"
    ));
    // A template that reads no image value depends on no image; one that calls lookup, on the
    // cluster.
    assert!(node(&g, "template:view/templates/plain.yaml").is_some());
    let plain_reads: Vec<&serde_json::Value> = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["from"] == "template:view/templates/plain.yaml" && e["label"] == "reads image values"
        })
        .collect();
    assert!(plain_reads.is_empty(), "{plain_reads:?}");
    assert!(has_edge(
        &g,
        "template:view/templates/looked.yaml",
        "cluster:lookup",
        "lookup"
    ));
    // A Stapel image's stages, down to its git mapping's selections.
    let install = "stage:tool/stapel-stage/install#0";
    assert!(has_edge(
        &g,
        "image:tool/stapel-stage/install",
        install,
        "target stage"
    ));
    let selection = node(&g, "selection:tool/stapel-stage/install:git-0-install")
        .expect("the install selection");
    assert_eq!(
        selection["label"],
        "git[0] `app`: the files `install` depends on"
    );

    // `--image app`: that image and only the templates reading it.
    let g = json(&r, &["--image", "app"]);
    assert!(node(&g, "template:view/templates/app.yaml").is_some());
    assert!(node(&g, "template:view/templates/plain.yaml").is_none());
    assert!(node(&g, "image:tool").is_none());
}

#[test]
fn with_a_repo_each_image_says_whether_the_registry_has_it() {
    let reg = Registry::start();
    let repo = reg.repo("view");
    let r = project();
    let out = r.werf(&["build", "--repo", &repo, "app"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let g = json(&r, &["--repo", &repo]);
    assert_eq!(node(&g, "image:app").unwrap()["state"], "in the registry");
    assert_eq!(
        node(&g, "image:tool").unwrap()["state"],
        "missing: would build"
    );
    let text = r.werf(&["graph", "--repo", &repo]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("[in the registry]"), "{text}");
    assert!(text.contains("object Deployment app"), "{text}");
}

#[test]
fn why_traces_an_object_back_to_the_file_edit_that_changed_it() {
    let mut r = project();
    // A plan to explain against (`build --dry-run` records it).
    let out = r.werf(&["build", "--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    r.write(&[("app/x.txt", "x, edited\n")]);
    r.commit("edit");
    // `build --dry-run --explain`: the same chain, against the last plan.
    let out = r.werf(&["build", "--dry-run", "--explain"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let app = text
        .split("\n\n")
        .find(|block| block.starts_with("app "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(app.contains("      app/x.txt modified"), "{app}");
    let why = |node: &str| {
        let out = r.werf(&["graph", "--why", node]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = why("object:Deployment/app");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("Deployment `app` changed: spec.template.spec.containers[0].image"),
        "{out}"
    );
    assert!(
        out.contains("rendered by `view/templates/app.yaml`"),
        "{out}"
    );
    assert!(
        out.contains("which reads the values of image `app`"),
        "{out}"
    );
    assert!(out.contains("app/x.txt modified"), "{out}");
    // The Stapel image through its stages, down to the same file (a repository path, not the
    // synthetic context's).
    let (code, out, err) = why("image:tool");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("because image `tool/stapel-stage/install` changed"),
        "{out}"
    );
    assert!(out.contains("        app/x.txt modified"), "{out}");
    // What the edit did not reach says so.
    let (_, out, _) = why("object:ConfigMap/plain");
    assert!(out.contains("ConfigMap `plain` is unchanged"), "{out}");
    let (code, _, err) = why("object:Secret/none");
    assert_eq!(code, Some(1));
    assert!(
        err.contains("the chart renders no `Secret` named `none`"),
        "{err}"
    );
}

#[test]
fn live_marks_each_object_as_plan_sees_it_in_the_cluster() {
    let c = crate::cluster::cluster();
    let kubeconfig = c.kubeconfig.display().to_string();
    let mut r = Repo::new(&[
        ("werf.yaml", "project: live-view\nconfigVersion: 1\n"),
        (
            ".helm/Chart.yaml",
            "apiVersion: v2\nname: live-view\nversion: 1.0.0\n",
        ),
        (
            ".helm/templates/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  v: \"1\"\n",
        ),
        (
            ".helm/templates/b.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  v: \"1\"\n",
        ),
    ]);
    r.commit("init");
    let ns = "graph-live";
    let target = [
        "--kube-config",
        &kubeconfig,
        "--namespace",
        ns,
        "--release",
        ns,
    ];
    let mut converge = vec!["converge"];
    converge.extend_from_slice(&target);
    let out = r.werf(&converge);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One object changes, one is new, one stays.
    r.write(&[
        (
            ".helm/templates/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  v: \"2\"\n",
        ),
        (
            ".helm/templates/c.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: \"1\"\n",
        ),
    ]);
    r.commit("change");
    let mut args = vec!["--live"];
    args.extend_from_slice(&target);
    let g = json(&r, &args);
    let state = |id: &str| {
        node(&g, id).unwrap_or_else(|| panic!("{id}"))["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(state("object:ConfigMap/b"), "live: equal");
    assert_eq!(state("object:ConfigMap/c"), "absent: would create");
    let a = state("object:ConfigMap/a");
    assert_eq!(a, "live: differs (data.v)");
    c.kubectl_ok(&["delete", "namespace", ns, "--wait=false"]);
}
