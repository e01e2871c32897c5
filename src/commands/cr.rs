//! `werf cr login|logout`: a registry's credentials stored in, or removed from, the user's
//! Docker config (`--docker-config`, `DOCKER_CONFIG`, else `~/.docker`), as `docker login` and
//! `docker logout` do. The password is never printed.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _, Result};

use crate::cli::{CrLoginArgs, CrLogoutArgs};
use crate::docker_config::{self, Credentials};

/// The longest password read from standard input.
const MAX_PASSWORD: u64 = 64 << 10;

fn config_file() -> Result<std::path::PathBuf> {
    docker_config::user_file().ok_or_else(|| {
        anyhow!("no Docker config folder: set `--docker-config`, `DOCKER_CONFIG` or `HOME`")
    })
}

/// A registry as the config keys it: the host (`https://` and a path dropped, as Docker does).
fn registry_key(registry: &str) -> Result<String> {
    let host = registry
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        bail!("`{registry}` is not a registry (`registry.example.com[:PORT]`)");
    }
    Ok(host.to_string())
}

pub fn login(args: &CrLoginArgs) -> Result<ExitCode> {
    let registry = registry_key(&args.registry)?;
    let password = match (&args.password, args.password_stdin) {
        (Some(p), _) => p.clone(),
        (None, true) => {
            let mut text = String::new();
            std::io::stdin()
                .take(MAX_PASSWORD + 1)
                .read_to_string(&mut text)
                .context("cannot read the password from standard input")?;
            if text.len() as u64 > MAX_PASSWORD {
                bail!("the password on standard input is longer than {MAX_PASSWORD} bytes");
            }
            text.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => bail!("`werf cr login` needs `--password` or `--password-stdin`"),
    };
    if password.is_empty() {
        bail!("the password for `{registry}` is empty");
    }
    let path = config_file()?;
    docker_config::login(
        &path,
        &Credentials {
            registry: &registry,
            user: &args.username,
            password: &password,
        },
    )?;
    crate::printer::line(&format!("Logged in to `{registry}` (`{}`)", path.display()));
    Ok(ExitCode::SUCCESS)
}

pub fn logout(args: &CrLogoutArgs) -> Result<ExitCode> {
    let registry = registry_key(&args.registry)?;
    let path = config_file()?;
    if docker_config::logout(&path, &registry)? {
        crate::printer::line(&format!("Logged out of `{registry}`"));
    } else {
        crate::printer::line(&format!("Not logged in to `{registry}`"));
    }
    Ok(ExitCode::SUCCESS)
}
