//! What the registry client asks over plain HTTP rather than through `oci-client`, whose every
//! answer is read whole: the answers read into memory (manifests, tag pages, token answers),
//! each bounded by [`werf_base::net::max_body`], and deletes. The Docker config's credentials answer
//! a `WWW-Authenticate` challenge (Basic, or a Bearer token for the scope the request needs,
//! kept for the run). Requests that may pass are tried again like the client's own.

use std::collections::HashMap;

use oci_client::secrets::RegistryAuth;
use reqwest::{Method, StatusCode};

use super::retry::{backoff, ATTEMPTS};
use super::{credentials, host_of, Registry};

/// What an image reference names, for plain requests.
pub(super) struct Target {
    /// `host[:port]` as the registry is reached.
    pub registry: String,
    /// The repository's name in that registry.
    pub name: String,
    /// What a manifest path names: the digest, else the tag, else `latest`.
    pub wanted: String,
    pub digest: Option<String>,
}

impl Target {
    /// The error of `operation` on this target.
    pub fn error(&self, operation: &str, message: String) -> super::Error {
        super::Error::Request {
            registry: self.registry.clone(),
            operation: operation.to_string(),
            message,
        }
    }

    /// The error of `operation` on this target, which a plain request failed.
    pub fn failed(&self, operation: &str, cause: SendError) -> super::Error {
        super::Error::Plain {
            registry: self.registry.clone(),
            operation: operation.to_string(),
            cause,
        }
    }
}

/// Why a plain request got no answer to read.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The HTTP client could not be made.
    #[error("{}", werf_base::errors::chain(.0))]
    Client(reqwest::Error),
    /// The Docker config's credentials could not be read.
    #[error(transparent)]
    Credentials(Box<super::Error>),
    /// The registry did not answer (after the retries); URLs in the message are redacted.
    #[error("{}", werf_base::redact::urls(&.0.to_string()))]
    Read(ReadError),
    /// The registry's authentication challenge could not be answered.
    #[error("Not authorized: {0}")]
    NotAuthorized(AuthError),
}

/// Why a `WWW-Authenticate` challenge could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the registry asks for credentials and the Docker config has none for it")]
    NoCredentials,
    #[error("unsupported authentication challenge `{0}`")]
    Unsupported(String),
    #[error("a Bearer challenge without `realm`")]
    NoRealm,
    #[error("the token service refused a token for `{scope}` ({status})")]
    Refused { scope: String, status: StatusCode },
    #[error("{}", werf_base::redact::urls(&.0.to_string()))]
    Read(ReadError),
    #[error("the token service's answer is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("the token service answered without a token")]
    NoToken,
}

/// A request to one repository of one registry.
struct Request<'a> {
    method: Method,
    target: &'a Target,
    /// The path below `/v2/NAME/` with its query (`tags/list?n=1000`, `manifests/REF`).
    path: &'a str,
    /// The token scope's action: `pull` or `delete`.
    action: &'a str,
    accept: &'a [&'a str],
}

/// An answer read whole, within the body limit.
pub(super) struct Answer {
    pub status: StatusCode,
    /// `Docker-Content-Digest`, when the registry names it.
    pub digest: Option<String>,
    /// `Content-Type` (a manifest's media type).
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Tokens of this run by `(registry, scope)`.
pub(super) type Tokens = std::sync::Mutex<HashMap<(String, String), String>>;

impl Registry {
    /// The target of `image` (`repo:tag`, `repo@digest`).
    pub(super) fn target(&self, image: &str) -> super::Result<Target> {
        let reference = self.reference(image)?;
        Ok(Target {
            registry: reference.resolve_registry().to_string(),
            name: reference.repository().to_string(),
            wanted: reference
                .digest()
                .or(reference.tag())
                .unwrap_or("latest")
                .to_string(),
            digest: reference.digest().map(str::to_string),
        })
    }

    /// `method` at `path` below the target's repository, with the token scope `action`.
    pub(super) fn ask(
        &self,
        target: &Target,
        method: Method,
        path: &str,
        action: &str,
        accept: &[&str],
    ) -> Result<Answer, SendError> {
        self.send(&Request {
            method,
            target,
            path,
            action,
            accept,
        })
    }

    /// The plain HTTP client, made once inside the runtime (its timers belong to it).
    fn http(&self) -> Result<reqwest::Client, SendError> {
        if let Some(c) = self.http.get() {
            return Ok(c.clone());
        }
        let _inside = self.runtime.enter();
        let c = reqwest::Client::builder()
            .connect_timeout(self.timeouts.connect)
            .read_timeout(self.timeouts.read)
            .danger_accept_invalid_certs(self.skip_tls_verify)
            .build()
            .map_err(SendError::Client)?;
        Ok(self.http.get_or_init(|| c).clone())
    }

    /// Sends `req`, answering one authentication challenge and trying again after a pause on
    /// a timeout, a refused connection, a 5xx or a 429; the body is read within the limit.
    fn send(&self, req: &Request<'_>) -> Result<Answer, SendError> {
        let http = self.http()?;
        let t = req.target;
        let scheme = if self.insecure.contains(&t.registry) {
            "http"
        } else {
            "https"
        };
        let url = format!("{scheme}://{}/v2/{}/{}", t.registry, t.name, req.path);
        let auth =
            credentials(host_of(&t.registry)).map_err(|e| SendError::Credentials(Box::new(e)))?;
        let scope = format!("repository:{}:{}", t.name, req.action);
        let key = (t.registry.clone(), scope.clone());
        let mut header: Option<String> = self
            .tokens
            .lock()
            .ok()
            .and_then(|t| t.get(&key).cloned())
            .or(match &auth {
                RegistryAuth::Bearer(t) => Some(format!("Bearer {t}")),
                _ => None,
            });
        let mut answered_challenge = false;
        let mut attempt = 0;
        let mut timed_out = false;
        loop {
            attempt += 1;
            self.count();
            let mut builder = http.request(req.method.clone(), &url);
            if !req.accept.is_empty() {
                builder = builder.header(reqwest::header::ACCEPT, req.accept.join(", "));
            }
            if let Some(h) = &header {
                builder = builder.header(reqwest::header::AUTHORIZATION, h);
            }
            let sent = self.runtime.block_on(async move {
                let resp = builder.send().await?;
                let status = resp.status();
                let digest = resp
                    .headers()
                    .get("Docker-Content-Digest")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let content_type = resp
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let challenge = resp
                    .headers()
                    .get(reqwest::header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                Ok::<_, ReadError>((
                    status,
                    (digest, content_type, challenge),
                    werf_base::net::read_body(
                        resp,
                        werf_base::net::max_body(),
                        "WERF_MAX_BODY_SIZE",
                    )
                    .await?,
                ))
            });
            let (status, (digest, content_type, challenge), body) = match sent {
                Ok(a) => a,
                // A registry that stopped answering gets one more read timeout, not four.
                Err(e) if attempt < ATTEMPTS && e.transient() && !(timed_out && e.timed_out()) => {
                    timed_out |= e.timed_out();
                    std::thread::sleep(backoff(attempt));
                    continue;
                }
                Err(e) => return Err(SendError::Read(e)),
            };
            match status.as_u16() {
                401 if !answered_challenge => {
                    answered_challenge = true;
                    let h = self
                        .answer(&http, &challenge, &scope, &auth)
                        .map_err(SendError::NotAuthorized)?;
                    if let Ok(mut t) = self.tokens.lock() {
                        t.insert(key.clone(), h.clone());
                    }
                    header = Some(h);
                }
                s if attempt < ATTEMPTS && (s >= 500 || s == 429) => {
                    std::thread::sleep(backoff(attempt));
                }
                _ => {
                    return Ok(Answer {
                        status,
                        digest,
                        content_type,
                        body,
                    })
                }
            }
        }
    }

    /// The `Authorization` header answering a `WWW-Authenticate` challenge for `scope`.
    fn answer(
        &self,
        http: &reqwest::Client,
        challenge: &str,
        scope: &str,
        auth: &RegistryAuth,
    ) -> Result<String, AuthError> {
        use base64::Engine as _;
        let (kind, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        let basic = |u: &str, p: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        };
        if kind.eq_ignore_ascii_case("basic") {
            return match auth {
                RegistryAuth::Basic(u, p) => Ok(basic(u, p)),
                _ => Err(AuthError::NoCredentials),
            };
        }
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Unsupported(kind.to_string()));
        }
        let param = |key: &str| {
            params.split(',').find_map(|kv| {
                let (k, v) = kv.trim().split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
            })
        };
        let realm = param("realm").ok_or(AuthError::NoRealm)?;
        let mut query = vec![("scope".to_string(), scope.to_string())];
        if let Some(service) = param("service") {
            query.push(("service".into(), service));
        }
        let mut req = http.get(&realm).query(&query);
        if let RegistryAuth::Basic(u, p) = auth {
            req = req.header(reqwest::header::AUTHORIZATION, basic(u, p));
        }
        self.count();
        let body = self
            .runtime
            .block_on(async move {
                let resp = req.send().await?;
                let status = resp.status();
                if !status.is_success() {
                    return Err(ReadError::Status(status));
                }
                Ok(werf_base::net::read_body(
                    resp,
                    werf_base::net::max_body(),
                    "WERF_MAX_BODY_SIZE",
                )
                .await?)
            })
            .map_err(|e| match e {
                ReadError::Status(status) => AuthError::Refused {
                    scope: scope.to_string(),
                    status,
                },
                e => AuthError::Read(e),
            })?;
        let body: serde_json::Value = serde_json::from_slice(&body).map_err(AuthError::NotJson)?;
        let token = body
            .get("token")
            .or_else(|| body.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or(AuthError::NoToken)?;
        Ok(format!("Bearer {token}"))
    }
}

/// Why a plain request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}", werf_base::errors::chain(.0))]
    Send(#[from] reqwest::Error),
    #[error(transparent)]
    Body(#[from] werf_base::net::BodyError),
    #[error("the server answered {0}")]
    Status(StatusCode),
}

impl ReadError {
    /// No answer within the read timeout.
    fn timed_out(&self) -> bool {
        match self {
            ReadError::Send(e) | ReadError::Body(werf_base::net::BodyError::Read(e)) => {
                e.is_timeout()
            }
            _ => false,
        }
    }

    /// A timeout or a connection that failed or dropped; never a body over its limit.
    fn transient(&self) -> bool {
        match self {
            ReadError::Send(e) => e.is_timeout() || e.is_connect() || e.is_request() || e.is_body(),
            ReadError::Body(werf_base::net::BodyError::Read(e)) => e.is_timeout() || e.is_body(),
            _ => false,
        }
    }
}
