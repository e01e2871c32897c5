//! `werf bundle`: a release published once (images and the chart as an OCI Helm chart) and
//! deployed without the Git repository, against the real registry and cluster; skopeo reads the
//! artifact's media types, Helm 4 pulls and installs it, and a copy through an archive deploys
//! the same objects from another repository. `werf export` publishes built images elsewhere.

use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

use crate::cluster::{cluster, Cluster};
use crate::deploy::object_writes;
use crate::helm_diff::helm_py as helm;
use crate::registry::skopeo;
use crate::support::{no_panic, werf_cmd, Repo};

const KEY: &str = "bc3458408a5687e60b9417adb84e4ad0";

const APP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  selector:\n    matchLabels: {app: app}\n  template:\n    metadata:\n      labels: {app: app}\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: app\n        image: {{ .Values.werf.image.app }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: {{ .Values.mode | quote }}\n  tag: {{ .Values.werf.tag.app | quote }}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {{ .Values.password | default \"none\" | quote }}\n";

/// The project, its secret value encrypted by the independent implementation.
fn project() -> Repo {
    let hex = crate::secrets::python(
        "encrypt",
        KEY,
        &json!([{"shape": "gcm-2-none-raw", "plain": "s3cret-pw"}]),
    );
    let secret_values = format!("password: {}\n", hex[0].as_str().expect("hex"));
    let mut repo = Repo::new(&[
        (
            "werf.yaml",
            "project: bundled\nconfigVersion: 1\n---\nimage: app\ncontext: app\ndockerfile: Dockerfile\n",
        ),
        ("app/Dockerfile", "FROM scratch\nCOPY app.txt /app.txt\n"),
        ("app/app.txt", "app v1\n"),
        (
            ".helm/Chart.yaml",
            "apiVersion: v2\nname: bundled\nversion: 0.1.0\n",
        ),
        (".helm/values.yaml", "mode: fast\n"),
        (".helm/templates/app.yaml", APP),
        (".helm/secret-values.yaml", &secret_values),
    ]);
    repo.commit("init");
    repo
}

/// `werf ARGS` in `dir` (no Git repository there), with `env`.
fn werf_at(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let home = dir.join(".home");
    let mut cmd = werf_cmd(dir, &home, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = no_panic(cmd.output().expect("werf runs"));
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn image(c: &Cluster, ns: &str) -> String {
    c.get_json(&["deployment", "app", "-n", ns])["spec"]["template"]["spec"]["containers"][0]
        ["image"]
        .as_str()
        .expect("an image")
        .to_string()
}

fn config(c: &Cluster, ns: &str) -> Value {
    c.get_json(&["configmap", "settings", "-n", ns])["data"].clone()
}

fn password(c: &Cluster, ns: &str) -> String {
    let encoded = c.kubectl_ok(&[
        "get",
        "secret",
        "db",
        "-n",
        ns,
        "-o",
        "jsonpath={.data.password}",
    ]);
    let out = std::process::Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(encoded.trim().as_bytes())?;
            child.wait_with_output()
        })
        .expect("base64 runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_bundle_published_once_is_read_by_skopeo_and_helm_and_applied_and_copied_anywhere() {
    let c = cluster();
    let repo = project();
    let src = format!("{}/bundle-src", c.registry.address);
    let kubeconfig = c.kubeconfig.display().to_string();

    // Publish: the image is built and pushed, then the chart. No key is needed (nor read): the
    // secret values travel encrypted.
    let out = repo.werf(&[
        "bundle",
        "publish",
        "--repo",
        &src,
        "--tag",
        "1.2.3",
        "--set",
        "mode=slow",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "Bundle `{src}:1.2.3` published: chart `bundled` 1.2.3"
        )),
        "{stdout}"
    );
    let tag = repo.tags()["app"].clone();
    let published_image = format!("{src}:{tag}");

    // skopeo reads Helm's media types.
    let raw: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{src}:1.2.3"),
    ]))
    .expect("a manifest");
    assert_eq!(
        raw["config"]["mediaType"],
        "application/vnd.cncf.helm.config.v1+json"
    );
    assert_eq!(
        raw["layers"][0]["mediaType"],
        "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    );
    assert_eq!(raw["layers"].as_array().map(Vec::len), Some(1), "{raw}");

    // Helm 4 pulls it and installs it: the images' references are values of the chart.
    let pulled = tempfile::tempdir().expect("tempdir");
    let archive = helm(&[
        "pull",
        &format!("oci://{src}"),
        "1.2.3",
        &pulled.path().display().to_string(),
    ])["archive"]
        .as_str()
        .expect("one archive pulled")
        .to_string();
    let installed = helm(&["install", &kubeconfig, "bundle-helm", &archive, "by-helm"]);
    assert_eq!(installed["status"], "deployed", "{installed}");
    assert_eq!(image(c, "bundle-helm"), published_image);
    assert_eq!(
        config(c, "bundle-helm"),
        json!({"mode": "slow", "tag": tag})
    );
    // Helm knows nothing of werf's secrets: the value is not there.
    assert_eq!(password(c, "bundle-helm"), "none");

    // `werf bundle apply` from an empty folder: no Git repository, no werf.yaml.
    let empty = tempfile::tempdir().expect("tempdir");
    let apply = |ns: &str, from: &str, bundle_tag: &str| {
        werf_at(
            empty.path(),
            &[
                "bundle",
                "apply",
                "--repo",
                from,
                "--tag",
                bundle_tag,
                "--release",
                ns,
                "--namespace",
                ns,
                "--kube-config",
                &kubeconfig,
                "--timeout",
                "60s",
            ],
            &[("WERF_SECRET_KEY", KEY)],
        )
    };
    let (ok, out) = apply("bundle-apply", &src, "1.2.3");
    assert!(ok, "{out}");
    assert_eq!(image(c, "bundle-apply"), published_image);
    assert_eq!(
        config(c, "bundle-apply"),
        json!({"mode": "slow", "tag": tag})
    );
    assert_eq!(password(c, "bundle-apply"), "s3cret-pw");
    assert!(
        !out.contains("s3cret-pw"),
        "a decrypted value in the output:\n{out}"
    );
    // Recorded as Helm records releases: Helm 4 reads the history.
    let history = helm(&["history", &kubeconfig, "bundle-apply", "bundle-apply"]);
    assert_eq!(history["revisions"][0]["status"], "deployed", "{history}");

    // Again: nothing to do, nothing written.
    let before = c.writes_by("werf").len();
    let (ok, out) = apply("bundle-apply", &src, "1.2.3");
    assert!(ok && out.contains("is up to date (revision 1)"), "{out}");
    assert_eq!(object_writes(c, before, "bundle-apply"), (vec![], vec![]));

    // Without the key the secret values cannot be read: a clear error, nothing changed.
    let (ok, out) = werf_at(
        empty.path(),
        &["bundle", "render", "--repo", &src, "--tag", "1.2.3"],
        &[],
    );
    assert!(!ok && out.contains("WERF_SECRET_KEY"), "{out}");
    let (ok, rendered_src) = werf_at(
        empty.path(),
        &["bundle", "render", "--repo", &src, "--tag", "1.2.3"],
        &[("WERF_SECRET_KEY", KEY)],
    );
    assert!(ok, "{rendered_src}");
    assert!(
        rendered_src.contains(&format!("image: {published_image}")),
        "{rendered_src}"
    );

    // Through an archive to another repository: the image goes along, the references follow.
    let archive = empty.path().join("bundle.tar");
    let archive_arg = format!("archive:{}", archive.display());
    let (ok, out) = werf_at(
        empty.path(),
        &[
            "bundle",
            "copy",
            "--from",
            &format!("{src}:1.2.3"),
            "--to",
            &archive_arg,
        ],
        &[],
    );
    assert!(ok, "{out}");
    assert!(out.contains("1 image"), "{out}");
    let from_archive: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        &format!("oci-archive:{}:{tag}", archive.display()),
    ]))
    .expect("skopeo reads the archive's image");
    let in_registry: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{published_image}"),
    ]))
    .expect("skopeo reads the image");
    assert_eq!(from_archive["Digest"], in_registry["Digest"]);

    let dst = format!("{}/bundle-dst", c.registry.address);
    let (ok, out) = werf_at(
        empty.path(),
        &[
            "bundle",
            "copy",
            "--from",
            &archive_arg,
            "--to",
            &format!("{dst}:2.0.0"),
        ],
        &[],
    );
    assert!(ok, "{out}");
    assert!(out.contains("blobs uploaded"), "{out}");
    let copied: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{dst}:{tag}"),
    ]))
    .expect("the image is in the destination");
    assert_eq!(copied["Digest"], in_registry["Digest"]);

    let (ok, out) = apply("bundle-copied", &dst, "2.0.0");
    assert!(ok, "{out}");
    assert_eq!(image(c, "bundle-copied"), format!("{dst}:{tag}"));
    assert_eq!(config(c, "bundle-copied"), config(c, "bundle-apply"));
    assert_eq!(password(c, "bundle-copied"), "s3cret-pw");
    // The same objects as the source bundle's, the repository apart.
    let (ok, rendered_dst) = werf_at(
        empty.path(),
        &["bundle", "render", "--repo", &dst, "--tag", "2.0.0"],
        &[("WERF_SECRET_KEY", KEY)],
    );
    assert!(ok, "{rendered_dst}");
    assert_eq!(rendered_dst, rendered_src.replace(&src, &dst));
    assert_ne!(rendered_dst, rendered_src);
}

#[test]
fn bundle_mistakes_are_clear_errors() {
    let c = cluster();
    let repo = project();
    let src = format!("{}/bundle-bad", c.registry.address);
    let kubeconfig = c.kubeconfig.display().to_string();
    let empty = tempfile::tempdir().expect("tempdir");

    // `--namespace` belongs to apply.
    let out = repo.werf(&["bundle", "publish", "--repo", &src, "--namespace", "x"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not take `--namespace`"), "{stderr}");

    let out = repo.werf(&["bundle", "publish", "--repo", &src]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tag = repo.tags()["app"].clone();

    // Apply needs the release's names: a bundle has no werf.yaml to give them.
    let (ok, out) = werf_at(
        empty.path(),
        &[
            "bundle",
            "apply",
            "--repo",
            &src,
            "--kube-config",
            &kubeconfig,
        ],
        &[("WERF_SECRET_KEY", KEY)],
    );
    assert!(
        !ok && out.contains("`--release NAME` and `--namespace NAMESPACE`"),
        "{out}"
    );

    // An image is not a bundle; a missing tag is named.
    let (ok, out) = werf_at(
        empty.path(),
        &["bundle", "render", "--repo", &src, "--tag", &tag],
        &[],
    );
    assert!(!ok && out.contains("not a Helm chart"), "{out}");
    let (ok, out) = werf_at(
        empty.path(),
        &["bundle", "render", "--repo", &src, "--tag", "9.9.9"],
        &[],
    );
    assert!(!ok && out.contains("9.9.9"), "{out}");

    // A file that is no bundle archive, and one whose blob was altered.
    let junk = empty.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar").expect("write");
    let (ok, out) = werf_at(
        empty.path(),
        &[
            "bundle",
            "copy",
            "--from",
            &format!("archive:{}", junk.display()),
            "--to",
            &format!("{src}-2:1.0.0"),
        ],
        &[],
    );
    assert!(!ok && out.contains("junk.tar"), "{out}");
    let good = empty.path().join("good.tar");
    let (ok, out) = werf_at(
        empty.path(),
        &[
            "bundle",
            "copy",
            "--from",
            &format!("{src}:latest"),
            "--to",
            &format!("archive:{}", good.display()),
        ],
        &[],
    );
    assert!(ok, "{out}");
    // An archive goes to a registry; to another archive it is a file copy.
    let (ok, out) = werf_at(
        empty.path(),
        &[
            "bundle",
            "copy",
            "--from",
            &format!("archive:{}", good.display()),
            "--to",
            &format!("archive:{}", empty.path().join("again.tar").display()),
        ],
        &[],
    );
    assert!(!ok && out.contains("not to another archive"), "{out}");
    assert!(!empty.path().join("again.tar").exists());
    let mut bytes = std::fs::read(&good).expect("read");
    // The image's config (JSON, stored as it is): one byte of it altered.
    let marker = b"\"rootfs\"";
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("the image config is in the archive");
    bytes[at + 2] ^= 0x20;
    let bad = empty.path().join("bad.tar");
    std::fs::write(&bad, &bytes).expect("write");
    let (ok, out) = werf_at(
        empty.path(),
        &[
            "bundle",
            "copy",
            "--from",
            &format!("archive:{}", bad.display()),
            "--to",
            &format!("{src}-3:1.0.0"),
        ],
        &[],
    );
    assert!(!ok && out.contains("does not have that digest"), "{out}");
}

#[test]
fn export_publishes_built_images_under_other_references_without_werf_s_labels() {
    let c = cluster();
    let mut repo = Repo::new(&[
        (
            "werf.yaml",
            "project: exp\nconfigVersion: 1\n---\nimage: app\ncontext: app\ndockerfile: Dockerfile\n---\nimage: side\ncontext: side\ndockerfile: Dockerfile\n",
        ),
        ("app/Dockerfile", "FROM scratch\nLABEL keep=me\nCOPY a.txt /a.txt\n"),
        ("app/a.txt", "a\n"),
        ("side/Dockerfile", "FROM scratch\nCOPY s.txt /s.txt\n"),
        ("side/s.txt", "s\n"),
    ]);
    repo.commit("init");
    let src = format!("{}/export-src", c.registry.address);
    let out_prefix = format!("{}/exported", c.registry.address);

    // One reference for two images: refused before anything is built or pushed.
    let out = repo.werf(&[
        "export",
        "--repo",
        &src,
        "--tag",
        &format!("{out_prefix}/all:v1"),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("add `%image%`"), "{stderr}");

    let out = repo.werf_env(
        &[
            "export",
            "--repo",
            &src,
            "--tag",
            &format!("{out_prefix}/%image%:v1"),
            "--add-label",
            "org.opencontainers.image.title=Shop",
        ],
        &[("WERF_EXPORT_ADD_LABEL_1", "team=core")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tags = repo.tags();
    for name in ["app", "side"] {
        assert!(
            stdout.contains(&format!("Image `{name}` exported")),
            "{stdout}"
        );
        let built = format!("{src}:{}", tags[name]);
        let exported = format!("{out_prefix}/{name}:v1");
        let inspect = |image: &str, config: bool| -> Value {
            let mut args = vec!["inspect", "--tls-verify=false"];
            if config {
                args.push("--config");
            }
            let target = format!("docker://{image}");
            args.push(&target);
            serde_json::from_str(&skopeo(&args)).expect("JSON")
        };
        let before = inspect(&built, true)["config"]["Labels"].clone();
        assert_eq!(before["werf.io/image"], name, "{before}");
        let after = inspect(&exported, true)["config"]["Labels"].clone();
        let keys: Vec<&String> = after.as_object().expect("labels").keys().collect();
        assert!(
            keys.iter().all(|k| !k.starts_with("werf")),
            "werf's labels left: {after}"
        );
        assert_eq!(after["org.opencontainers.image.title"], "Shop", "{after}");
        assert_eq!(after["team"], "core", "{after}");
        if name == "app" {
            assert_eq!(after["keep"], "me", "the image's own label stays: {after}");
        }
        // The same layers; a new config, so a new manifest.
        assert_eq!(
            inspect(&built, false)["Layers"],
            inspect(&exported, false)["Layers"]
        );
        assert_ne!(
            inspect(&built, false)["Digest"],
            inspect(&exported, false)["Digest"]
        );
    }
}
