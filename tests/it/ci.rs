//! What CI jobs call: every flag as its `WERF_*` variable, `werf version`, `werf slugify`,
//! `werf completion`.

use std::process::Command;

use crate::support::{text, werf_in, Repo};

fn two_images() -> Repo {
    let mut r = Repo::new(&[
        (
            "werf.yaml",
            "project: ci\nconfigVersion: 1\n---\nimage: app\ndockerfile: Dockerfile\n",
        ),
        ("Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n"),
        ("a.txt", "a\n"),
    ]);
    r.commit("init");
    r
}

#[test]
fn version_slugify_and_completion_answer_as_werf_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| werf_in(dir.path(), dir.path(), args);
    let out = run(&["version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("v{}\n", env!("CARGO_PKG_VERSION"))
    );
    // werf's documented examples, in each spelling of the format.
    for (format, input, want) in [
        ("kubernetes-namespace", "feature-fix-2", "feature-fix-2"),
        ("ns", "branch/one/!@#4.4-3", "branch-one-4-4-3-4fe08955"),
        ("kubernetes-namespace", "My_branch", "my-branch-8ebf2d1d"),
        ("docker-tag", "helo/ehlo", "helo-ehlo-b6f6ab1f"),
        ("tag", "16.04", "16.04"),
        ("helm-release", "release.name", "release.name"),
        ("kubernetes-release-name", "-data", "data-a871d86e"),
    ] {
        let out = run(&["slugify", "-f", format, input]);
        assert!(out.status.success(), "{format} {input}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{want}\n"));
    }
    let out = run(&["slugify", "-f", "nope", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'nope' for '--format"));

    // The bash script is valid bash and registers the completion of `werf`.
    let out = run(&["completion", "--shell=bash"]);
    assert!(out.status.success());
    let script = dir.path().join("werf.bash");
    std::fs::write(&script, &out.stdout).expect("write");
    let shell = Command::new("bash")
        .arg("-c")
        .arg(format!(". '{}' && complete -p werf", script.display()))
        .output()
        .expect("bash runs");
    assert!(
        shell.status.success(),
        "{}",
        String::from_utf8_lossy(&shell.stderr)
    );
    assert!(String::from_utf8_lossy(&shell.stdout).contains("_werf"));
    for shell in ["zsh", "fish"] {
        let out = run(&["completion", &format!("--shell={shell}")]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("slugify") && script.contains("converge"),
            "{shell}"
        );
    }
}

/// `--some-flag` is `$WERF_SOME_FLAG`; booleans read werf's spellings; a bad value names it.
#[test]
fn every_flag_reads_its_variable() {
    let r = two_images();
    let dead = "127.0.0.1:9/ci";
    // WERF_DRY_RUN=true plans without the registry; false tries the (dead) registry and fails.
    let out = r.werf_env(&["build", "--repo", dead], &[("WERF_DRY_RUN", "true")]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    let out = r.werf_env(&["build", "--repo", dead], &[("WERF_DRY_RUN", "false")]);
    assert!(
        !out.status.success(),
        "a build with WERF_DRY_RUN=false reaches the registry"
    );
    // The repository from WERF_REPO, as the flag.
    let out = r.werf_env(&["build"], &[("WERF_REPO", dead), ("WERF_DRY_RUN", "1")]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    assert!(
        text(&out, &r).0.contains(dead),
        "the plan names the repository"
    );
    // A value a flag refuses is refused from its variable too.
    let out = r.werf_env(
        &["build", "--dry-run"],
        &[("WERF_PARALLEL_TASKS_LIMIT", "0")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out, &r).1.contains("--parallel-tasks-limit"),
        "{}",
        text(&out, &r).1
    );
    let out = r.werf_env(&["build", "--dry-run"], &[("WERF_PARALLEL", "maybe")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out, &r).1.contains("value was not a boolean"));
    // werf's registry implementations are names werf-rs knows (each works as `default`).
    let out = r.werf_env(
        &["build", "--dry-run"],
        &[("WERF_REPO_CONTAINER_REGISTRY", "gitlab")],
    );
    assert!(out.status.success(), "{}", text(&out, &r).1);
    let out = r.werf(&[
        "build",
        "--dry-run",
        "--repo-container-registry",
        "nexus3000",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out, &r).1.contains("nexus3000"),
        "{}",
        text(&out, &r).1
    );
    // `--platform` (and `WERF_PLATFORM`): the images build for it instead of werf.yaml's.
    let reg = crate::registry::Registry::start();
    let repo = reg.repo("platform");
    let out = r.werf(&["build", "--repo", &repo, "--platform", "linux/amd64"]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    let out = r.werf_env(
        &["build", "--repo", &repo],
        &[("WERF_PLATFORM", "linux/arm64")],
    );
    assert!(out.status.success(), "{}", text(&out, &r).1);
    assert!(
        text(&out, &r).0.contains("1 built and pushed"),
        "another platform, another tag: {}",
        text(&out, &r).0
    );
}

const JOB_WERF_YAML: &str = "configVersion: 1\n---\nimage: app\ndockerfile: Dockerfile\n";
const JOB_CHART: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  annotations:\n    chart.example.com/own: kept\ndata:\n  image: {{ .Values.werf.image.app }}\n";

/// A project whose chart records its image in a ConfigMap.
fn job_project(project: &str) -> Repo {
    let mut r = Repo::new(&[
        ("werf.yaml", &format!("project: {project}\n{JOB_WERF_YAML}")),
        ("Dockerfile", "FROM scratch\nCOPY app.txt /app.txt\n"),
        ("app.txt", &format!("{project}\n")),
        (
            ".helm/Chart.yaml",
            &format!("apiVersion: v2\nname: {project}\nversion: 1.0.0\n"),
        ),
        (".helm/templates/app.yaml", JOB_CHART),
    ]);
    r.commit("init");
    r
}

/// Runs `script` in bash in the repository as a CI job: the job's variables `vars`, `werf` on
/// the PATH, the machine's `WERF_*` variables and Docker config left out.
fn job(r: &Repo, vars: &[(&str, &str)], script: &str) -> std::process::Output {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_werf"))
        .parent()
        .expect("the binary's folder")
        .to_path_buf();
    let mut cmd = Command::new("bash");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("WERF_") {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove("DOCKER_CONFIG")
        .env_remove("KUBECONFIG")
        .env("HOME", r.home.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .current_dir(r.path())
        .arg("-c")
        .arg(format!("set -e\n{script}"));
    for (k, v) in vars {
        cmd.env(k, v);
    }
    crate::support::no_panic(cmd.output().expect("bash runs"))
}

fn output(out: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A GitLab job as GitLab runs it: `. $(werf ci-env gitlab --as-file)` then `werf converge`
/// with nothing but the environment. The image lands in `$CI_REGISTRY_IMAGE/werf` (a registry
/// that wants the job token), and werf's annotations land on the objects.
#[test]
fn a_gitlab_job_converges_with_nothing_but_its_environment() {
    let c = crate::cluster::cluster();
    let registry = crate::registry::Registry::start_with_auth();
    let r = job_project("cigl");
    let sha = r.git(&["rev-parse", "HEAD"]).trim().to_string();
    let image = format!("{}/group/cigl", registry.address);
    let kubeconfig = c.kubeconfig.display().to_string();
    let mut vars = vec![
        ("CI_REGISTRY", registry.address.as_str()),
        ("CI_REGISTRY_IMAGE", image.as_str()),
        ("CI_REGISTRY_USER", "werf"),
        ("CI_ENVIRONMENT_SLUG", "review-ci"),
        ("CI_PROJECT_URL", "https://gitlab.example.com/group/cigl"),
        ("CI_COMMIT_SHA", sha.as_str()),
        (
            "CI_PIPELINE_URL",
            "https://gitlab.example.com/group/cigl/-/pipelines/7",
        ),
        (
            "CI_JOB_URL",
            "https://gitlab.example.com/group/cigl/-/jobs/9",
        ),
        ("KUBECONFIG", kubeconfig.as_str()),
    ];
    // Without the job token there is no login: the registry refuses the push.
    let out = job(&r, &vars, ". $(werf ci-env gitlab --as-file)\nwerf build");
    assert!(
        !out.status.success(),
        "a push without the login: {}",
        output(&out)
    );
    let refused = output(&out);
    assert!(
        refused.contains("Not authorized: the registry asks for credentials and the Docker config has none for it"),
        "{refused}"
    );
    assert_eq!(
        refused.matches("Not authorized").count(),
        1,
        "the cause is said once: {refused}"
    );

    vars.push(("CI_JOB_TOKEN", "secret"));
    let out = job(
        &r,
        &vars,
        ". $(werf ci-env gitlab --as-file)\nwerf converge",
    );
    let all = output(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        !all.contains("secret"),
        "the job token is never printed: {all}"
    );

    let object = c.get_json(&["configmap", "app", "-n", "cigl-review-ci"]);
    let annotations = &object["metadata"]["annotations"];
    assert_eq!(
        annotations["project.werf.io/git"],
        "https://gitlab.example.com/group/cigl"
    );
    assert_eq!(annotations["ci.werf.io/commit"], sha.as_str());
    assert_eq!(
        annotations["gitlab.ci.werf.io/pipeline-url"],
        "https://gitlab.example.com/group/cigl/-/pipelines/7"
    );
    assert_eq!(
        annotations["gitlab.ci.werf.io/job-url"],
        "https://gitlab.example.com/group/cigl/-/jobs/9"
    );
    assert_eq!(annotations["chart.example.com/own"], "kept");
    assert_eq!(
        annotations.get("ci.werf.io/tag"),
        None,
        "no tag in this pipeline"
    );
    let deployed = object["data"]["image"].as_str().expect("the image value");
    assert!(
        deployed.starts_with(&format!("{image}/werf:")),
        "{deployed}"
    );
    // skopeo reads the image there, with the credentials the job logged in with.
    let inspected = crate::registry::skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--creds",
        "werf:secret",
        &format!("docker://{deployed}"),
    ]);
    assert!(inspected.contains("\"Digest\""), "{inspected}");
}

/// A GitHub Actions job: the repository the workflow sets (`WERF_REPO`) is kept, the job's
/// Docker config keeps the credentials it had and gains the `ghcr.io` login, and werf's GitHub
/// annotations land on the objects.
#[test]
fn a_github_job_converges_with_nothing_but_its_environment() {
    let c = crate::cluster::cluster();
    let registry = crate::registry::Registry::start_with_auth();
    let r = job_project("cigh");
    let repo = format!("{}/owner/cigh", registry.address);
    let docker = registry.docker_config();
    let docker_path = docker.path().display().to_string();
    // The cluster as a CI secret holds it: the kubeconfig itself, base64-encoded.
    let kubeconfig = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(&c.kubeconfig).expect("the kubeconfig"))
    };
    let vars = [
        ("GITHUB_REPOSITORY", "Owner/CiGh"),
        ("GITHUB_SHA", "feedbeef"),
        ("GITHUB_RUN_ID", "42"),
        ("GITHUB_REF_TYPE", "tag"),
        ("GITHUB_REF_NAME", "v1.0.0"),
        ("GITHUB_ACTOR", "octocat"),
        ("GITHUB_TOKEN", "ghs-token"),
        ("WERF_REPO", repo.as_str()),
        ("WERF_ENV", "production"),
        ("DOCKER_CONFIG", docker_path.as_str()),
        ("WERF_KUBE_CONFIG_BASE64", kubeconfig.as_str()),
    ];
    let out = job(&r, &vars, "werf ci-env github");
    let script = output(&out);
    assert!(out.status.success(), "{script}");
    assert!(
        script.contains(&format!(
            "# skip export WERF_REPO=\"ghcr.io/owner/cigh/cigh\" ({repo})"
        )),
        "{script}"
    );
    let config_dir = script
        .lines()
        .find_map(|l| l.strip_prefix("export DOCKER_CONFIG=\""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("the script names the job's Docker config");
    let config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(std::path::Path::new(config_dir).join("config.json")).expect("read"),
    )
    .expect("json");
    // base64 of `octocat:ghs-token`, and the job's own credentials kept.
    assert_eq!(
        config["auths"]["ghcr.io"]["auth"],
        "b2N0b2NhdDpnaHMtdG9rZW4="
    );
    assert_eq!(
        config["auths"][registry.address.as_str()]["auth"],
        "d2VyZjpzZWNyZXQ="
    );

    let out = job(
        &r,
        &vars,
        ". $(werf ci-env github --as-file)\nwerf converge",
    );
    assert!(out.status.success(), "{}", output(&out));
    let object = c.get_json(&["configmap", "app", "-n", "cigh-production"]);
    let annotations = &object["metadata"]["annotations"];
    assert_eq!(
        annotations["project.werf.io/git"],
        "https://github.com/Owner/CiGh"
    );
    assert_eq!(annotations["ci.werf.io/commit"], "feedbeef");
    assert_eq!(annotations["ci.werf.io/tag"], "v1.0.0");
    assert_eq!(
        annotations["github.ci.werf.io/workflow-run-url"],
        "https://github.com/Owner/CiGh/actions/runs/42"
    );
    let deployed = object["data"]["image"].as_str().expect("the image value");
    assert!(deployed.starts_with(&format!("{repo}:")), "{deployed}");
}

/// `--add-annotation`, `--add-label` and their variable families on every object; a bad pair
/// is an error naming where it came from, before anything is deployed.
#[test]
fn annotations_and_labels_from_flags_and_variables_land_on_every_object() {
    let c = crate::cluster::cluster();
    let r = job_project("cimeta");
    let kubeconfig = c.kubeconfig.display().to_string();
    let repo = c.registry.repo("cimeta");
    let args = [
        "converge",
        "--kube-config",
        &kubeconfig,
        "--repo",
        &repo,
        "--add-annotation",
        "team.example.com/owner=core",
        "--add-label",
        "tier=backend",
    ];
    // A kubeconfig that is not base64 is an error naming the flag, never the (secret) value.
    let out = r.werf_env(
        &["plan", "--repo", &repo],
        &[("WERF_KUBE_CONFIG_BASE64", "c2VjcmV0*not-base64")],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out, &r).1;
    assert!(
        stderr.contains("`--kube-config-base64` (`WERF_KUBE_CONFIG_BASE64`) is not base64"),
        "{stderr}"
    );
    assert!(!stderr.contains("c2VjcmV0"), "{stderr}");
    let bad = r.werf_env(&args, &[("WERF_ADD_LABEL_BAD", "no-equals-sign")]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad, &r)
            .1
            .contains("WERF_ADD_LABEL_BAD: `no-equals-sign` is not `key=value`"),
        "{}",
        text(&bad, &r).1
    );
    let out = r.werf_env(
        &args,
        &[
            ("WERF_ADD_ANNOTATION_CI", "ci.werf.io/commit=abc"),
            ("WERF_ADD_LABEL_ENV", "stage=review"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out, &r).1);
    let object = c.get_json(&["configmap", "app", "-n", "cimeta"]);
    let meta = &object["metadata"];
    assert_eq!(meta["annotations"]["team.example.com/owner"], "core");
    assert_eq!(meta["annotations"]["ci.werf.io/commit"], "abc");
    assert_eq!(meta["annotations"]["chart.example.com/own"], "kept");
    assert_eq!(meta["labels"]["tier"], "backend");
    assert_eq!(meta["labels"]["stage"], "review");
}

/// Values from the environment and files: `--set-json`, `--set-file`, `--set-literal` and
/// werf's families `WERF_SET_*`, `WERF_SET_STRING_*`, `WERF_SET_JSON_*`, `WERF_SET_FILE_*`,
/// `WERF_SET_LITERAL_*`, `WERF_VALUES_*`; flags after variables, families in Helm's order.
#[test]
fn values_come_from_flags_files_and_variable_families() {
    let mut r = Repo::new(&[
        ("werf.yaml", "project: civals\nconfigVersion: 1\n"),
        (".helm/Chart.yaml", "apiVersion: v2\nname: civals\nversion: 1.0.0\n"),
        (
            ".helm/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: v\ndata:\n  all: {{ omit .Values \"werf\" \"global\" | toJson | quote }}\n",
        ),
        ("extra.yaml", "fromfile: 1\nover: file\n"),
        ("cert.pem", "-----BEGIN X-----\nabc,def\n"),
    ]);
    r.commit("init");
    let render = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["render"];
        all.extend_from_slice(args);
        let out = r.werf_env(&all, env);
        (out.status.code(), text(&out, &r).0, text(&out, &r).1)
    };
    let values = |stdout: &str| -> serde_json::Value {
        let line = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("all: "))
            .expect("the values line");
        let inner: String = serde_json::from_str(line).expect("a quoted string");
        serde_json::from_str(&inner).expect("JSON values")
    };
    let (code, out, err) = render(
        &[
            "--set",
            "n=2,over=flag",
            "--set-json",
            r#"obj={"k":[1,"x"]}"#,
            "--set-file",
            "cert=cert.pem",
            "--set-literal",
            "lit=a,b=c",
        ],
        &[
            ("WERF_VALUES_1", "extra.yaml"),
            ("WERF_SET_A", "typed=7"),
            ("WERF_SET_STRING_B", "str=7"),
            ("WERF_SET_JSON_C", "json=[true]"),
            ("WERF_SET_LITERAL_D", "over=literal,kept"),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        values(&out),
        serde_json::json!({
            "fromfile": 1,
            "n": 2,
            "typed": 7,
            "str": "7",
            "json": [true],
            "obj": {"k": [1, "x"]},
            "cert": "-----BEGIN X-----\nabc,def\n",
            "lit": "a,b=c",
            "over": "literal,kept",
        })
    );
    // A missing file and werf's runtime values are errors naming them.
    let (code, _, err) = render(&["--set-file", "cert=missing.pem"], &[]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("`--set-file cert=missing.pem`: cannot read `missing.pem` for `cert`"),
        "{err}"
    );
    let (code, _, err) = render(&[], &[("WERF_SET_RUNTIME_JSON_X", "{}")]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("`WERF_SET_RUNTIME_JSON_X`: werf's runtime values are not supported"),
        "{err}"
    );
    let (code, _, err) = render(&["--set-json", "k={bad"], &[]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("`--set-json k={bad`: the value of `k` is not JSON"),
        "{err}"
    );
}

/// `werf cr login` stores the credentials a push then uses; `werf cr logout` removes them.
#[test]
fn cr_login_and_logout_edit_the_docker_config_pushes_read() {
    let registry = crate::registry::Registry::start_with_auth();
    let r = two_images();
    let docker = tempfile::tempdir().expect("tempdir");
    let config = docker.path().display().to_string();
    let repo = registry.repo("cr");
    let env = [("DOCKER_CONFIG", config.as_str())];
    let build = || r.werf_env(&["build", "--repo", &repo], &env);
    let out = build();
    assert!(!out.status.success(), "no login, no push");
    let out = r.werf_env(
        &[
            "cr",
            "login",
            &registry.address,
            "-u",
            "werf",
            "-p",
            "wrong",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out, &r).1);
    assert!(
        !build().status.success(),
        "a wrong password is refused by the registry"
    );
    let login = Command::new(env!("CARGO_BIN_EXE_werf"))
        .args([
            "cr",
            "login",
            &registry.address,
            "-u",
            "werf",
            "--password-stdin",
        ])
        .env("DOCKER_CONFIG", &config)
        .env("HOME", r.home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().expect("stdin").write_all(b"secret\n")?;
            child.wait_with_output()
        })
        .expect("werf runs");
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&login.stdout),
        String::from_utf8_lossy(&login.stderr)
    );
    assert!(said.contains("Logged in to"), "{said}");
    assert!(
        !said.contains("secret"),
        "the password is never printed: {said}"
    );
    let out = build();
    assert!(out.status.success(), "{}", text(&out, &r).1);
    let out = r.werf_env(&["cr", "logout", &registry.address], &env);
    assert!(text(&out, &r).0.contains("Logged out of"));
    let stored = std::fs::read_to_string(docker.path().join("config.json")).expect("config");
    assert!(!stored.contains(&registry.address), "{stored}");
}

/// `KUBECONFIG` naming several files is merged as kubectl merges it: a missing file skipped,
/// the first file's `current-context` winning.
#[test]
fn the_files_of_kubeconfig_are_merged_as_kubectl_merges_them() {
    let c = crate::cluster::cluster();
    let r = job_project("cikc");
    let repo = c.registry.repo("cikc");
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing");
    let chooser = dir.path().join("chooser");
    std::fs::write(
        &chooser,
        "apiVersion: v1\nkind: Config\ncurrent-context: elsewhere\ncontexts:\n- name: elsewhere\n  context: {cluster: nowhere, user: nobody}\n",
    )
    .expect("write");
    let list = |files: &[&std::path::Path]| {
        std::env::join_paths(files)
            .expect("paths")
            .to_string_lossy()
            .into_owned()
    };
    let plan =
        |kubeconfig: &str| r.werf_env(&["plan", "--repo", &repo], &[("KUBECONFIG", kubeconfig)]);
    let out = plan(&list(&[&missing, &c.kubeconfig]));
    assert!(out.status.success(), "{}", text(&out, &r).1);
    assert!(
        text(&out, &r).0.contains("ConfigMap/app"),
        "{}",
        text(&out, &r).0
    );
    // The first file to set `current-context` wins: its context has no cluster.
    let out = plan(&list(&[&chooser, &c.kubeconfig]));
    assert!(!out.status.success());
    assert!(text(&out, &r).1.contains("nowhere"), "{}", text(&out, &r).1);
}

/// werf's `--kube-api-server`, `--kube-token`, `--kube-ca-path` and `--skip-tls-verify-kube`
/// reach the cluster with no kubeconfig at all; a wrong token or an unchecked certificate is an
/// error that never shows the token.
#[test]
fn the_cluster_from_flags_alone() {
    let c = crate::cluster::cluster();
    let kubeconfig: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&c.kubeconfig).expect("the kubeconfig"))
            .expect("YAML");
    let server = kubeconfig["clusters"][0]["cluster"]["server"]
        .as_str()
        .expect("server")
        .to_string();
    let ca = kubeconfig["clusters"][0]["cluster"]["certificate-authority"]
        .as_str()
        .expect("a CA file")
        .to_string();
    let token = kubeconfig["users"][0]["user"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let r = job_project("cika");
    let werf = |args: &[&str]| {
        let mut cmd = crate::support::werf_cmd(r.path(), r.home.path(), args);
        cmd.env_remove("KUBECONFIG");
        crate::support::no_panic(cmd.output().expect("werf runs"))
    };
    let repo = c.registry.repo("cika");
    let out = werf(&[
        "converge",
        "--repo",
        &repo,
        "--kube-api-server",
        &server,
        "--kube-token",
        &token,
        "--kube-ca-path",
        &ca,
    ]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    let object = c.get_json(&["configmap", "app", "-n", "cika"]);
    assert!(
        object["data"]["image"]
            .as_str()
            .is_some_and(|i| i.starts_with(&repo)),
        "{object}"
    );
    // Certificates unchecked: the same cluster, and nothing to change.
    let out = werf(&[
        "plan",
        "--repo",
        &repo,
        "--kube-api-server",
        &server,
        "--kube-token",
        &token,
        "--skip-tls-verify-kube",
    ]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    assert!(
        text(&out, &r).0.contains("0 to change"),
        "{}",
        text(&out, &r).0
    );
    // Checked against no CA: the server's certificate is refused.
    let out = werf(&[
        "plan",
        "--repo",
        &repo,
        "--kube-api-server",
        &server,
        "--kube-token",
        &token,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out, &r).1;
    assert!(err.contains("cannot reach the Kubernetes API"), "{err}");
    assert!(!err.contains(&token), "the token is never shown: {err}");
    // A wrong token is refused, and not shown either.
    let wrong = "wrong-token-0123456789";
    let out = werf(&[
        "plan",
        "--repo",
        &repo,
        "--kube-api-server",
        &server,
        "--kube-token",
        wrong,
        "--kube-ca-path",
        &ca,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out, &r).1;
    assert!(err.contains("401") || err.contains("Unauthorized"), "{err}");
    assert!(!err.contains(wrong), "the token is never shown: {err}");
    // A token and nothing to send it to.
    let out = werf(&["plan", "--repo", &repo, "--kube-token", &token]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out, &r).1;
    assert!(err.contains("pass `--kube-api-server URL`"), "{err}");
    assert!(!err.contains(&token), "{err}");
}

/// `--config` (and `WERF_CONFIG`) names the config file; `werf.yml` is read when there is no
/// `werf.yaml`; a path outside the project folder is refused.
#[test]
fn the_config_file_is_werfs_choice() {
    let mut r = Repo::new(&[
        (
            "werf-ci.yaml",
            "project: other\nconfigVersion: 1\n---\nimage: ci\ndockerfile: Dockerfile\n",
        ),
        ("Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n"),
        ("a.txt", "a\n"),
    ]);
    r.commit("init");
    let out = r.werf(&["build", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out, &r).1.contains("werf.yaml"),
        "{}",
        text(&out, &r).1
    );
    for out in [
        r.werf(&["--config", "werf-ci.yaml", "build", "--dry-run"]),
        r.werf(&["build", "--dry-run", "--config=./werf-ci.yaml"]),
        r.werf_env(&["build", "--dry-run"], &[("WERF_CONFIG", "werf-ci.yaml")]),
    ] {
        let (stdout, stderr) = text(&out, &r);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stdout.contains("Project `other`") && stdout.contains("ci  tag"),
            "{stdout}"
        );
    }
    let abs = r.path().join("werf-ci.yaml");
    let out = r.werf(&[
        "--config",
        abs.to_str().expect("utf-8"),
        "build",
        "--dry-run",
    ]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    let out = r.werf(&["--config", "../werf-ci.yaml", "build", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out, &r)
            .1
            .contains("must be inside the project folder"),
        "{}",
        text(&out, &r).1
    );

    // werf.yml, werf's other spelling, when werf.yaml is not there.
    r.git(&["mv", "werf-ci.yaml", "werf.yml"]);
    r.commit("yml");
    let out = r.werf(&["build", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    assert!(text(&out, &r).0.contains("Project `other`"));
}

/// werf's log flags: `--log-quiet` keeps results and drops summaries, `--log-debug` says what
/// werf-rs does, `--log-color-mode` takes werf's values.
#[test]
fn log_flags_take_werfs_values() {
    let r = two_images();
    let out = r.werf(&["build", "--dry-run"]);
    assert!(
        text(&out, &r).0.contains("app  tag"),
        "{}",
        text(&out, &r).0
    );
    let reg = crate::registry::Registry::start();
    let repo = reg.repo("logs");
    let out = r.werf(&["build", "--repo", &repo]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    assert!(
        text(&out, &r).0.contains("1 image: 1 built and pushed"),
        "{}",
        text(&out, &r).0
    );
    // Without `--log-quiet` a second build says so, summary and progress alike; with it, nothing.
    let out = r.werf(&["build", "--repo", &repo]);
    assert!(
        text(&out, &r).0.contains("0 built and pushed")
            && text(&out, &r).1.contains("already in the registry"),
        "{}",
        format!("{}{}", text(&out, &r).0, text(&out, &r).1)
    );
    let out = r.werf(&["--log-quiet", "build", "--repo", &repo]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    assert_eq!(text(&out, &r).0, "", "no summary");
    assert!(
        !text(&out, &r).1.contains("already in the registry"),
        "{}",
        text(&out, &r).1
    );
    // A result is still printed.
    let out = r.werf(&["--log-quiet", "build", "--dry-run"]);
    assert!(
        text(&out, &r).0.contains("app  tag"),
        "{}",
        text(&out, &r).0
    );

    let out = r.werf(&["--log-debug", "build", "--dry-run"]);
    assert!(out.status.success());
    assert!(
        text(&out, &r).1.contains("DEBUG") && text(&out, &r).1.contains("repository opened"),
        "{}",
        text(&out, &r).1
    );
    let out = r.werf(&["build", "--dry-run"]);
    assert!(!text(&out, &r).1.contains("DEBUG"), "{}", text(&out, &r).1);
    for mode in ["auto", "on", "off"] {
        let out = r.werf(&["--log-color-mode", mode, "build", "--dry-run"]);
        assert!(out.status.success(), "{mode}");
    }
    let out = r.werf(&["--log-color-mode", "rainbow", "build", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2));
    let out = r.werf(&["--log-quiet", "--log-debug", "build", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out, &r).1.contains("cannot be used with"),
        "{}",
        text(&out, &r).1
    );
}
