//! Engine tests: which queries re-run after an input change (salsa early cutoff at work).

use std::collections::BTreeMap;
use std::sync::Arc;

use salsa::Setter;
use werf_graph::db::{Database, Project};
use werf_graph::objects::MemoryObjects;
use werf_graph::plan::plan_all;

const WERF_YAML: &str = "project: demo
configVersion: 1
---
image: a
context: a
dockerfile: Dockerfile
---
image: b
context: b
dockerfile: Dockerfile
args:
  MODE: fast
---
image: c
context: c
dockerfile: Dockerfile
dependencies:
- image: a
  imports:
  - type: ImageName
    targetBuildArg: BASE
";

fn files(overrides: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut f: BTreeMap<&str, &str> = [
        ("werf.yaml", WERF_YAML),
        ("a/Dockerfile", "FROM alpine:3.19\nCOPY src/ /app/\n"),
        ("a/src/main.go", "package main\n"),
        ("a/docs/readme.md", "docs\n"),
        ("b/Dockerfile", "FROM alpine:3.19\nARG MODE\nCOPY . /b/\n"),
        ("b/b.txt", "b\n"),
        ("c/Dockerfile", "ARG BASE\nFROM $BASE\nCOPY c.txt /c.txt\n"),
        ("c/c.txt", "c\n"),
    ]
    .into_iter()
    .collect();
    f.extend(overrides.iter().copied());
    f.into_iter().collect()
}

fn tree(objects: &MemoryObjects, files: &[(&str, &str)]) -> werf_graph::ObjectId {
    objects.add_files(files.iter().map(|(p, c)| (*p, c.as_bytes())))
}

struct Fixture {
    db: Database,
    objects: Arc<MemoryObjects>,
    project: Project,
}

impl Fixture {
    fn new() -> Self {
        let objects = Arc::new(MemoryObjects::new());
        let root = tree(&objects, &files(&[]));
        let db = Database::in_memory(objects.clone()).with_execution_log();
        let project = Project::new(
            &db,
            root,
            String::new(),
            "werf.yaml".into(),
            Arc::default(),
            Arc::default(),
        );
        Fixture {
            db,
            objects,
            project,
        }
    }

    fn tags(&self) -> BTreeMap<String, String> {
        plan_all(&self.db, self.project)
            .expect("config is valid")
            .into_iter()
            .map(|(n, p)| (n, p.expect("image plans").tag.clone()))
            .collect()
    }

    fn commit(&mut self, overrides: &[(&'static str, &'static str)]) -> Vec<String> {
        self.db.take_execution_log();
        let root = tree(&self.objects, &files(overrides));
        self.project.set_root_tree(&mut self.db).to(root);
        self.tags();
        self.db.take_execution_log()
    }
}

#[test]
fn first_plan_runs_every_query_once() {
    let f = Fixture::new();
    f.tags();
    let log = f.db.take_execution_log();
    for q in [
        "config(werf.yaml)",
        "image_dag()",
        "image_plan(a)",
        "image_plan(b)",
        "image_plan(c)",
        "stage_plan(c#0)",
    ] {
        assert_eq!(log.iter().filter(|l| *l == q).count(), 1, "{q} in {log:#?}");
    }
    // A second request with no input change runs nothing.
    f.tags();
    assert_eq!(f.db.take_execution_log(), Vec::<String>::new());
}

#[test]
fn a_file_in_one_context_reruns_that_image_and_its_dependants_only() {
    let mut f = Fixture::new();
    let before = f.tags();
    let log = f.commit(&[("a/src/main.go", "package main // changed\n")]);
    assert_eq!(
        log,
        [
            // The root tree changed: every lookup against it runs, and is cut off when equal.
            "config_blob(werf.yaml)",
            "dockerignore(a)",
            "image_digest(a)",
            "image_plan(a)",
            "image_plan(c)",
            "image_sources(a)",
            "image_sources(b)",
            "image_sources(c)",
            "resolved_dockerfile(a)",
            "stage_plan(a#0)",
            "stage_plan(c#0)",
        ]
    );
    let after = f.tags();
    assert_ne!(before["a"], after["a"]);
    assert_eq!(before["b"], after["b"]);
    assert_ne!(before["c"], after["c"], "c depends on a");
}

#[test]
fn a_file_no_copy_reaches_reruns_lookups_but_changes_no_tag() {
    let mut f = Fixture::new();
    let before = f.tags();
    let log = f.commit(&[("a/docs/readme.md", "other docs\n")]);
    // `a`'s context tree changed, so its stage re-ran; its digest did not, so `c` did not re-run.
    assert!(log.contains(&"stage_plan(a#0)".to_string()), "{log:#?}");
    assert!(
        !log.iter()
            .any(|l| l.contains("(c#") || l == "image_plan(c)"),
        "{log:#?}"
    );
    assert_eq!(before, f.tags());
}

#[test]
fn editing_one_images_args_reruns_only_that_image() {
    let mut f = Fixture::new();
    let before = f.tags();
    let yaml = WERF_YAML.replace("MODE: fast", "MODE: slow");
    let yaml: &'static str = Box::leak(yaml.into_boxed_str());
    let log = f.commit(&[("werf.yaml", yaml)]);
    assert_eq!(
        log,
        [
            "config(werf.yaml)",
            "config_blob(werf.yaml)",
            "image_dag()",
            "image_plan(b)",
            "image_settings(a)",
            "image_settings(b)",
            "image_settings(c)",
            "image_sources(a)",
            "image_sources(b)",
            "image_sources(c)",
            "resolved_dockerfile(b)",
            "stage_plan(b#0)",
        ]
    );
    let after = f.tags();
    assert_ne!(before["b"], after["b"]);
    assert_eq!(before["a"], after["a"]);
    assert_eq!(before["c"], after["c"]);
}

#[test]
fn parallel_plans_match_sequential_ones() {
    let f = Fixture::new();
    let parallel = f.tags();
    let g = Fixture::new();
    let mut sequential = BTreeMap::new();
    for name in ["c", "b", "a"] {
        let key = werf_graph::db::ImageKey::new(&g.db, name.to_string());
        let plan = werf_graph::plan::image_plan(&g.db, g.project, key)
            .clone()
            .expect("plan");
        sequential.insert(name.to_string(), plan.tag.clone());
    }
    assert_eq!(parallel, sequential);
}
