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
}
