//! The `werf dev` benchmark (`cargo bench --bench dev [-- --images N --files N]`): on the
//! synthetic monorepo and its chart, with a local registry and cluster, one long-running
//! `werf dev` takes saves; for each, the times from the save to the re-plan (the process's own
//! figure), to the image pushed, to the Deployment patched (the API server's audit log) and to
//! the cycle's end (rollout tracked to ready); a save nothing uses; and beside them, the same
//! loop as separate `werf build --dev` + `werf converge --dev` processes.

#[allow(dead_code)]
#[path = "../tests/it/cluster.rs"]
mod cluster;
#[allow(dead_code)]
#[path = "support/kube.rs"]
mod kube;
#[allow(dead_code)]
#[path = "support/measure.rs"]
mod measure;
#[path = "support/monorepo.rs"]
mod monorepo;
#[allow(dead_code)]
#[path = "../tests/it/registry.rs"]
mod registry;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant, SystemTime};

use kube::start_cluster;
use measure::{measure_to, median};
use monorepo::{bench_args, generate, parse_options};

/// A running `werf dev`: its stdout lines with the instant each arrived.
struct Dev {
    child: std::process::Child,
    lines: Receiver<(Instant, String)>,
}

impl Dev {
    /// Lines up to the end of the next cycle (`[dev] ready` or an error).
    fn cycle(&self) -> Vec<(Instant, String)> {
        let mut out = Vec::new();
        loop {
            let (at, line) = self
                .lines
                .recv_timeout(Duration::from_secs(1800))
                .expect("`werf dev` finishes its cycle");
            let end = line.starts_with("[dev] ready") || line.starts_with("[dev] waiting");
            out.push((at, line));
            if end {
                return out;
            }
        }
    }
}

/// The re-plan milliseconds a `[dev] ready` line reports.
fn replan_ms(line: &str) -> f64 {
    line.split("re-planned in ")
        .nth(1)
        .and_then(|r| r.split(" ms").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(f64::NAN)
}

/// When the API server accepted the first patch of a Deployment in `ns` after `since`.
fn patched_at(audit: &Path, ns: &str, since: SystemTime) -> Option<SystemTime> {
    let text = std::fs::read_to_string(audit).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| {
            e["verb"] == "patch"
                && e["stage"] == "ResponseComplete"
                && e["objectRef"]["resource"] == "deployments"
                && e["objectRef"]["namespace"] == ns
                && e["user"]["username"] == "werf"
                && !e["requestURI"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("dryRun=")
        })
        .filter_map(|e| {
            let t: k8s_openapi::jiff::Timestamp = e["stageTimestamp"].as_str()?.parse().ok()?;
            let t = SystemTime::UNIX_EPOCH
                + Duration::from_nanos(u64::try_from(t.as_nanosecond()).ok()?);
            (t >= since).then_some(t)
        })
        .min()
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let args = bench_args();
    let mut options = parse_options(&args);
    options.buildable = true;
    let scratch = tempfile::tempdir().expect("tempdir");
    let repo = scratch.path().join("mono");
    std::fs::create_dir_all(&repo).expect("mkdir");
    let layout = generate(&repo, &options);
    let home = scratch.path().join("home");
    let werf = PathBuf::from(env!("CARGO_BIN_EXE_werf"));
    let registry = registry::Registry::start();
    let repo_arg = format!("{}/mono", registry.address);
    let (mut cluster, kubeconfig) =
        start_cluster(&registry.address, scratch.path(), layout.images.len());
    let audit = scratch.path().join("kube/audit.log");
    let kubeconfig_arg = kubeconfig.display().to_string();

    println!(
        "\n`werf dev` on {} images / {} files and their chart (local registry and cluster)\n",
        layout.images.len(),
        layout.files_written
    );
    println!("| what | value | target | notes |");
    println!("|---|---|---|---|");

    let started = Instant::now();
    let mut child = Command::new(&werf)
        .current_dir(&repo)
        .env("WERF_HOME", &home)
        .args(["dev", "--repo", &repo_arg, "--kube-config", &kubeconfig_arg])
        .args(["--timeout", "20m"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("werf dev starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let dev = Dev { child, lines };
    let first = dev.cycle();
    let ready = first.last().map(|(_, l)| l.clone()).unwrap_or_default();
    println!(
        "| start: load, build + push every image, install and track the release | {:.1} s | | {} |",
        started.elapsed().as_secs_f64(),
        ready.replace('|', "/")
    );

    // One source file of one image per save, five different images.
    let mut replans = Vec::new();
    let mut pushed = Vec::new();
    let mut patched = Vec::new();
    let mut done = Vec::new();
    let mut notes = String::new();
    for i in 0..5 {
        let image = &layout.images[(i * 197 + 11) % layout.images.len()];
        let file = repo.join(&layout.a_source_file[image]);
        let mut text = std::fs::read_to_string(&file).expect("read");
        text.push_str(&format!("// dev bench save {i}\n"));
        let wall = SystemTime::now();
        let saved = Instant::now();
        std::fs::write(&file, text).expect("save");
        let cycle = dev.cycle();
        let (end, last) = cycle.last().cloned().expect("a line");
        replans.push(Duration::from_secs_f64(replan_ms(&last) / 1000.0));
        done.push(end - saved);
        if let Some((at, _)) = cycle.iter().find(|(_, l)| l.contains("built and pushed")) {
            pushed.push(*at - saved);
        }
        if let Some(t) = patched_at(&audit, "mono", wall) {
            patched.push(t.duration_since(wall).unwrap_or_default());
        }
        let built = cycle
            .iter()
            .any(|(_, l)| l.contains(": 1 built and pushed"));
        let why = cycle
            .iter()
            .any(|(_, l)| l.contains(&format!("why: {} → {image} ", layout.a_source_file[image])));
        if !built || !why {
            notes.push_str(&format!("save {i} WRONG: {cycle:?}; "));
        }
    }
    if notes.is_empty() {
        notes = "each save: exactly one image built, its why printed".into();
    }
    println!(
        "| save → re-plan done (in the warm process) | {} | <= 20 ms | median of 5 saves; {notes} |",
        ms(median(replans))
    );
    println!(
        "| save → image pushed | {} | | median of {} |",
        ms(median(pushed.clone())),
        pushed.len()
    );
    println!(
        "| save → Deployment patched (API server's audit timestamp) | {} | <= 1 s | median of {}; tracking excluded |",
        ms(median(patched.clone())),
        patched.len()
    );
    println!(
        "| save → pod ready in the simulated cluster (cycle end) | {} | | median of 5 |",
        ms(median(done.clone()))
    );

    // A save that nothing uses.
    let mut noop = Vec::new();
    let mut noop_replan = Vec::new();
    let mut noop_notes = String::new();
    for i in 0..3 {
        let saved = Instant::now();
        std::fs::write(
            repo.join("README.md"),
            format!("# synthetic monorepo {i}\n"),
        )
        .expect("save");
        let cycle = dev.cycle();
        let (end, last) = cycle.last().cloned().expect("a line");
        noop.push(end - saved);
        noop_replan.push(Duration::from_secs_f64(replan_ms(&last) / 1000.0));
        if !last.contains("0 images and 0 objects changed") {
            noop_notes.push_str(&format!("WRONG: {last}; "));
        }
    }
    println!(
        "| no-op save (README.md): save → cycle end | {} | | re-plan {}; {} |",
        ms(median(noop)),
        ms(median(noop_replan)),
        if noop_notes.is_empty() {
            "no build, no write"
        } else {
            &noop_notes
        }
    );
    let Dev { mut child, .. } = dev;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"q\n");
    }
    let _ = child.wait();

    // The same loop as separate processes: `werf build --dev` then `werf converge --dev`.
    let mut separate = Vec::new();
    for i in 0..3 {
        let image = &layout.images[(i * 331 + 7) % layout.images.len()];
        let file = repo.join(&layout.a_source_file[image]);
        let mut text = std::fs::read_to_string(&file).expect("read");
        text.push_str(&format!("// separate save {i}\n"));
        std::fs::write(&file, text).expect("save");
        let saved = Instant::now();
        for command in [
            vec!["--dev", "build", "--repo", &repo_arg],
            vec![
                "--dev",
                "converge",
                "--repo",
                &repo_arg,
                "--kube-config",
                &kubeconfig_arg,
                "--timeout",
                "20m",
            ],
        ] {
            let run = measure_to(
                Command::new(&werf)
                    .current_dir(&repo)
                    .env("WERF_HOME", &home)
                    .args(&command)
                    .stderr(Stdio::null()),
                Stdio::null(),
            );
            assert!(run.wall > Duration::ZERO);
        }
        separate.push(saved.elapsed());
    }
    let separate = median(separate);
    let in_loop = median(done);
    println!(
        "| baseline: `werf build --dev && werf converge --dev` per save | {} | | median of 3; the loop is {:.1}x faster |",
        ms(separate),
        separate.as_secs_f64() / in_loop.as_secs_f64().max(1e-9)
    );
    // SIGTERM: kube-up stops every process it started.
    // SAFETY: `cluster` is our running child.
    unsafe { libc::kill(cluster.id() as libc::pid_t, libc::SIGTERM) };
    let _ = cluster.wait();
}
