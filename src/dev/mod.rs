//! `werf dev`: one process, one engine, converging the work tree on every save.
//!
//! - [`watch`]: inotify watches on the folders Git does not ignore, and batches of events.
//! - [`tree`]: the work tree's differences from HEAD, updated where a save touched it, as
//!   snapshots the engine points at.
//! - [`cycle`]: one cycle: re-plan, publish, render, converge (or what would change), and why.
//! - [`summary`]: what a cycle changed, decided from two cycles' tags and objects (pure).

pub mod cycle;
pub mod summary;
pub mod tree;
pub mod watch;
