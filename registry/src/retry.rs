//! Which registry failures are retried, the backoff between tries, and transfers that stall.

use super::*;

/// Tries of an idempotent request before its error is reported. (Debian's distribution answers
/// 500 for a blob another upload is committing at that moment; under load that lasts a while.)
pub(crate) const ATTEMPTS: u32 = 5;

/// When an upload's body last moved.
pub(crate) struct Progress(Mutex<std::time::Instant>);

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress(Mutex::new(std::time::Instant::now()))
    }

    pub(crate) fn mark(&self) {
        if let Ok(mut t) = self.0.lock() {
            *t = std::time::Instant::now();
        }
    }

    pub(crate) fn idle(&self) -> Duration {
        self.0.lock().map(|t| t.elapsed()).unwrap_or_default()
    }
}

pub(crate) const STALLED: &str = "the registry took no data";

/// `upload`, failed when `progress` stands still for `stall`.
pub(crate) async fn watched<T>(
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
pub(crate) fn is_stall(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::IoError(io) => {
            io.kind() == std::io::ErrorKind::TimedOut && io.to_string().starts_with(STALLED)
        }
        OciDistributionError::RequestError(r) => r.is_timeout(),
        _ => false,
    }
}

/// The pause before try `attempt + 1`: 200 ms, 400 ms, 800 ms, 1.6 s (3 s in all).
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200 << attempt.saturating_sub(1).min(5))
}

/// Runs an idempotent request, again after a pause when it failed for a reason that may pass
/// (a timeout, a refused or dropped connection, a 5xx or 429 answer).
pub(crate) fn retry<T>(
    op: impl FnMut() -> std::result::Result<T, OciDistributionError>,
) -> std::result::Result<T, OciDistributionError> {
    retry_if(op, transient)
}

/// [`retry`] for the errors `again` picks.
pub(crate) fn retry_if<T>(
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
pub(crate) fn transient(e: &OciDistributionError) -> bool {
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
pub(crate) fn server_error(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ServerError { code, .. } => *code >= 500,
        OciDistributionError::RequestError(r) => r.status().is_some_and(|s| s.is_server_error()),
        _ => false,
    }
}

/// Whether the registry refused an upload because another one of the same blob raced it.
pub(crate) fn blob_race(e: &OciDistributionError) -> bool {
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
pub(crate) fn error_codes(body: &str) -> Vec<String> {
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
}
