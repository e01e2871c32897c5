//! The container registry through `oci-client`: credentials, existence checks, pushes, pulls;
//! what is read whole (manifests, tag lists) and deletes go through [`plain`] HTTP instead, so
//! that every answer read into memory has a bound.
//!
//! Existence follows DESIGN.md section 3: one paginated tag listing per repository per run, then a
//! manifest HEAD where confirmation is needed. Pushes go blobs first (HEAD, then cross-repository
//! mount or upload), then the manifest by tag, so a tag appears only for a complete image.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

mod capped;
mod plain;

/// Errors of registry access, naming the repository and the operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("registry `{registry}`: {operation} failed: {message}")]
    Request {
        registry: String,
        operation: String,
        message: String,
    },
    /// The registry refused a manifest naming a blob it does not have (after the retries): a
    /// blob lost to a race with another upload of it, which uploading it again mends.
    #[error("registry `{registry}`: {operation} failed: {message}")]
    ManifestBlobs {
        registry: String,
        operation: String,
        message: String,
    },
    #[error("`{0}` is not a valid image reference: {1}")]
    Reference(String, String),
    #[error("credentials for `{registry}`: {message}")]
    Credentials { registry: String, message: String },
}

/// Result with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Counts of what a run asked of the registry (for reports and the bench).
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub bytes_uploaded: AtomicU64,
    pub blobs_uploaded: AtomicU64,
    pub blobs_mounted: AtomicU64,
}

/// A client for the registries a run talks to.
pub struct Registry {
    client: Client,
    runtime: &'static tokio::runtime::Runtime,
    insecure: Vec<String>,
    timeouts: crate::net::Timeouts,
    /// The plain HTTP client for what is read whole and deletes ([`plain`]).
    http: std::sync::OnceLock<reqwest::Client>,
    /// Bearer tokens of the plain requests.
    tokens: plain::Tokens,
    pub stats: Stats,
}

/// The host part of `repo` (`127.0.0.1:5000/project` -> `127.0.0.1:5000`).
pub fn host_of(repo: &str) -> &str {
    repo.split('/').next().unwrap_or(repo)
}

fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    name == "localhost"
        || name == "127.0.0.1"
        || name == "::1"
        || name == "[::1]"
        || name.starts_with("127.")
}

impl Registry {
    /// A client; plain HTTP for loopback hosts and for hosts in `insecure`. A registry that stops
    /// answering fails a request after `timeouts.read` without data (retried, see [`retry`]).
    pub fn new(
        insecure: &[String],
        hosts: &[&str],
        timeouts: crate::net::Timeouts,
    ) -> Result<Self> {
        let mut plain: Vec<String> = insecure.to_vec();
        plain.extend(
            hosts
                .iter()
                .filter(|h| is_loopback(h))
                .map(|h| h.to_string()),
        );
        plain.sort();
        plain.dedup();
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(plain.clone()),
            connect_timeout: Some(timeouts.connect),
            read_timeout: Some(timeouts.read),
            ..Default::default()
        };
        let runtime = crate::runtime::get().map_err(|e| Error::Request {
            registry: String::new(),
            operation: "start the HTTP runtime".into(),
            message: e.to_string(),
        })?;
        Ok(Registry {
            client: Client::new(config),
            runtime,
            insecure: plain,
            timeouts,
            http: std::sync::OnceLock::new(),
            tokens: Default::default(),
            stats: Stats::default(),
        })
    }

    /// Hosts reached over plain HTTP.
    pub fn insecure_hosts(&self) -> &[String] {
        &self.insecure
    }

    fn count(&self) {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
    }

    fn reference(&self, name: &str) -> Result<Reference> {
        name.parse::<Reference>().map_err(|e| {
            Error::Reference(
                crate::redact::reference(name),
                crate::redact::reference(&e.to_string()),
            )
        })
    }

    fn err(
        reference: &Reference,
        operation: impl Into<String>,
        e: impl std::error::Error,
    ) -> Error {
        // The HTTP client's own message is often only "error sending request": the causes
        // below it say what happened (`operation timed out`, `connection refused`).
        Error::Request {
            registry: reference.resolve_registry().to_string(),
            operation: operation.into(),
            message: crate::redact::urls(&crate::errors::chain(&e)),
        }
    }

    /// Authenticates for `op` on `repo` with credentials from the Docker config (or anonymously).
    pub fn login(&self, repo: &str, op: RegistryOperation) -> Result<()> {
        let reference = self.reference(&format!("{repo}:latest"))?;
        let auth = credentials(host_of(repo))?;
        self.count();
        self.runtime
            .block_on(self.client.auth(&reference, &auth, op))
            .map(|_| ())
            .map_err(|e| Self::err(&reference, format!("authentication for `{repo}`"), e))?;
        Ok(())
    }

    /// Every tag of `repo`, following pagination (`n`/`last`). An unknown repository has none.
    /// Each page is read within the body limit; the listing stops with an error past
    /// `WERF_MAX_TAG_PAGES` pages or `WERF_MAX_TAGS` tags.
    pub fn list_tags(&self, repo: &str) -> Result<BTreeSet<String>> {
        const PAGE: usize = 1000;
        let target = self.target(&format!("{repo}:latest"))?;
        let operation = format!("listing the tags of `{repo}`");
        let fail = |message: String| target.error(&operation, message);
        let mut tags = BTreeSet::new();
        let mut last: Option<String> = None;
        let (max_pages, max_tags) = (crate::net::max_tag_pages(), crate::net::max_tags());
        let mut pages = 0u64;
        loop {
            pages += 1;
            if pages > max_pages {
                return Err(fail(format!(
                    "the registry kept sending pages: stopped after {max_pages} (WERF_MAX_TAG_PAGES)"
                )));
            }
            let path = match &last {
                None => format!("tags/list?n={PAGE}"),
                Some(l) => format!("tags/list?n={PAGE}&last={}", query_escape(l)),
            };
            let answer = self
                .ask(
                    &target,
                    reqwest::Method::GET,
                    &path,
                    "pull",
                    &["application/json"],
                )
                .map_err(fail)?;
            match answer.status.as_u16() {
                200..=299 => {}
                404 => break,
                _ => return Err(fail(answered(&answer))),
            }
            #[derive(serde::Deserialize)]
            struct Page {
                tags: Option<Vec<String>>,
            }
            let page: Page = serde_json::from_slice(&answer.body)
                .map_err(|e| fail(format!("the tag list is not JSON: {e}")))?;
            let page = page.tags.unwrap_or_default();
            let n = page.len();
            let before = tags.len();
            last = page.last().cloned();
            tags.extend(page);
            if tags.len() as u64 > max_tags {
                return Err(fail(format!(
                    "the repository has more than {max_tags} tags (WERF_MAX_TAGS)"
                )));
            }
            // A short page is the last one. A page longer than asked for comes from a registry
            // that does not paginate (distribution 2.8 ignores `n` and `last`): it is everything.
            // A page with nothing new also ends the listing (`last` ignored, same page again).
            if n != PAGE || tags.len() == before {
                break;
            }
        }
        Ok(tags)
    }

    /// `method` on the manifest the target names, in any of the media types werf reads.
    fn ask_manifest(
        &self,
        target: &plain::Target,
        method: reqwest::Method,
    ) -> std::result::Result<plain::Answer, String> {
        let path = format!("manifests/{}", target.wanted);
        self.ask(target, method, &path, "pull", &MANIFEST_TYPES)
    }

    /// The manifest digest of `image` (`repo:tag`), or `None` when it does not exist.
    pub fn manifest_digest(&self, image: &str) -> Result<Option<String>> {
        let target = self.target(image)?;
        let operation = format!("checking `{image}`");
        let fail = |message: String| target.error(&operation, message);
        let answer = self
            .ask_manifest(&target, reqwest::Method::HEAD)
            .map_err(fail)?;
        match answer.status.as_u16() {
            404 => Ok(None),
            200..=299 => match answer.digest {
                Some(d) => Ok(Some(d)),
                // A registry that does not name the digest: it is the content's.
                None => self.pull_manifest(image).map(|(_, d)| Some(d)),
            },
            _ => Err(fail(answered(&answer))),
        }
    }

    /// The raw manifest of `image` and its digest, read within the body limit; a manifest
    /// asked for by digest must have that digest.
    pub fn pull_manifest(&self, image: &str) -> Result<(Vec<u8>, String)> {
        use sha2::Digest as _;
        let target = self.target(image)?;
        let operation = format!("pulling the manifest of `{image}`");
        let fail = |message: String| target.error(&operation, message);
        let answer = self
            .ask_manifest(&target, reqwest::Method::GET)
            .map_err(fail)?;
        if !answer.status.is_success() {
            return Err(fail(answered(&answer)));
        }
        let digest = format!("sha256:{:x}", sha2::Sha256::digest(&answer.body));
        if let Some(asked) = &target.digest {
            if *asked != digest {
                return Err(fail(format!(
                    "the registry sent a manifest whose digest is `{digest}`"
                )));
            }
        }
        Ok((answer.body, digest))
    }

    /// The content of a blob of `repo`.
    pub fn pull_blob(
        &self,
        repo: &str,
        digest: &str,
        media_type: &str,
        size: i64,
    ) -> Result<Vec<u8>> {
        let reference = self.reference(&format!("{repo}@{digest}"))?;
        let descriptor = OciDescriptor {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            size,
            ..Default::default()
        };
        let limit = blob_limit(size);
        let mut out = Vec::new();
        retry(|| {
            out.clear();
            self.count();
            let mut capped = capped::Capped::new(&mut out, limit);
            self.runtime
                .block_on(self.client.pull_blob(&reference, &descriptor, &mut capped))
        })
        .map_err(|e| {
            Self::err(
                &reference,
                format!("pulling blob `{digest}` of `{repo}`"),
                e,
            )
        })?;
        Ok(out)
    }

    /// The content of a blob of `repo`, written to an unnamed temp file (not held in memory) and
    /// returned rewound.
    pub fn pull_blob_to_file(
        &self,
        repo: &str,
        digest: &str,
        media_type: &str,
        size: i64,
    ) -> Result<std::fs::File> {
        use std::io::Seek;
        let reference = self.reference(&format!("{repo}@{digest}"))?;
        let descriptor = OciDescriptor {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            size,
            ..Default::default()
        };
        let limit = blob_limit(size);
        let io_err = |e: std::io::Error| {
            Self::err(
                &reference,
                format!("spooling blob `{digest}` of `{repo}`"),
                e,
            )
        };
        let mut file = tempfile::tempfile().map_err(io_err)?;
        retry(|| {
            file.set_len(0)?;
            file.rewind()?;
            // The spool file holds at most what the descriptor says (or the body limit).
            let mut out = capped::Capped::new(tokio::fs::File::from_std(file.try_clone()?), limit);
            self.count();
            self.runtime.block_on(async {
                self.client
                    .pull_blob(&reference, &descriptor, &mut out)
                    .await?;
                tokio::io::AsyncWriteExt::flush(&mut out.into_inner()).await?;
                Ok(())
            })
        })
        .map_err(|e| {
            Self::err(
                &reference,
                format!("pulling blob `{digest}` of `{repo}`"),
                e,
            )
        })?;
        file.rewind().map_err(io_err)?;
        Ok(file)
    }

    /// Uploads a blob of `size` bytes from `file` (streamed in chunks, never read whole); retried
    /// like [`Registry::push_blob`].
    pub fn push_blob_file(
        &self,
        repo: &str,
        digest: &str,
        file: std::sync::Arc<std::fs::File>,
        size: u64,
    ) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let read = move |pos: u64, len: usize| {
            let mut buf = vec![0u8; len];
            file.read_exact_at(&mut buf, pos)
                .map(|()| bytes::Bytes::from(buf))
        };
        self.push_blob_chunks(repo, digest, size, read)
    }

    /// Uploads a blob held in memory (the caller has checked that `repo` lacks it). Another
    /// process uploading the same blob at the same time makes the registry refuse one of the
    /// two uploads (`DIGEST_INVALID`, `BLOB_UNKNOWN`): then the blob is looked for again and the
    /// upload retried, so concurrent builds of one commit both succeed.
    pub fn push_blob(&self, repo: &str, digest: &str, data: Vec<u8>) -> Result<()> {
        let data = bytes::Bytes::from(data);
        let size = data.len() as u64;
        let read = move |pos: u64, len: usize| Ok(data.slice(pos as usize..pos as usize + len));
        self.push_blob_chunks(repo, digest, size, read)
    }

    /// Uploads `size` bytes that `read(pos, len)` gives, streamed in chunks of [`CHUNK`]; an
    /// upload whose body makes no progress for the read timeout (a registry that stopped
    /// taking data) fails, and is tried once more (see [`Registry::upload`]).
    fn push_blob_chunks(
        &self,
        repo: &str,
        digest: &str,
        size: u64,
        read: impl Fn(u64, usize) -> std::io::Result<bytes::Bytes> + Clone + Send + Sync + 'static,
    ) -> Result<()> {
        let reference = self.reference(&format!("{repo}:latest"))?;
        let stall = self.timeouts.read;
        self.upload(repo, digest, size, || {
            let progress = std::sync::Arc::new(Progress::new());
            let read = read.clone();
            let marks = progress.clone();
            let stream = futures::stream::unfold(0u64, move |pos| {
                let (read, marks) = (read.clone(), marks.clone());
                async move {
                    if pos >= size {
                        return None;
                    }
                    marks.mark();
                    let len = (size - pos).min(CHUNK) as usize;
                    match read(pos, len) {
                        Ok(chunk) => Some((Ok(chunk), pos + len as u64)),
                        Err(e) => Some((Err(OciDistributionError::IoError(e)), size)),
                    }
                }
            });
            self.runtime.block_on(watched(
                self.client
                    .push_blob_stream(&reference, stream, digest, Some(size)),
                &progress,
                stall,
            ))
        })
    }

    /// Whether `repo` has the blob.
    ///
    /// A blob whose upload another build committed at the same moment can be left answering
    /// 500 (distribution's repository link is half-written until an upload of it completes):
    /// such a blob counts as missing, so the caller uploads it, which repairs the link.
    pub fn blob_exists(&self, repo: &str, digest: &str) -> Result<bool> {
        let reference = self.reference(&format!("{repo}:latest"))?;
        let checked = retry_if(
            || {
                self.count();
                self.runtime
                    .block_on(self.client.blob_exists(&reference, digest))
            },
            |e| transient(e) && !server_error(e),
        );
        match checked {
            Ok(found) => Ok(found),
            Err(e) if server_error(&e) => {
                tracing::debug!("blob `{digest}` counts as missing after: {e}");
                Ok(false)
            }
            Err(e) => Err(Self::err(
                &reference,
                format!("checking blob `{digest}` in `{repo}`"),
                e,
            )),
        }
    }

    /// Mounts a blob from another repository of the same registry; `false` if the registry
    /// declined (then the caller uploads).
    pub fn mount_blob(&self, repo: &str, from_repo: &str, digest: &str) -> Result<bool> {
        let reference = self.reference(&format!("{repo}:latest"))?;
        let source = self.reference(&format!("{from_repo}:latest"))?;
        self.count();
        match self
            .runtime
            .block_on(self.client.mount_blob(&reference, &source, digest))
        {
            Ok(()) => {
                self.stats.blobs_mounted.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    }

    /// Runs one upload of `size` bytes (counted each try) until it succeeds: again after a pause
    /// when it failed for a reason that may pass or because another upload of the same blob
    /// raced it, unless the blob turns out to be there by then.
    fn upload(
        &self,
        repo: &str,
        digest: &str,
        size: u64,
        mut put: impl FnMut() -> std::result::Result<String, OciDistributionError>,
    ) -> Result<()> {
        let reference = self.reference(&format!("{repo}:latest"))?;
        let mut attempt = 0;
        let mut stalls = 0;
        loop {
            attempt += 1;
            self.count();
            match put() {
                Ok(_) => break,
                // A registry that stopped taking data is given one more chance, not five: a
                // build against it ends in about two read timeouts.
                Err(e) if is_stall(&e) && stalls == 0 => {
                    stalls += 1;
                    tracing::debug!("uploading `{digest}` again after: {e}");
                }
                Err(e)
                    if attempt < ATTEMPTS && !is_stall(&e) && (transient(&e) || blob_race(&e)) =>
                {
                    tracing::debug!("uploading `{digest}` again after: {e}");
                    std::thread::sleep(backoff(attempt));
                    if blob_race(&e) && self.blob_exists(repo, digest)? {
                        // The other upload finished it.
                        return Ok(());
                    }
                }
                Err(e) => {
                    return Err(Self::err(
                        &reference,
                        format!("uploading blob `{digest}` to `{repo}`"),
                        e,
                    ))
                }
            }
        }
        self.stats.bytes_uploaded.fetch_add(size, Ordering::Relaxed);
        self.stats.blobs_uploaded.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Puts a manifest under `repo:tag` (byte-exact, so the digest is ours).
    pub fn push_manifest(
        &self,
        repo: &str,
        tag: &str,
        body: Vec<u8>,
        media_type: &str,
    ) -> Result<()> {
        // A `sha256:` "tag" pushes the manifest by digest, untagged.
        let name = if tag.starts_with("sha256:") {
            format!("{repo}@{tag}")
        } else {
            format!("{repo}:{tag}")
        };
        let reference = self.reference(&name)?;
        // A PUT of the same bytes is idempotent; `MANIFEST_BLOB_UNKNOWN` right after a concurrent
        // upload of a blob settles is retried too.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let content_type = media_type
                .parse()
                .map_err(|e| Self::err(&reference, "manifest content type", e))?;
            self.count();
            let put = self.runtime.block_on(self.client.push_manifest_raw(
                &reference,
                body.clone(),
                content_type,
            ));
            match put {
                Err(e) if attempt < ATTEMPTS && (transient(&e) || blob_race(&e)) => {
                    tracing::debug!("pushing the manifest of `{name}` again after: {e}");
                    std::thread::sleep(backoff(attempt));
                }
                other => break other,
            }
        }
        .map(|_| ())
        .map_err(|e| {
            let operation = format!("pushing the manifest of `{name}`");
            match Self::err(&reference, operation, &e) {
                Error::Request {
                    registry,
                    operation,
                    message,
                } if blob_race(&e) => Error::ManifestBlobs {
                    registry,
                    operation,
                    message,
                },
                other => other,
            }
        })
    }
}

/// What a manifest delete found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    /// The registry removed it (and every tag naming it).
    Deleted,
    /// It was not there (deleted meanwhile by another run).
    Gone,
}

impl Registry {
    /// `DELETE /v2/NAME/manifests/DIGEST` (Docker Registry API). Answers a Basic or Bearer
    /// challenge with the Docker config's credentials (a Bearer token is asked for with the
    /// `delete` action). A registry that does not allow deletes is a clear error.
    pub fn delete_manifest(&self, repo: &str, digest: &str) -> Result<Deleted> {
        let target = self.target(&format!("{repo}@{digest}"))?;
        let operation = format!("deleting `{repo}@{digest}`");
        let fail = |message: String| target.error(&operation, message);
        let path = format!("manifests/{digest}");
        let answer = self
            .ask(&target, reqwest::Method::DELETE, &path, "delete", &[])
            .map_err(fail)?;
        match answer.status.as_u16() {
            200..=299 => Ok(Deleted::Deleted),
            404 => Ok(Deleted::Gone),
            405 => Err(fail(
                "the registry does not allow deletes (405; for CNCF distribution set `storage.delete.enabled: true`)".into(),
            )),
            _ => Err(fail(answered(&answer))),
        }
    }
}

/// The manifest media types asked for.
const MANIFEST_TYPES: [&str; 4] = [
    oci_client::manifest::OCI_IMAGE_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_MEDIA_TYPE,
    oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_LIST_MEDIA_TYPE,
];

/// An unexpected answer in one line: its status and the start of its body.
fn answered(answer: &plain::Answer) -> String {
    let body = String::from_utf8_lossy(&answer.body);
    let body: String = body.trim().chars().take(300).collect();
    if answer.status == reqwest::StatusCode::UNAUTHORIZED {
        return format!(
            "Not authorized (401): {body} (log in with `docker login`, or set `DOCKER_CONFIG`)"
        );
    }
    format!("the registry answered {}: {body}", answer.status)
}

/// `s` escaped for a query string.
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The most bytes a pulled blob may have: the size its descriptor gives, or the body limit for
/// a descriptor without one.
fn blob_limit(size: i64) -> u64 {
    if size > 0 {
        size as u64
    } else {
        crate::net::max_body()
    }
}

/// Asks `f` for each item, 8 requests at a time; the first error wins (the rest are not asked).
pub fn parallel<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let failed: Mutex<Option<Error>> = Mutex::default();
    std::thread::scope(|scope| {
        for _ in 0..items.len().min(8) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(item) = items.get(i) else { return };
                if failed.lock().expect("lock").is_some() {
                    return;
                }
                match f(item) {
                    Ok(r) => out.lock().expect("lock")[i] = Some(r),
                    Err(e) => {
                        failed.lock().expect("lock").get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().expect("lock") {
        return Err(e);
    }
    Ok(out
        .into_inner()
        .expect("lock")
        .into_iter()
        .map(|r| r.expect("every item answered"))
        .collect())
}

/// Tries of an idempotent request before its error is reported. (Debian's distribution answers
/// 500 for a blob another upload is committing at that moment; under load that lasts a while.)
const ATTEMPTS: u32 = 5;

/// The size of the pieces an upload's body is sent in (its progress is seen per piece).
const CHUNK: u64 = 256 << 10;

/// When an upload's body last moved.
struct Progress(Mutex<std::time::Instant>);

impl Progress {
    fn new() -> Progress {
        Progress(Mutex::new(std::time::Instant::now()))
    }

    fn mark(&self) {
        if let Ok(mut t) = self.0.lock() {
            *t = std::time::Instant::now();
        }
    }

    fn idle(&self) -> Duration {
        self.0.lock().map(|t| t.elapsed()).unwrap_or_default()
    }
}

const STALLED: &str = "the registry took no data";

/// `upload`, failed when `progress` stands still for `stall`.
async fn watched<T>(
    upload: impl std::future::Future<Output = std::result::Result<T, OciDistributionError>>,
    progress: &Progress,
    stall: Duration,
) -> std::result::Result<T, OciDistributionError> {
    let watchdog = async {
        loop {
            tokio::time::sleep(stall.min(Duration::from_secs(1))).await;
            if progress.idle() >= stall {
                return;
            }
        }
    };
    tokio::select! {
        done = upload => done,
        () = watchdog => Err(OciDistributionError::IoError(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("{STALLED} for {} s (`--read-timeout`)", stall.as_secs()),
        ))),
    }
}

/// Whether `e` is an upload that stood still: [`watched`] stopped it, or the registry did not
/// answer within the read timeout.
fn is_stall(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::IoError(io) => {
            io.kind() == std::io::ErrorKind::TimedOut && io.to_string().starts_with(STALLED)
        }
        OciDistributionError::RequestError(r) => r.is_timeout(),
        _ => false,
    }
}

/// The pause before try `attempt + 1`: 200 ms, 400 ms, 800 ms, 1.6 s (3 s in all).
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200 << attempt.saturating_sub(1).min(5))
}

/// Runs an idempotent request, again after a pause when it failed for a reason that may pass
/// (a timeout, a refused or dropped connection, a 5xx or 429 answer).
fn retry<T>(
    op: impl FnMut() -> std::result::Result<T, OciDistributionError>,
) -> std::result::Result<T, OciDistributionError> {
    retry_if(op, transient)
}

/// [`retry`] for the errors `again` picks.
fn retry_if<T>(
    mut op: impl FnMut() -> std::result::Result<T, OciDistributionError>,
    again: impl Fn(&OciDistributionError) -> bool,
) -> std::result::Result<T, OciDistributionError> {
    let mut attempt = 0;
    let mut stalled = false;
    loop {
        attempt += 1;
        match op() {
            // A registry that stopped answering gets one more read timeout, not four.
            Err(e) if stalled && is_stall(&e) => return Err(e),
            Err(e) if attempt < ATTEMPTS && again(&e) => {
                tracing::debug!("registry request failed, retrying: {e}");
                stalled |= is_stall(&e);
                std::thread::sleep(backoff(attempt));
            }
            other => return other,
        }
    }
}

/// Whether a failed request may succeed when tried again.
fn transient(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(r) => {
            r.is_timeout()
                || r.is_connect()
                || r.is_request()
                || r.is_body()
                || r.status()
                    .is_some_and(|s| s.is_server_error() || s.as_u16() == 429)
        }
        OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| matches!(e.code, OciErrorCode::Toomanyrequests)),
        OciDistributionError::IoError(_) => true,
        _ => false,
    }
}

/// Whether the registry answered with a 5xx status.
fn server_error(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ServerError { code, .. } => *code >= 500,
        OciDistributionError::RequestError(r) => r.status().is_some_and(|s| s.is_server_error()),
        _ => false,
    }
}

/// Whether the registry refused an upload because another one of the same blob raced it.
fn blob_race(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::DigestInvalid
                    | OciErrorCode::BlobUnknown
                    | OciErrorCode::BlobUploadUnknown
                    | OciErrorCode::BlobUploadInvalid
                    | OciErrorCode::ManifestBlobUnknown
            )
        }),
        // The client hands some answers over as text (a manifest PUT refused with 400): the
        // same codes are read from the registry's JSON body.
        OciDistributionError::ServerError {
            code: 400, message, ..
        } => error_codes(message).iter().any(|c| {
            matches!(
                c.as_str(),
                "DIGEST_INVALID"
                    | "BLOB_UNKNOWN"
                    | "BLOB_UPLOAD_UNKNOWN"
                    | "BLOB_UPLOAD_INVALID"
                    | "MANIFEST_BLOB_UNKNOWN"
            )
        }),
        _ => false,
    }
}

/// The `errors[].code`s of a registry's JSON error body (none when it is not one).
fn error_codes(body: &str) -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("errors")?.as_array().map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e.get("code")?.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// Credentials for `host` from `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`):
/// `auths` entries (`auth` base64 or `username`/`password`, `identitytoken`), then
/// `credHelpers`/`credsStore` through `docker-credential-NAME get`. Anonymous when none apply.
pub fn credentials(host: &str) -> Result<RegistryAuth> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
    let Some(path) = dir.map(|d| d.join("config.json")) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let cred_err = |message: String| Error::Credentials {
        registry: host.to_string(),
        message,
    };
    let config: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| cred_err(format!("`{}` is not valid JSON: {e}", path.display())))?;
    let keys = [
        host.to_string(),
        format!("https://{host}"),
        format!("http://{host}"),
        format!("https://{host}/v1/"),
    ];
    if let Some(auths) = config.get("auths").and_then(|a| a.as_object()) {
        for k in &keys {
            let Some(entry) = auths.get(k) else { continue };
            if let Some(token) = entry.get("identitytoken").and_then(|t| t.as_str()) {
                return Ok(RegistryAuth::Bearer(token.to_string()));
            }
            if let (Some(u), Some(p)) = (
                entry.get("username").and_then(|v| v.as_str()),
                entry.get("password").and_then(|v| v.as_str()),
            ) {
                return Ok(RegistryAuth::Basic(u.to_string(), p.to_string()));
            }
            if let Some(auth) = entry.get("auth").and_then(|v| v.as_str()) {
                use base64::Engine;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth)
                    .map_err(|e| {
                        cred_err(format!("`auth` in `{}` is not base64: {e}", path.display()))
                    })?;
                let decoded = String::from_utf8(decoded).map_err(|e| cred_err(e.to_string()))?;
                let (u, p) = decoded
                    .split_once(':')
                    .ok_or_else(|| cred_err("`auth` must encode `user:password`".into()))?;
                return Ok(RegistryAuth::Basic(u.to_string(), p.to_string()));
            }
        }
    }
    let helper = config
        .get("credHelpers")
        .and_then(|h| h.get(host))
        .or_else(|| config.get("credsStore"))
        .and_then(|v| v.as_str());
    if let Some(helper) = helper {
        return credential_helper(helper, host).map_err(cred_err);
    }
    Ok(RegistryAuth::Anonymous)
}

fn credential_helper(helper: &str, host: &str) -> std::result::Result<RegistryAuth, String> {
    use std::io::Write;
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(host.as_bytes())
        .map_err(|e| format!("`{program}`: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("`{program}`: {e}"))?;
    if !out.status.success() {
        // Helpers answer "credentials not found" with a failure: that means anonymous.
        return Ok(RegistryAuth::Anonymous);
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("`{program}` printed invalid JSON: {e}"))?;
    let user = v
        .get("Username")
        .and_then(|u| u.as_str())
        .unwrap_or_default();
    let secret = v.get("Secret").and_then(|s| s.as_str()).unwrap_or_default();
    Ok(if user == "<token>" {
        RegistryAuth::Bearer(secret.to_string())
    } else {
        RegistryAuth::Basic(user.to_string(), secret.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_race_is_known_in_a_structured_answer_and_in_a_text_one() {
        // What docker-registry answered a manifest PUT in `.ci/run`, handed over as text.
        let text = OciDistributionError::ServerError {
            code: 400,
            url: "http://127.0.0.1:1/v2/race/manifests/t".into(),
            message: r#"{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"},{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:82"}]}"#.into(),
        };
        assert!(blob_race(&text));
        let other = OciDistributionError::ServerError {
            code: 400,
            url: String::new(),
            message: r#"{"errors":[{"code":"MANIFEST_INVALID","message":"x"}]}"#.into(),
        };
        assert!(!blob_race(&other));
        let not_json = OciDistributionError::ServerError {
            code: 400,
            url: String::new(),
            message: "MANIFEST_BLOB_UNKNOWN in plain words".into(),
        };
        assert!(!blob_race(&not_json), "only the registry's codes count");
        assert_eq!(error_codes("{\"errors\": []}"), Vec::<String>::new());
    }

    #[test]
    fn loopback_hosts_are_plain_http() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(!is_loopback("registry.example.com"));
        assert_eq!(host_of("127.0.0.1:5000/proj/sub"), "127.0.0.1:5000");
    }

    #[test]
    fn docker_config_auth_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths": {"r.example": {"auth": "dXNlcjpwYXNz"}, "t.example": {"identitytoken": "tok"}}}"#,
        )
        .expect("write");
        std::env::set_var("DOCKER_CONFIG", dir.path());
        assert!(
            matches!(credentials("r.example"), Ok(RegistryAuth::Basic(u, p)) if u == "user" && p == "pass")
        );
        assert!(matches!(credentials("t.example"), Ok(RegistryAuth::Bearer(t)) if t == "tok"));
        assert!(matches!(
            credentials("other.example"),
            Ok(RegistryAuth::Anonymous)
        ));
        std::env::remove_var("DOCKER_CONFIG");
    }
}
