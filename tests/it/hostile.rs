//! Hostile and odd input, as an attacker or a careless user would give it: each case ends in a
//! clear error or the right result, never a host file in an image, a hang, a panic or a secret in
//! the output. Images are read back with skopeo + umoci.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;

use crate::registry::{push_base_image, skopeo_inspect, unpack, Registry};
use crate::support::{text, werf_cmd, Repo, PANIC_MESSAGE};

const META: &str = "project: hostile\nconfigVersion: 1\n";

/// werf.yaml with one image, `app`, built from `Dockerfile`.
fn app_yaml() -> String {
    format!("{META}---\nimage: app\ndockerfile: Dockerfile\n")
}

/// A Dockerfile that copies the whole context.
const COPY_ALL: &str = "FROM scratch\nCOPY . /app/\n";

/// A repository (not yet committed) with the one-image werf.yaml, `dockerfile` and `extra`.
fn app_repo(dockerfile: &str, extra: &[(&str, &str)]) -> Repo {
    let yaml = app_yaml();
    let mut files = vec![("werf.yaml", yaml.as_str()), ("Dockerfile", dockerfile)];
    files.extend_from_slice(extra);
    Repo::new(&files)
}

fn out_text(out: &std::process::Output, r: &Repo) -> String {
    let (o, e) = text(out, r);
    format!("{o}{e}")
}

/// A host folder outside every repository, holding a private file.
fn host_secret() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("id_rsa");
    std::fs::write(&secret, "HOST-PRIVATE-KEY-42\n").expect("write");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    dir
}

#[test]
fn a_committed_link_out_of_the_repository_is_never_followed() {
    let host = host_secret();
    let yaml =
        format!("{META}---\nimage: app\ndockerfile: Dockerfile\ncontextAddFiles: [ext/id_rsa]\n");
    let mut r = Repo::new(&[
        ("werf.yaml", &yaml),
        ("Dockerfile", "FROM scratch\nCOPY ext/ /ext/\n"),
        (
            "werf-giterminism.yaml",
            "giterminismConfigVersion: 1\nconfig:\n  dockerfile:\n    allowContextAddFiles: [ext]\n",
        ),
    ]);
    std::os::unix::fs::symlink(host.path(), r.path().join("ext")).expect("symlink");
    r.commit("link to a host folder");
    // Through the link: refused, naming the link.
    let out = r.werf(&["build", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    let all = out_text(&out, &r);
    assert!(
        all.contains("`ext/id_rsa` lies beyond the symbolic link `ext`"),
        "{all}"
    );

    // The link itself: it goes into the layer as a link, and the host file does not.
    let yaml = format!("{META}---\nimage: app\ndockerfile: Dockerfile\ncontextAddFiles: [ext]\n");
    r.write(&[
        ("werf.yaml", &yaml),
        ("Dockerfile", "FROM scratch\nCOPY ext /ext\n"),
    ]);
    r.commit("the link itself");
    let reg = Registry::start();
    let repo = reg.repo("hostile");
    let out = r.werf(&["build", "--repo", &repo]);
    assert!(out.status.success(), "{}", out_text(&out, &r));
    let tag = r.tags()["app"].clone();
    let work = tempfile::tempdir().expect("tempdir");
    let rootfs = unpack(&format!("{repo}:{tag}"), work.path());
    let meta = std::fs::symlink_metadata(rootfs.join("ext")).expect("ext in the image");
    assert!(meta.file_type().is_symlink(), "ext must be a link");
    assert_eq!(
        std::fs::read_link(rootfs.join("ext")).expect("readlink"),
        host.path()
    );
}

#[test]
fn an_untracked_link_in_dev_mode_is_a_link_in_the_image_and_its_tag() {
    let host = host_secret();
    let mut r = app_repo(COPY_ALL, &[]);
    r.commit("init");
    std::os::unix::fs::symlink(host.path().join("id_rsa"), r.path().join("key")).expect("link");
    let reg = Registry::start();
    let repo = reg.repo("hostile");
    let out = r.werf(&["build", "--dev", "--repo", &repo]);
    assert!(out.status.success(), "{}", out_text(&out, &r));
    let dev_tags = {
        let report = r.home.path().join("dev-report.json");
        let out = r.werf(&[
            "build",
            "--dev",
            "--dry-run",
            "--save-build-report",
            "--build-report-path",
            report.to_str().expect("utf-8"),
        ]);
        assert!(out.status.success());
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
        v["Images"]["app"]["DockerTag"]
            .as_str()
            .expect("tag")
            .to_string()
    };
    let work = tempfile::tempdir().expect("tempdir");
    let rootfs = unpack(&format!("{repo}:{dev_tags}"), work.path());
    assert_eq!(
        std::fs::read_link(rootfs.join("app/key")).expect("a link in the image"),
        host.path().join("id_rsa")
    );
    // Once committed, the same content gets the same tag: the tag described the link.
    r.commit("add the link");
    assert_eq!(r.tags()["app"], dev_tags);
}

#[test]
fn a_fifo_in_the_work_tree_is_refused_by_name_not_waited_on() {
    let mut r = app_repo(COPY_ALL, &[]);
    r.commit("init");
    let status = std::process::Command::new("mkfifo")
        .arg(r.path().join("pipe"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let out = r.werf(&["build", "--dry-run", "--dev"]);
    assert_eq!(out.status.code(), Some(1));
    let all = out_text(&out, &r);
    assert!(
        all.contains(
            "`pipe` is a FIFO: special files (FIFOs, sockets, devices) cannot be part of a build"
        ),
        "{all}"
    );
}

/// An archive member: name, type, link target.
type Member<'a> = (&'a str, tar::EntryType, &'a str);

/// A tar whose member names are written raw (tar tools refuse to make these).
fn hostile_tar(members: &[Member<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, link) in members {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        let data: &[u8] = if *kind == tar::EntryType::Regular {
            b"owned\n"
        } else {
            b""
        };
        h.set_size(data.len() as u64);
        let raw = h.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name.as_bytes());
        raw.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        b.append(&h, data).expect("append");
    }
    b.into_inner().expect("tar")
}

#[test]
fn add_archives_unpack_as_docker_does_and_never_escape() {
    let yaml = app_yaml();
    let cases: [(&[Member<'_>], &str); 3] = [
        (
            &[("a/../../../etc/passwd", tar::EntryType::Regular, "")],
            "archive member `a/../../../etc/passwd` climbs out of the destination",
        ),
        (
            &[
                ("l", tar::EntryType::Symlink, "/etc"),
                ("l/passwd", tar::EntryType::Regular, ""),
            ],
            "archive member `l/passwd` would be written through the symbolic link member `l`",
        ),
        (
            &[("h", tar::EntryType::Link, "../../etc/shadow")],
            "archive member `h` is a hard link to `../../etc/shadow`, which is not an earlier member",
        ),
    ];
    for (members, expected) in cases {
        let mut r = app_repo("FROM scratch\n\nADD bad.tar /dest/\n", &[]);
        std::fs::write(r.path().join("bad.tar"), hostile_tar(members)).expect("write");
        r.commit("hostile archive");
        let reg = Registry::start();
        let out = r.werf(&["build", "--repo", &reg.repo("hostile")]);
        assert_eq!(out.status.code(), Some(1));
        let all = out_text(&out, &r);
        assert!(all.contains("Dockerfile:3: `ADD bad.tar`"), "{all}");
        assert!(all.contains(expected), "{all}");
    }

    // Every compression Docker reads, extracted; an absolute member lands under the destination.
    let mut r = Repo::new(&[("werf.yaml", &yaml)]);
    let staging = r.home.path().join("staging");
    std::fs::create_dir_all(staging.join("lib")).expect("mkdir");
    std::fs::write(staging.join("lib/x.so"), "elf\n").expect("write");
    let mut dockerfile = String::from("FROM scratch\n");
    for (flag, ext) in [
        ("-z", "tar.gz"),
        ("-j", "tar.bz2"),
        ("-J", "tar.xz"),
        ("--zstd", "tar.zst"),
    ] {
        let status = std::process::Command::new("tar")
            .args(["-c", flag, "-f"])
            .arg(r.path().join(format!("b.{ext}")))
            .arg("-C")
            .arg(&staging)
            .arg("lib")
            .status()
            .expect("tar runs");
        assert!(status.success(), "tar {flag}");
        dockerfile.push_str(&format!("ADD b.{ext} /{ext}/\n"));
    }
    std::fs::write(r.path().join("abs.tar"), {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(3);
        let raw = h.as_old_mut();
        raw.name[..11].copy_from_slice(b"/etc/passwd");
        h.set_cksum();
        b.append(&h, &b"abs"[..]).expect("append");
        b.into_inner().expect("tar")
    })
    .expect("write");
    dockerfile.push_str("ADD abs.tar /dest/\n");
    // A gzip that is not a tar is copied as it is.
    let gz = std::process::Command::new("sh")
        .args(["-c", "printf 'plain text' | gzip -n"])
        .output()
        .expect("gzip");
    std::fs::write(r.path().join("notes.gz"), &gz.stdout).expect("write");
    dockerfile.push_str("ADD notes.gz /dest/\n");
    r.write(&[("Dockerfile", &dockerfile)]);
    r.commit("archives");
    let reg = Registry::start();
    let repo = reg.repo("hostile");
    let out = r.werf(&["build", "--repo", &repo]);
    assert!(out.status.success(), "{}", out_text(&out, &r));
    let tag = r.tags()["app"].clone();
    let work = tempfile::tempdir().expect("tempdir");
    let rootfs = unpack(&format!("{repo}:{tag}"), work.path());
    for ext in ["tar.gz", "tar.bz2", "tar.xz", "tar.zst"] {
        assert_eq!(
            std::fs::read_to_string(rootfs.join(ext).join("lib/x.so")).expect(ext),
            "elf\n"
        );
    }
    assert_eq!(
        std::fs::read_to_string(rootfs.join("dest/etc/passwd")).expect("under /dest"),
        "abs"
    );
    assert_eq!(
        std::fs::read(rootfs.join("dest/notes.gz")).expect("copied"),
        gz.stdout
    );
}

#[test]
fn a_decompression_bomb_is_an_error_naming_the_line() {
    let mut r = app_repo("FROM scratch\nADD bomb.tar.gz /x/\n", &[]);
    // 200 MiB of zeros in a tar, gzip'd to about 200 KiB: over the 1,000x ratio past 64 MiB.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("mkdir -p s && head -c 209715200 /dev/zero > s/zero && tar -cf - -C s zero | gzip -9 > bomb.tar.gz && rm -r s")
        .current_dir(r.path())
        .status()
        .expect("sh");
    assert!(status.success());
    r.commit("bomb");
    let reg = Registry::start();
    let out = r.werf(&["build", "--repo", &reg.repo("hostile")]);
    assert_eq!(out.status.code(), Some(1));
    let all = out_text(&out, &r);
    assert!(all.contains("Dockerfile:2: `ADD bomb.tar.gz`"), "{all}");
    assert!(all.contains("a decompression bomb?"), "{all}");
}

#[test]
fn values_files_as_helm_reads_them() {
    let yaml = META.to_string();
    let chart = "apiVersion: v2\nname: c\nversion: 0.1.0\n";
    let tpl = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: {{ .Values.a | quote }}\n";
    let mut r = Repo::new(&[
        ("werf.yaml", &yaml),
        (".helm/Chart.yaml", chart),
        (".helm/values.yaml", "a: from-chart\n"),
        (".helm/templates/cm.yaml", tpl),
        ("comments.yaml", "# only a comment\n# and another\n"),
        ("tilde.yaml", "~\n"),
        ("list.yaml", "- a\n- b\n"),
    ]);
    r.commit("init");
    for empty in ["comments.yaml", "tilde.yaml"] {
        let out = r.werf(&["render", "--values", empty]);
        assert!(out.status.success(), "{}", out_text(&out, &r));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("a: \"from-chart\""),
            "{empty} must not wipe the chart's values"
        );
    }
    // Nested deeper than any parser should follow: refused with its line, before parsing.
    std::fs::write(
        r.path().join("deep.yaml"),
        format!("a: ok\nb: {}{}\n", "[".repeat(200_000), "]".repeat(200_000)),
    )
    .expect("write");
    let out = r.werf(&["render", "--values", "deep.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let all = out_text(&out, &r);
    assert!(
        all.contains("deep.yaml:2: collections nest more than 128 levels deep"),
        "{all}"
    );
    let out = r.werf(&["render", "--values", "list.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let all = out_text(&out, &r);
    assert!(all.contains("list.yaml"), "{all}");
    // Helm's words for it.
    assert!(
        all.contains("cannot unmarshal array into Go value of type map[string]interface {}"),
        "{all}"
    );
}

#[test]
fn a_submodule_in_a_context_is_its_commit() {
    let sub = Repo::new(&[("lib.txt", "v1\n")]);
    let mut sub = sub;
    sub.commit("sub");
    let mut r = app_repo(COPY_ALL, &[]);
    r.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        sub.path().to_str().expect("utf-8"),
        "vendor/lib",
    ]);
    r.commit("with a submodule");
    let committed = r.tags()["app"].clone();
    // Checked out and clean: no false "uncommitted changes", in commit or dev mode.
    let out = r.werf(&["build", "--dry-run"]);
    assert!(out.status.success(), "{}", out_text(&out, &r));
    let out = r.werf(&["build", "--dry-run", "--dev"]);
    assert!(out.status.success(), "{}", out_text(&out, &r));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&committed[..12]));
    // A new commit checked out in the submodule is a change of the gitlink.
    sub.write(&[("lib.txt", "v2\n")]);
    sub.commit("v2");
    crate::support::git_in(
        &r.path().join("vendor/lib"),
        &["pull", "-q", "origin", "main"],
        0,
    );
    let out = r.werf(&["build", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    let all = out_text(&out, &r);
    assert!(
        all.contains("`vendor/lib` (modified), used by `app`"),
        "{all}"
    );
}

#[test]
fn another_commit_is_read_from_git_alone() {
    let mut r = app_repo(COPY_ALL, &[("a.txt", "one\n")]);
    r.commit("one");
    let first = r.git(&["rev-parse", "HEAD"]).trim().to_string();
    r.write(&[("a.txt", "two\n")]);
    r.commit("two");
    let out = r.werf(&["build", "--dry-run", "--commit", &first]);
    assert!(out.status.success(), "{}", out_text(&out, &r));
    // HEAD itself is still checked against the work tree.
    r.write(&[("a.txt", "dirty\n")]);
    let out = r.werf(&["build", "--dry-run", "--commit", "HEAD"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_non_utf8_environment_is_read_not_panicked_on() {
    let mut r = app_repo(COPY_ALL, &[]);
    r.commit("init");
    let mut cmd = werf_cmd(r.path(), r.home.path(), &["build", "--dry-run"]);
    cmd.env(
        std::ffi::OsStr::from_bytes(b"WERF_BAD_\xff"),
        std::ffi::OsStr::from_bytes(b"\xfe\xff"),
    );
    let out = crate::support::no_panic(cmd.output().expect("runs"));
    assert!(out.status.success(), "{}", out_text(&out, &r));
}

#[test]
fn a_panic_is_one_line_and_exit_code_1() {
    let r = Repo::new(&[]);
    let out = werf_cmd(r.path(), r.home.path(), &["build", "--dry-run"])
        .env("WERF_DEBUG_PANIC", "1")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "Error: {PANIC_MESSAGE}: requested by WERF_DEBUG_PANIC at src/main.rs:"
        )),
        "{stderr}"
    );
}

#[test]
fn deep_nesting_in_templates_and_set_paths_is_a_clear_error() {
    let chart = "apiVersion: v2\nname: c\nversion: 0.1.0\n";
    let deep = format!("{{{{ {}1{} }}}}\n", "(".repeat(50_000), ")".repeat(50_000));
    let mut r = Repo::new(&[
        ("werf.yaml", META),
        (".helm/Chart.yaml", chart),
        (".helm/templates/deep.yaml", &deep),
    ]);
    r.commit("init");
    let out = r.werf(&["render"]);
    assert_eq!(out.status.code(), Some(1));
    let all = out_text(&out, &r);
    assert!(all.contains("deep.yaml:1:"), "{all}");
    assert!(all.contains("max expression depth exceeded"), "{all}");

    let path = vec!["k"; 30_000].join(".");
    r.write(&[(".helm/templates/deep.yaml", "a: 1\n")]);
    r.commit("shallow");
    let out = r.werf(&["render", "--set", &format!("{path}=1")]);
    assert_eq!(out.status.code(), Some(1));
    let all = out_text(&out, &r);
    assert!(
        all.contains(
            "value name nested level is greater than maximum supported nested level of 30"
        ),
        "{all}"
    );
    // Lists in lists, which Helm does not bound, are bounded too (no stack overflow).
    let lists = format!("k{}=1", "[0]".repeat(30_000));
    let out = r.werf(&["render", "--set", &lists]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out_text(&out, &r).contains("lists nest more than 100 levels"),
        "{}",
        out_text(&out, &r)
    );
}

#[test]
fn a_stalled_registry_fails_the_build_after_the_read_timeout() {
    let mut r = app_repo(COPY_ALL, &[]);
    r.commit("init");
    let reg = Registry::start();
    reg.signal_server(libc::SIGSTOP);
    let out = r.werf(&[
        "build",
        "--repo",
        &reg.repo("hostile"),
        "--connect-timeout",
        "1s",
        "--read-timeout",
        "1s",
    ]);
    reg.signal_server(libc::SIGCONT);
    assert_eq!(out.status.code(), Some(1));
    let all = out_text(&out, &r);
    assert!(
        all.contains(&format!("registry `{}`", reg.address)),
        "{all}"
    );
    assert!(
        all.contains("timed out") || all.contains("operation timed out"),
        "{all}"
    );
}

#[test]
fn two_builds_of_one_commit_into_one_repository_both_succeed() {
    let mut files: Vec<(String, String)> = vec![("werf.yaml".into(), META.to_string())];
    for i in 0..6 {
        files[0].1.push_str(&format!(
            "---\nimage: img{i}\ncontext: shared\ndockerfile: Dockerfile{i}\n"
        ));
        files.push((
            format!("shared/Dockerfile{i}"),
            format!("FROM scratch\nCOPY big.bin /big.bin\nLABEL n={i}\n"),
        ));
    }
    let big: String = (0..200_000).map(|i| format!("{i:08}\n")).collect();
    files.push(("shared/big.bin".into(), big));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut r = Repo::new(&refs);
    r.commit("init");
    let reg = Registry::start();
    let repo = reg.repo("race");
    // Separate homes: no shared lock, so the registry's blob races are met and retried.
    let second_home = tempfile::tempdir().expect("tempdir");
    let spawn = |home: &std::path::Path| {
        werf_cmd(
            r.path(),
            home,
            &["build", "--repo", &repo, "--parallel-tasks-limit", "6"],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("werf starts")
    };
    let a = spawn(r.home.path());
    let b = spawn(second_home.path());
    for (name, child) in [("first", a), ("second", b)] {
        let out = crate::support::no_panic(child.wait_with_output().expect("wait"));
        assert!(out.status.success(), "{name}: {}", out_text(&out, &r));
    }
}

#[test]
fn planted_secrets_never_reach_the_output() {
    let mut r = Repo::new(&[
        ("werf.yaml", META),
        (
            ".helm/Chart.yaml",
            "apiVersion: v2\nname: c\nversion: 0.1.0\n",
        ),
        (
            ".helm/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
        ),
    ]);
    r.commit("init");
    let secret = "PLANTED-TOKEN-7f3a9c";
    let kubeconfig = r.home.path().join("kubeconfig");
    // Malformed: the token where a map belongs, and a syntax error further down.
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {secret}\nclusters: [\n"),
    )
    .expect("write");
    let out = r.werf(&["plan", "--kube-config", kubeconfig.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let all = out_text(&out, &r);
    assert!(all.contains("cannot read kubeconfig"), "{all}");
    assert!(!all.contains(secret), "{all}");

    // Well formed, with a password in the server URL and a token; the server is unreachable.
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://admin:{secret}@127.0.0.1:9\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: {secret}-tok\n"),
    )
    .expect("write");
    let out = r.werf(&["plan", "--kube-config", kubeconfig.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let all = out_text(&out, &r);
    assert!(
        all.contains("cannot reach the Kubernetes API at `https://127.0.0.1:9"),
        "{all}"
    );
    assert!(!all.contains(secret), "{all}");

    // Credentials written into `--repo`.
    let yaml = app_yaml();
    r.write(&[("werf.yaml", &yaml), ("Dockerfile", COPY_ALL)]);
    r.commit("an image");
    let out = r.werf(&[
        "build",
        "--repo",
        &format!("admin:{secret}@127.0.0.1:9/app"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let all = out_text(&out, &r);
    assert!(all.contains("is not a valid image reference"), "{all}");
    assert!(!all.contains(secret), "{all}");
}

#[test]
fn large_files_stream_from_loose_and_packed_objects_and_arrive_whole() {
    // 20 MiB each (above the 16 MiB streaming threshold): one loose, one packed whole.
    let mut r = app_repo("FROM scratch\nCOPY loose.bin packed.bin /data/\n", &[]);
    let make = |name: &str, seed: u64| -> Vec<u8> {
        let mut state = seed;
        (0..20u64 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect::<Vec<u8>>()
            .tap_write(&r.path().join(name))
    };
    let loose = make("loose.bin", 7);
    let packed = make("packed.bin", 11);
    r.git(&["-c", "core.bigFileThreshold=1m", "add", "packed.bin"]);
    r.commit("big files");
    let reg = Registry::start();
    let repo = reg.repo("big");
    let out = r.werf(&["build", "--repo", &repo]);
    assert!(out.status.success(), "{}", out_text(&out, &r));
    let tag = r.tags()["app"].clone();
    let work = tempfile::tempdir().expect("tempdir");
    let rootfs = unpack(&format!("{repo}:{tag}"), work.path());
    assert!(std::fs::read(rootfs.join("data/loose.bin")).expect("loose") == loose);
    assert!(std::fs::read(rootfs.join("data/packed.bin")).expect("packed") == packed);
}

/// Writes bytes to a file and hands them back (for fixtures made inline).
trait TapWrite {
    fn tap_write(self, path: &std::path::Path) -> Self;
}

impl TapWrite for Vec<u8> {
    fn tap_write(self, path: &std::path::Path) -> Self {
        std::fs::write(path, &self).expect("write");
        self
    }
}

#[test]
fn swapped_cache_records_are_misses_not_another_images_tags() {
    // Two images whose contexts are filtered by `.dockerignore`: their listing digests are
    // cached (tree + filter -> digest), so there are records to swap.
    let yaml = format!(
        "{META}---\nimage: a\ncontext: a\ndockerfile: Dockerfile\n---\nimage: b\ncontext: b\ndockerfile: Dockerfile\n"
    );
    let mut r = Repo::new(&[
        ("werf.yaml", &yaml),
        ("a/Dockerfile", "FROM scratch\nCOPY . /a/\n"),
        ("a/.dockerignore", "*.md\n"),
        ("a/x.txt", "a\n"),
        ("a/n.md", "ignored\n"),
        ("b/Dockerfile", "FROM scratch\nCOPY . /b/\n"),
        ("b/.dockerignore", "*.md\n"),
        ("b/y.txt", "b\n"),
        ("b/n.md", "ignored\n"),
    ]);
    r.commit("init");
    let fresh = r.tags();
    // The listings are packed (one file): two records of it swap payloads, checksums and all.
    let packs = crate::support::files_below(&r.home.path().join("v1/listings"));
    assert_eq!(packs.len(), 1, "one pack of listings: {packs:?}");
    let mut bytes = std::fs::read(&packs[0]).expect("read");
    // `WRSP`, then each record: key (32), length (4), checksum (32), payload.
    let mut at = 4;
    let mut spans = Vec::new();
    while at + 68 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 32..at + 36].try_into().expect("4")) as usize;
        spans.push((at + 36, 32 + len));
        at += 68 + len;
    }
    assert!(spans.len() >= 2, "listing records to swap: {spans:?}");
    let ((p, lp), (q, lq)) = (spans[0], spans[1]);
    assert_eq!(lp, lq, "same-size records");
    let first: Vec<u8> = bytes[p..p + lp].to_vec();
    let second: Vec<u8> = bytes[q..q + lq].to_vec();
    assert_ne!(first, second);
    bytes[p..p + lp].copy_from_slice(&second);
    bytes[q..q + lq].copy_from_slice(&first);
    std::fs::write(&packs[0], &bytes).expect("write");
    // The plans remembered by the first run would answer without reading a listing.
    let memo = r.home.path().join("v1/plan-memo");
    assert!(memo.is_dir(), "the first run remembered its plans");
    std::fs::remove_dir_all(&memo).expect("forget the plans");
    assert_eq!(r.tags(), fresh, "swapped records must read as misses");
}

#[test]
fn a_moved_tag_is_reported_as_pushed_here_and_as_the_registry_has_it_elsewhere() {
    let mut r = app_repo(COPY_ALL, &[]);
    r.commit("init");
    let reg = Registry::start();
    let repo = reg.repo("moved");
    let report = r.home.path().join("report.json");
    let build = || {
        let out = r.werf(&[
            "build",
            "--repo",
            &repo,
            "--save-build-report",
            "--build-report-path",
            report.to_str().expect("utf-8"),
        ]);
        assert!(out.status.success(), "{}", out_text(&out, &r));
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
        v["Images"]["app"]["DockerImageDigest"]
            .as_str()
            .expect("digest")
            .to_string()
    };
    let first = build();
    let tag = r.tags()["app"].clone();
    // Someone pushes another image under the same tag.
    let work = tempfile::tempdir().expect("tempdir");
    push_base_image(&format!("{repo}:{tag}"), work.path());
    let moved = skopeo_inspect(&format!("{repo}:{tag}"), false)["Digest"]
        .as_str()
        .expect("digest")
        .to_string();
    assert_ne!(moved, first);
    // A tag is never pushed twice by werf-rs (it names its content): the machine that pushed it
    // reports the digest it pushed, as werf's manifest cache does, without a request per image
    // (issue 28). A machine with no record of it asks the registry, and reports the move.
    assert_eq!(build(), first);
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let (ok, out, v) = crate::support::build_with_report_in(&r, elsewhere.path(), &repo, &[], &[]);
    assert!(ok, "{out}");
    assert_eq!(v["Images"]["app"]["DockerImageDigest"], moved.as_str());
}
