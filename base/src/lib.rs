//! What every werf-rs engine crate shares, knowing nothing of werf itself.
//!
//! - [`net`]: connect and read timeouts, and the bounds on what is read from the network.
//! - [`redact`]: secrets out of messages (URL userinfo, kubeconfig values).
//! - [`runtime`]: the process's one tokio runtime.
//! - [`files`]: files written whole or not at all.
//! - [`errors`]: an error and its causes on one line.
//! - [`duration`]: werf's durations (`20s`, `5m`, `1h`, seconds).
//! - [`terminal`]: text from the repository made safe to show on a terminal.
//! - [`slug`]: werf's slugs for release names, namespaces and Docker tags.

pub mod duration;
pub mod errors;
pub mod files;
pub mod net;
pub mod redact;
pub mod runtime;
pub mod slug;
pub mod terminal;
