//! Test support: Git repositories made with the real `git`, and runs of the real `werf` binary.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use tempfile::TempDir;

/// A Git repository in a temp folder with deterministic commit ids.
pub struct Repo {
    pub dir: TempDir,
    pub home: TempDir,
    commits: u32,
}

impl Repo {
    /// A new repository holding `files`, committed once.
    pub fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repo {
            dir,
            home: tempfile::tempdir().expect("tempdir"),
            commits: 0,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write(files);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs git with fixed identity and dates; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args, self.commits)
    }

    /// Writes files (a `*` suffix on the path makes it executable).
    pub fn write(&self, files: &[(&str, &str)]) {
        for (path, content) in files {
            let (path, exec) = match path.strip_suffix('*') {
                Some(p) => (p, true),
                None => (*path, false),
            };
            let abs = self.path().join(path);
            std::fs::create_dir_all(abs.parent().expect("has parent")).expect("mkdir");
            std::fs::write(&abs, content).expect("write");
            if exec {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&abs, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod");
            }
        }
    }

    /// Stages everything and commits.
    pub fn commit(&mut self, message: &str) {
        self.git(&["add", "-A"]);
        self.commits += 1;
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    /// Runs `werf ARGS` in the repository with its own cache home.
    pub fn werf(&self, args: &[&str]) -> Output {
        werf_in(self.path(), self.home.path(), args)
    }

    /// Like [`Repo::werf`] with extra environment variables.
    pub fn werf_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = werf_cmd(self.path(), self.home.path(), args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        no_panic(cmd.output().expect("werf runs"))
    }

    /// Clones the repository into a nested folder of a new temp dir (kept alive by the result).
    pub fn clone_elsewhere(&self) -> (TempDir, std::path::PathBuf) {
        let parent = tempfile::tempdir().expect("tempdir");
        let clone = parent.path().join("deep/elsewhere/clone");
        std::fs::create_dir_all(clone.parent().expect("parent")).expect("mkdir");
        let (from, to) = (
            self.path().to_str().expect("utf-8"),
            clone.to_str().expect("utf-8"),
        );
        git_in(parent.path(), &["clone", "-q", from, to], 0);
        (parent, clone)
    }

    /// Image tags from a dry-run build report.
    pub fn tags(&self) -> BTreeMap<String, String> {
        tags_in(self.path(), self.home.path())
    }
}

/// Runs git in `dir` with a fixed identity and dates (so commit ids are deterministic).
pub fn git_in(dir: &Path, args: &[&str], tick: u32) -> String {
    git_dated(dir, args, &format!("2026-01-01T00:{:02}:00Z", tick % 60))
}

/// Runs git in `dir` with a fixed identity and author and committer `date` (any form Git
/// reads); panics on failure and returns stdout.
pub fn git_dated(dir: &Path, args: &[&str], date: &str) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "werf test")
        .env("GIT_AUTHOR_EMAIL", "test@werf.invalid")
        .env("GIT_COMMITTER_NAME", "werf test")
        .env("GIT_COMMITTER_EMAIL", "test@werf.invalid")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs werf in `dir` with cache home `home`.
pub fn werf_in(dir: &Path, home: &Path, args: &[&str]) -> Output {
    no_panic(werf_cmd(dir, home, args).output().expect("werf runs"))
}

/// What the binary prints when it panics (`src/main.rs`); `hostile.rs` proves the text is right.
pub const PANIC_MESSAGE: &str = "internal error (a bug in werf-rs; please report it)";

/// Fails the test on any panic of the binary, whatever the test expected of the run.
pub fn no_panic(out: Output) -> Output {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains(PANIC_MESSAGE) && !stderr.contains("panicked at"),
        "werf panicked: {stderr}"
    );
    out
}

pub fn werf_cmd(dir: &Path, home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_werf"));
    // Every flag is also a `WERF_*` variable: none of the machine's may reach the run (nor
    // `WERF_SECRET_KEY`; `~/.werf/global_secret_key` is under this HOME).
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("WERF_") {
            cmd.env_remove(name);
        }
    }
    cmd.args(args)
        .current_dir(dir)
        .env("WERF_HOME", home)
        .env("DOCKER_CONFIG", home.join("no-docker-config"))
        .env("HOME", home);
    cmd
}

/// Tags from `werf build --dry-run --save-build-report` in `dir`.
pub fn tags_in(dir: &Path, home: &Path) -> BTreeMap<String, String> {
    tags_for(dir, home, None)
}

/// Tags from `werf build --dry-run --save-build-report` in `dir`, with `--repo` when given (so
/// importers' tags follow the import records its last build left).
pub fn tags_for(dir: &Path, home: &Path, repo: Option<&str>) -> BTreeMap<String, String> {
    let report = tempfile::NamedTempFile::new().expect("tempfile");
    let mut args = vec![
        "build",
        "--dry-run",
        "--save-build-report",
        "--build-report-path",
        report.path().to_str().expect("utf-8"),
    ];
    if let Some(repo) = repo {
        args.extend(["--repo", repo]);
    }
    let out = werf_in(dir, home, &args);
    assert!(
        out.status.success(),
        "werf failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.path()).expect("report")).expect("json");
    json["Images"]
        .as_object()
        .expect("Images")
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v["DockerTag"].as_str().expect("DockerTag").to_string(),
            )
        })
        .collect()
}

/// stdout and stderr as text, with temp paths replaced for snapshots.
pub fn text(out: &Output, repo: &Repo) -> (String, String) {
    let clean = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .replace(&repo.path().display().to_string(), "[REPO]")
            .replace(&repo.home.path().display().to_string(), "[HOME]")
    };
    (clean(&out.stdout), clean(&out.stderr))
}

/// The exit code as a snapshot's first line.
pub fn exit_line(out: &Output) -> String {
    match out.status.code() {
        Some(code) => format!("[exit code {code}]"),
        None => "[killed by a signal]".to_string(),
    }
}

/// stdout for a CLI snapshot: the exit code first, then the text (paths filtered).
pub fn snap_out(out: &Output, repo: &Repo) -> String {
    format!("{}\n{}", exit_line(out), text(out, repo).0)
}

/// stderr for a CLI snapshot: the exit code first, then the text (paths filtered).
pub fn snap_err(out: &Output, repo: &Repo) -> String {
    format!("{}\n{}", exit_line(out), text(out, repo).1)
}

/// `werf build --repo REPO` with a build report, `extra` flags and `env`; (exit ok,
/// stdout + stderr with temp paths replaced, the report or `null`).
pub fn build_with_report(
    r: &Repo,
    repo: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, serde_json::Value) {
    build_with_report_in(r, r.home.path(), repo, extra, env)
}

/// [`build_with_report`] with another werf-rs home (another machine's view of the registry).
pub fn build_with_report_in(
    r: &Repo,
    home: &Path,
    repo: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, serde_json::Value) {
    let report = home.join("report.json");
    let _ = std::fs::remove_file(&report);
    let mut args = vec![
        "build",
        "--repo",
        repo,
        "--save-build-report",
        "--build-report-path",
        report.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let mut cmd = werf_cmd(r.path(), home, &args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = no_panic(cmd.output().expect("werf runs"));
    let (o, e) = text(&out, r);
    let json = std::fs::read(&report)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (out.status.success(), format!("{o}{e}"), json)
}

/// Image -> whether the report says it was built (at least one image, or it panics).
pub fn rebuilt_images(report: &serde_json::Value) -> std::collections::BTreeMap<String, bool> {
    let images = report["Images"].as_object().expect("Images");
    assert!(!images.is_empty(), "{report}");
    images
        .iter()
        .map(|(k, v)| (k.clone(), v["Rebuilt"].as_bool().expect("Rebuilt")))
        .collect()
}

/// The index of the first line of `out` whose whitespace-separated words start with `words`
/// (however the columns are padded; a word's trailing comma, which joins clauses, is not part
/// of it).
pub fn line_starting(out: &str, words: &[&str]) -> Option<usize> {
    out.lines().position(|l| starts_with_words(l, words))
}

/// How many lines of `out` start with `words` (as [`line_starting`] reads them).
pub fn count_lines_starting(out: &str, words: &[&str]) -> usize {
    out.lines().filter(|l| starts_with_words(l, words)).count()
}

fn starts_with_words(line: &str, words: &[&str]) -> bool {
    let mut have = line
        .split_whitespace()
        .map(|w| w.strip_suffix(',').unwrap_or(w));
    words.iter().all(|w| have.next() == Some(*w))
}

/// Every file below `dir`, recursively, sorted (none when `dir` does not exist).
pub fn files_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        if e.path().is_dir() {
            out.extend(files_below(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out.sort();
    out
}
