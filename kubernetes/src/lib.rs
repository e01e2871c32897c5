//! Kubernetes access: the client from a kubeconfig, discovery of any kind in a chart, and the few
//! verbs deploy uses (list, get, server-side apply, delete, logs, events), each counted.
//!
//! - [`source`]: where the configuration comes from (kubeconfig files, a pod's service account,
//!   the command line's overrides).
//! - [`listed`]: list responses read without their items' managed fields.

pub mod listed;
pub mod source;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, LogParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde_json::Value;

/// The field manager of every apply: Helm's own (the Helm CLI pins `helm`). Releases are Helm
/// releases; sharing the manager is what lets `helm upgrade` and `helm rollback` (which apply
/// without forcing) change fields werf-rs applied, and lets werf-rs take over a release Helm
/// deployed without leaving fields owned twice.
pub const FIELD_MANAGER: &str = "helm";

/// Errors of Kubernetes access, each naming what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read kubeconfig `{path}`: {message}")]
    Kubeconfig { path: String, message: String },
    #[error("cannot reach the Kubernetes API at `{url}`: {message}")]
    Unreachable { url: String, message: String },
    #[error("the cluster does not serve `{api_version}` `{kind}` (used by `{source_file}`)")]
    UnknownKind {
        api_version: String,
        kind: String,
        source_file: String,
    },
    #[error("{verb} {what}: {}", describe(source))]
    Api {
        verb: &'static str,
        what: String,
        source: kube::Error,
    },
}

/// Whether a discovery error says the group, version or kind does not exist (rather than that
/// the server could not be asked).
fn unknown_kind(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 404,
        kube::Error::Discovery(_) => true,
        _ => false,
    }
}

/// Whether a failed request may succeed when tried again.
fn transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code >= 500 || s.code == 429,
        kube::Error::HyperError(_) | kube::Error::Service(_) => !permanent(e),
        _ => false,
    }
}

/// Only an answer that the server did not act on: 429 (too many requests). A create that was
/// cut off may have been made, and its retry would be refused as a conflict.
fn not_acted_on(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 429)
}

/// A failure that trying again cannot mend: the server's name does not resolve, or its
/// certificate is not trusted.
fn permanent(e: &kube::Error) -> bool {
    let mut next: Option<&dyn std::error::Error> = Some(e);
    while let Some(cause) = next {
        let text = cause.to_string().to_ascii_lowercase();
        if [
            "dns error",
            "failed to lookup address",
            "name or service not known",
            "no address associated",
            "invalid peer certificate",
            "certificate verify failed",
        ]
        .iter()
        .any(|m| text.contains(m))
        {
            return true;
        }
        next = cause.source();
    }
    false
}

/// A kube error in one line: the API server's message and reason, not the whole status dump.
pub fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => match s.reason.as_str() {
            "" => s.message.clone(),
            reason => format!("{} ({reason}, {})", s.message, s.code),
        },
        other => other.to_string(),
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// How to reach the cluster (`--kube-config`, `--kube-context`, and werf's `--kube-api-server`,
/// `--kube-token`, `--kube-ca-path`, `--skip-tls-verify-kube`).
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub overrides: source::Overrides,
}

/// A connected cluster: the client, resolved kinds, and a request counter.
pub struct Kube {
    pub client: kube::Client,
    kinds: Mutex<HashMap<(String, String), (ApiResource, ApiCapabilities)>>,
    /// API requests made through this handle (shared with its [`ClusterLookup`]).
    pub requests: std::sync::Arc<AtomicU64>,
    pub server_version: String,
}

/// The kubeconfig files `target` names: `--kube-config`, else every path of `KUBECONFIG` (empty
/// entries skipped), else `~/.kube/config`.
pub fn kubeconfig_paths(target: &Target) -> Vec<PathBuf> {
    paths_of(
        target.kubeconfig.as_deref(),
        std::env::var_os("KUBECONFIG"),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

fn paths_of(
    explicit: Option<&Path>,
    variable: Option<std::ffi::OsString>,
    home: Option<PathBuf>,
) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    let listed: Vec<PathBuf> = variable
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if !listed.is_empty() {
        return listed;
    }
    vec![home.unwrap_or_default().join(".kube/config")]
}

/// The kubeconfig as errors name it: its file, or the files of `KUBECONFIG` joined by `:`.
pub fn kubeconfig_path(target: &Target) -> PathBuf {
    shown(&kubeconfig_paths(target))
}

fn shown(paths: &[PathBuf]) -> PathBuf {
    std::env::join_paths(paths)
        .map(PathBuf::from)
        .unwrap_or_else(|_| paths.first().cloned().unwrap_or_default())
}

/// The kubeconfig of `paths` merged as kubectl merges `KUBECONFIG` (the first file to set a
/// value or a named entry wins; a listed file that does not exist is skipped, but not all of
/// them), with every secret value of every file to mask in messages.
fn load(paths: &[PathBuf]) -> Result<(kube::config::Kubeconfig, werf_base::redact::Secrets)> {
    let all = shown(paths).display().to_string();
    let mut secrets = werf_base::redact::Secrets::default();
    let mut merged: Option<kube::config::Kubeconfig> = None;
    for path in paths {
        let bad = |message: String| Error::Kubeconfig {
            path: path.display().to_string(),
            message,
        };
        // A kubeconfig holds tokens, passwords and keys: parser messages are cut down to their
        // position (they quote the offending text).
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && paths.len() > 1 => continue,
            Err(e) => return Err(bad(e.to_string())),
        };
        kubeconfig_secrets(&text, &mut secrets).map_err(|e| {
            bad(format!(
                "not valid YAML {}",
                werf_base::redact::position_only(&e.to_string())
            ))
        })?;
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).map_err(|e| {
            bad(format!(
                "not a valid kubeconfig {}",
                werf_base::redact::position_only(&e.to_string())
            ))
        })?;
        merged = Some(match merged {
            None => kubeconfig,
            Some(m) => m
                .merge(kubeconfig)
                .map_err(|e| bad(format!("cannot be merged with the files before it: {e}")))?,
        });
    }
    let merged = merged.ok_or_else(|| Error::Kubeconfig {
        path: all,
        message: "none of these files exists".into(),
    })?;
    Ok((merged, secrets))
}

/// The contexts of the kubeconfig `target` names, each with the namespace it sets.
pub fn contexts(target: &Target) -> Result<Vec<(String, Option<String>)>> {
    let (kubeconfig, _, shown_as) = resolve(target)?;
    let out: Vec<(String, Option<String>)> = kubeconfig
        .contexts
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.context.as_ref().and_then(|x| x.namespace.clone()),
            )
        })
        .collect();
    if out.is_empty() {
        return Err(Error::Kubeconfig {
            path: shown_as,
            message: "it names no context".into(),
        });
    }
    Ok(out)
}

/// The context `target` connects with (its `context`, else the current one) and the namespace it
/// sets.
pub fn current_context(target: &Target) -> Result<(String, Option<String>)> {
    let (kubeconfig, _, shown_as) = resolve(target)?;
    let name = target
        .context
        .clone()
        .or(kubeconfig.current_context)
        .ok_or_else(|| Error::Kubeconfig {
            path: shown_as.clone(),
            message: "it names no current context".into(),
        })?;
    let namespace = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.as_ref()?.namespace.clone());
    Ok((name, namespace))
}

/// The configuration `target` names, with the secret values to mask and how errors name it:
/// the kubeconfig files; else, when none is named and `~/.kube/config` does not exist, the pod's
/// service account, or the command line's server alone; then the overrides laid over it.
fn resolve(
    target: &Target,
) -> Result<(kube::config::Kubeconfig, werf_base::redact::Secrets, String)> {
    let paths = kubeconfig_paths(target);
    let named = target.kubeconfig.is_some()
        || std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
    let (mut kubeconfig, mut secrets, shown_as) = if !named && !paths.iter().any(|p| p.exists()) {
        let host = std::env::var("KUBERNETES_SERVICE_HOST").ok();
        let port = std::env::var("KUBERNETES_SERVICE_PORT").ok();
        let dir = Path::new(source::SERVICE_ACCOUNT_DIR);
        match source::in_cluster(host.as_deref(), port.as_deref(), dir) {
            Some(k) => (
                k,
                Default::default(),
                "(the pod's service account)".to_string(),
            ),
            None if target.overrides.api_server.is_some() => (
                Default::default(),
                Default::default(),
                "(--kube-api-server)".to_string(),
            ),
            None if !target.overrides.is_empty() => {
                return Err(Error::Kubeconfig {
                    path: shown(&paths).display().to_string(),
                    message: "it does not exist, this is not a pod, and the `--kube-*` flags name no server: pass `--kube-api-server URL`".into(),
                })
            }
            None => {
                let (k, s) = load(&paths)?;
                (k, s, shown(&paths).display().to_string())
            }
        }
    } else {
        let (k, s) = load(&paths)?;
        (k, s, shown(&paths).display().to_string())
    };
    if let Some(token) = &target.overrides.token {
        secrets.add(token);
    }
    source::apply(
        &mut kubeconfig,
        target.context.as_deref(),
        &target.overrides,
    )
    .map_err(|message| Error::Kubeconfig {
        path: shown_as.clone(),
        message,
    })?;
    Ok((kubeconfig, secrets, shown_as))
}

/// Every string under `users` in a kubeconfig (tokens, passwords, keys, exec arguments), to be
/// masked in messages; `Err` with the parser's message when the text is not YAML.
fn kubeconfig_secrets(
    text: &str,
    secrets: &mut werf_base::redact::Secrets,
) -> std::result::Result<(), serde_yaml_ng::Error> {
    fn strings(v: &serde_yaml_ng::Value, out: &mut werf_base::redact::Secrets) {
        match v {
            serde_yaml_ng::Value::String(s) => out.add(s),
            serde_yaml_ng::Value::Sequence(l) => l.iter().for_each(|x| strings(x, out)),
            serde_yaml_ng::Value::Mapping(m) => m.values().for_each(|x| strings(x, out)),
            serde_yaml_ng::Value::Tagged(t) => strings(&t.value, out),
            _ => {}
        }
    }
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let v = <serde_yaml_ng::Value as serde::Deserialize>::deserialize(doc)?;
        if let Some(users) = v.get("users") {
            strings(users, secrets);
        }
    }
    Ok(())
}

impl Kube {
    /// Connects with these timeouts and asks the server its version (so an unreachable cluster
    /// fails here, clearly).
    pub async fn connect_with(target: &Target, timeouts: werf_base::net::Timeouts) -> Result<Kube> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Every message is scrubbed of the configuration's secret values and of URL userinfo.
        let (kubeconfig, secrets, shown_as) = resolve(target)?;
        let bad = |message: String| Error::Kubeconfig {
            path: shown_as.clone(),
            message,
        };
        let scrub = |e: &dyn std::fmt::Display| secrets.scrub(&e.to_string());
        let options = kube::config::KubeConfigOptions {
            context: target.context.clone(),
            ..Default::default()
        };
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| bad(scrub(&e)))?;
        config.connect_timeout = Some(timeouts.connect);
        config.read_timeout = Some(timeouts.read);
        let url = werf_base::redact::urls(config.cluster_url.to_string().as_str());
        let client = kube::Client::try_from(config).map_err(|e| bad(scrub(&e)))?;
        let version = client
            .apiserver_version()
            .await
            .map_err(|e| Error::Unreachable {
                url: url.clone(),
                message: scrub(&e),
            })?;
        Ok(Kube {
            client,
            kinds: Mutex::default(),
            requests: std::sync::Arc::new(AtomicU64::new(1)),
            server_version: version.git_version,
        })
    }

    /// The server's API group versions (`v1`, `apps/v1`, ...), for `.Capabilities.APIVersions`:
    /// two discovery requests.
    pub async fn api_versions(&self) -> Result<Vec<String>> {
        self.count();
        let core = self
            .client
            .list_core_api_versions()
            .await
            .map_err(|source| Error::Api {
                verb: "discover",
                what: "the core API versions".into(),
                source,
            })?;
        self.count();
        let groups = self
            .client
            .list_api_groups()
            .await
            .map_err(|source| Error::Api {
                verb: "discover",
                what: "the API groups".into(),
                source,
            })?;
        let mut out = core.versions;
        for g in groups.groups {
            out.extend(g.versions.into_iter().map(|v| v.group_version));
        }
        Ok(out)
    }

    /// What chart templates' `lookup` reads: this cluster, from a render running inside this
    /// runtime.
    pub fn lookup(&self) -> werf_graph::chart::Cluster {
        werf_graph::chart::Cluster(Some(std::sync::Arc::new(ClusterLookup {
            client: self.client.clone(),
            requests: self.requests.clone(),
            handle: tokio::runtime::Handle::current(),
        })))
    }

    /// Counts one API request (for requests made with the client directly).
    pub fn count(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// The API resource of `apiVersion`/`kind` (one discovery request per new kind).
    pub async fn resource(
        &self,
        api_version: &str,
        kind: &str,
        source_file: &str,
    ) -> Result<(ApiResource, bool)> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some((ar, caps)) = self.kinds.lock().expect("kinds lock").get(&key) {
            return Ok((ar.clone(), caps.scope == Scope::Namespaced));
        }
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        // A transient failure is retried; only "no such group, version or kind" means unknown.
        let found = self
            .read_retrying(|| kube::discovery::pinned_kind(&self.client, &gvk))
            .await;
        let (ar, caps) = match found {
            Ok(found) => found,
            Err(e) if unknown_kind(&e) => {
                return Err(Error::UnknownKind {
                    api_version: api_version.into(),
                    kind: kind.into(),
                    source_file: source_file.into(),
                })
            }
            Err(source) => {
                return Err(Error::Api {
                    verb: "discover",
                    what: format!("`{api_version}` `{kind}` (used by `{source_file}`)"),
                    source,
                })
            }
        };
        let namespaced = caps.scope == Scope::Namespaced;
        self.kinds
            .lock()
            .expect("kinds lock")
            .insert(key, (ar.clone(), caps));
        Ok((ar, namespaced))
    }

    /// A kind named as werf's external dependencies name it (`deployment`, `deployments`,
    /// `Deployment`; with `version` and `group` when given), by discovery; and whether it is
    /// namespaced.
    pub async fn resource_by_name(
        &self,
        kind: &str,
        group: Option<&str>,
        version: Option<&str>,
        source_file: &str,
    ) -> Result<(ApiResource, bool)> {
        let mut discovery = kube::Discovery::new(self.client.clone());
        if let Some(g) = group {
            discovery = discovery.filter(&[g]);
        }
        self.count();
        let discovery = discovery.run().await.map_err(|source| Error::Api {
            verb: "discover",
            what: format!("the kind `{kind}`"),
            source,
        })?;
        let wanted = kind.to_ascii_lowercase();
        for g in discovery.groups() {
            if group.is_some_and(|want| want != g.name()) {
                continue;
            }
            for (ar, caps) in g.recommended_resources() {
                if version.is_some_and(|v| v != ar.version) {
                    continue;
                }
                let names = [ar.kind.to_ascii_lowercase(), ar.plural.clone()];
                if names.contains(&wanted) {
                    return Ok((ar, caps.scope == Scope::Namespaced));
                }
            }
        }
        Err(Error::UnknownKind {
            api_version: [group, version]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("/"),
            kind: kind.to_string(),
            source_file: source_file.to_string(),
        })
    }

    /// Runs an idempotent read (counted each try), again after a pause when it failed for a
    /// reason that may pass: a 5xx or 429 answer, a dropped connection, a timeout.
    async fn read_retrying<T, F, Fut>(&self, op: F) -> std::result::Result<T, kube::Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, kube::Error>>,
    {
        self.retrying("read", transient, op).await
    }

    /// Runs a request (counted each try) up to three times while `again` says its failure may
    /// pass, with a pause between.
    async fn retrying<T, F, Fut>(
        &self,
        what: &str,
        again: fn(&kube::Error) -> bool,
        mut op: F,
    ) -> std::result::Result<T, kube::Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, kube::Error>>,
    {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.count();
            match op().await {
                Err(e) if attempt < 3 && again(&e) => {
                    tracing::debug!("Kubernetes {what} failed, retrying: {e}");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
                other => return other,
            }
        }
    }

    fn api(&self, ar: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, ar),
            None => Api::all_with(self.client.clone(), ar),
        }
    }

    /// Every object of a kind in a namespace (or cluster-wide), as JSON: read straight into
    /// JSON values (not typed objects turned into JSON again) without their managed fields
    /// ([`listed`]), each given its `apiVersion` and `kind` (a list's items come without them).
    pub async fn list(
        &self,
        ar: &ApiResource,
        namespace: Option<&str>,
        labels: Option<&str>,
    ) -> Result<Vec<Value>> {
        let mut lp = ListParams::default();
        if let Some(l) = labels {
            lp = lp.labels(l);
        }
        let api = self.api(ar, namespace);
        let url = api.resource_url();
        let items = self
            .read_retrying(|| async {
                let request = kube::core::Request::new(url)
                    .list(&lp)
                    .map_err(kube::Error::BuildRequest)?;
                let text = self.client.request_text(request).await?;
                listed::items(&text).map_err(kube::Error::SerdeError)
            })
            .await
            .map_err(|source| Error::Api {
                verb: "list",
                what: format!(
                    "`{}` in `{}`",
                    ar.plural,
                    namespace.unwrap_or("the cluster")
                ),
                source,
            })?;
        Ok(items
            .into_iter()
            .map(|mut o| {
                if let Value::Object(map) = &mut o {
                    map.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
                    map.insert("kind".into(), Value::String(ar.kind.clone()));
                }
                o
            })
            .collect())
    }

    /// One object, or `None`.
    pub async fn get(
        &self,
        ar: &ApiResource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>> {
        let api = self.api(ar, namespace);
        let got = self
            .read_retrying(|| api.get_opt(name))
            .await
            .map_err(|source| Error::Api {
                verb: "get",
                what: format!("`{}/{name}`", ar.kind),
                source,
            })?;
        Ok(got.map(|o| serde_json::to_value(o).expect("objects serialize")))
    }

    /// Server-side apply of `object` by `werf` (forced: werf owns what it applies); `dry_run`
    /// asks for the result without changing anything.
    pub async fn apply(
        &self,
        ar: &ApiResource,
        namespace: Option<&str>,
        name: &str,
        object: &Value,
        dry_run: bool,
    ) -> std::result::Result<Value, kube::Error> {
        let mut pp = PatchParams::apply(FIELD_MANAGER).force();
        if dry_run {
            pp = pp.dry_run();
        }
        // A server-side apply is idempotent: tried again like a read.
        let api = self.api(ar, namespace);
        let patch = Patch::Apply(object);
        let o = self
            .retrying("apply", transient, || api.patch(name, &pp, &patch))
            .await?;
        Ok(serde_json::to_value(o).expect("objects serialize"))
    }

    /// Deletes an object (foreground: its dependants go first); a missing one is not an error.
    pub async fn delete(
        &self,
        ar: &ApiResource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<()> {
        // A delete is idempotent (a missing object is done): tried again like a read.
        let api = self.api(ar, namespace);
        let dp = DeleteParams::foreground();
        match self
            .retrying("delete", transient, || api.delete(name, &dp))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(source) => Err(Error::Api {
                verb: "delete",
                what: format!("`{}/{name}`", ar.kind),
                source,
            }),
        }
    }

    /// Creates a typed object; `Ok(false)` when it already exists.
    pub async fn create<K>(
        &self,
        api: &Api<K>,
        object: &K,
    ) -> std::result::Result<bool, kube::Error>
    where
        K: Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
    {
        let pp = kube::api::PostParams::default();
        match self
            .retrying("create", not_acted_on, || api.create(&pp, object))
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The last `lines` lines of a pod's container log (empty when there is none).
    pub async fn logs(&self, namespace: &str, pod: &str, container: &str, lines: i64) -> String {
        self.count();
        let api: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(self.client.clone(), namespace);
        let lp = LogParams {
            container: Some(container.to_string()),
            tail_lines: Some(lines),
            ..Default::default()
        };
        api.logs(pod, &lp).await.unwrap_or_default()
    }

    /// Events about an object, oldest first, as `reason: message` lines.
    pub async fn events(&self, namespace: &str, name: &str) -> Vec<String> {
        self.count();
        let api: Api<k8s_openapi::api::core::v1::Event> =
            Api::namespaced(self.client.clone(), namespace);
        let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
        let mut events = api.list(&lp).await.map(|l| l.items).unwrap_or_default();
        events.sort_by_key(|e| e.last_timestamp.clone().map(|t| t.0));
        events
            .into_iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.reason.unwrap_or_default(),
                    e.message.unwrap_or_default()
                )
            })
            .collect()
    }
}

/// Helm's `lookup` against the API server: an object by name, or a list (name empty), as JSON; an
/// object or a kind the server does not have is nothing (Helm's empty map).
pub struct ClusterLookup {
    client: kube::Client,
    requests: std::sync::Arc<AtomicU64>,
    handle: tokio::runtime::Handle,
}

/// A `lookup` the API server refused or could not answer.
#[derive(Debug, thiserror::Error)]
#[error("lookup of {kind} `{name}`: {}", describe(cause))]
pub struct LookupFailed {
    kind: String,
    name: String,
    cause: kube::Error,
}

impl werf_graph::chart::Lookup for ClusterLookup {
    fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> std::result::Result<Option<serde_json::Value>, werf_graph::chart::LookupError> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        // Templates render synchronously inside the async converge: wait here without stalling
        // the runtime's other workers.
        tokio::task::block_in_place(|| {
            self.handle.block_on(async {
                self.requests.fetch_add(1, Ordering::Relaxed);
                let Ok((ar, caps)) = kube::discovery::pinned_kind(&self.client, &gvk).await else {
                    return Ok(None);
                };
                let api: Api<DynamicObject> =
                    if caps.scope == Scope::Namespaced && !namespace.is_empty() {
                        Api::namespaced_with(self.client.clone(), namespace, &ar)
                    } else {
                        Api::all_with(self.client.clone(), &ar)
                    };
                self.requests.fetch_add(1, Ordering::Relaxed);
                let found = if name.is_empty() {
                    api.list(&Default::default())
                        .await
                        .map(|l| Some(serde_json::to_value(l).unwrap_or_default()))
                } else {
                    api.get_opt(name)
                        .await
                        .map(|o| o.map(|o| serde_json::to_value(o).unwrap_or_default()))
                };
                found.map_err(|cause| {
                    Box::new(LookupFailed {
                        kind: kind.to_string(),
                        name: name.to_string(),
                        cause,
                    }) as werf_graph::chart::LookupError
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_paths_are_kubectls() {
        let home = Some(PathBuf::from("/home/u"));
        assert_eq!(
            paths_of(Some(Path::new("/x")), Some("/a:/b".into()), home.clone()),
            [PathBuf::from("/x")]
        );
        assert_eq!(
            paths_of(None, Some("/a::/b".into()), home.clone()),
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(
            paths_of(None, Some("".into()), home.clone()),
            [PathBuf::from("/home/u/.kube/config")]
        );
    }

    #[test]
    fn kubeconfig_files_merge_as_kubectl_merges_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        let missing = dir.path().join("missing");
        std::fs::write(
            &first,
            "apiVersion: v1\nkind: Config\ncurrent-context: b\ncontexts:\n- name: a\n  context: {cluster: one, user: u, namespace: from-first}\n",
        )
        .expect("write");
        std::fs::write(
            &second,
            "apiVersion: v1\nkind: Config\ncurrent-context: a\ncontexts:\n- name: a\n  context: {cluster: two, user: u, namespace: from-second}\n- name: b\n  context: {cluster: two, user: u}\nclusters:\n- name: two\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user: {token: s3cr3t-token}\n",
        )
        .expect("write");
        let (merged, secrets) =
            load(&[first.clone(), missing.clone(), second.clone()]).expect("merged");
        assert_eq!(
            merged.current_context.as_deref(),
            Some("b"),
            "the first file wins"
        );
        let names: Vec<(&str, Option<&str>)> = merged
            .contexts
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.context.as_ref().and_then(|x| x.namespace.as_deref()),
                )
            })
            .collect();
        assert_eq!(names, [("a", Some("from-first")), ("b", None)]);
        assert_eq!(merged.clusters.len(), 1);
        assert_eq!(
            secrets.scrub("token s3cr3t-token"),
            format!("token {}", werf_base::redact::MASK)
        );
        // Only missing files: an error naming them all.
        let e = load(&[missing.clone(), dir.path().join("also-missing")]).expect_err("none");
        assert!(e.to_string().contains("none of these files exists"), "{e}");
        // One file, missing: the read error itself.
        assert!(load(&[missing]).is_err());
    }

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("boom", "Reason")
                .with_code(code)
                .boxed(),
        )
    }

    fn service(cause: std::io::Error) -> kube::Error {
        #[derive(Debug, thiserror::Error)]
        #[error("client error (Connect)")]
        struct Outer(#[source] std::io::Error);
        kube::Error::Service(Box::new(Outer(cause)))
    }

    #[test]
    fn what_is_tried_again_and_what_is_not() {
        assert!(transient(&api(500)));
        assert!(transient(&api(503)));
        assert!(transient(&api(429)));
        assert!(!transient(&api(409)));
        assert!(!transient(&api(422)));
        // A dropped or refused connection may pass; a name that does not resolve will not.
        assert!(transient(&service(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)"
        ))));
        let dns = service(std::io::Error::other(
            "dns error: failed to lookup address information: Name or service not known",
        ));
        assert!(permanent(&dns));
        assert!(!transient(&dns));
        // A create is tried again only when the server did not act on it.
        assert!(not_acted_on(&api(429)));
        assert!(!not_acted_on(&api(500)));
        assert!(!not_acted_on(&service(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset"
        ))));
    }
}
