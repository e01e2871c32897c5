//! werf-rs: converge a Git repository into images, a registry and a Kubernetes release.
//!
//! - [`cli`]: commands and flags (clap).
//! - [`build`]: build and push what the registry lacks (native OCI builder, DAG scheduling).
//! - [`registry`]: the container registry (oci-client), credentials, existence checks.
//! - [`kubernetes`]: the cluster (kube): kubeconfig, discovery, counted requests.
//! - [`deploy`]: minimal changes, ordering, hooks, tracking, release records, rollback.
//! - [`commands`]: one file per command.
//! - [`project`]: repository + commit (or `--dev` snapshot) -> engine inputs -> plans; dirty check.
//! - [`git`]: gix-backed object source, work-tree comparison and snapshots.
//! - [`store`]: the engine's persistent memo backed by `werf-cache`.
//! - [`progress`]: progress drawing on a terminal.

mod build;
mod cli;
mod commands;
mod deploy;
mod git;
mod kubernetes;
mod progress;
mod project;
mod registry;
mod store;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WERF_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,kube_client=off")),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
