//! `werf converge`, `plan` and `dismiss` against the real control plane and registry: what is
//! written (from the API server's audit log), readiness, failures, rollback, prune, locking.

use std::time::Duration;

use crate::cluster::{cluster, Cluster};
use crate::support::{count_lines_starting, line_starting, text, Repo};

const WERF_YAML: &str = "project: shop\nconfigVersion: 1\n---\nimage: app\ncontext: app\ndockerfile: Dockerfile\n---\nimage: side\ncontext: side\ndockerfile: Dockerfile\n";

const APP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: app}\n  template:\n    metadata:\n      labels: {app: app}\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: app\n        image: {{ .Values.werf.image.app }}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app\nspec:\n  selector: {app: app}\n  ports:\n  - port: 80\n";

const SIDE: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: side\nspec:\n  selector:\n    matchLabels: {app: side}\n  template:\n    metadata:\n      labels: {app: side}\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: side\n        image: {{ index .Values.werf.image \"side\" }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: {{ .Values.mode | default \"fast\" | quote }}\n";

/// A project deployed into its own namespace (tests share one cluster).
struct Project {
    repo: Repo,
    ns: String,
}

impl Project {
    fn new(ns: &str, extra: &[(&str, &str)]) -> Project {
        let mut files = vec![
            ("werf.yaml", WERF_YAML),
            ("app/Dockerfile", "FROM scratch\nCOPY app.txt /app.txt\n"),
            ("app/app.txt", "app v1\n"),
            ("side/Dockerfile", "FROM scratch\nCOPY side.txt /side.txt\n"),
            ("side/side.txt", "side v1\n"),
            (
                ".helm/Chart.yaml",
                "apiVersion: v2\nname: shop\nversion: 1.0.0\n",
            ),
            (".helm/templates/app.yaml", APP),
            (".helm/templates/side.yaml", SIDE),
        ];
        files.extend_from_slice(extra);
        let mut repo = Repo::new(&files);
        repo.commit("init");
        Project {
            repo,
            ns: ns.to_string(),
        }
    }

    fn change(&mut self, files: &[(&str, &str)]) {
        self.repo.write(files);
        self.repo.commit("change");
    }

    fn run(&self, c: &Cluster, command: &str, extra: &[&str]) -> (bool, String, String) {
        let repo = format!("{}/{}", c.registry.address, self.ns);
        let kubeconfig = c.kubeconfig.display().to_string();
        let mut args = vec![
            command,
            "--kube-config",
            &kubeconfig,
            "--namespace",
            &self.ns,
            "--release",
            &self.ns,
        ];
        if command != "dismiss" {
            args.extend_from_slice(&["--repo", &repo]);
        }
        if command == "converge" {
            args.extend_from_slice(&["--timeout", "60s"]);
        }
        args.extend_from_slice(extra);
        let out = self.repo.werf(&args);
        let (stdout, stderr) = text(&out, &self.repo);
        (out.status.success(), stdout, stderr)
    }

    fn converge(&self, c: &Cluster, extra: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(c, "converge", extra);
        assert!(ok, "converge failed:\n{stdout}\n{stderr}");
        format!("{stdout}\n{stderr}")
    }
}

/// Writes by `werf` in namespace `ns` (or to it) since `from` (an index into the whole list:
/// tests share the cluster), release bookkeeping (the record Secrets, which are also the lock)
/// apart.
pub fn object_writes(c: &Cluster, from: usize, ns: &str) -> (Vec<String>, Vec<String>) {
    let all = c.writes_by("werf");
    all[from..]
        .iter()
        .filter(|w| w.contains(&format!(" {ns}/")) || w.ends_with(&format!(" /{ns}")))
        .cloned()
        .partition(|w| !w.contains("sh.helm.release.v1.") && !w.contains("lease"))
}

/// Dry-run writes by werf to namespace `ns` since the `from`th dry run (other tests share the
/// cluster).
fn dry_runs_in(c: &Cluster, from: usize, ns: &str) -> Vec<String> {
    c.dry_runs_by("werf")[from..]
        .iter()
        .filter(|w| w.contains(&format!(" {ns}/")))
        .cloned()
        .collect()
}

#[test]
fn converge_creates_and_tracks_then_writes_nothing_then_patches_one_deployment() {
    let c = cluster();
    let mut p = Project::new("conv", &[]);
    let out = p.converge(c, &[]);
    assert!(
        line_starting(
            &out,
            &["ready", "Deployment/app", "(conv)", "2/2", "available"]
        )
        .is_some(),
        "{out}"
    );
    let app = c.get_json(&["deployment", "app", "-n", "conv"]);
    assert_eq!(app["status"]["availableReplicas"], 2, "{app}");
    assert!(app["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .is_some_and(|i| i.starts_with(&format!("{}/conv:", c.registry.address))));

    // Nothing changed: not a single write, the release record and lock included.
    let before = c.writes_by("werf").len();
    let reads_before = c.reads_by("werf").len();
    let dry_before = c.dry_runs_by("werf").len();
    let out = p.converge(c, &[]);
    assert!(out.contains("is up to date (revision 1)"), "{out}");
    // Every object was decided unchanged without asking the server: its recorded object is the
    // desired one and the live one holds it (no dry run).
    assert_eq!(
        dry_runs_in(c, dry_before, "conv"),
        [] as [String; 0],
        "{out}"
    );
    // Each kind listed once: the lists read while the chart rendered are the plan's.
    let mut lists: Vec<String> = c.reads_by("werf")[reads_before..]
        .iter()
        .filter_map(|r| Some(r.strip_prefix("list ")?.strip_suffix(" conv")?.to_string()))
        .collect();
    lists.sort();
    assert_eq!(
        lists,
        ["configmaps", "deployments", "secrets", "services"],
        "{out}"
    );
    // One summary line, not a line per object.
    assert!(
        line_starting(&out, &["ready", "4", "of", "4", "objects", "already"]).is_some(),
        "{out}"
    );
    assert_eq!(count_lines_starting(&out, &["ready"]), 1, "{out}");
    assert_eq!(object_writes(c, before, "conv"), (vec![], vec![]));
    let (ok, stdout, _) = p.run(c, "plan", &["--exit-code"]);
    assert!(ok, "no changes: exit code 0\n{stdout}");

    // One file of one image: one image built, one Deployment patched.
    p.change(&[("side/side.txt", "side v2\n")]);
    let (ok, stdout, _) = p.run(c, "plan", &["--exit-code"]);
    assert!(
        !ok && stdout.contains("~ update Deployment/side (conv)"),
        "{stdout}"
    );
    assert!(stdout.contains("1 to change"), "{stdout}");
    // `--explain`: from the deployed revision's commit (recorded on its Secret) to the edit.
    let (ok, stdout, stderr) = p.run(c, "plan", &["--explain"]);
    assert!(ok, "{stderr}");
    for line in [
        "Deployment `side` changed: spec.template.spec.containers[0].image",
        "which reads the values of image `side`:",
        "side/side.txt",
    ] {
        assert!(stdout.contains(line), "{line}:\n{stdout}");
    }
    assert!(!stdout.contains("Deployment `app`"), "{stdout}");
    let before = c.writes_by("werf").len();
    let dry_before = c.dry_runs_by("werf").len();
    let out = p.converge(c, &[]);
    assert!(out.contains("1 built and pushed, 1 already"), "{out}");
    let (objects, bookkeeping) = object_writes(c, before, "conv");
    assert_eq!(objects, ["patch deployments conv/side"], "{out}");
    // Only the changed object was asked about (its dry run); the others were decided at once.
    assert_eq!(
        dry_runs_in(c, dry_before, "conv"),
        ["patch deployments conv/side"],
        "{out}"
    );
    // The record is the lock: revision 2 created pending (a create succeeds once), rewritten
    // deployed, and revision 1 rewritten superseded; three writes, no Lease.
    assert_eq!(
        bookkeeping,
        [
            "create secrets conv/sh.helm.release.v1.conv.v2",
            "patch secrets conv/sh.helm.release.v1.conv.v2",
            "patch secrets conv/sh.helm.release.v1.conv.v1",
        ]
    );
    let statuses = c.kubectl_ok(&[
        "get",
        "secrets",
        "-n",
        "conv",
        "-l",
        "owner=helm,name=conv",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.status} {end}",
    ]);
    assert_eq!(
        statuses.trim(),
        "sh.helm.release.v1.conv.v1=superseded sh.helm.release.v1.conv.v2=deployed"
    );
}

/// Stapel on a Dockerfile image and an image importing a filtered part of a Stapel artifact.
const STAPEL_YAML: &str = "project: shop\nconfigVersion: 1\n---\nimage: side\ncontext: side\ndockerfile: Dockerfile\n---\nartifact: assets\nfromImage: side\ngit:\n- add: /assets\n  to: /src\n---\nimage: app\nfromImage: side\nimport:\n- artifact: assets\n  add: /src\n  to: /static\n  includePaths: ['*.css']\n  after: install\n";

#[test]
fn a_stapel_project_converges_and_an_artifact_rebuilt_with_equal_imported_files_changes_nothing() {
    let c = cluster();
    let mut p = Project::new(
        "stapel",
        &[
            ("werf.yaml", STAPEL_YAML),
            ("assets/style.css", "body {}\n"),
            ("assets/readme.md", "notes\n"),
        ],
    );
    let image = |c: &Cluster| {
        c.get_json(&["deployment", "app", "-n", "stapel"])["spec"]["template"]["spec"]["containers"]
            [0]["image"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let out = p.converge(c, &[]);
    assert!(out.contains("3 built and pushed"), "{out}");
    assert!(
        line_starting(
            &out,
            &["ready", "Deployment/app", "(stapel)", "2/2", "available"]
        )
        .is_some(),
        "{out}"
    );
    let first = image(c);
    assert!(
        first.starts_with(&format!("{}/stapel:", c.registry.address)),
        "{first}"
    );

    // A file the artifact copies and the import filters out: the artifact is built again, the
    // importer's tag stays, and the release writes nothing.
    p.change(&[("assets/readme.md", "notes 2\n")]);
    let before = c.writes_by("werf").len();
    let out = p.converge(c, &[]);
    assert!(out.contains("1 built and pushed, 2 already"), "{out}");
    assert!(out.contains("is up to date"), "{out}");
    assert_eq!(object_writes(c, before, "stapel"), (vec![], vec![]));
    assert_eq!(image(c), first);

    // The imported file: the importer is built and its Deployment patched.
    p.change(&[("assets/style.css", "body { color: red }\n")]);
    let before = c.writes_by("werf").len();
    let out = p.converge(c, &[]);
    assert!(out.contains("2 built and pushed, 1 already"), "{out}");
    let (writes, _) = object_writes(c, before, "stapel");
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(
        writes[0].contains("deployments") && writes[0].contains("/app"),
        "{writes:?}"
    );
    assert_ne!(image(c), first);
}

#[test]
fn a_never_pushed_image_fails_with_the_pull_error_and_auto_rollback_restores_the_last_revision() {
    let c = cluster();
    let mut p = Project::new("typo", &[]);
    p.converge(c, &[]);
    let good = c.get_json(&["deployment", "app", "-n", "typo"])["spec"]["template"]["spec"]
        ["containers"][0]["image"]
        .clone();
    p.change(&[(
        ".helm/templates/app.yaml",
        &APP.replace(
            "image: {{ .Values.werf.image.app }}",
            "image: {{ .Values.werf.image.app }}-typo",
        ),
    )]);
    let (ok, stdout, stderr) = p.run(c, "converge", &["--auto-rollback"]);
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("ImagePullBackOff") || stderr.contains("ErrImagePull"),
        "{stderr}"
    );
    assert!(
        stderr.contains("-typo: not found"),
        "the pull error is shown: {stderr}"
    );
    assert!(stderr.contains("events of pod"), "{stderr}");
    assert!(
        stderr.contains("rolled back to revision 1 (now revision 3)"),
        "{stderr}"
    );
    c.wait_for("the rollback to finish", Duration::from_secs(30), || {
        let d = c.get_json(&["deployment", "app", "-n", "typo"]);
        d["spec"]["template"]["spec"]["containers"][0]["image"] == good
            && d["status"]["updatedReplicas"] == 2
            && d["status"]["availableReplicas"] == 2
    });
    // Without --auto-rollback the failure stays, and is recorded as failed.
    let (ok, _, stderr) = p.run(c, "converge", &[]);
    assert!(!ok && stderr.contains("-typo: not found"), "{stderr}");
    let failed = c.kubectl_ok(&[
        "get",
        "secrets",
        "-n",
        "typo",
        "-l",
        "owner=helm,status=failed",
        "-o",
        "name",
    ]);
    assert!(failed.contains("sh.helm.release.v1.typo.v4"), "{failed}");
}

#[test]
fn a_crashing_container_fails_fast_with_its_log_lines() {
    let c = cluster();
    let mut p = Project::new(
        "crash",
        &[(
            ".helm/templates/worker.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker\nspec:\n  selector:\n    matchLabels: {app: worker}\n  template:\n    metadata:\n      labels: {app: worker}\n    spec:\n      containers:\n      - name: worker\n        image: {{ .Values.werf.image.app }}\n        command: [\"sh\", \"-c\", \"crash on start\"]\n",
        )],
    );
    let (ok, _, stderr) = p.run(c, "converge", &[]);
    assert!(!ok);
    assert!(stderr.contains("CrashLoopBackOff"), "{stderr}");
    assert!(stderr.contains("last log lines of `worker-"), "{stderr}");
    assert!(
        stderr.contains("fatal: crash requested by the command"),
        "{stderr}"
    );
    // werf's default: one restart per replica is tolerated, the second fails the rollout.
    assert!(stderr.contains("(1 of 1 failures allowed)"), "{stderr}");
    assert!(
        stderr.contains("exiting with code 1 (restart 2)"),
        "{stderr}"
    );
    assert!(!stderr.contains("(restart 3)"), "{stderr}");
    // `--no-pod-logs`: the same failure, without the containers' log lines.
    p.change(&[(
        ".helm/templates/worker.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker\nspec:\n  selector:\n    matchLabels: {app: worker}\n  template:\n    metadata:\n      labels: {app: worker}\n    spec:\n      containers:\n      - name: worker\n        image: {{ .Values.werf.image.app }}\n        command: [\"sh\", \"-c\", \"crash on start again\"]\n",
    )]);
    let report = p.repo.home.path().join("deploy-report");
    let report_arg = report.to_str().expect("utf-8");
    let (ok, _, stderr) = p.run(
        c,
        "converge",
        &[
            "--no-pod-logs",
            "--save-deploy-report",
            "--deploy-report-path",
            report_arg,
        ],
    );
    assert!(!ok);
    // The failed deploy is reported as the cluster records it.
    let saved: serde_json::Value = serde_json::from_slice(
        &std::fs::read(report.with_extension("json")).expect("the report, `.json` added"),
    )
    .expect("JSON");
    assert_eq!(saved["status"], "failed", "{saved}");
    assert_eq!(saved["revision"], 2, "{saved}");
    assert!(stderr.contains("CrashLoopBackOff"), "{stderr}");
    assert!(!stderr.contains("last log lines"), "{stderr}");
    assert!(!stderr.contains("fatal: crash requested"), "{stderr}");
}

#[test]
fn failures_allowed_per_replica_tolerates_that_many_restarts() {
    let c = cluster();
    let p = Project::new(
        "tolerant",
        &[(
            ".helm/templates/worker.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker\n  annotations:\n    werf.io/failures-allowed-per-replica: \"3\"\nspec:\n  selector:\n    matchLabels: {app: worker}\n  template:\n    metadata:\n      labels: {app: worker}\n    spec:\n      containers:\n      - name: worker\n        image: {{ .Values.werf.image.app }}\n        command: [\"sh\", \"-c\", \"crash on start\"]\n",
        )],
    );
    let (ok, _, stderr) = p.run(c, "converge", &[]);
    assert!(!ok);
    assert!(stderr.contains("(3 of 3 failures allowed)"), "{stderr}");
    assert!(
        stderr.contains("exiting with code 1 (restart 4)"),
        "{stderr}"
    );
}

#[test]
fn a_removed_template_prunes_its_object_and_a_job_change_recreates_it() {
    let c = cluster();
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: seed\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: seed\n        image: {{ .Values.werf.image.app }}\n        command: [\"sh\", \"-c\", \"seed v1\"]\n";
    let mut p = Project::new("prune", &[(".helm/templates/job.yaml", job)]);
    p.converge(c, &[]);
    assert!(c
        .kubectl(&["get", "job", "seed", "-n", "prune"])
        .status
        .success());
    p.change(&[(
        ".helm/templates/job.yaml",
        &job.replace("seed v1", "seed v2"),
    )]);
    let out = p.converge(c, &[]);
    assert!(out.contains("recreated Job/seed (prune)"), "{out}");
    assert!(out.contains("field is immutable"), "{out}");
    let cmd = c.get_json(&["job", "seed", "-n", "prune"])["spec"]["template"]["spec"]["containers"]
        [0]["command"][2]
        .clone();
    assert_eq!(cmd, "seed v2");

    p.repo.git(&["rm", "-q", ".helm/templates/job.yaml"]);
    p.repo.commit("drop the job");
    let before = c.writes_by("werf").len();
    let out = p.converge(c, &[]);
    assert!(
        out.contains("deleting Job/seed (prune) (no longer in the chart)"),
        "{out}"
    );
    let (objects, _) = object_writes(c, before, "prune");
    assert_eq!(objects, ["delete jobs prune/seed"]);
    c.wait_for("the job to go", Duration::from_secs(30), || {
        !c.kubectl(&["get", "job", "seed", "-n", "prune"])
            .status
            .success()
    });
}

#[test]
fn weights_and_hooks_order_the_rollout_and_dismiss_removes_the_release() {
    let c = cluster();
    let hook = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: {{ .Values.werf.image.app }}\n        command: [\"sh\", \"-c\", \"migrate\"]\n";
    let db = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\n  annotations:\n    werf.io/weight: \"-10\"\ndata:\n  url: postgres://db\n";
    let p = Project::new(
        "order",
        &[
            (".helm/templates/hook.yaml", hook),
            (".helm/templates/db.yaml", db),
        ],
    );
    let before = c.writes_by("werf").len();
    p.converge(c, &[]);
    let (writes, _) = object_writes(c, before, "order");
    // Pre hooks first (deleted on success), then weight -10, then weight 0.
    assert_eq!(writes[0], "create namespaces /order", "{writes:#?}");
    assert_eq!(
        writes[1], "patch jobs order/migrate",
        "no delete of a hook that does not exist yet: {writes:#?}"
    );
    assert_eq!(
        writes[2], "delete jobs order/migrate",
        "hook-succeeded: {writes:#?}"
    );
    assert_eq!(writes[3], "patch configmaps order/db", "{writes:#?}");
    let mut rest = writes[4..].to_vec();
    rest.sort();
    assert_eq!(
        rest,
        [
            "patch configmaps order/settings",
            "patch deployments order/app",
            "patch deployments order/side",
            "patch services order/app",
        ]
    );

    let (ok, stdout, stderr) = p.run(c, "dismiss", &["--with-namespace"]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("dismissed: 5 objects deleted"), "{stdout}");
    c.wait_for("the namespace to go", Duration::from_secs(60), || {
        !c.kubectl(&["get", "namespace", "order"]).status.success()
    });
}

/// A pending revision `revision` of release `ns` as another converge leaves it: Helm's record
/// with werf-rs's lock annotations, the lock expiring at `expires` (Unix seconds).
fn pending_revision(c: &Cluster, ns: &str, revision: u64, expires: i64) {
    use base64::Engine as _;
    use std::io::Write as _;
    let release = serde_json::json!({
        "name": ns, "namespace": ns, "version": revision, "apply_method": "ssa",
        "info": {"first_deployed": "2026-01-01T00:00:00Z", "last_deployed": "2026-01-01T00:00:00Z",
                 "description": "Preparing upgrade", "status": "pending-upgrade", "notes": ""},
        "chart": {"metadata": {"name": "shop", "version": "1.0.0"}}, "config": {},
        "manifest": "", "hooks": [],
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(release.to_string().as_bytes())
        .expect("memory");
    let b64 = base64::engine::general_purpose::STANDARD;
    let data = b64.encode(b64.encode(gz.finish().expect("memory")));
    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {
            "name": format!("sh.helm.release.v1.{ns}.v{revision}"), "namespace": ns,
            "labels": {"owner": "helm", "name": ns, "status": "pending-upgrade", "version": revision.to_string()},
            "annotations": {"werf.io/converge-holder": "other-host:42", "werf.io/converge-lock-expires": expires.to_string()},
        },
        "data": {"release": data},
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pending.json");
    std::fs::write(&file, secret.to_string()).expect("write");
    c.kubectl_ok(&["apply", "-f", &file.display().to_string()]);
}

#[test]
fn a_pending_revision_is_the_lock_until_it_expires() {
    let c = cluster();
    let mut p = Project::new("locked", &[]);
    p.converge(c, &[]);
    // Another converge holds revision 2, its lock valid for long.
    pending_revision(c, "locked", 2, 4_000_000_000);
    p.change(&[("app/app.txt", "app v2\n")]);
    let before = c.writes_by("werf").len();
    let (ok, _, stderr) = p.run(c, "converge", &[]);
    assert!(!ok);
    assert!(
        stderr.contains("is being converged by `other-host:42`")
            && stderr.contains("(revision 2 is pending)"),
        "{stderr}"
    );
    // Refused before anything was written (the images were published; no object, no record).
    assert_eq!(object_writes(c, before, "locked"), (vec![], vec![]));

    // The holder died: once its lock expired, the next converge marks it failed and goes on as
    // revision 3.
    pending_revision(c, "locked", 2, 1_000_000_000);
    let out = p.converge(c, &[]);
    assert!(out.contains("marking it failed"), "{out}");
    assert!(out.contains("revision 3"), "{out}");
    let statuses = c.kubectl_ok(&[
        "get",
        "secrets",
        "-n",
        "locked",
        "-l",
        "owner=helm,name=locked",
        "-o",
        "jsonpath={range .items[*]}{.metadata.labels.version}={.metadata.labels.status} {end}",
    ]);
    assert_eq!(statuses.trim(), "1=superseded 2=failed 3=deployed");

    // Two real converges at once: never interleaved; one wins, the other is refused or finds
    // nothing left to do.
    p.change(&[("app/app.txt", "app v3\n")]);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| p.run(c, "converge", &[]));
        let b = s.spawn(|| p.run(c, "converge", &[]));
        (a.join().expect("a"), b.join().expect("b"))
    });
    assert!(a.0 || b.0, "one converge succeeds:\n{}\n{}", a.2, b.2);
    for (ok, _, stderr) in [&a, &b] {
        assert!(*ok || stderr.contains("is being converged by"), "{stderr}");
    }
    let deployed = c.kubectl_ok(&[
        "get",
        "secrets",
        "-n",
        "locked",
        "-l",
        "owner=helm,name=locked,status=deployed",
        "-o",
        "name",
    ]);
    assert_eq!(deployed.lines().count(), 1, "{deployed}");
}

#[test]
fn a_bad_kubeconfig_and_an_unreachable_cluster_are_clear_errors() {
    let p = Project::new("unreach", &[]);
    let out = p
        .repo
        .werf(&["plan", "--kube-config", "/nonexistent/kubeconfig"]);
    let (_, stderr) = text(&out, &p.repo);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("cannot read kubeconfig `/nonexistent/kubeconfig`"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let dead = dir.path().join("dead");
    std::fs::write(&dead, "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:9\"}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: x}\n").expect("write");
    let dead = dead.display().to_string();
    // A live registry: had converge built before asking the cluster, the images would be there.
    let registry = crate::registry::Registry::start();
    let repo = registry.repo("unreach");
    let pushed = registry
        .storage()
        .join("docker/registry/v2/repositories/unreach");
    let out = p
        .repo
        .werf(&["converge", "--repo", &repo, "--kube-config", &dead]);
    let (stdout, stderr) = text(&out, &p.repo);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("cannot reach the Kubernetes API at `https://127.0.0.1:9/`"),
        "{stderr}"
    );
    assert!(
        !pushed.exists(),
        "nothing is built before the cluster answers"
    );
    assert!(!stdout.contains("built and pushed"), "{stdout}");
    // The same project and repository do publish when asked to: the checks above could fail.
    let (stdout, stderr) = text(&p.repo.werf(&["build", "--repo", &repo]), &p.repo);
    assert!(stdout.contains("2 built and pushed"), "{stdout}\n{stderr}");
    assert!(pushed.exists(), "{stdout}\n{stderr}");
    let out = p
        .repo
        .werf(&["plan", "--kube-config", &dead, "--kube-context", "missing"]);
    assert!(text(&out, &p.repo).1.contains("missing"));
}

#[test]
fn manual_changes_are_restored_and_what_controllers_own_is_not_drift() {
    let c = cluster();
    let scaled = SIDE.replace(
        "  name: side\nspec:",
        "  name: side\n  annotations:\n    werf.io/replicas-on-creation: \"1\"\nspec:",
    );
    let p = Project::new("drift", &[(".helm/templates/side.yaml", &scaled)]);
    p.converge(c, &[]);
    assert_eq!(
        c.get_json(&["deployment", "side", "-n", "drift"])["spec"]["replicas"],
        1
    );
    // An autoscaler's change (replicas) and a person's change (a field werf applied).
    c.kubectl_ok(&["scale", "deployment", "side", "-n", "drift", "--replicas=3"]);
    c.kubectl_ok(&[
        "patch",
        "configmap",
        "settings",
        "-n",
        "drift",
        "-p",
        "{\"data\":{\"mode\":\"slow\"}}",
    ]);
    let (ok, stdout, _) = p.run(c, "plan", &["--exit-code"]);
    assert!(
        !ok && stdout.contains("~ update ConfigMap/settings (drift)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("-  mode: slow") && stdout.contains("+  mode: fast"),
        "{stdout}"
    );
    assert!(stdout.contains("1 to change"), "{stdout}");
    let before = c.writes_by("werf").len();
    p.converge(c, &[]);
    let (objects, _) = object_writes(c, before, "drift");
    assert_eq!(objects, ["patch configmaps drift/settings"]);
    assert_eq!(
        c.get_json(&["configmap", "settings", "-n", "drift"])["data"]["mode"],
        "fast"
    );
    assert_eq!(
        c.get_json(&["deployment", "side", "-n", "drift"])["spec"]["replicas"],
        3
    );
}

#[test]
fn fail_mode_and_termination_mode_annotations_are_honoured() {
    let c = cluster();
    let crashing = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: flaky\n  annotations:\n    werf.io/fail-mode: IgnoreAndContinueDeployProcess\nspec:\n  selector:\n    matchLabels: {app: flaky}\n  template:\n    metadata:\n      labels: {app: flaky}\n    spec:\n      containers:\n      - name: flaky\n        image: {{ .Values.werf.image.app }}\n        command: [\"sh\", \"-c\", \"crash\"]\n";
    let unpulled = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: later\n  annotations:\n    werf.io/track-termination-mode: NonBlocking\nspec:\n  selector:\n    matchLabels: {app: later}\n  template:\n    metadata:\n      labels: {app: later}\n    spec:\n      containers:\n      - name: later\n        image: {{ .Values.werf.image.app }}-not-yet\n";
    let p = Project::new(
        "modes",
        &[
            (".helm/templates/flaky.yaml", crashing),
            (".helm/templates/later.yaml", unpulled),
        ],
    );
    let out = p.converge(c, &[]);
    assert!(out.contains("Deployment/flaky (modes)"), "{out}");
    assert!(
        !out.contains("Deployment/later (modes)  "),
        "not tracked: {out}"
    );
    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  annotations:\n    werf.io/fail-mode: Sometimes\n";
    let mut p = p;
    p.change(&[(".helm/templates/bad.yaml", bad)]);
    let (ok, _, stderr) = p.run(c, "converge", &[]);
    assert!(!ok);
    assert!(
        stderr.contains("`shop/templates/bad.yaml`: `werf.io/fail-mode: Sometimes` is not one of"),
        "{stderr}"
    );
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets, singular: widget}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            properties:\n              size: {type: integer}\n";

const WIDGET: &str = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: small\nspec:\n  size: {{ .Values.size | default 1 }}\n";

#[test]
fn crds_are_created_first_and_never_pruned() {
    let c = cluster();
    let mut p = Project::new(
        "crds",
        &[
            (".helm/crds/widgets.yaml", CRD),
            (".helm/templates/widget.yaml", WIDGET),
        ],
    );
    // The chart's own Widget resolves only because its definition was created first.
    let out = p.converge(c, &[]);
    assert!(
        out.contains("create  CustomResourceDefinition widgets.example.com (crds/)"),
        "{out}"
    );
    let widget = c.get_json(&["widget", "small", "-n", "crds"]);
    assert_eq!(widget["spec"]["size"], 1, "{widget}");
    // An existing definition is left as it is: a second converge creates nothing.
    let out = p.converge(c, &["--set", "size=2"]);
    assert!(!out.contains("(crds/)"), "{out}");
    assert_eq!(
        c.get_json(&["widget", "small", "-n", "crds"])["spec"]["size"],
        2
    );
    // The Widget leaves the chart and is pruned; the definition stays.
    p.change(&[(".helm/templates/widget.yaml", "{{/* gone */}}\n")]);
    p.repo.git(&["rm", "-q", "-r", ".helm/crds"]);
    p.repo.commit("no crds");
    let out = p.converge(c, &[]);
    assert!(out.contains("delete  Widget/small (crds)"), "{out}");
    // Deleted (foreground: the garbage collector, which learns new kinds on its next discovery,
    // finishes it), so gone or marked for deletion.
    let left = c.kubectl(&["get", "widget", "small", "-n", "crds", "-o", "json"]);
    if left.status.success() {
        let v: serde_json::Value = serde_json::from_slice(&left.stdout).expect("JSON");
        assert!(
            v["metadata"]["deletionTimestamp"].is_string(),
            "the Widget was pruned: {v}"
        );
    }
    let crd = c.get_json(&["crd", "widgets.example.com"]);
    assert_eq!(
        crd["metadata"]["name"], "widgets.example.com",
        "the definition stays"
    );
}

const DB_SECRET: &str = "{{- $existing := lookup \"v1\" \"Secret\" .Release.Namespace \"db\" }}\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {{ if $existing }}{{ index $existing.data \"password\" | b64dec }}{{ else }}{{ randAlphaNum 16 }}{{ end }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: seen\ndata:\n  namespace: {{ dig \"metadata\" \"name\" \"none\" (lookup \"v1\" \"Namespace\" \"\" \"default\") | quote }}\n  missing: {{ lookup \"v1\" \"Secret\" .Release.Namespace \"absent\" | len | quote }}\n";

#[test]
fn lookup_reads_the_cluster_on_converge_so_a_generated_password_stays() {
    let c = cluster();
    let p = Project::new("look", &[(".helm/templates/db.yaml", DB_SECRET)]);
    p.converge(c, &[]);
    let password = |c: &Cluster| {
        c.get_json(&["secret", "db", "-n", "look"])["data"]["password"]
            .as_str()
            .expect("a password")
            .to_string()
    };
    let first = password(c);
    // The second converge reads the Secret back through `lookup`: same password, no write.
    let out = p.converge(c, &[]);
    assert!(out.contains("is up to date (revision 1)"), "{out}");
    assert_eq!(password(c), first);
    let seen = c.get_json(&["configmap", "seen", "-n", "look"]);
    assert_eq!(seen["data"]["namespace"], "default", "{seen}");
    assert_eq!(seen["data"]["missing"], "0", "{seen}");
    // `werf render` has no cluster, as `helm template`: the lookups find nothing.
    let out = p
        .repo
        .werf(&["render", "--namespace", "look", "--release", "look"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("namespace: \"none\""), "{stdout}");
}

#[test]
fn objects_of_another_release_or_of_none_are_not_taken_over_without_force_adoption() {
    let c = cluster();
    let ns = "adopt";
    let p = Project::new(ns, &[]);
    c.kubectl_ok(&["create", "namespace", ns]);
    // `settings`, which the chart also renders, already belongs to the release `billing`.
    let dir = tempfile::tempdir().expect("tempdir");
    let cm = dir.path().join("settings.yaml");
    std::fs::write(
        &cm,
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\n  labels:\n    app.kubernetes.io/managed-by: Helm\n  annotations:\n    meta.helm.sh/release-name: billing\n    meta.helm.sh/release-namespace: {ns}\ndata:\n  mode: slow\n"),
    )
    .expect("write");
    c.kubectl_ok(&["apply", "-f", cm.to_str().expect("utf-8")]);
    let before = c.writes_by("werf").len();
    let (ok, stdout, stderr) = p.run(c, "converge", &[]);
    assert!(!ok, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("ConfigMap/settings (adopt) exists and belongs to release `billing` in namespace `adopt`"),
        "{stderr}"
    );
    // Refused before anything was applied: billing's object and the namespace are as they were.
    assert_eq!(object_writes(c, before, ns).0, Vec::<String>::new());
    let settings = c.get_json(&["configmap", "settings", "-n", ns]);
    assert_eq!(settings["data"]["mode"], "slow");

    // Of no release: refused too, naming the way to adopt it.
    c.kubectl_ok(&[
        "annotate",
        "configmap",
        "settings",
        "-n",
        ns,
        "meta.helm.sh/release-name-",
        "meta.helm.sh/release-namespace-",
    ]);
    let (ok, _, stderr) = p.run(c, "plan", &[]);
    assert!(!ok);
    assert!(
        stderr.contains("ConfigMap/settings (adopt) exists and belongs to no release: adopt it with `--force-adoption`"),
        "{stderr}"
    );

    // `--force-adoption` takes it; every object carries this release's marks; a later converge
    // without the flag finds its own objects.
    let out = p.converge(c, &["--force-adoption"]);
    assert!(out.contains("Deployment/app (adopt)"), "{out}");
    for (kind, name) in [
        ("configmap", "settings"),
        ("deployment", "app"),
        ("service", "app"),
    ] {
        let o = c.get_json(&[kind, name, "-n", ns]);
        assert_eq!(
            o["metadata"]["annotations"]["meta.helm.sh/release-name"], ns,
            "{kind}/{name}: {o}"
        );
        assert_eq!(
            o["metadata"]["annotations"]["meta.helm.sh/release-namespace"], ns,
            "{kind}/{name}"
        );
        assert_eq!(
            o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm",
            "{kind}/{name}"
        );
    }
    assert_eq!(
        c.get_json(&["configmap", "settings", "-n", ns])["data"]["mode"],
        "fast"
    );
    let out = p.converge(c, &[]);
    assert!(out.contains("is up to date (revision 1)"), "{out}");
}

/// `--save-deploy-report` writes werf's report: the release, namespace, revision and status
/// (`skipped` when nothing changed), and the revision's objects; a path werf refuses is an
/// error before anything is deployed.
#[test]
fn the_deploy_report_is_werfs() {
    let c = cluster();
    let p = Project::new("report", &[]);
    let path = p.repo.home.path().join("out.json");
    let arg = path.to_str().expect("utf-8");
    let (ok, _, stderr) = p.run(
        c,
        "converge",
        &["--save-deploy-report", "--deploy-report-path", "r.yaml"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("the extension must be `.json` or none"),
        "{stderr}"
    );
    let ns = c.kubectl(&["get", "namespace", "report"]);
    assert!(!ns.status.success(), "nothing was deployed");

    p.converge(c, &["--save-deploy-report", "--deploy-report-path", arg]);
    let text = std::fs::read_to_string(&path).expect("the report");
    assert!(text.starts_with("{\n\t\"version\": 2,"), "{text}");
    let saved: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(saved["release"], "report");
    assert_eq!(saved["namespace"], "report");
    assert_eq!(saved["revision"], 1);
    assert_eq!(saved["status"], "deployed");
    let objects: Vec<String> = saved["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["kind"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    for o in [
        "Deployment/app",
        "Service/app",
        "Deployment/side",
        "ConfigMap/settings",
    ] {
        assert!(objects.contains(&o.to_string()), "{o} in {objects:?}");
    }
    // Nothing to change: werf's `skipped`, the revision the release is at.
    p.converge(c, &["--save-deploy-report", "--deploy-report-path", arg]);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("the report")).expect("JSON");
    assert_eq!(saved["status"], "skipped");
    assert_eq!(saved["revision"], 1);
}
