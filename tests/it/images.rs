//! Building and pushing into a real registry (Debian's `docker-registry`), checked independently
//! with `skopeo` and `umoci`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::registry::{push_base_image, skopeo, skopeo_inspect, unpack, Registry};
use crate::support::{git_in, text, werf_in, Repo};

fn files(base_image: Option<&str>) -> Vec<(String, String)> {
    let mut yaml = String::from(
        "project: shop\nconfigVersion: 1\n---\nimage: app\ncontext: app\ndockerfile: Dockerfile\n---\nimage: tool\ncontext: tool\ndockerfile: Dockerfile\ndependencies:\n- image: app\n  imports:\n  - type: ImageName\n    targetBuildArg: APP_IMAGE\n---\nimage: other\ncontext: other\ndockerfile: Dockerfile\n",
    );
    let mut f = vec![
        ("app/Dockerfile", "FROM scratch AS build\nCOPY src/ /src/\n\nFROM scratch\nCOPY --from=build /src/run.sh /usr/bin/app\nENV MODE=prod\nWORKDIR /srv\nCOPY src/*.txt data/\nCOPY --chmod=600 secret.conf /etc/app/\nADD bundle.tar /opt/\nENTRYPOINT [\"/usr/bin/app\"]\nEXPOSE 8080\nUSER 1000\nLABEL org.example=app\n".to_string()),
        ("app/src/run.sh", "#!/bin/sh\necho app\n".to_string()),
        ("app/src/a.txt", "a\n".to_string()),
        ("app/src/b.txt", "b\n".to_string()),
        ("app/src/notes.md", "not shipped\n".to_string()),
        ("app/.dockerignore", "**/*.md\n".to_string()),
        ("app/secret.conf", "key=1\n".to_string()),
        ("tool/Dockerfile", "ARG APP_IMAGE\nFROM ${APP_IMAGE}\nCOPY tool.sh /usr/bin/tool\nENV FROM_APP=${APP_IMAGE}\n".to_string()),
        ("tool/tool.sh", "echo tool\n".to_string()),
        ("other/Dockerfile", "FROM scratch\nCOPY . /other/\nCMD [\"/other/o.txt\"]\n".to_string()),
        ("other/o.txt", "o\n".to_string()),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b))
    .collect::<Vec<_>>();
    if let Some(base) = base_image {
        yaml.push_str("---\nimage: based\ncontext: based\ndockerfile: Dockerfile\n");
        f.push((
            "based/Dockerfile".into(),
            format!("FROM {base}\nCOPY hello.txt /hello.txt\n"),
        ));
        f.push(("based/hello.txt".into(), "hello\n".into()));
    }
    f.push(("werf.yaml".into(), yaml));
    f
}

/// A repository with the fixture; `bundle.tar` is made with the real `tar`.
fn repo(base_image: Option<&str>) -> Repo {
    let owned = files(base_image);
    let refs: Vec<(&str, &str)> = owned
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut r = Repo::new(&refs);
    std::fs::set_permissions(
        r.path().join("app/src/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    let staging = r.home.path().join("bundle-src");
    std::fs::create_dir_all(staging.join("lib")).expect("mkdir");
    std::fs::write(staging.join("lib/x.so"), "elf\n").expect("write");
    let status = std::process::Command::new("tar")
        .args(["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-cf"])
        .arg(r.path().join("app/bundle.tar"))
        .arg("-C")
        .arg(&staging)
        .arg("lib")
        .status()
        .expect("tar runs");
    assert!(status.success());
    r.commit("init");
    r
}

/// Runs a build with a report; returns (exit ok, stdout+stderr, report).
fn build(r: &Repo, repo: &str, extra: &[&str]) -> (bool, String, Value) {
    crate::support::build_with_report(r, repo, extra, &[])
}

fn rebuilt(report: &Value) -> BTreeMap<String, bool> {
    crate::support::rebuilt_images(report)
}

#[test]
fn pushes_what_is_missing_then_nothing_then_exactly_the_affected_images() {
    let reg = Registry::start();
    let mut r = repo(None);
    let repo = reg.repo("shop");
    let (ok, out, report) = build(&r, &repo, &[]);
    assert!(ok, "{out}");
    assert!(
        !rebuilt(&report).is_empty() && rebuilt(&report).values().all(|b| *b),
        "{report}"
    );
    let tags: Value = serde_json::from_str(&skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{repo}"),
    ]))
    .expect("json");
    for (name, img) in report["Images"].as_object().expect("Images") {
        let tag = img["DockerTag"].as_str().expect("tag");
        assert!(
            tags["Tags"]
                .as_array()
                .expect("Tags")
                .iter()
                .any(|t| t == tag),
            "{name} not pushed"
        );
        assert!(img["DockerImageDigest"]
            .as_str()
            .expect("digest")
            .starts_with("sha256:"));
    }

    let first = report.clone();
    let (ok, out, report) = build(&r, &repo, &[]);
    assert!(ok, "{out}");
    assert!(
        !rebuilt(&report).is_empty() && rebuilt(&report).values().all(|b| !*b),
        "{report}"
    );
    assert!(out.contains("0 built and pushed, 3 already in"), "{out}");
    assert!(
        out.contains(" s; 1 registry requests, "),
        "one tag listing: no push login with nothing to push, and no request per image (the digests this machine pushed are known): {out}"
    );
    for name in ["app", "other", "tool"] {
        assert_eq!(
            report["Images"][name]["DockerImageDigest"], first["Images"][name]["DockerImageDigest"],
            "{name}"
        );
    }
    // Another machine (an empty home) asks the registry, once per image, for the same digests.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let (ok, out, other) =
        crate::support::build_with_report_in(&r, elsewhere.path(), &repo, &[], &[]);
    assert!(ok, "{out}");
    // The listing and a HEAD per image (no push login: nothing is pushed).
    assert!(out.contains(" s; 4 registry requests, "), "{out}");
    for name in ["app", "other", "tool"] {
        assert_eq!(
            other["Images"][name]["DockerImageDigest"], first["Images"][name]["DockerImageDigest"],
            "{name}"
        );
    }

    r.write(&[("app/src/a.txt", "changed\n")]);
    r.commit("change app");
    let (ok, out, report) = build(&r, &repo, &[]);
    assert!(ok, "{out}");
    let expected: BTreeMap<String, bool> = [("app", true), ("other", false), ("tool", true)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(rebuilt(&report), expected);
}

#[test]
fn image_content_matches_the_git_tree() {
    let reg = Registry::start();
    let r = repo(None);
    let repo = reg.repo("shop");
    let (ok, out, report) = build(&r, &repo, &[]);
    assert!(ok, "{out}");
    let image = format!(
        "{repo}:{}",
        report["Images"]["app"]["DockerTag"].as_str().expect("tag")
    );

    let inspect: Value = skopeo_inspect(&image, false);
    assert_eq!(inspect["Labels"]["werf"], "shop");
    assert_eq!(inspect["Labels"]["werf.io/image"], "app");
    assert_eq!(inspect["Labels"]["org.example"], "app");
    assert_eq!(
        inspect["Digest"],
        report["Images"]["app"]["DockerImageDigest"]
    );
    let config: Value = skopeo_inspect(&image, true);
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/usr/bin/app"])
    );
    assert_eq!(config["config"]["WorkingDir"], "/srv");
    assert_eq!(config["config"]["User"], "1000");
    assert_eq!(config["config"]["Env"], serde_json::json!(["MODE=prod"]));
    assert!(config["config"]["ExposedPorts"]["8080/tcp"].is_object());

    let work = tempfile::tempdir().expect("tempdir");
    let rootfs = unpack(&image, work.path());
    let mut found: BTreeMap<String, (u32, String)> = BTreeMap::new();
    let mut stack = vec![rootfs.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("entry");
            let meta = e.metadata().expect("meta");
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                let rel = e
                    .path()
                    .strip_prefix(&rootfs)
                    .expect("prefix")
                    .display()
                    .to_string();
                found.insert(
                    rel,
                    (
                        meta.permissions().mode() & 0o777,
                        std::fs::read_to_string(e.path()).expect("read"),
                    ),
                );
            }
        }
    }
    // Contents and modes exactly as Git holds them (run.sh is 100755 in Git).
    let git_mode = git_in(r.path(), &["ls-tree", "HEAD", "app/src/run.sh"], 0);
    assert!(git_mode.starts_with("100755"), "{git_mode}");
    let expected: BTreeMap<String, (u32, String)> = [
        ("usr/bin/app", 0o755, "#!/bin/sh\necho app\n"),
        ("srv/data/a.txt", 0o644, "a\n"),
        ("srv/data/b.txt", 0o644, "b\n"),
        ("etc/app/secret.conf", 0o600, "key=1\n"),
        ("opt/lib/x.so", 0o644, "elf\n"),
    ]
    .into_iter()
    .map(|(p, m, c)| (p.to_string(), (m, c.to_string())))
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn two_clones_into_two_registries_give_identical_manifests() {
    let (reg_a, reg_b) = (Registry::start(), Registry::start());
    let r = repo(None);
    let (_parent, clone) = r.clone_elsewhere();
    let (ok, out, a) = build(&r, &reg_a.repo("shop"), &[]);
    assert!(ok, "{out}");
    let home = tempfile::tempdir().expect("tempdir");
    let report = home.path().join("report.json");
    let out = werf_in(
        &clone,
        home.path(),
        &[
            "build",
            "--repo",
            &reg_b.repo("team/shop"),
            "--save-build-report",
            "--build-report-path",
            report.to_str().expect("utf-8"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b: Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    for name in ["app", "tool", "other"] {
        assert_eq!(
            a["Images"][name]["DockerTag"], b["Images"][name]["DockerTag"],
            "{name}"
        );
        if name == "tool" {
            // tool's ENV holds its dependency's reference, which names the registry.
            continue;
        }
        assert_eq!(
            a["Images"][name]["DockerImageDigest"], b["Images"][name]["DockerImageDigest"],
            "{name}"
        );
    }
}

#[test]
fn base_image_layers_are_reused_by_reference() {
    let reg = Registry::start();
    let work = tempfile::tempdir().expect("tempdir");
    let base = reg.repo("base/tiny:1");
    push_base_image(&base, work.path());
    let base_layers: Value = skopeo_inspect(&base, false);
    let r = repo(Some(&base));
    let (ok, out, report) = build(&r, &reg.repo("shop"), &["based"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("1 mounted"),
        "the base layer is mounted, not uploaded: {out}"
    );
    let image = format!(
        "{}:{}",
        reg.repo("shop"),
        report["Images"]["based"]["DockerTag"]
            .as_str()
            .expect("tag")
    );
    let inspect: Value = skopeo_inspect(&image, false);
    let layers = inspect["Layers"].as_array().expect("Layers");
    assert_eq!(layers.len(), 2);
    assert_eq!(
        layers[0], base_layers["Layers"][0],
        "the base layer is the base image's own blob"
    );
    let config: Value = skopeo_inspect(&image, true);
    assert!(
        config["config"]["Env"]
            .as_array()
            .expect("Env")
            .iter()
            .any(|e| e == "BASE=1"),
        "the base config is inherited"
    );
}

#[test]
fn an_unreachable_registry_is_a_clear_error_and_records_nothing() {
    let r = repo(None);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let (ok, out, report) = build(&r, &format!("127.0.0.1:{closed}/shop"), &[]);
    assert!(!ok);
    assert!(
        out.contains(&format!("registry `127.0.0.1:{closed}`")),
        "{out}"
    );
    assert_eq!(report, Value::Null, "no build report");
    assert!(
        !r.home.path().join("v1/manifests").exists(),
        "no image recorded as pushed"
    );
}

#[test]
fn refused_credentials_are_a_clear_error_and_docker_config_credentials_work() {
    let reg = Registry::start_with_auth();
    let r = repo(None);
    let repo = reg.repo("shop");
    let out = r.werf(&["build", "--repo", &repo]);
    assert!(!out.status.success());
    let stderr = text(&out, &r).1;
    assert!(
        stderr.contains(&format!("registry `{}`", reg.address))
            && stderr.contains("Not authorized"),
        "{stderr}"
    );

    let docker = reg.docker_config();
    let out = r.werf_env(
        &["build", "--repo", &repo],
        &[("DOCKER_CONFIG", docker.path().to_str().expect("utf-8"))],
    );
    assert!(out.status.success(), "{}", text(&out, &r).1);
}

#[test]
fn a_push_that_died_before_its_manifest_is_completed_by_the_next_run() {
    let reg = Registry::start();
    let r = repo(None);
    let repo = reg.repo("shop");
    let (ok, out, report) = build(&r, &repo, &["other"]);
    assert!(ok, "{out}");
    let tag = report["Images"]["other"]["DockerTag"]
        .as_str()
        .expect("tag")
        .to_string();
    // Remove the manifest: the blobs stay, as after a push killed between blobs and manifest.
    skopeo(&[
        "delete",
        "--tls-verify=false",
        &format!("docker://{repo}:{tag}"),
    ]);
    let (ok, out, report) = build(&r, &repo, &["other"]);
    assert!(ok, "{out}");
    assert_eq!(report["Images"]["other"]["Rebuilt"], true);
    assert!(
        out.contains("0 blobs uploaded"),
        "only the manifest was missing: {out}"
    );
    skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{repo}:{tag}"),
    ]);
}

#[test]
fn run_is_a_clear_error_and_other_images_still_publish() {
    let reg = Registry::start();
    let mut r = repo(None);
    r.write(&[(
        "other/Dockerfile",
        "FROM scratch\nCOPY . /other/\n\nRUN echo no runtime here\n",
    )]);
    r.commit("run");
    let (ok, out, report) = build(
        &r,
        &reg.repo("shop"),
        &["--backend", "native", "--parallel-tasks-limit", "1"],
    );
    assert!(!ok);
    assert!(
        out.contains("`other`: other/Dockerfile:4: `RUN` needs a container runtime"),
        "{out}"
    );
    assert_eq!(report, Value::Null);
    let tags = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}", reg.repo("shop")),
    ]);
    assert_eq!(
        serde_json::from_str::<Value>(&tags).expect("json")["Tags"]
            .as_array()
            .expect("Tags")
            .len(),
        2,
        "app and tool were still published: {tags}"
    );
}

#[test]
fn run_goes_to_buildah_and_the_result_is_in_the_image() {
    let reg = Registry::start();
    let work = tempfile::tempdir().expect("tempdir");
    let base = reg.repo("base/busybox:1");
    crate::registry::push_busybox_image(&base, work.path());
    let yaml = "project: run\nconfigVersion: 1\n---\nimage: runner\ncontext: runner\ndockerfile: Dockerfile\nargs:\n  GREETING: hello\n---\nimage: plain\ncontext: plain\ndockerfile: Dockerfile\n";
    let dockerfile = format!("FROM {base}\nARG GREETING\nCOPY x.txt /x.txt\nRUN cat /x.txt > /y.txt && echo \"$GREETING from RUN\" >> /y.txt\n");
    let mut r = Repo::new(&[
        ("werf.yaml", yaml),
        ("runner/Dockerfile", &dockerfile),
        ("runner/x.txt", "x\n"),
        ("plain/Dockerfile", "FROM scratch\nCOPY p.txt /p.txt\n"),
        ("plain/p.txt", "p\n"),
    ]);
    r.commit("init");
    let repo = reg.repo("run");
    // The native builder alone: RUN is a clear error naming the instruction.
    let (ok, out, _) = build(&r, &repo, &["--backend", "native", "runner"]);
    assert!(!ok);
    assert!(
        out.contains("runner/Dockerfile:4: `RUN` needs a container runtime"),
        "{out}"
    );
    // Without `--backend`, no Docker daemon and no buildah: an error naming the image and every
    // way to get a runner, before anything is built.
    let no_docker = [
        ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ("PATH", "/nonexistent"),
    ];
    let (ok, out, _) = crate::support::build_with_report(&r, &repo, &[], &no_docker);
    assert!(!ok);
    assert!(
        out.contains("`runner` needs a runner for `RUN`, and none is here: the Docker daemon does not answer (")
            && out.contains("`buildah` is not on `PATH`")
            && out.contains("--backend buildkit --buildkit-addr ADDR"),
        "{out}"
    );
    // Without `--backend` and no Docker daemon, buildah (found on `PATH`) runs RUN; the choice is
    // said once; the image without RUN is built natively all the same.
    let no_docker = [("DOCKER_HOST", "unix:///nonexistent/docker.sock")];
    let (ok, out, report) = crate::support::build_with_report(&r, &repo, &[], &no_docker);
    assert!(ok, "{out}");
    assert_eq!(
        out.matches(
            "images with `RUN` build with buildah (chroot isolation; no Docker daemon answered)"
        )
        .count(),
        1,
        "{out}"
    );
    assert_eq!(rebuilt(&report).values().filter(|b| **b).count(), 2);
    crate::registry::read_back_runner(&repo, &report, work.path());
    // `WERF_BUILDAH_MODE` asks for buildah as werf's does; a mode werf-rs does not run is named.
    let (ok, out, _) = crate::support::build_with_report(
        &r,
        &repo,
        &[],
        &[("WERF_BUILDAH_MODE", "docker-with-fuse")],
    );
    assert!(!ok);
    assert!(
        out.contains("`WERF_BUILDAH_MODE=docker-with-fuse` is not a buildah mode"),
        "{out}"
    );
    r.write(&[("runner/x.txt", "x2\n")]);
    r.commit("edit");
    let (ok, out, report) =
        crate::support::build_with_report(&r, &repo, &[], &[("WERF_BUILDAH_MODE", "auto")]);
    assert!(ok, "{out}");
    assert!(
        out.contains(
            "images with `RUN` build with buildah (`WERF_BUILDAH_MODE=auto`, chroot isolation)"
        ),
        "{out}"
    );
    assert_eq!(
        rebuilt(&report)
            .into_iter()
            .filter(|(_, b)| *b)
            .map(|(n, _)| n)
            .collect::<Vec<_>>(),
        ["runner"]
    );

    // The next build finds both in the registry and builds nothing.
    let (ok, out, report) = build(&r, &repo, &["--backend", "buildah"]);
    assert!(ok, "{out}");
    assert!(
        !rebuilt(&report).is_empty() && rebuilt(&report).values().all(|b| !*b),
        "{report}"
    );
}

#[test]
fn copy_from_a_stage_folder_copies_what_the_stage_wrote_below_it() {
    let reg = Registry::start();
    let mut r = Repo::new(&[
        (
            "werf.yaml",
            "project: shop\nconfigVersion: 1\n---\nimage: app\ndockerfile: Dockerfile\n",
        ),
        (
            "Dockerfile",
            "FROM scratch AS build\nCOPY src/ /src/\n\nFROM scratch\nCOPY --from=build /src/ /all/\n",
        ),
        ("src/a.txt", "a\n"),
        ("src/deep/b.txt", "b\n"),
    ]);
    r.commit("init");
    let repo = reg.repo("shop");
    let (ok, out, report) = build(&r, &repo, &[]);
    assert!(ok, "{out}");
    let tag = report["Images"]["app"]["DockerTag"].as_str().expect("tag");
    let work = tempfile::tempdir().expect("tempdir");
    let rootfs = unpack(&format!("{repo}:{tag}"), work.path());
    assert_eq!(
        std::fs::read_to_string(rootfs.join("all/a.txt")).expect("a"),
        "a\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("all/deep/b.txt")).expect("b"),
        "b\n"
    );
}

#[test]
fn secrets_reach_buildah_run_steps_and_no_output() {
    let reg = Registry::start();
    secrets_reach_run(&reg, &["--backend", "buildah"], "WERF_TEST_BUILDAH_SECRET");
}

/// werf.yaml `secrets` (a `value`, an `env` named `env_name`, a `src` file) read by a `RUN`
/// step built with `backend` flags: a missing variable is an error naming it; then the step
/// sees all three and no value reaches werf's output (shared by the buildah and BuildKit tests).
pub fn secrets_reach_run(reg: &Registry, backend: &[&str], env_name: &str) {
    let work = tempfile::tempdir().expect("tempdir");
    let base = reg.repo("base/busybox:1");
    crate::registry::push_busybox_image(&base, work.path());
    let yaml = format!("project: sec\nconfigVersion: 1\n---\nimage: app\ncontext: app\ndockerfile: Dockerfile\nsecrets:\n- id: token\n  value: value-from-werf-yaml\n- env: {env_name}\n- src: secret.txt\n");
    let mut r = Repo::new(&[
        ("werf.yaml", &yaml),
        (
            "app/Dockerfile",
            &format!("FROM {base}\nRUN --mount=type=secret,id=token --mount=type=secret,id={env_name} --mount=type=secret,id=secret.txt cat /run/secrets/token /run/secrets/{env_name} /run/secrets/secret.txt > /seen\n"),
        ),
        ("secret.txt", "value-from-a-file\n"),
        (
            "werf-giterminism.yaml",
            &format!("giterminismConfigVersion: 1\nconfig:\n  secrets:\n    allowEnvVariables: [{env_name}]\n    allowFiles: [secret.txt]\n    allowValueIds: [token]\n"),
        ),
    ]);
    r.commit("init");
    let repo = reg.repo("sec");
    let (ok, out, _) = build(&r, &repo, backend);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "secret `{env_name}`: the environment variable `{env_name}` is not set"
        )),
        "{out}"
    );
    let (ok, out, report) =
        crate::support::build_with_report(&r, &repo, backend, &[(env_name, "value-from-env")]);
    assert!(ok, "{out}");
    assert_eq!(
        rebuilt(&report),
        BTreeMap::from([("app".to_string(), true)]),
        "{out}"
    );
    for value in [
        "value-from-werf-yaml",
        "value-from-env",
        "value-from-a-file",
    ] {
        assert!(!out.contains(value), "a secret value in the output: {out}");
    }
    let tag = report["Images"]["app"]["DockerTag"].as_str().expect("tag");
    let rootfs = unpack(&format!("{repo}:{tag}"), work.path());
    assert_eq!(
        std::fs::read_to_string(rootfs.join("seen")).expect("seen"),
        "value-from-werf-yamlvalue-from-envvalue-from-a-file\n"
    );
}

/// werf.yaml's `imageSpec` (and `build.imageSpec`) reach the pushed image's config, natively and
/// through buildah, as skopeo reads it; a typo in it is an error naming the key.
#[test]
fn image_spec_is_applied_to_the_pushed_config() {
    let reg = Registry::start();
    let work = tempfile::tempdir().expect("tempdir");
    let base = reg.repo("base/busybox:1");
    crate::registry::push_busybox_image(&base, work.path());
    let spec = "imageSpec:\n  author: Dev <dev@example.com>\n  config:\n    labels:\n      app: \"%project%-%image%\"\n    removeLabels: [\"org.example\", \"/^tmp\\\\./\"]\n    env:\n      MODE: spec\n      ADDED: \"1\"\n    removeEnv: [\"SECRET\"]\n    expose: [\"9090\", \"53/udp\"]\n    user: \"2000\"\n    workingDir: /app\n    entrypoint: [\"/bin/sh\", \"-c\"]\n    cmd: [\"echo spec\"]\n    volumes: [\"/data\"]\n    stopSignal: SIGINT\n";
    let yaml = format!(
        "project: spec\nconfigVersion: 1\nbuild:\n  imageSpec:\n    config:\n      labels:\n        team: platform\n---\nimage: plain\ncontext: plain\ndockerfile: Dockerfile\n{spec}---\nimage: runner\ncontext: runner\ndockerfile: Dockerfile\n{spec}"
    );
    let plain_df = "FROM scratch\nCOPY p.txt /p.txt\nLABEL org.example=x tmp.a=1 kept=yes\nENV SECRET=s MODE=docker\nUSER 1000\n";
    let runner_df = format!(
        "FROM {base}\nRUN echo ran > /ran.txt\nLABEL org.example=x tmp.a=1 kept=yes\nENV SECRET=s MODE=docker\nUSER 1000\n"
    );
    let mut r = Repo::new(&[
        ("werf.yaml", yaml.as_str()),
        ("plain/Dockerfile", plain_df),
        ("plain/p.txt", "p\n"),
        ("runner/Dockerfile", runner_df.as_str()),
    ]);
    r.commit("init");
    let repo = reg.repo("spec");
    let (ok, out, report) = build(&r, &repo, &["--backend", "buildah"]);
    assert!(ok, "{out}");
    for image in ["plain", "runner"] {
        let tag = report["Images"][image]["DockerTag"]
            .as_str()
            .unwrap_or_else(|| panic!("{image} in {report}"));
        let config = skopeo_inspect(&format!("{repo}:{tag}"), true);
        let c = &config["config"];
        assert_eq!(
            config["author"], "Dev <dev@example.com>",
            "{image}: {config}"
        );
        let labels = c["Labels"].as_object().expect("labels");
        assert_eq!(labels["app"], format!("spec-{image}"), "{image}");
        assert_eq!(labels["team"], "platform", "{image}: build.imageSpec");
        assert_eq!(labels["kept"], "yes", "{image}");
        assert!(
            !labels.contains_key("org.example") && !labels.contains_key("tmp.a"),
            "{image}: {labels:?}"
        );
        assert_eq!(labels["werf.io/image"], image, "werf's own labels stay");
        let env: Vec<&str> = c["Env"]
            .as_array()
            .expect("env")
            .iter()
            .filter_map(|e| e.as_str())
            .collect();
        assert!(
            env.contains(&"MODE=spec") && env.contains(&"ADDED=1"),
            "{image}: {env:?}"
        );
        assert!(
            !env.iter().any(|e| e.starts_with("SECRET=")),
            "{image}: {env:?}"
        );
        assert_eq!(c["User"], "2000", "{image}");
        assert_eq!(c["WorkingDir"], "/app", "{image}");
        assert_eq!(
            c["Entrypoint"],
            serde_json::json!(["/bin/sh", "-c"]),
            "{image}"
        );
        assert_eq!(c["Cmd"], serde_json::json!(["echo spec"]), "{image}");
        assert_eq!(c["StopSignal"], "SIGINT", "{image}");
        assert!(c["ExposedPorts"]["9090/tcp"].is_object(), "{image}: {c}");
        assert!(c["ExposedPorts"]["53/udp"].is_object(), "{image}: {c}");
        assert!(c["Volumes"]["/data"].is_object(), "{image}: {c}");
    }
    // The staging tag of the buildah image is gone; only the images' own tags remain.
    let tags: Value = serde_json::from_str(&skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{repo}"),
    ]))
    .expect("JSON");
    let tags: Vec<&str> = tags["Tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(!tags.iter().any(|t| t.ends_with("-unspecced")), "{tags:?}");
    // A second build builds nothing (the tags hold the specced images).
    let (ok, out, report) = build(&r, &repo, &["--backend", "buildah"]);
    assert!(ok, "{out}");
    assert!(
        !rebuilt(&report).is_empty() && rebuilt(&report).values().all(|b| !*b),
        "{report}"
    );
    // A typo is an error naming the key.
    r.write(&[(
        "werf.yaml",
        &yaml.replace("    stopSignal: SIGINT\n---", "    stopSignl: SIGINT\n---"),
    )]);
    r.commit("typo");
    let (ok, out, _) = build(&r, &repo, &[]);
    assert!(!ok);
    assert!(out.contains("`imageSpec.config.stopSignl`"), "{out}");
}

/// werf.yaml `ssh`: the SSH agent reaches `RUN --mount=type=ssh` through buildah (a step that
/// needs the agent's socket fails without it).
#[test]
fn ssh_reaches_run_mounts_through_buildah() {
    let reg = Registry::start();
    let work = tempfile::tempdir().expect("tempdir");
    let base = reg.repo("base/busybox:1");
    crate::registry::push_busybox_image(&base, work.path());
    // An agent of our own, on a socket in the test's folder.
    let socket = work.path().join("agent.sock");
    let agent = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent (openssh-client) runs");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _agent = Kill(agent);
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let dockerfile = format!(
        "FROM {base}\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo agent > /agent.txt\n"
    );
    let yaml = |ssh: &str| {
        format!("project: ssh\nconfigVersion: 1\n---\nimage: app\ncontext: app\ndockerfile: Dockerfile\n{ssh}")
    };
    let mut r = Repo::new(&[
        ("werf.yaml", yaml("ssh: default\n").as_str()),
        ("app/Dockerfile", dockerfile.as_str()),
    ]);
    r.commit("init");
    let repo = reg.repo("ssh");
    let sock = socket.to_str().expect("utf-8");
    let with_agent = |r: &Repo, extra: &[&str]| {
        let mut args = vec!["build", "--repo", repo.as_str()];
        args.extend_from_slice(extra);
        r.werf_env(&args, &[("SSH_AUTH_SOCK", sock)])
    };
    let out = with_agent(&r, &["--backend", "buildah"]);
    assert!(out.status.success(), "{}", text(&out, &r).1);

    // Without `ssh`, the same step (another image: the tag holds the first) has no agent
    // socket and fails.
    r.write(&[
        ("werf.yaml", yaml("").as_str()),
        (
            "app/Dockerfile",
            &dockerfile.replace("echo agent", "echo again"),
        ),
    ]);
    r.commit("no ssh");
    let out = with_agent(&r, &["--backend", "buildah"]);
    assert!(!out.status.success(), "the step must need the agent");
}

/// A cold plan of many images writes its records as packs: one file per kind of record, not one
/// per listing or image; the next plan reads them back (and writes none).
#[test]
fn a_cold_plan_writes_packs_not_a_file_per_record() {
    let mut files: Vec<(String, String)> = vec![(
        "werf.yaml".to_string(),
        (0..60)
            .map(|i| format!("---\nimage: img{i}\ndockerfile: Dockerfile\ncontext: s{i}\n"))
            .fold("project: packs\nconfigVersion: 1\n".to_string(), |a, b| {
                a + &b
            }),
    )];
    for i in 0..60 {
        files.push((
            format!("s{i}/Dockerfile"),
            "FROM scratch\nCOPY . /\n".into(),
        ));
        files.push((format!("s{i}/f.txt"), format!("{i}\n")));
        // A `.dockerignore` that may apply below: the folder's listing is memoized.
        files.push((format!("s{i}/.dockerignore"), "*.md\n".into()));
        files.push((format!("s{i}/sub/g.txt"), format!("g{i}\n")));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut r = Repo::new(&refs);
    r.commit("init");
    let records = |r: &Repo| -> Vec<String> {
        let mut out = Vec::new();
        for ns in ["listings", "inputs"] {
            let dir = r.home.path().join("v1").join(ns);
            for e in crate::support::files_below(&dir) {
                out.push(e.strip_prefix(&dir).expect("below").display().to_string());
            }
        }
        out.sort();
        out
    };
    let out = r.werf(&["build", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    let first = records(&r);
    assert_eq!(
        first.len(),
        2,
        "one pack of listings, one of inputs: {first:?}"
    );
    assert!(first.iter().all(|f| f.starts_with("packs/")), "{first:?}");
    // The next plan (a fresh process) reads the packs: the same tags, no new file.
    let tags = r.tags();
    assert_eq!(tags.len(), 60);
    let out = r.werf(&["build", "--dry-run"]);
    assert!(out.status.success());
    assert!(
        text(&out, &r).0.contains("same inputs as the last plan"),
        "{}",
        text(&out, &r).0
    );
    assert_eq!(records(&r), first);
}

/// A plan whose inputs an earlier run planned is read back from the store (`--log-debug` says
/// so) with the same tags; any change of input (a file, the environment werf.yaml reads) plans
/// afresh; and plans holding werf.yaml `secrets` are never written (a value may be a secret).
#[test]
fn plans_are_remembered_for_their_inputs_and_never_with_secret_values() {
    const REMEMBERED: &str = "plans read from the store";
    let yaml = "project: memo\nconfigVersion: 1\n---\nimage: a\ncontext: a\ndockerfile: Dockerfile\n---\nimage: b\ncontext: b\ndockerfile: Dockerfile\nargs:\n  WHO: '{{ env \"MEMO_WHO\" }}'\n";
    let mut r = Repo::new(&[
        ("werf.yaml", yaml),
        (
            "werf-giterminism.yaml",
            "giterminismConfigVersion: 1\nconfig:\n  goTemplateRendering:\n    allowEnvVariables: [MEMO_WHO]\n  secrets:\n    allowValueIds: [token]\n",
        ),
        ("a/Dockerfile", "FROM scratch\nCOPY . /a/\n"),
        ("a/x.txt", "a\n"),
        ("b/Dockerfile", "FROM scratch\nARG WHO\nCOPY . /b/\n"),
        ("b/y.txt", "b\n"),
    ]);
    r.commit("init");
    let plan = |r: &Repo, env: &[(&str, &str)]| -> (bool, BTreeMap<String, String>) {
        let out = r.werf_env(&["--log-debug", "build", "--dry-run"], env);
        let (stdout, stderr) = text(&out, r);
        assert!(out.status.success(), "{stderr}");
        let tags = stdout
            .lines()
            .filter_map(|l| l.split_once("  tag "))
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        (stderr.contains(REMEMBERED), tags)
    };
    let (hit, first) = plan(&r, &[]);
    assert!(!hit, "nothing to remember yet");
    assert_eq!(first.len(), 2, "{first:?}");
    let (hit, again) = plan(&r, &[]);
    assert!(hit, "the same inputs are read back");
    assert_eq!(again, first);

    // A file of `a` changes: planned afresh, and `a`'s tag moves.
    r.write(&[("a/x.txt", "a2\n")]);
    r.commit("a2");
    let (hit, changed) = plan(&r, &[]);
    assert!(!hit, "a new commit plans afresh");
    assert_ne!(changed["a"], first["a"]);
    assert_eq!(changed["b"], first["b"]);
    assert!(plan(&r, &[]).0, "and is remembered in turn");
    assert!(
        plan(&r, &[("CI_JOB_ID", "42")]).0,
        "a variable werf.yaml may not read leaves the plans remembered"
    );

    // The environment werf.yaml reads is an input too.
    let (hit, other) = plan(&r, &[("MEMO_WHO", "someone")]);
    assert!(!hit, "another environment plans afresh");
    assert_ne!(other["b"], changed["b"]);
    assert_eq!(
        plan(&r, &[]).1,
        changed,
        "and the first environment's tags come back"
    );

    // The memo holds the plans (its tags are in it)...
    let memo = r.home.path().join("v1/plan-memo");
    let holds = |needle: &str| {
        crate::support::files_below(&memo).iter().any(|f| {
            let bytes = std::fs::read(f).expect("read");
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
    };
    assert!(holds(&changed["a"]), "the remembered plans name their tags");
    // ...but never a plan with werf.yaml `secrets`: the value may be a secret.
    r.write(&[(
        "werf.yaml",
        &format!("{yaml}secrets:\n- id: token\n  value: s3cr3t-memo-value\n"),
    )]);
    r.commit("secrets");
    let (hit, _) = plan(&r, &[]);
    assert!(!hit);
    let (hit, with_secrets) = plan(&r, &[]);
    assert!(!hit, "plans with secrets are planned each time");
    assert_eq!(with_secrets.len(), 2);
    assert!(!holds("s3cr3t-memo-value"), "no secret value in the store");
}
