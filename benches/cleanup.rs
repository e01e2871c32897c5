//! The cleanup benchmark (`cargo bench --bench cleanup [-- --images N --files N --commits N]`):
//! the synthetic monorepo with a history of N commits (default 200), each changing one of 20
//! images and built into a local registry; then `werf cleanup` plans over the whole history
//! (every commit's tags recomputed by the engine) and deletes. Prints wall time, the share of
//! image plans answered from the engine's memo, and every registry request, beside `git
//! rev-list` (the floor of reading the history) and what werf's metadata-based cleanup would ask
//! of the registry for the same tags (a model, stated as such).

#[allow(dead_code)]
#[path = "support/measure.rs"]
mod measure;
#[path = "support/monorepo.rs"]
mod monorepo;
/// The tests' registry launcher (a real `docker-registry` on a free port, stopped on drop).
#[allow(dead_code)]
#[path = "../tests/it/registry.rs"]
mod registry;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use measure::{measure, measure_to};
use monorepo::{bench_args, generate, git, parse_options};

const CHANGING: usize = 20;

fn werf(dir: &Path, home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_werf"));
    c.current_dir(dir)
        .env("WERF_HOME", home)
        .env("DOCKER_CONFIG", home.join("no-docker-config"));
    c
}

fn s(d: std::time::Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("report")).expect("json")
}

fn main() {
    let args = bench_args();
    let mut options = parse_options(&args);
    options.buildable = true;
    let commits: usize = args
        .iter()
        .position(|a| a == "--commits")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let scratch = tempfile::tempdir().expect("tempdir");
    let repo = scratch.path().join("mono");
    let home = scratch.path().join("home");
    std::fs::create_dir_all(&repo).expect("mkdir");
    let layout = generate(&repo, &options);
    // Keep main's last two images of each; no fresh window, so the deletes happen now.
    let config = repo.join("werf.yaml");
    let text = std::fs::read_to_string(&config).expect("werf.yaml");
    let text = text.replacen(
        "configVersion: 1\n",
        "configVersion: 1\ncleanup:\n  keepImagesBuiltWithinLastNHours: 0\n  keepPolicies:\n  - references:\n      branch: main\n    imagesPerReference:\n      last: 2\n",
        1,
    );
    std::fs::write(&config, text).expect("werf.yaml");
    git(&repo, &["commit", "-q", "-am", "cleanup policy"]);

    let registry = registry::Registry::start();
    let repo_arg = format!("{}/mono", registry.address);
    let started = Instant::now();
    let build = |what: &str| {
        let out = werf(&repo, &home)
            .args(["build", "--repo", &repo_arg])
            .stderr(Stdio::null())
            .output()
            .expect("werf runs");
        assert!(out.status.success(), "build {what} failed");
    };
    build("the first commit");
    eprintln!(
        "built {} images in {:.1} s; making {commits} commits",
        layout.images.len(),
        started.elapsed().as_secs_f64()
    );
    let changing: Vec<&String> = layout.images.iter().take(CHANGING).collect();
    for i in 0..commits {
        let image = changing[i % changing.len()];
        let file = repo.join(&layout.a_source_file[image]);
        let mut content = std::fs::read_to_string(&file).expect("source file");
        content.push_str(&format!("change {i}\n"));
        std::fs::write(&file, content).expect("write");
        git(&repo, &["commit", "-q", "-am", &format!("change {i}")]);
        build(&format!("commit {i}"));
    }
    let head = git(&repo, &["rev-parse", "HEAD"]);
    git(
        &repo,
        &["update-ref", "refs/remotes/origin/main", head.trim()],
    );
    eprintln!(
        "history ready after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let rev_list = measure(
        Command::new("git")
            .current_dir(&repo)
            .args(["rev-list", "--count", "HEAD"]),
    );
    let dry = scratch.path().join("dry.json");
    let real = scratch.path().join("real.json");
    let run = |extra: &[&str], path: &Path| {
        let mut c = werf(&repo, &home);
        c.args(["cleanup", "--repo", &repo_arg, "--without-kube"])
            .args(extra)
            .arg("--save-cleanup-report")
            .arg(path);
        measure_to(&mut c, Stdio::null())
    };
    let dry_run = run(&["--dry-run"], &dry);
    let real_run = run(&[], &real);
    let d = report(&dry);
    let r = report(&real);
    let tags = d["tags"].as_array().map(|a| a.len()).unwrap_or(0);
    let after = registry::skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{repo_arg}"),
    ]);
    let after: serde_json::Value = serde_json::from_str(&after).expect("skopeo json");
    let left = after["Tags"].as_array().map(|a| a.len()).unwrap_or(0);
    let h = &d["history"];
    println!(
        "\n| cleanup, {} images, {} commits of history, 2 cores | wall | target | notes |",
        layout.images.len(),
        commits + 2
    );
    println!("|---|---|---|---|");
    println!(
        "| `git rev-list --count HEAD` (reading the history, the floor) | {} | | |",
        s(rev_list.wall)
    );
    let dry_ok = dry_run.wall.as_secs_f64() <= 3.0 && dry_run.max_rss_kib <= 100 * 1024;
    println!(
        "| `werf cleanup --dry-run` (plan over the whole history) | {} | <= 3 s, <= 100 MiB (1,000 images, 200 commits): {} | {} commits visited, {} trees planned, {:.1}% of {} image plans from the memo, {} of them carried over by the commits' diffs (the engine not asked); peak {:.0} MiB |",
        s(dry_run.wall),
        if dry_ok { "ok" } else { "MISSED" },
        h["commitsVisited"],
        h["treesPlanned"],
        h["memoHitShare"].as_f64().unwrap_or(0.0) * 100.0,
        h["imagePlans"],
        h["imagePlansCarried"],
        dry_run.max_rss_kib as f64 / 1024.0
    );
    println!(
        "| registry requests of the dry run | {} | | {} tags: 2 listings + a HEAD per tag to delete ({}) |",
        d["registryRequests"], tags, d["deleted"]
    );
    println!(
        "| `werf cleanup` (the real run) | {} | | {} deleted, {} kept, {} registry requests; `skopeo list-tags` then shows {} tags |",
        s(real_run.wall),
        r["deleted"],
        r["kept"],
        r["registryRequests"],
        left
    );
    println!(
        "| werf's cleanup, same tags (model, not measured) | | | 1 listing + a manifest and a config per stage tag = {} requests, plus `meta-*` tags to read |",
        1 + 2 * tags
    );
    assert_eq!(
        left as u64,
        r["kept"].as_u64().unwrap_or(u64::MAX),
        "the registry holds exactly the kept tags"
    );
    assert_eq!(
        d["deleted"], r["deleted"],
        "the dry run predicted the real run"
    );
}
