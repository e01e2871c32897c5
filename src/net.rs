//! Network settings shared by the registry and Kubernetes clients.

use std::time::Duration;

/// Connect and read timeouts (`--connect-timeout`, `--read-timeout`).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// How long connecting may take.
    pub connect: Duration,
    /// How long a request may go without an answer.
    pub read: Duration,
}
