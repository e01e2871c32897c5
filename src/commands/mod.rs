//! One file per command; each takes parsed arguments and returns the process exit code.

pub mod build;
pub mod bundle;
pub mod ci_env;
pub mod cleanup;
pub mod cr;
pub mod dependency;
pub mod deploy;
pub mod dev;
pub mod export;
pub mod graph;
pub mod kube_run;
pub mod render;
pub mod repo;
pub mod secret;
pub mod small;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{
    Cli, Command, CrCommand, DependencyCommand, HelmCommand, HostCommand, RepoCommand,
};
use crate::settings::GlobalSettings;

/// Runs the chosen command.
/// Runs the command `cli` names, with `global` resolved from its flags.
pub fn run(cli: &Cli, global: &GlobalSettings) -> Result<ExitCode> {
    match &cli.command {
        Command::Build(args) => build::run(global, args),
        Command::Graph(args) => graph::run(global, args),
        Command::Render(args) => render::run(global, args),
        Command::Converge(args) => deploy::converge(global, args),
        Command::Plan(args) => deploy::plan(global, args),
        Command::Dev(args) => dev::run(global, args),
        Command::Dismiss(args) => deploy::dismiss(global, args),
        Command::Rollback(args) => deploy::rollback(global, args),
        Command::Cleanup(args) => cleanup::cleanup(global, args),
        Command::Purge(args) => cleanup::purge(global, args),
        Command::Host(HostCommand::Cleanup(args)) => cleanup::host_cleanup(global, args),
        Command::Helm(HelmCommand::Dependency(DependencyCommand::Update(args))) => {
            dependency::update(global, args)
        }
        Command::Helm(HelmCommand::Dependency(DependencyCommand::Build(args))) => {
            dependency::build(global, args)
        }
        Command::Helm(HelmCommand::Dependency(DependencyCommand::List(args))) => {
            dependency::list(args)
        }
        Command::Helm(HelmCommand::Secret(command)) => secret::run(global, command),
        Command::Helm(HelmCommand::Repo(RepoCommand::Add(args))) => repo::add(global, args),
        Command::Helm(HelmCommand::Repo(RepoCommand::List)) => repo::list(),
        Command::Helm(HelmCommand::Repo(RepoCommand::Remove(args))) => repo::remove(args),
        Command::Helm(HelmCommand::Repo(RepoCommand::Update(args))) => repo::update(global, args),
        Command::Bundle(command) => bundle::run(global, command),
        Command::Export(args) => export::run(global, args),
        Command::KubeRun(args) => kube_run::run(global, args),
        Command::CiEnv(args) => ci_env::run(global, args),
        Command::Cr(CrCommand::Login(args)) => cr::login(args),
        Command::Cr(CrCommand::Logout(args)) => cr::logout(args),
        Command::Version => small::version(),
        Command::Slugify(args) => small::slugify(args),
        Command::Completion(args) => small::completion(args),
    }
}
