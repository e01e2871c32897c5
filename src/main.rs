//! werf-rs: converge a Git repository into images, a registry and a Kubernetes release.
//!
//! The binary is the CLI layer and the converge pipeline; the engines are crates (see
//! docs/ARCHITECTURE.md), named here by their room:
//!
//! - the CLI layer: [`cli`] (commands and flags, clap), [`settings`] (flags and `WERF_*`
//!   variables resolved once), [`commands`] (one file per command), [`printer`] and
//!   [`progress`] (what reaches the terminal).
//! - the binary's rooms: [`pipeline`] (what the commands share: publish, render, the desired
//!   objects), [`project`] (repository + commit or `--dev` snapshot -> engine inputs -> plans;
//!   dirty check), [`dev`] (`werf dev`'s loop), [`charts`] (chart dependencies fetched and
//!   cached), [`ci_env`] (`werf ci-env`'s script), [`docker_config`] (logins in Docker
//!   configs), [`giterminism`],
//!   [`graph_page`], [`store`] (the engine's persistent memo).
//! - the engines: [`build`] (`werf-build`), [`deploy`] (`werf-deploy`), [`cleanup`]
//!   (`werf-cleanup`), [`registry`] (`werf-registry`), [`kubernetes`] (`werf-kubernetes`),
//!   [`git`] (`werf-git`), [`secret`] (`werf-secret`), and `werf-base`'s [`net`], [`redact`],
//!   [`runtime`], [`files`], [`errors`].

mod charts;
mod ci_env;
mod cli;
mod commands;
mod dev;
mod docker_config;
mod giterminism;
mod graph_page;
mod pipeline;
mod printer;
mod progress;
mod project;
mod settings;
mod store;

use werf_base::{errors, files, net, redact, runtime};
use werf_build as build;
use werf_cleanup as cleanup;
use werf_deploy as deploy;
use werf_git as git;
use werf_kubernetes as kubernetes;
use werf_registry as registry;
use werf_secret as secret;

use std::process::ExitCode;

/// How a panic reaches the user: one line, exit code 1, no backtrace. Tests look for this text
/// in every run's output to fail on any panic.
pub const PANIC_MESSAGE: &str = "internal error (a bug in werf-rs; please report it)";

/// glibc grows a thread's heap a page run at a time by default, an `mprotect` each: a no-op
/// converge made 9,500 of them (a twentieth of its CPU time). Growing by 64 MiB steps makes it a
/// few dozen; pages are still only backed when touched, so the memory used does not change.
fn grow_the_heap_in_large_steps() {
    // SAFETY: `mallopt` only sets a tuning parameter of the allocator; nothing has allocated
    // on another thread yet.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

fn main() -> ExitCode {
    grow_the_heap_in_large_steps();
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("Error: {PANIC_MESSAGE}: {what}{at}");
        std::process::exit(1);
    }));
    if cfg!(debug_assertions) && std::env::var_os("WERF_DEBUG_PANIC").is_some() {
        // Lets the tests prove that a panic ends as one line and exit code 1 (debug builds only).
        panic!("requested by WERF_DEBUG_PANIC");
    }
    let cli = cli::parse();
    // `--docker-config` (`WERF_DOCKER_CONFIG`) is where every reader of registry credentials
    // looks, credential helpers and buildah included: set before any thread starts.
    if let Some(dir) = &cli.global.docker_config {
        std::env::set_var("DOCKER_CONFIG", dir);
    }
    // `WERF_LOG` (a tracing filter) wins; else `--log-debug` or `--log-verbose` for werf-rs's own
    // crates (other crates' debug output holds request headers), warnings otherwise.
    let ours = |level: &str| {
        [
            "werf",
            "werf_base",
            "werf_build",
            "werf_cache",
            "werf_cleanup",
            "werf_deploy",
            "werf_git",
            "werf_graph",
            "werf_kubernetes",
            "werf_registry",
            "werf_secret",
        ]
        .iter()
        .map(|c| format!(",{c}={level}"))
        .collect::<String>()
    };
    let level = if cli.global.log_debug {
        format!("warn,kube_client=off,notify=error{}", ours("debug"))
    } else if cli.global.log_verbose {
        format!("warn,kube_client=off,notify=error{}", ours("info"))
    } else {
        "warn,kube_client=off,notify=error".to_string()
    };
    printer::set_quiet(cli.global.log_quiet);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WERF_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    // Every command marks itself running in the home folder (so a host cleanup spares what it
    // holds), and trims the home folder at the end at most once an hour, as werf does.
    // `werf host ...` itself does not mark itself running: it must see only the others.
    let settings = settings::GlobalSettings::resolve(&cli.global);
    let home = settings.home.clone();
    // `werf host ...` must see only the others; the small commands do not use the home folder.
    let host_command = matches!(
        cli.command,
        cli::Command::Host(_)
            | cli::Command::Version
            | cli::Command::Slugify(_)
            | cli::Command::Completion(_)
    );
    let auto_trim = settings.auto_host_cleanup && !host_command;
    let running = (!host_command)
        .then(|| werf_cache::Store::open(&home).ok())
        .flatten()
        .and_then(|s| s.running().ok().map(|guard| (s, guard)));
    let code = match commands::run(&cli, &settings) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    };
    if let Some((store, guard)) = running {
        drop(guard);
        if auto_trim {
            match cleanup::host::auto(&home, &store) {
                Ok(Some(done)) if done.records_removed > 0 || done.buildah_removed > 0 => {
                    eprintln!(
                        "host cleanup: removed {} cache records and {} bytes of buildah storage from `{}`",
                        done.records_removed,
                        done.buildah_removed,
                        home.display()
                    )
                }
                Ok(_) => {}
                Err(e) => eprintln!("Warning: host cleanup: {e}"),
            }
        }
    }
    code
}
