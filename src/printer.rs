//! What the commands write to stdout: each line made terminal-safe
//! ([`werf_base::terminal::terminal_safe`]) and flushed at once.

use std::io::Write as _;

pub use werf_base::terminal::terminal_safe;

/// Writes `text` and a line break to stdout, made terminal-safe, flushed at once (whoever reads
/// a long-running command sees each line as it happens).
pub fn line(text: &str) {
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
