//! Plans remembered across processes: what the encoding gives back, and when a seeded digest
//! stands in for planning (only while the inputs it was made for hold).

use std::collections::BTreeMap;
use std::sync::Arc;

use salsa::Setter;
use werf_graph::context::WorkFile;
use werf_graph::db::{Database, ImageKey, Project};
use werf_graph::objects::{EntryKind, MemoryObjects};
use werf_graph::plan::{self, memo, ImagePlan};
use werf_graph::Digest;

const WERF_YAML: &str = r#"project: memo
configVersion: 1
build:
  imageSpec:
    config:
      labels:
        team: core
---
image: base
context: base
dockerfile: Dockerfile
target: final
args:
  MODE: fast
platform: [linux/amd64, linux/arm64]
imageSpec:
  author: Dev <dev@example.com>
  clearHistory: true
  config:
    env: {A: "1"}
    user: app
    expose: ["8080/tcp"]
    removeLabels: [old]
    healthcheck:
      test: [CMD, "true"]
      interval: 5
---
image: app
context: app
dockerfile: Dockerfile
contextAddFiles: [generated.txt]
dependencies:
- image: base
  imports:
  - type: ImageName
    targetBuildArg: BASE
"#;

const BASE_DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
ARG MODE=slow
FROM alpine:3.19 AS build
ARG MODE
ENV MODE=$MODE PATH=/usr/local/bin:/usr/bin
LABEL org.example.mode="$MODE" other=x
WORKDIR /src
COPY --chmod=0755 bin/ /usr/local/bin/
COPY src/*.go ./
ADD https://example.com/file.tgz /tmp/
RUN --mount=type=cache,target=/root/.cache echo build $MODE
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo later
MAINTAINER someone
FROM scratch AS final
COPY --from=build /src /app
USER 1000:1000
EXPOSE 8080 9090/udp
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s CMD ["/app/check"]
ENTRYPOINT /app/run
CMD ["--serve"]
"#;

fn files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("werf.yaml", WERF_YAML),
        ("base/Dockerfile", BASE_DOCKERFILE),
        (
            "base/.dockerignore",
            "# comment\n**/*.tmp\n!keep.tmp\nsrc/[a-c]?.go\ndocs\n",
        ),
        ("base/bin/tool", "#!/bin/sh\n"),
        ("base/src/main.go", "package main\n"),
        ("base/src/ab.go", "package main\n"),
        ("base/src/x.tmp", "tmp\n"),
        ("base/keep.tmp", "keep\n"),
        ("base/docs/readme.md", "docs\n"),
        (
            "app/Dockerfile",
            "ARG BASE\nFROM $BASE\nCOPY . /app/\nCOPY generated.txt /gen\n",
        ),
        ("app/app.txt", "app\n"),
    ]
}

struct Fixture {
    db: Database,
    objects: Arc<MemoryObjects>,
    project: Project,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Self {
        let objects = Arc::new(MemoryObjects::new());
        let root = objects.add_files(files.iter().map(|(p, c)| (*p, c.as_bytes())));
        let generated = objects.add_blob(b"generated in the work tree\n");
        let db = Database::in_memory(objects.clone()).with_execution_log();
        let work_files = BTreeMap::from([(
            "app/generated.txt".to_string(),
            WorkFile {
                kind: EntryKind::Blob,
                id: generated,
            },
        )]);
        let project = Project::new(
            &db,
            root,
            String::new(),
            "werf.yaml".into(),
            Arc::new(work_files),
            Arc::default(),
            Arc::default(),
        );
        Fixture {
            db,
            objects,
            project,
        }
    }

    fn plans(&self) -> Vec<(String, Arc<ImagePlan>)> {
        plan::plan_all(&self.db, self.project)
            .expect("config is valid")
            .into_iter()
            .map(|(n, p)| (n.clone(), p.unwrap_or_else(|e| panic!("{n}: {e}"))))
            .collect()
    }

    fn digest(&self, image: &str) -> Digest {
        let key = ImageKey::new(&self.db, image.to_string());
        plan::image_digest(&self.db, self.project, key)
            .clone()
            .expect("the image plans")
    }
}

/// The record [`memo::encode`] writes, on its own.
fn encode(
    plans: &[(String, Arc<ImagePlan>)],
    synthetic: &MemoryObjects,
) -> Result<Vec<u8>, memo::MemoError> {
    let mut out = Vec::new();
    memo::encode(&mut out, plans, synthetic).map(|()| out)
}

/// `bytes` with the first `from` replaced by `to` (of the same length).
fn replace_first(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    if let Some(at) = bytes.windows(from.len()).position(|w| w == from) {
        out[at..at + to.len()].copy_from_slice(to);
    }
    out
}

#[test]
fn remembered_plans_equal_planned_ones_build_inputs_included() {
    let f = Fixture::new(&files());
    let plans = f.plans();
    // The fixture reaches what the encoding must carry besides the plain plan.
    let base = &plans[0].1;
    assert!(!base.ignore.rules.is_empty(), "a .dockerignore");
    assert!(base.image_spec.is_some(), "an imageSpec");
    assert_eq!(base.dockerfile.stages.len(), 2, "two stages");
    assert_eq!(base.platform.len(), 2, "two platforms");
    assert!(!plans[1].1.sources.work_files.is_empty(), "contextAddFiles");

    let bytes = encode(&plans, &f.db.synthetic_objects()).expect("encodes");
    let back = memo::decode(&bytes, &MemoryObjects::new()).expect("decodes");
    assert_eq!(back.len(), 2);
    for ((name, plan), (back_name, back_plan)) in plans.iter().zip(&back) {
        assert_eq!(name, back_name);
        // `ImagePlan`'s equality covers the Dockerfile, the ignore rules and the imageSpec.
        assert_eq!(**plan, **back_plan, "{name}");
    }
    // The ignore rules still match as before (the compiled globs came back whole).
    let ignore = &back[0].1.ignore;
    assert!(ignore.is_excluded("src/x.tmp") && !ignore.is_excluded("keep.tmp"));
}

#[test]
fn a_damaged_record_is_an_error_not_a_plan() {
    let f = Fixture::new(&files());
    let bytes = encode(&f.plans(), &f.db.synthetic_objects()).expect("encodes");
    for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            memo::decode(&bytes[..cut], &MemoryObjects::new()).is_err(),
            "cut at {cut}"
        );
    }
    let bad_mode = replace_first(&bytes, b"100644", b"100645");
    assert_ne!(bad_mode, bytes, "the record holds a file mode");
    let e = memo::decode(&bad_mode, &MemoryObjects::new()).expect_err("an unknown mode");
    let cause = std::error::Error::source(&e).map(ToString::to_string);
    assert!(
        cause
            .as_deref()
            .is_some_and(|c| c.contains("`100645` is not a Git mode")),
        "{e}: {cause:?}"
    );
}

#[test]
fn plans_with_secrets_are_not_encoded() {
    let yaml = WERF_YAML.replace(
        "image: app\n",
        "image: app\nsecrets:\n- id: token\n  value: s3cr3t-value\n",
    );
    let mut files = files();
    files[0].1 = Box::leak(yaml.into_boxed_str());
    let f = Fixture::new(&files);
    let e = encode(&f.plans(), &f.db.synthetic_objects()).expect_err("secrets are never written");
    assert!(e.to_string().contains("image `app` has `secrets`"), "{e}");
    assert!(!e.to_string().contains("s3cr3t-value"));
}

#[test]
fn a_seeded_digest_stands_in_only_for_the_inputs_it_was_made_for() {
    let mut f = Fixture::new(&files());
    let real = f.digest("app");
    // A fresh engine seeded with digests unlike the real ones (so using them shows).
    let mut seeded = Fixture::new(&files());
    let inputs = *memo::inputs_digest(&seeded.db, seeded.project);
    let planned = f.plans();
    let fake: Vec<(String, Arc<ImagePlan>)> = planned
        .iter()
        .map(|(n, p)| {
            let mut p = (**p).clone();
            p.digest = Digest::of_bytes("test", n.as_bytes());
            (n.clone(), Arc::new(p))
        })
        .collect();
    memo::seed(&mut seeded.db, inputs, &fake);
    seeded.db.take_execution_log();
    assert_eq!(seeded.digest("app"), fake[1].1.digest);
    assert_ne!(seeded.digest("app"), real);
    assert_eq!(
        seeded.db.take_execution_log(),
        Vec::<String>::new(),
        "nothing planned"
    );

    // Another commit: the seed no longer holds, the engine plans (the stages: a digest needs
    // no whole plan).
    let mut other = files();
    other[10].1 = "app changed\n";
    let root = seeded
        .objects
        .add_files(other.iter().map(|(p, c)| (*p, c.as_bytes())));
    let before = seeded.project.root_tree(&seeded.db);
    seeded.project.set_root_tree(&mut seeded.db).to(root);
    let changed = seeded.digest("app");
    let log = seeded.db.take_execution_log();
    for present in ["image_stages(app)", "stage_plan(app#0)"] {
        assert!(log.contains(&present.to_string()), "{present} in {log:#?}");
    }
    let same = f
        .objects
        .add_files(other.iter().map(|(p, c)| (*p, c.as_bytes())));
    assert_eq!(same, root);
    f.project.set_root_tree(&mut f.db).to(root);
    assert_eq!(changed, f.digest("app"), "the engine's own digest");
    assert_ne!(changed, real, "the change reaches the tag");

    // Back to the seeded inputs: the seed holds again.
    seeded.project.set_root_tree(&mut seeded.db).to(before);
    assert_eq!(seeded.digest("app"), fake[1].1.digest);
}

#[test]
fn the_inputs_digest_covers_every_input_field() {
    let mut f = Fixture::new(&files());
    let mut seen = vec![*memo::inputs_digest(&f.db, f.project)];
    let mut changed = |f: &Fixture| {
        let d = *memo::inputs_digest(&f.db, f.project);
        assert!(!seen.contains(&d), "{seen:?} already holds {d:?}");
        seen.push(d);
    };
    let root = f
        .objects
        .add_files([("werf.yaml", b"project: other\n".as_slice())]);
    f.project.set_root_tree(&mut f.db).to(root);
    changed(&f);
    f.project.set_prefix(&mut f.db).to("sub".into());
    changed(&f);
    f.project.set_config_file(&mut f.db).to("werf.yml".into());
    changed(&f);
    f.project.set_work_files(&mut f.db).to(Arc::default());
    changed(&f);
    let env = werf_graph::config::TemplateEnv {
        vars: BTreeMap::from([("CI".to_string(), "1".to_string())]),
        ..Default::default()
    };
    f.project.set_template_env(&mut f.db).to(Arc::new(env));
    changed(&f);
    // With giterminism rules, only the variables they allow `env` to read count.
    let rules = werf_graph::giterminism::Giterminism::parse(
        "werf-giterminism.yaml",
        "giterminismConfigVersion: 1\nconfig:\n  goTemplateRendering:\n    allowEnvVariables: [CI]\n",
    )
    .expect("rules");
    let with_rules = |vars: &[(&str, &str)]| werf_graph::config::TemplateEnv {
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        giterminism: Some(rules.clone()),
        ..Default::default()
    };
    f.project
        .set_template_env(&mut f.db)
        .to(Arc::new(with_rules(&[("CI", "1")])));
    changed(&f);
    let allowed = *memo::inputs_digest(&f.db, f.project);
    f.project
        .set_template_env(&mut f.db)
        .to(Arc::new(with_rules(&[("CI", "1"), ("CI_JOB_ID", "42")])));
    assert_eq!(
        *memo::inputs_digest(&f.db, f.project),
        allowed,
        "a variable werf.yaml may not read"
    );
    f.project
        .set_template_env(&mut f.db)
        .to(Arc::new(with_rules(&[("CI", "2"), ("CI_JOB_ID", "42")])));
    changed(&f);
    let checksums = BTreeMap::from([("base:/app".to_string(), "abc".to_string())]);
    f.project
        .set_import_checksums(&mut f.db)
        .to(Arc::new(checksums));
    changed(&f);
}

/// A Stapel image's context and Dockerfile are objects planning makes in memory: they travel
/// with its plan, each checked against its id on the way back.
#[test]
fn a_stapel_plans_objects_come_back_with_it() {
    let yaml = "project: shop\nconfigVersion: 1\n---\nimage: app\nfrom: alpine:3.19\ngit:\n- add: /app\n  to: /app\n  includePaths: ['**/*.py']\nshell:\n  install: [pip install -r /app/requirements.txt]\ndocker:\n  WORKDIR: /app\n";
    let files = [
        ("werf.yaml", yaml),
        ("app/main.py", "print(1)\n"),
        ("app/requirements.txt", "flask\n"),
    ];
    let f = Fixture::new(&files);
    let plans = f.plans();
    let last = plans
        .iter()
        .find(|(_, p)| p.is_stapel() && !p.is_internal())
        .map(|(_, p)| p.clone())
        .expect("the Stapel image");
    let synthetic = f.db.synthetic_objects();
    let bytes = encode(&plans, &synthetic).expect("encodes");

    let fresh = MemoryObjects::new();
    let back = memo::decode(&bytes, &fresh).expect("decodes");
    assert_eq!(back.len(), plans.len());
    for ((_, plan), (_, again)) in plans.iter().zip(&back) {
        assert_eq!(**plan, **again);
    }
    // The synthetic Dockerfile and context are readable from the fresh store alone.
    use werf_graph::ObjectSource as _;
    let dockerfile = fresh
        .blob(last.sources.dockerfile_blob)
        .expect("the synthetic Dockerfile");
    assert!(!dockerfile.is_empty());
    let context = last.sources.context_tree.expect("a context tree");
    assert!(!fresh
        .tree(context)
        .expect("the synthetic context")
        .entries
        .is_empty());
    assert_eq!(fresh.contents(), synthetic.contents());

    // An object whose content no longer gives its id is refused.
    let (id, blob) = &synthetic.contents().1[0];
    let mut other = blob.to_vec();
    other[0] ^= 1;
    let forged = replace_first(&bytes, blob, &other);
    assert_ne!(forged, bytes, "the record holds the blob");
    let e = memo::decode(&forged, &MemoryObjects::new()).expect_err("forged");
    assert!(e.to_string().contains(&id.to_string()), "{e}");
}
