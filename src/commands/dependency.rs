//! `werf helm dependency update|build`: a chart's dependencies fetched as Helm fetches them,
//! from OCI registries (`oci://HOST/PATH`) and classic repositories (`index.yaml` over HTTP),
//! or packaged from a local folder (`file://`), into `charts/NAME-VERSION.tgz`, with
//! `Chart.lock` written (update) or honoured (build).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value as Json;
use werf_graph::chart::lock::{self, Locked};

use crate::cli::{DependencyArgs, Global};
use crate::registry::Registry;

/// The chart's layer media type in an OCI registry.
const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// `werf helm dependency update`: resolves every constraint anew, downloads, writes the lock.
pub fn update(global: &Global, args: &DependencyArgs) -> Result<ExitCode> {
    let chart = chart_dir(args);
    let requested = requested(&chart)?;
    let fetcher = Fetcher::new(global, args, &requested)?;
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
pub fn build(global: &Global, args: &DependencyArgs) -> Result<ExitCode> {
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
    let fetcher = Fetcher::new(global, args, &requested)?;
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

fn field(v: &Json, key: &str) -> String {
    v.get(key)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
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

/// A name that is one plain path component: `[A-Za-z0-9._+-]`, not `.` or `..`.
fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
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

/// Reaches the repositories.
struct Fetcher {
    registry: Registry,
    runtime: &'static tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Fetcher {
    fn new(global: &Global, args: &DependencyArgs, requested: &[Json]) -> Result<Fetcher> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let timeouts = global.timeouts();
        let hosts: Vec<String> = requested
            .iter()
            .filter_map(|d| {
                field(d, "repository")
                    .strip_prefix("oci://")
                    .map(str::to_string)
            })
            .map(|r| r.split('/').next().unwrap_or_default().to_string())
            .collect();
        let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let registry = Registry::new(&args.insecure_registry, &hosts, timeouts)?;
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.read)
            .build()
            .context("starting the HTTP client")?;
        let runtime = crate::runtime::get().context("starting the async runtime")?;
        Ok(Fetcher {
            registry,
            runtime,
            http,
        })
    }

    /// The body at `url`, at most `limit` bytes (named by the variable `var`).
    fn get(&self, url: &str, limit: u64, var: &'static str) -> Result<Vec<u8>> {
        let shown = crate::redact::urls(url);
        self.runtime.block_on(async {
            let resp = self.http.get(url).send().await.map_err(|e| {
                anyhow!(
                    "fetching `{shown}`: {}",
                    crate::redact::urls(&crate::errors::chain(&e))
                )
            })?;
            let status = resp.status();
            if !status.is_success() {
                bail!("fetching `{shown}`: the server answered {status}");
            }
            crate::net::read_body(resp, limit, var).await.map_err(|e| {
                anyhow!(
                    "reading `{shown}`: {}",
                    crate::redact::urls(&crate::errors::chain(&e))
                )
            })
        })
    }

    /// The archive of `dep` (at `pinned`, else the highest version its constraint allows), or
    /// `None` for a dependency without a repository (it must already be in `charts/`).
    fn resolve(
        &self,
        chart: &Path,
        dep: &Json,
        pinned: Option<&str>,
    ) -> Result<Option<(Locked, String, Vec<u8>)>> {
        let (name, constraint, repo) = (
            field(dep, "name"),
            field(dep, "version"),
            field(dep, "repository"),
        );
        let constraint = pinned.map(str::to_string).unwrap_or(constraint);
        let pick = |versions: Vec<String>| -> Result<String> {
            lock::pick_version(&constraint, versions.iter().map(String::as_str)).ok_or_else(|| {
                anyhow!(
                    "no version of chart `{name}` in `{}` matches `{constraint}`",
                    crate::redact::urls(&repo)
                )
            })
        };
        let default_file = |version: &str| format!("{name}-{version}.tgz");
        let (version, file, data) = if repo.is_empty() {
            return Ok(None);
        } else if let Some(path) = repo.strip_prefix("oci://") {
            let reference = format!("{}/{name}", path.trim_end_matches('/'));
            let tags = self.registry.list_tags(&reference)?;
            // OCI tags cannot hold `+`: Helm writes `_` instead.
            let version = pick(tags.iter().map(|t| t.replace('_', "+")).collect())?;
            let (manifest, _) = self
                .registry
                .pull_manifest(&format!("{reference}:{}", version.replace('+', "_")))?;
            let manifest: Json =
                serde_json::from_slice(&manifest).context("reading the chart's manifest")?;
            let layer = manifest["layers"]
                .as_array()
                .and_then(|l| l.iter().find(|x| x["mediaType"] == CHART_LAYER))
                .ok_or_else(|| {
                    anyhow!(
                        "`{reference}:{version}` is not a Helm chart (no `{CHART_LAYER}` layer)"
                    )
                })?;
            let size = layer["size"].as_i64().unwrap_or(0);
            if size < 0 || size as u64 > crate::net::max_chart() {
                bail!(
                    "`{reference}:{version}`: the chart is {size} bytes, over the limit of {} bytes (WERF_MAX_CHART_SIZE)",
                    crate::net::max_chart()
                );
            }
            let data = self.registry.pull_blob(
                &reference,
                layer["digest"].as_str().unwrap_or_default(),
                CHART_LAYER,
                size,
            )?;
            (version.clone(), default_file(&version), data)
        } else if repo.starts_with("http://") || repo.starts_with("https://") {
            let base = repo.trim_end_matches('/');
            let index = self.get(
                &format!("{base}/index.yaml"),
                crate::net::max_body(),
                "WERF_MAX_BODY_SIZE",
            )?;
            let index = gotemplate::yaml::load::load_all_with(
                &String::from_utf8_lossy(&index),
                gotemplate::yaml::load::Numbers::AsWritten,
            )
            .map_err(|e| anyhow!("`{}/index.yaml`: {e}", crate::redact::urls(base)))?
            .into_iter()
            .next()
            .unwrap_or(Json::Null);
            let entries = index["entries"][&name]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let version = pick(entries.iter().map(|e| field(e, "version")).collect())?;
            let entry = entries
                .iter()
                .find(|e| field(e, "version") == version)
                .ok_or_else(|| anyhow!("chart `{name}` {version} vanished from the index"))?;
            let url = entry["urls"][0].as_str().unwrap_or_default();
            let url = if url.contains("://") {
                url.to_string()
            } else {
                format!("{base}/{url}")
            };
            // Helm names the archive after the download URL's last segment.
            let file = url
                .split(['?', '#'])
                .next()
                .and_then(|u| u.rsplit('/').next())
                .unwrap_or_default()
                .to_string();
            if !is_file_name(&file) || !file.ends_with(".tgz") {
                bail!(
                    "chart `{name}` {version}: the index's URL `{}` does not end in an archive name (`NAME.tgz`)",
                    crate::redact::urls(&url)
                );
            }
            let data = self.get(&url, crate::net::max_chart(), "WERF_MAX_CHART_SIZE")?;
            let want = field(entry, "digest");
            if !want.is_empty() {
                use sha2::Digest as _;
                let got: String = sha2::Sha256::digest(&data)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if got != want.trim_start_matches("sha256:") {
                    bail!("chart `{name}` {version} from `{}`: digest {got} differs from the index's {want}", crate::redact::urls(&url));
                }
            }
            (version, file, data)
        } else if let Some(local) = repo.strip_prefix("file://") {
            let dir = chart.join(local);
            let text = std::fs::read_to_string(dir.join("Chart.yaml"))
                .with_context(|| format!("reading `{}`", dir.join("Chart.yaml").display()))?;
            let meta = gotemplate::yaml::load::load(&text)
                .map_err(|e| anyhow!("`{}`: {e}", dir.display()))?;
            let version = pick(vec![field(&meta, "version")])?;
            let data = package(&dir, &name)?;
            (version.clone(), default_file(&version), data)
        } else {
            bail!(
                "dependency `{name}`: repository `{repo}` is not an `oci://`, `http(s)://` or `file://` URL (named repositories need `helm repo add`, which werf does not keep)"
            );
        };
        Ok(Some((
            Locked {
                name,
                repository: repo,
                version,
            },
            file,
            data,
        )))
    }
}

/// A chart folder as a `.tgz` (files under `NAME/`), as `helm package` lays it out.
fn package(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading `{}`", d.display()))? {
            let e = e?;
            let t = e.file_type()?;
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                files.push(e.path());
            }
        }
    }
    files.sort();
    for f in files {
        let rel = f.strip_prefix(dir).unwrap_or(&f);
        let data = std::fs::read(&f).with_context(|| format!("reading `{}`", f.display()))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, Path::new(name).join(rel), data.as_slice())
            .context("packaging the chart")?;
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .context("packaging the chart")
}
