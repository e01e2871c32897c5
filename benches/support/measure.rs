//! Measuring child processes for the benches: wall time and peak resident memory (`wait4`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall time and peak resident memory of one child process.
pub struct Run {
    pub wall: Duration,
    pub max_rss_kib: u64,
}

/// Runs `cmd` to completion with output discarded; measures wall time and peak RSS (wait4).
pub fn measure(cmd: &mut Command) -> Run {
    measure_to(cmd, Stdio::null())
}

/// [`measure`] with stdout sent to `stdout`.
#[allow(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which also gives its rusage"
)]
pub fn measure_to(cmd: &mut Command, stdout: Stdio) -> Run {
    let start = Instant::now();
    let child = cmd
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child; `status` and `usage` are valid for writes.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(r, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed"
    );
    Run {
        wall,
        max_rss_kib: usage.ru_maxrss as u64,
    }
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
