//! `werf helm repo add|list|remove|update`: named chart repositories in Helm's own
//! `repositories.yaml`, with their indexes in Helm's repository cache, worded as Helm words it.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _, Result};

use crate::charts::fetch::Fetcher;
use crate::charts::repos::{self, Entry, Repositories};
use crate::cli::{RepoAddArgs, RepoNames};
use crate::settings::GlobalSettings;

/// `YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ` now, as Helm stamps `generated`.
fn now() -> String {
    let t = gotemplate::date::Time::now().in_zone(gotemplate::date::Zone::Utc);
    gotemplate::date::format(&t, "2006-01-02T15:04:05.999999999Z07:00")
}

/// Downloads `entry`'s `index.yaml`, checks it is an index, and keeps it in Helm's cache.
fn download_index(fetcher: &Fetcher, entry: &Entry) -> Result<()> {
    entry.check_supported()?;
    let url = format!("{}/index.yaml", entry.url.trim_end_matches('/'));
    let auth =
        (!entry.username.is_empty()).then_some((entry.username.as_str(), entry.password.as_str()));
    let body = fetcher.get(&url, crate::net::max_body(), "WERF_MAX_BODY_SIZE", auth)?;
    let text = String::from_utf8_lossy(&body);
    let index =
        gotemplate::yaml::load::load_with(&text, gotemplate::yaml::load::Numbers::AsWritten)
            .map_err(|e| {
                anyhow!(
                    "`{}` is not a valid chart repository: {e}",
                    crate::redact::urls(&url)
                )
            })?;
    if index
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .is_empty()
    {
        bail!(
            "`{}` is not a valid chart repository: no API version specified",
            crate::redact::urls(&entry.url)
        );
    }
    let file = repos::cache_dir().join(format!("{}-index.yaml", entry.name));
    crate::files::write_whole(&file, &body, true)?;
    Ok(())
}

/// `werf helm repo add NAME URL`.
pub fn add(global: &GlobalSettings, args: &RepoAddArgs) -> Result<ExitCode> {
    if !repos::valid_name(&args.name) {
        bail!(
            "repository name `{}` contains `/`, or is empty: please specify a different name",
            args.name
        );
    }
    if args.url.starts_with("oci://") {
        bail!(
            "`{}` is an OCI registry: dependencies reach it by its `oci://` URL, no `repo add` needed",
            args.url
        );
    }
    if !(args.url.starts_with("http://") || args.url.starts_with("https://")) {
        bail!(
            "could not find protocol handler for `{}`: use an `http://` or `https://` URL",
            args.url
        );
    }
    let mut password = args.password.clone().unwrap_or_default();
    if args.password_stdin {
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut password)
            .context("reading the password from standard input")?;
        password = password.trim_end_matches(['\n', '\r']).to_string();
    }
    let entry = Entry {
        name: args.name.clone(),
        url: args.url.trim_end_matches('/').to_string(),
        username: args.username.clone().unwrap_or_default(),
        password,
        pass_credentials_all: args.pass_credentials,
        ..Entry::default()
    };
    let mut repos = Repositories::load(&repos::config_file())?;
    if let Some(existing) = repos.get(&args.name) {
        if *existing == entry {
            println!(
                "{:?} already exists with the same configuration, skipping",
                args.name
            );
            return Ok(ExitCode::SUCCESS);
        }
        if !args.force_update {
            bail!(
                "repository name ({}) already exists, please specify a different name (or `--force-update`)",
                args.name
            );
        }
    }
    let fetcher = Fetcher::new(
        global.timeouts,
        &crate::settings::RegistrySettings::default(),
        &[],
    )?;
    download_index(&fetcher, &entry).with_context(|| {
        format!(
            "looks like `{}` is not a valid chart repository or cannot be reached",
            crate::redact::urls(&args.url)
        )
    })?;
    repos.entries.retain(|e| e.name != args.name);
    repos.entries.push(entry);
    repos.save(&now())?;
    println!("{:?} has been added to your repositories", args.name);
    Ok(ExitCode::SUCCESS)
}

/// `werf helm repo list`: names and URLs (never credentials).
pub fn list() -> Result<ExitCode> {
    let repos = Repositories::load(&repos::config_file())?;
    if repos.entries.is_empty() {
        bail!("no repositories to show");
    }
    let width = repos
        .entries
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    println!("{:<width$}\tURL", "NAME");
    for e in &repos.entries {
        println!("{:<width$}\t{}", e.name, crate::redact::urls(&e.url));
    }
    Ok(ExitCode::SUCCESS)
}

/// `werf helm repo remove NAME...`: all or nothing (an unknown name changes nothing).
pub fn remove(args: &RepoNames) -> Result<ExitCode> {
    if args.names.is_empty() {
        bail!("need at least one argument, the name of the repository");
    }
    let mut repos = Repositories::load(&repos::config_file())?;
    for name in &args.names {
        if repos.get(name).is_none() {
            bail!("no repo named {name:?} found");
        }
    }
    repos.entries.retain(|e| !args.names.contains(&e.name));
    repos.save(&now())?;
    for name in &args.names {
        let _ = std::fs::remove_file(repos::cache_dir().join(format!("{name}-index.yaml")));
        println!("{name:?} has been removed from your repositories");
    }
    Ok(ExitCode::SUCCESS)
}

/// `werf helm repo update [NAME...]`.
pub fn update(global: &GlobalSettings, args: &RepoNames) -> Result<ExitCode> {
    let repos = Repositories::load(&repos::config_file())?;
    if repos.entries.is_empty() {
        bail!("no repositories found. You must add one before updating");
    }
    for name in &args.names {
        if repos.get(name).is_none() {
            bail!("no repositories found matching '{name}'. Nothing will be updated");
        }
    }
    println!("Hang tight while we grab the latest from your chart repositories...");
    let fetcher = Fetcher::new(
        global.timeouts,
        &crate::settings::RegistrySettings::default(),
        &[],
    )?;
    let mut failed = Vec::new();
    for e in repos
        .entries
        .iter()
        .filter(|e| args.names.is_empty() || args.names.contains(&e.name))
    {
        match download_index(&fetcher, e) {
            Ok(()) => println!(
                "...Successfully got an update from the {:?} chart repository",
                e.name
            ),
            Err(err) => {
                eprintln!(
                    "...Unable to get an update from the {:?} chart repository ({}):\n\t{}",
                    e.name,
                    crate::redact::urls(&e.url),
                    crate::errors::chain(err.as_ref())
                );
                failed.push(e.name.clone());
            }
        }
    }
    if !failed.is_empty() {
        bail!("failed to update the following repositories: {failed:?}");
    }
    println!("Update Complete. Happy Helming!");
    Ok(ExitCode::SUCCESS)
}
