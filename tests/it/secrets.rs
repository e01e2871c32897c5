//! werf's encrypted secrets against Go's own `crypto/aes`, `crypto/cipher` and yaml.v3
//! (`tests/gosecret/main.go`): what Go encrypts (AES-GCM and the legacy AES-CBC) decrypts here
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
    assert!(ours.contains("host: 0200"), "version 2 is written: {ours}");
    assert!(ours.contains("  port: 0200"), "{ours}");
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
