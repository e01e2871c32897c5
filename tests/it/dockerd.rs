//! Test support: a real dockerd (Debian's `docker.io`, with its embedded BuildKit) per test, on
//! its own socket, data root and exec root, with no bridge (builds use host or no network).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running dockerd; stopped (with its containerd) when dropped.
pub struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Dockerd {
    pub fn start() -> Self {
        Command::new("dockerd")
            .arg("--version")
            .output()
            .expect("dockerd is installed (tests/install-deps: docker.io)");
        // Under /tmp, short: a Unix socket path has a length limit.
        let dir = tempfile::Builder::new()
            .prefix("dk")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let d = dir.path().to_path_buf();
        let sock = d.join("sock");
        // A watchdog shell in its own process group runs dockerd and stops it when this test
        // process ends; the group is killed on drop, containerd included.
        let script = format!(
            "dockerd --data-root {d}/data --exec-root {d}/exec -H unix://{sock} --pidfile {d}/pid \
             --storage-driver vfs --iptables=false --ip-masq=false --bridge=none >{d}/log 2>&1 & pid=$!; \
             echo $pid > {d}/dockerd.pid; \
             trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM; \
             while kill -0 {test} 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 0.5; done",
            d = d.display(),
            sock = sock.display(),
            test = std::process::id()
        );
        let child = Command::new("bash")
            .arg("-c")
            .arg(script)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("bash runs");
        let me = Dockerd { child, dir };
        let started = Instant::now();
        loop {
            let ping = Command::new("curl")
                .args(["-sf", "--unix-socket"])
                .arg(&sock)
                .arg("http://d/_ping")
                .output()
                .expect("curl runs");
            if ping.status.success() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "dockerd did not start: {}",
                std::fs::read_to_string(d.join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        me
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// The address for `--buildkit-addr`.
    pub fn address(&self) -> String {
        format!("docker://unix://{}", self.socket().display())
    }

    /// Kills dockerd itself at once (SIGKILL), as a machine that disappears.
    pub fn kill(&self) {
        self.signal(libc::SIGKILL);
    }

    /// Stops dockerd (SIGSTOP): its connections stay open and nothing answers, as a machine
    /// that stalls.
    pub fn stall(&self) {
        self.signal(libc::SIGSTOP);
    }

    fn signal(&self, signal: libc::c_int) {
        let pid: libc::pid_t = std::fs::read_to_string(self.dir.path().join("dockerd.pid"))
            .expect("dockerd's pid")
            .trim()
            .parse()
            .expect("a pid");
        // SAFETY: a process this test started.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    /// The daemon's log (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

fn unmount_below(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let prefix = dir.display().to_string();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount").arg("-l").arg(p).status();
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let group = self.child.id() as libc::pid_t;
        // SAFETY: the process group of the watchdog this test started.
        unsafe {
            libc::kill(-group, libc::SIGTERM);
        }
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: as above; whatever ignored SIGTERM.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.child.wait();
        unmount_below(self.dir.path());
    }
}
