//! The hardening bench (`cargo bench --bench hostile [-- --gib N --archive-gib N]`): template
//! parse time against template size (it must grow linearly), the peak memory of the release
//! `werf` binary building a 1 GiB single-file image and an image that `ADD`s an archive unpacking
//! to 3 GiB, pushed to a real registry, and its peak memory while it refuses hostile input: a
//! chart archive holding a 2.5 GiB long-name header, a 3 GiB `index.yaml`, a 1.5 GiB request
//! line to `werf graph --serve`. Prints tables; asserts nothing about time.

/// The tests' hostile archives.
#[path = "../tests/it/bombs.rs"]
mod bombs;
/// The tests' hostile HTTP server.
#[allow(dead_code)]
#[path = "../tests/it/http_server.rs"]
mod http_server;
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
use measure::{measure, measure_refused, median};

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

/// Peak memory while refusing: each input is over a limit by gigabytes.
fn refusal_rows() {
    use std::io::Write as _;
    let werf = env!("CARGO_BIN_EXE_werf");
    println!("| hostile input | refused by | wall | peak RSS of `werf` |");
    println!("|---|---|---|---|");
    let row = |what: &str, by: &str, run: measure::Run| {
        println!(
            "| {what} | {by} | {:.1} s | {:.0} MiB |",
            run.wall.as_secs_f64(),
            run.max_rss_kib as f64 / 1024.0
        );
    };
    // 1. A subchart archive of a few MB whose one member is a 2.5 GiB GNU long name, all there.
    let dir = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".helm/charts")).expect("mkdir");
    std::fs::write(
        dir.path().join("werf.yaml"),
        "project: mem\nconfigVersion: 1\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join(".helm/Chart.yaml"),
        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    )
    .expect("write");
    let file =
        std::fs::File::create(dir.path().join(".helm/charts/big-1.0.0.tgz")).expect("create");
    bombs::long_name_bomb(file, 5 << 29, 5 << 29).expect("the archive");
    sh(
        dir.path(),
        "git init -q -b main && git add -A && git commit -qm init",
    );
    let size = std::fs::metadata(dir.path().join(".helm/charts/big-1.0.0.tgz"))
        .expect("size")
        .len();
    row(
        &format!(
            "chart archive of {:.1} MB, one 2.5 GiB long name",
            size as f64 / 1e6
        ),
        "the 1 MiB tar header cap",
        measure_refused(
            Command::new(werf)
                .arg("render")
                .current_dir(dir.path())
                .env("WERF_HOME", home.path()),
        ),
    );
    // 2. A 3 GiB index.yaml, announced; and the same streamed without a length.
    let server = http_server::Server::start(|_, _| http_server::Reply {
        status: 200,
        headers: vec![],
        body: http_server::Body::Repeat {
            byte: b'#',
            len: 3 << 30,
        },
    });
    let chart = format!(
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: lib\n  version: 1.0.0\n  repository: {}\n",
        server.url
    );
    std::fs::write(dir.path().join(".helm/Chart.yaml"), chart).expect("write");
    row(
        "index.yaml of 3 GiB",
        "WERF_MAX_BODY_SIZE (128 MiB)",
        measure_refused(
            Command::new(werf)
                .args(["helm", "dependency", "update"])
                .current_dir(dir.path())
                .env("WERF_HOME", home.path()),
        ),
    );
    // 3. A 1.5 GiB request line to the graph server: its peak memory after it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let addr = format!("127.0.0.1:{port}");
    // A project of its own: the one above holds the refused archive.
    let plain = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        plain.path().join("werf.yaml"),
        "project: mem\nconfigVersion: 1\n---\nimage: app\ndockerfile: Dockerfile\n",
    )
    .expect("write");
    std::fs::write(
        plain.path().join("Dockerfile"),
        "FROM scratch\nCOPY . /app/\n",
    )
    .expect("write");
    sh(
        plain.path(),
        "git init -q -b main && git add -A && git commit -qm init",
    );
    let mut child = Command::new(werf)
        .args(["graph", "--serve", &addr])
        .current_dir(plain.path())
        .env("WERF_HOME", home.path())
        .spawn()
        .expect("serve");
    while std::net::TcpStream::connect(&addr).is_err() {
        let exited = child.try_wait().expect("wait");
        assert!(exited.is_none(), "`werf graph --serve` ended: {exited:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let started = Instant::now();
    let mut sent = 0u64;
    if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
        let chunk = vec![b'a'; 1 << 20];
        let _ = s.write_all(b"GET /");
        while sent < 3 << 29 && s.write_all(&chunk).is_ok() {
            sent += chunk.len() as u64;
        }
    }
    let wall = started.elapsed();
    let hwm = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    row(
        &format!(
            "request line of 1.5 GiB ({} MiB taken before it was cut off)",
            sent >> 20
        ),
        "the 16 KiB head limit",
        measure::Run {
            wall,
            max_rss_kib: hwm,
        },
    );
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
    refusal_rows();
    template_rows();
}
