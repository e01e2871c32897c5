//! The synthetic monorepo of DESIGN.md section 7, as a real Git repository.
//!
//! `images` services under `services/`, each with a Dockerfile and source files; `shared/` folders
//! that many images COPY (images with the repository root as context); base images other images
//! depend on through `dependencies` + `FROM ${BASE}`; `.dockerignore` files in some contexts; a
//! chart with a Deployment and a Service per image; one `package.json` per service so other
//! tools (turbo) can plan the same repository. Everything is derived from the options: the same
//! options give the same files and, with fixed dates, the same commit.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// What to generate.
#[derive(Clone, Debug)]
pub struct Options {
    pub images: usize,
    pub files: usize,
    pub shared: usize,
    pub bases: usize,
    /// Only instructions the native builder runs (no `RUN`, no external bases), so every image
    /// can be built and pushed here.
    pub buildable: bool,
    /// Services that neither use shared folders nor a base image are Stapel images (a git
    /// mapping with `stageDependencies.install` on the service's `package.json` and an install
    /// command: not buildable natively).
    pub stapel: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            images: 1000,
            files: 100_000,
            shared: 40,
            bases: 10,
            buildable: false,
            stapel: false,
        }
    }
}

/// What the generator made, so benches can check exact answers.
#[derive(Debug, Default)]
pub struct Layout {
    /// Image names in werf.yaml order.
    pub images: Vec<String>,
    /// Shared folder -> images that COPY it.
    pub shared_users: BTreeMap<String, BTreeSet<String>>,
    /// Base image -> images depending on it.
    pub base_users: BTreeMap<String, BTreeSet<String>>,
    /// One source file of each image (repository-relative).
    pub a_source_file: BTreeMap<String, String>,
    /// One file of each shared folder.
    pub a_shared_file: BTreeMap<String, String>,
    pub files_written: usize,
}

fn image_name(i: usize) -> String {
    format!("svc-{i:04}")
}

/// A tiny deterministic PRNG (xorshift), so layouts are reproducible without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn write(root: &Path, rel: &str, content: &str, count: &mut usize) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("files have a parent")).expect("mkdir");
    std::fs::write(p, content).expect("write");
    *count += 1;
}

/// Writes the monorepo into `root` (an empty folder) and commits it.
pub fn generate(root: &Path, o: &Options) -> Layout {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut layout = Layout::default();
    let mut n = 0usize;
    let shared_files = o.files / 10;
    let per_shared = (shared_files / o.shared.max(1)).max(1);
    for s in 0..o.shared {
        let dir = format!("shared/lib-{s:02}");
        for f in 0..per_shared {
            let rel = format!("{dir}/m{}/f{f:04}.txt", f % 8);
            write(root, &rel, &format!("shared {s} file {f}\n"), &mut n);
            layout.a_shared_file.entry(dir.clone()).or_insert(rel);
        }
        layout.shared_users.insert(dir, BTreeSet::new());
    }
    // Files per image: what is left after shared folders and per-image fixed files.
    let fixed_per_image = 4; // Dockerfile, package.json, chart template, maybe .dockerignore
    let per_image = ((o.files.saturating_sub(n)) / o.images.max(1))
        .saturating_sub(fixed_per_image)
        .max(1);

    let mut yaml = String::from("project: mono\nconfigVersion: 1\n");
    let mut chart = String::new();
    for i in 0..o.images {
        let name = image_name(i);
        let dir = format!("services/{name}");
        let is_base = i < o.bases;
        // Files: nested folders, a few files each.
        for f in 0..per_image {
            let rel = format!("{dir}/src/d{}/e{}/file{f:04}.go", f % 7, f % 3);
            write(root, &rel, &format!("package p{i} // file {f}\n"), &mut n);
            layout.a_source_file.entry(name.clone()).or_insert(rel);
        }
        write(root, &format!("{dir}/package.json"), &format!("{{\"name\": \"{name}\", \"version\": \"1.0.0\", \"scripts\": {{\"build\": \"echo build {name}\"}}}}\n"), &mut n);
        let uses_shared = !is_base && i % 3 == 0;
        let mut dockerfile = String::new();
        let mut entry = format!("---\nimage: {name}\n");
        if uses_shared {
            // Root context: the service and one or two shared folders, via a build stage.
            let a = rng.below(o.shared.max(1));
            let b = rng.below(o.shared.max(1));
            let libs: BTreeSet<usize> = [a, b].into_iter().collect();
            let _ = writeln!(entry, "context: .\ndockerfile: {dir}/Dockerfile");
            let builder = if o.buildable {
                "scratch"
            } else {
                "golang:1.22"
            };
            let _ = writeln!(dockerfile, "FROM {builder} AS build\nWORKDIR /src");
            for l in &libs {
                let lib = format!("shared/lib-{l:02}");
                let _ = writeln!(dockerfile, "COPY {lib}/ /src/{lib}/");
                layout
                    .shared_users
                    .get_mut(&lib)
                    .expect("lib exists")
                    .insert(name.clone());
            }
            if o.buildable {
                let _ = writeln!(dockerfile, "COPY {dir}/src/ /src/app/\n\nFROM scratch\nCOPY --from=build /src/ /srv/\nENTRYPOINT [\"/srv/app/run\"]");
            } else {
                let _ = writeln!(dockerfile, "COPY {dir}/src/ /src/app/\nRUN go build -o /out/app ./app\n\nFROM alpine:3.19\nCOPY --from=build /out/app /usr/local/bin/app\nENTRYPOINT [\"/usr/local/bin/app\"]");
            }
        } else if o.stapel && !is_base && !(o.bases > 0 && i % 5 == 1) {
            let from = if o.buildable {
                "scratch"
            } else {
                "alpine:3.19"
            };
            entry = format!("---\nimage: {name}\nfrom: {from}\ngit:\n- add: /{dir}\n  to: /app\n  excludePaths: ['**/*.md', tmp]\n  stageDependencies:\n    install: [package.json]\n");
            // The install stage depends on the manifest only; the plan rows never run it.
            entry.push_str("shell:\n  install: [cd /app && npm ci]\n");
            let _ = writeln!(
                entry,
                "docker:\n  WORKDIR: /app\n  ENV:\n    APP: {name}\n  CMD: [/app/run]"
            );
        } else {
            let _ = writeln!(entry, "context: {dir}\ndockerfile: Dockerfile");
            let base =
                (!is_base && o.bases > 0 && i % 5 == 1).then(|| image_name(rng.below(o.bases)));
            match &base {
                Some(b) => {
                    let _ = writeln!(entry, "dependencies:\n- image: {b}\n  imports:\n  - type: ImageName\n    targetBuildArg: BASE_IMAGE");
                    let _ = writeln!(dockerfile, "ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}");
                    layout
                        .base_users
                        .entry(b.clone())
                        .or_default()
                        .insert(name.clone());
                }
                None => {
                    let _ = writeln!(
                        dockerfile,
                        "FROM {}",
                        if o.buildable {
                            "scratch"
                        } else {
                            "alpine:3.19"
                        }
                    );
                }
            }
            let _ = writeln!(dockerfile, "ARG VERSION=1.0\nENV APP={name} VERSION=$VERSION\nWORKDIR /app\nCOPY src/ /app/src/\nCOPY package.json /app/\nCMD [\"/app/run\"]");
            if i % 2 == 0 {
                write(
                    root,
                    &format!("{dir}/.dockerignore"),
                    "**/*.md\ntmp/\n",
                    &mut n,
                );
            }
        }
        if !dockerfile.is_empty() {
            write(root, &format!("{dir}/Dockerfile"), &dockerfile, &mut n);
        }
        yaml.push_str(&entry);
        let _ = writeln!(chart, "{name}");
        write(
            root,
            &format!(".helm/templates/{name}.yaml"),
            &format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: app\n        image: {{{{ index .Values.werf.image \"{name}\" }}}}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector: {{app: {name}}}\n  ports:\n  - port: 80\n    protocol: TCP\n"),
            &mut n,
        );
        layout.images.push(name);
    }
    write(root, "werf.yaml", &yaml, &mut n);
    write(
        root,
        ".helm/Chart.yaml",
        "apiVersion: v2\nname: mono\nversion: 1.0.0\n",
        &mut n,
    );
    write(root, "package.json", "{\"name\": \"mono\", \"private\": true, \"workspaces\": [\"services/*\"], \"packageManager\": \"npm@10.0.0\"}\n", &mut n);
    write(root, "turbo.json", "{\"$schema\": \"https://turbo.build/schema.json\", \"tasks\": {\"build\": {\"outputs\": []}}}\n", &mut n);
    write(root, "README.md", "# synthetic monorepo\n", &mut n);
    // What turbo writes when it plans the same repository stays out of Git.
    write(root, ".gitignore", ".turbo/\nnode_modules/\n", &mut n);
    layout.files_written = n;

    git(root, &["init", "-q", "-b", "main"]);
    // No background gc while benches measure; pack once now, as a clone would be packed.
    git(root, &["config", "gc.auto", "0"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "synthetic monorepo"]);
    git(root, &["gc", "-q"]);
    layout
}

/// Runs git in `root` with a fixed identity and date.
pub fn git(root: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(root)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@werf.invalid")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@werf.invalid")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The bench's own arguments (cargo adds `--bench`).
pub fn bench_args() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect()
}

/// Parses `--images N --files N --shared N --bases N --buildable` from `args` (others are left alone).
pub fn parse_options(args: &[String]) -> Options {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("`{name}` needs a number"))
        };
        match a.as_str() {
            "--images" => o.images = num("--images"),
            "--files" => o.files = num("--files"),
            "--shared" => o.shared = num("--shared"),
            "--bases" => o.bases = num("--bases"),
            "--buildable" => o.buildable = true,
            "--stapel" => o.stapel = true,
            _ => {}
        }
    }
    o
}
