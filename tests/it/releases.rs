//! Releases shared with Helm 4 on the real cluster: Helm installs, werf-rs upgrades, Helm sees the
//! revision and rolls it back, werf-rs converges again and rolls back; `keep` survives prune and
//! dismiss; a project without images needs no `--repo`.

use serde_json::Value;

use crate::cluster::{cluster, Cluster};
use crate::support::{line_starting, text, Repo};

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  greeting: {{ .Values.greeting | quote }}\n";
const KEPT: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  annotations:\n    helm.sh/resource-policy: keep\ndata:\n  a: b\n";
/// Hooks that leave a trace: a ConfigMap made on rollback and one made before deletion.
const HOOKS: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rolled-back\n  annotations:\n    helm.sh/hook: pre-rollback\n    helm.sh/hook-delete-policy: before-hook-creation\ndata: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: goodbye\n  annotations:\n    helm.sh/hook: pre-delete\n    helm.sh/hook-delete-policy: before-hook-creation\ndata: {}\n";

/// Helm 4 (the library, run under the CLI's name) on release `release` in `ns`.
fn helm(c: &Cluster, command: &str, ns: &str, args: &[&str]) -> Value {
    let kubeconfig = c.kubeconfig.display().to_string();
    let mut all = vec![command, &kubeconfig, ns];
    all.extend_from_slice(args);
    crate::helm_diff::helm_py(&all)
}

/// `(revision, status)` of each revision, as Helm 4 lists the history.
fn history(c: &Cluster, ns: &str) -> Vec<(u64, String)> {
    helm(c, "history", ns, &[ns])["revisions"]
        .as_array()
        .expect("revisions")
        .iter()
        .map(|r| {
            (
                r["revision"].as_u64().expect("revision"),
                r["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

fn werf(c: &Cluster, repo: &Repo, ns: &str, command: &str, extra: &[&str]) -> String {
    let kubeconfig = c.kubeconfig.display().to_string();
    let mut args = vec![
        command,
        "--kube-config",
        &kubeconfig,
        "--namespace",
        ns,
        "--release",
        ns,
    ];
    args.extend_from_slice(extra);
    let out = repo.werf(&args);
    let (stdout, stderr) = text(&out, repo);
    assert!(
        out.status.success(),
        "werf {command} failed:\n{stdout}\n{stderr}"
    );
    format!("{stdout}\n{stderr}")
}

fn greeting(c: &Cluster, ns: &str) -> String {
    c.get_json(&["configmap", "cm", "-n", ns])["data"]["greeting"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn helm_installs_werf_upgrades_helm_rolls_back_and_werf_goes_on() {
    let c = cluster();
    let ns = "shared";
    let mut repo = Repo::new(&[
        // No images: no `--repo` anywhere below.
        ("werf.yaml", "project: shared\nconfigVersion: 1\n"),
        (
            ".helm/Chart.yaml",
            "apiVersion: v2\nname: shared\nversion: 1.0.0\n",
        ),
        (".helm/values.yaml", "greeting: one\n"),
        (".helm/templates/cm.yaml", CM),
        (".helm/templates/kept.yaml", KEPT),
        (".helm/templates/hooks.yaml", HOOKS),
    ]);
    repo.commit("init");
    let chart = repo.path().join(".helm").display().to_string();
    let installed = helm(c, "install", ns, &[&chart, ns]);
    assert_eq!(installed["revision"], 1, "{installed}");
    assert_eq!(greeting(c, ns), "one");

    // werf-rs reads Helm's release and upgrades it as revision 2: the record is the lock, the
    // object is patched, revision 1 becomes superseded.
    repo.write(&[(".helm/values.yaml", "greeting: two\n")]);
    repo.commit("two");
    let before = c.writes_by("werf").len();
    let out = werf(c, &repo, ns, "converge", &["--timeout", "60s"]);
    assert!(out.contains("revision 2, 1 object changed"), "{out}");
    let writes: Vec<String> = c.writes_by("werf")[before..]
        .iter()
        .filter(|w| w.contains(&format!(" {ns}/")))
        .cloned()
        .collect();
    assert_eq!(
        writes,
        [
            "create secrets shared/sh.helm.release.v1.shared.v2",
            "patch configmaps shared/cm",
            "patch secrets shared/sh.helm.release.v1.shared.v2",
            "patch secrets shared/sh.helm.release.v1.shared.v1",
        ]
    );
    assert_eq!(greeting(c, ns), "two");
    assert_eq!(
        history(c, ns),
        [(1, "superseded".into()), (2, "deployed".into())]
    );

    // Helm rolls back what werf-rs deployed (no field-ownership conflict).
    helm(c, "rollback", ns, &[ns, "1"]);
    assert_eq!(greeting(c, ns), "one");
    assert_eq!(history(c, ns).last(), Some(&(3, "deployed".into())));

    // werf-rs goes on from Helm's revision 3.
    let out = werf(c, &repo, ns, "converge", &["--timeout", "60s"]);
    assert!(out.contains("revision 4, 1 object changed"), "{out}");
    assert_eq!(greeting(c, ns), "two");
    // And rolls back itself, to Helm's revision 1 (its manifest, values and chart).
    // Helm's rollback ran the pre-rollback hook; ours must run it again from Helm's record.
    c.kubectl_ok(&["delete", "configmap", "rolled-back", "-n", ns]);
    let out = werf(c, &repo, ns, "rollback", &["--revision", "1"]);
    assert!(out.contains("hook ConfigMap/rolled-back (shared)"), "{out}");
    assert!(c
        .kubectl(&["get", "configmap", "rolled-back", "-n", ns])
        .status
        .success());
    assert!(out.contains("rolled back: revision 5"), "{out}");
    assert_eq!(greeting(c, ns), "one");
    let h = history(c, ns);
    assert_eq!(h.len(), 5, "{h:?}");
    assert_eq!(h.last(), Some(&(5, "deployed".into())));
    assert_eq!(
        h.iter().filter(|(_, s)| s == "deployed").count(),
        1,
        "{h:?}"
    );

    // `keep`: leaving the chart does not prune it, dismiss does not delete it.
    repo.write(&[(".helm/values.yaml", "greeting: three\n")]);
    repo.git(&["rm", "-q", ".helm/templates/kept.yaml"]);
    repo.commit("three");
    let out = werf(c, &repo, ns, "converge", &["--timeout", "60s"]);
    assert!(
        out.contains("revision 6, 1 object changed, 0 deleted"),
        "{out}"
    );
    assert_eq!(
        c.get_json(&["configmap", "kept", "-n", ns])["data"]["a"],
        "b"
    );
    // History is bounded (werf's default, 5 revisions).
    assert_eq!(history(c, ns).first().map(|r| r.0), Some(2));
    assert!(!c
        .kubectl(&["get", "configmap", "goodbye", "-n", ns])
        .status
        .success());
    let out = werf(c, &repo, ns, "dismiss", &[]);
    assert!(out.contains("1 object deleted"), "{out}");
    // The pre-delete hook ran (its delete policy leaves it).
    assert!(out.contains("hook ConfigMap/goodbye (shared)"), "{out}");
    assert!(c
        .kubectl(&["get", "configmap", "goodbye", "-n", ns])
        .status
        .success());
    assert!(!c
        .kubectl(&["get", "configmap", "cm", "-n", ns])
        .status
        .success());
    assert_eq!(
        c.get_json(&["configmap", "kept", "-n", ns])["data"]["a"],
        "b"
    );
    let left = c.kubectl_ok(&["get", "secrets", "-n", ns, "-l", "owner=helm", "-o", "name"]);
    assert_eq!(left.trim(), "", "the records are gone");
}

#[test]
fn werf_yaml_names_the_release_and_secret_values_deploy_decrypted_and_never_show() {
    const KEY: &str = "bc3458408a5687e60b9417adb84e4ad0";
    let c = cluster();
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {{ .Values.db.password | quote }}\n  user: admin\n";
    let encrypt = |text: &str, repo: &Repo| -> String {
        let mut cmd = crate::support::werf_cmd(
            repo.path(),
            repo.home.path(),
            &["helm", "secret", "values", "encrypt"],
        );
        let mut child = cmd
            .env("WERF_SECRET_KEY", KEY)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("werf runs");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("werf runs");
        assert!(out.status.success());
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let mut repo = Repo::new(&[
        (
            "werf.yaml",
            "project: named\nconfigVersion: 1\ndeploy:\n  helmRelease: \"[[ project ]]-app\"\n  namespace: \"[[ project ]]-[[ env ]]\"\n",
        ),
        (".helm/Chart.yaml", "apiVersion: v2\nname: named\nversion: 1.0.0\n"),
        (".helm/templates/secret.yaml", secret),
    ]);
    let sealed = encrypt("db:\n  password: first-pass-1\n", &repo);
    repo.write(&[(".helm/secret-values.yaml", &sealed)]);
    repo.commit("init");
    // The namespace `named-Stage_1` is not a DNS label: werf's slug makes it one.
    let ns = "named-stage-1-".to_string();
    let kubeconfig = c.kubeconfig.display().to_string();
    let args = [
        "--kube-config",
        &kubeconfig,
        "--env",
        "Stage_1",
        "--timeout",
        "60s",
    ];
    let out = repo.werf_env(
        &[&["converge"][..], &args[..]].concat(),
        &[("WERF_SECRET_KEY", KEY)],
    );
    let (stdout, stderr) = text(&out, &repo);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("release `named-app` in `"))
        .unwrap_or_else(|| panic!("the release line: {stdout}"));
    let namespace = line
        .split('`')
        .nth(3)
        .expect("the namespace in the release line")
        .to_string();
    assert!(
        namespace.starts_with(&ns) && namespace.len() > ns.len(),
        "{namespace}"
    );
    let data = c.get_json(&["secret", "db", "-n", &namespace])["data"]["password"].clone();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.as_str().expect("password"))
        .expect("base64");
    assert_eq!(decoded, b"first-pass-1");

    // A new secret value: plan names the changed key, never a value (plain or base64).
    let sealed = encrypt("db:\n  password: second-pass-2\n", &repo);
    repo.write(&[(".helm/secret-values.yaml", &sealed)]);
    repo.commit("rotate");
    let plan_args = ["--kube-config", &kubeconfig, "--env", "Stage_1"];
    let out = repo.werf_env(
        &[&["plan"][..], &plan_args[..]].concat(),
        &[("WERF_SECRET_KEY", KEY)],
    );
    let (stdout, stderr) = text(&out, &repo);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("~ update Secret/db"), "{stdout}");
    assert!(
        stdout.contains("+  password: (hidden, changed)"),
        "{stdout}"
    );
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for leak in [
        "first-pass-1".to_string(),
        "second-pass-2".to_string(),
        b64("first-pass-1"),
        b64("second-pass-2"),
    ] {
        assert!(
            !stdout.contains(&leak) && !stderr.contains(&leak),
            "{leak} shown:\n{stdout}\n{stderr}"
        );
    }
}

#[test]
fn a_rollout_without_activity_fails_after_its_no_activity_timeout() {
    let c = cluster();
    let ns = "stalled";
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: stuck\n  annotations:\n    werf.io/no-activity-timeout: 8s\nspec:\n  selector:\n    matchLabels: {app: stuck}\n  template:\n    metadata:\n      labels: {app: stuck}\n    spec:\n      nodeSelector: {no-such-label: \"anywhere\"}\n      containers:\n      - name: app\n        image: registry.invalid/never:1\n";
    let mut repo = Repo::new(&[
        ("werf.yaml", "project: stalled\nconfigVersion: 1\n"),
        (
            ".helm/Chart.yaml",
            "apiVersion: v2\nname: stalled\nversion: 1.0.0\n",
        ),
        (".helm/templates/stuck.yaml", deployment),
    ]);
    repo.commit("init");
    let kubeconfig = c.kubeconfig.display().to_string();
    let before = c.reads_by("werf").len();
    let writes_before = c.writes_in(ns).len();
    let out = repo.werf(&[
        "converge",
        "--kube-config",
        &kubeconfig,
        "--namespace",
        ns,
        "--release",
        ns,
        "--timeout",
        "120s",
    ]);
    // Tracking watched instead of polling: every read of the Deployment has a cause, the first
    // (once the watches synchronised), the no-activity deadline, or a change the watches saw (a
    // write by the cluster's controllers to what they watch); polling would read it on a timer,
    // whatever the cluster did.
    let reads = c.reads_by("werf")[before..].to_vec();
    let polled = reads
        .iter()
        .filter(|r| *r == "get deployments stalled" || *r == "list deployments stalled")
        .count();
    assert!(
        reads.iter().any(|r| r == "watch deployments stalled"),
        "{reads:?}"
    );
    let changes: Vec<String> = c.writes_in(ns)[writes_before..]
        .iter()
        .filter(|(user, resource)| {
            user != "werf" && ["deployments", "replicasets", "pods"].contains(&resource.as_str())
        })
        .map(|(user, resource)| format!("{user}: {resource}"))
        .collect();
    assert!(polled >= 1, "{reads:?}");
    assert!(
        polled <= 2 + changes.len(),
        "{polled} reads for {} changes: {reads:?}\n{changes:?}",
        changes.len()
    );
    let (stdout, stderr) = text(&out, &repo);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "Deployment/stuck (stalled) failed: no activity for 8s (werf.io/no-activity-timeout)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("timed out after"), "{stderr}");
    // Recorded as failed, in Helm's format.
    assert_eq!(history(c, ns), [(1, "failed".into())]);
}

#[test]
fn deploy_dependencies_order_objects_and_external_ones_are_waited_for() {
    let c = cluster();
    let ns = "deps";
    let deployment = |name: &str, annotations: &str| {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  annotations:\n    werf.io/skip-logs: \"false\"\n{annotations}spec:\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: app\n        image: {{{{ .Values.werf.image.app }}}}\n")
    };
    let worker = deployment(
        "worker",
        "    werf.io/deploy-dependency-db: state=ready,kind=Deployment,name=db\n    queue.external-dependency.werf.io/resource: configmap/ext\n    queue.external-dependency.werf.io/namespace: deps-external\n",
    );
    let db = deployment("db", "");
    let mut repo = Repo::new(&[
        ("werf.yaml", "project: deps\nconfigVersion: 1\n---\nimage: app\ncontext: app\ndockerfile: Dockerfile\n"),
        ("app/Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n"),
        ("app/a.txt", "a\n"),
        (".helm/Chart.yaml", "apiVersion: v2\nname: deps\nversion: 1.0.0\n"),
        (".helm/templates/worker.yaml", &worker),
        (".helm/templates/db.yaml", &db),
    ]);
    repo.commit("init");
    c.kubectl_ok(&["create", "namespace", "deps-external"]);
    c.kubectl_ok(&["create", "configmap", "ext", "-n", "deps-external"]);
    let kubeconfig = c.kubeconfig.display().to_string();
    let repo_arg = format!("{}/deps", c.registry.address);
    let args = [
        "converge",
        "--kube-config",
        &kubeconfig,
        "--namespace",
        ns,
        "--release",
        ns,
        "--repo",
        &repo_arg,
        "--timeout",
        "60s",
    ];
    let before = c.writes_by("werf").len();
    let out = repo.werf(&args);
    let (stdout, stderr) = text(&out, &repo);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // `db` is applied and ready before `worker` is applied; the external ConfigMap was awaited.
    let writes = c.writes_by("werf")[before..].to_vec();
    let at = |w: &str| {
        writes
            .iter()
            .position(|x| x == w)
            .unwrap_or_else(|| panic!("{w} in {writes:?}"))
    };
    assert!(
        at("patch deployments deps/db") < at("patch deployments deps/worker"),
        "{writes:?}"
    );
    let ready_db =
        line_starting(&stderr, &["ready", "Deployment/db", "(deps)"]).expect("db tracked");
    let waited = line_starting(
        &stderr,
        &[
            "waiting",
            "for",
            "ConfigMap/ext",
            "(deps-external)",
            "(external",
            "dependency",
            "of",
        ],
    )
    .expect("the external dependency awaited");
    assert!(ready_db < waited, "{stderr}");

    // A dependency on nothing in the release is a clear error, before anything is applied.
    repo.write(&[(".helm/templates/db.yaml", "")]);
    repo.commit("no db");
    let before = c.writes_by("werf").len();
    let out = repo.werf(&args);
    let (_, stderr) = text(&out, &repo);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "`werf.io/deploy-dependency-db` names Deployment `db`, which is not in the release"
        ),
        "{stderr}"
    );
    // Refused before anything was written, the release record included.
    let written: Vec<String> = c.writes_by("werf")[before..]
        .iter()
        .filter(|w| w.contains(" deps/"))
        .cloned()
        .collect();
    assert_eq!(written, Vec::<String>::new());
    assert_eq!(history(c, ns), [(1, "deployed".into())]);
    // `plan` reports the same.
    let plan_args = [
        "plan",
        "--kube-config",
        &kubeconfig,
        "--namespace",
        ns,
        "--release",
        ns,
        "--repo",
        &repo_arg,
    ];
    let out = repo.werf(&plan_args);
    let (_, stderr) = text(&out, &repo);
    assert!(!out.status.success());
    assert!(stderr.contains("which is not in the release"), "{stderr}");
}

#[test]
fn a_kind_the_cluster_does_not_serve_is_named_with_its_template() {
    let c = cluster();
    let mut repo = Repo::new(&[
        ("werf.yaml", "project: kinds\nconfigVersion: 1\n"),
        (
            ".helm/Chart.yaml",
            "apiVersion: v2\nname: kinds\nversion: 1.0.0\n",
        ),
        (
            ".helm/templates/widget.yaml",
            // No other test serves this group (the CRD test installs
            // `widgets.example.com` into the shared cluster).
            "apiVersion: unserved.werf.test/v1\nkind: Widget\nmetadata:\n  name: w\n",
        ),
    ]);
    repo.commit("init");
    let kubeconfig = c.kubeconfig.display().to_string();
    let plan = [
        "plan",
        "--kube-config",
        &kubeconfig,
        "--namespace",
        "kinds",
        "--release",
        "kinds",
    ];
    let out = repo.werf(&plan);
    let (_, stderr) = text(&out, &repo);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the cluster does not serve `unserved.werf.test/v1` `Widget` (used by `kinds/templates/widget.yaml`)"),
        "{stderr}"
    );
    // A known group and version, an unknown kind.
    repo.write(&[(
        ".helm/templates/widget.yaml",
        "apiVersion: apps/v1\nkind: Nonsense\nmetadata:\n  name: w\n",
    )]);
    repo.commit("apps");
    let out = repo.werf(&plan);
    let (_, stderr) = text(&out, &repo);
    assert!(
        stderr.contains("the cluster does not serve `apps/v1` `Nonsense`"),
        "{stderr}"
    );
    // The first bad manifest in install order is the one named: a ConfigMap's bad annotation
    // comes before the unknown kind (unknown kinds go last), though kinds are resolved first.
    repo.write(&[(
        ".helm/templates/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n  annotations:\n    werf.io/fail-mode: Sometimes\n",
    )]);
    repo.commit("bad annotation");
    let out = repo.werf(&plan);
    let (_, stderr) = text(&out, &repo);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "`kinds/templates/settings.yaml`: `werf.io/fail-mode: Sometimes` is not one of"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("Nonsense"), "{stderr}");
}

#[test]
fn notes_print_after_a_converge_and_are_recorded_as_helm_records_them() {
    let c = cluster();
    let notes = "Release {{ .Release.Name }} in {{ .Release.Namespace }} says {{ .Values.greeting }}.\n{{- if .Release.IsInstall }} (a first install){{ end }}\n";
    let mut repo = Repo::new(&[
        ("werf.yaml", "project: notes\nconfigVersion: 1\n"),
        (
            ".helm/Chart.yaml",
            "apiVersion: v2\nname: notes\nversion: 1.0.0\ndependencies:\n- name: sub\n  version: 0.1.0\n",
        ),
        (".helm/values.yaml", "greeting: hello\n"),
        (".helm/templates/cm.yaml", CM),
        (".helm/templates/NOTES.txt", notes),
        (
            ".helm/charts/sub/Chart.yaml",
            "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
        ),
        (
            ".helm/charts/sub/templates/NOTES.txt",
            "SUBCHART NOTES, never shown\n",
        ),
    ]);
    repo.commit("init");
    // Helm 4 installs the same chart elsewhere: the reference notes.
    let chart = repo.path().join(".helm").display().to_string();
    helm(c, "install", "notes-helm", &[&chart, "notes-helm"]);
    let helm_notes = helm(c, "status", "notes-helm", &["notes-helm"])["notes"]
        .as_str()
        .expect("Helm records notes")
        .to_string();
    assert_eq!(
        helm_notes,
        "Release notes-helm in notes-helm says hello. (a first install)\n"
    );

    let ns = "notes-werf";
    let out = werf(c, &repo, ns, "converge", &["--timeout", "60s"]);
    assert!(
        out.contains("NOTES:\nRelease notes-werf in notes-werf says hello. (a first install)\n"),
        "{out}"
    );
    assert!(!out.contains("SUBCHART NOTES"), "{out}");
    // Recorded in the release as Helm records them, and no object was made of them.
    let recorded = helm(c, "status", ns, &[ns]);
    assert_eq!(
        recorded["notes"].as_str(),
        Some(helm_notes.replace("notes-helm", ns).as_str()),
        "{recorded}"
    );
    let manifest = recorded["manifest"].as_str().unwrap_or_default();
    assert!(
        manifest.contains("name: cm") && !manifest.contains("says"),
        "{manifest}"
    );

    // An upgrade renders them again (`.Release.IsInstall` is false now).
    repo.write(&[(".helm/values.yaml", "greeting: bye\n")]);
    repo.commit("bye");
    let out = werf(c, &repo, ns, "converge", &["--timeout", "60s"]);
    assert!(
        out.contains("NOTES:\nRelease notes-werf in notes-werf says bye.\n"),
        "{out}"
    );

    // A failing NOTES.txt fails the render before anything is deployed, as in Helm.
    repo.write(&[(
        ".helm/templates/NOTES.txt",
        "{{ required \"notes need .Values.missing\" .Values.missing }}\n",
    )]);
    repo.commit("broken notes");
    let out = repo.werf(&["render"]);
    let stderr = text(&out, &repo).1;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("NOTES.txt") && stderr.contains("notes need .Values.missing"),
        "{stderr}"
    );
}
