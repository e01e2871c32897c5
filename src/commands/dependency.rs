//! `werf helm dependency update|build`: a chart's dependencies fetched as Helm fetches them,
//! from OCI registries (`oci://HOST/PATH`) and classic repositories (`index.yaml` over HTTP),
//! or packaged from a local folder (`file://`), into `charts/NAME-VERSION.tgz`, with
//! `Chart.lock` written (update) or honoured (build).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value as Json;
use werf_graph::chart::lock;

use crate::charts::fetch::{field, is_file_name, Fetcher};
use crate::cli::DependencyArgs;
use crate::settings::GlobalSettings;

/// `werf helm dependency update`: resolves every constraint anew, downloads, writes the lock.
pub fn update(global: &GlobalSettings, args: &DependencyArgs) -> Result<ExitCode> {
    let chart = chart_dir(args);
    let requested = requested(&chart)?;
    let fetcher = Fetcher::new(
        global.timeouts,
        &crate::settings::RegistrySettings::resolve(&args.registry),
        &requested,
    )?;
    let mut locked = Vec::new();
    let mut archives = Vec::new();
    for dep in &requested {
        if let Some((l, file, data)) = fetcher.resolve(&chart, dep, None)? {
            archives.push((file, data));
            locked.push(l);
        }
    }
    let place = Confined::new(&chart)?;
    replace_archives(&place, &requested, &archives)?;
    let digest = lock::digest(&requested, &locked);
    let generated = chrono_now();
    place.write(
        &place.chart,
        "Chart.lock",
        lock::to_yaml(&locked, &digest, &generated).as_bytes(),
    )?;
    eprintln!(
        "Saved {} dependencies of `{}` to charts/ and Chart.lock",
        locked.len(),
        chart.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `werf helm dependency build`: the versions of `Chart.lock` (which must match `Chart.yaml`),
/// or an update when there is no lock.
pub fn build(global: &GlobalSettings, args: &DependencyArgs) -> Result<ExitCode> {
    let chart = chart_dir(args);
    let lock_file = chart.join("Chart.lock");
    let Ok(text) = std::fs::read_to_string(&lock_file) else {
        return update(global, args);
    };
    let requested = requested(&chart)?;
    let lock = lock::parse(&text).with_context(|| format!("reading `{}`", lock_file.display()))?;
    if lock::digest(&requested, &lock.dependencies) != lock.digest {
        bail!(
            "the lock file (`{}`) is out of sync with the dependencies file (`Chart.yaml`): run `werf helm dependency update`",
            lock_file.display()
        );
    }
    let fetcher = Fetcher::new(
        global.timeouts,
        &crate::settings::RegistrySettings::resolve(&args.registry),
        &requested,
    )?;
    let mut archives = Vec::new();
    for dep in &requested {
        let name = field(dep, "name");
        let Some(pinned) = lock.dependencies.iter().find(|l| l.name == name) else {
            continue;
        };
        if let Some((_, file, data)) = fetcher.resolve(&chart, dep, Some(&pinned.version))? {
            archives.push((file, data));
        }
    }
    replace_archives(&Confined::new(&chart)?, &requested, &archives)?;
    eprintln!(
        "Saved {} locked dependencies of `{}` to charts/",
        archives.len(),
        chart.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn chart_dir(args: &DependencyArgs) -> PathBuf {
    args.chart.clone().unwrap_or_else(|| PathBuf::from(".helm"))
}

/// `Chart.yaml`'s dependencies, as Helm reads them; a name that is not a chart name (a path,
/// `..`) is refused, as Helm's metadata validation refuses it.
fn requested(chart: &Path) -> Result<Vec<Json>> {
    let file = chart.join("Chart.yaml");
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading `{}`", file.display()))?;
    let meta =
        gotemplate::yaml::load::load(&text).map_err(|e| anyhow!("`{}`: {e}", file.display()))?;
    let deps = meta
        .get("dependencies")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    for dep in &deps {
        let name = field(dep, "name");
        if !is_file_name(&name) {
            bail!(
                "`{}`: dependency name `{}` is not a chart name (letters, digits, `.`, `_` and `-` only)",
                file.display(),
                name.escape_debug()
            );
        }
    }
    Ok(deps)
}

/// The chart folder and its `charts/`, checked to lie inside the repository (or the chart
/// folder, outside one) after every link is resolved. Files are written beside their place
/// with `O_EXCL` and renamed over it, so a committed link at a file's name is replaced, never
/// written through.
struct Confined {
    chart: PathBuf,
    charts: PathBuf,
}

impl Confined {
    fn new(chart: &Path) -> Result<Confined> {
        let real_chart = chart
            .canonicalize()
            .with_context(|| format!("reading `{}`", chart.display()))?;
        let root = repository_root(chart).unwrap_or_else(|| real_chart.clone());
        let outside = |what: &Path, real: &Path| {
            anyhow!(
                "`{}` is a symbolic link to `{}`, outside the repository `{}`: werf does not write through it",
                what.display(),
                real.display(),
                root.display()
            )
        };
        if !real_chart.starts_with(&root) {
            return Err(outside(chart, &real_chart));
        }
        let charts = chart.join("charts");
        match std::fs::symlink_metadata(&charts) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let real = charts
                    .canonicalize()
                    .with_context(|| format!("reading `{}`", charts.display()))?;
                if !real.starts_with(&root) {
                    return Err(outside(&charts, &real));
                }
            }
            Ok(meta) if !meta.is_dir() => bail!("`{}` is not a folder", charts.display()),
            Ok(_) => {}
            Err(_) => std::fs::create_dir(&charts)
                .with_context(|| format!("creating `{}`", charts.display()))?,
        }
        Ok(Confined {
            chart: chart.to_path_buf(),
            charts,
        })
    }

    /// Writes `data` as `dir/file`: into a new `.file.part` beside it, then renamed over it.
    fn write(&self, dir: &Path, file: &str, data: &[u8]) -> Result<()> {
        use std::io::Write as _;
        if !is_file_name(file) {
            bail!(
                "refusing to write `{}`: not a plain file name",
                file.escape_debug()
            );
        }
        let path = dir.join(file);
        let tmp = dir.join(format!(".{file}.part"));
        // A stale (or planted) part file goes first: `create_new` never follows a link.
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing `{}`", tmp.display())),
        }
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .and_then(|mut f| f.write_all(data).and_then(|()| f.sync_all()));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("writing `{}`", tmp.display()));
        }
        std::fs::rename(&tmp, &path).with_context(|| format!("writing `{}`", path.display()))
    }
}

/// The work tree holding `dir`, found by its `.git` (a folder or a file), as given (links in
/// the path are resolved).
fn repository_root(dir: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(dir).ok()?;
    abs.ancestors()
        .find(|d| d.join(".git").exists())
        .and_then(|d| d.canonicalize().ok())
}

/// `YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ` now, as Helm stamps `generated`.
fn chrono_now() -> String {
    let t = gotemplate::date::Time::now().in_zone(gotemplate::date::Zone::Utc);
    gotemplate::date::format(&t, "2006-01-02T15:04:05.999999999Z07:00")
}

/// Writes the new archives into `charts/`, first removing the archives of the same
/// dependencies (an update replaces the old version), as Helm does.
fn replace_archives(
    place: &Confined,
    requested: &[Json],
    archives: &[(String, Vec<u8>)],
) -> Result<()> {
    let charts = &place.charts;
    let names: Vec<String> = requested.iter().map(|d| field(d, "name")).collect();
    for entry in std::fs::read_dir(charts)? {
        let path = entry?.path();
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default();
        let old = file
            .strip_suffix(".tgz")
            .and_then(|stem| stem.rsplit_once('-'))
            .is_some_and(|(name, _)| names.iter().any(|n| n == name));
        if old {
            std::fs::remove_file(&path)
                .with_context(|| format!("removing `{}`", path.display()))?;
        }
    }
    for (file, data) in archives {
        // Written beside, then renamed: a failure leaves no half-written archive.
        place.write(charts, file, data)?;
    }
    Ok(())
}

/// `werf helm dependency list`: each dependency of `Chart.yaml` and what `charts/` holds for
/// it, as Helm words it: `ok` (an archive or folder of a version the constraint allows),
/// `wrong version`, `unpacked` (a folder), `missing`.
pub fn list(args: &DependencyArgs) -> Result<ExitCode> {
    let chart = chart_dir(args);
    let requested = requested(&chart)?;
    if requested.is_empty() {
        println!(
            "WARNING: no dependencies at {}",
            chart.join("charts").display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 4]> = requested
        .iter()
        .map(|dep| {
            let name = field(dep, "name");
            let status = status(&chart.join("charts"), &name, &field(dep, "version"));
            [
                name,
                field(dep, "version"),
                crate::redact::urls(&field(dep, "repository")),
                status.to_string(),
            ]
        })
        .collect();
    let header = [
        "NAME".to_string(),
        "VERSION".into(),
        "REPOSITORY".into(),
        "STATUS".into(),
    ];
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .chain(std::iter::once(&header))
                .map(|r| r[i].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("\t").trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

/// What `charts/` holds for dependency `name` with `constraint`.
fn status(charts: &Path, name: &str, constraint: &str) -> &'static str {
    let allowed = |version: &str| {
        constraint.is_empty() || gotemplate::semver::matches(constraint, version).unwrap_or(false)
    };
    let version_in = |dir_meta: &str| -> Option<String> {
        let meta = gotemplate::yaml::load::load(dir_meta).ok()?;
        (field(&meta, "name") == name).then(|| field(&meta, "version"))
    };
    if let Ok(entries) = std::fs::read_dir(charts) {
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            if let Some(version) = file
                .strip_suffix(".tgz")
                .and_then(|stem| stem.strip_prefix(&format!("{name}-")))
            {
                return if allowed(version) {
                    "ok"
                } else {
                    "wrong version"
                };
            }
            if file == name && e.path().is_dir() {
                let version = std::fs::read_to_string(e.path().join("Chart.yaml"))
                    .ok()
                    .and_then(|t| version_in(&t));
                return match version {
                    Some(v) if allowed(&v) => "unpacked",
                    Some(_) => "wrong version",
                    None => "misnamed",
                };
            }
        }
    }
    "missing"
}
