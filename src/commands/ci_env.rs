//! `werf ci-env gitlab|github`: the job's Docker config made, the script written (see
//! [`crate::ci_env`]), its path or text printed.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::ci_env::script::{self, Syntax, System};
use crate::cli::{CiEnvArgs, CiShell, CiSystem};
use crate::docker_config::{self, Credentials};
use crate::settings::GlobalSettings;

pub fn run(global: &GlobalSettings, args: &CiEnvArgs) -> Result<ExitCode> {
    let env: BTreeMap<String, String> = crate::settings::environment().into_iter().collect();
    let system = match args.system {
        CiSystem::Gitlab => System::Gitlab,
        CiSystem::Github => System::Github,
    };
    // GitHub's default repository ends with werf.yaml's project; without werf.yaml, none.
    let project = match system {
        System::Github if env.get("GITHUB_REPOSITORY").is_some_and(|r| !r.is_empty()) => {
            project_name(global)?
        }
        _ => None,
    };
    // The login first, then the Docker config holding it, then the script naming that config.
    let login = script::login(system, &env);
    let credentials = login
        .as_ref()
        .filter(|_| args.login_to_registry)
        .and_then(|l| {
            env.get(l.password_variable).map(|password| Credentials {
                registry: &l.registry,
                user: &l.user,
                password,
            })
        });
    let source = crate::registry::docker_config_folder();
    let folder = docker_config::make(&global.home, source.as_deref(), credentials)
        .context("cannot make the job's Docker config")?;
    let plan = script::plan(
        system,
        &env,
        &folder.display().to_string(),
        project.as_deref(),
    );
    let syntax = match (args.as_env_file, args.shell) {
        (true, _) => Syntax::EnvFile,
        (false, CiShell::Default) => Syntax::Posix,
        (false, CiShell::Cmdexe) => Syntax::Cmd,
        (false, CiShell::Powershell) => Syntax::Powershell,
    };
    let text = script::render(&plan, syntax, &env, global.log_verbose);
    if !(args.as_file || args.as_env_file) {
        crate::printer::text(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let path = match &args.output_file_path {
        Some(p) => p.clone(),
        None => {
            let extension = match syntax {
                Syntax::Cmd => ".bat",
                Syntax::Powershell => ".ps1",
                _ => "",
            };
            let stem = if args.as_env_file { ".env" } else { "source" };
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            folder.with_file_name(format!("{stem}_{}_{nanos}{extension}", std::process::id()))
        }
    };
    crate::files::write_whole(&path, text.as_bytes(), true)?;
    if args.output_file_path.is_none() {
        crate::printer::line(&path.display().to_string());
    }
    Ok(ExitCode::SUCCESS)
}

/// werf.yaml's project, or `None` when the project folder has no werf.yaml.
fn project_name(global: &GlobalSettings) -> Result<Option<String>> {
    let dir = match &global.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let names = [crate::project::CONFIG_FILE, crate::project::CONFIG_FILE_YML];
    let present = match &global.config {
        Some(given) => dir.join(given).is_file(),
        None => names.iter().any(|n| dir.join(n).is_file()),
    };
    if !present {
        return Ok(None);
    }
    let loaded = crate::project::load(global)?;
    Ok(Some(loaded.config.meta.project.clone()))
}
