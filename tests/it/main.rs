//! Integration tests of the `werf` binary against real Git repositories.
//!
//! - [`contract`]: which edits change which tags (DESIGN.md section 3).
//! - [`errors`]: bad input gives a clear error, a non-zero exit code and no half-written output.
//! - [`snapshots`]: whole-CLI output (insta).
//! - [`dev`]: the dirty check and `--dev`.

mod contract;
mod dev;
mod errors;
mod snapshots;
mod support;
