//! Hostile chart repositories, registries and archives, served by the tests themselves on
//! 127.0.0.1: names that climb out of the chart, committed links out of the repository, tar
//! headers of gigabytes, answers of gigabytes, tag listings that never end, and a HEALTHCHECK
//! that overflows. Each ends in a clear error naming the cause, never a write outside the
//! repository, an allocation of the size claimed, or a loop.

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::bombs::long_name_bomb;
use crate::http_server::{Body, Reply, Server};
use crate::registry::{skopeo, Registry};
use crate::support::{text, Repo};

const META: &str = "project: hostile\nconfigVersion: 1\n";

fn all_text(out: &std::process::Output, r: &Repo) -> String {
    let (o, e) = text(out, r);
    format!("{o}{e}")
}

/// A packaged chart `name-version` (gzip, tar, files under `name/`).
fn chart_tgz(name: &str, version: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let files = [
        (
            "Chart.yaml",
            format!("apiVersion: v2\nname: {name}\nversion: {version}\n"),
        ),
        (
            "templates/cm.yaml",
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"),
        ),
    ];
    for (path, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, format!("{name}/{path}"), body.as_bytes())
            .expect("append");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
}

/// A repository server with `index.yaml` and the archives named in it.
fn chart_repository(index: String, archives: Vec<(String, Vec<u8>)>) -> Server {
    Server::start(move |_, path| {
        if path == "/index.yaml" {
            return Reply::ok(index.clone());
        }
        match archives.iter().find(|(p, _)| p == path) {
            Some((_, data)) => Reply::ok(data.clone()),
            None => Reply::status(404),
        }
    })
}

fn chart_repo(chart_yaml: &str) -> Repo {
    let mut r = Repo::new(&[("werf.yaml", META), (".helm/Chart.yaml", chart_yaml)]);
    r.commit("chart");
    r
}

fn dependency(name: &str, url: &str) -> String {
    format!(
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: {name}\n  version: 1.0.0\n  repository: {url}\n"
    )
}

/// Every file below `dir` (links not followed).
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("entry");
            if e.file_type().expect("type").is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_dependency_name_that_climbs_out_of_the_chart_is_refused_and_archives_are_named_by_url() {
    let good = chart_tgz("good", "1.0.0");
    let index = "apiVersion: v1\nentries:\n  ./../../../escaped:\n  - name: ./../../../escaped\n    version: 1.0.0\n    urls: [escaped-1.0.0.tgz]\n  good:\n  - name: good\n    version: 1.0.0\n    urls: [../../pool/good-1.0.0.tgz]\n".to_string();
    let server = chart_repository(
        index,
        vec![
            ("/escaped-1.0.0.tgz".into(), chart_tgz("escaped", "1.0.0")),
            ("/pool/good-1.0.0.tgz".into(), good.clone()),
        ],
    );
    // The repository three folders down, so `../../../` stays inside the test's folder.
    let outer = tempfile::tempdir().expect("tempdir");
    let r = chart_repo(&dependency("./../../../escaped", &server.url));
    let deep = outer.path().join("a/b/c");
    std::fs::create_dir_all(&deep).expect("mkdir");
    let moved = deep.join("repo");
    std::fs::rename(r.path(), &moved).expect("move the repository");
    let werf = |args: &[&str]| crate::support::werf_in(&moved, r.home.path(), args);

    let out = werf(&["helm", "dependency", "update"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("dependency name `./../../../escaped` is not a chart name"),
        "{all}"
    );
    let written: Vec<String> = files_below(outer.path())
        .into_iter()
        .filter(|f| f.ends_with(".tgz"))
        .collect();
    assert!(
        written.is_empty(),
        "nothing downloaded anywhere: {written:?}"
    );

    // A good name whose URL climbs: the archive is named by the URL's last segment, in charts/.
    std::fs::write(
        moved.join(".helm/Chart.yaml"),
        dependency("good", &server.url),
    )
    .expect("write");
    let out = werf(&["helm", "dependency", "update"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(moved.join(".helm/charts/good-1.0.0.tgz")).expect("in charts/"),
        good
    );
    let archives: Vec<String> = files_below(outer.path())
        .into_iter()
        .filter(|f| f.ends_with(".tgz"))
        .collect();
    assert_eq!(archives.len(), 1, "{archives:?}");
}

#[test]
fn committed_links_out_of_the_repository_are_never_written_through() {
    let good = chart_tgz("good", "1.0.0");
    let index = "apiVersion: v1\nentries:\n  good:\n  - name: good\n    version: 1.0.0\n    urls: [good-1.0.0.tgz]\n".to_string();
    let server = chart_repository(index, vec![("/good-1.0.0.tgz".into(), good.clone())]);
    let outside = tempfile::tempdir().expect("tempdir");
    let sentinel = outside.path().join("keep.txt");
    std::fs::write(&sentinel, "host file\n").expect("write");

    // 1. `charts` is a link out of the repository: refused, the folder outside untouched.
    let mut r = chart_repo(&dependency("good", &server.url));
    std::os::unix::fs::symlink(outside.path(), r.path().join(".helm/charts")).expect("link");
    r.commit("charts is a link");
    let out = r.werf(&["helm", "dependency", "update"]);
    let all = all_text(&out, &r);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains(".helm/charts` is a symbolic link to"), "{all}");
    assert!(all.contains("outside the repository"), "{all}");
    assert_eq!(
        files_below(outside.path()),
        vec![sentinel.display().to_string()]
    );

    // 2. `Chart.lock` and a planted part file are links out: replaced, never written through.
    std::fs::remove_file(r.path().join(".helm/charts")).expect("unlink");
    std::fs::create_dir(r.path().join(".helm/charts")).expect("mkdir");
    std::os::unix::fs::symlink(&sentinel, r.path().join(".helm/Chart.lock")).expect("link");
    std::os::unix::fs::symlink(
        &sentinel,
        r.path().join(".helm/charts/.good-1.0.0.tgz.part"),
    )
    .expect("link");
    let out = r.werf(&["helm", "dependency", "update"]);
    assert!(out.status.success(), "{}", all_text(&out, &r));
    assert_eq!(
        std::fs::read_to_string(&sentinel).expect("read"),
        "host file\n"
    );
    let lock = r.path().join(".helm/Chart.lock");
    assert!(
        !std::fs::symlink_metadata(&lock)
            .expect("lock")
            .file_type()
            .is_symlink(),
        "the lock replaced the link"
    );
    assert!(std::fs::read_to_string(&lock)
        .expect("lock")
        .contains("name: good"));
    assert_eq!(
        std::fs::read(r.path().join(".helm/charts/good-1.0.0.tgz")).expect("archive"),
        good
    );
    assert!(!r.path().join(".helm/charts/.good-1.0.0.tgz.part").exists());
}

#[test]
fn a_chart_archive_with_a_tar_header_of_gigabytes_is_refused_before_it_is_read() {
    let chart = "apiVersion: v2\nname: app\nversion: 0.1.0\n";
    let mut r = Repo::new(&[("werf.yaml", META), (".helm/Chart.yaml", chart)]);
    std::fs::create_dir_all(r.path().join(".helm/charts")).expect("mkdir");
    std::fs::write(r.path().join(".helm/charts/big-1.0.0.tgz"), {
        let mut bomb = Vec::new();
        long_name_bomb(&mut bomb, 5 << 29, 4096).expect("bomb");
        bomb
    })
    .expect("write");
    r.commit("a bomb among the subcharts");
    let out = r.werf(&["render"]);
    let all = all_text(&out, &r);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("big-1.0.0.tgz"), "{all}");
    assert!(
        all.contains("GNU long-name header of 2684354560 bytes is over the limit of 1048576 bytes"),
        "{all}"
    );
}

#[test]
fn answers_of_gigabytes_are_refused_by_their_length() {
    let three_gib = 3u64 << 30;
    // 1. index.yaml of 3 GiB.
    let server = Server::start(move |_, _| Reply {
        status: 200,
        headers: vec![],
        body: Body::Repeat {
            byte: b'#',
            len: three_gib,
        },
    });
    let r = chart_repo(&dependency("good", &server.url));
    let out = r.werf(&["helm", "dependency", "update"]);
    let all = all_text(&out, &r);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("index.yaml"), "{all}");
    assert!(
        all.contains("the answer is 3221225472 bytes, over the limit of 134217728 bytes (WERF_MAX_BODY_SIZE)"),
        "{all}"
    );
    // 2. A chart archive of 3 GiB behind a good index; the limit is the chart's.
    let index = "apiVersion: v1\nentries:\n  good:\n  - name: good\n    version: 1.0.0\n    urls: [good-1.0.0.tgz]\n";
    let server = Server::start(move |_, path| {
        if path == "/index.yaml" {
            Reply::ok(index)
        } else {
            Reply {
                status: 200,
                headers: vec![],
                body: Body::Repeat {
                    byte: 0,
                    len: three_gib,
                },
            }
        }
    });
    let r = chart_repo(&dependency("good", &server.url));
    let out = r.werf(&["helm", "dependency", "update"]);
    let all = all_text(&out, &r);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("over the limit of 104857600 bytes (WERF_MAX_CHART_SIZE)"),
        "{all}"
    );
    // 3. Raised by its variable, the same index is read (and is no YAML).
    let out = r.werf_env(
        &["helm", "dependency", "update"],
        &[("WERF_MAX_CHART_SIZE", "2MiB")],
    );
    let all = all_text(&out, &r);
    assert!(all.contains("over the limit of 2097152 bytes"), "{all}");

    // 4. A registry whose base image manifest is 3 GiB, and one whose token answer is.
    let registry = Server::start(move |_, path| {
        if path.starts_with("/v2/base/manifests/") {
            return Reply {
                status: 200,
                headers: vec![(
                    "Content-Type".into(),
                    "application/vnd.oci.image.manifest.v1+json".into(),
                )],
                body: Body::Repeat {
                    byte: b' ',
                    len: three_gib,
                },
            };
        }
        if path == "/v2/" || path == "/v2" {
            return Reply::ok("{}");
        }
        Reply::status(404)
    });
    let yaml = format!("{META}---\nimage: app\ndockerfile: Dockerfile\n");
    let dockerfile = format!("FROM {}/base:1\nCOPY . /app/\n", registry.addr);
    let mut r = Repo::new(&[
        ("werf.yaml", yaml.as_str()),
        ("Dockerfile", dockerfile.as_str()),
    ]);
    r.commit("a base behind a huge manifest");
    let out = r.werf(&["build", "--repo", &format!("{}/app", registry.addr)]);
    let all = all_text(&out, &r);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("pulling the manifest of"), "{all}");
    assert!(
        all.contains("the answer is 3221225472 bytes, over the limit of 134217728 bytes"),
        "{all}"
    );
    let tokens = Server::start(move |_, _| Reply {
        status: 200,
        headers: vec![],
        body: Body::Repeat {
            byte: b'{',
            len: three_gib,
        },
    });
    let realm = format!("{}/token", tokens.url);
    let locked = Server::start(move |_, _| {
        Reply::status(401).header(
            "WWW-Authenticate",
            &format!("Bearer realm=\"{realm}\",service=\"hostile\""),
        )
    });
    let out = r.werf(&["graph", "--repo", &format!("{}/app", locked.addr)]);
    let all = all_text(&out, &r);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("the answer is 3221225472 bytes, over the limit of 134217728 bytes"),
        "{all}"
    );
}

#[test]
fn a_tag_listing_that_never_ends_stops_at_its_page_and_tag_limits() {
    let pages = Arc::new(AtomicUsize::new(0));
    let counter = pages.clone();
    let server = Server::start(move |_, path| {
        if path.starts_with("/v2/hostile/tags/list") {
            // Every page a thousand tags never seen before, and a link to one more.
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let tags: Vec<String> = (0..1000).map(|i| format!("p{n:06}-{i:04}")).collect();
            let body = serde_json::json!({"name": "hostile", "tags": tags}).to_string();
            return Reply::ok(body).header(
                "Link",
                &format!("</v2/hostile/tags/list?n=1000&last=p{n:06}-0999>; rel=\"next\""),
            );
        }
        if path == "/v2/" || path == "/v2" {
            return Reply::ok("{}");
        }
        Reply::status(404)
    });
    let mut r = Repo::new(&[
        (
            "werf.yaml",
            &format!("{META}---\nimage: app\ndockerfile: Dockerfile\n"),
        ),
        ("Dockerfile", "FROM scratch\nCOPY . /app/\n"),
    ]);
    r.commit("init");
    let repo = format!("{}/hostile", server.addr);
    let out = r.werf_env(&["graph", "--repo", &repo], &[("WERF_MAX_TAG_PAGES", "40")]);
    let all = all_text(&out, &r);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("the registry kept sending pages: stopped after 40 (WERF_MAX_TAG_PAGES)"),
        "{all}"
    );
    assert_eq!(pages.load(Ordering::Relaxed), 40);

    let before = pages.load(Ordering::Relaxed);
    let out = r.werf_env(&["graph", "--repo", &repo], &[("WERF_MAX_TAGS", "5000")]);
    let all = all_text(&out, &r);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("the repository has more than 5000 tags (WERF_MAX_TAGS)"),
        "{all}"
    );
    assert_eq!(pages.load(Ordering::Relaxed) - before, 6);
}

#[test]
fn a_healthcheck_interval_past_go_durations_is_an_error_not_a_wrapped_number() {
    let yaml = format!("{META}---\nimage: app\ndockerfile: Dockerfile\n");
    let mut r = Repo::new(&[
        ("werf.yaml", &yaml),
        (
            "Dockerfile",
            "FROM scratch\nHEALTHCHECK --interval=99999999999999999h CMD x\n",
        ),
    ]);
    r.commit("init");
    let reg = Registry::start();
    let repo = reg.repo("hostile");
    let out = r.werf(&["build", "--repo", &repo]);
    let all = all_text(&out, &r);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("Dockerfile:2"), "{all}");
    assert!(
        all.contains("HEALTHCHECK `--interval=99999999999999999h` is out of range"),
        "{all}"
    );
    // The largest whole hour Go holds builds, and skopeo reads it back as Go would.
    r.write(&[(
        "Dockerfile",
        "FROM scratch\nHEALTHCHECK --interval=2562047h CMD x\n",
    )]);
    r.commit("in range");
    let out = r.werf(&["build", "--repo", &repo]);
    assert!(out.status.success(), "{}", all_text(&out, &r));
    let tag = r.tags()["app"].clone();
    // `--raw`: the config as pushed (skopeo's typed OCI config has no `Healthcheck`).
    let raw = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--config",
        "--raw",
        &format!("docker://{repo}:{tag}"),
    ]);
    let config: serde_json::Value = serde_json::from_str(&raw).expect("JSON");
    assert_eq!(
        config["config"]["Healthcheck"]["Interval"],
        serde_json::json!(2_562_047u64 * 3_600_000_000_000)
    );
}

/// `werf graph --serve` on a free port, killed on drop.
struct Served {
    child: std::process::Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn get(addr: &str) -> String {
    use std::io::Read as _;
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("the page arrives");
    out
}

#[test]
fn the_graph_server_answers_beside_idle_clients_and_refuses_huge_heads() {
    use std::io::Read as _;
    let mut r = Repo::new(&[
        (
            "werf.yaml",
            &format!("{META}---\nimage: app\ndockerfile: Dockerfile\n"),
        ),
        ("Dockerfile", "FROM scratch\nCOPY . /app/\n"),
    ]);
    r.commit("init");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = crate::support::werf_cmd(r.path(), r.home.path(), &["graph", "--serve", &addr])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("werf graph --serve");
    let served = Served { child, addr };
    let mut tries = 0;
    while std::net::TcpStream::connect(&served.addr).is_err() {
        tries += 1;
        assert!(tries < 600, "the server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Idle clients (connected, sending nothing) and one stuck mid-head.
    let idle: Vec<std::net::TcpStream> = (0..8)
        .map(|_| std::net::TcpStream::connect(&served.addr).expect("idle"))
        .collect();
    let mut half = std::net::TcpStream::connect(&served.addr).expect("half");
    half.write_all(b"GET / HTTP/1.1\r\nHost:")
        .expect("half a head");
    let page = get(&served.addr);
    assert!(
        page.starts_with("HTTP/1.1 200 OK"),
        "{}",
        &page[..page.len().min(200)]
    );
    assert!(page.contains("id=\"graph-data\""));

    // A request line of 256 MiB: refused after the limit, never buffered whole.
    let mut huge = std::net::TcpStream::connect(&served.addr).expect("huge");
    huge.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .expect("timeout");
    let chunk = vec![b'a'; 1 << 20];
    let _ = huge.write_all(b"GET /");
    let mut sent = 0usize;
    for _ in 0..256 {
        if huge.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(sent < 256 << 20, "the server stopped reading the head");
    let mut answer = Vec::new();
    let _ = huge.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    let rss = resident_kib(served.child.id());
    assert!(rss < 200 * 1024, "resident {rss} KiB after a 256 MiB head");
    // And it still serves, with the idle clients still connected.
    assert!(get(&served.addr).starts_with("HTTP/1.1 200 OK"));

    // Fuzzed requests, each on its own connection closed after sending: any answer or none,
    // and the server still serves after them all.
    let seeds: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HEAD /graph HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ];
    werf_fuzz::run("graph-server-requests", seeds, |input| {
        let mut s = std::net::TcpStream::connect(&served.addr).expect("connect");
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .expect("timeout");
        let _ = s.write_all(input);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
    });
    assert!(get(&served.addr).starts_with("HTTP/1.1 200 OK"));
    let rss = resident_kib(served.child.id());
    assert!(
        rss < 200 * 1024,
        "resident {rss} KiB after the fuzzed requests"
    );
    drop(idle);
    drop(half);
}

#[test]
fn a_registry_stopped_in_the_middle_of_uploads_ends_the_build_with_a_clear_error() {
    // Twenty images of 8 MiB each, all different; the registry is stopped once the first
    // image's tag exists, with the other uploads under way.
    let mut yaml = META.to_string();
    let mut files: Vec<(String, String)> = Vec::new();
    for i in 0..20 {
        yaml.push_str(&format!(
            "---\nimage: img{i:02}\ncontext: img{i:02}\ndockerfile: Dockerfile\n"
        ));
        files.push((
            format!("img{i:02}/Dockerfile"),
            "FROM scratch\nCOPY big.bin /big.bin\n".into(),
        ));
        let mut rng = werf_fuzz::Rng::new(i + 1);
        let big: String = (0..(8 << 20) / 17)
            .map(|_| format!("{:016x}\n", rng.next_u64()))
            .collect();
        files.push((format!("img{i:02}/big.bin"), big));
    }
    files.push(("werf.yaml".into(), yaml));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut r = Repo::new(&refs);
    r.commit("twenty images");
    let reg = Registry::start();
    let repo = reg.repo("stalled");
    let mut child = crate::support::werf_cmd(
        r.path(),
        r.home.path(),
        &["build", "--repo", &repo, "--read-timeout", "3s"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("werf starts");
    let tags = reg
        .storage()
        .join("docker/registry/v2/repositories/stalled/_manifests/tags");
    let mut waited = 0;
    while !tags.exists() {
        waited += 1;
        assert!(waited < 6000, "no image was pushed");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the build ended before the registry was stopped"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    reg.signal_server(libc::SIGSTOP);
    let started = std::time::Instant::now();
    // A guard against a hang, not a measure: the build must end by itself.
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > std::time::Duration::from_secs(300) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let ended_in = started.elapsed();
    reg.signal_server(libc::SIGCONT);
    let out = crate::support::no_panic(child.wait_with_output().expect("output"));
    let all = all_text(&out, &r);
    assert!(
        status.is_some(),
        "the build hung on the stopped registry: {all}"
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains(&format!("registry `{}`", reg.address)),
        "{all}"
    );
    assert!(
        all.contains("the registry took no data for 3 s") || all.contains("timed out"),
        "{all}"
    );
    eprintln!("the build ended {ended_in:?} after the registry was stopped");
}
