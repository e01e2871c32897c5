//! Test support: a real Debian `docker-registry` per test on a free 127.0.0.1 port, stopped on drop.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running registry.
pub struct Registry {
    pub address: String,
    child: Child,
    /// Holds the storage and config until the registry stops.
    dir: TempDir,
}

/// htpasswd entry for user `werf`, password `secret` (bcrypt).
const HTPASSWD: &str = "werf:$2b$12$7fHSEmk5dqg5Ip9XjaCkJea7dT6GKusfgz7PXcQjUx50skxINK9C6\n";

impl Registry {
    /// Starts a registry with anonymous access.
    pub fn start() -> Self {
        Self::start_with(false, true)
    }

    /// Starts a registry that requires basic auth (`werf`/`secret`).
    pub fn start_with_auth() -> Self {
        Self::start_with(true, true)
    }

    /// A registry that refuses deletes (distribution's default).
    pub fn start_without_deletes() -> Self {
        Self::start_with(false, false)
    }

    fn start_with(auth: bool, delete: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let address = format!("127.0.0.1:{port}");
        let auth_section = if auth {
            std::fs::write(dir.path().join("htpasswd"), HTPASSWD).expect("htpasswd");
            format!(
                "auth:\n  htpasswd:\n    realm: werf-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            )
        } else {
            String::new()
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: {delete}\nhttp:\n  addr: {address}\n{auth_section}",
            dir.path().join("storage").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::File::create(&config_path)
            .and_then(|mut f| f.write_all(config.as_bytes()))
            .expect("config");
        Command::new("docker-registry")
            .arg("--version")
            .output()
            .expect("docker-registry is installed (tests/install-deps)");
        // A watchdog shell runs the registry and stops it when this test process ends, so a
        // registry held by a `static` (never dropped) does not outlive the test binary.
        let script = format!(
            "docker-registry serve '{}' >/dev/null 2>&1 & pid=$!; \
             trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM; \
             while kill -0 {} 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 0.5; done",
            config_path.display(),
            std::process::id()
        );
        let child = Command::new("bash")
            .arg("-c")
            .arg(script)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bash runs");
        let started = Instant::now();
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the registry did not start on {address}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Registry {
            address,
            child,
            dir,
        }
    }

    /// A Docker config folder holding this registry's test credentials (`werf`/`secret`, as
    /// [`Registry::start_with_auth`] accepts them), for `DOCKER_CONFIG`.
    pub fn docker_config(&self) -> TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("config.json"),
            format!(
                "{{\"auths\": {{\"{}\": {{\"auth\": \"d2VyZjpzZWNyZXQ=\"}}}}}}",
                self.address
            ),
        )
        .expect("write the Docker config");
        dir
    }

    /// `ADDRESS/NAME`.
    /// The folder the registry stores its blobs and repositories in.
    pub fn storage(&self) -> std::path::PathBuf {
        self.dir.path().join("storage")
    }

    pub fn repo(&self, name: &str) -> String {
        format!("{}/{name}", self.address)
    }

    /// Sends `signal` to the `docker-registry` process itself (the watchdog shell's child).
    pub fn signal_server(&self, signal: libc::c_int) {
        let pid = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .expect("the watchdog's children");
        let server: libc::pid_t = children
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .find(|p: &libc::pid_t| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "docker-registry")
            })
            .expect("the registry process");
        // SAFETY: a process we started, still running.
        unsafe {
            libc::kill(server, signal);
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // SIGTERM (not SIGKILL), so the watchdog's trap stops the registry too.
        // SAFETY: the pid is our own child, not yet reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// Runs skopeo (plain HTTP for the test registry); panics on failure and returns stdout.
pub fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo is installed");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The tags of `repo`, as `skopeo list-tags` reads them.
pub fn list_tags(repo: &str) -> std::collections::BTreeSet<String> {
    let out = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{repo}"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("skopeo prints JSON");
    v["Tags"]
        .as_array()
        .expect("Tags")
        .iter()
        .map(|t| t.as_str().expect("a tag is a string").to_string())
        .collect()
}

/// The `runner` image of a build report, read back with skopeo and umoci: its `werf.io/image`
/// label, the digest the report gives, and the file its `RUN` wrote from `x.txt`. Returns
/// skopeo's inspect and the unpacked root for more checks.
pub fn read_back_runner(
    repo: &str,
    report: &serde_json::Value,
    work: &Path,
) -> (serde_json::Value, std::path::PathBuf) {
    let runner = &report["Images"]["runner"];
    let image = format!("{repo}:{}", runner["DockerTag"].as_str().expect("tag"));
    let inspect = skopeo_inspect(&image, false);
    assert_eq!(inspect["Labels"]["werf.io/image"], "runner");
    assert_eq!(inspect["Digest"], runner["DockerImageDigest"]);
    let rootfs = unpack(&image, work);
    assert_eq!(
        std::fs::read_to_string(rootfs.join("y.txt")).expect("y.txt"),
        "x\nhello from RUN\n"
    );
    (inspect, rootfs)
}

/// `skopeo inspect` of an image in a test registry (with `config`, its image config) as JSON.
pub fn skopeo_inspect(image: &str, config: bool) -> serde_json::Value {
    let target = format!("docker://{image}");
    let mut args = vec!["inspect", "--tls-verify=false"];
    if config {
        args.push("--config");
    }
    args.push(&target);
    serde_json::from_str(&skopeo(&args)).expect("skopeo prints JSON")
}

/// Runs umoci; panics on failure.
pub fn umoci(args: &[&str]) {
    let out = Command::new("umoci")
        .args(args)
        .output()
        .expect("umoci is installed");
    assert!(
        out.status.success(),
        "umoci {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes a small base image with umoci (one file, `/etc/base-release`) and pushes it as `image`.
pub fn push_base_image(image: &str, work: &Path) {
    let layout = work.join("base-layout");
    let layout_s = layout.to_str().expect("utf-8");
    umoci(&["init", "--layout", layout_s]);
    umoci(&["new", "--image", &format!("{layout_s}:base")]);
    let rootfs = work.join("base-rootfs");
    std::fs::create_dir_all(rootfs.join("etc")).expect("mkdir");
    std::fs::write(rootfs.join("etc/base-release"), "tiny base 1\n").expect("write");
    umoci(&[
        "insert",
        "--image",
        &format!("{layout_s}:base"),
        rootfs.join("etc").to_str().expect("utf-8"),
        "/etc",
    ]);
    umoci(&[
        "config",
        "--image",
        &format!("{layout_s}:base"),
        "--config.env",
        "BASE=1",
    ]);
    skopeo(&[
        "copy",
        "-q",
        "--dest-tls-verify=false",
        &format!("oci:{layout_s}:base"),
        &format!("docker://{image}"),
    ]);
}

/// Makes a base image with Debian's static busybox as `/bin/sh` (for `RUN`) and pushes it.
pub fn push_busybox_image(image: &str, work: &Path) {
    push_busybox_image_with(image, work, &["sh", "cat", "echo"]);
}

/// [`push_busybox_image`] with these applets linked in `/bin`.
pub fn push_busybox_image_with(image: &str, work: &Path, tools: &[&str]) {
    let layout = work.join("busybox-layout");
    let layout_s = layout.to_str().expect("utf-8");
    umoci(&["init", "--layout", layout_s]);
    umoci(&["new", "--image", &format!("{layout_s}:bb")]);
    let bin = work.join("busybox-root/bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("busybox-static is installed");
    for tool in tools {
        std::os::unix::fs::symlink("busybox", bin.join(tool)).expect("symlink");
    }
    umoci(&[
        "insert",
        "--image",
        &format!("{layout_s}:bb"),
        bin.to_str().expect("utf-8"),
        "/bin",
    ]);
    skopeo(&[
        "copy",
        "-q",
        "--dest-tls-verify=false",
        &format!("oci:{layout_s}:bb"),
        &format!("docker://{image}"),
    ]);
}

/// Copies `image` out with skopeo and unpacks it with umoci; returns the root file system.
pub fn unpack(image: &str, work: &Path) -> std::path::PathBuf {
    let layout = work.join("unpack-layout");
    skopeo(&[
        "copy",
        "-q",
        "--src-tls-verify=false",
        &format!("docker://{image}"),
        &format!("oci:{}:x", layout.display()),
    ]);
    let bundle = work.join("unpack-bundle");
    umoci(&[
        "unpack",
        "--image",
        &format!("{}:x", layout.display()),
        bundle.to_str().expect("utf-8"),
    ]);
    bundle.join("rootfs")
}
