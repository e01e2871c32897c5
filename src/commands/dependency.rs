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
        if let Some((l, data)) = fetcher.resolve(&chart, dep, None)? {
            archives.push((format!("{}-{}.tgz", l.name, l.version), data));
            locked.push(l);
        }
    }
    replace_archives(&chart, &requested, &archives)?;
    let digest = lock::digest(&requested, &locked);
    let generated = chrono_now();
    std::fs::write(
        chart.join("Chart.lock"),
        lock::to_yaml(&locked, &digest, &generated),
    )
    .with_context(|| format!("writing `{}`", chart.join("Chart.lock").display()))?;
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
        if let Some((l, data)) = fetcher.resolve(&chart, dep, Some(&pinned.version))? {
            archives.push((format!("{}-{}.tgz", l.name, l.version), data));
        }
    }
    replace_archives(&chart, &requested, &archives)?;
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

/// `Chart.yaml`'s dependencies, as Helm reads them.
fn requested(chart: &Path) -> Result<Vec<Json>> {
    let file = chart.join("Chart.yaml");
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading `{}`", file.display()))?;
    let meta =
        gotemplate::yaml::load::load(&text).map_err(|e| anyhow!("`{}`: {e}", file.display()))?;
    Ok(meta
        .get("dependencies")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default())
}

/// `YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ` now, as Helm stamps `generated`.
fn chrono_now() -> String {
    let t = gotemplate::date::Time::now().in_zone(gotemplate::date::Zone::Utc);
    gotemplate::date::format(&t, "2006-01-02T15:04:05.999999999Z07:00")
}

/// Writes the new archives into `charts/`, first removing the archives of the same
/// dependencies (an update replaces the old version), as Helm does.
fn replace_archives(
    chart: &Path,
    requested: &[Json],
    archives: &[(String, Vec<u8>)],
) -> Result<()> {
    let charts = chart.join("charts");
    std::fs::create_dir_all(&charts).with_context(|| format!("creating `{}`", charts.display()))?;
    let names: Vec<String> = requested.iter().map(|d| field(d, "name")).collect();
    for entry in std::fs::read_dir(&charts)? {
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
        let path = charts.join(file);
        // Written beside, then renamed: a failure leaves no half-written archive.
        let tmp = charts.join(format!(".{file}.part"));
        std::fs::write(&tmp, data).with_context(|| format!("writing `{}`", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing `{}`", path.display()))?;
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

    fn get(&self, url: &str) -> Result<Vec<u8>> {
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
            Ok(resp
                .bytes()
                .await
                .map_err(|e| anyhow!("reading `{shown}`: {}", crate::errors::chain(&e)))?
                .to_vec())
        })
    }

    /// The archive of `dep` (at `pinned`, else the highest version its constraint allows), or
    /// `None` for a dependency without a repository (it must already be in `charts/`).
    fn resolve(
        &self,
        chart: &Path,
        dep: &Json,
        pinned: Option<&str>,
    ) -> Result<Option<(Locked, Vec<u8>)>> {
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
        let (version, data) = if repo.is_empty() {
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
            let data = self.registry.pull_blob(
                &reference,
                layer["digest"].as_str().unwrap_or_default(),
                CHART_LAYER,
                layer["size"].as_i64().unwrap_or(0),
            )?;
            (version, data)
        } else if repo.starts_with("http://") || repo.starts_with("https://") {
            let base = repo.trim_end_matches('/');
            let index = self.get(&format!("{base}/index.yaml"))?;
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
            let data = self.get(&url)?;
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
            (version, data)
        } else if let Some(local) = repo.strip_prefix("file://") {
            let dir = chart.join(local);
            let text = std::fs::read_to_string(dir.join("Chart.yaml"))
                .with_context(|| format!("reading `{}`", dir.join("Chart.yaml").display()))?;
            let meta = gotemplate::yaml::load::load(&text)
                .map_err(|e| anyhow!("`{}`: {e}", dir.display()))?;
            let version = pick(vec![field(&meta, "version")])?;
            (version, package(&dir, &name)?)
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
