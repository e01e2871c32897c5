//! One file per command; each takes parsed arguments and returns the process exit code.

pub mod build;
pub mod cleanup;
pub mod dependency;
pub mod deploy;
pub mod dev;
pub mod graph;
pub mod render;
pub mod repo;
pub mod secret;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command, DependencyCommand, HelmCommand, HostCommand, RepoCommand};

/// Runs the chosen command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Build(args) => build::run(&cli.global, args),
        Command::Graph(args) => graph::run(&cli.global, args),
        Command::Render(args) => render::run(&cli.global, args),
        Command::Converge(args) => deploy::converge(&cli.global, args),
        Command::Plan(args) => deploy::plan(&cli.global, args),
        Command::Dev(args) => dev::run(&cli.global, args),
        Command::Dismiss(args) => deploy::dismiss(&cli.global, args),
        Command::Rollback(args) => deploy::rollback(&cli.global, args),
        Command::Cleanup(args) => cleanup::cleanup(&cli.global, args),
        Command::Purge(args) => cleanup::purge(&cli.global, args),
        Command::Host(HostCommand::Cleanup(args)) => cleanup::host_cleanup(&cli.global, args),
        Command::Helm(HelmCommand::Dependency(DependencyCommand::Update(args))) => {
            dependency::update(&cli.global, args)
        }
        Command::Helm(HelmCommand::Dependency(DependencyCommand::Build(args))) => {
            dependency::build(&cli.global, args)
        }
        Command::Helm(HelmCommand::Dependency(DependencyCommand::List(args))) => {
            dependency::list(args)
        }
        Command::Helm(HelmCommand::Secret(command)) => secret::run(&cli.global, command),
        Command::Helm(HelmCommand::Repo(RepoCommand::Add(args))) => repo::add(&cli.global, args),
        Command::Helm(HelmCommand::Repo(RepoCommand::List)) => repo::list(),
        Command::Helm(HelmCommand::Repo(RepoCommand::Remove(args))) => repo::remove(args),
        Command::Helm(HelmCommand::Repo(RepoCommand::Update(args))) => {
            repo::update(&cli.global, args)
        }
    }
}
