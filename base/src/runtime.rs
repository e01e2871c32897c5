//! The process's one tokio runtime (two workers: the machines we run on are small), started on
//! first use and shared by the registry client, the Kubernetes client and chart downloads.

use std::sync::OnceLock;

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// The runtime, started on first use.
pub fn get() -> std::io::Result<&'static tokio::runtime::Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // Another thread may have won the race; its runtime is the one kept.
    Ok(RUNTIME.get_or_init(|| rt))
}
