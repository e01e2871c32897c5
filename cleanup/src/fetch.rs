//! The whole history before a cleanup: a CI clone is often shallow, or holds only the branch
//! it builds, and a cleanup that walked only that would delete every other branch's images.
//! As werf does (`gitWorktree.allowFetchOriginBranchesAndTags`, `allowUnshallow`, both on by
//! default), `origin`'s branches and tags are fetched, and a shallow clone unshallowed; where
//! that is not allowed, or fails, the cleanup stops before deleting anything.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Error;

/// What werf.yaml's `gitWorktree` allows.
#[derive(Clone, Copy, Debug)]
pub struct Allowed {
    pub fetch: bool,
    pub unshallow: bool,
}

/// How long one `git fetch` may take.
const FETCH_LIMIT: Duration = Duration::from_secs(600);

/// Makes the clone at `workdir` whole, or says why it cannot be; `true` when references or
/// history changed (the caller opens the repository again).
pub fn complete(workdir: &Path, allowed: Allowed) -> Result<bool, Error> {
    let shallow = git(workdir, &["rev-parse", "--is-shallow-repository"])? == "true";
    let has_origin = git(workdir, &["remote"])?.lines().any(|r| r == "origin");
    if !has_origin {
        // A local repository: its own references are its whole history, unless it is shallow.
        return if shallow {
            Err(partial(
                "the clone is shallow and has no `origin` to fetch its history from",
            ))
        } else {
            Ok(false)
        };
    }
    if shallow && !allowed.unshallow {
        return Err(partial(
            "the clone is shallow and `gitWorktree.allowUnshallow` is false",
        ));
    }
    let before = fingerprint(workdir)?;
    let mut args = vec!["fetch", "--quiet", "--no-recurse-submodules"];
    if shallow {
        args.push("--unshallow");
    }
    if allowed.fetch {
        // Every branch (a branch deleted in `origin` leaves), every tag (fetched with `--tags`,
        // so a local tag is never pruned).
        args.extend([
            "--prune",
            "--tags",
            "origin",
            "+refs/heads/*:refs/remotes/origin/*",
        ]);
    } else {
        // Fetching branches is not allowed: the clone must already track every one.
        let specs =
            git(workdir, &["config", "--get-all", "remote.origin.fetch"]).unwrap_or_default();
        if !specs.lines().any(|s| s.contains("refs/heads/*")) {
            return Err(partial(
                "the clone tracks only some of `origin`'s branches (a single-branch clone) and `gitWorktree.allowFetchOriginBranchesAndTags` is false",
            ));
        }
        if !shallow {
            return Ok(false);
        }
        args.push("origin");
    }
    run(workdir, &args).map_err(|message| {
        partial(&format!(
            "fetching `origin`'s branches and tags failed: {message}"
        ))
    })?;
    Ok(fingerprint(workdir)? != before)
}

fn partial(why: &str) -> Error {
    Error::Git {
        what: "the history cleanup walks".into(),
        message: format!(
            "{why}: a cleanup never deletes on a partial view of the history (fetch it: `git fetch --tags origin '+refs/heads/*:refs/remotes/origin/*'`, with `--unshallow` in a shallow clone; or set `cleanup.disableGitHistoryBasedPolicy: true`)"
        ),
    }
}

/// What a fetch changes: the remote branches, the tags and the shallow boundary.
fn fingerprint(workdir: &Path) -> Result<String, Error> {
    let refs = git(
        workdir,
        &[
            "for-each-ref",
            "--format=%(objectname) %(refname)",
            "refs/remotes/origin",
            "refs/tags",
        ],
    )?;
    let shallow = git(workdir, &["rev-parse", "--is-shallow-repository"])?;
    Ok(format!("{refs}\n{shallow}"))
}

/// `git ARGS` in `workdir`: its trimmed standard output.
fn git(workdir: &Path, args: &[&str]) -> Result<String, Error> {
    run(workdir, args).map_err(|e| Error::Git {
        what: format!("`git {}`", args.join(" ")),
        message: e.to_string(),
    })
}

/// Why a git command gave no output.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("cannot run git: {0}")]
    Spawn(std::io::Error),
    #[error("{0}")]
    Wait(std::io::Error),
    #[error("no answer within {} s", .0.as_secs())]
    Timeout(Duration),
    /// Git's standard error, its URLs redacted.
    #[error("{0}")]
    Failed(String),
}

/// Runs git without a prompt, bounded by [`FETCH_LIMIT`]; the error is its standard error.
fn run(workdir: &Path, args: &[&str]) -> Result<String, RunError> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(workdir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(RunError::Spawn)?;
    let deadline = Instant::now() + FETCH_LIMIT;
    let status = loop {
        match child.try_wait().map_err(RunError::Wait)? {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::Timeout(FETCH_LIMIT));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let out = child.wait_with_output().map_err(RunError::Wait)?;
    if status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(RunError::Failed(werf_base::redact::urls(err.trim())))
    }
}
