//! Differential test: the template engine in Helm's mode against Helm 4 itself, the reference
//! for everything a chart renders.
//!
//! Helm 4 (PyPI's `helm-python-sdk`, set up by `tests/helm/venv-up`) renders each case as a
//! chart's `templates/_case.tpl`, run with `.` bound to the case's values by
//! `{{ template "probe/templates/_case.tpl" .Values }}` (`tests/helm/helm.py probe`). The engine
//! renders the same two templates the way `werf render` runs a chart: a field of nil is an
//! error, `<no value>` prints as nothing, values are YAML's (every number a float64). Outputs
//! must be byte-identical; a case that fails in Helm 4 must fail here with the same cause at the
//! same line and column.

use std::path::{Path, PathBuf};
use std::process::Command;

use gotemplate::{exec::Exec, helm, Set, Value};
use serde_json::{json, Value as Json};

#[path = "common/compare.rs"]
mod compare;
#[path = "common/corpus.rs"]
mod corpus;

use compare::Compared;

const CASE: &str = "probe/templates/_case.tpl";
const RUNNER: &str = "probe/templates/case.yaml";

/// Cases where Helm 4's Go (1.18 on) differs from Go 1.19's `text/template` as Debian ships it,
/// or where Helm's mode matters.
fn helm_cases() -> Vec<(&'static str, &'static str, Json)> {
    let v = json!({
        "m": {}, "l": [1], "s": "x", "e": "", "n": null,
        "resources": {"requests": {"cpu": "1"}},
        "deep": {"a": {"b": {"c": "d"}}}
    });
    vec![
        ("eq-nil", "{{ eq nil nil }} {{ eq .missing .n }} {{ eq .m nil }} {{ eq .l nil }} {{ eq nil .s }} {{ eq 1 .missing }} {{ eq true nil }} {{ eq .e nil }} {{ eq (dict) nil }}", v.clone()),
        ("ne-nil", "{{ ne .missing \"x\" }} {{ ne nil nil }} {{ ne .s .missing }}", v.clone()),
        ("eq-nil-then-mismatch", "{{ eq .s nil 1 \"x\" }}", v.clone()),
        ("eq-int-int64", "{{ eq 1 (int64 1) }} {{ eq 2 (int64 1) }}", v.clone()),
        ("error-eq-int-float", "{{ eq 1 1.5 }}", v.clone()),
        ("error-eq-maps", "{{ eq .m .m }}", v.clone()),
        ("error-eq-lists", "{{ eq (list 1) (list 1) }}", v.clone()),
        ("error-lt-nil", "{{ lt nil 1 }}", v.clone()),
        ("error-lt-bools", "{{ lt true false }}", v.clone()),
        ("error-lt-mixed", "{{ lt 1 \"a\" }}", v.clone()),
        ("error-le-nils", "{{ le .n .n }}", v.clone()),
        ("paren-field-of-missing", "[{{ (.resources.limits).cpu }}] [{{ (.resources.requests).cpu }}] [{{ (.m.a).b.c }}]", v.clone()),
        ("var-field-of-missing", "{{ $x := .m.a }}[{{ $x.b }}] {{ $y := .deep.a }}[{{ $y.b.c }}]", v.clone()),
        ("error-field-chain-through-missing", "{{ .m.a.b }}", v.clone()),
        ("error-paren-then-missing-then-field", "{{ (.m).a.b }}", v.clone()),
        ("error-field-of-nil-in-range", "{{ range list nil }}{{ .a }}{{ end }}", v.clone()),
        ("tpl-empty", "a{{ tpl \"\" . }}|{{ tpl \" \" . }}|{{ tpl \"{{/* c */}}\" . }}|{{ tpl \"\\n\" . }}|", v.clone()),
        ("tpl-empty-inside-tpl", "{{ tpl \"<{{ tpl \\\"\\\" . }}>\" . }}", v.clone()),
        ("tpl-define-only", "c{{ tpl \"{{ define \\\"x\\\" }}y{{ end }}\" . }}|", v.clone()),
        ("quote-nil", "[{{ quote nil }}] [{{ quote .missing \"a\" }}] [{{ squote .n }}]", v.clone()),
        ("missing-prints-nothing", "[{{ .missing }}] [{{ .m.zzz }}] [{{ print .missing }}]", v.clone()),
        ("default-of-missing", "{{ default \"d\" .missing }} {{ default \"d\" (.m.a).b }}", v.clone()),
        ("set-shows-through-every-path", "{{ $_ := set .deep.a \"x\" 1 }}{{ .deep.a.x }} {{ $d := .deep }}{{ $d.a.x }} {{ toJson .deep }} {{ $r := .resources }}{{ $_ := set $r \"n\" 2 }}{{ .resources.n }}", v.clone()),
        ("set-inside-include", "{{ define \"setter\" }}{{ $_ := set .a \"y\" \"z\" }}{{ end }}{{ include \"setter\" .deep }}{{ .deep.a.y }} {{ .deep | toJson }}", v.clone()),
        ("unset-and-merge-in-place", "{{ $_ := unset .deep.a \"b\" }}{{ toJson .deep }} {{ $_ := merge .m (dict \"k\" 1) }}{{ .m.k }} {{ $_ := mergeOverwrite .resources (dict \"requests\" (dict \"cpu\" \"2\")) }}{{ .resources.requests.cpu }}", v.clone()),
        ("set-then-range", "{{ $_ := set .m \"b\" 2 }}{{ $_ := set .m \"a\" 1 }}{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }} {{ len .m }}", v.clone()),
        ("fromYaml-empty-block-scalars", "{{ fromYaml \"a: |\\n\\nb: |\\nc: |+\\n\\nd: >\\n\\n\\ne: |-\\n\\nf: |\\n  x\\n\\ng: |\\n\" | toJson }}", v.clone()),
        ("with-missing", "{{ with (.resources.limits).cpu }}x{{ else }}none{{ end }}", v.clone()),
    ]
}

/// The venv's python, set up by the project's own script.
fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .arg(root.join("tests/helm/venv-up"))
        .output()
        .expect("venv-up runs");
    assert!(
        out.status.success(),
        "tests/helm/venv-up failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Helm 4's (output, error) for each case.
fn helm_outputs(cases: &[(&str, &str, Json)]) -> Vec<(String, String)> {
    let input: Vec<Json> = cases
        .iter()
        .map(|(n, t, v)| json!({"name": n, "template": t, "values": v}))
        .collect();
    let dir = std::env::temp_dir().join(format!("werf-rs-helm4-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("cases.json");
    std::fs::write(&file, serde_json::to_vec(&input).expect("json")).expect("write cases");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/helm/helm.py");
    let out = Command::new(python())
        .arg(script)
        .arg("probe")
        .arg(&file)
        .env("TZ", "UTC")
        .output()
        .expect("helm.py runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "helm.py probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Json> = serde_json::from_slice(&out.stdout).expect("helm.py answers JSON");
    assert_eq!(results.len(), cases.len(), "one answer per case");
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

/// The case as a chart renders it: `_case.tpl` run by the runner template, in Helm's mode.
fn ours(text: &str, values: &Json) -> Result<String, gotemplate::Error> {
    let funcs = helm::shared();
    let mut set = Set::with_functions(funcs.clone());
    set.parse(CASE, text)?;
    set.parse(RUNNER, &format!("{{{{ template {CASE:?} .Values }}}}"))?;
    let mut exec = Exec::new(&set, funcs);
    exec.nil_field_is_error = true;
    let root = Value::map(
        [("Values".to_string(), Value::from_json(values))]
            .into_iter()
            .collect(),
    );
    Ok(exec.render(RUNNER, &root)?.replace("<no value>", ""))
}

/// (`LINE:COL`, the cause's first words) of an error in any wording: Go's one line
/// (`template: NAME:LINE:COL: executing "NAME" at <...>: cause`), Helm 4's three
/// (`NAME:LINE:COL\n  executing "NAME" at <...>:\n    cause`), or Helm's rewordings of a parse
/// error (`parse error at (NAME:LINE): cause`) and of `fail` (`execution error at
/// (NAME:LINE:COL): message`); ours is Go's without the `executing` part.
fn failure_class(message: &str) -> (String, String) {
    for head in ["parse error at (", "execution error at ("] {
        if let Some(rest) = message.strip_prefix(head) {
            let (place, cause) = rest.split_once("): ").unwrap_or((rest, ""));
            let place = place.strip_prefix(CASE).unwrap_or(place);
            let words: Vec<&str> = cause.split_whitespace().take(4).collect();
            return (place.trim_start_matches(':').to_string(), words.join(" "));
        }
    }
    let message = message.replacen("error calling fail: ", "", 1);
    let rest = message.strip_prefix("template: ").unwrap_or(&message);
    let rest = rest.strip_prefix(CASE).unwrap_or(rest);
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let place: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':')
        .collect();
    let place = place.trim_end_matches(':').to_string();
    let tail = &rest[place.len()..];
    let cause = match tail.find("executing \"") {
        Some(at) => tail[at..].split_once(">:").map(|(_, c)| c).unwrap_or(tail),
        None => tail.trim_start_matches(':'),
    };
    let words: Vec<&str> = cause.split_whitespace().take(4).collect();
    (place, words.join(" "))
}

/// The same place, and Helm's cause words begin ours (our parse errors may add a hint:
/// `unexpected EOF: {{if}} has no {{end}}`).
fn same_failure(ours: &str, helm: &str) -> bool {
    let (ours, helm) = (failure_class(ours), failure_class(helm));
    ours.0 == helm.0 && !helm.1.is_empty() && {
        let (o, h): (Vec<&str>, Vec<&str>) =
            (ours.1.split(' ').collect(), helm.1.split(' ').collect());
        o.len() >= h.len()
            && o.iter().zip(&h).enumerate().all(|(i, (a, b))| {
                a == b || (i + 1 == h.len() && a.trim_end_matches(':') == b.trim_end_matches(':'))
            })
    }
}

#[test]
fn failure_classes_read_both_wordings() {
    assert!(same_failure(
        "template: probe/templates/_case.tpl:1: unexpected EOF: {{if}} has no {{end}}",
        "parse error at (probe/templates/_case.tpl:1): unexpected EOF"
    ));
    assert!(!same_failure(
        "template: probe/templates/_case.tpl:1: unexpected EOF: {{if}} has no {{end}}",
        "parse error at (probe/templates/_case.tpl:2): unexpected EOF"
    ));
    assert!(!same_failure(
        "template: probe/templates/_case.tpl:1:3: error calling eq: x",
        "template: probe/templates/_case.tpl:1:3: executing \"x\" at <lt 1 2>: error calling lt: x"
    ));
    assert_eq!(
        failure_class("probe/templates/_case.tpl:1:5\n  executing \"probe/templates/_case.tpl\" at <.m.a.b>:\n    nil pointer evaluating interface {}.b"),
        ("1:5".to_string(), "nil pointer evaluating interface".to_string())
    );
    assert_eq!(
        failure_class("template: probe/templates/_case.tpl:1:3: executing \"probe/templates/_case.tpl\" at <eq .m .m>: error calling eq: non-comparable type"),
        ("1:3".to_string(), "error calling eq: non-comparable".to_string())
    );
    assert_eq!(
        failure_class(
            "template: probe/templates/_case.tpl:1:3: error calling eq: non-comparable type map[]"
        ),
        (
            "1:3".to_string(),
            "error calling eq: non-comparable".to_string()
        )
    );
    assert_eq!(
        failure_class("template: probe/templates/_case.tpl:2: unexpected EOF"),
        ("2".to_string(), "unexpected EOF".to_string())
    );
    assert_eq!(
        failure_class("parse error at (probe/templates/_case.tpl:2): unexpected EOF"),
        ("2".to_string(), "unexpected EOF".to_string())
    );
    assert_eq!(
        failure_class("execution error at (probe/templates/_case.tpl:1:3): stop here"),
        failure_class("template: probe/templates/_case.tpl:1:3: error calling fail: stop here"),
    );
    assert_ne!(
        failure_class("execution error at (probe/templates/_case.tpl:1:4): stop here"),
        failure_class("template: probe/templates/_case.tpl:1:3: error calling fail: stop here"),
    );
}

#[test]
fn rendering_matches_helm_4() {
    let mut cases = corpus::corpus();
    cases.extend(helm_cases());
    let reference = helm_outputs(&cases);
    let mut mismatches = Vec::new();
    let mut failures_compared = 0;
    for ((name, text, values), (helm_out, helm_err)) in cases.iter().zip(reference) {
        let ours = ours(text, values).map_err(|e| e.to_string());
        match compare::compare("Helm 4", name, ours, (&helm_out, &helm_err), same_failure) {
            Compared::Same => {}
            Compared::SameFailure => failures_compared += 1,
            Compared::Differs(m) => mismatches.push(m),
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from Helm 4:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
    assert!(
        failures_compared > 10,
        "failures compared: {failures_compared}"
    );
}
