//! The digest contract for Stapel images: which edits change which werf stage's digest, and
//! which must not (amends, other clones: the digest is a function of content only).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use salsa::Setter;
use werf_graph::db::{Database, Project};
use werf_graph::objects::MemoryObjects;
use werf_graph::plan::plan_all;
use werf_graph::{Digest, Error};

const WERF_YAML: &str = "project: shop
configVersion: 1
---
artifact: assets
from: alpine:3.19
git:
- add: /assets
  to: /src
  excludePaths: [docs]
  stageDependencies:
    install: [package.json]
    setup: ['**/*.css']
shell:
  beforeInstall: [apk add nodejs]
  install: [cd /src && npm ci]
  setup: [cd /src && npm run build]
  installCacheVersion: '1'
---
image: app
fromImage: base
git:
- add: /app
  to: /app
  includePaths: ['**/*.py']
import:
- artifact: assets
  add: /src/dist
  to: /app/static
  after: setup
docker:
  WORKDIR: /app
---
image: base
dockerfile: Dockerfile
";

fn files(over: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut f: BTreeMap<&str, &str> = [
        ("werf.yaml", WERF_YAML),
        ("Dockerfile", "FROM alpine:3.19\nRUN apk add python3\n"),
        ("assets/package.json", "{\"name\": \"a\"}\n"),
        ("assets/src/main.js", "main\n"),
        ("assets/src/style.css", "body {}\n"),
        ("assets/docs/readme.md", "docs\n"),
        ("app/main.py", "print(1)\n"),
        ("app/notes.txt", "notes\n"),
    ]
    .into_iter()
    .collect();
    f.extend(over.iter().copied());
    f.into_iter().collect()
}

/// Image -> werf stage label -> digest (short).
type Stages = BTreeMap<String, BTreeMap<String, String>>;

struct Fixture {
    db: Database,
    objects: Arc<MemoryObjects>,
    project: Project,
    /// What each import source's build outputs, as the builder would find it: an entry makes
    /// the imported files equal whatever the source's digest; without one every rebuild of the
    /// source outputs other files.
    outputs: BTreeMap<&'static str, &'static str>,
}

impl Fixture {
    fn new() -> Self {
        let objects = Arc::new(MemoryObjects::new());
        let root = objects.add_files(files(&[]).iter().map(|(p, c)| (*p, c.as_bytes())));
        let db = Database::in_memory(objects.clone());
        let project = common::project(&db, root);
        Fixture {
            db,
            objects,
            project,
            outputs: BTreeMap::new(),
        }
    }

    /// Records the checksum of every import that is pending, as a build would after building
    /// its source, until nothing is pending.
    fn resolve_imports(&mut self) {
        loop {
            let wanted: Vec<(String, String)> = plan_all(&self.db, self.project)
                .unwrap()
                .into_iter()
                .filter_map(|(_, p)| match p {
                    Err(Error::ImportPending {
                        key,
                        spec,
                        source_tag,
                        ..
                    }) => {
                        let output = match self.outputs.get(spec.source.as_str()) {
                            Some(o) => o.to_string(),
                            None => source_tag,
                        };
                        let sum =
                            Digest::of_bytes("output", format!("{output} {}", spec.add).as_bytes());
                        Some((key, sum.hex()[..48].to_string()))
                    }
                    _ => None,
                })
                .collect();
            if wanted.is_empty() {
                return;
            }
            let mut sums = (**self.project.import_checksums(&self.db)).clone();
            sums.extend(wanted);
            self.project
                .set_import_checksums(&mut self.db)
                .to(Arc::new(sums));
        }
    }

    fn set(&mut self, over: &[(&'static str, &'static str)]) {
        let root = self
            .objects
            .add_files(files(over).iter().map(|(p, c)| (*p, c.as_bytes())));
        self.project.set_root_tree(&mut self.db).to(root);
    }

    /// Each Stapel image's stages (each its own image) by werf's stage name.
    fn stages(&mut self) -> Stages {
        self.resolve_imports();
        let mut out = Stages::new();
        for (name, p) in plan_all(&self.db, self.project).unwrap() {
            let p = p.unwrap_or_else(|e| panic!("{name}: {e}"));
            if let Some((image, stage, _)) = &p.stapel_stage {
                out.entry(image.clone())
                    .or_default()
                    .insert(stage.clone(), p.digest.short());
            }
        }
        out
    }
}

/// `image/stage` for every stage whose digest differs.
fn changed(a: &Stages, b: &Stages) -> Vec<String> {
    let mut out = Vec::new();
    for (image, stages) in b {
        for (label, d) in stages {
            if a.get(image).and_then(|s| s.get(label)) != Some(d) {
                out.push(format!("{image}/{label}"));
            }
        }
    }
    out
}

#[test]
fn the_stages_are_werfs_in_werfs_order() {
    let mut f = Fixture::new();
    f.resolve_imports();
    let plans: BTreeMap<String, _> = plan_all(&f.db, f.project)
        .unwrap()
        .into_iter()
        .map(|(n, p)| (n, p.unwrap()))
        .collect();
    // Each stage is an image `FROM` the stage before: follow the chain from the image back.
    let chain = |image: &str| {
        let mut out = Vec::new();
        let mut at = plans[image].clone();
        loop {
            out.push(at.stapel_stage.clone().unwrap().1);
            match at
                .dependencies
                .iter()
                .find(|d| d.contains("/stapel-stage/"))
            {
                Some(prev) => at = plans[prev.as_str()].clone(),
                None => break,
            }
        }
        out.reverse();
        out
    };
    // werf's `from` only relabels the base: it is folded into the first stage.
    assert_eq!(
        chain("assets"),
        ["beforeInstall", "install", "setup", "gitLatestPatch"]
    );
    assert_eq!(
        chain("app"),
        ["gitArchive", "dependenciesAfterSetup", "dockerInstructions"]
    );
    // The image's tag is its last stage's digest; earlier stages are not werf.yaml's images.
    assert!(plans["assets"].stapel_stage.as_ref().unwrap().2);
    assert!(plans["assets/stapel-stage/install"].is_internal());
}

/// What an edit is, the files it writes, and the `image/stage`s whose digest it must change.
type Case = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<&'static str>,
);

#[test]
fn each_edit_reaches_exactly_the_stages_its_content_enters() {
    let mut f = Fixture::new();
    let before = f.stages();
    let cases: Vec<Case> = vec![
        (
            "a source file: only the latest patch (and the importer's stages from its import on)",
            vec![("assets/src/main.js", "main 2\n")],
            vec![
                "assets/gitLatestPatch",
                "app/dependenciesAfterSetup",
                "app/dockerInstructions",
            ],
        ),
        (
            "package.json: install and everything after",
            vec![("assets/package.json", "{\"name\": \"b\"}\n")],
            vec![
                "assets/install",
                "assets/setup",
                "assets/gitLatestPatch",
                "app/dependenciesAfterSetup",
                "app/dockerInstructions",
            ],
        ),
        (
            "a setup dependency: setup and after, not install",
            vec![("assets/src/style.css", "body { color: red }\n")],
            vec![
                "assets/setup",
                "assets/gitLatestPatch",
                "app/dependenciesAfterSetup",
                "app/dockerInstructions",
            ],
        ),
        (
            "an excluded file: nothing",
            vec![("assets/docs/readme.md", "docs 2\n")],
            vec![],
        ),
        (
            "a file the include does not select: nothing",
            vec![("app/notes.txt", "notes 2\n")],
            vec![],
        ),
        (
            "an included file: the app's git archive and after",
            vec![("app/main.py", "print(2)\n")],
            vec![
                "app/gitArchive",
                "app/dependenciesAfterSetup",
                "app/dockerInstructions",
            ],
        ),
        (
            "the Dockerfile base image: every app stage",
            vec![(
                "Dockerfile",
                "FROM alpine:3.19\nRUN apk add python3 py3-pip\n",
            )],
            vec![
                "app/gitArchive",
                "app/dependenciesAfterSetup",
                "app/dockerInstructions",
            ],
        ),
    ];
    for (what, over, want) in cases {
        f.set(&over);
        let after = f.stages();
        let mut got = changed(&before, &after);
        // The base image's own stage is not a Stapel stage.
        got.retain(|g| !g.starts_with("base/"));
        let mut want: Vec<String> = want.into_iter().map(String::from).collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{what}");
        f.set(&[]);
        assert_eq!(f.stages(), before, "back to the start after {what}");
    }
}

#[test]
fn an_importer_is_pending_until_its_import_is_recorded_and_so_are_its_dependants() {
    let f = Fixture::new();
    let plans: BTreeMap<String, _> = plan_all(&f.db, f.project).unwrap().into_iter().collect();
    // The stage that imports, and the one after it, wait for `assets`' files.
    for image in ["app/stapel-stage/dependenciesAfterSetup", "app"] {
        match &plans[image] {
            Err(Error::ImportPending { image, spec, .. }) => {
                assert_eq!(image, "app/stapel-stage/dependenciesAfterSetup");
                assert_eq!(spec.source, "assets");
                assert_eq!(spec.add, "/src/dist");
            }
            other => panic!("`{image}`: {other:?}"),
        }
    }
    // The source and the stages before the import are planned.
    assert!(plans["assets"].is_ok());
    assert!(plans["app/stapel-stage/gitArchive"].is_ok());
    let message = plans["app"].as_ref().unwrap_err().to_string();
    assert!(
        message.contains(
            "imports `/src/dist` from `assets`, whose content is not known until it is built"
        ),
        "{message}"
    );
}

#[test]
fn an_artifact_rebuilt_with_equal_output_files_does_not_invalidate_its_importers() {
    let mut f = Fixture::new();
    f.outputs.insert("assets", "dist v1");
    let before = f.stages();
    // `assets` is rebuilt (its latest patch changes) and outputs the same files: the importer
    // keeps every digest.
    f.set(&[("assets/src/main.js", "main 2\n")]);
    let same = f.stages();
    assert_eq!(changed(&before, &same), ["assets/gitLatestPatch"]);
    // The same rebuild with other output files: the importing stage and after.
    f.outputs.insert("assets", "dist v2");
    f.set(&[("assets/src/main.js", "main 3\n")]);
    let mut got = changed(&same, &f.stages());
    got.sort();
    assert_eq!(
        got,
        [
            "app/dependenciesAfterSetup",
            "app/dockerInstructions",
            "assets/gitLatestPatch"
        ]
    );
}

#[test]
fn commands_and_cache_versions_enter_their_stage() {
    let mut f = Fixture::new();
    let before = f.stages();
    let edited = WERF_YAML.replace("installCacheVersion: '1'", "installCacheVersion: '2'");
    let leaked: &'static str = Box::leak(edited.into_boxed_str());
    f.set(&[("werf.yaml", leaked)]);
    let mut got = changed(&before, &f.stages());
    got.retain(|g| g.starts_with("assets/"));
    got.sort();
    assert_eq!(
        got,
        ["assets/gitLatestPatch", "assets/install", "assets/setup"]
    );
    let edited = WERF_YAML.replace("npm run build", "npm run build:prod");
    let leaked: &'static str = Box::leak(edited.into_boxed_str());
    f.set(&[("werf.yaml", leaked)]);
    let mut got = changed(&before, &f.stages());
    got.retain(|g| g.starts_with("assets/"));
    got.sort();
    assert_eq!(got, ["assets/gitLatestPatch", "assets/setup"]);
}

#[test]
fn another_clone_with_the_same_content_gives_the_same_digests() {
    // A fresh database over a store holding other objects too: same content, same digests.
    let a = Fixture::new().stages();
    let mut other = Fixture::new();
    other.objects.add_files([("unrelated/file", &b"x"[..])]);
    other.set(&[]);
    assert_eq!(other.stages(), a);
}

#[test]
fn unsupported_and_bad_stapel_is_a_clear_error_with_its_line() {
    let cases = [
        ("project: p\nconfigVersion: 1\n---\nimage: x\nfrom: a\nansible:\n  install: []\n", "werf.yaml:6: `ansible`: `ansible` stages (image `x`) are not supported"),
        ("project: p\nconfigVersion: 1\n---\nimage: x\nfrom: a\ngit:\n- url: https://example.com/r.git\n  to: /r\n", "werf.yaml:6: `git[0].url`: remote git repositories (image `x`) are not supported"),
        ("project: p\nconfigVersion: 1\n---\nimage: x\nfrom: a\nshell:\n  instal: [x]\n", "werf.yaml:7"),
        ("project: p\nconfigVersion: 1\n---\nimage: x\ngit:\n- to: /a\n", "`from`: image `x` needs `from`, `fromImage` or `fromArtifact`"),
        ("project: p\nconfigVersion: 1\n---\nimage: x\nfrom: a\ngit:\n- add: /\n  to: relative\n", "`git[0].to`: `relative` must be an absolute path in the image"),
        ("project: p\nconfigVersion: 1\n---\nimage: x\nfrom: a\nmount:\n- fromPath: 'a:b'\n  to: /etc\n", "`mount[0].fromPath`: `a:b`: a path without"),
        ("project: p\nconfigVersion: 1\n---\nimage: t\nfrom: a\n---\nimage: x\nfrom: a\nimport:\n- image: t\n  stage: build\n  add: /a\n  after: install\n", "werf.yaml:9: `import[0].stage`: `build` is not `beforeInstall`, `install`, `beforeSetup` or `setup`"),
        ("project: p\nconfigVersion: 1\n---\nimage: t\nfrom: a\n---\nimage: x\nfrom: a\nimport:\n- image: t\n  add: /\n  after: install\n", "`import[0].add`: `add: /` imports the whole image: name what to take with `includePaths`"),
        ("project: p\nconfigVersion: 1\n---\nimage: t\nfrom: a\n---\nimage: x\nfrom: a\nimport:\n- image: t\n  add: /a\n  includePaths: ['has space']\n  after: install\n", "`import[0].includePaths`: `has space`: an import glob is one non-empty word"),
        ("project: p\nconfigVersion: 1\n---\nimage: t\ndockerfile: Dockerfile\n---\nimage: x\nfrom: a\nimport:\n- image: t\n  stage: install\n  add: /a\n  after: install\n", "werf.yaml:7: image `x`: `stage: install` imports a stage of `t`, which is not a Stapel image"),
        ("project: p\nconfigVersion: 1\n---\nimage: x\nfrom: a\ngit:\n- add: /../../src\n  to: /app\n", "werf.yaml:6: `git[0].add`: `/../../src` has a `..` segment"),
        ("project: p\nconfigVersion: 1\n---\nimage: x\nfrom: a\ngit:\n- add: ..\n  to: /app\n", "`git[0].add`: `..` has a `..` segment"),
        ("project: p\nconfigVersion: 1\n---\nimage: x\nfrom: a\ngit:\n- add: /\n  to: /app/../etc\n", "`git[0].to`: `/app/../etc` has a `..` segment"),
        ("project: p\nconfigVersion: 1\n---\nimage: x\nfrom: a\ngit:\n- add: /\n  to: /app\n  includePaths: [src/../..]\n", "`git[0].includePaths`: `src/../..` has a `..` segment"),
        ("project: p\nconfigVersion: 1\n---\nimage: t\nfrom: a\n---\nimage: x\nfrom: a\nimport:\n- image: t\n  add: /a/../../b\n  after: install\n", "`import[0].add`: `/a/../../b` has a `..` segment"),
        ("project: p\nconfigVersion: 1\n---\nimage: t\nfrom: alpine\nshell:\n  setup: [x]\n---\nimage: x\nfrom: a\nimport:\n- image: t\n  stage: install\n  add: /a\n  after: install\n", "image `x`: `t` has no stage up to `install`: import from its base `alpine` instead"),
    ];
    for (yaml, want) in cases {
        let e = werf_graph::config::parse("werf.yaml", yaml)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{e}\nwant: {want}");
    }
}

#[test]
fn a_new_import_record_recomputes_only_the_stages_that_import() {
    let mut f = Fixture::new();
    f.db.enable_execution_log();
    let before = f.stages();
    let _ = f.db.take_execution_log();
    // A record for another source tag (an older `assets`, say) arrives with a listing.
    let mut sums = (**f.project.import_checksums(&f.db)).clone();
    sums.insert(format!("{}-000000000000", "0".repeat(56)), "1".repeat(48));
    f.project.set_import_checksums(&mut f.db).to(Arc::new(sums));
    let after = f.stages();
    let log = f.db.take_execution_log();
    let stage_plans: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("stage_plan("))
        .collect();
    // The stage that imports read the records: it alone is recomputed, to an equal digest, so
    // nothing after it runs again.
    assert_eq!(
        stage_plans,
        ["stage_plan(app/stapel-stage/dependenciesAfterSetup#1)"],
        "{log:#?}"
    );
    assert!(
        !log.iter().any(|l| l.starts_with("image_plan(app)")),
        "{log:#?}"
    );
    assert_eq!(before, after);
}

#[test]
fn a_save_outside_every_mapping_translates_no_stapel_image_again() {
    let mut f = Fixture::new();
    f.db.enable_execution_log();
    let before = f.stages();
    let _ = f.db.take_execution_log();
    f.set(&[("NOTES.md", "a file no mapping adds\n")]);
    let after = f.stages();
    let log = f.db.take_execution_log();
    assert!(
        !log.iter().any(|l| l.starts_with("stapel_translation(")),
        "{log:#?}"
    );
    assert_eq!(before, after);
    // An edit inside one mapping translates that image again, and only that one.
    f.set(&[
        ("NOTES.md", "a file no mapping adds\n"),
        ("app/main.py", "print(2)\n"),
    ]);
    f.stages();
    let log = f.db.take_execution_log();
    assert!(
        log.contains(&"stapel_translation(app)".to_string()),
        "{log:#?}"
    );
    assert!(
        !log.contains(&"stapel_translation(assets)".to_string()),
        "{log:#?}"
    );
}

/// The images each stage image of `image` reads, by werf stage.
fn stage_deps(
    config: &werf_graph::config::WerfConfig,
    image: &str,
) -> BTreeMap<String, Vec<String>> {
    config
        .images
        .iter()
        .filter_map(|i| {
            let s = i.stapel.as_ref().filter(|s| s.image == image)?;
            Some((
                s.stage.clone(),
                i.dependencies.iter().map(|d| d.image.clone()).collect(),
            ))
        })
        .collect()
}

#[test]
fn an_import_of_a_stage_reads_the_image_as_it_was_after_that_stage() {
    let yaml = "project: p\nconfigVersion: 1\n---\nimage: base\nfrom: alpine\n---\nartifact: tool\nfromImage: base\nshell:\n  beforeInstall: [a]\n  install: [b]\n  setup: [c]\n---\nimage: app\nfrom: alpine\nimport:\n- artifact: tool\n  stage: install\n  add: /i\n  after: install\n- artifact: tool\n  stage: beforeSetup\n  add: /bs\n  after: install\n- artifact: tool\n  stage: setup\n  add: /s\n  before: setup\n- artifact: tool\n  add: /last\n  before: setup\n- artifact: tool\n  stage: beforeInstall\n  add: /bi\n  before: setup\nshell:\n  install: [d]\n  setup: [e]\n---\nimage: early\nfromImage: base\nshell:\n  setup: [x]\n---\nimage: reader\nfrom: alpine\nimport:\n- image: early\n  stage: beforeInstall\n  add: /e\n  after: install\nshell:\n  install: [y]\n";
    let config = werf_graph::config::parse("werf.yaml", yaml).unwrap();
    let deps = stage_deps(&config, "app");
    // After install: tool's install stage; as of beforeSetup (tool has none): still its install
    // stage; after setup (its last stage): tool itself.
    assert_eq!(
        deps["dependenciesAfterInstall"],
        [
            "app/stapel-stage/install",
            "tool/stapel-stage/install",
            "tool/stapel-stage/install"
        ]
    );
    assert_eq!(
        deps["dependenciesBeforeSetup"],
        [
            "app/stapel-stage/dependenciesAfterInstall",
            "tool",
            "tool",
            "tool/stapel-stage/beforeInstall"
        ]
    );
    // An image with no stage that early is read as its base (a werf image).
    assert_eq!(
        stage_deps(&config, "reader")["dependenciesAfterInstall"],
        ["reader/stapel-stage/install", "base"]
    );
}

#[test]
fn import_filters_and_host_mount_paths_enter_their_stages_digests() {
    let mut f = Fixture::new();
    let before = f.stages();
    // A filter on the import: the importing stage and what follows change, the source does not.
    let filtered = WERF_YAML.replace(
        "  add: /src/dist\n",
        "  add: /src/dist\n  includePaths: ['**/*.js']\n  excludePaths: [maps]\n",
    );
    f.set(&[("werf.yaml", Box::leak(filtered.clone().into_boxed_str()))]);
    let after = f.stages();
    let mut got = changed(&before, &after);
    got.sort();
    assert_eq!(
        got,
        ["app/dependenciesAfterSetup", "app/dockerInstructions"]
    );
    // Another exclude: again only the importer.
    let other = filtered.replace("excludePaths: [maps]", "excludePaths: [tests]");
    f.set(&[("werf.yaml", Box::leak(other.into_boxed_str()))]);
    let again = f.stages();
    assert!(changed(&after, &again)
        .iter()
        .any(|g| g.starts_with("app/")));
    assert!(!changed(&after, &again)
        .iter()
        .any(|g| g.starts_with("assets/")));

    // A host folder mounted for the shell stages: its path enters them.
    let mounted = WERF_YAML.replace(
        "  installCacheVersion: '1'\n",
        "  installCacheVersion: '1'\nmount:\n- fromPath: .cache/npm\n  to: /root/.npm\n",
    );
    f.set(&[("werf.yaml", Box::leak(mounted.clone().into_boxed_str()))]);
    let m1 = f.stages();
    let mut got = changed(&again, &m1);
    got.retain(|g| g.starts_with("assets/"));
    got.sort();
    assert_eq!(
        got,
        [
            "assets/beforeInstall",
            "assets/gitLatestPatch",
            "assets/install",
            "assets/setup"
        ]
    );
    let moved = mounted.replace(".cache/npm", ".cache/npm2");
    f.set(&[("werf.yaml", Box::leak(moved.into_boxed_str()))]);
    assert!(changed(&m1, &f.stages()).contains(&"assets/beforeInstall".to_string()));
}

#[test]
fn the_stage_order_used_for_stage_imports_is_the_order_stages_are_made_in() {
    // An image with every stage: its stages appear in `STAGE_ORDER`'s order.
    let yaml = "project: p\nconfigVersion: 1\n---\nimage: src\nfrom: a\n---\nimage: all\nfrom: a\ngit:\n- add: /x\n  to: /x\n- add: /y\n  to: /y\n  stageDependencies:\n    install: [a]\n    beforeSetup: [b]\n    setup: [c]\nshell:\n  beforeInstall: [a]\n  install: [b]\n  beforeSetup: [c]\n  setup: [d]\nimport:\n- image: src\n  add: /a\n  before: install\n- image: src\n  add: /b\n  after: install\n- image: src\n  add: /c\n  before: setup\n- image: src\n  add: /d\n  after: setup\ndocker:\n  WORKDIR: /\n";
    let config = werf_graph::config::parse("werf.yaml", yaml).unwrap();
    let made: Vec<&str> = config
        .images
        .iter()
        .filter_map(|i| i.stapel.as_ref().filter(|s| s.image == "all"))
        .map(|s| s.stage.as_str())
        .collect();
    let order = werf_graph::stapel::translate::STAGE_ORDER;
    assert_eq!(
        made,
        order[1..].to_vec(),
        "every stage but `from`, in order"
    );
}
