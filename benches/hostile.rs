//! The hardening bench (`cargo bench --bench hostile [-- --gib N --archive-gib N]`): template
//! parse time against template size (it must grow linearly), and the peak memory of the release
//! `werf` binary building a 1 GiB single-file image and an image that `ADD`s an archive unpacking
//! to 3 GiB, pushed to a real registry. Prints tables; asserts nothing about time.

#[path = "support/measure.rs"]
mod measure;
/// The tests' registry launcher (a real `docker-registry` on a free port, stopped on drop).
#[allow(dead_code)]
#[path = "../tests/it/registry.rs"]
mod registry;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use gotemplate::{render, Value};
use measure::{measure, median};

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sh(dir: &Path, script: &str) {
    let status = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@werf.invalid")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@werf.invalid")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .expect("bash");
    assert!(status.success(), "{script}");
}

fn template_rows() {
    println!("| template size | lines | parse + render (median of 3) | per MiB |");
    println!("|---|---|---|---|");
    let data = Value::from_json(&serde_json::json!({"a": 1, "name": "web"}));
    for lines in [12_500usize, 50_000, 100_000, 200_000] {
        let mut text = String::new();
        for i in 0..lines {
            text.push_str(&format!(
                "key{i}: {{{{ .name | upper }}}}-{{{{ add .a {i} }}}} {{{{- /* c */ -}}}}\n"
            ));
        }
        let mib = text.len() as f64 / (1 << 20) as f64;
        let wall = median(
            (0..3)
                .map(|_| {
                    let t = Instant::now();
                    render("big", &text, &data).expect("renders");
                    t.elapsed()
                })
                .collect(),
        )
        .as_secs_f64();
        println!(
            "| {mib:.2} MiB | {lines} | {wall:.3} s | {:.3} s |",
            wall / mib
        );
    }
    println!();
}

fn memory_rows(gib: u64, archive_gib: u64) {
    let werf = env!("CARGO_BIN_EXE_werf");
    let reg = registry::Registry::start();
    println!("| image | size | build + push wall | peak RSS of `werf build` |");
    println!("|---|---|---|---|");
    for (name, dockerfile, make) in [
        (
            "one file",
            "FROM scratch\nCOPY big.bin /big.bin\n".to_string(),
            // Incompressible data, so neither Git nor gzip makes it small.
            format!("head -c {} /dev/urandom > big.bin", gib << 30),
        ),
        (
            "ADD archive",
            "FROM scratch\nADD big.tar.gz /data/\n".to_string(),
            // Text numbers compress about 5x: an archive that unpacks to the size asked for.
            format!(
                "mkdir -p s && (set +o pipefail; seq 1 {} | head -c {} > s/numbers.txt) && tar -cf - -C s numbers.txt | gzip -1 > big.tar.gz && rm -r s",
                (archive_gib << 30) / 6,
                archive_gib << 30
            ),
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("werf.yaml"),
            "project: mem\nconfigVersion: 1\n---\nimage: app\ndockerfile: Dockerfile\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("write");
        sh(dir.path(), &make);
        sh(
            dir.path(),
            "git init -q -b main && git add -A && git commit -qm init",
        );
        let size = if name == "one file" {
            format!("{gib} GiB file")
        } else {
            format!("unpacks to {archive_gib} GiB")
        };
        let run = measure(
            Command::new(werf)
                .args(["build", "--repo", &reg.repo("mem")])
                .current_dir(dir.path())
                .env("WERF_HOME", home.path()),
        );
        println!(
            "| {name} | {size} | {:.1} s | {:.0} MiB |",
            run.wall.as_secs_f64(),
            run.max_rss_kib as f64 / 1024.0
        );
    }
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!();
    println!("werf-rs hardening bench");
    println!();
    // Memory first: a child's peak RSS counts the parent's pages it was forked with, and the
    // template rows grow this process.
    if !args.iter().any(|a| a == "--no-memory") {
        memory_rows(arg(&args, "--gib", 1), arg(&args, "--archive-gib", 3));
    }
    template_rows();
}
