//! The container registry through `oci-client`: credentials, existence checks, pushes, pulls;
//! what is read whole (manifests, tag lists) and deletes go through [`plain`] HTTP instead, so
//! that every answer read into memory has a bound.
//!
//! Existence follows DESIGN.md section 3: one paginated tag listing per repository per run, then a
//! manifest HEAD where confirmation is needed. Pushes go blobs first (HEAD, then cross-repository
//! mount or upload), then the manifest by tag, so a tag appears only for a complete image.
//!
//! - this file: the client, its errors and counts, and the helpers its requests share.
//! - [`read`]: tag listings, manifests, blobs pulled.
//! - [`push`]: blobs (uploaded or mounted) and manifests pushed.
//! - [`delete`]: manifests deleted (through [`plain`]).
//! - [`reference`]: image references in their common form, parsed without the regex.
//! - [`retry`]: which failures are retried, backoff, stalled transfers.
//! - [`credentials`]: the Docker config's credentials and helpers.
//! - [`parallel`]: many requests, 8 at a time.
//! - [`plain`]: the bounded plain-HTTP requests and their tokens.
//! - [`capped`]: a writer that stops at a size.
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::{Client, Reference, RegistryOperation};
mod capped;
mod credentials;
mod delete;
mod parallel;
mod plain;
mod push;
mod read;
mod reference;
mod retry;

pub use credentials::{credentials, docker_config_folder};
pub use delete::Deleted;
pub use parallel::parallel;
use retry::*;

/// Errors of registry access, naming the repository and the operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("registry `{registry}`: {operation} failed: {message}")]
    Request {
        registry: String,
        operation: String,
        message: String,
    },
    /// A plain request (tags, manifests, deletes) that got no usable answer.
    #[error("registry `{registry}`: {operation} failed: {cause}")]
    Plain {
        registry: String,
        operation: String,
        cause: plain::SendError,
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

/// How registries are reached beyond the defaults.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// Hosts reached over plain HTTP (loopback hosts always are).
    pub plain_http: Vec<String>,
    /// Do not check the registries' TLS certificates.
    pub skip_tls_verify: bool,
}

/// A client for the registries a run talks to.
pub struct Registry {
    /// The OCI client, made on first use ([`Registry::oci`]): making one reads the system's
    /// certificates, which a run that pushes nothing never needs.
    client: std::sync::OnceLock<Client>,
    runtime: &'static tokio::runtime::Runtime,
    insecure: Vec<String>,
    /// Certificates are not checked (`--skip-tls-verify-registry`).
    skip_tls_verify: bool,
    timeouts: werf_base::net::Timeouts,
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
        timeouts: werf_base::net::Timeouts,
    ) -> Result<Self> {
        Registry::connect(
            &Access {
                plain_http: insecure.to_vec(),
                skip_tls_verify: false,
            },
            hosts,
            timeouts,
        )
    }

    /// A client reaching `access.plain_http` and the loopback ones of `hosts` over plain HTTP,
    /// the others over HTTPS (certificates unchecked with `access.skip_tls_verify`).
    pub fn connect(
        access: &Access,
        hosts: &[&str],
        timeouts: werf_base::net::Timeouts,
    ) -> Result<Self> {
        let mut plain: Vec<String> = access.plain_http.clone();
        plain.extend(
            hosts
                .iter()
                .filter(|h| is_loopback(h))
                .map(|h| h.to_string()),
        );
        plain.sort();
        plain.dedup();
        let runtime = werf_base::runtime::get().map_err(|e| Error::Request {
            registry: String::new(),
            operation: "start the HTTP runtime".into(),
            message: e.to_string(),
        })?;
        Ok(Registry {
            client: std::sync::OnceLock::new(),
            runtime,
            insecure: plain,
            skip_tls_verify: access.skip_tls_verify,
            timeouts,
            http: std::sync::OnceLock::new(),
            tokens: Default::default(),
            stats: Stats::default(),
        })
    }

    /// The OCI client (made on first use).
    fn oci(&self) -> &Client {
        self.client.get_or_init(|| {
            Client::new(ClientConfig {
                protocol: ClientProtocol::HttpsExcept(self.insecure.clone()),
                connect_timeout: Some(self.timeouts.connect),
                read_timeout: Some(self.timeouts.read),
                accept_invalid_certificates: self.skip_tls_verify,
                ..Default::default()
            })
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
        if let Some(r) = reference::common(name) {
            return Ok(r);
        }
        name.parse::<Reference>().map_err(|e| {
            Error::Reference(
                werf_base::redact::reference(name),
                werf_base::redact::reference(&e.to_string()),
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
            message: werf_base::redact::urls(&werf_base::errors::chain(&e)),
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
        werf_base::net::max_body()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_plain_http() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(!is_loopback("registry.example.com"));
        assert_eq!(host_of("127.0.0.1:5000/proj/sub"), "127.0.0.1:5000");
    }
}
