//! `werf cleanup`, `werf purge` and `werf host cleanup` against a real registry with deletes
//! enabled and the real cluster; `skopeo list-tags` is the independent reader.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::cluster::cluster;
use crate::registry::{list_tags, skopeo, Registry};
use crate::support::{werf_in, Repo};

const WERF_YAML: &str = "project: tidy
configVersion: 1
cleanup:
  keepImagesBuiltWithinLastNHours: 0
  keepPolicies:
  - references:
      branch: main
    imagesPerReference:
      last: 2
  - references:
      branch: /^feature-/
      limit:
        in: 72h
  - references:
      tag: /^v/
      limit:
        last: 1
---
image: app
dockerfile: Dockerfile
context: app
---
image: base
dockerfile: Dockerfile
context: base
";

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Runs git in `dir` with the committer date `days` ago; returns stdout, trimmed.
fn git_ago(dir: &Path, days: i64, args: &[&str]) -> String {
    let date = format!("{} +0000", unix_now() - days * 86_400);
    crate::support::git_dated(dir, args, &date)
        .trim()
        .to_string()
}

/// Commits everything `days` ago; returns the commit id.
fn commit_ago(repo: &Repo, days: i64, message: &str) -> String {
    git_ago(repo.path(), days, &["add", "-A"]);
    git_ago(
        repo.path(),
        days,
        &["commit", "-q", "--allow-empty", "-m", message],
    );
    git_ago(repo.path(), days, &["rev-parse", "HEAD"])
}

/// The image tags at `commit`, from a dry-run build report.
fn tags_at(repo: &Repo, commit: &str) -> BTreeMap<String, String> {
    let report = tempfile::NamedTempFile::new().unwrap();
    let out = werf_in(
        repo.path(),
        repo.home.path(),
        &[
            "--commit",
            commit,
            "build",
            "--dry-run",
            "--save-build-report",
            "--build-report-path",
            report.path().to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.path()).unwrap()).unwrap();
    json["Images"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["DockerTag"].as_str().unwrap().to_string()))
        .collect()
}

fn build_at(repo: &Repo, commit: &str, registry: &str) {
    let out = werf_in(
        repo.path(),
        repo.home.path(),
        &["--commit", commit, "build", "--repo", registry],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Tag -> action from a saved report.
fn actions(path: &Path) -> BTreeMap<String, String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tag"].as_str().unwrap().to_string(),
                t["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn reasons(path: &Path, tag: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == tag)
        .unwrap_or_else(|| panic!("{tag} is in the report"))["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

struct History {
    repo: Repo,
    /// Name -> the app tag it stands for (`v1`, `v2`, `v3`, `hot`, `f-old`, `f-new`).
    app: BTreeMap<&'static str, String>,
    base: String,
}

/// main: c1 (app v1) - c2 (app v2) - c3 (app v3) - 24 docs commits - c4 (README only);
/// tags `v0.1` at c1 and `v0.2` at c2; `feature-old` (10 days) and `feature-new` (1 day);
/// `hotfix` (10 days, matched by no policy). Every commit built into `registry`.
fn history(registry: &str) -> History {
    let repo = Repo::new(&[
        ("werf.yaml", WERF_YAML),
        ("app/Dockerfile", "FROM scratch\nCOPY . /\n"),
        ("app/v.txt", "1\n"),
        ("base/Dockerfile", "FROM scratch\nCOPY . /\n"),
        ("base/b.txt", "b\n"),
    ]);
    let c1 = commit_ago(&repo, 30, "c1");
    git_ago(repo.path(), 30, &["tag", "v0.1"]);
    repo.write(&[("app/v.txt", "2\n")]);
    let c2 = commit_ago(&repo, 20, "c2");
    git_ago(repo.path(), 20, &["tag", "-a", "v0.2", "-m", "v0.2"]);
    repo.write(&[("app/v.txt", "3\n")]);
    let c3 = commit_ago(&repo, 5, "c3");
    // Dozens of commits that change no image: the walk reads them all, the engine plans each
    // tree once and cuts every image off early.
    for i in 0..24 {
        repo.write(&[("docs/notes.md", &format!("note {i}\n"))]);
        commit_ago(&repo, 5, &format!("docs {i}"));
    }
    repo.write(&[("README.md", "readme\n")]);
    let c4 = commit_ago(&repo, 4, "c4");
    git_ago(
        repo.path(),
        0,
        &["update-ref", "refs/remotes/origin/main", &c4],
    );
    let side = |name: &str, from: &str, days: i64, content: &str| {
        git_ago(repo.path(), days, &["checkout", "-q", "-b", name, from]);
        repo.write(&[("app/v.txt", content)]);
        let c = commit_ago(&repo, days, name);
        git_ago(
            repo.path(),
            0,
            &["update-ref", &format!("refs/remotes/origin/{name}"), &c],
        );
        git_ago(repo.path(), 0, &["checkout", "-q", "main"]);
        c
    };
    let f_old = side("feature-old", &c1, 10, "f-old\n");
    let f_new = side("feature-new", &c3, 1, "f-new\n");
    let hot = side("hotfix", &c2, 10, "hot\n");
    let mut app = BTreeMap::new();
    for (name, c) in [
        ("v1", &c1),
        ("v2", &c2),
        ("v3", &c3),
        ("f-old", &f_old),
        ("f-new", &f_new),
        ("hot", &hot),
    ] {
        build_at(&repo, c, registry);
        app.insert(name, tags_at(&repo, c)["app"].clone());
    }
    build_at(&repo, &c4, registry);
    assert_eq!(
        tags_at(&repo, &c4)["app"],
        app["v3"],
        "a README edit changes no tag"
    );
    let base = tags_at(&repo, &c1)["base"].clone();
    assert_eq!(tags_at(&repo, &c4)["base"], base);
    let distinct: BTreeSet<&String> = app.values().collect();
    assert_eq!(distinct.len(), 6, "{app:?}");
    History { repo, app, base }
}

#[test]
fn each_policy_keeps_what_it_names_dry_run_equals_the_real_run_and_purge_respects_the_cluster() {
    let reg = Registry::start();
    let registry = reg.repo("tidy");
    let h = history(&registry);
    let app = |n: &str| h.app[n].clone();
    // A tag werf-rs did not make, sharing the hotfix image's manifest.
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{registry}:{}", app("hot")),
        &format!("docker://{registry}:pinned"),
    ]);
    // A workload in the cluster uses v1.
    let c = cluster();
    let ns = "cleanup-users";
    c.kubectl_ok(&["create", "namespace", ns]);
    c.kubectl_ok(&[
        "-n",
        ns,
        "create",
        "deployment",
        "old-app",
        &format!("--image={registry}:{}", app("v1")),
        "--replicas=0",
    ]);
    let before = list_tags(&registry);
    assert_eq!(before.len(), 8, "{before:?}"); // six app tags, base, pinned

    let kubeconfig = c.kubeconfig.display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let dry_report = dir.path().join("dry.json");
    let real_report = dir.path().join("real.json");
    let run = |extra: &[&str]| {
        let mut args = vec!["cleanup", "--repo", &registry, "--kube-config", &kubeconfig];
        args.extend_from_slice(extra);
        werf_in(h.repo.path(), h.repo.home.path(), &args)
    };
    let out = run(&[
        "--dry-run",
        "--save-cleanup-report",
        dry_report.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(list_tags(&registry), before, "a dry run deletes nothing");
    assert!(
        // No kept reference reaches the old feature branch, so no walk names its image.
        stdout.contains(&format!("would delete `{registry}:{}`\n", app("f-old"))),
        "{stdout}"
    );

    let out = run(&["--save-cleanup-report", real_report.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dry = actions(&dry_report);
    let real = actions(&real_report);
    // The 24 commits that change `docs/` only carry both images over without asking the
    // engine; a commit that changes `app/` asks it again.
    let figures: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&dry_report).unwrap()).unwrap();
    let figures = &figures["history"];
    let carried = figures["imagePlansCarried"].as_u64().unwrap();
    assert!(carried >= 48, "{figures}");
    assert!(
        figures["imagePlans"].as_u64().unwrap() > carried,
        "{figures}"
    );
    let as_real: BTreeMap<String, String> = dry
        .iter()
        .map(|(t, a)| (t.clone(), a.replace("would-delete", "deleted")))
        .collect();
    assert_eq!(
        as_real, real,
        "the dry run said exactly what the real run did"
    );

    let deleted: BTreeSet<String> = real
        .iter()
        .filter(|(_, a)| *a == "deleted")
        .map(|(t, _)| t.clone())
        .collect();
    // Only the old feature branch's image: main keeps v3 and v2 (its last two), feature-new
    // keeps its own, tag policy keeps v0.2's (= v2), the cluster keeps v1, `pinned` keeps the
    // hotfix image's manifest.
    assert_eq!(deleted, [app("f-old")].into_iter().collect::<BTreeSet<_>>());
    let after = list_tags(&registry);
    let expected: BTreeSet<String> = before.difference(&deleted).cloned().collect();
    assert_eq!(after, expected, "skopeo sees exactly the kept tags");

    let why = |t: &str| reasons(&real_report, t).join(" | ");
    assert!(
        why(&app("v3")).contains("branch `main` needs it for image `app`"),
        "{}",
        why(&app("v3"))
    );
    assert!(
        why(&app("v2")).contains("branch `main` needs it"),
        "{}",
        why(&app("v2"))
    );
    assert!(
        why(&app("v2")).contains("tag `v0.2` needs it"),
        "{}",
        why(&app("v2"))
    );
    assert!(
        !why(&app("v2")).contains("tag `v0.1`"),
        "{}",
        why(&app("v2"))
    );
    assert!(
        why(&app("f-new")).contains("branch `feature-new`"),
        "{}",
        why(&app("f-new"))
    );
    assert!(
        why(&app("v1")).contains(&format!("used by Deployment `{ns}/old-app`")),
        "{}",
        why(&app("v1"))
    );
    assert!(
        why(&app("hot")).contains("its manifest is also kept tag `pinned`'s"),
        "{}",
        why(&app("hot"))
    );
    assert_eq!(why("pinned"), "not a werf-rs image tag");
    assert!(
        why(&h.base).contains("branch `main` needs it for image `base`"),
        "{}",
        why(&h.base)
    );

    // A second run finds nothing more to delete.
    let out = run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("7 tags in"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(list_tags(&registry), expected);

    // Purge refuses while the cluster uses an image, then deletes every werf-rs tag but the one
    // `pinned` shares.
    let purge = |extra: &[&str]| {
        let mut args = vec!["purge", "--repo", &registry, "--kube-config", &kubeconfig];
        args.extend_from_slice(extra);
        werf_in(h.repo.path(), h.repo.home.path(), &args)
    };
    let out = purge(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 image of"), "{stderr}");
    assert!(stderr.contains("pass `--force`"), "{stderr}");
    assert_eq!(
        list_tags(&registry),
        expected,
        "a refused purge deletes nothing"
    );
    let out = purge(&["--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        list_tags(&registry),
        ["pinned".to_string(), app("hot")]
            .into_iter()
            .collect::<BTreeSet<_>>()
    );
    c.kubectl_ok(&["delete", "namespace", ns, "--wait=false"]);
}

#[test]
fn an_unknown_tag_is_fresh_an_unreachable_cluster_stops_and_a_half_done_run_is_finished() {
    let reg = Registry::start();
    let registry = reg.repo("tidy2");
    let h = history(&registry);
    let before = list_tags(&registry);
    let run = |home: &Path, extra: &[&str]| {
        let mut args = vec!["cleanup", "--repo", &registry];
        args.extend_from_slice(extra);
        werf_in(h.repo.path(), home, &args)
    };

    // An unreachable cluster: a clear error naming the context, nothing deleted.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: far-away\n  context:\n    cluster: gone\n    user: u\nusers:\n- name: u\n  user:\n    token: s3cr3t-token\ncurrent-context: far-away\n"
        ),
    )
    .unwrap();
    let out = run(
        h.repo.home.path(),
        &[
            "--kube-config",
            kubeconfig.to_str().unwrap(),
            "--connect-timeout",
            "2s",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Kubernetes context `far-away`"), "{stderr}");
    assert!(stderr.contains("--without-kube"), "{stderr}");
    assert!(!stderr.contains("s3cr3t-token"), "{stderr}");
    assert_eq!(list_tags(&registry), before);

    // Another machine (a new home) has no record of when any tag appeared: all fresh.
    let other_home = tempfile::tempdir().unwrap();
    let report = dir.path().join("fresh.json");
    let out = run(
        other_home.path(),
        &[
            "--without-kube",
            "--save-cleanup-report",
            report.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(list_tags(&registry), before);
    assert!(reasons(&report, &h.app["f-old"])
        .contains(&"fresh: no record of when it appeared".to_string()));

    // A run killed half-way: one of the tags to delete is already gone (as if the previous run
    // deleted it and died); this run deletes the rest.
    let dry = dir.path().join("dry.json");
    let out = run(
        h.repo.home.path(),
        &[
            "--without-kube",
            "--dry-run",
            "--save-cleanup-report",
            dry.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doomed: BTreeSet<String> = actions(&dry)
        .into_iter()
        .filter(|(_, a)| a == "would-delete")
        .map(|(t, _)| t)
        .collect();
    // Without the cluster, v1 goes too; hotfix was never kept.
    let want: BTreeSet<String> = [
        h.app["f-old"].clone(),
        h.app["v1"].clone(),
        h.app["hot"].clone(),
    ]
    .into_iter()
    .collect();
    assert_eq!(doomed, want);
    skopeo(&[
        "delete",
        "--tls-verify=false",
        &format!("docker://{registry}:{}", h.app["v1"]),
    ]);
    let out = run(h.repo.home.path(), &["--without-kube"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: BTreeSet<String> = before.difference(&want).cloned().collect();
    assert_eq!(list_tags(&registry), expected);
}

#[test]
fn two_cleanups_and_a_build_at_once_delete_only_what_the_policies_drop() {
    let reg = Registry::start();
    let registry = reg.repo("tidy3");
    let h = history(&registry);
    let before = list_tags(&registry);
    // A new commit on main, built while two cleanups run. Whichever order things happen in,
    // the result is the same: a cleanup that lists before the push never sees the new tag (and
    // keeps v3 and v2 for main), one that lists after keeps it for main (with v3; v2 stays for
    // tag `v0.2`); two runs deleting the same manifest both succeed.
    h.repo.write(&[("app/v.txt", "4\n")]);
    let c5 = commit_ago(&h.repo, 0, "c5");
    git_ago(
        h.repo.path(),
        0,
        &["update-ref", "refs/remotes/origin/main", &c5],
    );
    let new_tag = tags_at(&h.repo, &c5)["app"].clone();
    assert!(!before.contains(&new_tag));
    let spawn = |args: &[&str]| {
        crate::support::werf_cmd(h.repo.path(), h.repo.home.path(), args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let cleanup = ["cleanup", "--repo", registry.as_str(), "--without-kube"];
    let build = ["build", "--repo", registry.as_str()];
    let children = [spawn(&cleanup), spawn(&build), spawn(&cleanup)];
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Without the cluster: v1 (no kept reference), the old feature branch and the hotfix go.
    let dropped: BTreeSet<String> = [&h.app["v1"], &h.app["f-old"], &h.app["hot"]]
        .into_iter()
        .cloned()
        .collect();
    let mut expected: BTreeSet<String> = before.difference(&dropped).cloned().collect();
    expected.insert(new_tag);
    assert_eq!(list_tags(&registry), expected);
}

#[test]
fn purge_answers_the_registrys_credentials_challenge_and_a_registry_without_deletes_is_named() {
    let reg = Registry::start_with_auth();
    let registry = reg.repo("locked");
    let mut repo = Repo::new(&[
        (
            "werf.yaml",
            "project: locked\nconfigVersion: 1\n---\nimage: app\ndockerfile: Dockerfile\n",
        ),
        ("Dockerfile", "FROM scratch\nCOPY . /\n"),
    ]);
    repo.commit("init");
    let docker = reg.docker_config();
    let env = [("DOCKER_CONFIG", docker.path().to_str().unwrap())];
    let out = repo.werf_env(&["build", "--repo", &registry], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = repo.werf_env(&["purge", "--repo", &registry, "--without-kube"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 tag in"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let listed = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        "--creds",
        "werf:secret",
        &format!("docker://{registry}"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert!(
        v["Tags"].as_array().is_none_or(|t| t.is_empty()),
        "{listed}"
    );

    // A registry that does not allow deletes: a clear error, the tag still there.
    let plain = Registry::start_without_deletes();
    let registry = plain.repo("kept");
    let out = repo.werf(&["build", "--repo", &registry]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = repo.werf(&["purge", "--repo", &registry, "--without-kube"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the registry does not allow deletes"),
        "{stderr}"
    );
    assert_eq!(list_tags(&registry).len(), 1);
}

#[test]
fn host_cleanup_bounds_the_home_folder_and_reports_what_it_removed() {
    let repo = Repo::new(&[
        (
            "werf.yaml",
            "project: host\nconfigVersion: 1\n---\nimage: app\ndockerfile: Dockerfile\n",
        ),
        ("Dockerfile", "FROM scratch\nCOPY . /\n"),
    ]);
    let mut repo = repo;
    repo.commit("init");
    let out = repo.werf(&["build", "--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Records are `v1/<namespace>/<2 hex>/<62 hex>` (not temp files, locks or stamps).
    let records = |home: &Path| {
        let root = home.join("v1").display().to_string();
        walkdir(home.join("v1"))
            .into_iter()
            .filter_map(|p| p.strip_prefix(&root).map(String::from))
            .filter(|p| {
                p.split('/').count() == 4 && !p.starts_with("/tmp/") && !p.starts_with("/locks/")
            })
            .count()
    };
    let before = records(repo.home.path());
    assert!(
        before > 0,
        "the build left cache records: {:?}",
        walkdir(repo.home.path().to_path_buf())
    );
    let out = repo.werf(&[
        "host",
        "cleanup",
        "--dry-run",
        "--max-size",
        "0",
        "--allowed-disk-usage-percentage",
        "100",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("would remove {before} cache records")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(records(repo.home.path()), before);
    let out = repo.werf(&[
        "host",
        "cleanup",
        "--max-size",
        "0",
        "--allowed-disk-usage-percentage",
        "100",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(records(repo.home.path()), 0);
    // Buildah's storage is spared while another werf-rs process runs (here one waiting on its
    // editor), and removed once none does.
    let buildah = repo.home.path().join("buildah/root");
    std::fs::create_dir_all(&buildah).unwrap();
    std::fs::write(buildah.join("layer"), vec![7u8; 4096]).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("editing");
    let editor = scratch.path().join("editor.sh");
    std::fs::write(
        &editor,
        format!("#!/bin/sh\ntouch '{}'\nsleep 3\n", marker.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut editing = crate::support::werf_cmd(
        repo.path(),
        repo.home.path(),
        &["helm", "secret", "values", "edit", "secret-values.yaml"],
    )
    .env("EDITOR", &editor)
    .env("WERF_SECRET_KEY", "0123456789abcdef0123456789abcdef")
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    while !marker.exists() {
        assert!(
            editing.try_wait().unwrap().is_none(),
            "the edit ended early"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let trim = [
        "host",
        "cleanup",
        "--max-size",
        "0",
        "--allowed-disk-usage-percentage",
        "100",
    ];
    let out = repo.werf(&trim);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("0 bytes of buildah storage (spared: other werf-rs processes are running)"),
        "{stdout}"
    );
    assert!(buildah.join("layer").exists());
    assert!(editing.wait().unwrap().success());
    let out = repo.werf(&trim);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("4096 bytes of buildah storage, "),
        "{stdout}"
    );
    assert!(!repo.home.path().join("buildah").exists());

    // The next plan recomputes what it needs and gives the same tag.
    let out = repo.werf(&["build", "--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(records(repo.home.path()) > 0);
}

fn walkdir(dir: std::path::PathBuf) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn cleanup_in_a_shallow_single_branch_clone_fetches_the_rest_or_deletes_nothing() {
    let reg = Registry::start();
    let registry = reg.repo("tidy");
    let h = history(&registry);
    let origin = format!("file://{}", h.repo.path().display());
    let work = tempfile::tempdir().unwrap();
    let clone = |name: &str| {
        let dir = work.path().join(name);
        git_out(
            work.path(),
            &[
                "clone",
                "-q",
                "--depth",
                "1",
                "--single-branch",
                "--branch",
                "main",
                &origin,
                dir.to_str().unwrap(),
            ],
        );
        dir
    };
    let before = list_tags(&registry);

    // 1. Fetching and unshallowing forbidden: refused, nothing deleted.
    let strict = clone("strict");
    let yaml = WERF_YAML.replacen(
        "configVersion: 1\n",
        "configVersion: 1\ngitWorktree:\n  allowFetchOriginBranchesAndTags: false\n  allowUnshallow: false\n",
        1,
    );
    std::fs::write(strict.join("werf.yaml"), yaml).unwrap();
    git_out(
        &strict,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qam",
            "strict",
        ],
    );
    let home = tempfile::tempdir().unwrap();
    let run = |dir: &Path| {
        werf_in(
            dir,
            home.path(),
            &["cleanup", "--repo", &registry, "--without-kube"],
        )
    };
    let out = run(&strict);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the clone is shallow and `gitWorktree.allowUnshallow` is false"),
        "{stderr}"
    );
    assert!(
        stderr.contains("never deletes on a partial view"),
        "{stderr}"
    );
    // Unshallowed by hand, still one branch: refused again.
    git_out(&strict, &["fetch", "-q", "--unshallow"]);
    let out = run(&strict);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the clone tracks only some of `origin`'s branches"),
        "{stderr}"
    );
    assert_eq!(list_tags(&registry), before, "nothing deleted");

    // 2. As werf allows by default: the other branches and tags are fetched, the clone
    // unshallowed, and feature-new keeps its image by its own policy.
    let ci = clone("ci");
    assert_eq!(
        git_out(&ci, &["rev-parse", "--is-shallow-repository"]),
        "true"
    );
    let report = work.path().join("report.json");
    let out = werf_in(
        &ci,
        home.path(),
        &[
            "cleanup",
            "--repo",
            &registry,
            "--without-kube",
            "--dry-run",
            "--save-cleanup-report",
            report.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        git_out(&ci, &["rev-parse", "--is-shallow-repository"]),
        "false"
    );
    let branches = git_out(&ci, &["branch", "-r", "--format=%(refname:short)"]);
    for b in ["origin/feature-new", "origin/feature-old", "origin/hotfix"] {
        assert!(branches.lines().any(|l| l == b), "{b} in {branches}");
    }
    let why = reasons(&report, &h.app["f-new"]).join(" | ");
    assert!(why.contains("branch `feature-new`"), "{why}");
    assert_eq!(actions(&report)[&h.app["f-new"]], "kept");
}
