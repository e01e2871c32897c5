//! Reads: tag listings, manifests (bounded, digest-checked), blobs pulled into memory or a file.

use super::*;

impl Registry {
    /// Authenticates for `op` on `repo` with credentials from the Docker config (or anonymously).
    pub fn login(&self, repo: &str, op: RegistryOperation) -> Result<()> {
        let reference = self.reference(&format!("{repo}:latest"))?;
        let auth = credentials(host_of(repo))?;
        self.count();
        self.runtime
            .block_on(self.oci().auth(&reference, &auth, op))
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
        let (max_pages, max_tags) = (werf_base::net::max_tag_pages(), werf_base::net::max_tags());
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
                .map_err(|e| target.failed(&operation, e))?;
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
    ) -> std::result::Result<plain::Answer, plain::SendError> {
        let path = format!("manifests/{}", target.wanted);
        self.ask(target, method, &path, "pull", &MANIFEST_TYPES)
    }

    /// The manifest digest of `image` (`repo:tag`), or `None` when it does not exist.
    pub fn manifest_digest(&self, image: &str) -> Result<Option<String>> {
        Ok(self.manifest_head(image)?.map(|(d, _)| d))
    }

    /// The manifest digest of `image` and its media type (when the registry names it), or `None`
    /// when it does not exist: one HEAD.
    pub fn manifest_head(&self, image: &str) -> Result<Option<(String, Option<String>)>> {
        let target = self.target(image)?;
        let operation = format!("checking `{image}`");
        let fail = |message: String| target.error(&operation, message);
        let answer = self
            .ask_manifest(&target, reqwest::Method::HEAD)
            .map_err(|e| target.failed(&operation, e))?;
        let media_type = answer
            .content_type
            .as_deref()
            .map(|t| t.split(';').next().unwrap_or(t).trim().to_string());
        match answer.status.as_u16() {
            404 => Ok(None),
            200..=299 => match answer.digest {
                Some(d) => Ok(Some((d, media_type))),
                // A registry that does not name the digest: it is the content's.
                None => self
                    .pull_manifest(image)
                    .map(|(_, d)| Some((d, media_type))),
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
            .map_err(|e| target.failed(&operation, e))?;
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
                .block_on(self.oci().pull_blob(&reference, &descriptor, &mut capped))
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
                self.oci()
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
}
