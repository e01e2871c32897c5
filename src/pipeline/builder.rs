//! What builds images with `RUN` when `--backend` is not given: BuildKit in the local Docker
//! daemon (`DOCKER_HOST`, else `/var/run/docker.sock`) when it answers, else buildah when it is
//! installed; `WERF_BUILDAH_MODE` asks for buildah as in werf. Images without `RUN` always build
//! natively. The choice is printed once per process; with nothing to run `RUN`, the error names
//! every way to get something.

use std::sync::atomic::{AtomicBool, Ordering};

/// What a probe of the Docker daemon found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Its BuildKit answered at this address.
    Answered(String),
    /// Nothing usable there, and why.
    Failed(String),
    /// Not asked (`WERF_BUILDAH_MODE` chose buildah).
    NotAsked,
}

/// The runner chosen for images with `RUN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// BuildKit in the Docker daemon at this address.
    DockerBuildkit(String),
    /// buildah (chroot isolation), with `WERF_BUILDAH_MODE` as given.
    Buildah { mode: Option<String> },
    /// Nothing found, and no image is known to need one: the native builder alone (an image
    /// whose plan was pending and turns out to have `RUN` fails naming `--backend`).
    NativeOnly,
}

/// Why no runner could be chosen.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(
        "`WERF_BUILDAH_MODE={0}` is not a buildah mode werf-rs runs (`auto`, `native-chroot`, `native-rootless`; buildah runs on this host with chroot isolation)"
    )]
    Mode(String),
    #[error(
        "`WERF_BUILDAH_MODE={0}` asks for buildah, which is not installed (no `buildah` on `PATH`)"
    )]
    BuildahMissing(String),
    #[error(
        "{images} need{s} a runner for `RUN`, and none is here: the Docker daemon does not answer ({docker}), and `buildah` is not on `PATH`. Start Docker (or point `DOCKER_HOST` at it), install buildah, or pass `--backend buildkit --buildkit-addr ADDR`",
        s = if images.contains(", ") { "" } else { "s" }
    )]
    NoRunner { images: String, docker: String },
}

/// The choice from what was found. `run_images` are the images known to have `RUN`.
pub fn choose(
    buildah_mode: Option<&str>,
    docker: Probe,
    buildah_installed: bool,
    run_images: &[String],
) -> Result<Choice, Error> {
    if let Some(mode) = buildah_mode.filter(|m| !m.is_empty()) {
        if !matches!(mode, "auto" | "native-chroot" | "native-rootless") {
            return Err(Error::Mode(mode.to_string()));
        }
        if !buildah_installed {
            return Err(Error::BuildahMissing(mode.to_string()));
        }
        return Ok(Choice::Buildah {
            mode: Some(mode.to_string()),
        });
    }
    let images = || {
        run_images
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match docker {
        Probe::Answered(address) => Ok(Choice::DockerBuildkit(address)),
        _ if buildah_installed => Ok(Choice::Buildah { mode: None }),
        _ if run_images.is_empty() => Ok(Choice::NativeOnly),
        Probe::Failed(why) => Err(Error::NoRunner {
            images: images(),
            docker: why,
        }),
        Probe::NotAsked => Err(Error::NoRunner {
            images: images(),
            docker: "not asked".into(),
        }),
    }
}

/// The Docker daemon's address for BuildKit: `DOCKER_HOST` when it names a Unix socket (as
/// `docker://unix://PATH`), else the default socket; `Err` says why `DOCKER_HOST` cannot be used.
pub fn docker_address(docker_host: Option<&str>) -> Result<String, String> {
    match docker_host.filter(|h| !h.is_empty()) {
        None => Ok("docker://".to_string()),
        Some(h) if h.starts_with("unix://") => Ok(format!("docker://{h}")),
        Some(h) => Err(format!(
            "`DOCKER_HOST={h}`: werf-rs reaches the Docker daemon's BuildKit over a Unix socket only"
        )),
    }
}

/// The line that says what was chosen.
pub fn describe(choice: &Choice) -> Option<String> {
    match choice {
        Choice::DockerBuildkit(address) => Some(format!(
            "images with `RUN` build with BuildKit in the Docker daemon (`{address}`); `--backend` chooses another"
        )),
        Choice::Buildah { mode: Some(mode) } => Some(format!(
            "images with `RUN` build with buildah (`WERF_BUILDAH_MODE={mode}`, chroot isolation)"
        )),
        Choice::Buildah { mode: None } => Some(
            "images with `RUN` build with buildah (chroot isolation; no Docker daemon answered); `--backend` chooses another"
                .to_string(),
        ),
        Choice::NativeOnly => None,
    }
}

/// Prints `line` the first time only.
pub fn say_once(line: &str) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        crate::printer::line(line);
    }
}

/// Whether an executable `buildah` is on `path` (`PATH`'s value).
pub fn buildah_on(path: Option<&std::ffi::OsStr>) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    let Some(path) = path else { return false };
    std::env::split_paths(path).any(|dir| {
        std::fs::metadata(dir.join("buildah"))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> Vec<String> {
        vec!["api".into(), "worker".into()]
    }

    #[test]
    fn docker_first_then_buildah_then_a_clear_error() {
        let answered = Probe::Answered("docker://".into());
        let failed = Probe::Failed("no socket".into());
        assert_eq!(
            choose(None, answered.clone(), true, &run()),
            Ok(Choice::DockerBuildkit("docker://".into()))
        );
        assert_eq!(
            choose(None, failed.clone(), true, &run()),
            Ok(Choice::Buildah { mode: None })
        );
        assert_eq!(
            choose(None, failed.clone(), false, &[]),
            Ok(Choice::NativeOnly)
        );
        let e = choose(None, failed, false, &run()).expect_err("no runner");
        assert_eq!(
            e.to_string(),
            "`api`, `worker` need a runner for `RUN`, and none is here: the Docker daemon does not answer (no socket), and `buildah` is not on `PATH`. Start Docker (or point `DOCKER_HOST` at it), install buildah, or pass `--backend buildkit --buildkit-addr ADDR`"
        );
    }

    #[test]
    fn werf_buildah_mode_asks_for_buildah() {
        assert_eq!(
            choose(Some("auto"), Probe::NotAsked, true, &run()),
            Ok(Choice::Buildah {
                mode: Some("auto".into())
            })
        );
        assert_eq!(
            choose(Some("native-rootless"), Probe::NotAsked, false, &run()),
            Err(Error::BuildahMissing("native-rootless".into()))
        );
        assert_eq!(
            choose(Some("docker-with-fuse"), Probe::NotAsked, true, &run()),
            Err(Error::Mode("docker-with-fuse".into()))
        );
        // Empty is unset.
        assert_eq!(
            choose(Some(""), Probe::Answered("docker://".into()), true, &run()),
            Ok(Choice::DockerBuildkit("docker://".into()))
        );
    }

    #[test]
    fn docker_host_names_the_socket() {
        assert_eq!(docker_address(None).as_deref(), Ok("docker://"));
        assert_eq!(
            docker_address(Some("unix:///run/user/1/docker.sock")).as_deref(),
            Ok("docker://unix:///run/user/1/docker.sock")
        );
        assert!(docker_address(Some("tcp://10.0.0.1:2376"))
            .expect_err("tcp")
            .contains("Unix socket only"));
    }

    #[test]
    fn buildah_is_found_on_the_path_only_when_executable() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = std::env::join_paths([dir.path()]).expect("path");
        assert!(!buildah_on(Some(&path)));
        let exe = dir.path().join("buildah");
        std::fs::write(&exe, "#!/bin/sh\n").expect("write");
        assert!(!buildah_on(Some(&path)), "not executable");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert!(buildah_on(Some(&path)));
        assert!(!buildah_on(None));
    }
}
