//! The BuildKit benchmark (`cargo bench --bench buildkit [-- --images N]`): N images (default
//! 50), each `COPY` + one `RUN` step over a busybox base, built and pushed into a local registry
//! by `--backend buildkit` on one dockerd (its embedded BuildKit), on a fleet of two, and by
//! `--backend buildah`, side by side. Each row builds content of its own (nothing is in any
//! cache), so every row builds all N images.

#[allow(dead_code)]
#[path = "../tests/it/dockerd.rs"]
mod dockerd;
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

use measure::measure_to;
use monorepo::{bench_args, git};

fn werf(dir: &Path, home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_werf"));
    c.current_dir(dir)
        .env("WERF_HOME", home)
        .env("DOCKER_CONFIG", home.join("no-docker-config"));
    c
}

/// A repository of `images` images with a `RUN` each; `salt` makes its content its own.
fn generate(dir: &Path, images: usize, base: &str, salt: &str) {
    let mut yaml = String::from("project: bk\nconfigVersion: 1\n");
    for i in 0..images {
        yaml.push_str(&format!(
            "---\nimage: s{i:03}\ncontext: s{i:03}\ndockerfile: Dockerfile\n"
        ));
        let d = dir.join(format!("s{i:03}"));
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(
            d.join("Dockerfile"),
            format!("FROM {base}\nCOPY f.txt /f.txt\nRUN cat /f.txt /f.txt > /g.txt\n"),
        )
        .expect("write");
        std::fs::write(d.join("f.txt"), format!("{salt} {i}\n")).expect("write");
    }
    std::fs::write(dir.join("werf.yaml"), yaml).expect("write");
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "init"]);
}

fn main() {
    let args = bench_args();
    let images: usize = args
        .iter()
        .position(|a| a == "--images")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let scratch = tempfile::tempdir().expect("tempdir");
    let reg = registry::Registry::start();
    let base = reg.repo("base/busybox:1");
    registry::push_busybox_image_with(&base, scratch.path(), &["sh", "cat"]);
    let (one, two) = (dockerd::Dockerd::start(), dockerd::Dockerd::start());
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());

    let rows: Vec<(&str, Vec<String>)> = vec![
        (
            "buildkit, 1 daemon",
            vec![
                "--backend".into(),
                "buildkit".into(),
                "--buildkit-addr".into(),
                one.address(),
            ],
        ),
        (
            "buildkit, 2 daemons",
            vec![
                "--backend".into(),
                "buildkit".into(),
                "--buildkit-addr".into(),
                one.address(),
                "--buildkit-addr".into(),
                two.address(),
            ],
        ),
        ("buildah", vec!["--backend".into(), "buildah".into()]),
    ];
    println!("{images} images, each COPY + RUN over busybox; --parallel-tasks-limit {cores} (per daemon for buildkit); {cores} cores");
    println!("| backend | build and push all | per image |");
    println!("|---|---|---|");
    for (k, (name, flags)) in rows.iter().enumerate() {
        let dir = scratch.path().join(format!("repo{k}"));
        let home = scratch.path().join(format!("home{k}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        generate(&dir, images, &base, &format!("row {k}"));
        let repo = reg.repo(&format!("bk{k}"));
        let mut cmd = werf(&dir, &home);
        cmd.args([
            "build",
            "--repo",
            &repo,
            "--parallel-tasks-limit",
            &cores.to_string(),
        ])
        .args(flags);
        let run = measure_to(&mut cmd, Stdio::null());
        // Every image was built: the next run finds all of them.
        let again = werf(&dir, &home)
            .args(["build", "--repo", &repo])
            .args(flags)
            .output()
            .expect("werf runs");
        let text = String::from_utf8_lossy(&again.stdout);
        assert!(
            text.contains(&format!(
                "{images} images: 0 built and pushed, {images} already"
            )),
            "{text}"
        );
        println!(
            "| {name} | {:.1} s | {:.2} s |",
            run.wall.as_secs_f64(),
            run.wall.as_secs_f64() / images as f64
        );
    }
}
