//! Helm 4 itself as the reference for charts: each chart of `tests/charts/` is rendered by Helm 4
//! (`tests/helm/helm.py`, over PyPI's `helm-python-sdk`, which `tests/helm/venv-up` installs into
//! a venv under the cache folder) and by `werf render`, then compared:
//!
//! - the manifests as text, byte for byte (`# Source:` lines, install order, separators,
//!   whitespace): our stream must begin with Helm's `manifest` exactly;
//! - hooks, which Helm keeps apart, as parsed documents, each under its template;
//! - `templates/random.yaml` (random and cryptographic functions) by shape: the same keys, and
//!   each value checked by a validator that Helm's own value must pass too;
//! - failures by their cause, and by their template, line and column where Helm names them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;

use crate::support::{git_in, werf_in};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `tests/helm/helm.py ARGS` (Helm 4 itself) as the venv's `helm` (so server-side applies
/// use the Helm CLI's field manager); its JSON answer, or a panic with Helm's error.
pub fn helm_py(args: &[&str]) -> serde_json::Value {
    let out = Command::new(python().with_file_name("helm"))
        .arg(root().join("tests/helm/helm.py"))
        .args(args)
        .output()
        .expect("helm.py runs");
    assert!(
        out.status.success(),
        "helm.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("helm.py answers JSON")
}

/// The venv's python, set up once per test binary by the project's own script.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("bash")
            .arg(root().join("tests/helm/venv-up"))
            .output()
            .expect("venv-up runs");
        assert!(
            out.status.success(),
            "tests/helm/venv-up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

#[derive(Debug)]
pub struct HelmRender {
    pub manifest: String,
    pub templates: BTreeMap<String, String>,
}

/// Helm 4's rendering of `chart` (release `r` in namespace `ns`), or its error.
fn helm(chart: &Path, values: Option<&Path>) -> Result<HelmRender, String> {
    helm_render(chart, "r", "ns", values)
}

/// Helm 4's rendering of `chart` as `release` in `namespace` (`tests/helm/helm.py render`), or
/// its error.
pub fn helm_render(
    chart: &Path,
    release: &str,
    namespace: &str,
    values: Option<&Path>,
) -> Result<HelmRender, String> {
    let mut cmd = Command::new(python());
    cmd.arg(root().join("tests/helm/helm.py"))
        .arg("render")
        .arg(chart)
        .args([release, namespace]);
    if let Some(v) = values {
        cmd.arg(v);
    }
    let out = cmd.output().expect("helm.py runs");
    assert!(
        out.status.success(),
        "helm.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("helm.py answers JSON");
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        return Err(e.to_string());
    }
    Ok(HelmRender {
        manifest: v["manifest"].as_str().expect("a manifest").to_string(),
        templates: serde_json::from_value(v["templates"].clone()).expect("templates"),
    })
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// `werf render` of `chart` committed as a project's `.helm`: (success, stdout, stderr).
fn werf(chart: &Path, values: Option<&Path>) -> (bool, String, String) {
    werf_render(chart, "r", "ns", values)
}

/// `werf render` of `chart` as `release` in `namespace`, the chart committed whole as a
/// project's `.helm` (ignored files too: a chart's own `.gitignore` may exclude its vendored
/// `charts/`): (success, stdout, stderr).
pub fn werf_render(
    chart: &Path,
    release: &str,
    namespace: &str,
    values: Option<&Path>,
) -> (bool, String, String) {
    let repo = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    copy_tree(chart, &repo.path().join(".helm"));
    std::fs::write(
        repo.path().join("werf.yaml"),
        "project: corpus\nconfigVersion: 1\n",
    )
    .expect("werf.yaml");
    git_in(repo.path(), &["init", "-q", "-b", "main"], 0);
    git_in(repo.path(), &["add", "-A", "-f"], 0);
    git_in(repo.path(), &["commit", "-q", "-m", "chart"], 1);
    let mut args = vec!["render", "--release", release, "--namespace", namespace];
    let values_arg;
    if let Some(v) = values {
        values_arg = v.to_str().expect("utf-8").to_string();
        args.extend(["--values", &values_arg]);
    }
    let out = werf_in(repo.path(), home.path(), &args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `helm template` stream as (source, text) pieces, each text as it is between the
/// separators (the stream's final line break is the last separator's).
pub fn pieces(stream: &str) -> Vec<(String, String)> {
    let Some(body) = stream.strip_prefix("---\n# Source: ") else {
        assert!(stream.is_empty(), "not a stream: {stream:?}");
        return Vec::new();
    };
    let body = body.strip_suffix('\n').unwrap_or(body);
    body.split("\n---\n# Source: ")
        .map(|p| {
            let (source, text) = p.split_once('\n').unwrap_or((p, ""));
            (source.to_string(), text.to_string())
        })
        .collect()
}

fn is_random(source: &str) -> bool {
    source.ends_with("/templates/random.yaml")
}

fn yaml(text: &str) -> serde_json::Value {
    gotemplate::yaml::load::load(text).expect("a YAML document")
}

/// Renders `chart` both ways and compares; returns our pieces for extra checks.
fn compare(name: &str, values: Option<&str>) -> Vec<(String, String)> {
    let chart = root().join("tests/charts").join(name);
    let values = values.map(|v| root().join("tests/charts").join(v));
    let reference = helm(&chart, values.as_deref())
        .unwrap_or_else(|e| panic!("{name}: Helm 4 failed where it should render: {e}"));
    let (ok, stdout, stderr) = werf(&chart, values.as_deref());
    assert!(
        ok,
        "{name}: werf render failed where Helm 4 renders: {stderr}"
    );
    let ours = pieces(&stdout);
    let theirs = pieces(&reference.manifest);
    assert!(
        !theirs.is_empty(),
        "{name}: Helm rendered nothing; the case tests nothing"
    );
    // Manifests: ours begin with Helm's, piece for piece, text for text.
    let (ours_manifest, ours_hooks) = ours.split_at(theirs.len().min(ours.len()));
    let strip = |p: &[(String, String)]| -> Vec<(String, String)> {
        p.iter().filter(|(s, _)| !is_random(s)).cloned().collect()
    };
    let (a, b) = (strip(ours_manifest), strip(&theirs));
    if a != b {
        let text = |p: &[(String, String)]| {
            p.iter()
                .map(|(s, t)| format!("# Source: {s}\n{t}\n"))
                .collect::<String>()
        };
        let (ours_text, helm_text) = (text(&a), text(&b));
        let diff = similar::TextDiff::from_lines(&helm_text, &ours_text);
        panic!(
            "{name}: the manifests differ from Helm 4's (- Helm, + werf):\n{}",
            diff.unified_diff().context_radius(2)
        );
    }
    for ((s1, t1), (s2, t2)) in ours_manifest.iter().zip(&theirs) {
        if is_random(s1) {
            assert_eq!(s1, s2);
            same_shape(name, &yaml(t1), &yaml(t2));
        }
    }
    // Hooks: Helm's are the hook documents of its templates.
    let mut helm_hooks = BTreeSet::new();
    for (source, text) in &reference.templates {
        for doc in gotemplate::yaml::load::load_all(text).expect("Helm's output is YAML") {
            if doc.pointer("/metadata/annotations/helm.sh~1hook").is_some() {
                helm_hooks.insert((source.clone(), doc.to_string()));
            }
        }
    }
    let our_hooks: BTreeSet<(String, String)> = ours_hooks
        .iter()
        .map(|(s, t)| (s.clone(), yaml(t).to_string()))
        .collect();
    assert_eq!(
        our_hooks, helm_hooks,
        "{name}: the hooks differ from Helm 4's"
    );
    ours
}

/// Both fail, for the same cause, at the same place when Helm names one.
fn compare_failure(name: &str, values: Option<&str>, cause: &str) {
    let chart = root().join("tests/charts").join(name);
    let values = values.map(|v| root().join("tests/charts").join(v));
    let name = &format!(
        "{name} {}",
        values
            .as_deref()
            .map(|v| v.display().to_string())
            .unwrap_or_default()
    );
    let theirs = match helm(&chart, values.as_deref()) {
        Err(e) => e,
        Ok(r) => panic!(
            "{name}: Helm 4 rendered where a failure was expected: {}",
            r.manifest
        ),
    };
    let (ok, _, ours) = werf(&chart, values.as_deref());
    assert!(
        !ok,
        "{name}: werf render succeeded where Helm 4 fails with: {theirs}"
    );
    assert!(
        theirs.contains(cause),
        "{name}: Helm's failure is not about `{cause}`: {theirs}"
    );
    assert!(
        ours.contains(cause),
        "{name}: our failure is not about `{cause}`: {ours}\nHelm: {theirs}"
    );
    if let Some(place) = place_of(&theirs) {
        assert!(
            ours.contains(&place),
            "{name}: Helm places the failure at `{place}`, we do not: {ours}"
        );
    }
}

/// `templates/FILE:LINE:COL` (or `:LINE`) from an error message.
fn place_of(message: &str) -> Option<String> {
    let at = message.find("templates/")?;
    let rest = &message[at..];
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || "/._-:".contains(c)))
        .unwrap_or(rest.len());
    let place = rest[..end].trim_end_matches(':').to_string();
    place.contains(':').then_some(place)
}

fn pem(text: &str, tag: &str) -> Vec<u8> {
    let p = pem::parse(text).unwrap_or_else(|e| panic!("not PEM ({e}): {text}"));
    assert_eq!(p.tag(), tag, "{text}");
    p.into_contents()
}

fn cert(text: &str) -> x509_parser::certificate::X509Certificate<'static> {
    let der: &'static [u8] = Box::leak(pem(text, "CERTIFICATE").into_boxed_slice());
    x509_parser::parse_x509_certificate(der)
        .expect("a certificate")
        .1
}

fn signed_by(
    c: &x509_parser::certificate::X509Certificate<'_>,
    issuer: &x509_parser::certificate::X509Certificate<'_>,
) {
    assert_eq!(c.issuer(), issuer.subject());
    c.verify_signature(Some(issuer.public_key()))
        .expect("the signature verifies with the issuer's key");
}

/// `templates/random.yaml` of both: the same keys, every value valid for its key.
fn same_shape(name: &str, ours: &serde_json::Value, theirs: &serde_json::Value) {
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v["stringData"]
            .as_object()
            .expect("stringData")
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(keys(ours), keys(theirs), "{name}: random.yaml keys");
    assert!(keys(theirs).len() > 20, "{name}: the shapes are not a stub");
    for side in [theirs, ours] {
        let d = side["stringData"].as_object().expect("stringData");
        let s = |k: &str| d[k].as_str().unwrap_or_else(|| panic!("{k} is text"));
        let alphabet = |k: &str, n: usize, ok: fn(char) -> bool| {
            let v = s(k);
            assert_eq!(v.chars().count(), n, "{k}: {v}");
            assert!(v.chars().all(ok), "{k}: {v}");
        };
        let id: Vec<&str> = s("uuid").split('-').collect();
        assert_eq!(
            id.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(
            id[2].starts_with('4') && "89ab".contains(&id[3][..1]),
            "{id:?}"
        );
        alphabet("alnum-16", 16, |c| c.is_ascii_alphanumeric());
        alphabet("alpha-12", 12, |c| c.is_ascii_alphabetic());
        alphabet("numeric-8", 8, |c| c.is_ascii_digit());
        alphabet("ascii-20", 20, |c| (' '..='~').contains(&c));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s("bytes-24"))
            .expect("base64");
        assert_eq!(bytes.len(), 24);
        let n: i64 = s("int-5-10").parse().expect("int");
        assert!((5..10).contains(&n), "{n}");
        let mut chars: Vec<char> = s("shuffle-hello").chars().collect();
        chars.sort();
        assert_eq!(chars, ['e', 'h', 'l', 'l', 'o']);
        assert!(s("bcrypt-secret").starts_with("$2a$10$"));
        assert!(bcrypt::verify("secret", s("bcrypt-secret")).expect("a bcrypt hash"));
        let (user, hash) = s("htpasswd-user-secret")
            .split_once(':')
            .expect("user:hash");
        assert_eq!(user, "user");
        assert!(bcrypt::verify("secret", hash).expect("a bcrypt hash"));
        let aes = base64::engine::general_purpose::STANDARD
            .decode(s("aes-44"))
            .expect("base64");
        assert_eq!((s("aes-44").len(), aes.len()), (44, 32), "IV and one block");
        let ca = cert(s("ca-cert"));
        assert!(ca.is_ca());
        signed_by(&ca, &ca);
        let leaf = cert(s("leaf-cert"));
        signed_by(&leaf, &ca);
        assert!(!leaf.is_ca());
        let sans: Vec<String> = leaf
            .subject_alternative_name()
            .expect("extension")
            .expect("SANs")
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(
            sans,
            [
                "DNSName(svc.local)",
                "DNSName(svc)",
                "IPAddress(0a:00:00:01)"
            ]
        );
        let days = leaf
            .validity()
            .time_to_expiration()
            .expect("valid now")
            .whole_days();
        assert!((9..=10).contains(&days), "{days}");
        let own = cert(s("self-cert"));
        signed_by(&own, &own);
        pem(s("ca-key-rsa"), "RSA PRIVATE KEY");
        pem(s("leaf-key-rsa"), "RSA PRIVATE KEY");
        pem(s("ec-key"), "EC PRIVATE KEY");
        pem(s("ed-key"), "PRIVATE KEY");
        let keyed_ca = cert(s("keyed-ca-cert"));
        signed_by(&keyed_ca, &keyed_ca);
        signed_by(&cert(s("keyed-leaf-cert")), &keyed_ca);
        let keyed_self = cert(s("keyed-self-cert"));
        signed_by(&keyed_self, &keyed_self);
        assert_eq!(
            s("custom-cert"),
            s("self-cert"),
            "buildCustomCert keeps the certificate"
        );
        assert_eq!(s("now-year"), d["now-year"].as_str().unwrap_or_default());
        assert!(["0s", "1s"].contains(&s("ago")), "{}", s("ago"));
    }
    assert_eq!(
        ours["stringData"]["now-year"],
        theirs["stringData"]["now-year"]
    );
}

#[test]
fn every_function_renders_as_helm_4_renders_it() {
    let ours = compare("functions", None);
    assert!(
        ours.iter().any(|(s, _)| is_random(s)),
        "the random template rendered"
    );
}

#[test]
fn documents_whitespace_order_and_hooks_match_helm_4() {
    let ours = compare("output", None);
    assert!(
        ours.iter().any(|(_, t)| t.contains("helm.sh/hook")),
        "hooks are printed"
    );
}

#[test]
fn dependencies_values_and_files_load_as_helm_4_loads_them() {
    let ours = compare("deps", None);
    let sources: BTreeSet<&str> = ours.iter().map(|(s, _)| s.as_str()).collect();
    // Aliases render as copies, a packaged subchart renders, a disabled one and a library's own
    // templates do not.
    for present in [
        "deps/charts/first/templates/cm.yaml",
        "deps/charts/sub-b/templates/svc.yaml",
    ] {
        assert!(sources.contains(present), "{present}: {sources:?}");
    }
    assert!(
        !sources
            .iter()
            .any(|s| s.contains("sub-c") || s.contains("lib/templates")),
        "{sources:?}"
    );
}

#[test]
fn failures_match_helm_4_s_cause_and_place() {
    let cases = [
        ("fail", "custom failure"),
        ("required", "set image.tag, please"),
        ("nil", "nil pointer evaluating interface {}.deep"),
        ("include", "no template \"nope\" associated with"),
        (
            "tpl",
            "error during tpl function execution for \"{{ .Values.missing.deeper }}\"",
        ),
        (
            "type",
            "wrong type for value; expected string; got []interface {}",
        ),
        ("yaml", "YAML parse error on failures/templates/cases.yaml"),
        (
            "call",
            "error calling call: non-function .Values.case of type string",
        ),
        ("schema-type", "- at '/port': got string, want integer"),
        (
            "schema-required",
            "- at '/port': maximum: got 70,000, want 65,535",
        ),
    ];
    for (case, cause) in cases {
        compare_failure(
            "failures",
            Some(&format!("failure-values/{case}.yaml")),
            cause,
        );
    }
    compare_failure("parse-error", None, "missing value for if");
    compare_failure(
        "missing-dep",
        None,
        "found in Chart.yaml, but missing in charts/ directory: absent",
    );
    compare_failure(
        "bad-values",
        None,
        "line 2: did not find expected ',' or ']'",
    );
}

#[test]
fn the_function_table_is_helm_4_s() {
    let names = root().join("gotemplate/tests/helm4-functions.txt");
    let out = Command::new(python())
        .arg(root().join("tests/helm/helm.py"))
        .args(["functions", names.to_str().expect("utf-8")])
        .output()
        .expect("helm.py runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let defined: Vec<&str> = v["defined"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    let listed: Vec<&str> = std::fs::read_to_string(&names)
        .expect("the list")
        .leak()
        .lines()
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        defined, listed,
        "Helm 4 defines exactly the listed functions"
    );
}

/// `--set` and `--set-string` expressions read by Helm 4's own `strvals` and by ours, case by
/// case: the same values, or both refused.
#[test]
fn set_expressions_read_as_helm_reads_them() {
    let cases: Vec<(&str, &str)> = [
        "name=value",
        "a=1,b=x,c=true,d=False,e=null,f=NULL",
        "zero=0,lead=007,neg=-5,plus=+5,big=9223372036854775807,over=9223372036854775808",
        "float=1.5,exp=1e3,hex=0x10,space= x ",
        "list={a,b,c}",
        "list={1,true,null},after=x",
        "empty={}",
        "one={x}",
        "nested.list={a,b}",
        "list[0]=foo,list[2]=bar",
        "list[0].foo=bar,list[0].hello=world",
        "list[1].foo=bar",
        "nested[0][1]=x",
        "a.b.c=d,a.b.e=f",
        "esc=one\\,two,dot\\.key=v",
        "a\\=b=c",
        "name=",
        "name=a=b",
        "=value",
        "a.=x",
        "a.",
        "name",
        "name,",
        "a=1,",
        "list[x]=1",
        "list[-1]=1",
        "list[65536]=1",
        "list[65537]=1",
        "list[0]x=1",
        "list={a,b",
        "list={a,b}c",
        "a={b}={c}",
        "k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k=1",
        "k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k=1",
        "x[0]=a,x[0].b=c",
        "trail\\",
        "ünï=cödé",
    ]
    .iter()
    .flat_map(|e| [("set", *e), ("set-string", *e)])
    .collect();
    let file = tempfile::NamedTempFile::new().expect("tempfile");
    let json: Vec<serde_json::Value> = cases
        .iter()
        .map(|(kind, expr)| serde_json::json!({"kind": kind, "expr": expr}))
        .collect();
    std::fs::write(file.path(), serde_json::to_vec(&json).expect("json")).expect("write");
    let out = Command::new(python())
        .arg(root().join("tests/helm/helm.py"))
        .arg("strvals")
        .arg(file.path())
        .output()
        .expect("helm.py runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("helm.py answers JSON");
    assert_eq!(theirs.len(), cases.len());
    let mut differences = Vec::new();
    for ((kind, expr), helm) in cases.iter().zip(&theirs) {
        let mut ours = serde_json::json!({});
        let set_kind = if *kind == "set" {
            werf_graph::chart::SetKind::Typed
        } else {
            werf_graph::chart::SetKind::String
        };
        let result = werf_graph::chart::apply_set(&mut ours, expr, set_kind);
        let same = match (&result, helm.get("values")) {
            (Ok(()), Some(values)) => &ours == values,
            (Err(_), None) => true,
            _ => false,
        };
        if !same {
            differences.push(format!(
                "--{kind} {expr:?}: Helm {helm}, ours {}",
                match &result {
                    Ok(()) => ours.to_string(),
                    Err(e) => format!("error {e}"),
                }
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
