//! Fetching a chart dependency as Helm fetches it: from an OCI registry (`oci://HOST/PATH`), a
//! classic repository (`index.yaml` over HTTP, the archive checked against the index's digest),
//! or a local folder (`file://`, packaged as `helm package` lays it out); every answer read
//! within the body limits of [`crate::net`].

use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value as Json;
use werf_graph::chart::lock::{self, Locked};

use crate::registry::Registry;

/// The chart's layer media type in an OCI registry.
const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// A string field of a `Chart.yaml` dependency.
pub fn field(v: &Json, key: &str) -> String {
    v.get(key)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A name that is one plain path component: `[A-Za-z0-9._+-]`, not `.` or `..`.
pub fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
}

/// Reaches the repositories.
pub struct Fetcher {
    registry: Registry,
    /// Named repositories (`@NAME`, `alias:NAME`), from Helm's `repositories.yaml`.
    repos: super::repos::Repositories,
    runtime: &'static tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Fetcher {
    /// A fetcher for the repositories `requested` (dependencies) name; `insecure` registries
    /// are reached over plain HTTP.
    pub fn new(
        timeouts: crate::net::Timeouts,
        access: &crate::settings::RegistrySettings,
        requested: &[Json],
    ) -> Result<Fetcher> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let repos = super::repos::Repositories::load(&super::repos::config_file())?;
        let mut urls = Vec::new();
        for d in requested {
            let repository = field(d, "repository");
            urls.push(match repos.resolve(&repository) {
                Ok(Some(entry)) => entry.url.clone(),
                _ => repository,
            });
        }
        let hosts: Vec<String> = urls
            .iter()
            .filter_map(|r| r.strip_prefix("oci://").map(str::to_string))
            .map(|r| r.split('/').next().unwrap_or_default().to_string())
            .collect();
        let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
        // `--insecure-registry` makes every OCI registry of the dependencies plain HTTP.
        let mut plain = access.insecure_hosts.clone();
        if access.insecure_repo {
            plain.extend(hosts.iter().map(|h| h.to_string()));
        }
        let registry = Registry::connect(
            &crate::registry::Access {
                plain_http: plain,
                skip_tls_verify: access.skip_tls_verify,
            },
            &hosts,
            timeouts,
        )?;
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.read)
            .build()
            .context("starting the HTTP client")?;
        let runtime = crate::runtime::get().context("starting the async runtime")?;
        Ok(Fetcher {
            registry,
            repos,
            runtime,
            http,
        })
    }

    /// The body at `url`, at most `limit` bytes (named by the variable `var`), with a named
    /// repository's basic credentials when given.
    pub fn get(
        &self,
        url: &str,
        limit: u64,
        var: &'static str,
        auth: Option<(&str, &str)>,
    ) -> Result<Vec<u8>> {
        let shown = crate::redact::urls(url);
        self.runtime.block_on(async {
            let mut request = self.http.get(url);
            if let Some((user, password)) = auth {
                request = request.basic_auth(user, Some(password));
            }
            let resp = request.send().await.map_err(|e| {
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
    pub fn resolve(
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
        // A named repository (`@NAME`, `alias:NAME`): its URL and credentials; the lock keeps
        // the name as written, as Helm's does.
        let named = self.repos.resolve(&repo)?.cloned();
        let url_of_repo = named.as_ref().map_or(repo.clone(), |e| e.url.clone());
        let credentials = named.as_ref().filter(|e| !e.username.is_empty()).map(|e| {
            (
                e.username.as_str(),
                e.password.as_str(),
                e.pass_credentials_all,
            )
        });
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
        } else if let Some(path) = url_of_repo.strip_prefix("oci://") {
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
        } else if url_of_repo.starts_with("http://") || url_of_repo.starts_with("https://") {
            let base = url_of_repo.trim_end_matches('/');
            // Credentials go to the repository's own URLs only, unless the entry says otherwise.
            let auth_for = |url: &str| {
                credentials
                    .filter(|(_, _, all)| *all || url.starts_with(base))
                    .map(|(u, p, _)| (u, p))
            };
            let index_url = format!("{base}/index.yaml");
            let index = self.get(
                &index_url,
                crate::net::max_body(),
                "WERF_MAX_BODY_SIZE",
                auth_for(&index_url),
            )?;
            let index = gotemplate::yaml::load::load_with(
                &String::from_utf8_lossy(&index),
                gotemplate::yaml::load::Numbers::AsWritten,
            )
            .map_err(|e| anyhow!("`{}/index.yaml`: {e}", crate::redact::urls(base)))?;
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
            let data = self.get(
                &url,
                crate::net::max_chart(),
                "WERF_MAX_CHART_SIZE",
                auth_for(&url),
            )?;
            let want = field(entry, "digest");
            if !want.is_empty() {
                let got = super::cache::hex(&data);
                if got != want.trim_start_matches("sha256:") {
                    bail!("chart `{name}` {version} from `{}`: digest {got} differs from the index's {want}", crate::redact::urls(&url));
                }
            }
            (version, file, data)
        } else if let Some(local) = url_of_repo.strip_prefix("file://") {
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
                "dependency `{name}`: repository `{repo}` is not an `oci://`, `http(s)://` or `file://` URL, nor a repository named with `@NAME` or `alias:NAME`"
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
