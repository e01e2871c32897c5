//! Custom tags (`--add-custom-tag`, `--use-custom-tag`) and `--require-built-images` against a
//! real registry and cluster: `skopeo` reads tags and digests, `kubectl` reads objects.

use std::collections::BTreeMap;

use crate::registry::{list_tags, skopeo_inspect, Registry};
use crate::support::{text, Repo};

const WERF_YAML: &str = "project: aliases
configVersion: 1
cleanup:
  keepImagesBuiltWithinLastNHours: 0
  keepPolicies:
  - references:
      branch: main
    imagesPerReference:
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

const CHART: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: images\ndata:\n  app: {{ .Values.werf.image.app }}\n  base: {{ .Values.werf.image.base }}\n";

fn project(giterminism: bool) -> Repo {
    let mut files = vec![
        ("werf.yaml", WERF_YAML),
        ("app/Dockerfile", "FROM scratch\nCOPY . /\n"),
        ("app/v.txt", "1\n"),
        ("base/Dockerfile", "FROM scratch\nCOPY . /\n"),
        ("base/b.txt", "b\n"),
        (
            ".helm/Chart.yaml",
            "apiVersion: v2\nname: aliases\nversion: 1.0.0\n",
        ),
        (".helm/templates/images.yaml", CHART),
    ];
    if giterminism {
        files.push((
            "werf-giterminism.yaml",
            "giterminismConfigVersion: 1\ncli:\n  allowCustomTags: true\n",
        ));
    }
    let mut r = Repo::new(&files);
    r.commit("c1");
    r
}

fn ok(r: &Repo, out: &std::process::Output) -> String {
    let (stdout, stderr) = text(out, r);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    stdout
}

fn failed(r: &Repo, out: &std::process::Output) -> String {
    let (stdout, stderr) = text(out, r);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    stderr
}

/// The tags of `repo` (none while nothing was ever pushed to it: the registry answers 404).
fn tags_of(repo: &str) -> std::collections::BTreeSet<String> {
    let out = std::process::Command::new("skopeo")
        .args([
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{repo}"),
        ])
        .output()
        .expect("skopeo is installed");
    if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("404") {
        return Default::default();
    }
    list_tags(repo)
}

fn digest(image: &str) -> String {
    skopeo_inspect(image, false)["Digest"]
        .as_str()
        .expect("a digest")
        .to_string()
}

/// The `data` of a rendered or deployed ConfigMap `images`.
fn rendered(stdout: &str) -> BTreeMap<String, String> {
    let doc = stdout
        .split("\n---")
        .find(|d| d.contains("name: images"))
        .expect("the ConfigMap is rendered");
    let v: serde_json::Value = serde_yaml_ng::from_str(doc).expect("YAML");
    serde_json::from_value(v["data"].clone()).expect("string data")
}

/// werf's rules for templates, then aliases that skopeo reads as the content tags' manifests;
/// a render that references them; a custom tag moved by the next build; and a cleanup that
/// deletes a custom tag with its image and keeps the one whose image stays.
#[test]
fn custom_tags_alias_content_tags_are_referenced_and_cleaned_with_their_images() {
    let reg = Registry::start();
    let repo = reg.repo("aliases");
    let r = project(false);
    let build = |r: &Repo, tags: &[&str]| {
        let mut args = vec!["build", "--repo", repo.as_str()];
        for t in tags {
            args.extend(["--add-custom-tag", t]);
        }
        r.werf(&args)
    };
    // Without `cli.allowCustomTags` werf refuses custom tags, and so do we.
    let err = failed(&r, &build(&r, &["%image%-v1"]));
    assert!(err.contains("cli.allowCustomTags: true"), "{err}");
    assert!(tags_of(&repo).is_empty(), "nothing was pushed");

    let mut r = project(true);
    // One tag for two images, an unknown shortcut, a tag Docker refuses: each named.
    let err = failed(&r, &build(&r, &["latest"]));
    assert!(
        err.contains("images `app` and `base` would both be tagged `latest`")
            && err.contains("`%image%-latest`"),
        "{err}"
    );
    let err = failed(&r, &build(&r, &["%img%-v1"]));
    assert!(err.contains("`%img%` is no shortcut"), "{err}");
    let err = failed(&r, &build(&r, &["v1/%image%"]));
    assert!(err.contains("`v1/app` is not a Docker tag"), "{err}");
    assert!(tags_of(&repo).is_empty(), "nothing was pushed");

    let tags1 = r.tags();
    let out = ok(
        &r,
        &r.werf_env(
            &["build", "--repo", &repo, "--add-custom-tag", "%image%-v1"],
            &[("WERF_ADD_CUSTOM_TAG_1", "%image%-main")],
        ),
    );
    assert!(
        out.contains("4 custom tags: 4 tagged, 0 already in"),
        "{out}"
    );
    for image in ["app", "base"] {
        let content = digest(&format!("{repo}:{}", tags1[image]));
        for alias in [format!("{image}-v1"), format!("{image}-main")] {
            assert_eq!(digest(&format!("{repo}:{alias}")), content, "{alias}");
        }
    }
    // Again: nothing to do.
    let out = ok(&r, &build(&r, &["%image%-v1", "%image%-main"]));
    assert!(
        out.contains("4 custom tags: 0 tagged, 4 already in"),
        "{out}"
    );

    // The render references the custom tag; `-Z` finds every image and its custom tag.
    let out = ok(
        &r,
        &r.werf(&[
            "render",
            "--repo",
            &repo,
            "-Z",
            "--use-custom-tag",
            "%image%-v1",
        ]),
    );
    let data = rendered(&out);
    assert_eq!(data["app"], format!("{repo}:app-v1"));
    assert_eq!(data["base"], format!("{repo}:base-v1"));
    // A custom tag that was never pushed is named, and nothing renders.
    let out = r.werf(&[
        "render",
        "--repo",
        &repo,
        "-Z",
        "--use-custom-tag",
        "%image%-v9",
    ]);
    let err = failed(&r, &out);
    assert!(
        err.contains(&format!("`app`: custom tag `{repo}:app-v9`"))
            && err.contains(&format!("`base`: custom tag `{repo}:base-v9`")),
        "{err}"
    );
    assert!(text(&out, &r).0.is_empty(), "no manifests");

    // The next commit changes `app`: `main` moves to the new image, `v2` is new.
    r.write(&[("app/v.txt", "2\n")]);
    r.commit("c2");
    let tags2 = r.tags();
    assert_ne!(tags1["app"], tags2["app"]);
    assert_eq!(tags1["base"], tags2["base"]);
    ok(&r, &build(&r, &["%image%-v2", "%image%-main"]));
    let app2 = digest(&format!("{repo}:{}", tags2["app"]));
    assert_eq!(digest(&format!("{repo}:app-main")), app2);
    assert_ne!(digest(&format!("{repo}:app-v1")), app2);

    // main keeps its last image only: c1's `app` goes, and `app-v1` with it; `app-main` and
    // the `base` aliases stay with the images they name.
    let head = r.git(&["rev-parse", "HEAD"]).trim().to_string();
    r.git(&["update-ref", "refs/remotes/origin/main", &head]);
    let report = r.home.path().join("cleanup.json");
    ok(
        &r,
        &r.werf(&[
            "cleanup",
            "--repo",
            &repo,
            "--without-kube",
            "--save-cleanup-report",
            report.to_str().expect("utf-8"),
        ]),
    );
    let left = tags_of(&repo);
    for gone in [tags1["app"].as_str(), "app-v1"] {
        assert!(!left.contains(gone), "{gone} deleted: {left:?}");
    }
    for kept in [
        tags2["app"].as_str(),
        tags2["base"].as_str(),
        "app-v2",
        "app-main",
        "base-v1",
        "base-v2",
        "base-main",
    ] {
        assert!(left.contains(kept), "{kept} kept: {left:?}");
    }
    // The records of deleted aliases went with them; the kept aliases' records stayed.
    let records: Vec<&String> = left.iter().filter(|t| t.starts_with("ctm-")).collect();
    assert!(
        records.iter().all(|t| !t.contains(&tags1["app"])),
        "{records:?}"
    );
    assert_eq!(records.len(), 5, "{records:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("JSON");
    let reasons = |tag: &str| -> Vec<String> {
        report["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .find(|t| t["tag"] == tag)
            .unwrap_or_else(|| panic!("{tag} in the report"))["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .map(|r| r.as_str().expect("text").to_string())
            .collect()
    };
    assert_eq!(
        reasons("app-main"),
        [format!("a custom tag of kept tag `{}`", tags2["app"])]
    );
    assert!(reasons("app-v1").is_empty());
}

/// `converge -Z` with nothing built names every image and changes nothing in the cluster; a
/// converge with `--use-custom-tag` pushes the alias and deploys it; then `-Z` passes.
#[test]
fn require_built_images_stops_before_the_cluster_and_use_custom_tag_deploys_the_alias() {
    let c = crate::cluster::cluster();
    let reg = Registry::start();
    let repo = reg.repo("aliases-deploy");
    let r = project(true);
    let kubeconfig = c.kubeconfig.display().to_string();
    let converge = |extra: &[&str]| {
        let mut args = vec![
            "converge",
            "--repo",
            repo.as_str(),
            "--namespace",
            "aliases-z",
            "--kube-config",
            kubeconfig.as_str(),
        ];
        args.extend(extra);
        r.werf(&args)
    };
    let tags = r.tags();
    let err = failed(&r, &converge(&["-Z"]));
    assert!(
        err.contains("2 images are missing")
            && err.contains(&format!("`app` (`{repo}:{}`)", tags["app"]))
            && err.contains(&format!("`base` (`{repo}:{}`)", tags["base"])),
        "{err}"
    );
    assert!(tags_of(&repo).is_empty(), "-Z pushes nothing");
    let ns = c.kubectl(&["get", "namespace", "aliases-z"]);
    assert!(!ns.status.success(), "-Z changes nothing in the cluster");
    let err = failed(&r, &converge(&["-Z", "--add-custom-tag", "%image%-x"]));
    assert!(err.contains("pass one of them"), "{err}");

    let out = ok(&r, &converge(&["--use-custom-tag", "%image%-v1"]));
    assert!(out.contains("2 custom tags: 2 tagged"), "{out}");
    let object = c.get_json(&["configmap", "images", "-n", "aliases-z"]);
    assert_eq!(object["data"]["app"], format!("{repo}:app-v1").as_str());
    assert_eq!(
        digest(&format!("{repo}:app-v1")),
        digest(&format!("{repo}:{}", tags["app"]))
    );
    let out = ok(&r, &converge(&["-Z", "--use-custom-tag", "%image%-v1"]));
    assert!(!out.contains("custom tags:"), "-Z pushes nothing: {out}");
    assert!(out.contains("0 objects changed"), "{out}");
}
