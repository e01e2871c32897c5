//! Pushes: blobs uploaded in chunks or mounted from another repository, then the manifest.

use super::*;

/// The size of the pieces an upload's body is sent in (its progress is seen per piece).
const CHUNK: u64 = 256 << 10;

impl Registry {
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
                self.oci()
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
                    .block_on(self.oci().blob_exists(&reference, digest))
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
            .block_on(self.oci().mount_blob(&reference, &source, digest))
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
            let put = self.runtime.block_on(self.oci().push_manifest_raw(
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
