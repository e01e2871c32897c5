//! Multi-platform images against a real registry, read back with skopeo: werf.yaml `platform`
//! and `--platform`, one manifest per platform under an OCI index, dependents resolved per
//! platform, the platform set part of every tag.

use serde_json::Value;

use crate::registry::{skopeo, Registry};
use crate::support::{build_with_report, text, Repo};

const WERF_YAML: &str = "project: multi\nconfigVersion: 1\nbuild:\n  platform: [linux/arm64, linux/amd64]\n---\nimage: base\ncontext: base\ndockerfile: Dockerfile\n---\nimage: app\ncontext: app\ndockerfile: Dockerfile\ndependencies:\n- image: base\n  imports:\n  - type: ImageName\n    targetBuildArg: BASE\n";

fn project() -> Repo {
    let mut r = Repo::new(&[
        ("werf.yaml", WERF_YAML),
        ("base/Dockerfile", "FROM scratch\nCOPY os.txt /etc/os.txt\n"),
        ("base/os.txt", "base\n"),
        (
            "app/Dockerfile",
            "ARG BASE\nFROM ${BASE}\nCOPY app.txt /app.txt\nENTRYPOINT [\"/app\"]\n",
        ),
        ("app/app.txt", "app\n"),
    ]);
    r.commit("init");
    r
}

/// `skopeo inspect` of `image` for `arch` (`--override-arch`).
fn inspect(image: &str, arch: &str, config: bool) -> Value {
    let target = format!("docker://{image}");
    let mut args = vec!["--override-arch", arch, "inspect", "--tls-verify=false"];
    if config {
        args.push("--config");
    }
    args.push(&target);
    serde_json::from_str(&skopeo(&args)).expect("JSON")
}

fn raw(image: &str) -> Value {
    serde_json::from_str(&skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{image}"),
    ]))
    .expect("JSON")
}

#[test]
fn two_platforms_make_an_index_per_image_and_dependents_build_on_each_platform_s_base() {
    let reg = Registry::start();
    let repo = reg.repo("multi");
    let r = project();
    let (ok, out, report) = build_with_report(&r, &repo, &[], &[]);
    assert!(ok, "{out}");
    let tag = |name: &str| {
        report["Images"][name]["DockerTag"]
            .as_str()
            .expect("tag")
            .to_string()
    };

    for name in ["base", "app"] {
        let image = format!("{repo}:{}", tag(name));
        let index = raw(&image);
        assert_eq!(
            index["mediaType"], "application/vnd.oci.image.index.v1+json",
            "{index}"
        );
        let mut platforms: Vec<String> = index["manifests"]
            .as_array()
            .expect("manifests")
            .iter()
            .map(|m| {
                format!(
                    "{}/{}",
                    m["platform"]["os"].as_str().unwrap(),
                    m["platform"]["architecture"].as_str().unwrap()
                )
            })
            .collect();
        platforms.sort();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{index}");
        for arch in ["amd64", "arm64"] {
            let config = inspect(&image, arch, true);
            assert_eq!(config["architecture"], arch, "{name} {arch}: {config}");
            assert_eq!(config["os"], "linux");
        }
    }
    // `app` on each platform is made of that platform's `base`: its base layer first.
    let app = format!("{repo}:{}", tag("app"));
    let base = format!("{repo}:{}", tag("base"));
    for arch in ["amd64", "arm64"] {
        let app_layers = inspect(&app, arch, false)["Layers"].clone();
        let base_layers = inspect(&base, arch, false)["Layers"].clone();
        assert_eq!(app_layers[0], base_layers[0], "{arch}");
        assert_eq!(app_layers.as_array().map(Vec::len), Some(2), "{arch}");
        let config = inspect(&app, arch, true);
        assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["/app"]));
    }

    // `werf graph` names each image's platforms.
    let out = r.werf(&["graph", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    let graph: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let node = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["id"] == "image:app")
        .expect("the image node")
        .clone();
    assert_eq!(
        node["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64"]),
        "{node}"
    );

    // Nothing changed: nothing built again.
    let (ok, out, report2) = build_with_report(&r, &repo, &[], &[]);
    assert!(ok, "{out}");
    assert_eq!(
        report2["Images"]["app"]["DockerTag"],
        report["Images"]["app"]["DockerTag"]
    );
    assert!(out.contains("0 built and pushed, 2 already"), "{out}");

    // The same set from the command line, in another order: the same tags.
    let (ok, out, same) =
        build_with_report(&r, &repo, &["--platform", "linux/amd64,linux/arm64"], &[]);
    assert!(ok, "{out}");
    assert_eq!(
        same["Images"]["app"]["DockerTag"],
        report["Images"]["app"]["DockerTag"]
    );
    assert!(out.contains("0 built and pushed, 2 already"), "{out}");

    // `--platform` replaces werf.yaml's: one platform is a plain manifest, under another tag.
    let (ok, out, single) = build_with_report(&r, &repo, &["--platform", "linux/arm64"], &[]);
    assert!(ok, "{out}");
    let single_tag = single["Images"]["app"]["DockerTag"]
        .as_str()
        .expect("tag")
        .to_string();
    assert_ne!(
        single_tag,
        tag("app"),
        "the platform set is part of the tag"
    );
    let manifest = raw(&format!("{repo}:{single_tag}"));
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        inspect(&format!("{repo}:{single_tag}"), "arm64", true)["architecture"],
        "arm64"
    );

    // Purged, an index takes its platform manifests along (they have no tags of their own).
    let children: Vec<String> = raw(&app)["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| m["digest"].as_str().expect("digest").to_string())
        .collect();
    assert_eq!(children.len(), 2);
    let exists = |digest: &str| {
        std::process::Command::new("skopeo")
            .args([
                "inspect",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{repo}@{digest}"),
            ])
            .output()
            .expect("skopeo runs")
            .status
            .success()
    };
    assert!(
        children.iter().all(|c| exists(c)),
        "before: every platform manifest is there"
    );
    let out = r.werf(&["purge", "--repo", &repo, "--without-kube", "--force"]);
    let (stdout, stderr) = text(&out, &r);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("platform manifests of their indexes"),
        "{stdout}"
    );
    for c in &children {
        assert!(!exists(c), "platform manifest `{c}` left behind");
    }

    // A platform that is no platform is named, from the command line and from werf.yaml.
    let out = r.werf(&["build", "--dry-run", "--platform", "linux"]);
    assert!(!out.status.success());
    assert!(
        text(&out, &r).1.contains("`--platform linux`"),
        "{}",
        text(&out, &r).1
    );
    let mut bad = project();
    bad.write(&[(
        "werf.yaml",
        &WERF_YAML.replace("[linux/arm64, linux/amd64]", "[linux/arm64, Linux]"),
    )]);
    bad.commit("bad platform");
    let out = bad.werf(&["build", "--dry-run"]);
    assert!(!out.status.success());
    let stderr = text(&out, &bad).1;
    assert!(
        stderr.contains("`platform` `Linux` is not `OS/ARCH[/VARIANT]`")
            && stderr.contains("werf.yaml"),
        "{stderr}"
    );
}

#[test]
fn run_for_several_platforms_without_buildkit_is_a_clear_error_naming_the_platform() {
    let reg = Registry::start();
    let repo = reg.repo("multi-run");
    let mut r = Repo::new(&[
        (
            "werf.yaml",
            "project: multirun\nconfigVersion: 1\n---\nimage: app\ncontext: app\ndockerfile: Dockerfile\nplatform: [linux/amd64, linux/arm64]\n",
        ),
        ("app/Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\nRUN [\"/a\"]\n"),
        ("app/a.txt", "a\n"),
    ]);
    r.commit("init");
    // buildah builds for this machine's platform only: refused before anything is built.
    let (ok, out, _) = build_with_report(&r, &repo, &["--backend", "buildah"], &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("not for `linux/arm64`") && out.contains("`--backend buildkit`"),
        "{out}"
    );
    // The native builder has no `RUN`: the error names the platform it was building.
    let (ok, out, _) = build_with_report(&r, &repo, &["--backend", "native"], &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("for `linux/amd64`") && out.contains("`RUN` needs a container runtime"),
        "{out}"
    );
}
