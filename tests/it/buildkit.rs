//! `--backend buildkit` against real BuildKit daemons (dockerd's embedded BuildKit reached
//! through its `/grpc` endpoint): RUN output read back from the pushed image with skopeo and
//! umoci, our tags, a fleet of two daemons, and a daemon killed mid-build.

use std::io::{Read, Write};
use std::net::TcpListener;

use serde_json::Value;

use crate::dockerd::Dockerd;
use crate::registry::{push_busybox_image_with, read_back_runner, unpack, Registry};
use crate::support::Repo;

/// `werf build --backend buildkit` with a build report; (success, stdout + stderr, report).
fn build(r: &Repo, repo: &str, extra: &[&str]) -> (bool, String, Value) {
    build_env(r, repo, extra, &[])
}

fn build_env(r: &Repo, repo: &str, extra: &[&str], env: &[(&str, &str)]) -> (bool, String, Value) {
    let mut args = vec!["--backend", "buildkit"];
    args.extend_from_slice(extra);
    crate::support::build_with_report(r, repo, &args, env)
}

/// The images the report says were built, sorted.
fn rebuilt(report: &Value) -> Vec<String> {
    crate::support::rebuilt_images(report)
        .into_iter()
        .filter(|(_, built)| *built)
        .map(|(name, _)| name)
        .collect()
}

fn tag(report: &Value, image: &str) -> String {
    report["Images"][image]["DockerTag"]
        .as_str()
        .expect("tag")
        .to_string()
}

#[test]
fn run_steps_and_shell_stages_build_on_dockerds_buildkit_under_our_tags() {
    let reg = Registry::start();
    let daemon = Dockerd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let base = reg.repo("base/busybox:1");
    push_busybox_image_with(&base, work.path(), &["sh", "cat", "echo"]);
    let yaml = format!(
        "project: bk\nconfigVersion: 1\n---\nimage: runner\ncontext: runner\ndockerfile: Dockerfile\nargs:\n  GREETING: hello\naddHost: ['werf-test-host:10.1.2.3']\n---\nimage: plain\ncontext: plain\ndockerfile: Dockerfile\n---\nimage: shelled\nfrom: {base}\ngit:\n- add: /stapel\n  to: /app\nshell:\n  install:\n  - cat /app/s.txt > /installed\n"
    );
    let dockerfile = format!("FROM {base}\nARG GREETING\nCOPY x.txt /x.txt\nRUN cat /x.txt > /y.txt && echo \"$GREETING from RUN\" >> /y.txt && cat /etc/hosts > /hosts.txt\n");
    let mut r = Repo::new(&[
        ("werf.yaml", &yaml),
        ("runner/Dockerfile", &dockerfile),
        ("runner/x.txt", "x\n"),
        ("plain/Dockerfile", "FROM scratch\nCOPY p.txt /p.txt\n"),
        ("plain/p.txt", "p\n"),
        ("stapel/s.txt", "from git\n"),
    ]);
    r.commit("init");
    let planned = r.tags();
    let repo = reg.repo("bk");
    let addr = daemon.address();
    let (ok, out, report) = build(&r, &repo, &["--buildkit-addr", &addr]);
    assert!(ok, "{out}\n{}", daemon.log());
    assert_eq!(rebuilt(&report), ["plain", "runner", "shelled"], "{out}");
    // Tags are the engine's, whatever builds: the same as the dry run's plan.
    for image in ["runner", "plain", "shelled"] {
        assert_eq!(tag(&report, image), planned[image], "{image}");
    }
    // RUN went to the daemon; the image without RUN was built natively.
    assert!(
        out.contains(&format!(
            "`runner`: built and pushed {} on `{addr}`",
            &planned["runner"][..12]
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "`plain`: built and pushed {} in",
            &planned["plain"][..12]
        )),
        "{out}"
    );

    let (inspect, rootfs) = read_back_runner(&repo, &report, work.path());
    assert_eq!(inspect["Labels"]["werf"], "bk");
    // werf.yaml `addHost` reaches the step's /etc/hosts.
    let hosts = std::fs::read_to_string(rootfs.join("hosts.txt")).expect("hosts.txt");
    assert!(
        hosts
            .lines()
            .any(|l| l.split_whitespace().eq(["10.1.2.3", "werf-test-host"])),
        "{hosts}"
    );
    let shelled = format!("{repo}:{}", tag(&report, "shelled"));
    std::fs::create_dir(work.path().join("s")).expect("mkdir");
    let rootfs = unpack(&shelled, &work.path().join("s"));
    assert_eq!(
        std::fs::read_to_string(rootfs.join("installed")).expect("installed"),
        "from git\n"
    );

    // Nothing is missing: nothing is sent to the daemon.
    let (ok, out, report) = build(&r, &repo, &["--buildkit-addr", &addr]);
    assert!(ok, "{out}");
    assert_eq!(rebuilt(&report), Vec::<String>::new(), "{out}");

    // One edit: only the image it reaches.
    r.write(&[("runner/x.txt", "x2\n")]);
    r.commit("edit");
    let (ok, out, report) = build(&r, &repo, &["--buildkit-addr", &addr]);
    assert!(ok, "{out}");
    assert_eq!(rebuilt(&report), ["runner"], "{out}");

    // Without `--backend`, RUN goes to the BuildKit of the Docker daemon `DOCKER_HOST` names
    // (said once), even with buildah installed.
    r.write(&[("runner/x.txt", "x3\n")]);
    r.commit("edit 3");
    let docker_host = format!("unix://{}", daemon.socket().display());
    let (ok, out, report) =
        crate::support::build_with_report(&r, &repo, &[], &[("DOCKER_HOST", &docker_host)]);
    assert!(ok, "{out}");
    assert_eq!(rebuilt(&report), ["runner"], "{out}");
    assert_eq!(
        out.matches(&format!(
            "images with `RUN` build with BuildKit in the Docker daemon (`{addr}`)"
        ))
        .count(),
        1,
        "{out}"
    );
    assert!(out.contains(&format!("on `{addr}`")), "{out}");

    // A failing step names the image, the step and keeps its output.
    r.write(&[(
        "runner/Dockerfile",
        &format!("FROM {base}\nRUN echo before-the-failure; cat /nope\n"),
    )]);
    r.commit("break");
    let (ok, out, _) = build(&r, &repo, &["--buildkit-addr", &addr]);
    assert!(!ok, "{out}");
    assert!(out.contains("`runner`:"), "{out}");
    assert!(
        out.contains("RUN echo before-the-failure; cat /nope"),
        "{out}"
    );
    assert!(out.contains("  before-the-failure\n"), "{out}");
    assert!(out.contains("can't open '/nope'"), "{out}");
}

#[test]
fn secrets_reach_run_steps_through_a_client_session_and_no_output() {
    let reg = Registry::start();
    let daemon = Dockerd::start();
    let addr = daemon.address();
    crate::images::secrets_reach_run(
        &reg,
        &["--backend", "buildkit", "--buildkit-addr", &addr],
        "WERF_TEST_BK_SECRET",
    );
}

/// Serves the builds' `wget`: the first request (on the first daemon) runs `fail` on that
/// daemon and is never answered; the second (the same image on the other daemon) gets `done`.
fn serve_and_fail(listener: TcpListener, first: &Dockerd, fail: fn(&Dockerd)) {
    let (mut a, _) = listener.accept().expect("the first build reaches us");
    let mut buf = [0u8; 512];
    let _ = a.read(&mut buf);
    fail(first);
    drop(a);
    let (mut b, _) = listener.accept().expect("the build again, elsewhere");
    let _ = b.read(&mut buf);
    b.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\ndone\n")
        .expect("answer");
}

/// Adds image `slow` to `r`'s werf.yaml, whose `RUN` waits on this test, and builds it with
/// `flags` naming `first` before `second`: when the build reaches us from `first`, `fail` is done
/// to that daemon. The image must be finished on `second` and read back whole.
fn lose_the_first_daemon_mid_build(
    r: &mut Repo,
    repo: &str,
    base: &str,
    flags: &[&str],
    (first, second): (&Dockerd, &Dockerd),
    fail: fn(&Dockerd),
    work: &std::path::Path,
) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("port");
    let port = listener.local_addr().expect("addr").port();
    let mut yaml = std::fs::read_to_string(r.path().join("werf.yaml")).expect("werf.yaml");
    yaml.push_str(&format!(
        "---\nimage: slow\ncontext: slow\ndockerfile: Dockerfile\nargs:\n  PORT: \"{port}\"\n"
    ));
    r.write(&[
        ("werf.yaml", &yaml),
        (
            "slow/Dockerfile",
            &format!("FROM {base}\nARG PORT\nRUN wget -q -O /got http://127.0.0.1:$PORT/\n"),
        ),
    ]);
    r.commit("slow");
    let (ok, out, report) = std::thread::scope(|s| {
        s.spawn(|| serve_and_fail(listener, first, fail));
        build(r, repo, flags)
    });
    assert!(ok, "{out}");
    assert_eq!(rebuilt(&report), ["slow"], "{out}");
    assert!(
        out.contains(&format!(
            "`slow`: BuildKit daemon `{}` was lost; building again on another",
            first.address()
        )),
        "{out}"
    );
    assert!(out.contains(&format!("on `{}`", second.address())), "{out}");
    let rootfs = unpack(&format!("{repo}:{}", tag(&report, "slow")), work);
    assert_eq!(
        std::fs::read_to_string(rootfs.join("got")).expect("got"),
        "done\n"
    );
}

#[test]
fn a_fleet_spreads_images_and_finishes_a_lost_daemons_image_on_another() {
    let reg = Registry::start();
    let (one, two) = (Dockerd::start(), Dockerd::start());
    let work = tempfile::tempdir().expect("tempdir");
    let base = reg.repo("base/busybox:1");
    push_busybox_image_with(&base, work.path(), &["sh", "echo", "wget"]);
    let images: String = (0..4)
        .map(|i| format!("---\nimage: s{i}\ncontext: s{i}\ndockerfile: Dockerfile\n"))
        .collect();
    let mut files: Vec<(String, String)> = vec![(
        "werf.yaml".into(),
        format!("project: fleet\nconfigVersion: 1\n{images}"),
    )];
    for i in 0..4 {
        files.push((
            format!("s{i}/Dockerfile"),
            format!("FROM {base}\nRUN echo {i} > /n\n"),
        ));
    }
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut r = Repo::new(&files);
    r.commit("init");
    let repo = reg.repo("fleet");
    let fleet = [
        "--buildkit-addr",
        &one.address(),
        "--buildkit-addr",
        &two.address(),
        "--parallel-tasks-limit",
        "1",
    ];
    // A daemon that does not answer at the start is left out, said so, and the rest build.
    let gone = "unix:///tmp/werf-test-no-such-daemon.sock";
    let mut with_gone = fleet.to_vec();
    with_gone.extend(["--buildkit-addr", gone]);
    let (ok, out, report) = build(&r, &repo, &with_gone);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "warning: BuildKit daemon left out: reaching `{gone}`"
        )),
        "{out}"
    );
    assert_eq!(rebuilt(&report), ["s0", "s1", "s2", "s3"]);
    for d in [&one, &two] {
        assert!(
            out.contains(&format!("on `{}`", d.address())),
            "each daemon builds some: {out}"
        );
    }

    // One more image, whose build waits on us: the first daemon is killed while it runs it.
    lose_the_first_daemon_mid_build(
        &mut r,
        &repo,
        &base,
        &fleet,
        (&one, &two),
        Dockerd::kill,
        work.path(),
    );
}

#[test]
fn a_repository_behind_credentials_is_read_and_written_by_the_daemon_with_ours() {
    // The base comes from an open registry; the repository (the context image, the result)
    // needs the Docker config's credentials, which the daemon asks the session for.
    let open = Registry::start();
    let locked = Registry::start_with_auth();
    let daemon = Dockerd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let base = open.repo("base/busybox:1");
    push_busybox_image_with(&base, work.path(), &["sh", "cat"]);
    let mut r = Repo::new(&[
        (
            "werf.yaml",
            "project: locked\nconfigVersion: 1\n---\nimage: app\ncontext: app\ndockerfile: Dockerfile\n",
        ),
        (
            "app/Dockerfile",
            &format!("FROM {base}\nCOPY in.txt /in.txt\nRUN cat /in.txt /in.txt > /out.txt\n"),
        ),
        ("app/in.txt", "behind a password\n"),
    ]);
    r.commit("init");
    let docker = locked.docker_config();
    let env = [("DOCKER_CONFIG", docker.path().to_str().expect("utf-8"))];
    let repo = locked.repo("locked");
    let (ok, out, report) = build_env(&r, &repo, &["--buildkit-addr", &daemon.address()], &env);
    assert!(ok, "{out}\n{}", daemon.log());
    assert_eq!(rebuilt(&report), ["app"]);
    let image = format!("{repo}:{}", tag(&report, "app"));
    let copied = crate::registry::skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--creds",
        "werf:secret",
        &format!("docker://{image}"),
    ]);
    let inspect: Value = serde_json::from_str(&copied).expect("json");
    assert_eq!(
        inspect["Digest"],
        report["Images"]["app"]["DockerImageDigest"]
    );
}

#[test]
fn a_stalled_daemon_is_found_out_by_its_unanswered_pings_and_its_image_built_elsewhere() {
    let reg = Registry::start();
    let (one, two) = (Dockerd::start(), Dockerd::start());
    let work = tempfile::tempdir().expect("tempdir");
    let base = reg.repo("base/busybox:1");
    push_busybox_image_with(&base, work.path(), &["sh", "wget"]);
    let mut r = Repo::new(&[("werf.yaml", "project: stall\nconfigVersion: 1\n")]);
    r.commit("init");
    let repo = reg.repo("stall");
    let flags = [
        "--buildkit-addr",
        &one.address(),
        "--buildkit-addr",
        &two.address(),
        "--buildkit-keepalive",
        "1",
    ];
    // The first daemon stops mid-build without closing anything: only the pings tell.
    lose_the_first_daemon_mid_build(
        &mut r,
        &repo,
        &base,
        &flags,
        (&one, &two),
        Dockerd::stall,
        work.path(),
    );
}

/// `RUN` for several platforms: the daemon builds each (its base resolved for that platform),
/// and an OCI index names them.
#[test]
fn run_images_for_two_platforms_are_built_once_per_platform_into_an_index() {
    let reg = Registry::start();
    let daemon = Dockerd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let base = reg.repo("base/busybox:1");
    push_busybox_image_with(&base, work.path(), &["sh", "echo"]);
    let mut r = Repo::new(&[
        (
            "werf.yaml",
            "project: bkmulti\nconfigVersion: 1\n---\nimage: app\ncontext: app\ndockerfile: Dockerfile\nplatform: [linux/amd64, linux/386]\n",
        ),
        (
            "app/Dockerfile",
            &format!("FROM {base}\nRUN echo built-by-run > /built.txt\n"),
        ),
    ]);
    r.commit("init");
    let repo = reg.repo("bkmulti");
    let addr = daemon.address();
    let (ok, out, report) = build(&r, &repo, &["--buildkit-addr", &addr]);
    assert!(ok, "{out}\n{}", daemon.log());
    let image = format!("{repo}:{}", tag(&report, "app"));
    let index: Value = serde_json::from_str(&crate::registry::skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{image}"),
    ]))
    .expect("JSON");
    let mut archs: Vec<&str> = index["manifests"]
        .as_array()
        .expect("an index")
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().expect("arch"))
        .collect();
    archs.sort();
    assert_eq!(archs, ["386", "amd64"], "{index}");
    for arch in ["amd64", "386"] {
        let config: Value = serde_json::from_str(&crate::registry::skopeo(&[
            "--override-arch",
            arch,
            "inspect",
            "--config",
            "--tls-verify=false",
            &format!("docker://{image}"),
        ]))
        .expect("JSON");
        assert_eq!(config["architecture"], arch, "{config}");
        // The RUN ran for this platform: its file is in the image.
        let root = unpack_arch(&image, arch, &work.path().join(arch));
        assert_eq!(
            std::fs::read_to_string(root.join("built.txt")).expect("RUN's file"),
            "built-by-run\n"
        );
    }

    // Each platform passed through a staging tag; purge takes the index and them away.
    let tags = |repo: &str| -> Vec<String> {
        let listed: Value = serde_json::from_str(&crate::registry::skopeo(&[
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{repo}"),
        ]))
        .expect("JSON");
        listed["Tags"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let app_tag = tag(&report, "app");
    let mut before = tags(&repo);
    before.sort();
    assert_eq!(
        before,
        [
            app_tag.clone(),
            format!("{app_tag}-linux-386"),
            format!("{app_tag}-linux-amd64")
        ]
    );
    let out = r.werf(&["purge", "--repo", &repo, "--without-kube", "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tags(&repo), Vec::<String>::new());
}

/// `image` for `arch`, copied out with skopeo and unpacked with umoci.
fn unpack_arch(image: &str, arch: &str, work: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(work).expect("mkdir");
    let layout = work.join("layout");
    crate::registry::skopeo(&[
        "--override-arch",
        arch,
        "copy",
        "-q",
        "--src-tls-verify=false",
        &format!("docker://{image}"),
        &format!("oci:{}:x", layout.display()),
    ]);
    let bundle = work.join("bundle");
    crate::registry::umoci(&[
        "unpack",
        "--image",
        &format!("{}:x", layout.display()),
        bundle.to_str().expect("utf-8"),
    ]);
    bundle.join("rootfs")
}
