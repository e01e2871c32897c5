//! Engine tests of `plan::carry`: along a sequence of trees, which images are asked again and
//! which are carried over, and that the digests are always those a fresh graph computes.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use salsa::Setter;
use werf_graph::db::{Database, Project};
use werf_graph::objects::MemoryObjects;
use werf_graph::plan::carry::{Carry, CarryStats};
use werf_graph::plan::digests_all;

const WERF_YAML: &str = "project: demo
configVersion: 1
---
image: a
context: a
dockerfile: Dockerfile
---
image: b
context: b
dockerfile: Dockerfile
---
image: c
context: c
dockerfile: Dockerfile
dependencies:
- image: a
  imports:
  - type: ImageName
    targetBuildArg: BASE
---
image: d
context: d
dockerfile: Dockerfile
";

/// `b` reads `version.txt` through werf.yaml's templating.
const TEMPLATED: &str = "project: demo
configVersion: 1
---
image: a
context: a
dockerfile: Dockerfile
---
image: b
context: b
dockerfile: Dockerfile
args:
  VERSION: {{ .Files.Get \"version.txt\" | trim | quote }}
";

fn files(
    werf_yaml: &'static str,
    overrides: &[(&'static str, &'static str)],
) -> Vec<(String, String)> {
    let mut f: BTreeMap<&str, &str> = [
        ("werf.yaml", werf_yaml),
        ("version.txt", "1\n"),
        ("a/Dockerfile", "FROM alpine:3.19\nCOPY src/ /app/\n"),
        ("a/src/main.go", "package main\n"),
        ("a/docs/readme.md", "docs\n"),
        (
            "b/Dockerfile",
            "FROM alpine:3.19\nARG VERSION\nCOPY . /b/\n",
        ),
        ("b/b.txt", "b\n"),
        ("c/Dockerfile", "ARG BASE\nFROM $BASE\nCOPY c.txt /c.txt\n"),
        ("c/c.txt", "c\n"),
        ("d/Dockerfile", "FROM alpine:3.19\nCOPY d.txt /d.txt\n"),
        ("d/d.txt", "d\n"),
        ("docs/guide.md", "guide\n"),
    ]
    .into_iter()
    .collect();
    f.extend(overrides.iter().copied());
    f.into_iter()
        .filter(|(_, c)| !c.is_empty())
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect()
}

struct Walk {
    objects: Arc<MemoryObjects>,
    db: Database,
    project: Project,
    carry: Carry,
    werf_yaml: &'static str,
    /// The changes so far, kept from step to step.
    changed: BTreeMap<&'static str, &'static str>,
}

impl Walk {
    fn new(werf_yaml: &'static str) -> Self {
        let objects = Arc::new(MemoryObjects::new());
        let root = objects.add_files(
            files(werf_yaml, &[])
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_bytes())),
        );
        let db = Database::in_memory(objects.clone()).with_execution_log();
        let project = common::project(&db, root);
        Walk {
            objects,
            db,
            project,
            carry: Carry::default(),
            werf_yaml,
            changed: BTreeMap::new(),
        }
    }

    /// Adds `changes` to those of the steps before (an empty content removes a file), points the
    /// project at the files, asks every digest through the carry, and checks them against a
    /// graph that never saw another tree. Returns the images whose stages were planned again
    /// (`image_stages` ran), sorted, and the stats of this step.
    fn step(&mut self, changes: &[(&'static str, &'static str)]) -> (Vec<String>, CarryStats) {
        self.changed.extend(changes.iter().copied());
        let changed: Vec<_> = self.changed.iter().map(|(p, c)| (*p, *c)).collect();
        let files = files(self.werf_yaml, &changed);
        let root = self
            .objects
            .add_files(files.iter().map(|(p, c)| (p.as_str(), c.as_bytes())));
        self.project.set_root_tree(&mut self.db).to(root);
        self.db.take_execution_log();
        let before = self.carry.stats;
        let carried = self.carry.digests(&self.db, self.project);
        let mut ran: Vec<String> = self
            .db
            .take_execution_log()
            .into_iter()
            .filter_map(|l| {
                l.strip_prefix("image_stages(")
                    .map(|n| n.trim_end_matches(')').to_string())
            })
            .collect();
        ran.sort();
        let fresh_db = Database::in_memory(self.objects.clone());
        let fresh = digests_all(&fresh_db, common::project(&fresh_db, root));
        assert_eq!(carried, fresh, "the carried digests are the fresh ones");
        let stats = CarryStats {
            asked: self.carry.stats.asked - before.asked,
            carried: self.carry.stats.carried - before.carried,
        };
        (ran, stats)
    }

    fn tags(&mut self) -> BTreeMap<String, String> {
        self.carry
            .digests(&self.db, self.project)
            .expect("config")
            .into_iter()
            .map(|(n, d)| (n, d.expect("digest").tag()))
            .collect()
    }
}

fn stats(asked: usize, carried: usize) -> CarryStats {
    CarryStats { asked, carried }
}

#[test]
fn only_the_images_whose_reads_a_change_touches_are_asked_again() {
    let mut w = Walk::new(WERF_YAML);
    let (ran, s) = w.step(&[]);
    assert_eq!(ran, ["a", "b", "c", "d"]);
    assert_eq!(s, stats(4, 0));
    let first = w.tags();

    // A file of `b`'s context: `b` is asked, the rest carried over.
    let (ran, s) = w.step(&[("b/b.txt", "b2\n")]);
    assert_eq!(ran, ["b"]);
    assert_eq!(s, stats(1, 3));
    let second = w.tags();
    assert_ne!(second["b"], first["b"]);
    assert_eq!(second["a"], first["a"]);

    // A file of `a`'s context that `a` does not copy: `a` and `c` (which reads `a`'s digest)
    // are asked; no stage is planned again and the tags stay.
    let (ran, s) = w.step(&[("a/docs/readme.md", "more\n")]);
    assert_eq!(s, stats(2, 2));
    assert!(ran.is_empty(), "a's stages were cut off early: {ran:?}");
    assert_eq!(w.tags(), second);

    // Files no image reads (an unrelated folder, a new root file): nothing is asked.
    let (ran, s) = w.step(&[("docs/guide.md", "guide 2\n"), ("NEW.md", "new\n")]);
    assert_eq!((ran.len(), s), (0, stats(0, 4)));

    // `c`'s base image changes: `a` and `c` are planned again.
    let (ran, s) = w.step(&[("a/src/main.go", "package main // 2\n")]);
    assert_eq!(ran, ["a", "c"]);
    assert_eq!(s, stats(2, 2));

    // A file removed from `d`'s context, then put back: `d` both times.
    let (ran, s) = w.step(&[("d/d.txt", "")]);
    assert_eq!((ran, s), (vec!["d".to_string()], stats(1, 3)));
    let (ran, s) = w.step(&[("d/d.txt", "d\n")]);
    assert_eq!((ran, s), (vec!["d".to_string()], stats(1, 3)));
}

#[test]
fn a_new_werf_yaml_asks_every_image() {
    let mut w = Walk::new(WERF_YAML);
    w.step(&[]);
    let (_, s) = w.step(&[(
        "werf.yaml",
        "project: demo\nconfigVersion: 1\n---\nimage: a\ncontext: a\ndockerfile: Dockerfile\n",
    )]);
    assert_eq!(s, stats(1, 0));
    // And back: every image again (the config is not the last tree's).
    let (_, s) = w.step(&[("werf.yaml", WERF_YAML)]);
    assert_eq!(s, stats(4, 0));
}

#[test]
fn a_file_a_templated_werf_yaml_reads_asks_every_image_and_no_other_file_does() {
    let mut w = Walk::new(TEMPLATED);
    let (_, s) = w.step(&[]);
    assert_eq!(s, stats(2, 0));
    let first = w.tags();
    let (ran, s) = w.step(&[("version.txt", "2\n")]);
    assert_eq!(s, stats(2, 0));
    assert_eq!(ran, ["b"]);
    assert_ne!(w.tags()["b"], first["b"]);
    // A file werf.yaml does not read: the config is the same, nothing is asked.
    let (ran, s) = w.step(&[("docs/guide.md", "guide 2\n")]);
    assert_eq!((ran.len(), s), (0, stats(0, 2)));
}

#[test]
fn an_image_at_the_root_reads_the_paths_it_copies_and_one_copying_everything_reads_all() {
    const ROOT: &str = "project: demo
configVersion: 1
---
image: a
context: a
dockerfile: Dockerfile
---
image: r
dockerfile: d/Dockerfile
---
image: all
dockerfile: b/Dockerfile
";
    let mut w = Walk::new(ROOT);
    w.step(&[]);
    // `all` copies `.`: every new tree asks it; `r` copies `d.txt` only.
    let (ran, s) = w.step(&[("docs/guide.md", "guide 2\n")]);
    assert_eq!((ran, s), (vec!["all".to_string()], stats(1, 2)));
    let (ran, s) = w.step(&[("d.txt", "at the root\n")]);
    assert_eq!(s, stats(2, 1));
    assert_eq!(ran, ["all", "r"], "r's COPY d.txt now matches a file");
    // `r`'s Dockerfile is read by path too.
    let (ran, s) = w.step(&[("d/Dockerfile", "FROM alpine:3.20\nCOPY d.txt /d.txt\n")]);
    assert_eq!(
        (ran, s),
        (vec!["all".to_string(), "r".to_string()], stats(2, 1))
    );
}

#[test]
fn a_broken_werf_yaml_fails_and_the_next_tree_asks_every_image() {
    let mut w = Walk::new(WERF_YAML);
    w.step(&[]);
    w.step(&[(
        "werf.yaml",
        "project: demo\nconfigVersion: 1\n---\nimage: [\n",
    )]);
    let (_, s) = w.step(&[("werf.yaml", WERF_YAML)]);
    assert_eq!(s, stats(4, 0));
}

#[test]
fn digests_answered_from_a_seed_read_the_whole_tree() {
    let mut w = Walk::new(WERF_YAML);
    // Seeded with the plans of the first tree: the digests come from the seed, not the graph.
    let plans: Vec<_> = werf_graph::plan::plan_all(&w.db, w.project)
        .expect("config")
        .into_iter()
        .map(|(n, p)| (n, p.expect("plan")))
        .collect();
    let inputs = *werf_graph::plan::memo::inputs_digest(&w.db, w.project);
    werf_graph::plan::memo::seed(&mut w.db, inputs, &plans);
    let (_, s) = w.step(&[]);
    assert_eq!(s, stats(4, 0));
    // Any new tree asks every image again.
    let (_, s) = w.step(&[("docs/guide.md", "guide 2\n")]);
    assert_eq!(s, stats(4, 0));
    // Without the seed, the next one asks none.
    werf_graph::plan::memo::unseed(&mut w.db);
    w.carry.forget();
    w.step(&[("docs/guide.md", "guide 3\n")]);
    let (_, s) = w.step(&[("docs/guide.md", "guide 4\n")]);
    assert_eq!(s, stats(0, 4));
}

#[test]
fn forget_asks_every_image_on_the_next_tree() {
    let mut w = Walk::new(WERF_YAML);
    w.step(&[]);
    w.carry.forget();
    let (_, s) = w.step(&[("docs/guide.md", "guide 2\n")]);
    assert_eq!(s, stats(4, 0));
}

#[test]
fn a_random_history_of_edits_carries_exactly_the_digests_a_fresh_graph_computes() {
    const ROOT_IMAGES: &str = "project: demo
configVersion: 1
---
image: a
context: a
dockerfile: Dockerfile
---
image: r
dockerfile: d/Dockerfile
---
image: s
dockerfile: s/Dockerfile
---
image: t
context: .
dockerfile: t/Dockerfile
dependencies:
- image: s
  imports:
  - type: ImageName
    targetBuildArg: BASE
";
    // Each path with the contents it may take ("" removes it).
    let choices: &[(&'static str, &[&'static str])] = &[
        ("werf.yaml", &[WERF_YAML, TEMPLATED, ROOT_IMAGES]),
        (
            "a/Dockerfile",
            &[
                "FROM alpine:3.19\nCOPY src/ /app/\n",
                "FROM alpine:3.20\nCOPY src/ /app/\n",
                "FROM alpine:3.19\nCOPY . /app/\n",
            ],
        ),
        (
            "a/src/main.go",
            &["package main\n", "package main // 2\n", ""],
        ),
        ("a/.dockerignore", &["", "docs\n", "src/main.go\n"]),
        ("a/docs/readme.md", &["docs\n", "more\n", ""]),
        ("b/b.txt", &["b\n", "b2\n"]),
        ("c/c.txt", &["c\n", "c2\n"]),
        ("d/d.txt", &["d\n", ""]),
        ("d.txt", &["", "root\n", "root 2\n"]),
        ("docs/guide.md", &["guide\n", "guide 2\n"]),
        ("version.txt", &["1\n", "2\n"]),
        (
            "s/Dockerfile",
            &[
                "FROM alpine:3.19\nCOPY shared/ /shared/\n",
                "FROM alpine:3.19\nCOPY shared/*.txt /shared/\n",
            ],
        ),
        ("shared/one.txt", &["1\n", "one\n", ""]),
        ("shared/two.md", &["2\n", "two\n"]),
        ("t/Dockerfile", &["ARG BASE\nFROM $BASE\nCOPY d.txt /d\n"]),
    ];
    let mut w = Walk::new(WERF_YAML);
    w.step(&[
        ("s/Dockerfile", choices[11].1[0]),
        ("shared/one.txt", "1\n"),
        ("shared/two.md", "2\n"),
        ("t/Dockerfile", choices[14].1[0]),
    ]);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let (mut asked, mut carried) = (0, 0);
    for _ in 0..120 {
        let edits: Vec<(&'static str, &'static str)> = (0..1 + next(2))
            .map(|_| {
                let (path, contents) = choices[next(choices.len())];
                (path, contents[next(contents.len())])
            })
            .collect();
        // `step` checks every digest against a fresh graph.
        let (_, s) = w.step(&edits);
        asked += s.asked;
        carried += s.carried;
    }
    assert!(
        asked > 50 && carried > 50,
        "asked {asked}, carried {carried}"
    );
}

#[test]
fn in_a_project_folder_an_image_at_the_project_root_reads_only_what_it_looks_up() {
    const IN_APP: &str = "project: demo
configVersion: 1
---
image: r
dockerfile: d/Dockerfile
---
image: all
dockerfile: b/Dockerfile
";
    let objects = Arc::new(MemoryObjects::new());
    let tree = |extra: &[(&str, &str)]| {
        let mut files = vec![
            ("app/werf.yaml", IN_APP),
            ("app/d/Dockerfile", "FROM alpine:3.19\nCOPY d.txt /d.txt\n"),
            ("app/d.txt", "d\n"),
            ("app/b/Dockerfile", "FROM alpine:3.19\nCOPY . /all/\n"),
            ("app/docs/guide.md", "guide\n"),
            ("other/x", "x\n"),
        ];
        files.retain(|(p, _)| !extra.iter().any(|(q, _)| q == p));
        files.extend(extra.iter().filter(|(_, c)| !c.is_empty()));
        objects.add_files(files.iter().map(|(p, c)| (*p, c.as_bytes())))
    };
    let mut db = Database::in_memory(objects.clone());
    let project = common::project_in(&db, tree(&[]), "app");
    let mut carry = Carry::default();
    let mut step = |extra: &[(&str, &str)]| {
        let root = tree(extra);
        project.set_root_tree(&mut db).to(root);
        let before = carry.stats;
        let carried = carry.digests(&db, project);
        let fresh_db = Database::in_memory(objects.clone());
        let fresh_project = common::project_in(&fresh_db, root, "app");
        assert_eq!(carried, digests_all(&fresh_db, fresh_project));
        stats(
            carry.stats.asked - before.asked,
            carry.stats.carried - before.carried,
        )
    };
    assert_eq!(step(&[]), stats(2, 0));
    // Outside the project: nothing. Inside, elsewhere: only the image copying `.`.
    assert_eq!(step(&[("other/x", "x2\n")]), stats(0, 2));
    assert_eq!(step(&[("app/docs/guide.md", "guide 2\n")]), stats(1, 1));
    // What `r` copies, and its Dockerfile: `r` too.
    assert_eq!(step(&[("app/d.txt", "d2\n")]), stats(2, 0));
    assert_eq!(
        step(&[("app/d/Dockerfile", "FROM alpine:3.20\nCOPY d.txt /d.txt\n")]),
        stats(2, 0)
    );
}
