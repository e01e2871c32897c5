//! The chart bench (`cargo bench --bench charts [-- --subcharts N --templates N]`): a large
//! generated chart (a root with many subcharts, each with many templates using includes,
//! `toYaml`, `tpl`, ranges and Sprig) rendered by the release `werf render` beside Helm 4
//! (`helm-python-sdk`, set up by `tests/helm/venv-up`) rendering the same chart the way
//! `helm template` does (a client-side dry-run install): one process each, end to end, and
//! Helm's call timed inside its process too. Prints a table with
//! the ratio; asserts only that both print the same manifests.
//!
//! A second table renders the public chart corpus (`tests/corpus/charts.tar.xz`, 47 real charts
//! with their dependencies) the same way, chart by chart, whole process each, and sums the
//! times (`--skip-corpus` leaves it out). Random values differ between runs, so only the
//! manifests' sizes are compared there; the differential test checks their content.

/// Only `median` is used here.
#[allow(dead_code)]
#[path = "support/measure.rs"]
mod measure;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use measure::median;

#[path = "support/monorepo.rs"]
mod monorepo;

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

const HELPERS: &str = r#"{{- define "CHART.name" -}}{{ .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- define "CHART.labels" -}}
app.kubernetes.io/name: {{ include "CHART.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.extraLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}
"#;

const TEMPLATE: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "CHART.name" . }}-NUM
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      {{- include "CHART.labels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        checksum/config: {{ toJson .Values.config | sha256sum }}
    spec:
      containers:
      - name: app
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
        env:
        {{- range $k, $v := .Values.config }}
        - name: {{ $k | upper | replace "-" "_" }}
          value: {{ tpl (toString $v) $ | quote }}
        {{- end }}
        resources:
          {{- toYaml .Values.resources | nindent 10 }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "CHART.name" . }}-NUM
spec:
  ports:
  {{- range $i, $p := .Values.ports }}
  - name: port-{{ $i }}
    port: {{ $p }}
  {{- end }}
"#;

const VALUES: &str = "replicas: 2\nimage:\n  repository: registry.example.com/app\n  tag: \"\"\nextraLabels:\n  team: platform\nconfig:\n  log-level: info\n  greeting: \"hello {{ .Release.Name }}\"\n  size: 3\nresources:\n  limits: {cpu: 100m, memory: 128Mi}\nports: [80, 443, 8080]\n";

/// The chart: a root with `subcharts` subcharts, each (and the root) with `templates` templates.
fn generate(dir: &Path, subcharts: usize, templates: usize) {
    let chart = |root: &Path, name: &str| {
        write(
            &root.join("Chart.yaml"),
            &format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\nappVersion: \"2.0\"\n"),
        );
        write(&root.join("values.yaml"), VALUES);
        write(
            &root.join("templates/_helpers.tpl"),
            &HELPERS.replace("CHART", name),
        );
        for t in 0..templates {
            write(
                &root.join(format!("templates/app-{t}.yaml")),
                &TEMPLATE
                    .replace("CHART", name)
                    .replace("NUM", &t.to_string()),
            );
        }
    };
    chart(dir, "big");
    for s in 0..subcharts {
        chart(&dir.join(format!("charts/sub{s}")), &format!("sub{s}"));
    }
}

fn run(cmd: &mut Command) -> (Duration, String) {
    let t = Instant::now();
    let out = cmd.stderr(Stdio::inherit()).output().expect("runs");
    let wall = t.elapsed();
    assert!(out.status.success(), "{cmd:?} failed");
    (wall, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let subcharts = arg(&args, "--subcharts", 50);
    let templates = arg(&args, "--templates", 10);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = Command::new("bash")
        .arg(root.join("tests/helm/venv-up"))
        .output()
        .expect("venv-up");
    assert!(venv.status.success(), "tests/helm/venv-up failed");
    let python = String::from_utf8_lossy(&venv.stdout).trim().to_string();

    let dir = tempfile::tempdir().expect("tempdir");
    generate(&dir.path().join(".helm"), subcharts, templates);
    write(
        &dir.path().join("werf.yaml"),
        "project: big\nconfigVersion: 1\n",
    );
    commit_all(dir.path());
    let home = tempfile::tempdir().expect("home");
    let werf = env!("CARGO_BIN_EXE_werf");
    let werf_runs: Vec<(Duration, String)> = (0..3)
        .map(|_| {
            run(Command::new(werf)
                .args(["render", "--release", "r", "--namespace", "ns"])
                .current_dir(dir.path())
                .env("HOME", home.path())
                .env("XDG_CACHE_HOME", home.path()))
        })
        .collect();
    let helm_script = r#"
import json, sys, time
from helm_python.config import Config
# `helm template`'s path: a client-side dry-run install of the chart folder.
t = time.perf_counter()
m = Config(storage_driver="memory", namespace="ns").install(sys.argv[1], "r", {}, dry_run="client", namespace="ns")["manifest"]
inner = time.perf_counter() - t
print(json.dumps({"render_seconds": inner, "manifest": m}))
"#;
    let chart_dir = dir.path().join(".helm");
    let helm_runs: Vec<(Duration, String)> = (0..3)
        .map(|_| {
            run(Command::new(&python)
                .args(["-c", helm_script])
                .arg(&chart_dir))
        })
        .collect();
    let helm_inner = median(
        helm_runs
            .iter()
            .map(|(_, out)| {
                let v: serde_json::Value = serde_json::from_str(out).expect("JSON");
                Duration::from_secs_f64(v["render_seconds"].as_f64().expect("seconds"))
            })
            .collect(),
    );
    let helm_manifest: serde_json::Value = serde_json::from_str(&helm_runs[0].1).expect("JSON");
    let same = werf_runs[0].1 == helm_manifest["manifest"].as_str().expect("manifest");
    assert!(same, "werf render and Helm 4 printed different manifests");
    let documents = werf_runs[0].1.matches("\n# Source: ").count() + 1;
    let werf_wall = median(werf_runs.iter().map(|r| r.0).collect());
    let helm_wall = median(helm_runs.iter().map(|r| r.0).collect());
    println!();
    println!("werf-rs chart bench: {subcharts} subcharts x {templates} templates (+ the root's), {documents} documents");
    println!();
    println!("| render | werf-rs | Helm 4 | Helm 4 / werf-rs |");
    println!("|---|---|---|---|");
    println!(
        "| one process, end to end (median of 3) | {:.3} s | {:.3} s | {:.2}x |",
        werf_wall.as_secs_f64(),
        helm_wall.as_secs_f64(),
        helm_wall.as_secs_f64() / werf_wall.as_secs_f64()
    );
    println!(
        "| Helm's load + render call alone (no process start), in process | | {:.3} s | {:.2}x |",
        helm_inner.as_secs_f64(),
        helm_inner.as_secs_f64() / werf_wall.as_secs_f64()
    );
    println!(
        "| same manifests, byte for byte | {} | | |",
        if same { "yes" } else { "NO" }
    );
    println!();
    if !args.iter().any(|a| a == "--skip-corpus") {
        corpus(&root, &python, werf);
    }
}

/// The public chart corpus, each chart rendered by both, whole process, median of 3 each.
fn corpus(root: &Path, python: &str, werf: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let unpacked = Command::new("tar")
        .arg("-C")
        .arg(dir.path())
        .arg("-xJf")
        .arg(root.join("tests/corpus/charts.tar.xz"))
        .status()
        .expect("tar");
    assert!(unpacked.success(), "unpacking the corpus");
    let charts_dir = dir.path().join("charts");
    let mut names: Vec<String> = std::fs::read_dir(&charts_dir)
        .expect("corpus")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Chart.yaml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let helm_script = r#"
import sys
from helm_python.config import Config
s = Config(storage_driver="memory", namespace="corpus").install(sys.argv[1], "corpus", {}, dry_run="client", namespace="corpus")
print(s.get("manifest", ""), end="")
"#;
    let home = tempfile::tempdir().expect("home");
    let (mut werf_total, mut helm_total) = (Duration::ZERO, Duration::ZERO);
    let (mut werf_bytes, mut helm_bytes) = (0usize, 0usize);
    let mut slowest: Vec<(f64, String)> = Vec::new();
    for name in &names {
        let chart = charts_dir.join(name);
        let project = tempfile::tempdir().expect("project");
        copy(&chart, &project.path().join(".helm"));
        write(
            &project.path().join("werf.yaml"),
            "project: corpus\nconfigVersion: 1\n",
        );
        commit_all(project.path());
        let werf_runs: Vec<(Duration, String)> = (0..3)
            .map(|_| {
                run(Command::new(werf)
                    .args(["render", "--release", "corpus", "--namespace", "corpus"])
                    .current_dir(project.path())
                    .env("HOME", home.path())
                    .env("XDG_CACHE_HOME", home.path()))
            })
            .collect();
        let helm_runs: Vec<(Duration, String)> = (0..3)
            .map(|_| run(Command::new(python).args(["-c", helm_script]).arg(&chart)))
            .collect();
        let w = median(werf_runs.iter().map(|r| r.0).collect());
        let h = median(helm_runs.iter().map(|r| r.0).collect());
        werf_total += w;
        helm_total += h;
        werf_bytes += werf_runs[0].1.len();
        helm_bytes += helm_runs[0].1.len();
        slowest.push((w.as_secs_f64(), name.clone()));
    }
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!(
        "werf-rs chart corpus bench: {} public charts, each rendered whole-process (median of 3)",
        names.len()
    );
    println!();
    println!("| render | werf-rs | Helm 4 | Helm 4 / werf-rs |");
    println!("|---|---|---|---|");
    println!(
        "| the corpus, sum of per-chart medians | {:.2} s | {:.2} s | {:.2}x |",
        werf_total.as_secs_f64(),
        helm_total.as_secs_f64(),
        helm_total.as_secs_f64() / werf_total.as_secs_f64()
    );
    println!(
        "| per chart, mean | {:.3} s | {:.3} s | |",
        werf_total.as_secs_f64() / names.len() as f64,
        helm_total.as_secs_f64() / names.len() as f64
    );
    println!("| manifest bytes printed (werf-rs adds hooks) | {werf_bytes} | {helm_bytes} | |");
    if let Some((t, name)) = slowest.first() {
        println!("| slowest chart for werf-rs | {t:.3} s (`{name}`) | | |");
    }
    println!();
}

/// A new repository in `dir` with everything in it committed (ignored files too: a chart's own
/// `.gitignore` may exclude its vendored `charts/`).
fn commit_all(dir: &Path) {
    monorepo::git(dir, &["init", "-q", "-b", "main"]);
    monorepo::git(dir, &["add", "-A", "-f"]);
    monorepo::git(dir, &["commit", "-q", "-m", "chart"]);
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        if e.file_type().expect("type").is_dir() {
            copy(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}
