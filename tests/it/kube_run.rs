//! `werf kube-run` against the real control plane and registry: the pod a real cluster would
//! show (spec, image, command, overrides, pull Secret), the log the node reports, the exit code
//! passed on, and the pod deleted afterwards unless kept. The nodes are simulated: a command's
//! last `exit N` is the code the node reports.

use serde_json::Value;

use crate::cluster::{cluster, Cluster};
use crate::support::Repo;

fn project() -> Repo {
    let mut repo = Repo::new(&[
        (
            "werf.yaml",
            "project: runner\nconfigVersion: 1\n---\nimage: tool\ncontext: tool\ndockerfile: Dockerfile\n",
        ),
        ("tool/Dockerfile", "FROM scratch\nCOPY t.txt /t.txt\n"),
        ("tool/t.txt", "tool\n"),
    ]);
    repo.commit("init");
    repo
}

/// `werf kube-run` of `repo`'s image, built into `REGISTRY/PROJECT` (each test its own).
fn kube_run(
    c: &Cluster,
    repo: &Repo,
    project: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let registry = format!("{}/{project}", c.registry.address);
    let kubeconfig = c.kubeconfig.display().to_string();
    let mut args = vec![
        "kube-run",
        "--repo",
        &registry,
        "--kube-config",
        &kubeconfig,
        "--namespace",
        "kuberun",
        "--timeout",
        "60s",
    ];
    args.extend_from_slice(extra);
    let out = repo.werf_env(&args, env);
    (
        out.status.code(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn kube_run_runs_the_command_in_a_pod_passes_its_exit_code_on_and_cleans_up() {
    let c = cluster();
    let repo = project();
    let image = format!("{}/runner:{}", c.registry.address, repo.tags()["tool"]);

    // Kept (`--rm=false`), with overrides and a label: the pod as the cluster holds it.
    let (code, out) = kube_run(
        c,
        &repo,
        "runner",
        &[
            "--pod",
            "job-1",
            "--rm=false",
            "--add-label",
            "team=core",
            "--overrides",
            r#"{"spec": {"containers": [{"name": "%container_name%", "env": [{"name": "IMG", "value": "%container_image%"}]}]}}"#,
            "--",
            "sh",
            "-c",
            "echo hi; exit 3",
        ],
        &[],
    );
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("1 built and pushed"), "{out}");
    assert!(
        out.contains(&format!("running `sh -c echo hi; exit 3` (image {image})")),
        "the node's log is followed:\n{out}"
    );
    assert!(out.contains("exit code 3"), "{out}");
    let pod = c.get_json(&["pod", "job-1", "-n", "kuberun"]);
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["name"], "job-1");
    assert_eq!(container["image"], image.as_str());
    assert_eq!(
        container["command"],
        serde_json::json!(["sh", "-c", "echo hi; exit 3"])
    );
    assert_eq!(container["env"][0]["value"], image.as_str());
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    assert_eq!(pod["metadata"]["labels"]["team"], "core");
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        3
    );

    // By default the pod goes when the command ends: created, then deleted, nothing left.
    let before = c.writes_by("werf").len();
    let (code, out) = kube_run(
        c,
        &repo,
        "runner",
        &["--pod", "job-2", "--", "echo", "ok"],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("already in"),
        "the image is not built again:\n{out}"
    );
    let writes: Vec<String> = c.writes_by("werf")[before..]
        .iter()
        .filter(|w| w.contains("pods kuberun/job-2"))
        .cloned()
        .collect();
    assert_eq!(
        writes,
        ["create pods kuberun/job-2", "delete pods kuberun/job-2"],
        "{out}"
    );

    // A login in the Docker config becomes the pod's pull Secret; the password is never shown.
    let docker = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        docker.path().join("config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"username": "robot", "password": "pw-never-shown-42"}}}}}}"#,
            c.registry.address
        ),
    )
    .expect("write");
    let (code, out) = kube_run(
        c,
        &repo,
        "runner",
        &["--pod", "job-3", "--rm=false", "--", "true"],
        &[("DOCKER_CONFIG", &docker.path().display().to_string())],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("pw-never-shown-42"), "{out}");
    let pod = c.get_json(&["pod", "job-3", "-n", "kuberun"]);
    assert_eq!(pod["spec"]["imagePullSecrets"][0]["name"], "job-3");
    let secret: Value = c.get_json(&["secret", "job-3", "-n", "kuberun"]);
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    let encoded = secret["data"][".dockerconfigjson"].as_str().expect("data");
    let decoded = std::process::Command::new("sh")
        .args(["-c", &format!("printf %s '{encoded}' | base64 -d")])
        .output()
        .expect("base64");
    assert!(
        String::from_utf8_lossy(&decoded.stdout).contains("pw-never-shown-42"),
        "the Secret holds the login"
    );
}

#[test]
fn kube_run_mistakes_are_clear_errors() {
    let c = cluster();
    let repo = project();
    // No command.
    let (code, out) = kube_run(c, &repo, "runner-mistakes", &[], &[]);
    assert_ne!(code, Some(0));
    assert!(out.contains("COMMAND"), "{out}");
    // `--rm-with-namespace` without `--rm`.
    let (code, out) = kube_run(
        c,
        &repo,
        "runner-mistakes",
        &["--rm=false", "--rm-with-namespace", "--", "true"],
        &[],
    );
    assert_ne!(code, Some(0));
    assert!(out.contains("`--rm-with-namespace` needs `--rm`"), "{out}");
    // Overrides that are not a partial Pod, before anything is created.
    let (code, out) = kube_run(
        c,
        &repo,
        "runner-mistakes",
        &["--pod", "bad-1", "--overrides", "[1]", "--", "true"],
        &[],
    );
    assert_ne!(code, Some(0));
    assert!(out.contains("must be a JSON object"), "{out}");
    assert!(
        c.kubectl(&["get", "pod", "bad-1", "-n", "kuberun"])
            .status
            .code()
            != Some(0)
    );
    // `-Z` with an image the repository lacks.
    let registry = format!("{}/runner-empty", c.registry.address);
    let kubeconfig = c.kubeconfig.display().to_string();
    let out = repo.werf(&[
        "kube-run",
        "--repo",
        &registry,
        "--kube-config",
        &kubeconfig,
        "-Z",
        "--",
        "true",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not in") && stderr.contains("runner-empty"),
        "{stderr}"
    );
}
