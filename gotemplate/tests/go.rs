//! Differential test: the template engine in Go's plain mode (what werf.yaml's templates use)
//! against Go's own `text/template` + Sprig 3. Charts render in Helm's mode, whose reference is
//! Helm 4 itself (`helm4.rs`, over the same corpus and more); Go answers here for what Helm 4
//! cannot: the engine without Helm's options (`<no value>`, a field of nil as no value).
//!
//! The corpus (`common/corpus.rs`) is rendered by `tests/gotmpl/main.go` (Go and Debian's Sprig package, set up
//! by `.ci/run`) and by the Rust engine; outputs must be byte-identical, and a template that
//! fails in Go must fail in Rust.

use std::io::Write;
use std::process::{Command, Stdio};

use gotemplate::{render, Value};
use serde_json::{json, Value as Json};

#[path = "common/compare.rs"]
mod compare;
#[path = "common/corpus.rs"]
mod corpus;

use compare::Compared;
use corpus::corpus;

fn go_outputs(cases: &[(&str, &str, Json)]) -> Vec<(String, String)> {
    let input: Vec<Json> = cases
        .iter()
        .map(|(n, t, v)| json!({"name": n, "template": t, "values": v}))
        .collect();
    let harness = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/gotmpl/main.go");
    let gocache = std::env::temp_dir().join("werf-rs-gocache");
    let mut child = Command::new("go")
        .args(["run", harness])
        .env("GOPATH", "/usr/share/gocode")
        .env("GO111MODULE", "off")
        .env("TZ", "UTC")
        .env("GOFLAGS", "")
        .env("GOCACHE", gocache)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "Go is installed (golang-go; .ci/run installs it with tests/cluster/build-kubernetes)",
        );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&input).expect("json").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("go runs");
    assert!(
        out.status.success(),
        "the Go harness failed (is golang-github-masterminds-sprig-dev installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Json> = serde_json::from_slice(&out.stdout).expect("harness prints JSON");
    results
        .iter()
        .map(|r| {
            (
                r["output"].as_str().unwrap_or_default().to_string(),
                r["error"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The line and column and the first words of the cause (`error calling div:`, `unexpected
/// EOF`) of an error, without Go's `executing "NAME" at <...>:` context, which our engine does
/// not print.
fn failure_class(message: &str) -> (String, String) {
    let rest = message.strip_prefix("template: ").unwrap_or(message);
    // NAME:LINE[:COL]: cause
    let mut parts = rest.splitn(4, ':');
    let _name = parts.next();
    let line = parts.next().unwrap_or_default().trim().to_string();
    let tail: String = parts.collect::<Vec<_>>().join(":");
    let col: String = tail.chars().take_while(|c| c.is_ascii_digit()).collect();
    let line = if col.is_empty() {
        line
    } else {
        format!("{line}:{col}")
    };
    let tail = tail
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start_matches(':');
    let cause = match tail.find(" executing \"") {
        Some(_) => tail.split_once(">: ").map(|(_, c)| c).unwrap_or(tail),
        None => tail,
    };
    let words: Vec<&str> = cause.split_whitespace().take(3).collect();
    (line, words.join(" "))
}

fn same_failure(ours: &str, go: &str) -> bool {
    let (ours, go) = (failure_class(ours), failure_class(go));
    ours.0 == go.0
        && !go.1.is_empty()
        && ours.1.starts_with(&go.1[..go.1.len().min(ours.1.len())])
        && ours.1.split(' ').next() == go.1.split(' ').next()
}

#[test]
fn failure_classes_compare_cause_and_line() {
    assert!(same_failure(
        "template: t:1:3: error calling div: runtime error: integer divide by zero",
        "template: t:1:3: executing \"t\" at <div 1 0>: error calling div: runtime error: integer divide by zero",
    ));
    assert!(!same_failure(
        "template: t:1:4: error calling div: runtime error: integer divide by zero",
        "template: t:1:3: executing \"t\" at <div 1 0>: error calling div: runtime error: integer divide by zero",
    ));
    assert!(!same_failure(
        "template: t:1:4: error calling mod: x",
        "template: t:1:3: executing \"t\" at <div 1 0>: error calling div: x",
    ));
    assert!(!same_failure(
        "template: t:2:4: unexpected EOF",
        "template: t:1: unexpected EOF",
    ));
}

#[test]
fn rendering_matches_go_text_template_and_sprig() {
    let cases = corpus();
    let go = go_outputs(&cases);
    let mut mismatches = Vec::new();
    for ((name, text, values), (go_out, go_err)) in cases.iter().zip(go) {
        let ours = render(name, text, &Value::from_json(values)).map_err(|e| e.to_string());
        if let Compared::Differs(m) =
            compare::compare("go", name, ours, (&go_out, &go_err), same_failure)
        {
            mismatches.push(m);
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from Go:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

#[test]
fn arbitrary_template_text_never_panics() {
    // A deterministic fuzz: every prefix, and mutations, of a template exercising the grammar.
    let seed = "{{- define \"x\" }}{{ range $i, $v := .list }}{{ if and $v (eq $i 1) }}{{ printf \"%q\" $v | upper }}{{ else }}{{ . }}{{ end }}{{ end }}{{ end -}}{{ template \"x\" . }}{{/* c */}}{{ (index .m \"k\").f }}";
    let data = Value::from_json(&json!({"list": ["a", "b"], "m": {"k": {"f": 1}}}));
    let bytes = seed.as_bytes();
    let mut state = 0x2545F4914F6CDD1Du64;
    for len in 0..=bytes.len() {
        if let Ok(prefix) = std::str::from_utf8(&bytes[..len]) {
            let _ = render("p", prefix, &data);
        }
    }
    for _ in 0..2000 {
        let mut m = bytes.to_vec();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % m.len() as u64) as usize;
            let b = b"{}()|$.\" -=:,abc123"[(state >> 32) as usize % 19];
            m[at] = b;
        }
        if let Ok(s) = std::str::from_utf8(&m) {
            let _ = render("m", s, &data);
        }
    }
}
