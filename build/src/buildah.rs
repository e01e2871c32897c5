//! The external backend for images with `RUN`: buildah (vfs storage, chroot isolation), fed a
//! build context materialised from Git (after `.dockerignore`), pushing straight to the registry.
//! Unlike the native builder its layers are not guaranteed reproducible (`--timestamp 0` helps).

use std::path::{Path, PathBuf};
use std::process::Command;

use werf_graph::objects::EntryKind;
use werf_graph::plan::ImagePlan;
use werf_graph::ObjectSource;

/// Errors of the buildah backend, with buildah's own output.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("buildah is not installed (apt-get install buildah): {0}")]
    Missing(String),
    #[error("`buildah {step}` failed ({status}):\n{output}")]
    Failed {
        step: String,
        status: String,
        output: String,
    },
    #[error("materialising the build context: {0}")]
    Context(String),
    #[error(transparent)]
    Secret(#[from] super::secrets::Error),
}

/// Where buildah keeps its storage (under the werf-rs home, not the system's).
pub struct Buildah {
    pub root: PathBuf,
}

impl Buildah {
    fn command(&self) -> Command {
        let mut c = Command::new("buildah");
        // Credentials are passed with `--authfile` when there are any; buildah must not fail on
        // a `DOCKER_CONFIG` folder without a config.
        c.env_remove("DOCKER_CONFIG");
        c.arg("--storage-driver")
            .arg("vfs")
            .arg("--root")
            .arg(self.root.join("root"))
            .arg("--runroot")
            .arg(self.root.join("run"));
        c
    }

    fn run(&self, step: &str, mut cmd: Command) -> Result<String, Error> {
        let out = cmd.output().map_err(|e| Error::Missing(e.to_string()))?;
        if !out.status.success() {
            let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
            output.push_str(&String::from_utf8_lossy(&out.stderr));
            return Err(Error::Failed {
                step: step.to_string(),
                status: out.status.to_string(),
                output: failure_output(&output),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The part of buildah's output that says what failed: the stage and instruction it was at
/// (buildah's last `STEP` line, and the `FROM ... AS NAME` before it), then what followed.
fn failure_output(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    fn is_step(l: &str) -> bool {
        l.contains("STEP ") && l.contains(": ")
    }
    let Some(last) = lines.iter().rposition(|l| is_step(l)) else {
        let tail: Vec<&str> = lines.iter().rev().take(15).rev().copied().collect();
        return tail.join("\n");
    };
    let stage = lines[..=last]
        .iter()
        .rev()
        .filter(|l| is_step(l))
        .find_map(|l| {
            l.rsplit_once(" AS ")
                .map(|(_, name)| name.trim().to_string())
        });
    let step = lines[last]
        .split_once(": ")
        .map(|(_, s)| s)
        .unwrap_or(lines[last]);
    let mut out = match stage {
        Some(name) => format!("in stage `{name}`, at `{step}`:"),
        None => format!("at `{step}`:"),
    };
    let after: Vec<&str> = lines[last + 1..].to_vec();
    let shown = &after[after.len().saturating_sub(15)..];
    for l in shown {
        out.push_str("\n  ");
        out.push_str(l);
    }
    out
}

/// What a buildah build reads.
pub struct Inputs<'a> {
    pub plan: &'a ImagePlan,
    pub objects: &'a dyn ObjectSource,
    pub repo: &'a str,
    pub project: &'a str,
    pub insecure: &'a [String],
    pub build_args: Vec<(String, String)>,
    pub network: Option<String>,
    /// The project folder (relative `mount[].fromPath` folders are below it).
    pub project_dir: &'a Path,
}

/// Writes the context (Git files after `.dockerignore`, plus `contextAddFiles`) into `dir`, a
/// fresh folder: every file is created new (`O_EXCL | O_NOFOLLOW`) below folders made here, so
/// nothing is ever written through a link, inside `dir` or out of it.
fn materialise(inputs: &Inputs<'_>, dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let plan = inputs.plan;
    let ctx = plan.context(inputs.objects);
    let err = |e: String| Error::Context(e);
    for f in ctx.source_files(".").map_err(|e| err(e.to_string()))? {
        let target = dir.join(&f.path);
        // Parents: made here, or folders made here before; never a link.
        let mut parent = dir.to_path_buf();
        let parts: Vec<&str> = f.path.split('/').collect();
        for comp in &parts[..parts.len() - 1] {
            parent.push(comp);
            match std::fs::symlink_metadata(&parent) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(err(format!(
                        "`{}` would be written through `{comp}`, which is not a folder",
                        f.path
                    )))
                }
                Err(_) => {
                    std::fs::create_dir(&parent).map_err(|e| err(format!("`{}`: {e}", f.path)))?
                }
            }
        }
        if f.kind == EntryKind::Commit {
            // A submodule: an empty folder, as `git archive` writes it.
            std::fs::create_dir(&target).map_err(|e| err(format!("`{}`: {e}", f.path)))?;
            continue;
        }
        match f.kind {
            EntryKind::Symlink => {
                let data = inputs.objects.blob(f.id).map_err(|e| err(e.to_string()))?;
                std::os::unix::fs::symlink(String::from_utf8_lossy(&data).as_ref(), &target)
                    .map_err(|e| err(format!("`{}`: {e}", f.path)))?
            }
            kind => {
                let mode = super::native::mode_of(kind);
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc_o_nofollow())
                    .mode(mode)
                    .open(&target)
                    .map_err(|e| err(format!("`{}`: {e}", f.path)))?;
                let mut data = inputs
                    .objects
                    .blob_reader(f.id)
                    .map_err(|e| err(e.to_string()))?;
                std::io::copy(&mut data, &mut file)
                    .map_err(|e| err(format!("`{}`: {e}", f.path)))?;
                // The umask may have narrowed the mode; set it on the open file, not a path.
                file.set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(|e| err(format!("`{}`: {e}", f.path)))?;
            }
        }
    }
    Ok(())
}

/// `O_NOFOLLOW` as the `open` flag bits.
fn libc_o_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

impl Buildah {
    /// Builds the image with buildah and pushes it as `repo:tag`; returns the manifest digest.
    pub fn build_and_push(&self, inputs: &Inputs<'_>) -> Result<String, Error> {
        let plan = inputs.plan;
        let work = tempfile::tempdir().map_err(|e| Error::Context(e.to_string()))?;
        let ctx_dir = work.path().join("context");
        std::fs::create_dir_all(&ctx_dir).map_err(|e| Error::Context(e.to_string()))?;
        materialise(inputs, &ctx_dir)?;
        let dockerfile = work.path().join("Dockerfile");
        let text = inputs
            .objects
            .blob(plan.sources.dockerfile_blob)
            .map_err(|e| Error::Context(e.to_string()))?;
        std::fs::write(&dockerfile, &text[..]).map_err(|e| Error::Context(e.to_string()))?;

        let local = format!(
            "localhost/werf-rs/{}:{}",
            plan.name.replace('/', "-"),
            plan.tag
        );
        let insecure_for = |reference: &str| {
            inputs
                .insecure
                .iter()
                .any(|h| reference.starts_with(h.as_str()))
        };
        let mut bud = self.command();
        bud.arg("bud")
            .arg("--isolation")
            .arg("chroot")
            .arg("--network")
            .arg(inputs.network.as_deref().unwrap_or("host"))
            .arg("--timestamp")
            .arg("0")
            .arg("--layers=false")
            // The native builder writes no history; an image with history for only some of its
            // layers cannot be a base for buildah again (a Stapel stage over another stage).
            .arg("--omit-history")
            .arg("-f")
            .arg(&dockerfile)
            .arg("-t")
            .arg(&local);
        if let Some(t) = &plan.dockerfile.stages[plan.target].name {
            bud.arg("--target").arg(t);
        }
        for (k, v) in &inputs.build_args {
            bud.arg("--build-arg").arg(format!("{k}={v}"));
        }
        // werf.yaml `secrets`, as files only this user reads, in the work folder removed after
        // the build.
        let secrets = super::secrets::read(&plan.secrets, inputs.project_dir)?;
        if !secrets.is_empty() {
            let dir = work.path().join("secrets");
            std::fs::create_dir(&dir).map_err(|e| Error::Context(e.to_string()))?;
            for (k, (id, value)) in secrets.iter().enumerate() {
                use std::os::unix::fs::OpenOptionsExt;
                let path = dir.join(k.to_string());
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|e| Error::Context(e.to_string()))?;
                std::io::Write::write_all(&mut f, &value.0)
                    .map_err(|e| Error::Context(e.to_string()))?;
                bud.arg("--secret")
                    .arg(format!("id={id},src={}", path.display()));
                // buildah 1.28 mounts an empty file for a secret whose id also names one of its
                // environment variables (an `env` secret's, typically), whatever `src` says.
                bud.env_remove(id);
            }
        }
        // werf.yaml `ssh`: the agent `RUN --mount=type=ssh` reaches (`default` is
        // `SSH_AUTH_SOCK`'s), passed to buildah as werf passes it.
        if let Some(ssh) = &plan.ssh {
            bud.arg("--ssh").arg(ssh);
        }
        for (from, to) in &plan.host_mounts {
            // A Stapel `mount[].fromPath`: the folder of this machine, for every `RUN`.
            let host = inputs.project_dir.join(from);
            bud.arg("--volume").arg(format!("{}:{to}", host.display()));
        }
        for (k, v) in [
            ("werf", inputs.project.to_string()),
            ("werf.io/image", plan.name.clone()),
            ("werf.io/stage-digest", plan.digest.hex()),
        ] {
            bud.arg("--label").arg(format!("{k}={v}"));
        }
        if !inputs.insecure.is_empty() {
            bud.arg("--tls-verify=false");
        }
        if let Some(auth) = authfile() {
            bud.arg("--authfile").arg(auth);
        }
        bud.arg(&ctx_dir);
        self.run("bud", bud)?;

        let digest_file = work.path().join("digest");
        let mut push = self.command();
        let destination = format!("docker://{}:{}", inputs.repo, plan.tag);
        push.arg("push").arg("--digestfile").arg(&digest_file);
        if insecure_for(inputs.repo) {
            push.arg("--tls-verify=false");
        }
        if let Some(auth) = authfile() {
            push.arg("--authfile").arg(auth);
        }
        push.arg(&local).arg(&destination);
        let pushed = self.run("push", push);
        let mut rmi = self.command();
        rmi.arg("rmi").arg(&local);
        let _ = self.run("rmi", rmi);
        pushed?;
        std::fs::read_to_string(&digest_file)
            .map(|d| d.trim().to_string())
            .map_err(|e| Error::Context(format!("buildah wrote no digest: {e}")))
    }
}

/// The Docker config with registry credentials, when there is one (buildah reads the same format).
fn authfile() -> Option<PathBuf> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
    let f = dir.join("config.json");
    f.exists().then_some(f)
}

#[cfg(test)]
mod failure_tests {
    #[test]
    fn the_failing_stage_and_step_are_named() {
        let out = "[1/3] STEP 1/1: FROM x AS from\n[2/3] STEP 1/2: FROM from AS install\n[2/3] STEP 2/2: RUN [\"/bin/sh\",\"-ec\",\"cat /nope\"]\ncat: can't open '/nope'\nsubprocess exited with status 1\n";
        assert_eq!(
            super::failure_output(out),
            "in stage `install`, at `RUN [\"/bin/sh\",\"-ec\",\"cat /nope\"]`:\n  cat: can't open '/nope'\n  subprocess exited with status 1"
        );
    }
}
