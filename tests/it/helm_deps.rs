//! `werf helm dependency update|build` against real repositories: an OCI registry holding charts
//! that Helm 4 pushed, a static HTTP server with an `index.yaml` that Helm 4 wrote, and a local
//! `file://` chart; checked against Helm 4's own `dependency update` of the same chart.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helm_diff::{copy_tree, helm_py as helm};
use crate::registry::Registry;
use crate::support::{text, Repo};

/// A static HTTP server over a folder (Python's), stopped on drop.
struct Http {
    url: String,
    child: Child,
}

impl Http {
    fn serve(dir: &Path) -> Http {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the HTTP server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Http {
            url: format!("http://127.0.0.1:{port}"),
            child,
        }
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chart(dir: &Path, name: &str, version: &str) {
    std::fs::create_dir_all(dir.join("templates")).expect("mkdir");
    std::fs::write(
        dir.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: {version}\n"),
    )
    .expect("Chart.yaml");
    std::fs::write(
        dir.join("templates/cm.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ .Release.Name }}}}-{name}\ndata:\n  version: \"{version}\"\n"),
    )
    .expect("template");
}

/// Packages chart `name` at each of `versions` (Helm 4) and pushes it to `oci://REGISTRY/charts`.
fn push_oci_charts(registry: &Registry, work: &Path, name: &str, versions: &[&str]) {
    for v in versions {
        let src = work.join("src").join(format!("{name}-{v}"));
        chart(&src, name, v);
        let archive = helm(&[
            "package",
            src.to_str().expect("utf-8"),
            work.join("pkg").to_str().expect("utf-8"),
        ]);
        helm(&[
            "push",
            archive["archive"].as_str().expect("path"),
            &format!("oci://{}/charts", registry.address),
        ]);
    }
}

/// Packages chart `name` at each of `versions` (Helm 4) into `web` and writes its `index.yaml`.
fn index_http_charts(work: &Path, web: &Path, name: &str, versions: &[&str]) {
    std::fs::create_dir_all(web).expect("mkdir");
    for v in versions {
        let src = work.join("src").join(format!("{name}-{v}"));
        chart(&src, name, v);
        helm(&[
            "package",
            src.to_str().expect("utf-8"),
            web.to_str().expect("utf-8"),
        ]);
    }
    helm(&["index", web.to_str().expect("utf-8")]);
}

fn lock_without_time(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("Chart.lock")
        .lines()
        .filter(|l| !l.starts_with("generated:"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn dependencies_come_from_oci_http_and_local_charts_as_helm_4_fetches_them() {
    let registry = Registry::start();
    let work = tempfile::tempdir().expect("tempdir");
    let web = work.path().join("web");
    push_oci_charts(
        &registry,
        work.path(),
        "oci-lib",
        &["1.0.0", "1.2.0", "2.0.0"],
    );
    index_http_charts(work.path(), &web, "web-lib", &["0.3.0", "0.3.1", "0.4.0"]);
    let http = Http::serve(&web);
    let chart_yaml = format!(
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: oci-lib\n  version: \"^1.0.0\"\n  repository: oci://{}/charts\n- name: web-lib\n  version: \"~0.3.0\"\n  repository: {}\n  alias: web\n- name: local-lib\n  version: \">=0.1.0\"\n  repository: file://../libs/local-lib\n",
        registry.address, http.url
    );
    let mut repo = Repo::new(&[
        ("werf.yaml", "project: app\nconfigVersion: 1\n"),
        (".helm/Chart.yaml", &chart_yaml),
        (
            ".helm/templates/own.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: own\n",
        ),
        (
            "libs/local-lib/Chart.yaml",
            "apiVersion: v2\nname: local-lib\nversion: 0.1.5\n",
        ),
        (
            "libs/local-lib/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\n",
        ),
    ]);
    repo.commit("chart");

    // Helm 4's own update of a copy of the same chart, for comparison.
    let reference = work.path().join("reference");
    std::fs::create_dir_all(reference.join(".helm/templates")).expect("mkdir");
    std::fs::write(reference.join(".helm/Chart.yaml"), &chart_yaml).expect("copy");
    std::fs::create_dir_all(reference.join("libs")).expect("mkdir");
    std::fs::create_dir_all(reference.join("libs/local-lib/templates")).expect("mkdir");
    std::fs::write(
        reference.join("libs/local-lib/Chart.yaml"),
        "apiVersion: v2\nname: local-lib\nversion: 0.1.5\n",
    )
    .expect("copy");
    std::fs::write(
        reference.join("libs/local-lib/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\n",
    )
    .expect("copy");
    helm(&[
        "dependency-update",
        reference.join(".helm").to_str().expect("utf-8"),
    ]);

    let out = repo.werf(&["helm", "dependency", "update"]);
    assert!(out.status.success(), "{}", text(&out, &repo).1);
    let charts = repo.path().join(".helm/charts");
    let mut names: Vec<String> = std::fs::read_dir(&charts)
        .expect("charts/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "local-lib-0.1.5.tgz",
            "oci-lib-1.2.0.tgz",
            "web-lib-0.3.1.tgz"
        ]
    );
    // The lock is Helm's, digest included (only the time differs).
    assert_eq!(
        lock_without_time(&charts.join("../Chart.lock")),
        lock_without_time(&reference.join(".helm/Chart.lock"))
    );
    // Downloaded archives are Helm's bytes; the local one is a package Helm 4 loads.
    for downloaded in ["oci-lib-1.2.0.tgz", "web-lib-0.3.1.tgz"] {
        assert_eq!(
            std::fs::read(charts.join(downloaded)).expect("ours"),
            std::fs::read(reference.join(".helm/charts").join(downloaded)).expect("Helm's"),
            "{downloaded}"
        );
    }
    repo.commit("dependencies");
    let out = repo.werf(&["render", "--release", "r"]);
    let (stdout, stderr) = text(&out, &repo);
    assert!(out.status.success(), "{stderr}");
    for source in [
        "app/charts/oci-lib/templates/cm.yaml",
        "app/charts/web/templates/cm.yaml",
        "app/charts/local-lib/templates/cm.yaml",
    ] {
        assert!(
            stdout.contains(&format!("# Source: {source}\n")),
            "{source}: {stdout}"
        );
    }
    assert!(stdout.contains("version: \"1.2.0\""), "{stdout}");

    // `build` restores exactly the locked versions.
    let kept = std::fs::read(charts.join("oci-lib-1.2.0.tgz")).expect("archive");
    std::fs::remove_dir_all(&charts).expect("rm charts");
    let out = repo.werf(&["helm", "dependency", "build"]);
    assert!(out.status.success(), "{}", text(&out, &repo).1);
    assert_eq!(
        std::fs::read(charts.join("oci-lib-1.2.0.tgz")).expect("rebuilt"),
        kept
    );

    // A lock that no longer matches Chart.yaml is refused.
    repo.write(&[(".helm/Chart.yaml", &chart_yaml.replace("^1.0.0", "^2.0.0"))]);
    let out = repo.werf(&["helm", "dependency", "build"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out, &repo).1.contains("out of sync"),
        "{}",
        text(&out, &repo).1
    );
    let out = repo.werf(&["helm", "dependency", "update"]);
    assert!(out.status.success(), "{}", text(&out, &repo).1);
    assert!(
        charts.join("oci-lib-2.0.0.tgz").exists() && !charts.join("oci-lib-1.2.0.tgz").exists()
    );
}

#[test]
fn render_fetches_dependencies_as_chart_lock_pins_them_and_then_works_offline() {
    let registry = Registry::start();
    let work = tempfile::tempdir().expect("tempdir");
    let web = work.path().join("web");
    push_oci_charts(&registry, work.path(), "oci-lib", &["1.0.0", "1.2.0"]);
    index_http_charts(work.path(), &web, "web-lib", &["0.3.0", "0.3.1"]);
    let http = Http::serve(&web);
    let chart_yaml = format!(
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: oci-lib\n  version: \"^1.0.0\"\n  repository: oci://{}/charts\n- name: web-lib\n  version: \"~0.3.0\"\n  repository: {}\n  alias: web\n",
        registry.address, http.url
    );
    // Helm 4 locks and fetches the chart; its render (with `charts/`) is the reference.
    let reference = work.path().join("reference");
    std::fs::create_dir_all(reference.join("templates")).expect("mkdir");
    std::fs::write(reference.join("Chart.yaml"), &chart_yaml).expect("Chart.yaml");
    std::fs::write(
        reference.join("templates/own.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: own\n",
    )
    .expect("template");
    helm(&["dependency-update", reference.to_str().expect("utf-8")]);
    let rendered = helm(&["render", reference.to_str().expect("utf-8"), "r", "ns"]);
    let expected = rendered["manifest"]
        .as_str()
        .expect("Helm renders")
        .to_string();
    assert!(expected.contains("version: \"1.2.0\"") && expected.contains("version: \"0.3.1\""));

    // The repository commits Chart.yaml and Chart.lock; `charts/` is ignored, as werf's
    // documentation has it.
    let lock = std::fs::read_to_string(reference.join("Chart.lock")).expect("Helm's lock");
    let mut repo = Repo::new(&[
        ("werf.yaml", "project: app\nconfigVersion: 1\n"),
        (".helm/.gitignore", "charts/\n"),
        (".helm/Chart.yaml", &chart_yaml),
        (".helm/Chart.lock", &lock),
        (
            ".helm/templates/own.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: own\n",
        ),
    ]);
    copy_tree(&reference.join("charts"), &repo.path().join(".helm/charts"));
    repo.commit("chart");
    assert_eq!(
        repo.git(&["ls-files", ".helm/charts"]),
        "",
        "charts/ is not committed"
    );
    std::fs::remove_dir_all(repo.path().join(".helm/charts")).expect("rm charts");

    let render = |repo: &Repo| repo.werf(&["render", "--release", "r", "--namespace", "ns"]);
    let out = render(&repo);
    let (stdout, stderr) = text(&out, &repo);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with(&expected),
        "werf render differs from Helm 4's:\n{stdout}\n--- Helm:\n{expected}"
    );
    // Cached under the werf home by digest; nothing written into the work tree.
    let cached: Vec<_> = std::fs::read_dir(repo.home.path().join("charts/sha256"))
        .expect("the chart cache")
        .collect();
    assert_eq!(cached.len(), 2);
    assert!(!repo.path().join(".helm/charts").exists());

    // Offline: the registry and the repository are gone; the cache answers.
    drop(http);
    drop(registry);
    let out = render(&repo);
    let (stdout, stderr) = text(&out, &repo);
    assert!(out.status.success(), "offline: {stderr}");
    assert!(stdout.starts_with(&expected));

    // A fresh home offline cannot fetch: the error names the dependency and its lock.
    let fresh = tempfile::tempdir().expect("tempdir");
    let out = crate::support::werf_in(
        repo.path(),
        fresh.path(),
        &["render", "--release", "r", "--namespace", "ns"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("fetching chart dependency `oci-lib` 1.2.0 (Chart.lock)"),
        "{stderr}"
    );

    // A lock out of sync with Chart.yaml, and no lock at all, are clear errors.
    repo.write(&[(".helm/Chart.yaml", &chart_yaml.replace("^1.0.0", "^2.0.0"))]);
    repo.commit("constraint changed");
    let out = render(&repo);
    let stderr = text(&out, &repo).1;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(".helm/Chart.lock") && stderr.contains("out of sync"),
        "{stderr}"
    );
    repo.git(&["rm", "-q", ".helm/Chart.lock"]);
    repo.commit("no lock");
    let out = render(&repo);
    let stderr = text(&out, &repo).1;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("missing in charts/ directory: oci-lib, web-lib")
            && stderr.contains("no Chart.lock"),
        "{stderr}"
    );
}

#[test]
fn a_repository_archive_that_is_not_what_its_index_says_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let (src, web) = (work.path().join("src"), work.path().join("web"));
    std::fs::create_dir_all(&web).expect("mkdir");
    chart(&src.join("web-lib"), "web-lib", "0.3.0");
    helm(&[
        "package",
        src.join("web-lib").to_str().expect("utf-8"),
        web.to_str().expect("utf-8"),
    ]);
    helm(&["index", web.to_str().expect("utf-8")]);
    let http = Http::serve(&web);
    let chart_yaml = format!(
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: web-lib\n  version: \"0.3.0\"\n  repository: {}\n",
        http.url
    );
    let reference = work.path().join("reference");
    std::fs::create_dir_all(&reference).expect("mkdir");
    std::fs::write(reference.join("Chart.yaml"), &chart_yaml).expect("Chart.yaml");
    helm(&["dependency-update", reference.to_str().expect("utf-8")]);
    let lock = std::fs::read_to_string(reference.join("Chart.lock")).expect("lock");
    // The archive changes after the index was written.
    let archive = web.join("web-lib-0.3.0.tgz");
    let mut bytes = std::fs::read(&archive).expect("archive");
    bytes.extend_from_slice(b"\0\0\0\0");
    std::fs::write(&archive, &bytes).expect("tamper");
    let mut repo = Repo::new(&[
        ("werf.yaml", "project: app\nconfigVersion: 1\n"),
        (".helm/Chart.yaml", &chart_yaml),
        (".helm/Chart.lock", &lock),
    ]);
    repo.commit("chart");
    let out = repo.werf(&["render"]);
    let stderr = text(&out, &repo).1;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("web-lib") && stderr.contains("differs from the index"),
        "{stderr}"
    );
    assert!(
        !repo.home.path().join("charts/sha256").exists(),
        "nothing cached"
    );
}

#[test]
fn named_repositories_live_in_helm_s_own_file_and_resolve_at_and_alias_names() {
    let work = tempfile::tempdir().expect("tempdir");
    let web = work.path().join("web");
    index_http_charts(work.path(), &web, "web-lib", &["0.3.0", "0.3.1"]);
    let http = Http::serve(&web);
    let config = work.path().join("helm-config/repositories.yaml");
    let cache = work.path().join("helm-cache");
    let env = [
        ("HELM_REPOSITORY_CONFIG", config.to_str().expect("utf-8")),
        ("HELM_REPOSITORY_CACHE", cache.to_str().expect("utf-8")),
    ];
    let chart_yaml = "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: web-lib\n  version: \"~0.3.0\"\n  repository: \"@web\"\n- name: web-lib\n  alias: again\n  version: \"0.3.0\"\n  repository: \"alias:web\"\n";
    let mut repo = Repo::new(&[
        ("werf.yaml", "project: app\nconfigVersion: 1\n"),
        (".helm/Chart.yaml", chart_yaml),
    ]);
    repo.commit("chart");

    // Unknown name: a clear error saying how to add it.
    let out = repo.werf_env(&["helm", "dependency", "update"], &env);
    let stderr = text(&out, &repo).1;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("no repository named `web`") && stderr.contains("werf helm repo add web"),
        "{stderr}"
    );
    let out = repo.werf_env(&["helm", "repo", "list"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out, &repo).1.contains("no repositories to show"));

    let out = repo.werf_env(&["helm", "repo", "add", "web", &http.url], &env);
    let (stdout, stderr) = text(&out, &repo);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "\"web\" has been added to your repositories\n");
    assert!(cache.join("web-index.yaml").is_file());
    let out = repo.werf_env(
        &["helm", "repo", "add", "web", "http://127.0.0.1:9/other"],
        &env,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out, &repo).1.contains("already exists"));
    let out = repo.werf_env(&["helm", "repo", "list"], &env);
    assert_eq!(
        text(&out, &repo).0,
        format!("NAME\tURL\nweb \t{}\n", http.url)
    );
    let out = repo.werf_env(&["helm", "repo", "update"], &env);
    assert!(out.status.success(), "{}", text(&out, &repo).1);
    assert!(text(&out, &repo)
        .0
        .contains("Successfully got an update from the \"web\" chart repository"));

    let out = repo.werf_env(&["helm", "dependency", "list"], &env);
    assert_eq!(
        text(&out, &repo).0,
        "NAME   \tVERSION\tREPOSITORY\tSTATUS\nweb-lib\t~0.3.0 \t@web      \tmissing\nweb-lib\t0.3.0  \talias:web \tmissing\n"
    );
    let out = repo.werf_env(&["helm", "dependency", "update"], &env);
    assert!(out.status.success(), "{}", text(&out, &repo).1);
    // The lock keeps the names as written, as Helm's does.
    let lock = lock_without_time(&repo.path().join(".helm/Chart.lock"));
    assert!(
        lock.contains("repository: '@web'") && lock.contains("repository: alias:web"),
        "{lock}"
    );
    assert!(
        lock.contains("version: 0.3.1") && lock.contains("version: 0.3.0"),
        "{lock}"
    );
    let out = repo.werf_env(&["helm", "dependency", "list"], &env);
    assert!(
        text(&out, &repo).0.contains("@web      \tok"),
        "{}",
        text(&out, &repo).0
    );

    // render fetches through the name (charts/ not committed).
    std::fs::remove_dir_all(repo.path().join(".helm/charts")).expect("rm charts");
    repo.commit("lock");
    let out = repo.werf_env(&["render", "--release", "r"], &env);
    let (stdout, stderr) = text(&out, &repo);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("version: \"0.3.1\""), "{stdout}");

    let out = repo.werf_env(&["helm", "repo", "remove", "nope"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out, &repo).1.contains("no repo named \"nope\" found"));
    let out = repo.werf_env(&["helm", "repo", "remove", "web"], &env);
    assert_eq!(
        text(&out, &repo).0,
        "\"web\" has been removed from your repositories\n"
    );
    assert!(!cache.join("web-index.yaml").exists());
}

/// `werf helm dependency list` against Helm 4's own (`helm_dependency_list`), status for status.
#[test]
fn dependency_list_reports_what_charts_holds_as_helm_4_does() {
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("app");
    std::fs::create_dir_all(dir.join("charts")).expect("mkdir");
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: a\n  version: ~1.0.0\n  repository: \"@web\"\n- name: b\n  version: 2.0.0\n  repository: file://../b\n- name: c\n  version: ^1.0.0\n  repository: https://charts.invalid\n- name: d\n  version: ^3.0.0\n  repository: https://charts.invalid\n- name: e\n  version: 1.0.0\n  repository: https://charts.invalid\n",
    )
    .expect("Chart.yaml");
    chart(&dir.join("charts/b"), "b", "2.0.0");
    chart(&work.path().join("src/c"), "c", "1.4.0");
    helm(&[
        "package",
        work.path().join("src/c").to_str().expect("utf-8"),
        dir.join("charts").to_str().expect("utf-8"),
    ]);
    chart(&work.path().join("src/d"), "d", "2.0.0");
    helm(&[
        "package",
        work.path().join("src/d").to_str().expect("utf-8"),
        dir.join("charts").to_str().expect("utf-8"),
    ]);
    let theirs = helm(&["dependency-list", dir.to_str().expect("utf-8")]);
    let theirs: Vec<(String, String)> = theirs["dependencies"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap_or_default().to_string(),
                d["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let out = crate::support::werf_in(
        work.path(),
        work.path(),
        &["helm", "dependency", "list", dir.to_str().expect("utf-8")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ours: Vec<(String, String)> = stdout
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').map(str::trim).collect();
            (cells[0].to_string(), cells[3].to_string())
        })
        .collect();
    assert_eq!(theirs.len(), 5, "{theirs:?}");
    assert_eq!(ours, theirs, "{stdout}");
}
