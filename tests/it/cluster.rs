//! Test support: one real Kubernetes control plane per test binary (`tests/cluster/kube-up`),
//! with a registry its simulated node pulls from, `kubectl`, and the API server's audit log.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::registry::Registry;

/// A running cluster.
pub struct Cluster {
    pub dir: TempDir,
    pub kubeconfig: PathBuf,
    pub registry: Registry,
    /// `kube-up` itself; it stops the cluster when this process ends (`--exit-with`).
    _kube_up: Child,
}

/// The cluster of this test binary, started on first use (stopped when the binary exits:
/// `kube-up --exit-with` watches this process).
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(start)
}

/// Builds the node simulator into its own target folder (the test run holds cargo's lock on the
/// main one) and returns the binary.
pub fn node_sim() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("node-sim");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "kube-node-sim",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(root)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building kube-node-sim failed");
    target.join("release/kube-node-sim")
}

fn start() -> Cluster {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sim = node_sim();
    let log = std::fs::File::create(dir.path().join("kube-up.log")).expect("log");
    let child = Command::new(root.join("tests/cluster/kube-up"))
        .arg(dir.path())
        .args(["--registry-insecure", &registry.address])
        .args(["--exit-with", &std::process::id().to_string()])
        .env("KUBE_NODE_SIM", &sim)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("kube-up starts");
    let kubeconfig = dir.path().join("kubeconfig");
    let started = Instant::now();
    let mut child = child;
    while !kubeconfig.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.path().join("kube-up.log")).unwrap_or_default();
            panic!("kube-up exited with {status}:\n{log}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(1200),
            "the cluster did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Cluster {
        dir,
        kubeconfig,
        registry,
        _kube_up: child,
    }
}

impl Cluster {
    /// A `kube` client for the cluster (user `werf`) and a runtime to drive it.
    pub fn client(&self) -> (tokio::runtime::Runtime, kube::Client) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig");
        let client = rt.block_on(async {
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .expect("config");
            kube::Client::try_from(config).expect("client")
        });
        (rt, client)
    }

    /// Runs the machine's real `kubectl` against the cluster.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .expect("kubectl runs")
    }

    /// `kubectl ARGS` that must succeed; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl get ... -o json`.
    pub fn get_json(&self, args: &[&str]) -> Value {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        serde_json::from_str(&self.kubectl_ok(&a)).expect("kubectl prints JSON")
    }

    /// Waits until `check` holds (polling), or panics with `what`.
    pub fn wait_for(&self, what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
        let started = Instant::now();
        while !check() {
            assert!(started.elapsed() < timeout, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Read requests (get, list, watch) by `user` in the audit log, as `verb resource namespace`.
    pub fn reads_by(&self, user: &str) -> Vec<String> {
        self.audit()
            .into_iter()
            .filter(|e| e["user"]["username"] == user && e["stage"] == "ResponseComplete")
            .filter(|e| matches!(e["verb"].as_str(), Some("get" | "list" | "watch")))
            .map(|e| {
                let o = &e["objectRef"];
                format!(
                    "{} {} {}",
                    e["verb"].as_str().unwrap_or_default(),
                    o["resource"].as_str().unwrap_or_default(),
                    o["namespace"].as_str().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Dry-run writes by `user` in the audit log, as `verb resource namespace/name`.
    pub fn dry_runs_by(&self, user: &str) -> Vec<String> {
        self.audit()
            .iter()
            .filter(|e| e["user"]["username"] == user && e["stage"] == "ResponseComplete")
            .filter(|e| dry_run(e))
            .map(request)
            .collect()
    }

    /// Every event of the API server's audit log, in its order.
    fn audit(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect()
    }

    /// Every write request (create, update, patch, delete) in the audit log, dry runs excluded,
    /// in the log's order.
    fn writes(&self) -> Vec<Value> {
        self.audit()
            .into_iter()
            .filter(|e| {
                matches!(
                    e["verb"].as_str(),
                    Some("create" | "update" | "patch" | "delete" | "deletecollection")
                ) && !dry_run(e)
            })
            .collect()
    }

    /// Write requests in namespace `ns` by anyone, as `(user, resource)`.
    pub fn writes_in(&self, ns: &str) -> Vec<(String, String)> {
        self.writes()
            .iter()
            .filter(|e| e["objectRef"]["namespace"] == ns && e["stage"] == "ResponseComplete")
            .map(|e| {
                (
                    e["user"]["username"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    e["objectRef"]["resource"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect()
    }

    /// Write requests by `user`, as `verb resource namespace/name`.
    pub fn writes_by(&self, user: &str) -> Vec<String> {
        self.writes()
            .iter()
            .filter(|e| e["user"]["username"] == user)
            .map(request)
            .collect()
    }
}

/// Whether an audit event is a dry run (its request asks `dryRun=`).
fn dry_run(e: &Value) -> bool {
    e["requestURI"]
        .as_str()
        .is_some_and(|uri| uri.contains("dryRun="))
}

/// An audit event's request as `verb resource namespace/name`.
fn request(e: &Value) -> String {
    let o = &e["objectRef"];
    format!(
        "{} {} {}/{}",
        e["verb"].as_str().unwrap_or_default(),
        o["resource"].as_str().unwrap_or_default(),
        o["namespace"].as_str().unwrap_or_default(),
        o["name"].as_str().unwrap_or_default()
    )
}
