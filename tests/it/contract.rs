//! The digest contract: a table of edits and exactly which tags each must change.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::{tags_in, Repo};

/// An edit applied to a fresh base repository.
type Edit = Box<dyn FnOnce(&mut Repo)>;

pub const WERF_YAML: &str = "project: shop
configVersion: 1
---
image: app
context: app
dockerfile: Dockerfile
args:
  VERSION: \"1.0\"
  UNUSED_HERE: x
---
image: lib
context: .
dockerfile: lib/Dockerfile
---
image: tool
context: tool
dockerfile: Dockerfile
dependencies:
- image: app
  imports:
  - type: ImageName
    targetBuildArg: APP_IMAGE
---
image: other
context: other
dockerfile: Dockerfile
";

pub fn base_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("werf.yaml", WERF_YAML),
        ("README.md", "# shop\n"),
        ("app/Dockerfile", "FROM alpine:3.19 AS build\nARG VERSION\n# build the app\nCOPY src/ /src/\nRUN make -C /src VERSION=$VERSION\n\nFROM scratch\nCOPY --from=build /src/app /app\nENTRYPOINT [\"/app\"]\n"),
        ("app/.dockerignore", "# docs are not shipped\n**/*.md\n"),
        ("app/src/main.c", "int main() { return 0; }\n"),
        ("app/src/notes.md", "notes\n"),
        ("app/docs/guide.txt", "guide\n"),
        ("lib/Dockerfile", "FROM alpine:3.19\nCOPY shared/ /shared/\nCOPY lib/lib.sh /lib.sh\n"),
        ("lib/lib.sh", "echo lib\n"),
        ("shared/common.txt", "common\n"),
        ("tool/Dockerfile", "ARG APP_IMAGE\nFROM ${APP_IMAGE} AS app\nFROM alpine:3.19\nCOPY --from=app /app /usr/bin/app\nCOPY tool.sh /tool.sh\n"),
        ("tool/tool.sh", "echo tool\n"),
        ("other/Dockerfile", "FROM debian:12\nCOPY . /other/\n"),
        ("other/o.txt", "o\n"),
    ]
}

pub fn base_repo() -> Repo {
    let mut r = Repo::new(&base_files());
    r.commit("init");
    r
}

/// Applies an edit to a fresh base repository and returns the set of images whose tag changed.
fn changed_by(edit: impl FnOnce(&mut Repo)) -> BTreeSet<String> {
    let mut r = base_repo();
    let before = r.tags();
    edit(&mut r);
    let after = r.tags();
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    before
        .keys()
        .filter(|k| before[*k] != after[*k])
        .cloned()
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn edit_file(path: &'static str, content: &'static str) -> impl FnOnce(&mut Repo) {
    move |r: &mut Repo| {
        r.write(&[(path, content)]);
        r.commit("edit");
    }
}

#[test]
fn edits_that_must_not_change_any_tag() {
    let cases: Vec<(&str, Edit)> = vec![
        (
            "comment-only and formatting-only Dockerfile edit",
            Box::new(edit_file(
                "app/Dockerfile",
                "# syntax=docker/dockerfile:1\n# the app\nFROM   alpine:3.19   AS build\nARG VERSION\nCOPY  src/  /src/\n# a comment between\nRUN make -C /src \\\n    VERSION=$VERSION\nFROM scratch\ncopy --from=build /src/app /app\nENTRYPOINT [ \"/app\" ]\n",
            )),
        ),
        (
            "images reordered in werf.yaml",
            Box::new(|r: &mut Repo| {
                let docs: Vec<&str> = WERF_YAML.split("---\n").collect();
                let reordered = [docs[0], docs[4], docs[3], docs[1], docs[2]].join("---\n");
                r.write(&[("werf.yaml", Box::leak(reordered.into_boxed_str()))]);
                r.commit("reorder");
            }),
        ),
        ("a file outside every COPY source", Box::new(edit_file("app/docs/guide.txt", "new guide\n"))),
        ("a README at the root", Box::new(edit_file("README.md", "# shop, renamed\n"))),
        ("a .dockerignored file under a COPY source", Box::new(edit_file("app/src/notes.md", "more notes\n"))),
        (
            "a comment in .dockerignore",
            Box::new(edit_file("app/.dockerignore", "# markdown stays out\n\n**/*.md\n")),
        ),
        (
            "an amend with another message and date",
            Box::new(|r: &mut Repo| {
                r.git(&["commit", "-q", "--amend", "-m", "amended"]);
            }),
        ),
        (
            "a rebase-like rewrite: same tree on a new branch with other history",
            Box::new(|r: &mut Repo| {
                let tree = r.git(&["rev-parse", "HEAD^{tree}"]);
                let c = r.git(&["commit-tree", tree.trim(), "-m", "orphan"]);
                r.git(&["checkout", "-q", "-B", "other", c.trim()]);
            }),
        ),
        (
            "a werf.yaml arg no Dockerfile declares",
            Box::new(|r: &mut Repo| {
                let y = WERF_YAML.replace("UNUSED_HERE: x", "UNUSED_HERE: y");
                r.write(&[("werf.yaml", Box::leak(y.into_boxed_str()))]);
                r.commit("unused arg");
            }),
        ),
    ];
    for (what, edit) in cases {
        assert_eq!(changed_by(edit), set(&[]), "{what} must not change any tag");
    }
}

#[test]
fn edits_that_must_change_exactly_the_affected_tags() {
    let cases: Vec<(&str, Edit, &[&str])> = vec![
        ("a file under a COPY source", Box::new(edit_file("app/src/main.c", "int main() { return 1; }\n")), &["app", "tool"]),
        ("a new file under a COPY source", Box::new(edit_file("app/src/extra.c", "int x;\n")), &["app", "tool"]),
        (
            "a file's executable bit",
            Box::new(|r: &mut Repo| {
                r.write(&[("app/src/main.c*", "int main() { return 0; }\n")]);
                r.commit("chmod");
            }),
            &["app", "tool"],
        ),
        (
            "an arg the Dockerfile declares",
            Box::new(|r: &mut Repo| {
                let y = WERF_YAML.replace("VERSION: \"1.0\"", "VERSION: \"1.1\"");
                r.write(&[("werf.yaml", Box::leak(y.into_boxed_str()))]);
                r.commit("arg");
            }),
            &["app", "tool"],
        ),
        ("a base image", Box::new(edit_file("other/Dockerfile", "FROM debian:13\nCOPY . /other/\n")), &["other"]),
        ("a shared folder file", Box::new(edit_file("shared/common.txt", "changed\n")), &["lib"]),
        ("an instruction", Box::new(edit_file("tool/Dockerfile", "ARG APP_IMAGE\nFROM ${APP_IMAGE} AS app\nFROM alpine:3.19\nCOPY --from=app /app /usr/local/bin/app\nCOPY tool.sh /tool.sh\n")), &["tool"]),
        (
            "a .dockerignore rule that lets a file in",
            Box::new(edit_file("app/.dockerignore", "**/*.txt\n")),
            &["app", "tool"],
        ),
    ];
    for (what, edit, expected) in cases {
        assert_eq!(changed_by(edit), set(expected), "{what}");
    }
}

#[test]
fn another_clone_in_another_path_gives_the_same_tags() {
    let r = base_repo();
    let tags = r.tags();
    let (_parent, clone) = r.clone_elsewhere();
    let home = tempfile::tempdir().expect("tempdir");
    assert_eq!(tags_in(&clone, home.path()), tags);
}

#[test]
fn tags_are_56_hex_and_independent_of_the_cache() {
    let r = base_repo();
    let cold = r.tags();
    let warm = r.tags();
    assert_eq!(cold, warm);
    let fresh_home = tempfile::tempdir().expect("tempdir");
    assert_eq!(tags_in(r.path(), fresh_home.path()), cold);
    let all: BTreeMap<_, _> = cold;
    // Every image of werf.yaml has a tag (the check below is over all four, not over none).
    assert_eq!(
        all.keys().map(String::as_str).collect::<Vec<_>>(),
        ["app", "lib", "other", "tool"]
    );
    for (image, tag) in &all {
        assert!(
            tag.len() == 56 && tag.chars().all(|c| c.is_ascii_hexdigit()),
            "`{image}`: {tag}"
        );
    }
}

/// werf.yaml's `.Commit` and partials: a template reading `.Commit.Hash` moves its image's tag
/// with every commit (werf's documented cost), one that does not read it stays; a partial in
/// `.werf/` is an input like the file that includes it.
#[test]
fn commit_values_and_partials_reach_the_tags_that_read_them() {
    let werf_yaml = "project: shop\nconfigVersion: 1\ndeploy:\n  namespace: \"rev-{{ .Commit.Hash | trunc 12 }}\"\n---\n{{ include \"images/app.tmpl\" . }}\n---\nimage: pinned\ncontext: pinned\ndockerfile: Dockerfile\nargs:\n  MONTH: \"{{ div .Commit.Date.Unix 2592000 }}\"\n---\nimage: steady\ncontext: steady\ndockerfile: Dockerfile\n";
    let partial = "image: app\ncontext: app\ndockerfile: Dockerfile\nargs:\n  REV: \"{{ .Commit.Hash }}\"\n  WHEN: \"{{ .Commit.Date.Human }}\"\n";
    let dockerfile = "FROM alpine:3.19\nARG REV\nARG WHEN\nARG MONTH\nRUN echo $REV $WHEN $MONTH\n";
    let mut repo = Repo::new(&[
        ("werf.yaml", werf_yaml),
        (".werf/images/app.tmpl", partial),
        ("app/Dockerfile", dockerfile),
        ("pinned/Dockerfile", dockerfile),
        ("steady/Dockerfile", dockerfile),
        (".helm/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 0.1.0\n"),
        (
            ".helm/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: {{ .Release.Namespace }}\n",
        ),
    ]);
    repo.commit("init");
    let before = repo.tags();
    assert_eq!(
        before.keys().cloned().collect::<Vec<_>>(),
        ["app", "pinned", "steady"],
        "the partial's image is in the config"
    );
    // `.Commit.Hash` is the commit read (the namespace template shows it).
    let head = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let out = repo.werf(&["render"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("namespace: rev-{}", &head[..12])),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A new commit: `app` reads the hash, so its tag moves; `pinned` reads a month bucket of
    // the date and `steady` nothing, so theirs stay.
    repo.write(&[("README.md", "touched\n")]);
    repo.commit("unrelated");
    let after = repo.tags();
    assert_ne!(before["app"], after["app"]);
    assert_eq!(before["pinned"], after["pinned"]);
    assert_eq!(before["steady"], after["steady"]);
    // The older revision is planned with its own `.Commit` (why, explain, cleanup's history).
    let second = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let out = repo.werf(&["graph", "--why", "image:app", "--since", &head]);
    let why = String::from_utf8_lossy(&out.stdout);
    assert!(
        why.contains(&format!("REV={head} -> ARG REV={second}")),
        "{why}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Editing the partial changes the tag of the image it defines, and only it.
    let later = repo.tags();
    repo.write(&[(".werf/images/app.tmpl", &partial.replace("REV", "REVISION"))]);
    repo.commit("partial");
    let edited = repo.tags();
    assert_ne!(later["app"], edited["app"]);
    assert_eq!(later["steady"], edited["steady"]);
    // An error in a partial names the partial's file and line.
    repo.write(&[(
        ".werf/images/app.tmpl",
        "image: app\n{{ fail \"a broken partial\" }}\n",
    )]);
    repo.commit("broken partial");
    let out = repo.werf(&["build", "--dry-run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(".werf/images/app.tmpl:2"), "{stderr}");
}
