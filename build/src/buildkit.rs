//! The BuildKit backend: images with `RUN` are solved by one or many BuildKit daemons (a
//! fleet), each image on the least loaded daemon still there, again on another when its daemon
//! is lost mid-build. Tags stay ours: the daemon executes, the tag is the engine's digest.
//!
//! The context is exactly the files the digest covers, sent as a content-addressed image (one
//! reproducible layer, pushed to the repository by digest, untagged): every daemon pulls it
//! from the registry like a base image, so no file-sync session is needed, and a fleet shares
//! it. A client session serves secrets and registry credentials only.
//! dockerd's BuildKit exports into dockerd's image store, which then pushes the tag; a
//! buildkitd pushes it itself.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use werf_buildkit::address::Address;
use werf_buildkit::connect::{Connected, Tls};
use werf_buildkit::solve::{Exporter, Request};
use werf_graph::objects::EntryKind;
use werf_graph::plan::ImagePlan;
use werf_graph::ObjectSource;

use super::layer::{build_layer_owned, Content, Node, Tree};
use super::oci::{self, ImageConfig, Manifest};
use crate::registry::Registry;

/// Errors of the BuildKit backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Address(#[from] werf_buildkit::address::Error),
    #[error("no BuildKit daemon could be reached:\n  {}", .0.join("\n  "))]
    NoDaemon(Vec<String>),
    #[error("every BuildKit daemon was lost (the last: `{0}`)")]
    AllLost(String),
    #[error("on `{daemon}`: {source}")]
    Solve {
        daemon: String,
        #[source]
        source: werf_buildkit::solve::Error,
    },
    #[error("the build context: {0}")]
    Context(String),
    #[error(transparent)]
    Registry(#[from] crate::registry::Error),
    #[error("dockerd at `{socket}` pushing `{image}`: {message}")]
    Push {
        socket: String,
        image: String,
        message: String,
    },
    #[error("dockerd at `{socket}` pushing `{image}`")]
    PushLost {
        socket: String,
        image: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`mount[].fromPath` ({0}) needs `--backend buildah`: a BuildKit daemon cannot mount a folder of this machine")]
    HostMounts(String),
    #[error(transparent)]
    Secret(#[from] super::secrets::Error),
    #[error(transparent)]
    Session(#[from] werf_buildkit::session::Error),
    #[error("async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

struct Daemon {
    address: Address,
    connected: Connected,
}

#[derive(Default)]
struct Load {
    running: usize,
    lost: bool,
}

/// The daemons builds are spread over.
pub struct Fleet {
    daemons: Vec<Daemon>,
    /// Builds at once per daemon (`--parallel`).
    per_daemon: usize,
    load: Mutex<Vec<Load>>,
    wake: Condvar,
}

/// What a daemon's build reads.
pub struct Inputs<'a> {
    pub plan: &'a ImagePlan,
    pub objects: &'a dyn ObjectSource,
    pub registry: &'a Registry,
    pub repo: &'a str,
    pub project: &'a str,
    pub build_args: Vec<(String, String)>,
    pub platform: &'a str,
    /// The project folder (`secrets[].src` is relative to it).
    pub project_dir: &'a Path,
}

/// A finished build: the manifest digest and the daemon that made it.
pub struct Built {
    pub manifest_digest: String,
    pub daemon: String,
}

impl Fleet {
    /// Reaches every daemon of `addresses`; those that do not answer are reported through
    /// `warn` and left out, and none answering is an error.
    pub fn connect(
        addresses: &[String],
        tls: Option<&Tls>,
        keepalive: std::time::Duration,
        per_daemon: usize,
        warn: &dyn Fn(&str),
    ) -> Result<Fleet, Error> {
        let parsed: Vec<Address> = addresses
            .iter()
            .map(|a| Address::parse(a))
            .collect::<Result<_, _>>()?;
        let rt = werf_base::runtime::get().map_err(Error::Runtime)?;
        // All at once: a daemon that does not answer costs its timeout once, not per daemon.
        let answers = rt.block_on(futures::future::join_all(
            parsed
                .iter()
                .map(|a| werf_buildkit::connect::connect(a, tls, keepalive)),
        ));
        let mut daemons = Vec::new();
        let mut failures = Vec::new();
        for (address, answer) in parsed.into_iter().zip(answers) {
            match answer {
                Ok(connected) => daemons.push(Daemon { address, connected }),
                Err(e) => {
                    let message = werf_base::errors::chain(&e);
                    warn(&format!("BuildKit daemon left out: {message}"));
                    failures.push(message);
                }
            }
        }
        if daemons.is_empty() {
            return Err(Error::NoDaemon(failures));
        }
        let load = daemons.iter().map(|_| Load::default()).collect();
        Ok(Fleet {
            daemons,
            per_daemon: per_daemon.max(1),
            load: Mutex::new(load),
            wake: Condvar::new(),
        })
    }

    /// How many builds the fleet runs at once.
    pub fn capacity(&self) -> usize {
        self.daemons.len() * self.per_daemon
    }

    /// The least loaded daemon still there with room, waiting for room; `None` when all are
    /// lost.
    fn acquire(&self) -> Option<usize> {
        let mut load = self.load.lock().expect("fleet lock poisoned");
        loop {
            if load.iter().all(|l| l.lost) {
                return None;
            }
            if let Some(i) = pick(&load, self.per_daemon) {
                load[i].running += 1;
                return Some(i);
            }
            load = self.wake.wait(load).expect("fleet lock poisoned");
        }
    }

    fn release(&self, i: usize, lost: bool) {
        let mut load = self.load.lock().expect("fleet lock poisoned");
        load[i].running -= 1;
        load[i].lost |= lost;
        self.wake.notify_all();
    }

    /// Builds `inputs.plan` on the fleet and pushes it as `repo:tag`. A daemon lost mid-build
    /// is left out from then on and the image is built again on another (`retry` hears of it);
    /// `step` hears each step a daemon starts.
    pub fn build_and_push(
        &self,
        inputs: &Inputs<'_>,
        retry: &dyn Fn(&str),
        step: &(dyn Fn(&str) + Sync),
    ) -> Result<Built, Error> {
        let plan = inputs.plan;
        if !plan.host_mounts.is_empty() {
            let froms: Vec<&str> = plan.host_mounts.iter().map(|(f, _)| f.as_str()).collect();
            return Err(Error::HostMounts(froms.join(", ")));
        }
        let secrets = read_secrets(inputs)?;
        let context = push_context(inputs)?;
        let request = request(inputs, &context)?;
        let rt = werf_base::runtime::get().map_err(Error::Runtime)?;
        let mut last_lost = String::new();
        loop {
            let Some(i) = self.acquire() else {
                return Err(Error::AllLost(last_lost));
            };
            let daemon = &self.daemons[i];
            let shown = daemon.address.to_string();
            let mut request = request.clone();
            let name = format!("{}:{}", inputs.repo, plan.tag);
            request.exporter = match &daemon.connected.docker {
                Some(_) => Exporter::Moby { name: name.clone() },
                None => Exporter::Push {
                    name: name.clone(),
                    insecure: inputs
                        .registry
                        .insecure_hosts()
                        .iter()
                        .any(|h| inputs.repo.starts_with(h.as_str())),
                },
            };
            let solved = rt.block_on(async {
                // Secrets and registry credentials go through a client session the daemon
                // calls back during the solve.
                let id = werf_buildkit::solve::unique_id();
                let _session = werf_buildkit::session::open_control(
                    daemon.connected.channel.clone(),
                    &id,
                    werf_buildkit::session::Services {
                        secrets: secrets.clone(),
                        credentials: std::sync::Arc::new(registry_credentials),
                    },
                )
                .await?;
                request.session = Some(id);
                Ok(
                    werf_buildkit::solve::solve(daemon.connected.channel.clone(), request, step)
                        .await,
                )
            });
            let outcome = match solved {
                Err(e) => Err(e),
                Ok(Ok(solved)) => match &daemon.connected.docker {
                    Some(socket) => docker_push(socket, inputs.repo, &plan.tag).map_err(|e| {
                        let (socket, image) = (socket.display().to_string(), name.clone());
                        match e {
                            PushError::Lost(source) => Error::PushLost {
                                socket,
                                image,
                                source,
                            },
                            PushError::Refused(message) => Error::Push {
                                socket,
                                image,
                                message,
                            },
                        }
                    }),
                    None => solved
                        .exporter_response
                        .get("containerimage.digest")
                        .cloned()
                        .ok_or_else(|| Error::Push {
                            socket: shown.clone(),
                            image: name.clone(),
                            message: "the daemon named no pushed digest".into(),
                        }),
                },
                Ok(Err(e)) => Err(Error::Solve {
                    daemon: shown.clone(),
                    source: e,
                }),
            };
            let lost = match &outcome {
                Err(Error::Solve { source, .. }) => source.is_lost(),
                Err(Error::Session(e)) => e.is_lost(),
                Err(Error::PushLost { .. }) => true,
                _ => false,
            };
            self.release(i, lost);
            if lost {
                retry(&shown);
                last_lost = shown;
                continue;
            }
            return outcome.map(|manifest_digest| Built {
                manifest_digest,
                daemon: shown,
            });
        }
    }
}

/// The least loaded daemon still there with fewer than `per_daemon` builds (the first of equals).
fn pick(load: &[Load], per_daemon: usize) -> Option<usize> {
    load.iter()
        .enumerate()
        .filter(|(_, l)| !l.lost && l.running < per_daemon)
        .min_by_key(|(i, l)| (l.running, *i))
        .map(|(i, _)| i)
}

/// The solve request for `plan` over the context image `context` (exporter set per daemon).
fn request(inputs: &Inputs<'_>, context: &str) -> Result<Request, Error> {
    let plan = inputs.plan;
    let mut attrs = BTreeMap::new();
    for (k, v) in &inputs.build_args {
        attrs.insert(format!("build-arg:{k}"), v.clone());
    }
    if let Some(t) = &plan.dockerfile.stages[plan.target].name {
        attrs.insert("target".into(), t.clone());
    }
    for (k, v) in labels(inputs) {
        attrs.insert(format!("label:{k}"), v);
    }
    attrs.insert("platform".into(), inputs.platform.to_string());
    // As with buildah, `RUN` shares the host's network unless werf.yaml says otherwise.
    let network = plan.network.clone().unwrap_or_else(|| "host".into());
    let mut entitlements = Vec::new();
    if network == "host" {
        entitlements.push("network.host".to_string());
    }
    attrs.insert("force-network-mode".into(), network);
    if !plan.add_host.is_empty() {
        // werf.yaml spells `host:ip`, BuildKit's frontend `host=ip`.
        let hosts: Vec<String> = plan
            .add_host
            .iter()
            .map(|h| h.replacen(':', "=", 1))
            .collect();
        attrs.insert("add-hosts".into(), hosts.join(","));
    }
    let dockerfile = inputs
        .objects
        .blob(plan.sources.dockerfile_blob)
        .map_err(|e| Error::Context(e.to_string()))?
        .to_vec();
    Ok(Request {
        dockerfile,
        context: context.to_string(),
        frontend_attrs: attrs,
        // Set per daemon.
        exporter: Exporter::Moby {
            name: String::new(),
        },
        entitlements,
        session: None,
    })
}

/// The values of the image's `secrets` by id, as the session serves them.
fn read_secrets(
    inputs: &Inputs<'_>,
) -> Result<std::collections::HashMap<String, werf_buildkit::session::Secret>, Error> {
    Ok(
        super::secrets::read(&inputs.plan.secrets, inputs.project_dir)?
            .into_iter()
            .map(|(id, s)| (id, werf_buildkit::session::Secret(s.0)))
            .collect(),
    )
}

/// The labels every image of ours carries (as the native builder and buildah write them).
fn labels(inputs: &Inputs<'_>) -> [(String, String); 3] {
    [
        ("werf".into(), inputs.project.to_string()),
        ("werf.io/image".into(), inputs.plan.name.clone()),
        ("werf.io/stage-digest".into(), inputs.plan.digest.hex()),
    ]
}

/// The context files (Git files after `.dockerignore`, plus `contextAddFiles`) as a tree.
fn context_tree(inputs: &Inputs<'_>) -> Result<Tree, Error> {
    let ctx = inputs.plan.context(inputs.objects);
    let err = |e: String| Error::Context(e);
    let mut tree = Tree::new();
    for f in ctx.source_files(".").map_err(|e| err(e.to_string()))? {
        let node = match f.kind {
            // A submodule: an empty folder, as `git archive` writes it.
            EntryKind::Commit => Node::Dir { mode: 0o755 },
            EntryKind::Symlink => {
                let data = inputs.objects.blob(f.id).map_err(|e| err(e.to_string()))?;
                Node::Symlink {
                    target: String::from_utf8_lossy(&data).into_owned(),
                }
            }
            EntryKind::Tree => continue,
            kind => Node::File {
                mode: super::native::mode_of(kind),
                data: Content::Blob {
                    id: f.id,
                    size: inputs
                        .objects
                        .blob_size(f.id)
                        .map_err(|e| err(e.to_string()))?,
                },
            },
        };
        tree.insert(f.path, node);
    }
    Ok(tree)
}

/// Pushes the context as an untagged image (one reproducible layer) and returns
/// `repo@sha256:...`. The same files are the same digest, so a context already there is not
/// uploaded again.
fn push_context(inputs: &Inputs<'_>) -> Result<String, Error> {
    let tree = context_tree(inputs)?;
    let layer = build_layer_owned(&tree, inputs.objects, None)
        .map_err(|e| Error::Context(e.to_string()))?;
    let mut config = ImageConfig::scratch(inputs.platform);
    config.rootfs.diff_ids.push(layer.diff_id.clone());
    let config_bytes = serde_json::to_vec(&config).expect("configs serialize");
    let manifest = Manifest::of(&config_bytes, vec![layer.descriptor()]);
    let manifest_bytes = serde_json::to_vec(&manifest).expect("manifests serialize");
    let digest = oci::sha256(&manifest_bytes);
    let (registry, repo) = (inputs.registry, inputs.repo);
    if !registry.blob_exists(repo, &layer.digest)? {
        let (file, size) = layer.file();
        registry.push_blob_file(repo, &layer.digest, file, size)?;
    }
    if !registry.blob_exists(repo, &manifest.config.digest)? {
        registry.push_blob(repo, &manifest.config.digest, config_bytes)?;
    }
    registry.push_manifest(repo, &digest, manifest_bytes, oci::MANIFEST)?;
    Ok(format!("{repo}@{digest}"))
}

/// How long dockerd may say nothing while it answers (a push streams its progress): longer is
/// a stalled daemon.
const DOCKER_QUIET: std::time::Duration = std::time::Duration::from_secs(120);

/// One HTTP/1.1 request to dockerd's API socket; returns the status code and the body.
fn docker_api(socket: &Path, request: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    s.set_read_timeout(Some(DOCKER_QUIET))?;
    s.set_write_timeout(Some(DOCKER_QUIET))?;
    s.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no HTTP answer"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw[split + 4..].to_vec();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Ok((status, if chunked { dechunk(&body) } else { body }))
}

/// The bytes of a chunked HTTP body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        let end = (start + size).min(body.len());
        out.extend_from_slice(&body[start..end]);
        body = body.get(end + 2..).unwrap_or_default();
    }
    out
}

/// What a push's JSON progress stream says: the pushed manifest digest, or the error.
fn push_outcome(body: &[u8]) -> Result<String, PushError> {
    let mut digest = None;
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
            return Err(PushError::Refused(e.to_string()));
        }
        if let Some(d) = v.pointer("/aux/Digest").and_then(|d| d.as_str()) {
            digest = Some(d.to_string());
        }
    }
    digest.ok_or_else(|| PushError::Refused("dockerd named no pushed digest".to_string()))
}

/// A registry's credentials from the Docker config werf-rs reads, for the daemon's pulls and
/// pushes (asked through the session).
fn registry_credentials(host: &str) -> Option<(String, String)> {
    match crate::registry::credentials(host) {
        Ok(oci_client::secrets::RegistryAuth::Basic(user, password)) => Some((user, password)),
        Ok(oci_client::secrets::RegistryAuth::Bearer(token)) => Some((String::new(), token)),
        _ => None,
    }
}

/// `X-Registry-Auth` for `repo`'s registry, from the Docker config werf-rs reads.
fn registry_auth(repo: &str) -> String {
    use base64::Engine as _;
    let host = crate::registry::host_of(repo);
    let json = match crate::registry::credentials(host) {
        Ok(oci_client::secrets::RegistryAuth::Basic(user, password)) => {
            serde_json::json!({"username": user, "password": password, "serveraddress": host})
        }
        Ok(oci_client::secrets::RegistryAuth::Bearer(token)) => {
            serde_json::json!({"registrytoken": token, "serveraddress": host})
        }
        _ => serde_json::json!({}),
    };
    base64::engine::general_purpose::URL_SAFE.encode(json.to_string())
}

/// Why dockerd did not push.
#[derive(Debug)]
enum PushError {
    /// It could not be reached or went away: the image is built again elsewhere.
    Lost(std::io::Error),
    /// It answered with an error.
    Refused(String),
}

/// dockerd pushes the image it holds as `repo:tag`, then forgets the tag (its build cache
/// keeps the layers); returns the manifest digest.
fn docker_push(socket: &Path, repo: &str, tag: &str) -> Result<String, PushError> {
    let name = encode(repo);
    let push = format!(
        "POST /v1.41/images/{name}/push?tag={tag} HTTP/1.1\r\nHost: docker\r\nX-Registry-Auth: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        registry_auth(repo)
    );
    let (status, body) = docker_api(socket, &push).map_err(PushError::Lost)?;
    if status != 200 {
        return Err(PushError::Refused(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body).trim()
        )));
    }
    let digest = push_outcome(&body)?;
    let forget = format!(
        "DELETE /v1.41/images/{name}:{tag} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
    );
    let _ = docker_api(socket, &forget);
    Ok(digest)
}

/// A reference as a path segment of dockerd's API (`/` stays, as the API expects).
fn encode(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '/' | '.' | '-' | '_' | ':' => c.to_string(),
            c => format!("%{:02X}", c as u32),
        })
        .collect()
}

/// The daemons named for `--buildkit-addr`, or dockerd's default socket when none are.
pub fn addresses(given: &[String]) -> Vec<String> {
    if given.is_empty() {
        vec!["docker://".to_string()]
    } else {
        given.to_vec()
    }
}

/// `--buildkit-tls-*` as connection settings (none without a CA).
pub fn tls(
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    server_name: Option<String>,
) -> Option<Tls> {
    ca.map(|ca| Tls {
        ca,
        cert,
        key,
        server_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_push_stream_gives_its_digest_or_its_error() {
        let chunk = |data: &str| format!("{:x}\r\n{data}\r\n", data.len());
        let body = format!(
            "{}{}0\r\n\r\n",
            chunk("{\"status\":\"Pushed\",\"id\":\"a\"}\n"),
            chunk("{\"progressDetail\":{},\"aux\":{\"Tag\":\"1\",\"Digest\":\"sha256:ab\",\"Size\":9}}\n")
        );
        let body = body.as_bytes();
        let plain = dechunk(body);
        assert!(
            plain.starts_with(b"{\"status\""),
            "{:?}",
            String::from_utf8_lossy(&plain)
        );
        assert_eq!(push_outcome(&plain).unwrap(), "sha256:ab");
        let failed = b"{\"status\":\"Preparing\"}\n{\"errorDetail\":{\"message\":\"denied\"},\"error\":\"denied: no\"}\n";
        assert!(
            matches!(push_outcome(failed), Err(PushError::Refused(m)) if m == "denied: no"),
            "the daemon's error is its refusal"
        );
        assert!(
            matches!(push_outcome(b"{}\n"), Err(PushError::Refused(m)) if m == "dockerd named no pushed digest"),
            "a stream without a digest is refused"
        );
    }

    #[test]
    fn references_keep_their_separators_in_api_paths() {
        assert_eq!(encode("127.0.0.1:5000/app/x"), "127.0.0.1:5000/app/x");
        assert_eq!(encode("a b"), "a%20b");
    }

    #[test]
    fn the_least_loaded_daemon_still_there_is_picked() {
        let l = |running, lost| Load { running, lost };
        assert_eq!(pick(&[l(0, false), l(0, false)], 2), Some(0));
        assert_eq!(pick(&[l(1, false), l(0, false)], 2), Some(1));
        assert_eq!(pick(&[l(0, true), l(1, false)], 2), Some(1));
        assert_eq!(pick(&[l(2, false), l(2, false)], 2), None, "all full");
        assert_eq!(pick(&[l(0, true), l(0, true)], 2), None, "all lost");
    }

    #[test]
    fn no_address_means_the_local_docker_daemon() {
        assert_eq!(addresses(&[]), vec!["docker://"]);
        assert_eq!(addresses(&["tcp://b:1".into()]), vec!["tcp://b:1"]);
    }
}
