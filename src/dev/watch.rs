//! Watching the work tree for `werf dev`: one inotify watch per folder that Git does not ignore
//! (`.git/`, ignored folders and nested repositories are never watched), new folders watched as
//! they appear, and bursts of events gathered into one batch once the tree has been quiet.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _, Result};
use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecursiveMode, Watcher as _};

/// What wakes the loop up.
#[derive(Debug)]
pub enum Signal {
    /// Paths (absolute) something happened to.
    Paths(Vec<PathBuf>),
    /// Look at the whole work tree again (Enter on stdin).
    Rescan,
    /// Leave (Ctrl-C, or `q` on stdin).
    Stop,
    /// The watcher itself failed (an event queue overflow, a removed root).
    Failed(String),
}

/// One batch: everything that arrived until the tree was quiet.
#[derive(Debug, Default)]
pub struct Batch {
    pub paths: BTreeSet<PathBuf>,
    pub rescan: bool,
    pub stop: bool,
    pub failures: Vec<String>,
}

/// The watches on a work tree.
pub struct Watch {
    watcher: notify::RecommendedWatcher,
    root: PathBuf,
    /// Folders watched (repository-relative).
    pub folders: usize,
}

/// Whether a folder (repository-relative) is left unwatched.
pub trait Ignored {
    fn ignored_folder(&mut self, rel: &str) -> bool;
}

impl Watch {
    /// Starts a watcher that sends its events to `tx`; nothing is watched yet.
    pub fn new(root: &Path, tx: Sender<Signal>) -> Result<Self> {
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let signal = match event {
                Ok(e) if relevant(&e.kind) => Signal::Paths(e.paths),
                Ok(_) => return,
                Err(e) => Signal::Failed(e.to_string()),
            };
            let _ = tx.send(signal);
        })
        .context("cannot start watching the work tree (inotify)")?;
        Ok(Watch {
            watcher,
            root: root.to_path_buf(),
            folders: 0,
        })
    }

    /// Watches folder `rel` and every folder below it that is not ignored.
    pub fn add_tree(&mut self, rel: &str, ignored: &mut dyn Ignored) -> Result<()> {
        let mut stack = vec![rel.to_string()];
        while let Some(dir) = stack.pop() {
            let path = if dir.is_empty() {
                self.root.clone()
            } else {
                self.root.join(&dir)
            };
            match self.watcher.watch(&path, RecursiveMode::NonRecursive) {
                Ok(()) => self.folders += 1,
                // Gone again before it could be watched: nothing to watch.
                Err(e) if matches!(&e.kind, notify::ErrorKind::PathNotFound) => continue,
                Err(e) if matches!(&e.kind, notify::ErrorKind::MaxFilesWatch) => {
                    return Err(anyhow!(
                        "cannot watch `{}`: the inotify watch limit is reached after {} folders (raise `fs.inotify.max_user_watches`)",
                        path.display(),
                        self.folders
                    ))
                }
                Err(e) => {
                    return Err(anyhow!(e)).with_context(|| format!("cannot watch `{}`", path.display()))
                }
            }
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            for entry in entries.flatten() {
                // Not following links: a linked folder is a file to Git.
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                if name == ".git" {
                    continue;
                }
                let child = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                // A nested repository (a submodule) is one entry of this one.
                if entry.path().join(".git").exists() || ignored.ignored_folder(&child) {
                    continue;
                }
                stack.push(child);
            }
        }
        Ok(())
    }

    /// `path` relative to the work tree, `/`-separated; `None` outside it, in `.git/`, or not
    /// UTF-8.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let rel = rel.to_str()?.replace('\\', "/");
        if rel == ".git" || rel.starts_with(".git/") {
            return None;
        }
        Some(rel)
    }
}

/// Events that can change content: not reads, not opens, not closes after reading.
fn relevant(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Waits for the next signal, then gathers what follows until nothing came for `quiet` (and at
/// most `quiet * 20`, so a tree that never stops changing is still looked at).
pub fn next_batch(rx: &Receiver<Signal>, quiet: Duration) -> Batch {
    let mut batch = Batch::default();
    let Ok(first) = rx.recv() else {
        batch.stop = true;
        return batch;
    };
    let started = Instant::now();
    let add = |s: Signal, batch: &mut Batch| match s {
        Signal::Paths(p) => batch.paths.extend(p),
        Signal::Rescan => batch.rescan = true,
        Signal::Stop => batch.stop = true,
        Signal::Failed(e) => batch.failures.push(e),
    };
    add(first, &mut batch);
    while !batch.stop && started.elapsed() < quiet * 20 {
        match rx.recv_timeout(quiet) {
            Ok(s) => add(s, &mut batch),
            Err(RecvTimeoutError::Timeout) => break,
            Err(RecvTimeoutError::Disconnected) => {
                batch.stop = true;
                break;
            }
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_one_batch_and_stop_ends_gathering() {
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send(Signal::Paths(vec!["/r/a".into()])).unwrap();
        tx.send(Signal::Paths(vec!["/r/b".into(), "/r/a".into()]))
            .unwrap();
        tx.send(Signal::Rescan).unwrap();
        let b = next_batch(&rx, Duration::from_millis(20));
        assert_eq!(b.paths.len(), 2);
        assert!(b.rescan && !b.stop);
        tx.send(Signal::Stop).unwrap();
        tx.send(Signal::Paths(vec!["/r/c".into()])).unwrap();
        let b = next_batch(&rx, Duration::from_millis(20));
        assert!(b.stop);
        assert!(b.paths.is_empty(), "nothing is gathered after a stop");
        let b = next_batch(&rx, Duration::from_millis(20));
        assert_eq!(
            b.paths.len(),
            1,
            "what came after the stop is the next batch"
        );
        drop(tx);
        assert!(next_batch(&rx, Duration::from_millis(20)).stop);
    }

    #[test]
    fn reads_are_not_changes() {
        assert!(!relevant(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!relevant(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(relevant(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(relevant(&EventKind::Remove(
            notify::event::RemoveKind::File
        )));
    }
}
