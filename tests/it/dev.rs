//! The commit is the truth: dirty used files are an error; `--dev` reads the work tree.

use crate::contract::base_repo;
use crate::support::{snap_err, text};

#[test]
fn a_dirty_used_file_is_an_error_naming_it_and_its_images() {
    let r = base_repo();
    r.write(&[
        ("app/src/main.c", "dirty\n"),
        ("shared/common.txt", "dirty\n"),
    ]);
    let out = r.werf(&["build", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(snap_err(&out, &r));
}

#[test]
fn dirty_files_no_image_uses_are_fine() {
    let r = base_repo();
    let before = r.tags();
    r.write(&[
        ("README.md", "dirty\n"),
        ("app/docs/guide.txt", "dirty\n"),
        ("app/src/notes.md", "ignored\n"),
        ("untracked/new.txt", "new\n"),
    ]);
    assert_eq!(r.tags(), before);
}

#[test]
fn staged_changes_and_staged_deletions_are_dirty_too() {
    let r = base_repo();
    r.write(&[("tool/tool.sh", "echo staged\n")]);
    r.git(&["add", "tool/tool.sh"]);
    r.git(&["rm", "-q", "lib/lib.sh"]);
    let out = r.werf(&["build", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(snap_err(&out, &r));
}

#[test]
fn an_index_only_change_with_the_work_tree_equal_to_the_commit_is_clean() {
    let r = base_repo();
    let before = r.tags();
    // The index forgets the file, but the work tree still holds the committed content.
    r.git(&["rm", "-q", "--cached", "lib/lib.sh"]);
    assert_eq!(r.tags(), before);
}

#[test]
fn dev_mode_tags_equal_the_tags_after_committing() {
    let mut r = base_repo();
    r.write(&[
        ("app/src/main.c", "int main() { return 2; }\n"),
        ("app/src/new.c", "int y;\n"),
    ]);
    std::fs::remove_file(r.path().join("lib/lib.sh")).expect("rm");
    r.write(&[("lib/lib.sh", "echo moved\n")]);
    let out = r.werf(&[
        "build",
        "--dry-run",
        "--dev",
        "--save-build-report",
        "--build-report-path",
        "../dev-report.json",
    ]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    let dev: serde_json::Value = serde_json::from_slice(
        &std::fs::read(r.path().join("../dev-report.json")).expect("report"),
    )
    .expect("json");
    r.commit("the same changes, committed");
    let committed = r.tags();
    for (name, tag) in &committed {
        assert_eq!(
            dev["Images"][name]["DockerTag"].as_str(),
            Some(tag.as_str()),
            "{name}"
        );
    }
}

#[test]
fn dev_mode_sees_untracked_files_under_a_copy_source() {
    let r = base_repo();
    let before = r.tags();
    r.write(&[("shared/untracked.txt", "new\n")]);
    let out = r.werf(&["build", "--dry-run", "--dev"]);
    assert!(out.status.success());
    let stdout = text(&out, &r).0;
    assert!(stdout.contains("+ work tree (1 changed path)"), "{stdout}");
    assert!(
        !stdout.contains(&before["lib"]),
        "lib's tag must change: {stdout}"
    );
    assert!(
        stdout.contains(&before["app"]),
        "app's tag must not change: {stdout}"
    );
}

#[test]
fn context_add_files_come_from_the_work_tree_and_count_in_the_digest() {
    let yaml = "project: add\nconfigVersion: 1\n---\nimage: app\ncontext: app\ndockerfile: Dockerfile\ncontextAddFiles: [generated]\n---\nimage: plain\ncontext: plain\ndockerfile: Dockerfile\n";
    let mut r = crate::support::Repo::new(&[
        ("werf.yaml", yaml),
        (".gitignore", "generated/\n"),
        (
            "werf-giterminism.yaml",
            "giterminismConfigVersion: 1\nconfig:\n  dockerfile:\n    allowContextAddFiles: [app/generated]\n",
        ),
        (
            "app/Dockerfile",
            "FROM scratch\nCOPY generated/ /gen/\nCOPY main.txt /\n",
        ),
        ("app/main.txt", "main\n"),
        ("plain/Dockerfile", "FROM scratch\nCOPY . /\n"),
        ("plain/p.txt", "p\n"),
    ]);
    r.commit("init");
    // Missing from the work tree: a clear error naming the entry.
    let out = r.werf(&["build", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out, &r).1;
    assert!(
        stderr.contains("contextAddFiles entry `generated` of image `app` does not exist"),
        "{stderr}"
    );
    // Untracked (and git-ignored) generated files are read from the work tree, not the commit.
    r.write(&[("app/generated/a.bin", "v1\n")]);
    let first = r.tags();
    r.write(&[("app/generated/a.bin", "v2\n")]);
    let second = r.tags();
    assert_ne!(first["app"], second["app"]);
    assert_eq!(first["plain"], second["plain"]);
}

/// Makes `levels` nested folders `d/d/…` under `root`, one `mkdirat` at a time (the whole path
/// is past the system's path length).
fn deep_folders(root: &std::path::Path, levels: usize) {
    use rustix::fs::{mkdirat, openat, Mode, OFlags, CWD};
    let mut dir = openat(CWD, root, OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty())
        .expect("open the root");
    for _ in 0..levels {
        mkdirat(&dir, "d", Mode::from_raw_mode(0o755)).expect("mkdirat");
        dir = openat(&dir, "d", OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty()).expect("openat");
    }
    let file = openat(
        &dir,
        "bottom.txt",
        OFlags::CREATE | OFlags::WRONLY,
        Mode::from_raw_mode(0o644),
    )
    .expect("a file at the bottom");
    drop(file);
}

#[test]
fn an_untracked_folder_past_the_path_length_is_skipped_with_a_warning_as_git_does() {
    let r = base_repo();
    let before = r.tags();
    deep_folders(&r.path().join("shared"), 3000);
    r.write(&[("shared/untracked.txt", "new\n")]);
    let out = r.werf(&["build", "--dry-run", "--dev"]);
    let (stdout, stderr) = text(&out, &r);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The folder git could not open is named (shortened) in a warning ...
    assert!(
        stderr.contains("could not open directory 'shared/d/d/d/"),
        "{stderr}"
    );
    assert!(
        stderr.contains("(skipped, as `git status` skips it)"),
        "{stderr}"
    );
    // ... and the rest of the work tree still counts.
    assert!(stdout.contains("+ work tree (1 changed path)"), "{stdout}");
    assert!(
        !stdout.contains(&before["lib"]),
        "lib's tag must change: {stdout}"
    );
}
