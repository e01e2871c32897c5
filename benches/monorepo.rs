//! The monorepo benchmark (`cargo bench --bench monorepo [-- --sizes 1000:100000,5000:500000 |
//! --images N --files N] [--repo DIR --stapel --no-build --no-converge --no-helm --no-engine]`;
//! `--stapel` makes most services Stapel images): generates the synthetic monorepo of DESIGN.md
//! section 7 at each size, runs the release `werf` binary on it and prints one table of wall
//! times and peak memory beside the peers (`git ls-tree`, `git status -uno`, turbo's dry run,
//! Helm 4 on the same cluster) with the ratios and targets, checking that a one-file change
//! reports exactly the affected images.

/// ChromeDriver and a headless session, as the browser test starts them.
#[path = "../tests/it/chromium.rs"]
mod chromium;
/// The tests' cluster support (for building the node simulator the same way).
#[allow(dead_code)]
#[path = "../tests/it/cluster.rs"]
mod cluster;
#[path = "support/kube.rs"]
mod kube;
#[path = "support/measure.rs"]
mod measure;
#[path = "support/monorepo.rs"]
mod monorepo;
/// The tests' registry launcher (a real `docker-registry` on a free port, stopped on drop).
#[allow(dead_code)]
#[path = "../tests/it/registry.rs"]
mod registry;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kube::{start_cluster, wait_until_quiet, writes_in};
use measure::{measure, measure_to, median, Run};
use monorepo::{bench_args, generate, git, parse_options, Layout};
use werf_graph::chart::RenderOptions;
use werf_graph::objects::MemoryObjects;
use werf_graph::render::{rendered_chart, RenderInput};
use werf_graph::{Database, Project, Setter};

struct Bench {
    repo: PathBuf,
    home: PathBuf,
    werf: PathBuf,
    peak_kib: u64,
}

impl Bench {
    /// `werf` in the repository with the bench's home.
    fn werf(&self) -> Command {
        let mut cmd = Command::new(&self.werf);
        cmd.current_dir(&self.repo).env("WERF_HOME", &self.home);
        cmd
    }

    fn plan(&mut self, report: Option<&Path>) -> Run {
        let mut cmd = self.werf();
        cmd.args(["build", "--dry-run"]);
        if let Some(r) = report {
            cmd.args(["--save-build-report", "--build-report-path"])
                .arg(r);
        }
        let run = measure(&mut cmd);
        self.peak_kib = self.peak_kib.max(run.max_rss_kib);
        run
    }

    fn tags(&mut self) -> (Run, BTreeMap<String, String>) {
        let report = self.home.join("report.json");
        let run = self.plan(Some(&report));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
        let tags = json["Images"]
            .as_object()
            .expect("Images")
            .iter()
            .map(|(k, v)| (k.clone(), v["DockerTag"].as_str().expect("tag").to_string()))
            .collect();
        (run, tags)
    }

    /// Edits `file`, commits, plans; returns the run and the images whose tag changed.
    fn change(
        &mut self,
        file: &str,
        before: &BTreeMap<String, String>,
    ) -> (Run, BTreeSet<String>, BTreeMap<String, String>) {
        let abs = self.repo.join(file);
        let mut content = std::fs::read_to_string(&abs).expect("read");
        content.push_str("// changed by the bench\n");
        std::fs::write(&abs, content).expect("write");
        git(&self.repo, &["commit", "-q", "-am", "bench change"]);
        let (run, after) = self.tags();
        let changed = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(v))
            .map(|(k, _)| k.clone())
            .collect();
        (run, changed, after)
    }
}

/// The images whose tags must change when `image`'s context changes: it and its dependants.
fn affected(layout: &Layout, image: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::from([image.to_string()]);
    if let Some(users) = layout.base_users.get(image) {
        out.extend(users.iter().cloned());
    }
    out
}

/// The one table every size's rows go into: werf-rs beside the peer it must beat, the ratio,
/// the target and whether it was met. Each row is printed as soon as it is measured (a long run
/// stopped half-way still shows what it measured).
#[derive(Default)]
struct Table {
    rows: usize,
}

impl Table {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        case: &str,
        images: usize,
        werf: String,
        beside: String,
        ratio: String,
        target: &str,
        result: String,
    ) {
        if self.rows == 0 {
            println!();
            println!("| case | images | werf-rs | beside | ratio | target | result |");
            println!("|---|---|---|---|---|---|---|");
        }
        self.rows += 1;
        println!(
            "| {} |",
            [
                case,
                &images.to_string(),
                &werf,
                &beside,
                &ratio,
                target,
                &result
            ]
            .join(" | ")
        );
        let _ = std::io::Write::flush(&mut std::io::stdout());
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// `ours / theirs`, as `1.48x`.
fn ratio(ours: Duration, theirs: Duration) -> String {
    format!(
        "{:.2}x",
        ours.as_secs_f64() / theirs.as_secs_f64().max(1e-9)
    )
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn verdict(ok: bool) -> String {
    if ok { "ok" } else { "MISSED" }.to_string()
}

/// `--sizes 1000:100000,5000:500000` (images:files), else `--images N --files N`.
fn sizes(args: &[String]) -> Vec<monorepo::Options> {
    let base = parse_options(args);
    match args.iter().position(|a| a == "--sizes") {
        None => vec![base],
        Some(i) => args
            .get(i + 1)
            .expect("`--sizes` needs a list")
            .split(',')
            .map(|size| {
                let (images, files) = size.split_once(':').expect("`--sizes` takes images:files");
                monorepo::Options {
                    images: images.parse().expect("images"),
                    files: files.parse().expect("files"),
                    ..base.clone()
                }
            })
            .collect(),
    }
}

fn main() {
    let args = bench_args();
    let mut table = Table::default();
    let mut notes = Vec::new();
    for mut options in sizes(&args) {
        // Every image must build natively so the build rows can push them all.
        options.buildable = true;
        one_size(&args, &options, &mut table, &mut notes);
    }
    for n in notes {
        println!("\n{n}");
    }
}

/// Every row of one repository size.
fn one_size(args: &[String], options: &monorepo::Options, t: &mut Table, notes: &mut Vec<String>) {
    // Stapel services have shell stages (buildah): the build rows are for the Dockerfile variant.
    let skip_build = args.iter().any(|a| a == "--no-build" || a == "--stapel");
    let keep = args
        .iter()
        .position(|a| a == "--repo")
        .and_then(|i| args.get(i + 1))
        .map(|r| PathBuf::from(format!("{r}-{}", options.images)));
    let scratch = tempfile::tempdir().expect("tempdir");
    let repo = keep.clone().unwrap_or_else(|| scratch.path().join("mono"));
    if repo.exists() {
        std::fs::remove_dir_all(&repo).expect("clear the repo folder");
    }
    std::fs::create_dir_all(&repo).expect("mkdir");
    let gen_start = Instant::now();
    let layout = generate(&repo, options);
    let gen_time = gen_start.elapsed();
    let n = layout.images.len();
    notes.push(format!(
        "{n} images: {} files, {} shared folders (generated and committed in {:.1} s){}",
        layout.files_written,
        layout.shared_users.len(),
        gen_time.as_secs_f64(),
        keep.as_ref()
            .map(|k| format!("; repository kept at `{}`", k.display()))
            .unwrap_or_default()
    ));

    let werf = PathBuf::from(env!("CARGO_BIN_EXE_werf"));
    let mut b = Bench {
        repo: repo.clone(),
        home: scratch.path().join("home"),
        werf,
        peak_kib: 0,
    };

    // The floors: listing the tree, and checking every tracked file against the index (what a
    // no-op plan must also establish).
    let floor = |git_args: &[&str]| {
        median(
            (0..5)
                .map(|_| measure(Command::new("git").current_dir(&repo).args(git_args)).wall)
                .collect(),
        )
    };
    let ls_tree = floor(&["ls-tree", "-r", "HEAD"]);
    let status = floor(&["status", "--porcelain", "-uno"]);
    t.push(
        "`git ls-tree -r HEAD` (floor: the tree listed)",
        n,
        String::new(),
        secs(ls_tree),
        String::new(),
        "",
        "median of 5".into(),
    );
    t.push(
        "`git status --porcelain -uno` (floor: every tracked file checked)",
        n,
        String::new(),
        secs(status),
        String::new(),
        "",
        "median of 5".into(),
    );

    // Cold: a fresh cache each time.
    let mut cold_peak = 0;
    let cold = median(
        (0..3)
            .map(|i| {
                b.home = scratch.path().join(format!("cold-{i}"));
                let run = b.plan(None);
                cold_peak = cold_peak.max(run.max_rss_kib);
                run.wall
            })
            .collect(),
    );
    let cold_ok = n < 5000 || (cold <= Duration::from_secs(1) && cold_peak <= 300 * 1024);
    t.push(
        "cold plan, empty cache (median of 3; peak memory)",
        n,
        format!("{} ({})", secs(cold), mib(cold_peak)),
        secs(status),
        ratio(cold, status),
        "5,000 images: <= 1.0 s, <= 300 MiB",
        if n < 5000 {
            "(judged at 5,000)".into()
        } else {
            verdict(cold_ok)
        },
    );
    b.home = scratch.path().join("warm");
    let (_, mut tags) = b.tags();
    let mut noop_peak = 0;
    let noop = median(
        (0..7)
            .map(|_| {
                let run = b.plan(None);
                noop_peak = noop_peak.max(run.max_rss_kib);
                run.wall
            })
            .collect(),
    );
    let noop_ok =
        noop.as_secs_f64() <= status.as_secs_f64() * 1.25 && (n < 5000 || noop_peak <= 150 * 1024);
    t.push(
        "no-op plan, warm cache (median of 7; peak memory)",
        n,
        format!("{} ({})", secs(noop), mib(noop_peak)),
        format!("{} git status", secs(status)),
        ratio(noop, status),
        "<= 1.25x git status; 5,000 images: <= 150 MiB",
        verdict(noop_ok),
    );
    t.push(
        "no-op plan beside the tree listing",
        n,
        secs(noop),
        format!("{} git ls-tree", secs(ls_tree)),
        ratio(noop, ls_tree),
        "",
        String::new(),
    );
    match turbo_dry_run(&repo) {
        Ok(turbo) => t.push(
            &format!("no-op plan beside `turbo run build --dry=json` (turbo {TURBO_VERSION}, each service a package; median of 3)"),
            n,
            secs(noop),
            secs(turbo),
            ratio(noop, turbo),
            "we are faster",
            verdict(noop < turbo),
        ),
        Err(e) => t.push("`turbo run build --dry=json`", n, String::new(), String::new(), String::new(), "", format!("not measured: {e}")),
    }

    // One file in one image's context, three times (different images), each checked exactly.
    let mut one_change = Vec::new();
    let mut one_checks = Vec::new();
    for image in [&layout.images[1], &layout.images[n / 2], &layout.images[0]] {
        let file = layout.a_source_file[image].clone();
        let (run, changed, after) = b.change(&file, &tags);
        let expected = affected(&layout, image);
        one_checks.push(if changed == expected {
            format!("ok {image}: {} changed", changed.len())
        } else {
            format!("WRONG {image}: expected {expected:?}, got {changed:?}")
        });
        one_change.push(run.wall);
        tags = after;
    }
    let one = median(one_change);
    t.push(
        "one file changed in one image's context (median of 3)",
        n,
        secs(one),
        format!("{} git status", secs(status)),
        ratio(one, status),
        "exactly the image and its dependants",
        one_checks.join("; "),
    );

    // One shared file: exactly the images that COPY that shared folder.
    let (lib, users) = layout
        .shared_users
        .iter()
        .max_by_key(|(_, u)| u.len())
        .expect("shared folders exist");
    let (shared_run, changed, _) = b.change(&layout.a_shared_file[lib].clone(), &tags);
    let shared_check = if &changed == users {
        format!(
            "ok: {} images changed = the users of `{lib}`",
            changed.len()
        )
    } else {
        format!(
            "WRONG: {} changed, expected {} ({lib})",
            changed.len(),
            users.len()
        )
    };
    t.push(
        "one shared file changed",
        n,
        secs(shared_run.wall),
        String::new(),
        String::new(),
        "exactly its dependants",
        shared_check,
    );
    let peak = b.peak_kib;
    t.push(
        "peak memory over the plan runs",
        n,
        mib(peak),
        String::new(),
        String::new(),
        "10,000 images: <= 300 MiB",
        if n >= 10_000 {
            verdict(peak <= 300 * 1024)
        } else {
            String::new()
        },
    );
    // Rendering the chart: one Deployment and one Service per image.
    let render = median(
        (0..3)
            .map(|_| {
                let run = measure(b.werf().args(["render", "--repo", "127.0.0.1:5000/mono"]));
                b.peak_kib = b.peak_kib.max(run.max_rss_kib);
                run.wall
            })
            .collect(),
    );
    t.push(
        &format!(
            "`werf render` of the chart ({n} Deployments + Services), warm plan cache; median of 3"
        ),
        n,
        secs(render),
        String::new(),
        String::new(),
        "",
        String::new(),
    );
    if args.iter().any(|a| a == "--no-engine") {
        return finish_size(args, skip_build, &mut b, &layout, scratch.path(), t);
    }
    render_rows(&repo, &layout, t);
    graph_rows(&b, &layout, t);
    finish_size(args, skip_build, &mut b, &layout, scratch.path(), t)
}

/// The build and converge rows of one size (with a registry and a cluster of its own).
fn finish_size(
    args: &[String],
    skip_build: bool,
    b: &mut Bench,
    layout: &Layout,
    scratch: &Path,
    t: &mut Table,
) {
    if skip_build {
        return;
    }
    let n = layout.images.len();
    let registry = registry::Registry::start();
    let repo_arg = format!("{}/mono", registry.address);
    let mut build_row = |what: &str, t: &mut Table| {
        let log = scratch.join("build.log");
        let file = std::fs::File::create(&log).expect("log");
        let run = measure_to(
            b.werf().args(["build", "--repo", &repo_arg]),
            Stdio::from(file),
        );
        b.peak_kib = b.peak_kib.max(run.max_rss_kib);
        let summary = std::fs::read_to_string(&log).expect("log");
        let summary = summary.lines().last().unwrap_or_default().to_string();
        t.push(
            what,
            n,
            secs(run.wall),
            String::new(),
            String::new(),
            "",
            summary.replace('|', "/"),
        );
    };
    build_row(
        &format!("build + push {n} images into an empty local registry"),
        t,
    );
    build_row("no-op build against the full registry", t);
    t.push(
        "peak memory including builds",
        n,
        mib(b.peak_kib),
        String::new(),
        String::new(),
        "",
        String::new(),
    );
    if !args.iter().any(|a| a == "--no-converge") {
        let with_helm = !args.iter().any(|a| a == "--no-helm");
        converge_rows(b, layout, &registry.address, scratch, with_helm, t);
    }
}

/// The turbo release measured beside us (npm package `turbo`, installed on first use).
const TURBO_VERSION: &str = "2.11.11";

/// `turbo run build --dry=json` on the repository (each service folder is a package), median of
/// 3 after one warm-up; turbo is installed under `~/.cache/werf-rs/turbo` by npm if missing.
fn turbo_dry_run(repo: &Path) -> Result<Duration, String> {
    let home = std::env::var_os("HOME").ok_or("no HOME")?;
    let prefix = Path::new(&home).join(".cache/werf-rs/turbo");
    let turbo = prefix.join("node_modules/.bin/turbo");
    if !turbo.exists() {
        std::fs::create_dir_all(&prefix).map_err(|e| e.to_string())?;
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("turbo@{TURBO_VERSION}"))
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("npm: {e}"))?;
        if !status.success() {
            return Err(format!("`npm install turbo@{TURBO_VERSION}` failed"));
        }
    }
    let run = || {
        let started = Instant::now();
        let out = Command::new(&turbo)
            .current_dir(repo)
            .args(["run", "build", "--dry=json"])
            .env("TURBO_TELEMETRY_DISABLED", "1")
            .env("TURBO_NO_UPDATE_NOTIFIER", "1")
            .env("DO_NOT_TRACK", "1")
            .output()
            .map_err(|e| format!("turbo: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "turbo failed: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or_default()
            ));
        }
        // The answer must be a plan of every package's build.
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("turbo's --dry=json is not JSON: {e}"))?;
        let tasks = plan["tasks"].as_array().map_or(0, Vec::len);
        Ok((started.elapsed(), tasks))
    };
    run()?;
    let mut walls = Vec::new();
    for _ in 0..3 {
        let (wall, tasks) = run()?;
        if tasks == 0 {
            return Err("turbo planned no task".into());
        }
        walls.push(wall);
    }
    Ok(median(walls))
}

/// Every committed file of the generated repository (the work tree is clean), by path.
fn read_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let out = Command::new("git")
        .current_dir(root)
        .args(["ls-files", "-z"])
        .output()
        .expect("git ls-files");
    String::from_utf8(out.stdout)
        .expect("utf-8 paths")
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(|p| {
            (
                p.to_string(),
                std::fs::read(root.join(p)).expect("read file"),
            )
        })
        .collect()
}

/// The render rows, in process on the engine: cold (plans and every template), warm (nothing
/// changed: nothing runs), and after one image's file changed (the templates that read it).
fn render_rows(repo: &Path, layout: &Layout, t: &mut Table) {
    let mut files = read_files(repo);
    let objects = std::sync::Arc::new(MemoryObjects::new());
    let tree_of = |files: &BTreeMap<String, Vec<u8>>| {
        objects.add_files(files.iter().map(|(p, c)| (p.as_str(), c.as_slice())))
    };
    let root = tree_of(&files);
    let start = Instant::now();
    let mut db = Database::in_memory(objects.clone()).with_execution_log();
    let project = Project::new(
        &db,
        root,
        String::new(),
        "werf.yaml".into(),
        Default::default(),
        Default::default(),
        Default::default(),
    );
    let input = RenderInput::new(
        &db,
        RenderOptions {
            release: "mono".into(),
            namespace: "mono".into(),
            repo: Some("127.0.0.1:5000/mono".into()),
            ..Default::default()
        },
        werf_graph::chart::Cluster::offline(),
    );
    werf_graph::plan::plan_all(&db, project).expect("plans");
    let planned = start.elapsed();
    let manifests = rendered_chart(&db, project, input)
        .clone()
        .expect("renders")
        .len();
    let cold = start.elapsed();
    db.take_execution_log();
    let start = Instant::now();
    rendered_chart(&db, project, input)
        .clone()
        .expect("renders");
    let warm = start.elapsed();
    let warm_runs = db.take_execution_log().len();

    let image = &layout.images[1];
    let file = &layout.a_source_file[image];
    files
        .get_mut(file)
        .expect("the changed file exists")
        .extend_from_slice(b"\n// changed\n");
    let changed_root = tree_of(&files);
    let start = Instant::now();
    project.set_root_tree(&mut db).to(changed_root);
    werf_graph::plan::plan_all(&db, project).expect("plans");
    rendered_chart(&db, project, input)
        .clone()
        .expect("renders");
    let one = start.elapsed();
    let rerendered: BTreeSet<String> = db
        .take_execution_log()
        .iter()
        .filter_map(|l| l.strip_prefix("rendered_template(mono/templates/"))
        .map(|l| l.trim_end_matches(".yaml)").to_string())
        .collect();
    let expected = affected(layout, image);
    let n = layout.images.len();
    let none = String::new;
    t.push(
        &format!(
            "render in process, cold: plans {} + {n} templates into {manifests} manifests",
            secs(planned)
        ),
        n,
        secs(cold),
        none(),
        none(),
        "",
        none(),
    );
    t.push(
        "render in process, warm (nothing changed)",
        n,
        secs(warm),
        none(),
        none(),
        "",
        format!("{warm_runs} queries ran"),
    );
    t.push(
        "render in process, one image's file changed (re-plan + re-render)",
        n,
        secs(one),
        none(),
        none(),
        "only the templates reading changed tags",
        format!(
            "{}: {} templates re-rendered, {} tags changed",
            if rerendered == expected {
                "ok"
            } else {
                "WRONG"
            },
            rerendered.len(),
            expected.len()
        ),
    );
}

/// Helm 4 (the library from PyPI, run as the Helm CLI) in its own namespace of the same
/// cluster, waiting as `--wait=watcher`, on charts of exactly the manifests werf deployed
/// (rendered by `werf render`).
struct Helm {
    cli: PathBuf,
    kubeconfig: PathBuf,
    audit: PathBuf,
    chart: PathBuf,
}

const HELM_NS: &str = "helm-bench";
/// How long Helm may wait for readiness (seconds); past it the row says so.
const HELM_TIMEOUT: u64 = 600;

impl Helm {
    fn new(scratch: &Path, kubeconfig: &Path, audit: &Path) -> Helm {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let venv = Command::new("bash")
            .arg(root.join("tests/helm/venv-up"))
            .output()
            .expect("venv-up runs");
        assert!(venv.status.success(), "tests/helm/venv-up failed");
        let python = PathBuf::from(String::from_utf8_lossy(&venv.stdout).trim());
        let chart = scratch.join("helm-chart");
        std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
        std::fs::write(
            chart.join("Chart.yaml"),
            "apiVersion: v2\nname: helm-bench\nversion: 1.0.0\n",
        )
        .expect("write");
        Helm {
            cli: python.with_file_name("helm"),
            kubeconfig: kubeconfig.to_path_buf(),
            audit: audit.to_path_buf(),
            chart,
        }
    }

    /// What `werf render` gives for Helm's namespace and release, now.
    fn manifests(b: &Bench, registry: &str) -> String {
        let rendered = b
            .werf()
            .args(["render", "--repo", &format!("{registry}/mono")])
            .args(["--namespace", HELM_NS, "--release", HELM_NS])
            .output()
            .expect("werf render runs");
        assert!(rendered.status.success(), "werf render failed");
        let manifests = String::from_utf8(rendered.stdout).expect("UTF-8");
        assert!(
            !manifests.contains("{{"),
            "the rendered manifests hold template actions"
        );
        manifests
    }

    /// `helm install` or `upgrade` of `manifests`: wall time, API writes, success.
    fn run(&self, command: &str, manifests: &str) -> (Duration, usize, bool) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::write(self.chart.join("templates/manifests.yaml"), manifests).expect("write");
        let before = writes_in(&self.audit, HELM_NS);
        let started = Instant::now();
        let out = Command::new(&self.cli)
            .arg(root.join("tests/helm/helm.py"))
            .arg(command)
            .arg(&self.kubeconfig)
            .arg(HELM_NS)
            .arg(&self.chart)
            .arg(HELM_NS)
            .env("HELM_WAIT", "watcher")
            // Helm 4's watcher reads every pod and ReplicaSet of the namespace for each
            // Deployment: at 1,000 Deployments its install had not finished after 833 s.
            .env("HELM_TIMEOUT", HELM_TIMEOUT.to_string())
            .output()
            .expect("helm.py runs");
        let wall = started.elapsed();
        (
            wall,
            writes_in(&self.audit, HELM_NS) - before,
            out.status.success(),
        )
    }
}

/// One werf converge: wall time, API writes, its summary line and its build line.
struct Converged {
    wall: Duration,
    writes: usize,
    summary: String,
}

/// The converge rows beside Helm 4: first install of every Deployment and Service, a no-op
/// (median of 3), and one changed file (one image built and pushed, one Deployment patched);
/// wall time and the API writes each tool made (from the API server's audit log).
fn converge_rows(
    b: &mut Bench,
    layout: &Layout,
    registry: &str,
    scratch: &Path,
    with_helm: bool,
    t: &mut Table,
) {
    let n = layout.images.len();
    // Room for werf's release and Helm's copy of it side by side.
    let (mut cluster, kubeconfig) = start_cluster(registry, scratch, 2 * n);
    let audit = scratch.join("kube/audit.log");
    let repo_arg = format!("{registry}/mono");
    let converge = |b: &mut Bench| {
        let before = writes_in(&audit, "mono");
        let log = scratch.join("converge.log");
        let file = std::fs::File::create(&log).expect("log");
        let run = measure_to(
            b.werf()
                .args([
                    "converge",
                    "--repo",
                    &repo_arg,
                    "--timeout",
                    "20m",
                    "--kube-config",
                ])
                .arg(&kubeconfig)
                .stderr(Stdio::null()),
            Stdio::from(file),
        );
        b.peak_kib = b.peak_kib.max(run.max_rss_kib);
        let out = std::fs::read_to_string(&log).expect("log");
        let summary = out
            .lines()
            .find(|l| l.starts_with("release `mono`"))
            .unwrap_or("converge FAILED (no summary)")
            .to_string();
        let build = out
            .lines()
            .find(|l| l.contains("built and pushed"))
            .unwrap_or_default()
            .split(" (")
            .next()
            .unwrap_or_default();
        Converged {
            wall: run.wall,
            writes: writes_in(&audit, "mono") - before,
            summary: format!("{}; {build}", summary.replace('|', "/")),
        }
    };
    let install = converge(b);
    // The no-ops measure werf, not the controllers still settling the install: the machine has
    // two cores, and the API server, etcd and the controllers share them.
    let (waited, quiet) = wait_until_quiet(Duration::from_secs(120));
    let noops: Vec<Converged> = (0..3).map(|_| converge(b)).collect();
    let noop_wall = median(noops.iter().map(|c| c.wall).collect());
    let noop_writes = noops.iter().map(|c| c.writes).max().unwrap_or(0);
    let before_change = with_helm.then(|| Helm::manifests(b, registry));
    let image = &layout.images[n / 2];
    let file = b.repo.join(&layout.a_source_file[image]);
    let mut text = std::fs::read_to_string(&file).expect("read");
    text.push_str("// converge bench change\n");
    std::fs::write(&file, text).expect("write");
    git(&b.repo, &["commit", "-qam", "converge bench change"]);
    let one = converge(b);
    let after_change = with_helm.then(|| Helm::manifests(b, registry));

    let helm = with_helm.then(|| Helm::new(scratch, &kubeconfig, &audit));
    let helm_runs = match (&helm, &before_change, &after_change) {
        (Some(h), Some(before), Some(after)) => {
            let install = h.run("install", before);
            wait_until_quiet(Duration::from_secs(120));
            let noops: Vec<_> = (0..3).map(|_| h.run("upgrade", before)).collect();
            let noop = (
                median(noops.iter().map(|r| r.0).collect()),
                noops.iter().map(|r| r.1).max().unwrap_or(0),
                noops.iter().all(|r| r.2),
            );
            let one = h.run("upgrade", after);
            Some([install, noop, one])
        }
        _ => None,
    };
    let objects = 2 * n;
    let noop_ok = noop_wall <= Duration::from_millis(300) && noop_writes == 0;
    let rows = [
        (
            format!("converge: first install of {objects} objects, tracked to ready"),
            &install,
            install.wall,
            install.writes,
            "",
            String::new(),
        ),
        (
            format!(
                "converge: no-op (median of 3; after the install, the machine {} {:.0} s)",
                if quiet {
                    "quiet within"
                } else {
                    "NOT quiet after"
                },
                waited.as_secs_f64()
            ),
            &noops[0],
            noop_wall,
            noop_writes,
            "2,000 objects: <= 0.3 s, 0 writes",
            if objects == 2000 {
                verdict(noop_ok)
            } else if noop_writes == 0 {
                "0 writes".into()
            } else {
                "WRITES on a no-op".into()
            },
        ),
        (
            format!("converge: one file of `{image}` changed"),
            &one,
            one.wall,
            one.writes,
            "one image built and pushed, one object patched",
            String::new(),
        ),
    ];
    for (i, (case, run, wall, writes, target, result)) in rows.into_iter().enumerate() {
        let (beside, ratio_cell) = match &helm_runs {
            Some(h) => {
                let (helm_wall, helm_writes, ok) = h[i];
                (
                    format!(
                        "Helm 4 {}: {} ({helm_writes} writes){}",
                        ["install", "upgrade, no-op", "upgrade, one change"][i],
                        secs(helm_wall),
                        if ok {
                            String::new()
                        } else {
                            format!(" FAILED (or not ready within {HELM_TIMEOUT} s)")
                        }
                    ),
                    ratio(wall, helm_wall),
                )
            }
            None => (String::new(), String::new()),
        };
        let result = [result, run.summary.clone()]
            .into_iter()
            .filter(|r| !r.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        t.push(
            &case,
            n,
            format!("{} ({writes} writes)", secs(wall)),
            beside,
            ratio_cell,
            target,
            result,
        );
    }
    // SIGTERM: kube-up stops every process it started (SIGKILL would orphan them).
    // SAFETY: `cluster` is our running child.
    unsafe { libc::kill(cluster.id() as libc::pid_t, libc::SIGTERM) };
    let _ = cluster.wait();
}

/// `werf graph --format html` at this size: construction time, page size, and page load to
/// interactive in headless Chromium (ChromeDriver), then a search and a click that must answer.
fn graph_rows(b: &Bench, layout: &Layout, t: &mut Table) {
    let n = layout.images.len();
    let page = b.home.with_file_name("graph.html");
    let file = std::fs::File::create(&page).expect("page file");
    let run = measure_to(
        b.werf().args(["graph", "--format", "html"]),
        Stdio::from(file),
    );
    let size = std::fs::metadata(&page).map(|m| m.len()).unwrap_or(0);
    t.push(
        &format!("`werf graph --format html` ({n} images, {} objects)", 2 * n),
        n,
        secs(run.wall),
        String::new(),
        String::new(),
        "",
        format!("{:.1} MiB page", size as f64 / (1 << 20) as f64),
    );
    if Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_err()
    {
        t.push(
            "page load in headless Chromium",
            n,
            String::new(),
            String::new(),
            String::new(),
            "<= 2 s",
            "skipped: no chromedriver".into(),
        );
        return;
    }
    let driver = chromium::Driver::start();
    let profile = tempfile::tempdir().expect("profile");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (load, respond, nodes) = runtime.block_on(async {
        use fantoccini::Locator;
        let c = driver.session(profile.path()).await;
        let t = Instant::now();
        c.goto(&format!("file://{}", page.display()))
            .await
            .expect("goto");
        c.wait()
            .for_element(Locator::Css("body[data-ready='true']"))
            .await
            .expect("ready");
        let load = t.elapsed();
        let nodes = c
            .find_all(Locator::Css("g.node"))
            .await
            .expect("nodes")
            .len();
        let t = Instant::now();
        let name = &layout.images[layout.images.len() / 2];
        c.find(Locator::Id("search"))
            .await
            .expect("search")
            .send_keys(name)
            .await
            .expect("type");
        // The search redraws once its pause is over: a node found before that redraw is stale,
        // so it is found again.
        let node = format!("g.node[data-id='image:{name}']");
        for attempt in 0.. {
            let clicked = match c.find(Locator::Css(&node)).await {
                Ok(e) => e.click().await,
                Err(e) => Err(e),
            };
            match clicked {
                Ok(_) => break,
                Err(fantoccini::error::CmdError::Standard(w))
                    if attempt < 50
                        && matches!(
                            w.error,
                            fantoccini::error::ErrorStatus::StaleElementReference
                                | fantoccini::error::ErrorStatus::NoSuchElement
                        ) =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(e) => panic!("click `{name}`: {e}"),
            }
        }
        let details = c
            .find(Locator::Id("details"))
            .await
            .expect("details")
            .text()
            .await
            .expect("text");
        assert!(details.contains(&format!("image {name}")), "{details}");
        let respond = t.elapsed();
        c.close().await.expect("close");
        (load, respond, nodes)
    });
    drop(driver);
    t.push(
        "page load to interactive in headless Chromium",
        n,
        secs(load),
        String::new(),
        String::new(),
        "<= 2 s",
        format!(
            "{} ({nodes} nodes drawn near the viewport; stages and files collapsed)",
            verdict(load <= Duration::from_secs(2))
        ),
    );
    t.push(
        "search an image, click it, read its details",
        n,
        secs(respond),
        String::new(),
        String::new(),
        "",
        "answered".into(),
    );
}
