//! `werf dev`: watch the work tree and run a cycle (see [`crate::dev`]) after each burst of
//! saves, until Ctrl-C or `q` on stdin; an error (a broken werf.yaml, Dockerfile or template, a
//! failed rollout) is printed and the loop waits for the next save.

use std::collections::BTreeSet;
use std::io::BufRead as _;
use std::process::ExitCode;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::cli::DevArgs;
use crate::dev::cycle::Session;
use crate::dev::tree::Update;
use crate::dev::watch::{next_batch, Ignored, Signal, Watch};
use crate::git::Repo;
use crate::settings::{DevSettings, GlobalSettings};

/// Runs `werf dev`.
pub fn run(global: &GlobalSettings, args: &DevArgs) -> Result<ExitCode> {
    if global.commit.is_some() {
        bail!("`werf dev` reads the work tree: `--commit` is not for it");
    }
    let mut global = global.clone();
    global.dev = true;
    let global = &global;
    let settings = DevSettings::resolve(args, global)?;
    let dir = match &global.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let repo = Repo::discover(&dir)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watch = Watch::new(&repo.workdir, tx.clone())?;
    watch_tree(&repo, &mut watch, "")?;
    listen_for_stop(tx)?;
    let quiet = settings.debounce.max(Duration::from_millis(1));

    // A project that does not load yet (a broken werf.yaml) is waited for as any other error.
    let mut session = loop {
        match Session::start(global, &settings) {
            Ok(s) => break s,
            Err(e) => failed(&e),
        }
        loop {
            let batch = next_batch(&rx, quiet);
            if batch.stop {
                say("[dev] stopped");
                return Ok(ExitCode::SUCCESS);
            }
            if !batch.paths.is_empty() || batch.rescan {
                break;
            }
        }
    };
    say(&format!(
        "[dev] watching `{}` ({} folders, {} paths differ from HEAD) for {}; q or Ctrl-C to stop",
        repo.workdir.display(),
        watch.folders,
        session.tree.len(),
        session.target(),
    ));
    run_cycle(&mut session, &[]);
    loop {
        let batch = next_batch(&rx, quiet);
        for f in &batch.failures {
            say(&format!("[dev] watch: {f}"));
        }
        if batch.stop {
            break;
        }
        let mut prefixes: BTreeSet<String> = BTreeSet::new();
        for path in &batch.paths {
            let Some(rel) = watch.relative(path) else {
                continue;
            };
            // A new folder: watched from now on, and looked at whole.
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                if let Err(e) = watch_tree(&repo, &mut watch, &rel) {
                    failed(&e);
                }
            }
            prefixes.insert(rel);
        }
        if batch.rescan || !batch.failures.is_empty() {
            prefixes = [String::new()].into();
        }
        if prefixes.is_empty() {
            continue;
        }
        let prefixes: Vec<String> = prefixes.into_iter().collect();
        match session.tree.update(&mut session.loaded, &prefixes) {
            Ok(Update::Same) => {}
            Ok(Update::Changed { paths }) => {
                say(&format!(
                    "[dev] changed: {}",
                    crate::dev::summary::some_of(&paths, 5)
                ));
                run_cycle(&mut session, &paths);
            }
            Ok(Update::NewCommit { id }) => {
                say(&format!("[dev] HEAD is now {}", &id[..id.len().min(12)]));
                run_cycle(&mut session, &[]);
            }
            Err(e) => failed(&e),
        }
    }
    say("[dev] stopped");
    Ok(ExitCode::SUCCESS)
}

/// One cycle, its summary line, or its error; the loop goes on either way.
fn run_cycle(session: &mut Session<'_>, touched: &[String]) {
    let started = Instant::now();
    match session.cycle(touched) {
        Ok(done) => say(&format!(
            "[dev] ready in {:.2} s: re-planned in {:.1} ms ({} quer{} re-ran), {} template{} rendered, {} image{} and {} object{} changed; waiting for changes",
            started.elapsed().as_secs_f64(),
            done.replan.as_secs_f64() * 1000.0,
            done.queries,
            if done.queries == 1 { "y" } else { "ies" },
            done.templates,
            if done.templates == 1 { "" } else { "s" },
            done.images_changed,
            if done.images_changed == 1 { "" } else { "s" },
            done.objects_changed,
            if done.objects_changed == 1 { "" } else { "s" },
        )),
        Err(e) => failed(&e),
    }
}

fn failed(e: &anyhow::Error) {
    say(&format!(
        "[dev] error: {e:#}\n[dev] waiting for the next save"
    ));
}

/// One line (or a few) on stdout, flushed: whoever reads the loop sees each as it happens.
fn say(text: &str) {
    crate::printer::line(text);
}

/// Watches `rel` and the folders below it that Git does not ignore.
fn watch_tree(repo: &Repo, watch: &mut Watch, rel: &str) -> Result<()> {
    struct ByGit<'f>(&'f mut dyn FnMut(&str) -> bool);
    impl Ignored for ByGit<'_> {
        fn ignored_folder(&mut self, rel: &str) -> bool {
            (self.0)(rel)
        }
    }
    crate::git::excludes::with_ignored_folders(repo, |ignored| {
        watch.add_tree(rel, &mut ByGit(ignored))
    })?
}

/// Ctrl-C (once: finish the cycle and stop; twice: leave now) and stdin (`q`: stop; an empty
/// line: look at the whole work tree again).
fn listen_for_stop(tx: Sender<Signal>) -> Result<()> {
    let rt = crate::pipeline::desired::runtime()?;
    let on_signal = tx.clone();
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            say("[dev] stopping after this cycle (Ctrl-C again to leave now)");
            let _ = on_signal.send(Signal::Stop);
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            // Pushes are content-addressed (an abandoned upload is never a tag) and a release
            // lock left pending expires by itself.
            std::process::exit(130);
        }
    });
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let signal = match line.trim() {
                "q" | "quit" | "exit" => Signal::Stop,
                "" | "r" => Signal::Rescan,
                _ => continue,
            };
            if tx.send(signal).is_err() {
                break;
            }
        }
    });
    Ok(())
}
