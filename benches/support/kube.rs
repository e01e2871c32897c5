//! The benches' Kubernetes: the tests' `kube-up` cluster started for a bench, and the writes a
//! tool made, read from the API server's audit log.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `tests/cluster/kube-up` (enough simulated nodes for one pod per image) and returns it
/// with its kubeconfig once the cluster is ready.
pub fn start_cluster(registry: &str, dir: &Path, pods: usize) -> (std::process::Child, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sim = crate::cluster::node_sim();
    // 200 pods a node (the node simulator's limit is 250).
    let nodes = (pods / 200 + 1).to_string();
    let log = std::fs::File::create(dir.join("kube-up.log")).expect("log");
    let mut child = Command::new(root.join("tests/cluster/kube-up"))
        .arg(dir.join("kube"))
        .args(["--registry-insecure", registry, "--nodes", &nodes])
        .args(["--exit-with", &std::process::id().to_string()])
        .env("KUBE_NODE_SIM", sim)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("kube-up starts");
    let kubeconfig = dir.join("kube/kubeconfig");
    let started = Instant::now();
    while !kubeconfig.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "kube-up exited with {status}; see {}",
                dir.join("kube-up.log").display()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(1200),
            "the cluster did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (child, kubeconfig)
}

/// Waits until the machine is quiet: the share of all cores busy over one second (from
/// `/proc/stat`) under 15%, as it is once a cluster's controllers have settled after an install
/// (up to `limit`). Answers how long it waited and whether it got quiet, for the table to say.
#[allow(
    dead_code,
    reason = "the monorepo bench's; the dev bench includes this file too"
)]
pub fn wait_until_quiet(limit: Duration) -> (Duration, bool) {
    fn busy_and_total() -> Option<(u64, u64)> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = text
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|n| n.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
        let total: u64 = cpu.iter().take(8).sum();
        let idle = cpu.get(3)? + cpu.get(4)?;
        Some((total - idle, total))
    }
    let started = Instant::now();
    while started.elapsed() < limit {
        let Some((busy0, total0)) = busy_and_total() else {
            break;
        };
        std::thread::sleep(Duration::from_secs(1));
        let Some((busy1, total1)) = busy_and_total() else {
            break;
        };
        let share = (busy1 - busy0) as f64 / (total1 - total0).max(1) as f64;
        if share < 0.15 {
            return (started.elapsed(), true);
        }
    }
    (started.elapsed(), false)
}

/// Write requests (create, update, patch, delete; dry runs excluded) the tools made (the
/// kubeconfig's user `werf`, which Helm uses too; controllers' writes are not counted) to
/// namespace `ns`, from the API server's audit log.
pub fn writes_in(audit: &Path, ns: &str) -> usize {
    let text = std::fs::read_to_string(audit).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| {
            matches!(
                e["verb"].as_str(),
                Some("create" | "update" | "patch" | "delete" | "deletecollection")
            ) && e["objectRef"]["namespace"] == ns
                && e["user"]["username"] == "werf"
                && !e["requestURI"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("dryRun=")
        })
        .count()
}
