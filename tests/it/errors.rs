//! Bad input: each case fails with a message naming file, line and cause, exits non-zero, and
//! leaves no build report and no plan record behind.

use crate::support::{text, Repo};

const META: &str = "project: bad\nconfigVersion: 1\n";

/// Commits `files`, runs a dry-run build and returns stderr (with paths filtered).
fn fails(files: &[(&str, &str)], extra: &[&str]) -> String {
    let mut r = Repo::new(files);
    r.commit("init");
    let report = r.home.path().join("report.json");
    let mut args = vec![
        "build",
        "--dry-run",
        "--save-build-report",
        "--build-report-path",
        report.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let out = r.werf(&args);
    let (stdout, stderr) = text(&out, &r);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        !report.exists(),
        "a failed run must not write a build report"
    );
    assert!(
        !r.home.path().join("v1/plans").exists(),
        "a failed run must not record a plan"
    );
    format!("{}\n{stderr}", crate::support::exit_line(&out))
}

/// The control for `fails`' "no plan record" check: a successful plan does write under
/// `v1/plans`, so that folder's absence after a failure means no record, not a renamed folder.
#[test]
fn a_successful_plan_records_where_failures_are_checked() {
    let mut r = Repo::new(&[
        ("werf.yaml", &yaml("image: app\ndockerfile: Dockerfile\n")),
        ("Dockerfile", DF),
    ]);
    r.commit("init");
    let out = r.werf(&["build", "--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = std::fs::read_dir(r.home.path().join("v1/plans"))
        .expect("the plan namespace exists")
        .count();
    assert_eq!(records, 1, "one record folder for the one project key");
}

fn yaml(rest: &str) -> String {
    format!("{META}---\n{rest}")
}

const DF: &str = "FROM alpine:3.19\nCOPY . /app/\n";

#[test]
fn malformed_yaml_names_line_and_column() {
    let y = yaml("image: app\ndockerfile: Dockerfile\nargs: [unclosed\n");
    insta::assert_snapshot!(fails(&[("werf.yaml", &y), ("Dockerfile", DF)], &[]));
}

#[test]
fn unknown_key_names_line_and_column() {
    let y = yaml("image: app\ndockerfile: Dockerfile\n\nplatfrom: [linux/amd64]\n");
    insta::assert_snapshot!(fails(&[("werf.yaml", &y), ("Dockerfile", DF)], &[]));
}

#[test]
fn dependency_cycle_is_named() {
    let y = yaml("image: a\ndockerfile: Dockerfile\ndependencies: [{image: b}]\n---\nimage: b\ndockerfile: Dockerfile\ndependencies: [{image: a}]\n");
    insta::assert_snapshot!(fails(&[("werf.yaml", &y), ("Dockerfile", DF)], &[]));
}

#[test]
fn missing_dockerfile_names_the_path() {
    let y = yaml("image: app\ncontext: app\ndockerfile: Dockerfile.prod\n");
    insta::assert_snapshot!(fails(&[("werf.yaml", &y), ("app/Dockerfile", DF)], &[]));
}

#[test]
fn missing_context_names_the_path() {
    let y = yaml("image: app\ncontext: services/app\ndockerfile: Dockerfile\n");
    insta::assert_snapshot!(fails(&[("werf.yaml", &y), ("Dockerfile", DF)], &[]));
}

#[test]
fn missing_copy_source_names_dockerfile_line() {
    let y = yaml("image: app\ndockerfile: Dockerfile\n");
    let df = "FROM alpine:3.19\n\nCOPY src/ /src/\n";
    insta::assert_snapshot!(fails(
        &[("werf.yaml", &y), ("Dockerfile", df), ("other.txt", "x")],
        &[]
    ));
}

#[test]
fn malformed_dockerfile_names_line() {
    let y = yaml("image: app\ndockerfile: Dockerfile\n");
    insta::assert_snapshot!(fails(
        &[
            ("werf.yaml", &y),
            ("Dockerfile", "FROM alpine\nCOPPY a b\n")
        ],
        &[]
    ));
}

#[test]
fn unknown_target_stage() {
    let y = yaml("image: app\ndockerfile: Dockerfile\ntarget: prod\n");
    insta::assert_snapshot!(fails(
        &[
            ("werf.yaml", &y),
            ("Dockerfile", "FROM alpine AS build\nFROM scratch AS dev\n")
        ],
        &[]
    ));
}

#[test]
fn template_errors_in_werf_yaml_name_line_and_column() {
    let y = yaml("image: app\ndockerfile: {{ .Env | nosuch }}/Dockerfile\n");
    insta::assert_snapshot!(fails(&[("werf.yaml", &y), ("Dockerfile", DF)], &[]));
    let y =
        yaml("image: app\ndockerfile: {{ required \"set DOCKERFILE\" (env \"DOCKERFILE\") }}\n");
    let allowed = "giterminismConfigVersion: 1\nconfig:\n  goTemplateRendering:\n    allowEnvVariables: [DOCKERFILE]\n";
    insta::assert_snapshot!(fails(
        &[
            ("werf.yaml", &y),
            ("Dockerfile", DF),
            ("werf-giterminism.yaml", allowed)
        ],
        &[]
    ));
}

/// Giterminism: werf.yaml's `env` reads only what `werf-giterminism.yaml` allows (nothing
/// without the file); a bad giterminism file names its line.
#[test]
fn giterminism_refuses_what_it_does_not_allow() {
    let y = yaml("image: app\ndockerfile: {{ env \"DOCKERFILE\" | default \"Dockerfile\" }}\n");
    let err = fails(&[("werf.yaml", &y), ("Dockerfile", DF)], &[]);
    assert!(
        err.contains("werf.yaml:5:")
            && err.contains("`DOCKERFILE` is not allowed by giterminism")
            && err.contains("config.goTemplateRendering.allowEnvVariables"),
        "{err}"
    );
    let allowed = "giterminismConfigVersion: 1\nconfig:\n  goTemplateRendering:\n    allowEnvVariables: [/^DOCKER/]\n";
    let mut r = Repo::new(&[
        ("werf.yaml", &y),
        ("Dockerfile", DF),
        ("werf-giterminism.yaml", allowed),
    ]);
    r.commit("allowed");
    let out = r.werf(&["build", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    let err = fails(
        &[
            ("werf.yaml", &y),
            ("Dockerfile", DF),
            (
                "werf-giterminism.yaml",
                "giterminismConfigVersion: 1\nconfig:\n  allowUncomitted: true\n",
            ),
        ],
        &[],
    );
    assert!(
        err.contains("werf-giterminism.yaml:3") && err.contains("allowUncomitted"),
        "{err}"
    );
}

#[test]
fn unknown_dependency_and_stapel_images() {
    let y = yaml("image: app\ndockerfile: Dockerfile\ndependencies: [{image: ghost}]\n");
    insta::assert_snapshot!(fails(&[("werf.yaml", &y), ("Dockerfile", DF)], &[]));
    // Stapel images are supported; `ansible` is not, and says so with its line.
    let y = yaml("image: app\nfrom: alpine\nansible:\n  install: []\n");
    insta::assert_snapshot!(fails(&[("werf.yaml", &y)], &[]));
}

#[test]
fn config_missing_from_the_commit() {
    insta::assert_snapshot!(fails(&[("README.md", "x")], &[]));
}

#[test]
fn unknown_commit() {
    let y = yaml("image: app\ndockerfile: Dockerfile\n");
    insta::assert_snapshot!(fails(
        &[("werf.yaml", &y), ("Dockerfile", DF)],
        &["--commit", "nosuchref"]
    ));
}

#[test]
fn not_a_git_repository() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    let out = crate::support::werf_in(dir.path(), home.path(), &["build", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr).replace(
        &dir.path()
            .canonicalize()
            .expect("path")
            .display()
            .to_string(),
        "[DIR]",
    );
    assert!(
        stderr.starts_with("Error: `[DIR]` is not inside a Git work tree"),
        "{stderr}"
    );
}

/// Keys werf knows that werf-rs does not implement: an error naming the file, line and key and
/// saying "not supported yet", never a silent no-op.
#[test]
fn werf_keys_not_supported_yet_are_refused_naming_line_and_key() {
    let dockerfile = ("Dockerfile", "FROM scratch\n");
    let cases = [
        (
            format!("{META}---\nimage: a\ndockerfile: Dockerfile\nstaged: true\n"),
            "werf.yaml:6",
            "`staged: true`",
        ),
        (
            "project: bad\nconfigVersion: 1\nbuild:\n  staged: true\n".to_string(),
            "werf.yaml:4",
            "`build.staged: true`",
        ),
        (
            format!("{META}---\nimage: a\nfrom: alpine\nfromLatest: true\n"),
            "werf.yaml:",
            "`fromLatest: true`",
        ),
    ];
    for (yaml, place, key) in cases {
        let err = fails(&[("werf.yaml", &yaml), dockerfile], &[]);
        assert!(
            err.contains(place) && err.contains(key) && err.contains("not supported yet"),
            "{yaml}\n{err}"
        );
    }
    // Their `false` forms are werf's defaults, accepted.
    let mut r = Repo::new(&[
        (
            "werf.yaml",
            &format!("{META}build:\n  staged: false\n---\nimage: a\ndockerfile: Dockerfile\nstaged: false\n"),
        ),
        dockerfile,
    ]);
    r.commit("init");
    let out = r.werf(&["build", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
}
