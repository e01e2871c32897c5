//! The small commands CI scripts call: `werf version`, `werf slugify`, `werf completion`.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use werf_base::slug::{slug, Kind};

use crate::cli::{CompletionArgs, CompletionShell, SlugFormat, SlugifyArgs};

/// `werf version`: `v` and the version, as werf prints its own.
pub fn version() -> Result<ExitCode> {
    crate::printer::line(&format!("v{}", env!("CARGO_PKG_VERSION")));
    Ok(ExitCode::SUCCESS)
}

/// `werf slugify -f FORMAT TEXT`.
pub fn slugify(args: &SlugifyArgs) -> Result<ExitCode> {
    let kind = match args.format {
        SlugFormat::HelmRelease => Kind::HelmRelease,
        SlugFormat::KubernetesNamespace => Kind::KubernetesNamespace,
        SlugFormat::DockerTag => Kind::DockerTag,
    };
    crate::printer::line(&slug(kind, &args.text));
    Ok(ExitCode::SUCCESS)
}

/// `werf completion --shell SHELL`: the script, on standard output.
pub fn completion(args: &CompletionArgs) -> Result<ExitCode> {
    let shell = match args.shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::command(), "werf", &mut script);
    std::io::stdout().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}
