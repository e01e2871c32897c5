//! Engine tests: which queries re-run after an input change (salsa early cutoff at work).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use salsa::Setter;
use werf_graph::chart::RenderOptions;
use werf_graph::db::{Database, Project};
use werf_graph::objects::MemoryObjects;
use werf_graph::plan::{digests_all, plan_all};
use werf_graph::render::{rendered_chart, RenderInput};

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
        (".helm/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 1.0.0\n"),
        (".helm/templates/_helpers.tpl", "{{ define \"labels\" }}app: {{ .Release.Name }}{{ end }}"),
        (".helm/templates/a.yaml", "kind: ConfigMap\nmetadata:\n  name: a\n  labels: {{ include \"labels\" . | nindent 4 }}\ndata:\n  image: {{ .Values.werf.image.a }}\n"),
        (".helm/templates/b.yaml", "kind: ConfigMap\nmetadata:\n  name: b\ndata:\n  tag: {{ index .Values.werf.tag \"b\" }}\n"),
        (".helm/templates/c.yaml", "kind: ConfigMap\nmetadata:\n  name: c\ndata:\n  {{- with .Values.global.werf }}\n  image: {{ werf_image (tuple \"c\" $) }} {{ .image.c }}\n  {{- end }}\n"),
        (".helm/templates/all.yaml", "kind: ConfigMap\nmetadata:\n  name: all\ndata:\n  images: {{ toJson .Values.werf.image | quote }}\n"),
        (".helm/templates/plain.yaml", "kind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  release: {{ .Release.Name }}\n"),
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
        let project = common::project(&db, root);
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

    /// Every image's tag through its digest only (what cleanup asks of each commit).
    fn digests(&self) -> BTreeMap<String, String> {
        digests_all(&self.db, self.project)
            .expect("config is valid")
            .into_iter()
            .map(|(n, d)| (n, d.expect("image digests").tag()))
            .collect()
    }

    /// Points the project at the files with `overrides`, asking nothing.
    fn set(&mut self, overrides: &[(&'static str, &'static str)]) {
        let root = tree(&self.objects, &files(overrides));
        self.project.set_root_tree(&mut self.db).to(root);
    }

    /// [`Fixture::set`], then every plan: the queries that ran.
    fn commit(&mut self, overrides: &[(&'static str, &'static str)]) -> Vec<String> {
        self.db.take_execution_log();
        self.set(overrides);
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
            // The root tree changed, but only the path lookups from the root down to `a` ran
            // (`paths::entry_at`): `b`'s sources and werf.yaml were not looked at again; `a`'s
            // layout finds its Dockerfile and `.dockerignore` in the new tree: the same blobs,
            // so neither file was parsed again.
            "context_source(a src/)",
            "image_digest(a)",
            "image_layout(a)",
            "image_plan(a)",
            "image_plan(c)",
            "image_sources(a)",
            "image_stages(a)",
            "image_stages(c)",
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
fn a_context_at_the_root_reads_its_files_again_only_when_they_change() {
    let yaml =
        "project: demo\nconfigVersion: 1\n---\nimage: r\ncontext: .\ndockerfile: r/Dockerfile\n";
    let same = "FROM alpine:3.19\nCOPY r/src /src\n";
    // The repository with this Dockerfile and source file, and `NOTES.md` when given.
    let commit = |f: &mut Fixture, dockerfile: &'static str, x: &'static str, notes: bool| {
        let mut files = vec![
            ("werf.yaml", yaml),
            ("r/Dockerfile", dockerfile),
            ("r/src/x", x),
        ];
        if notes {
            files.push(("NOTES.md", "new\n"));
        }
        f.commit(&files)
    };
    let mut f = Fixture::new();
    commit(&mut f, same, "x\n", false);
    let before = f.tags();
    // Any commit gives the root context a new tree: the plan, which holds it, is made again.
    // The layout looks the Dockerfile and `.dockerignore` up by their paths, which hold the same
    // entries: it does not run again. The COPY source is looked up by its path too: it is not
    // matched again, and the stage is not planned again.
    let log = commit(&mut f, same, "x\n", true);
    for present in ["image_sources(r)", "image_plan(r)"] {
        assert!(log.contains(&present.to_string()), "{present} in {log:#?}");
    }
    for absent in [
        "image_layout(r)",
        "build_files(r)",
        "resolved_dockerfile(r)",
        "dockerignore(r)",
        "context_source(r r/src)",
        "image_stages(r)",
        "stage_plan(r#0)",
    ] {
        assert!(!log.contains(&absent.to_string()), "{absent} in {log:#?}");
    }
    assert_eq!(before, f.tags());
    // A changed source file matches the source and plans the stage again (the positive twin).
    let log = commit(&mut f, same, "x changed\n", true);
    assert!(
        log.contains(&"context_source(r r/src)".to_string()),
        "{log:#?}"
    );
    assert!(log.contains(&"stage_plan(r#0)".to_string()), "{log:#?}");
    assert_ne!(before, f.tags());
    commit(&mut f, same, "x\n", true);
    assert_eq!(before, f.tags());
    // A changed Dockerfile: the layout finds another blob and it is parsed again (the positive
    // twins).
    let log = commit(&mut f, "FROM alpine:3.20\nCOPY r/src /src\n", "x\n", true);
    for present in ["image_layout(r)", "resolved_dockerfile(r)"] {
        assert!(log.contains(&present.to_string()), "{present} in {log:#?}");
    }
    assert_ne!(before, f.tags());
}

#[test]
fn a_digest_asked_alone_builds_no_plan_and_a_root_context_is_cut_off_before_its_layout() {
    let yaml =
        "project: demo\nconfigVersion: 1\n---\nimage: r\ncontext: .\ndockerfile: r/Dockerfile\n";
    let dockerfile = "FROM alpine:3.19\nCOPY r/src /src\n";
    let commit = |f: &mut Fixture, x: &'static str, notes: &'static str| {
        f.set(&[
            ("werf.yaml", yaml),
            ("r/Dockerfile", dockerfile),
            ("r/src/x", x),
            ("NOTES.md", notes),
        ])
    };
    let mut f = Fixture::new();
    commit(&mut f, "x\n", "one\n");
    let before = f.digests();
    let log = f.db.take_execution_log();
    assert!(log.contains(&"image_stages(r)".to_string()), "{log:#?}");
    assert!(!log.contains(&"image_plan(r)".to_string()), "{log:#?}");
    assert_eq!(before, f.tags(), "a digest's tag is its plan's");
    // The plan holds the context's tree: only it reads the sources.
    assert_eq!(
        f.db.take_execution_log(),
        ["image_plan(r)", "image_sources(r)"]
    );
    // A file no image reads: the context has a new tree, but the layout finds the Dockerfile by
    // its path and the source is looked up by its path. Nothing of the image runs again (no
    // plan either).
    commit(&mut f, "x\n", "two\n");
    assert_eq!(f.digests(), before);
    assert_eq!(f.db.take_execution_log(), Vec::<String>::new());
    // A source file that changes: the source, the stage, the stages and the digest run again
    // (the positive twin), still without a plan.
    commit(&mut f, "x changed\n", "two\n");
    assert_ne!(f.digests(), before);
    let log = f.db.take_execution_log();
    for present in [
        "context_source(r r/src)",
        "stage_plan(r#0)",
        "image_stages(r)",
        "image_digest(r)",
    ] {
        assert!(log.contains(&present.to_string()), "{present} in {log:#?}");
    }
    assert!(!log.contains(&"image_plan(r)".to_string()), "{log:#?}");
}

#[test]
fn a_seed_made_for_other_inputs_does_not_run_every_digest_again_on_each_commit() {
    let mut f = Fixture::new();
    let plans: Vec<(String, Arc<werf_graph::plan::ImagePlan>)> = plan_all(&f.db, f.project)
        .expect("config is valid")
        .into_iter()
        .map(|(n, p)| (n, p.expect("image plans")))
        .collect();
    let inputs = *werf_graph::plan::memo::inputs_digest(&f.db, f.project);
    werf_graph::plan::memo::seed(&mut f.db, inputs, &plans);
    let seeded = f.digests();
    f.db.take_execution_log();
    // The first commit after the seed: the seed no longer applies, every digest is computed.
    f.set(&[("b/b.txt", "b one\n")]);
    let first = f.digests();
    assert_eq!(first["a"], seeded["a"]);
    assert_ne!(first["b"], seeded["b"]);
    let log = f.db.take_execution_log();
    for present in ["image_digest(a)", "image_digest(b)", "image_digest(c)"] {
        assert!(log.contains(&present.to_string()), "{present} in {log:#?}");
    }
    // The next commit changes `b` again: only `b`'s digest runs; `a`'s and `c`'s read that the
    // seed does not apply, which stays so.
    f.set(&[("b/b.txt", "b two\n")]);
    assert_ne!(f.digests()["b"], first["b"]);
    let log = f.db.take_execution_log();
    assert!(log.contains(&"image_digest(b)".to_string()), "{log:#?}");
    for absent in ["image_digest(a)", "image_digest(c)"] {
        assert!(!log.contains(&absent.to_string()), "{absent} in {log:#?}");
    }
}

#[test]
fn execution_counts_count_runs_by_query_without_keys() {
    let mut f = Fixture::new();
    f.tags();
    f.db.enable_execution_counts();
    f.commit(&[("a/src/main.go", "package main // changed\n")]);
    // Turning counts on again keeps what they counted.
    f.db.enable_execution_counts();
    let counts = f.db.take_execution_counts();
    // `a` and its dependant `c` are planned again, `b` is not.
    assert_eq!(counts.get("image_plan"), Some(&2), "{counts:#?}");
    assert_eq!(counts.get("stage_plan"), Some(&2), "{counts:#?}");
    assert_eq!(counts.get("resolved_dockerfile"), None, "{counts:#?}");
    // No keys are kept, and a count is taken once.
    assert_eq!(f.db.take_execution_log(), Vec::<String>::new());
    assert_eq!(f.db.take_execution_counts(), BTreeMap::new());
}

#[test]
fn a_file_at_the_root_that_no_image_reads_reruns_no_image_query() {
    let mut f = Fixture::new();
    let before = f.tags();
    let log = f.commit(&[("NOTES.md", "a new file at the root\n")]);
    assert_eq!(log, Vec::<String>::new());
    assert_eq!(before, f.tags());
}

#[test]
fn a_file_no_copy_reaches_plans_no_stage_again_and_changes_no_tag() {
    let mut f = Fixture::new();
    let before = f.tags();
    let log = f.commit(&[("a/docs/readme.md", "other docs\n")]);
    // `a`'s context tree changed: its plan, which holds the tree, is made again, and its COPY
    // source is matched again in it. The source holds the same content: the stage does not
    // re-run, and nothing of `c` does. (A context at the root looks its sources up by path
    // instead: see the test of one.)
    assert!(log.contains(&"image_sources(a)".to_string()), "{log:#?}");
    assert!(log.contains(&"image_plan(a)".to_string()), "{log:#?}");
    assert!(
        log.contains(&"context_source(a src/)".to_string()),
        "{log:#?}"
    );
    assert!(!log.contains(&"stage_plan(a#0)".to_string()), "{log:#?}");
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
            "image_layout(b)",
            "image_plan(b)",
            "image_settings(a)",
            "image_settings(b)",
            "image_settings(c)",
            "image_stages(b)",
            "resolved_dockerfile(b)",
            "stage_plan(b#0)",
        ]
    );
    // `b`'s build args changed: its Dockerfile was resolved again, from the same blob.
    assert!(!log.contains(&"build_files(b)".to_string()));
    let after = f.tags();
    assert_ne!(before["b"], after["b"]);
    assert_eq!(before["a"], after["a"]);
    assert_eq!(before["c"], after["c"]);
}

fn render(f: &Fixture, input: RenderInput) -> BTreeMap<String, String> {
    rendered_chart(&f.db, f.project, input)
        .clone()
        .expect("chart renders")
        .iter()
        .map(|m| (m.name.clone(), m.text.clone()))
        .collect()
}

#[test]
fn a_changed_tag_re_renders_only_the_templates_that_read_it() {
    let mut f = Fixture::new();
    let options = RenderOptions {
        release: "demo".into(),
        repo: Some("registry.local/demo".into()),
        ..Default::default()
    };
    let input = RenderInput::new(&f.db, options, werf_graph::chart::Cluster::offline());
    f.db.take_execution_log();
    let before = render(&f, input);
    let rendered = |log: &[String]| -> Vec<String> {
        log.iter()
            .filter_map(|l| l.strip_prefix("rendered_template(demo/templates/"))
            .map(|l| l.trim_end_matches(')').to_string())
            .collect()
    };
    let log = f.db.take_execution_log();
    assert_eq!(
        rendered(&log),
        ["a.yaml", "all.yaml", "b.yaml", "c.yaml", "plain.yaml"]
    );
    // The first render reads the chart (its absence below is not the log's silence).
    assert!(log.contains(&"chart()".to_string()), "{log:#?}");
    let tags = f.tags();
    // A render asks the images' digests, not their plans: these are `tags()`'s.
    assert_eq!(
        f.db.take_execution_log(),
        ["image_plan(a)", "image_plan(b)", "image_plan(c)"]
    );
    assert!(
        before["a"].contains(&format!("image: registry.local/demo:{}", tags["a"])),
        "{}",
        before["a"]
    );
    assert!(
        before["c"].contains(&format!(
            "registry.local/demo:{0} registry.local/demo:{0}",
            tags["c"]
        )),
        "{}",
        before["c"]
    );

    // Nothing changed: nothing runs.
    render(&f, input);
    assert_eq!(f.db.take_execution_log(), Vec::<String>::new());

    // `a` changes (and `c`, which depends on it): the templates reading `a` or `c` re-render;
    // the chart itself is not re-read (its tree did not change).
    f.commit(&[("a/src/main.go", "package main // changed\n")]);
    let after = render(&f, input);
    let log = f.db.take_execution_log();
    assert_eq!(rendered(&log), ["a.yaml", "all.yaml", "c.yaml"], "{log:#?}");
    assert!(!log.contains(&"chart()".to_string()), "{log:#?}");
    assert_eq!(before["b"], after["b"]);
    assert_eq!(before["plain"], after["plain"]);
    assert_ne!(before["a"], after["a"]);

    // Only `b`'s tag changes: `b.yaml` and the template that reads every image.
    f.commit(&[
        ("a/src/main.go", "package main // changed\n"),
        ("b/b.txt", "b2\n"),
    ]);
    render(&f, input);
    let log = f.db.take_execution_log();
    assert_eq!(rendered(&log), ["all.yaml", "b.yaml"], "{log:#?}");
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
