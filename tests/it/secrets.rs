//! werf's encrypted secrets against independent implementations: Python's `cryptography`
//! (`tests/secrets/werf_secret.py`) makes every shape a werf release has written, and opens what
//! we write as werf v3 writes it; Go's own `crypto/aes`, `crypto/cipher` and yaml.v3
//! (`tests/gosecret/main.go`, werf v3's formats): what Go encrypts (AES-GCM and the legacy AES-CBC) decrypts here
//! with its types, what we encrypt decrypts there; a wrong key is a clear error naming the file
//! and the key, and no decrypted value appears in any output; `werf render` deploys the values
//! and files decrypted.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::support::{text, Repo};

const KEY: &str = "bc3458408a5687e60b9417adb84e4ad0";
const OTHER_KEY: &str = "0123456789abcdef0123456789abcdef";

/// Runs the Go reference: `go run tests/gosecret/main.go MODE KEY < input`.
fn go(mode: &str, key: &str, input: &[u8]) -> Vec<u8> {
    let harness = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/gosecret/main.go");
    let mut child = Command::new("go")
        .args(["run", harness, mode, key])
        .env("GOPATH", "/usr/share/gocode")
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .env("GOCACHE", std::env::temp_dir().join("werf-rs-gocache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("Go is installed (tests/install-deps)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    let out = child.wait_with_output().expect("go runs");
    assert!(
        out.status.success(),
        "the Go reference failed ({mode}; is golang-gopkg-yaml.v3-dev installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `werf helm secret ARGS` with `key` in `WERF_SECRET_KEY`, `input` on stdin.
fn werf_secret(repo: &Repo, key: &str, args: &[&str], input: &[u8]) -> Output {
    let mut cmd = crate::support::werf_cmd(repo.path(), repo.home.path(), args);
    let mut child = cmd
        .env("WERF_SECRET_KEY", key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("werf runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    crate::support::no_panic(child.wait_with_output().expect("werf runs"))
}

/// A values document as JSON (our YAML 1.1 reader of the Helm side is not the judge here:
/// serde_yaml_ng reads YAML 1.2 as yaml.v3 does).
fn as_json(yaml: &[u8]) -> Value {
    serde_yaml_ng::from_slice(yaml).expect("YAML")
}

const VALUES: &str = "db:\n  host: db.internal\n  port: 5432\n  password: \"hunter2-pw\"\n  ratio: 0.25\n  tls: true\n  numeric_string: \"123\"\n  cert: |\n    -----BEGIN-----\n    abc\n  nothing:\nlist:\n  - 1\n  - two\n";

#[test]
fn values_and_files_round_trip_with_go_in_both_formats() {
    let repo = Repo::new(&[("werf.yaml", "project: s\nconfigVersion: 1\n")]);
    let expected = as_json(VALUES.as_bytes());

    // Go encrypts (AES-GCM, tags framed): we decrypt, types kept.
    let sealed = go("encrypt-values", KEY, VALUES.as_bytes());
    assert!(!String::from_utf8_lossy(&sealed).contains("hunter2"));
    let out = werf_secret(
        &repo,
        KEY,
        &["helm", "secret", "values", "decrypt"],
        &sealed,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(as_json(&out.stdout), expected);

    // Go encrypts the legacy AES-CBC: every value comes back as the string it was.
    let legacy = go("encrypt-values-cbc", KEY, b"user: admin\nport: 5432\n");
    assert!(
        String::from_utf8_lossy(&legacy).contains(": \"1000")
            || String::from_utf8_lossy(&legacy).contains(": 1000")
    );
    let out = werf_secret(
        &repo,
        KEY,
        &["helm", "secret", "values", "decrypt"],
        &legacy,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        as_json(&out.stdout),
        json!({"user": "admin", "port": "5432"})
    );

    // We encrypt: Go decrypts, with the same types (yaml.v3 decoding, as JSON).
    let out = werf_secret(
        &repo,
        KEY,
        &["helm", "secret", "values", "encrypt"],
        VALUES.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = String::from_utf8_lossy(&out.stdout).to_string();
    // `hunter2` has letters hex lacks, so it cannot appear in ciphertext by chance; the port is
    // checked by its line (a number's digits could).
    assert!(!ours.contains("hunter2"), "{ours}");
    assert!(ours.contains("host: 0300"), "version 3 is written: {ours}");
    assert!(ours.contains("  port: 0300"), "{ours}");
    let theirs: Value =
        serde_json::from_slice(&go("decrypt-values", KEY, ours.as_bytes())).expect("JSON");
    assert_eq!(theirs, expected);

    // Whole files, both ways and the legacy format.
    let file = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    for mode in ["encrypt-file", "encrypt-file-cbc"] {
        let sealed = go(mode, KEY, file);
        let out = werf_secret(&repo, KEY, &["helm", "secret", "file", "decrypt"], &sealed);
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, file, "{mode}");
    }
    let out = werf_secret(&repo, KEY, &["helm", "secret", "file", "encrypt"], file);
    assert!(out.status.success());
    assert_eq!(go("decrypt-file", KEY, &out.stdout), file);

    // A generated key works with Go.
    let out = werf_secret(&repo, KEY, &["helm", "secret", "generate-secret-key"], b"");
    let generated = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(generated.len(), 32, "{generated}");
    let sealed = go("encrypt-file", &generated, b"x");
    let out = werf_secret(
        &repo,
        &generated,
        &["helm", "secret", "file", "decrypt"],
        &sealed,
    );
    assert_eq!(out.stdout, b"x");
}

#[test]
fn a_wrong_key_is_a_clear_error_naming_file_and_key_and_nothing_leaks() {
    let sealed = go("encrypt-values", KEY, VALUES.as_bytes());
    let repo = Repo::new(&[("werf.yaml", "project: s\nconfigVersion: 1\n")]);
    std::fs::write(repo.path().join("prod.yaml"), &sealed).expect("write");
    let out = werf_secret(
        &repo,
        OTHER_KEY,
        &[
            "helm",
            "secret",
            "values",
            "decrypt",
            "prod.yaml",
            "-o",
            "plain.yaml",
        ],
        b"",
    );
    let (stdout, stderr) = text(&out, &repo);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("decrypting `prod.yaml`"), "{stderr}");
    assert!(stderr.contains("`db.host`: cannot decrypt"), "{stderr}");
    assert!(
        stderr.contains("the data has been tampered with or the encryption key is wrong"),
        "{stderr}"
    );
    assert_eq!(stdout, "");
    // Nothing half-written.
    assert!(!repo.path().join("plain.yaml").exists());
    // No key at all: says where one is looked for.
    let out = crate::support::werf_cmd(
        repo.path(),
        repo.home.path(),
        &["helm", "secret", "values", "decrypt", "prod.yaml"],
    )
    .output()
    .expect("werf runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("set `WERF_SECRET_KEY`") && stderr.contains(".werf_secret_key"),
        "{stderr}"
    );
    // A plain value where an encrypted one belongs names the key, not the value.
    let out = werf_secret(
        &repo,
        KEY,
        &["helm", "secret", "values", "decrypt"],
        b"api:\n  token: plain-token-value\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("`api.token`: cannot decrypt"), "{stderr}");
    assert!(stderr.contains("is not hex-encoded"), "{stderr}");
}

#[test]
fn render_deploys_secret_values_and_files_decrypted() {
    let secret_values = go(
        "encrypt-values",
        KEY,
        b"db:\n  password: s3cr3t-pw\n  port: 5432\n",
    );
    let extra = go("encrypt-values", KEY, b"db:\n  user: admin-user\n");
    let cert = go("encrypt-file-cbc", KEY, b"CERT-BODY\n");
    let template = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {{ .Values.db.password | quote }}\n  port: {{ .Values.db.port | toString | quote }}\n  portKind: {{ kindOf .Values.db.port | quote }}\n  user: {{ .Values.db.user | default \"none\" | quote }}\n  cert: {{ werf_secret_file \"tls/cert.pem\" | quote }}\n";
    let mut repo = Repo::new(&[
        ("werf.yaml", "project: s\nconfigVersion: 1\n"),
        (
            ".helm/Chart.yaml",
            "apiVersion: v2\nname: s\nversion: 1.0.0\n",
        ),
        (".helm/values.yaml", "db:\n  password: from-values-yaml\n"),
        (
            ".helm/secret-values.yaml",
            &String::from_utf8_lossy(&secret_values),
        ),
        (".helm/secret/tls/cert.pem", &String::from_utf8_lossy(&cert)),
        (".helm/templates/secret.yaml", template),
    ]);
    repo.commit("init");
    std::fs::write(repo.path().join("extra.yaml"), &extra).expect("write");
    let out = repo.werf_env(
        &["render", "--secret-values", "extra.yaml"],
        &[("WERF_SECRET_KEY", KEY)],
    );
    let (stdout, stderr) = text(&out, &repo);
    assert!(out.status.success(), "{stderr}");
    for line in [
        "password: \"s3cr3t-pw\"",
        "port: \"5432\"",
        "portKind: \"float64\"",
        "user: \"admin-user\"",
        "cert: \"CERT-BODY\\n\"",
    ] {
        assert!(stdout.contains(line), "{line} in {stdout}");
    }
    // Without the key: a clear error, nothing rendered.
    let out = repo.werf(&["render"]);
    let (stdout, stderr) = text(&out, &repo);
    assert!(!out.status.success());
    assert_eq!(stdout, "");
    assert!(stderr.contains("no secret key"), "{stderr}");
    // With a wrong key: the file is named, no value shown.
    let out = repo.werf_env(&["render"], &[("WERF_SECRET_KEY", OTHER_KEY)]);
    let (stdout, stderr) = text(&out, &repo);
    assert!(!out.status.success());
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("decrypting `.helm/secret-values.yaml`"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cr3t") && !stderr.contains("CERT-BODY"),
        "{stderr}"
    );
}

#[test]
fn edit_re_encrypts_what_the_editor_saved_and_rotation_is_all_or_nothing() {
    let repo = Repo::new(&[("werf.yaml", "project: s\nconfigVersion: 1\n")]);
    // An "editor" that appends a value to the decrypted file it is given.
    let editor = repo.home.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nprintf 'added: 42\\n' >> \"$1\"\n").expect("write");
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let file = repo.path().join("values.yaml");
    std::fs::write(&file, go("encrypt-values", KEY, b"user: admin\n")).expect("write");
    let out = crate::support::werf_cmd(
        repo.path(),
        repo.home.path(),
        &["helm", "secret", "values", "edit", "values.yaml"],
    )
    .env("WERF_SECRET_KEY", KEY)
    .env("EDITOR", &editor)
    .output()
    .expect("werf runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sealed = std::fs::read(&file).expect("read");
    assert!(!String::from_utf8_lossy(&sealed).contains("admin"));
    let plain: Value = serde_json::from_slice(&go("decrypt-values", KEY, &sealed)).expect("JSON");
    assert_eq!(plain, json!({"user": "admin", "added": 42}));

    // Rotation: the chart's values and files and an extra values file, old key to new.
    let new_key = "fedcba9876543210fedcba9876543210";
    let chart = repo.path().join(".helm");
    std::fs::create_dir_all(chart.join("secret/tls")).expect("mkdir");
    let values = go("encrypt-values", KEY, b"db:\n  password: pw\n");
    let cert = go("encrypt-file-cbc", KEY, b"CERT\n");
    std::fs::write(chart.join("secret-values.yaml"), &values).expect("write");
    std::fs::write(chart.join("secret/tls/cert.pem"), &cert).expect("write");
    // One file under a third key: nothing may be rewritten.
    let stray = go("encrypt-values", OTHER_KEY, b"x: y\n");
    std::fs::write(repo.path().join("extra.yaml"), &stray).expect("write");
    let rotate = |extra: &str| {
        crate::support::werf_cmd(
            repo.path(),
            repo.home.path(),
            &["helm", "secret", "rotate-secret-key", extra],
        )
        .env("WERF_OLD_SECRET_KEY", KEY)
        .env("WERF_SECRET_KEY", new_key)
        .output()
        .expect("werf runs")
    };
    let out = rotate("extra.yaml");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("decrypting `extra.yaml`"), "{stderr}");
    assert_eq!(
        std::fs::read(chart.join("secret-values.yaml")).expect("read"),
        values
    );
    assert_eq!(
        std::fs::read(chart.join("secret/tls/cert.pem")).expect("read"),
        cert
    );

    std::fs::write(
        repo.path().join("extra.yaml"),
        go("encrypt-values", KEY, b"x: y\n"),
    )
    .expect("write");
    let out = rotate("extra.yaml");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |p: &std::path::Path| std::fs::read(p).expect("read");
    let v: Value = serde_json::from_slice(&go(
        "decrypt-values",
        new_key,
        &read(&chart.join("secret-values.yaml")),
    ))
    .expect("JSON");
    assert_eq!(v, json!({"db": {"password": "pw"}}));
    assert_eq!(
        go(
            "decrypt-file",
            new_key,
            &read(&chart.join("secret/tls/cert.pem"))
        ),
        b"CERT\n"
    );
    let v: Value = serde_json::from_slice(&go(
        "decrypt-values",
        new_key,
        &read(&repo.path().join("extra.yaml")),
    ))
    .expect("JSON");
    assert_eq!(v, json!({"x": "y"}));
}

/// Runs the independent Python implementation (`tests/secrets/werf_secret.py`, Python's
/// `cryptography` in the venv `tests/helm/venv-up` makes).
pub fn python(mode: &str, key: &str, cases: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/secrets/werf_secret.py");
    let mut child = Command::new(crate::helm_diff::python())
        .args([script, mode, key])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(cases.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python runs");
    assert!(
        out.status.success(),
        "werf_secret.py {mode} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// Every shape a werf release has written, made by Python's `cryptography`: the legacy AES-CBC,
/// version 2 with no, version or header associated data, raw or framed, and werf v3's version 3.
const VALUE_SHAPES: &[&str] = &[
    "cbc",
    "gcm-2-none-raw",
    "gcm-2-version-raw",
    "gcm-2-none-framed",
    "gcm-2-version-framed",
    "gcm-2-header-framed",
    "gcm-3-version-framed",
    "gcm-3-none-framed",
    "gcm-3-header-framed",
];

/// (tag, style, value as written, the value a framed shape gives back as JSON).
fn scalars() -> Vec<(&'static str, u32, &'static str, Value)> {
    vec![
        ("!!int", 0, "5432", json!(5432)),
        ("!!str", 0, "hunter2-pw", json!("hunter2-pw")),
        ("!!bool", 0, "true", json!(true)),
        ("!!float", 0, "0.25", json!(0.25)),
        ("!!str", 2, "123", json!("123")),
        ("!!str", 8, "line1\nline2\n", json!("line1\nline2\n")),
        ("!!str", 0, "", json!("")),
    ]
}

#[test]
fn values_and_files_of_every_werf_revision_decrypt() {
    let repo = Repo::new(&[("werf.yaml", "project: s\nconfigVersion: 1\n")]);
    let mut cases = Vec::new();
    let mut keys = Vec::new();
    let mut expected = serde_json::Map::new();
    for shape in VALUE_SHAPES {
        for (i, (tag, style, value, typed)) in scalars().into_iter().enumerate() {
            let key = format!("{}_{i}", shape.replace('-', "_"));
            cases.push(json!({"shape": shape, "plain": value, "tag": tag, "style": style}));
            // A raw value (and a legacy one) is the string it was.
            let back = if shape.ends_with("framed") {
                typed
            } else {
                json!(value)
            };
            keys.push(key.clone());
            expected.insert(key, back);
        }
    }
    let sealed = python("encrypt", KEY, &Value::Array(cases));
    let sealed = sealed.as_array().expect("a list");
    assert_eq!(sealed.len(), keys.len());
    let document: String = keys
        .iter()
        .zip(sealed)
        .map(|(k, hex)| format!("{k}: {}\n", hex.as_str().expect("hex")))
        .collect();
    assert!(!document.contains("hunter2"));
    let out = werf_secret(
        &repo,
        KEY,
        &["helm", "secret", "values", "decrypt"],
        document.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(as_json(&out.stdout), Value::Object(expected));

    // Whole files: never framed, in every shape.
    let file = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    for shape in [
        "cbc",
        "gcm-2-none-raw",
        "gcm-2-version-raw",
        "gcm-2-header-raw",
    ] {
        let sealed = python("encrypt", KEY, &json!([{"shape": shape, "plain": file}]));
        let hex = sealed[0].as_str().expect("hex");
        let out = werf_secret(
            &repo,
            KEY,
            &["helm", "secret", "file", "decrypt"],
            hex.as_bytes(),
        );
        assert!(
            out.status.success(),
            "{shape}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), file, "{shape}");
    }

    // werf's own legacy ciphertexts (its e2e fixtures, which common-go keeps as the contract
    // of the legacy format), made by werf itself.
    let key = "bc3458408a5687e60b9417adb84e4ad0";
    let values = "added_via_secret_values: 10007b717b44ec49b722c5d517cf6259bd20c93ea5ef2dcfc3934bccee59613d0ac07f5f39835d30f3736fc5d3edc10335bb\noverridden_via_secret_values: 1000ad8725d33000e7bf81a5b65851003b9ca35e999b617ccff1fe402c7a941382f4fc5c9257de633a42427958b5fb43b2e3\n";
    let out = werf_secret(
        &repo,
        key,
        &["helm", "secret", "values", "decrypt"],
        values.as_bytes(),
    );
    assert!(out.status.success());
    assert_eq!(
        as_json(&out.stdout),
        json!({"added_via_secret_values": "added_via_secret_values", "overridden_via_secret_values": "overridden_via_secret_values"})
    );
    let file = "100052fb0fa1cc8ef1cb123be089cdb853cc153772691b8fb743d612a7b64d65614d4d8745250752564941227eb8d7161523";
    let out = werf_secret(
        &repo,
        key,
        &["helm", "secret", "file", "decrypt"],
        file.as_bytes(),
    );
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "secretConfigContent\n"
    );

    // A version-3 value that is not a frame is refused, naming the key.
    let unframed = python(
        "encrypt",
        KEY,
        &json!([{"shape": "gcm-3-version-raw", "plain": "no frame"}]),
    );
    let document = format!("api:\n  token: {}\n", unframed[0].as_str().expect("hex"));
    let out = werf_secret(
        &repo,
        KEY,
        &["helm", "secret", "values", "decrypt"],
        document.as_bytes(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("`api.token`") && stderr.contains("malformed encrypted scalar payload"),
        "{stderr}"
    );
    assert!(!stderr.contains("no frame"), "{stderr}");
}

#[test]
fn what_werf_rs_encrypts_opens_as_werf_v3_wrote_it() {
    let repo = Repo::new(&[("werf.yaml", "project: s\nconfigVersion: 1\n")]);
    let plain: String = scalars()
        .iter()
        .enumerate()
        .map(|(i, (tag, style, value, _))| {
            let text = match (*tag, *style) {
                ("!!str", 2) => format!("\"{value}\""),
                ("!!str", 8) => format!("|\n  {}", value.trim_end().replace('\n', "\n  ")),
                ("!!str", 0) if value.is_empty() => "\"\"".to_string(),
                _ => value.to_string(),
            };
            format!("k{i}: {text}\n")
        })
        .collect();
    let out = werf_secret(
        &repo,
        KEY,
        &["helm", "secret", "values", "encrypt"],
        plain.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sealed: serde_json::Map<String, Value> =
        serde_yaml_ng::from_slice(&out.stdout).expect("YAML");
    let cases: Vec<Value> = (0..scalars().len())
        .map(|i| json!({"hex": sealed[&format!("k{i}")], "ad": "version", "framed": true}))
        .collect();
    let opened = python("decrypt", KEY, &Value::Array(cases.clone()));
    for (i, (tag, style, value, _)) in scalars().into_iter().enumerate() {
        let expected_style = if tag == "!!str" && style == 0 && value.is_empty() {
            2
        } else {
            style
        };
        assert_eq!(
            opened[i],
            json!({"version": 3, "tag": tag, "style": expected_style, "value": value}),
            "k{i}"
        );
    }
    // The version is authenticated: opened without it, the same value fails.
    let strict: Vec<Value> = cases
        .iter()
        .map(|c| json!({"hex": c["hex"], "ad": "none", "framed": true}))
        .collect();
    let failed = python("decrypt", KEY, &Value::Array(strict));
    assert!(
        failed[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("InvalidTag")),
        "{failed}"
    );

    // Whole files: version 2, unframed.
    let file = b"secretConfigContent\n";
    let out = werf_secret(&repo, KEY, &["helm", "secret", "file", "encrypt"], file);
    assert!(out.status.success());
    let hex = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let opened = python(
        "decrypt",
        KEY,
        &json!([{"hex": hex, "ad": "version", "framed": false}]),
    );
    assert_eq!(
        opened[0],
        json!({"version": 2, "plain": "secretConfigContent\n"})
    );
}
