//! `werf dev` driven as a person drives it: a long-running process, real saves in its work tree,
//! its stdout read line by line and its stdin for `q`; what it wrote is read from the registry and
//! the API server's audit log.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use crate::cluster::cluster;
use crate::deploy::object_writes;
use crate::support::{werf_cmd, Repo};

const WERF_YAML: &str = "project: loop\nconfigVersion: 1\n---\nimage: app\ncontext: app\ndockerfile: Dockerfile\n---\nimage: side\ncontext: side\ndockerfile: Dockerfile\n";

const APP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  selector:\n    matchLabels: {app: app}\n  template:\n    metadata:\n      labels: {app: app}\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: app\n        image: {{ .Values.werf.image.app }}\n";

const SIDE: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: side\nspec:\n  selector:\n    matchLabels: {app: side}\n  template:\n    metadata:\n      labels: {app: side}\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: side\n        image: {{ .Values.werf.image.side }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n";

fn project() -> Repo {
    let mut repo = Repo::new(&[
        ("werf.yaml", WERF_YAML),
        ("README.md", "# loop\n"),
        (".gitignore", "build/\n"),
        ("app/Dockerfile", "FROM scratch\nCOPY . /srv/\n"),
        ("app/app.txt", "app v1\n"),
        ("side/Dockerfile", "FROM scratch\nCOPY side.txt /side.txt\n"),
        ("side/side.txt", "side v1\n"),
        (
            ".helm/Chart.yaml",
            "apiVersion: v2\nname: loop\nversion: 1.0.0\n",
        ),
        (".helm/templates/app.yaml", APP),
        (".helm/templates/side.yaml", SIDE),
    ]);
    repo.commit("init");
    repo
}

/// A running `werf dev` and its output, line by line.
struct Dev {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Everything read so far (for failure messages).
    seen: Vec<String>,
}

impl Dev {
    fn start(repo: &Repo, args: &[&str]) -> Dev {
        let mut all = vec!["dev", "--debounce-ms", "100"];
        all.extend_from_slice(args);
        let mut child = werf_cmd(repo.path(), repo.home.path(), &all)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("werf dev starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Dev {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// The lines of the next cycle, up to its `[dev] ready` line or its error (a guard against
    /// a hang, not a measure: generous).
    fn cycle(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(180)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    let end = line.starts_with("[dev] ready")
                        || line == "[dev] waiting for the next save";
                    out.push(line);
                    if end {
                        return out;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "`werf dev` did not finish a cycle:\n{}",
                    self.seen.join("\n")
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("`werf dev` ended:\n{}", self.seen.join("\n"))
                }
            }
        }
    }

    /// Writes files as an editor saves them, then waits for the cycle they cause.
    fn save(&mut self, repo: &Repo, files: &[(&str, &str)]) -> Vec<String> {
        repo.write(files);
        self.cycle()
    }

    /// `q` on stdin: the loop ends cleanly; the rest of its output.
    fn quit(mut self) -> (std::process::ExitStatus, Vec<String>) {
        if let Some(mut stdin) = self.stdin.take() {
            stdin.write_all(b"q\n").expect("write q");
        }
        self.finish()
    }

    fn finish(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = self.child.wait().expect("werf dev ends");
        let rest: Vec<String> = self.lines.iter().collect();
        (status, rest)
    }
}

impl Drop for Dev {
    /// A failed test leaves no loop running.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

#[test]
fn each_save_is_the_minimal_build_and_patch_and_broken_states_keep_the_loop() {
    let c = cluster();
    let repo = project();
    let ns = "devloop";
    let registry = format!("{}/{ns}", c.registry.address);
    let kubeconfig = c.kubeconfig.display().to_string();
    let target = [
        "--repo",
        &registry,
        "--kube-config",
        &kubeconfig,
        "--namespace",
        ns,
        "--release",
        ns,
    ];
    let mut dev = Dev::start(&repo, &[&target[..], &["--timeout", "60s"]].concat());
    let first = dev.cycle();
    assert!(has(&first, "2 images: 2 built and pushed"), "{first:#?}");
    assert!(has(&first, "release `devloop`: revision 1"), "{first:#?}");
    let app_image = |c: &crate::cluster::Cluster| {
        c.get_json(&["deployment", "app", "-n", ns])["spec"]["template"]["spec"]["containers"][0]
            ["image"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let before_image = app_image(c);

    // One file of one image: that image built and pushed, its Deployment patched, nothing else.
    let before = c.writes_by("werf").len();
    let lines = dev.save(&repo, &[("app/app.txt", "app v2\n")]);
    assert!(has(&lines, "[dev] changed: app/app.txt"), "{lines:#?}");
    assert!(
        has(&lines, "2 images: 1 built and pushed, 1 already"),
        "{lines:#?}"
    );
    assert!(
        has(&lines, "why: app/app.txt → app "),
        "the why names the file and the image: {lines:#?}"
    );
    assert!(has(&lines, "→ Deployment/app"), "{lines:#?}");
    let (objects, _) = object_writes(c, before, ns);
    assert_eq!(objects, ["patch deployments devloop/app"], "{lines:#?}");
    assert_ne!(app_image(c), before_image);

    // A file nothing uses: a cycle that builds nothing and writes nothing, release included.
    let before = c.writes_by("werf").len();
    let lines = dev.save(&repo, &[("README.md", "# loop, explained\n")]);
    assert!(has(&lines, "[dev] changed: README.md"), "{lines:#?}");
    assert!(has(&lines, "0 images and 0 objects changed"), "{lines:#?}");
    assert!(!has(&lines, "built and pushed"), "{lines:#?}");
    assert_eq!(object_writes(c, before, ns), (vec![], vec![]), "{lines:#?}");

    // A broken Dockerfile: the error with its file and line; the loop waits; the fix converges.
    let lines = dev.save(&repo, &[("side/Dockerfile", "FROM scratch\nCOPY\n")]);
    assert!(has(&lines, "[dev] error: side/Dockerfile:2"), "{lines:#?}");
    let before = c.writes_by("werf").len();
    let lines = dev.save(
        &repo,
        &[(
            "side/Dockerfile",
            "FROM scratch\nCOPY side.txt /side.txt\nCOPY side.txt /again.txt\n",
        )],
    );
    assert!(
        has(&lines, "2 images: 1 built and pushed, 1 already"),
        "{lines:#?}"
    );
    let (objects, _) = object_writes(c, before, ns);
    assert_eq!(objects, ["patch deployments devloop/side"], "{lines:#?}");

    // A template edit: only that template's objects are patched, and no image is built.
    let before = c.writes_by("werf").len();
    let lines = dev.save(
        &repo,
        &[(
            ".helm/templates/side.yaml",
            &SIDE.replace("mode: fast", "mode: slow"),
        )],
    );
    assert!(!has(&lines, "built and pushed"), "{lines:#?}");
    assert!(
        has(&lines, "why: loop/templates/side.yaml → ConfigMap/settings"),
        "{lines:#?}"
    );
    let (objects, _) = object_writes(c, before, ns);
    assert_eq!(objects, ["patch configmaps devloop/settings"], "{lines:#?}");
    assert_eq!(
        c.get_json(&["configmap", "settings", "-n", ns])["data"]["mode"],
        "slow"
    );

    // An ignored folder is not watched: writing there starts no cycle; `q` ends the loop.
    repo.write(&[("build/out.txt", "artefact\n")]);
    let (status, rest) = dev.quit();
    assert!(status.success(), "{rest:#?}");
    assert!(!has(&rest, "[dev] changed"), "{rest:#?}");
    assert!(has(&rest, "[dev] stopped"), "{rest:#?}");

    // What `werf dev` deployed is a work tree, not a commit: `plan --explain` says so and asks
    // for `--since`, which then explains against that revision.
    let mut args = vec!["--dev", "plan", "--explain"];
    args.extend_from_slice(&target);
    let out = repo.werf(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("records no commit"), "{stderr}");
    assert!(stderr.contains("--since REV"), "{stderr}");
    args.extend_from_slice(&["--since", "HEAD"]);
    let out = repo.werf(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("explained since HEAD"), "{stdout}");
}

#[test]
fn without_a_cluster_it_says_what_would_change_and_ctrl_c_ends_it_cleanly() {
    let repo = project();
    let mut dev = Dev::start(&repo, &[]);
    let first = dev.cycle();
    assert!(has(&first, "2 images planned"), "{first:#?}");
    assert!(has(&first, "3 objects rendered"), "{first:#?}");

    let lines = dev.save(&repo, &[("side/side.txt", "side v2\n")]);
    assert!(has(&lines, "image side: "), "{lines:#?}");
    assert!(
        has(
            &lines,
            "would update Deployment/side (loop/templates/side.yaml)"
        ),
        "{lines:#?}"
    );
    assert!(!has(&lines, "Deployment/app"), "{lines:#?}");
    // Only what the save reaches re-ran: one image's queries, one template.
    assert!(has(&lines, "1 template rendered"), "{lines:#?}");

    // A new folder with a file an image reads: watched as it appears.
    let lines = dev.save(&repo, &[("app/sub/new.txt", "new\n")]);
    assert!(has(&lines, "[dev] changed: app/sub/new.txt"), "{lines:#?}");
    assert!(has(&lines, "image app: "), "{lines:#?}");
    let lines = dev.save(&repo, &[("app/sub/new.txt", "newer\n")]);
    assert!(has(&lines, "why: app/sub/new.txt → app "), "{lines:#?}");

    // A broken werf.yaml: the error names the file; the previous plans stay until it is fixed.
    let lines = dev.save(
        &repo,
        &[(
            "werf.yaml",
            "project: loop\nconfigVersion: 1\n---\nimage: [\n",
        )],
    );
    assert!(has(&lines, "[dev] error: "), "{lines:#?}");
    assert!(has(&lines, "werf.yaml"), "{lines:#?}");
    let lines = dev.save(&repo, &[("werf.yaml", WERF_YAML)]);
    assert!(has(&lines, "0 images and 0 objects changed"), "{lines:#?}");

    // SIGINT: the loop stops after the cycle in flight and exits 0.
    let pid = dev.child.id() as libc::pid_t;
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let (status, rest) = dev.finish();
    assert!(status.success(), "{rest:#?}");
    assert!(has(&rest, "[dev] stopped"), "{rest:#?}");
}
