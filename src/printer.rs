//! What the commands write to stdout: each line made terminal-safe
//! ([`werf_base::terminal::terminal_safe`]) and flushed at once; `--log-quiet` silences the
//! summaries and progress, never results, warnings or errors.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--log-quiet`: from now on [`line`] and the progress reporters print nothing.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether `--log-quiet` is on.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

pub use werf_base::terminal::terminal_safe;

/// Writes `text` and a line break to stdout, made terminal-safe, flushed at once (whoever reads
/// a long-running command sees each line as it happens); nothing with `--log-quiet`.
pub fn line(text: &str) {
    if quiet() {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", terminal_safe(text));
    let _ = out.flush();
}

/// Writes `text` to stdout as it is, made terminal-safe.
pub fn text(text: &str) -> std::io::Result<()> {
    std::io::stdout()
        .lock()
        .write_all(terminal_safe(text).as_bytes())
}

/// Writes `warning: TEXT` to stderr, made terminal-safe.
pub fn warning(text: &str) {
    eprintln!("warning: {}", terminal_safe(text));
}
