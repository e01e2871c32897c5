//! Helm 4 over the public chart corpus: 47 real charts (`tests/corpus/charts.tar.xz`, packed
//! from `../shared/charts` by `tests/corpus/refresh`; origins in `tests/corpus/SOURCES.md`),
//! each rendered by Helm 4 itself and by `werf render` (release `corpus`, namespace `corpus`),
//! with default values and with a few value sets that turn on more of the templates.
//!
//! Any difference is a failure. Charts that make random passwords, keys and certificates render
//! differently on every run, Helm's own included; Helm renders each case twice, and a line
//! that differs between its two runs is compared by shape: the same words where Helm's runs
//! agree, words of the same length where they do not, and certificates by their parsed fields.
//! Hooks, which Helm keeps out of its manifest, are compared document by document.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;

use crate::helm_diff::{helm_render, pieces, root, werf_render, HelmRender};

/// The corpus, unpacked once: into the target folder's temp space (`CARGO_TARGET_TMPDIR`), one
/// copy per archive content (the folder is named by the archive's size and BLAKE3), unpacked
/// beside it and renamed into place, so runs share it and the build folder holds one copy.
fn corpus() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let archive = root().join("tests/corpus/charts.tar.xz");
        let bytes = std::fs::read(&archive).expect("the corpus archive");
        let key = blake3::hash(&bytes).to_hex();
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = base.join(format!("corpus-{}-{}", bytes.len(), &key[..16]));
        if !dir.join("charts").is_dir() {
            // Older copies go first.
            if let Ok(entries) = std::fs::read_dir(&base) {
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().starts_with("corpus-") {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
            let part = base.join(format!("corpus-part-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&part);
            std::fs::create_dir_all(&part).expect("corpus dir");
            let out = Command::new("tar")
                .arg("-C")
                .arg(&part)
                .arg("-xJf")
                .arg(&archive)
                .output()
                .expect("tar runs");
            assert!(
                out.status.success(),
                "unpacking the corpus: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            if std::fs::rename(&part, &dir).is_err() {
                // Another run put it there first.
                let _ = std::fs::remove_dir_all(&part);
            }
        }
        dir.join("charts")
    })
}

fn chart_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus())
        .expect("corpus")
        .map(|e| e.expect("entry"))
        .filter(|e| e.path().join("Chart.yaml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Value sets beyond the defaults: (chart, values YAML).
const VALUE_SETS: &[(&str, &str)] = &[
    (
        "apache",
        "ingress:\n  enabled: true\n  hostname: web.example.com\nmetrics:\n  enabled: true\nautoscaling:\n  enabled: true\n  minReplicas: 2\n",
    ),
    (
        "postgresql-ha",
        "metrics:\n  enabled: true\npgpool:\n  replicaCount: 2\npostgresql:\n  password: fixed-password\n  repmgrPassword: fixed-too\n",
    ),
    (
        "prometheus-json-exporter",
        "serviceMonitor:\n  enabled: true\ningress:\n  enabled: true\n  hosts:\n    - host: json.example.com\n      paths:\n        - path: /\n          pathType: Prefix\n",
    ),
    (
        "nats",
        "auth:\n  enabled: true\n  user: u\n  password: p\nmetrics:\n  enabled: true\nreplicaCount: 3\n",
    ),
    (
        "cert-manager",
        "webhook:\n  replicaCount: 2\ncainjector:\n  enabled: false\nresources:\n  limits:\n    cpu: 100m\n",
    ),
    (
        "metrics-server",
        "apiService:\n  create: true\npdb:\n  create: true\n  minAvailable: 1\n",
    ),
];

fn helm(chart: &Path, values: Option<&Path>) -> HelmRender {
    helm_render(chart, "corpus", "corpus", values)
        .unwrap_or_else(|e| panic!("{}: Helm 4 fails on the corpus: {e}", chart.display()))
}

/// A line's words (base64, names, numbers) and what lies between them.
fn tokens(line: &str) -> Vec<&str> {
    let word = |c: char| c.is_ascii_alphanumeric() || "+/=_-".contains(c);
    let mut out = Vec::new();
    let mut start = 0;
    let mut last: Option<bool> = None;
    for (i, c) in line.char_indices() {
        let w = word(c);
        if last.is_some_and(|l| l != w) {
            out.push(&line[start..i]);
            start = i;
        }
        last = Some(w);
    }
    if start < line.len() {
        out.push(&line[start..]);
    }
    out
}

/// The fields of a certificate that no random choice changes.
fn certificate_shape(der: &[u8]) -> Option<String> {
    let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut extensions: Vec<String> = c
        .extensions()
        .iter()
        .map(|e| format!("{}{}", e.oid, if e.critical { "!" } else { "" }))
        .collect();
    extensions.sort();
    let san: Vec<String> = c
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|s| {
            s.value
                .general_names
                .iter()
                .map(|n| n.to_string())
                .collect()
        })
        .unwrap_or_default();
    Some(format!(
        "subject={} issuer={} days={} ca={:?} san={san:?} key={} ext={extensions:?}",
        c.subject(),
        c.issuer(),
        (c.validity().not_after.timestamp() - c.validity().not_before.timestamp()) / 86400,
        c.basic_constraints().ok().flatten().map(|b| b.value.ca),
        c.public_key().algorithm.algorithm,
    ))
}

/// What a random word stands for: the PEM blocks inside it (certificates by their fields), or
/// its length.
fn random_shape(word: &str) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let text = engine
        .decode(word)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let blocks = pem::parse_many(&text).unwrap_or_default();
    if blocks.is_empty() {
        return format!("{} characters", word.len());
    }
    blocks
        .iter()
        .map(|b| match b.tag() {
            "CERTIFICATE" => certificate_shape(b.contents())
                .unwrap_or_else(|| "an unreadable certificate".into()),
            tag => tag.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Whether `ours` has the shape of a line that reads `first` and `second` in two Helm runs.
fn same_shape(first: &str, second: &str, ours: &str) -> bool {
    let (a, b, c) = (tokens(first), tokens(second), tokens(ours));
    a.len() == b.len()
        && a.len() == c.len()
        && a.iter().zip(&b).zip(&c).all(|((x, y), z)| {
            if x == y {
                x == z
            } else {
                random_shape(x) == random_shape(z) && random_shape(x) == random_shape(y)
            }
        })
}

/// The differences between `ours` and Helm's two runs, as a readable list (empty: the same).
fn differences(first: &str, second: &str, ours: &str) -> Vec<String> {
    let (a, b, c): (Vec<&str>, Vec<&str>, Vec<&str>) = (
        first.split('\n').collect(),
        second.split('\n').collect(),
        ours.split('\n').collect(),
    );
    if a.len() != b.len() {
        return vec![format!(
            "Helm's two runs differ in length ({} and {} lines): no comparison by shape",
            a.len(),
            b.len()
        )];
    }
    let mut out = Vec::new();
    for (i, ((x, y), z)) in a
        .iter()
        .zip(&b)
        .zip(c.iter().chain(std::iter::repeat(&"<none>")))
        .enumerate()
    {
        let ok = if x == y { x == z } else { same_shape(x, y, z) };
        if !ok {
            out.push(format!("line {}:\n  - {x}\n  + {z}", i + 1));
            if out.len() >= 5 {
                break;
            }
        }
    }
    if c.len() > a.len() {
        out.push(format!(
            "{} more lines: {:?}",
            c.len() - a.len(),
            &c[a.len()..]
        ));
    }
    out
}

/// Hook documents of Helm's rendered templates, by source, as Helm splits them (trimmed).
fn helm_hooks(render: &HelmRender) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (source, text) in &render.templates {
        if source.ends_with("/NOTES.txt") {
            continue;
        }
        for doc in text.split("\n---") {
            let doc = doc.trim();
            let doc = doc.strip_prefix("---").unwrap_or(doc).trim();
            if doc.is_empty() {
                continue;
            }
            let parsed = gotemplate::yaml::load::load(doc).expect("Helm's output is YAML");
            if parsed
                .pointer("/metadata/annotations/helm.sh~1hook")
                .is_some()
            {
                out.push((source.clone(), doc.to_string()));
            }
        }
    }
    out.sort_by_key(|(s, d)| (s.clone(), identity(d)));
    out
}

/// `kind/name` of a document.
fn identity(doc: &str) -> String {
    let v = gotemplate::yaml::load::load(doc).unwrap_or_default();
    format!(
        "{}/{}",
        v["kind"].as_str().unwrap_or_default(),
        v.pointer("/metadata/name")
            .and_then(|n| n.as_str())
            .unwrap_or_default()
    )
}

/// One case: both renders and every difference found.
fn compare(chart: &str, values: Option<&str>) -> Vec<String> {
    let dir = corpus().join(chart);
    let values_file = values.map(|text| {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("values-{chart}-{}.yaml", std::process::id()));
        std::fs::write(&path, text).expect("values file");
        path
    });
    let case = match values {
        None => format!("{chart} (default values)"),
        Some(_) => format!("{chart} (value set)"),
    };
    // Ours renders between Helm's two runs: a word that reads the clock (`now`) is then the
    // same in all three when Helm's runs agree, or differs between Helm's runs and is compared
    // by shape (rendered after both, ours could read the next second where Helm's agreed).
    let first = helm(&dir, values_file.as_deref());
    let ours = werf_render(&dir, "corpus", "corpus", values_file.as_deref());
    let second = helm(&dir, values_file.as_deref());
    let ours = match ours {
        (true, out, _) => out,
        (false, _, e) => {
            return vec![format!(
                "{case}: werf render failed where Helm 4 renders: {e}"
            )]
        }
    };
    let mut problems = Vec::new();
    assert!(
        !first.manifest.is_empty() || chart == "common" || chart == "argocd-apps",
        "{case}: Helm rendered nothing"
    );
    // The manifest: ours begins with Helm's pieces, source for source, text for text.
    let (p1, p2, ours) = (
        pieces(&first.manifest),
        pieces(&second.manifest),
        pieces(&ours),
    );
    let n = p1.len();
    let (manifest, our_hooks) = ours.split_at(n.min(ours.len()));
    let names =
        |v: &[(String, String)]| -> Vec<String> { v.iter().map(|(s, _)| s.clone()).collect() };
    if names(manifest) != names(&p1) || names(&p1) != names(&p2) {
        problems.push(format!(
            "{case}: the manifest's documents differ:\n  Helm: {:?}\n  werf: {:?}",
            names(&p1),
            names(manifest)
        ));
    } else {
        for (((s, x), (_, y)), (_, z)) in p1.iter().zip(&p2).zip(manifest) {
            for d in differences(x, y, z) {
                problems.push(format!("{case}: {s}: {d}"));
            }
        }
    }
    // Hooks: the rest of ours, document for document.
    let mut our_hooks: Vec<(String, String)> = our_hooks
        .iter()
        .map(|(s, d)| (s.clone(), d.trim().to_string()))
        .collect();
    our_hooks.sort_by_key(|(s, d)| (s.clone(), identity(d)));
    let (h1, h2) = (helm_hooks(&first), helm_hooks(&second));
    let sources = |v: &[(String, String)]| -> Vec<String> {
        v.iter()
            .map(|(s, d)| format!("{s} {}", identity(d)))
            .collect()
    };
    if sources(&our_hooks) != sources(&h1) {
        problems.push(format!(
            "{case}: hooks differ:\n  Helm: {:?}\n  werf: {:?}",
            sources(&h1),
            sources(&our_hooks)
        ));
    } else {
        for (((s, x), (_, y)), (_, z)) in h1.iter().zip(&h2).zip(&our_hooks) {
            for d in differences(x, y, z) {
                problems.push(format!("{case}: hook {s}: {d}"));
            }
        }
    }
    if let Some(p) = values_file {
        let _ = std::fs::remove_file(p);
    }
    problems
}

#[test]
fn shapes_tell_random_words_from_real_differences() {
    let helm1 = "  password: \"aDRXTFFPNDl5Vg==\"";
    let helm2 = "  password: \"YVN4MFA0NUk3cA==\"";
    assert!(same_shape(helm1, helm2, "  password: \"ZmZjcGtLV2dxMw==\""));
    assert!(!same_shape(helm1, helm2, "  password: \"\""));
    assert!(!same_shape(helm1, helm2, "  secret: \"ZmZjcGtLV2dxMw==\""));
    assert!(differences("a\nb: 1", "a\nb: 2", "a\nb: 3").is_empty());
    assert_eq!(differences("a\nb: 1", "a\nb: 2", "x\nb: 3").len(), 1);
    assert_eq!(differences("a\nb", "a\nb", "a\nb\nc").len(), 1);
}

#[test]
fn every_public_chart_renders_as_helm_4_renders_it() {
    let names = chart_names();
    assert!(
        names.len() >= 47,
        "the corpus has {} charts: {names:?}",
        names.len()
    );
    let mut cases: Vec<(String, Option<&str>)> = names.iter().map(|n| (n.clone(), None)).collect();
    for (chart, values) in VALUE_SETS {
        assert!(names.iter().any(|n| n == chart), "{chart} is in the corpus");
        cases.push((chart.to_string(), Some(values)));
    }
    // Two at a time: each case runs Helm twice and werf once.
    let problems: Vec<String> = std::thread::scope(|s| {
        let chunks: Vec<_> = cases.chunks(cases.len().div_ceil(2)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .flat_map(|(chart, values)| compare(chart, *values))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a comparison thread"))
            .collect()
    });
    assert!(
        problems.is_empty(),
        "{} differences from Helm 4 over {} cases:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
}
