//! Stapel images built into a real registry (buildah for shell stages, the native builder for
//! the rest) and read back with skopeo and umoci; mixed with Dockerfile images both ways.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

use serde_json::Value;

use crate::registry::{push_busybox_image_with, skopeo_inspect, unpack, Registry};
use crate::support::Repo;

fn werf_yaml(base: &str) -> String {
    format!(
        "project: shop
configVersion: 1
---
artifact: assets
from: {base}
git:
- add: /assets
  to: /src
  excludePaths: [docs]
  stageDependencies:
    install: [package.json]
    setup: ['*.js']
shell:
  install:
  - cat /src/package.json > /deps.txt
  setup:
  - mkdir -p /out
  - cp /src/main.js /out/main.js
  - cat /deps.txt >> /out/main.js
  - echo scratch > /tmp/scratch/f
  - cp /tmp/scratch/f /out/scratch.txt
mount:
- from: tmp_dir
  to: /tmp/scratch
- from: build_dir
  to: /var/cache/build
---
image: app
fromImage: base
git:
- add: /app
  to: /app
  owner: '1000'
  group: '1000'
  includePaths: ['**/*.py']
import:
- artifact: assets
  add: /out
  to: /app/static
  after: setup
docker:
  WORKDIR: /app
  ENV:
    MODE: prod
  CMD: [sh, -c, 'cat /app/main.py']
---
image: base
dockerfile: Dockerfile
---
image: edge
dockerfile: edge.Dockerfile
dependencies:
- image: app
  imports:
  - type: ImageName
    targetBuildArg: APP
"
    )
}

fn build(r: &Repo, repo: &str) -> (bool, String, Value) {
    crate::support::build_with_report(r, repo, &["--backend", "buildah"], &[])
}

fn rebuilt(report: &Value) -> BTreeMap<String, bool> {
    crate::support::rebuilt_images(report)
}

/// Stage -> rebuilt, for a Stapel image of the report, in werf's order.
fn stages(report: &Value, image: &str) -> Vec<(String, bool)> {
    report["Images"][image]["Stages"]
        .as_array()
        .unwrap_or_else(|| panic!("{image} has stages: {report}"))
        .iter()
        .map(|s| {
            (
                s["Name"].as_str().unwrap().to_string(),
                s["Rebuilt"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Image -> rebuilt, as the report's are compared.
fn by_image(v: &[(&str, bool)]) -> BTreeMap<String, bool> {
    v.iter().map(|(k, b)| (k.to_string(), *b)).collect()
}

fn owned(v: &[(&str, bool)]) -> Vec<(String, bool)> {
    v.iter().map(|(k, b)| (k.to_string(), *b)).collect()
}

#[test]
fn a_stapel_project_mixed_with_dockerfiles_builds_and_reads_back() {
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let base = reg.repo("base/busybox:1");
    push_busybox_image_with(&base, work.path(), &["sh", "cat", "echo", "mkdir", "cp"]);
    let yaml = werf_yaml(&base);
    let dockerfile = format!("FROM {base}\nCOPY base.txt /base.txt\n");
    let mut r = Repo::new(&[
        ("werf.yaml", &yaml),
        ("Dockerfile", &dockerfile),
        ("base.txt", "base\n"),
        (
            "edge.Dockerfile",
            "ARG APP\nFROM ${APP}\nCOPY edge.txt /edge.txt\n",
        ),
        ("edge.txt", "edge\n"),
        ("assets/package.json", "{\"name\": \"a\"}\n"),
        ("assets/main.js", "console.log(1)\n"),
        ("assets/docs/readme.md", "docs\n"),
        ("app/main.py", "print(1)\n"),
        ("app/run.py*", "#!/usr/bin/env python3\n"),
        ("app/lib/util.py", "x = 1\n"),
        ("app/notes.txt", "notes\n"),
    ]);
    r.commit("init");
    let repo = reg.repo("shop");
    let (ok, out, report) = build(&r, &repo);
    assert!(ok, "{out}");
    assert_eq!(
        rebuilt(&report),
        by_image(&[
            ("app", true),
            ("assets", true),
            ("base", true),
            ("edge", true)
        ])
    );
    let tag = |name: &str| {
        report["Images"][name]["DockerTag"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // The app image: the base's file, the mapping's selection with its owner, the artifact's
    // output (made by its shell stages from the files its stages depend on), docker settings.
    let app = format!("{repo}:{}", tag("app"));
    let config = skopeo_inspect(&app, true);
    assert_eq!(config["config"]["WorkingDir"], "/app");
    assert!(
        config["config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&Value::from("MODE=prod")),
        "{config}"
    );
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::json!(["sh", "-c", "cat /app/main.py"])
    );
    let rootfs = unpack(&app, work.path());
    assert_eq!(
        std::fs::read_to_string(rootfs.join("base.txt")).unwrap(),
        "base\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("app/main.py")).unwrap(),
        "print(1)\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("app/lib/util.py")).unwrap(),
        "x = 1\n"
    );
    assert!(
        !rootfs.join("app/notes.txt").exists(),
        "includePaths selects only *.py"
    );
    let meta = std::fs::metadata(rootfs.join("app/main.py")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1000, 1000));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o644);
    let run = std::fs::metadata(rootfs.join("app/run.py")).unwrap();
    assert_eq!(
        run.permissions().mode() & 0o777,
        0o755,
        "Git's executable bit"
    );
    // A `tmp_dir` mount is there while the stage runs, and not in the image.
    assert_eq!(
        std::fs::read_to_string(rootfs.join("app/static/scratch.txt")).unwrap(),
        "scratch\n"
    );
    std::fs::create_dir_all(work.path().join("assets")).unwrap();
    let assets = format!("{repo}:{}", tag("assets"));
    let assets_root = unpack(&assets, &work.path().join("assets"));
    assert!(assets_root.join("out/main.js").exists());
    assert!(
        !assets_root.join("tmp/scratch/f").exists(),
        "tmp_dir is not in the image"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("app/static/main.js")).unwrap(),
        "console.log(1)\n{\"name\": \"a\"}\n"
    );
    // The Dockerfile image on top of the Stapel one.
    let edge = format!("{repo}:{}", tag("edge"));
    std::fs::create_dir_all(work.path().join("edge")).unwrap();
    let edge_root = unpack(&edge, &work.path().join("edge"));
    assert_eq!(
        std::fs::read_to_string(edge_root.join("edge.txt")).unwrap(),
        "edge\n"
    );
    assert_eq!(
        std::fs::read_to_string(edge_root.join("app/main.py")).unwrap(),
        "print(1)\n"
    );

    // Nothing changed: nothing built.
    let (ok, out, report) = build(&r, &repo);
    assert!(ok, "{out}");
    assert!(rebuilt(&report).values().all(|b| !*b), "{report}");

    // The artifact is rebuilt (a file only its latest patch copies) and outputs the same files:
    // its importer and the image on top are not rebuilt (imports enter by content), and the
    // import's checksum is recorded in the repository as a tag.
    let records = |repo: &str| -> Vec<String> {
        crate::registry::list_tags(repo)
            .into_iter()
            .filter(|t| t.starts_with("imp-"))
            .collect()
    };
    assert_eq!(records(&repo).len(), 1, "one import, one record");
    r.write(&[("assets/README", "not copied to /out\n")]);
    r.commit("readme");
    let (ok, out, report) = build(&r, &repo);
    assert!(ok, "{out}");
    assert_eq!(
        rebuilt(&report),
        by_image(&[
            ("app", false),
            ("assets", true),
            ("base", false),
            ("edge", false)
        ])
    );
    assert_eq!(
        stages(&report, "assets"),
        owned(&[
            ("install", false),
            ("setup", false),
            ("gitLatestPatch", true)
        ])
    );
    assert_eq!(
        records(&repo).len(),
        2,
        "the new artifact's import is recorded"
    );
    // A dry run with the repository reads the records its last build left: same tags.
    let planned = crate::support::tags_for(r.path(), r.home.path(), Some(&repo));
    assert_eq!(
        planned.get("app"),
        Some(
            &report["Images"]["app"]["DockerTag"]
                .as_str()
                .unwrap()
                .to_string()
        )
    );

    // A file no stage selects changes no image.
    r.write(&[
        ("app/notes.txt", "notes 2\n"),
        ("assets/docs/readme.md", "docs 2\n"),
    ]);
    r.commit("unselected");
    let (ok, out, report) = build(&r, &repo);
    assert!(ok, "{out}");
    assert!(rebuilt(&report).values().all(|b| !*b), "{report}");

    // The artifact's source (a setup dependency): from `setup` on, on top of the stored
    // `install` stage; the app from the stage importing it; the image on top.
    r.write(&[("assets/main.js", "console.log(2)\n")]);
    r.commit("source");
    let (ok, out, report) = build(&r, &repo);
    assert!(ok, "{out}");
    assert_eq!(
        rebuilt(&report),
        by_image(&[
            ("app", true),
            ("assets", true),
            ("base", false),
            ("edge", true)
        ])
    );
    assert_eq!(
        stages(&report, "assets"),
        owned(&[
            ("install", false),
            ("setup", true),
            ("gitLatestPatch", true)
        ])
    );
    assert_eq!(
        stages(&report, "app"),
        owned(&[
            ("gitArchive", false),
            ("dependenciesAfterSetup", true),
            ("dockerInstructions", true)
        ])
    );
    let app = format!(
        "{repo}:{}",
        report["Images"]["app"]["DockerTag"].as_str().unwrap()
    );
    std::fs::create_dir_all(work.path().join("second")).unwrap();
    let rootfs = unpack(&app, &work.path().join("second"));
    assert_eq!(
        std::fs::read_to_string(rootfs.join("app/static/main.js")).unwrap(),
        "console.log(2)\n{\"name\": \"a\"}\n"
    );

    // An install dependency: install and after.
    r.write(&[("assets/package.json", "{\"name\": \"b\"}\n")]);
    r.commit("deps");
    let (ok, out, report) = build(&r, &repo);
    assert!(ok, "{out}");
    assert_eq!(
        stages(&report, "assets"),
        owned(&[("install", true), ("setup", true), ("gitLatestPatch", true)])
    );

    // Another clone plans the same tags, the importers' included.
    let (_keep, clone) = r.clone_elsewhere();
    let other = crate::support::tags_for(&clone, r.home.path(), Some(&repo));
    let here = crate::support::tags_for(r.path(), r.home.path(), Some(&repo));
    assert!(
        here.contains_key("app") && here.contains_key("edge"),
        "{here:?}"
    );
    assert_eq!(other, here);
    // Without the repository the importers' tags are pending, and said so.
    let out = crate::support::werf_in(r.path(), r.home.path(), &["build", "--dry-run"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("app  tag pending"), "{stdout}");
    assert!(stdout.contains("edge  tag pending"), "{stdout}");
}

#[test]
fn a_failing_shell_command_names_the_image_stage_and_command_and_keeps_the_output() {
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let base = reg.repo("base/busybox:1");
    push_busybox_image_with(&base, work.path(), &["sh", "cat", "echo"]);
    let yaml = format!(
        "project: fail\nconfigVersion: 1\n---\nimage: broken\nfrom: {base}\nshell:\n  install:\n  - echo about to fail\n  - cat /no/such/file\n"
    );
    let mut r = Repo::new(&[("werf.yaml", &yaml)]);
    r.commit("init");
    let (ok, out, _) = build(&r, &reg.repo("fail"));
    assert!(!ok, "{out}");
    assert!(out.contains("`broken`"), "{out}");
    assert!(out.contains("install"), "{out}");
    assert!(out.contains("cat /no/such/file"), "{out}");
    assert!(out.contains("about to fail"), "{out}");
}

#[test]
fn stage_imports_filtered_imports_and_host_mounts_build_and_read_back() {
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let base = reg.repo("base/busybox:1");
    push_busybox_image_with(&base, work.path(), &["sh", "cat", "echo", "mkdir", "cp"]);
    // `tool` writes `/out` in install and again in setup; `app` takes the install stage's
    // `/out` filtered, and the last stage's whole; `cached` reads a host folder while it runs.
    let yaml = format!(
        "project: imp\nconfigVersion: 1\n---\nartifact: tool\nfrom: {base}\nshell:\n  install:\n  - mkdir -p /out/lib /out/doc /out/lib/debug\n  - echo installed > /out/lib/a.so\n  - echo notes > /out/lib/a.txt\n  - echo doc > /out/doc/d.txt\n  - echo dbg > /out/lib/debug/x.so\n  setup:\n  - echo set-up > /out/lib/a.so\n---\nimage: app\nfrom: {base}\nimport:\n- artifact: tool\n  stage: install\n  add: /out\n  to: /early\n  includePaths: ['lib/*.so', lib/debug]\n  excludePaths: [lib/debug]\n  after: install\n- artifact: tool\n  add: /out/lib/a.so\n  to: /late.so\n  after: install\nshell:\n  install: [echo app]\n---\nimage: cached\nfrom: {base}\nmount:\n- fromPath: host-cache\n  to: /host\nshell:\n  install:\n  - cp /host/seed.txt /seen.txt\n"
    );
    let mut r = Repo::new(&[
        ("werf.yaml", &yaml),
        (
            "werf-giterminism.yaml",
            "giterminismConfigVersion: 1\nconfig:\n  stapel:\n    mount:\n      allowFromPaths: [host-cache]\n",
        ),
    ]);
    r.commit("init");
    std::fs::create_dir(r.path().join("host-cache")).unwrap();
    std::fs::write(r.path().join("host-cache/seed.txt"), "from the host\n").unwrap();
    let repo = reg.repo("imp");
    let (ok, out, report) = build(&r, &repo);
    assert!(ok, "{out}");
    let tag = |image: &str| {
        report["Images"][image]["DockerTag"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let app = unpack(&format!("{repo}:{}", tag("app")), work.path());
    let mut early: Vec<String> = walkdir(&app.join("early"));
    early.sort();
    assert_eq!(
        early,
        ["lib", "lib/a.so"],
        "only the included, not the excluded"
    );
    assert_eq!(
        std::fs::read_to_string(app.join("early/lib/a.so")).unwrap(),
        "installed\n",
        "as of install"
    );
    assert_eq!(
        std::fs::read_to_string(app.join("late.so")).unwrap(),
        "set-up\n",
        "as of the last stage"
    );

    std::fs::create_dir(work.path().join("c")).unwrap();
    let cached = unpack(&format!("{repo}:{}", tag("cached")), &work.path().join("c"));
    assert_eq!(
        std::fs::read_to_string(cached.join("seen.txt")).unwrap(),
        "from the host\n"
    );
    assert!(
        walkdir(&cached.join("host")).is_empty(),
        "the host folder is mounted, not copied"
    );
}

/// Paths below `dir`, relative, folders included (empty when `dir` is missing).
fn walkdir(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

#[test]
fn a_chain_of_imports_is_cut_off_by_content_at_each_link_and_its_records_follow_their_sources() {
    // No shell stages: every image is built natively. `c` imports from `b`, which imports a
    // filtered part of `a`.
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let base = reg.repo("base/busybox:1");
    push_busybox_image_with(&base, work.path(), &["sh"]);
    let yaml = format!(
        "project: chain\nconfigVersion: 1\ncleanup:\n  keepImagesBuiltWithinLastNHours: 0\n  keepPolicies:\n  - references:\n      tag: /^v/\n---\nartifact: a\nfrom: {base}\ngit:\n- add: /a\n  to: /src\n---\nartifact: b\nfrom: {base}\nimport:\n- artifact: a\n  add: /src\n  to: /b\n  includePaths: [keep.txt]\n  after: install\n---\nimage: c\nfrom: {base}\nimport:\n- artifact: b\n  add: /b\n  to: /c\n  after: install\n"
    );
    let mut r = Repo::new(&[
        ("werf.yaml", &yaml),
        ("a/keep.txt", "kept\n"),
        ("a/other.txt", "other\n"),
    ]);
    r.commit("init");
    let repo = reg.repo("chain");
    let build = |r: &Repo| crate::support::build_with_report(r, &repo, &[], &[]);
    let records = || -> Vec<String> {
        crate::registry::list_tags(&repo)
            .into_iter()
            .filter(|t| t.starts_with("imp-"))
            .collect()
    };
    let (ok, out, report) = build(&r);
    assert!(ok, "{out}");
    let want = |a: bool, b: bool, c: bool| by_image(&[("a", a), ("b", b), ("c", c)]);
    assert_eq!(rebuilt(&report), want(true, true, true));
    assert_eq!(records().len(), 2, "one record per import");

    // `werf graph`: without the repository the importers are drawn pending; with it, the
    // records give their tags, and the registry has them.
    let graph = |extra: &[&str]| -> BTreeMap<String, (String, String)> {
        let mut args = vec!["graph", "--format", "json"];
        args.extend_from_slice(extra);
        let out = crate::support::werf_in(r.path(), r.home.path(), &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "image")
            .map(|n| {
                (
                    n["label"].as_str().unwrap().to_string(),
                    (
                        n["digest"].as_str().unwrap().to_string(),
                        n["state"].as_str().unwrap_or_default().to_string(),
                    ),
                )
            })
            .collect()
    };
    let offline = graph(&[]);
    assert_eq!(offline.len(), 3, "{offline:?}");
    assert!(
        offline["b"]
            .1
            .starts_with("pending: waits for the checksum of `/src` from `a`"),
        "{offline:?}"
    );
    assert!(offline["c"].1.starts_with("pending"), "{offline:?}");
    assert_eq!(offline["c"].0, "", "no digest while pending");
    let online = graph(&["--repo", &repo]);
    for name in ["a", "b", "c"] {
        let tag = report["Images"][name]["DockerTag"].as_str().unwrap();
        assert!(online[name].0.starts_with(tag), "{name}: {online:?}");
        assert_eq!(online[name].1, "in the registry", "{name}");
    }
    let c_tag = report["Images"]["c"]["DockerTag"]
        .as_str()
        .unwrap()
        .to_string();
    let root = unpack(&format!("{repo}:{c_tag}"), work.path());
    assert_eq!(
        std::fs::read_to_string(root.join("c/keep.txt")).unwrap(),
        "kept\n"
    );
    assert!(
        !root.join("c/other.txt").exists(),
        "the filter of `b`'s import"
    );

    // A file `a` copies but `b` filters out: `a` is rebuilt, `b`'s import is the same files, so
    // `b` and `c` keep their tags and are not built.
    r.write(&[("a/other.txt", "other 2\n")]);
    r.commit("other");
    let (ok, out, report) = build(&r);
    assert!(ok, "{out}");
    assert_eq!(rebuilt(&report), want(true, false, false));
    assert_eq!(report["Images"]["c"]["DockerTag"], c_tag.as_str());
    assert_eq!(records().len(), 3, "the new `a` has its record");

    // The file `b` takes: every link rebuilt.
    r.write(&[("a/keep.txt", "kept 2\n")]);
    r.commit("keep");
    let (ok, out, report) = build(&r);
    assert!(ok, "{out}");
    assert_eq!(rebuilt(&report), want(true, true, true));
    let c2 = report["Images"]["c"]["DockerTag"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::create_dir_all(work.path().join("second")).unwrap();
    let root = unpack(&format!("{repo}:{c2}"), &work.path().join("second"));
    assert_eq!(
        std::fs::read_to_string(root.join("c/keep.txt")).unwrap(),
        "kept 2\n"
    );

    // Each record is an image manifest of its own, readable by skopeo, naming its checksum.
    let record = records().into_iter().next().unwrap();
    let config = skopeo_inspect(&format!("{repo}:{record}"), true);
    let checksum = record.rsplit('-').next().unwrap();
    assert_eq!(
        config["config"]["Labels"]["werf-rs.import.checksum"], checksum,
        "{config}"
    );

    // A cleanup keeping the tagged commit's images: its importers' tags are found through the
    // records, and a record stays exactly while the image it is about stays.
    crate::support::git_in(r.path(), &["tag", "v3"], 0);
    let out = crate::support::werf_in(
        r.path(),
        r.home.path(),
        &["cleanup", "--repo", &repo, "--without-kube"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            report["Images"][*n]["DockerTag"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let left = crate::registry::list_tags(&repo);
    let (records, images): (Vec<&String>, Vec<&String>) =
        left.iter().partition(|t| t.starts_with("imp-"));
    let mut images: Vec<String> = images.into_iter().cloned().collect();
    images.sort();
    let mut want_images = head.clone();
    want_images.sort();
    assert_eq!(images, want_images, "only the tagged commit's images");
    let mut sources: Vec<&str> = records
        .iter()
        .map(|t| t.trim_start_matches("imp-").split('-').next().unwrap())
        .collect();
    sources.sort();
    let mut want_sources = vec![head[0].as_str(), head[1].as_str()];
    want_sources.sort();
    assert_eq!(
        sources, want_sources,
        "the records of `a` and `b` at v3: {left:?}"
    );
}
