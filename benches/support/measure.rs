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
pub fn measure_to(cmd: &mut Command, stdout: Stdio) -> Run {
    let (run, code) = run_child(cmd, stdout);
    assert_eq!(code, Some(0), "{cmd:?} failed");
    run
}

/// [`measure`] of a command that must refuse its input (exit code 1), its error shown.
#[allow(
    dead_code,
    reason = "the hostile bench's; the other benches include this file too"
)]
pub fn measure_refused(cmd: &mut Command) -> Run {
    let (run, code) = run_child(cmd, Stdio::null());
    assert_eq!(code, Some(1), "{cmd:?} must exit with 1");
    run
}

#[allow(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which also gives its rusage"
)]
fn run_child(cmd: &mut Command, stdout: Stdio) -> (Run, Option<i32>) {
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
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (
        Run {
            wall,
            max_rss_kib: usage.ru_maxrss as u64,
        },
        code,
    )
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
