//! An image copied between repositories as it is (same manifest bytes, so the same digest): an
//! image manifest's blobs, or an index's manifests and theirs. A blob the destination has is
//! not sent again; one in another repository of the same registry is mounted, else streamed
//! through a temp file.

use werf_registry::{host_of, Registry};

use crate::{Error, Result};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// A manifest read as its blobs and children.
#[derive(Debug)]
pub struct Parsed {
    pub media_type: String,
    /// Config and layers (an image manifest), as (digest, media type, size).
    pub blobs: Vec<(String, String, i64)>,
    /// Manifests (an index), as (digest, media type).
    pub children: Vec<(String, String)>,
}

/// Reads a manifest's media type, blobs and children (`what` names it in errors).
pub fn parse(what: &str, body: &[u8]) -> Result<Parsed> {
    let invalid = |message: String| Error::Invalid {
        bundle: what.to_string(),
        message,
    };
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("manifest is not JSON: {e}")))?;
    let text = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let descriptor = |d: &serde_json::Value| -> Result<(String, String, i64)> {
        let digest = text(d, "digest");
        if !digest.starts_with("sha256:") || digest.len() != 71 {
            return Err(invalid(format!(
                "a descriptor's digest `{digest}` is not sha256"
            )));
        }
        Ok((
            digest,
            text(d, "mediaType"),
            d.get("size").and_then(|s| s.as_i64()).unwrap_or(-1),
        ))
    };
    let mut media_type = text(&v, "mediaType");
    let mut parsed = Parsed {
        media_type: String::new(),
        blobs: Vec::new(),
        children: Vec::new(),
    };
    if let Some(list) = v.get("manifests").and_then(|m| m.as_array()) {
        if media_type.is_empty() {
            media_type = OCI_INDEX.into();
        }
        for d in list {
            let (digest, mt, _) = descriptor(d)?;
            parsed.children.push((digest, mt));
        }
    } else {
        if media_type.is_empty() {
            media_type = OCI_MANIFEST.into();
        }
        let config = v
            .get("config")
            .ok_or_else(|| invalid("an image manifest without a config".into()))?;
        parsed.blobs.push(descriptor(config)?);
        for l in v
            .get("layers")
            .and_then(|l| l.as_array())
            .into_iter()
            .flatten()
        {
            parsed.blobs.push(descriptor(l)?);
        }
    }
    parsed.media_type = media_type;
    Ok(parsed)
}

/// Counts of what a copy sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub manifests: usize,
    pub blobs_uploaded: usize,
    pub blobs_mounted: usize,
    pub blobs_present: usize,
}

/// Copies the image `from` (`REPO:TAG` or `REPO@DIGEST`) to `to_repo` under `to_tag`.
pub fn copy(registry: &Registry, from: &str, to_repo: &str, to_tag: &str) -> Result<Sent> {
    let from_repo = repo_of(from);
    let mut sent = Sent::default();
    copy_manifest(registry, from, from_repo, to_repo, to_tag, 0, &mut sent)?;
    Ok(sent)
}

/// The repository of `REPO:TAG` or `REPO@DIGEST`.
pub fn repo_of(reference: &str) -> &str {
    if let Some((r, _)) = reference.split_once('@') {
        return r;
    }
    match reference.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => reference,
    }
}

fn copy_manifest(
    registry: &Registry,
    from: &str,
    from_repo: &str,
    to_repo: &str,
    to_tag: &str,
    depth: usize,
    sent: &mut Sent,
) -> Result<()> {
    let (body, digest) = registry.pull_manifest(from)?;
    let parsed = parse(from, &body)?;
    if !parsed.children.is_empty() && depth > 0 {
        return Err(Error::Invalid {
            bundle: from.to_string(),
            message: "an index inside an index is not copied".into(),
        });
    }
    for (child, _) in &parsed.children {
        copy_manifest(
            registry,
            &format!("{from_repo}@{child}"),
            from_repo,
            to_repo,
            child,
            depth + 1,
            sent,
        )?;
    }
    for (blob, media_type, size) in &parsed.blobs {
        copy_blob(registry, from_repo, to_repo, blob, media_type, *size, sent)?;
    }
    // A child is pushed by its digest, untagged; the top under its tag.
    let tag = if depth > 0 { digest.as_str() } else { to_tag };
    registry.push_manifest(to_repo, tag, body, &parsed.media_type)?;
    sent.manifests += 1;
    Ok(())
}

/// Puts the blob `digest` of `from_repo` into `to_repo`: nothing when it is there, a mount
/// within one registry, else streamed through a temp file.
pub fn copy_blob(
    registry: &Registry,
    from_repo: &str,
    to_repo: &str,
    digest: &str,
    media_type: &str,
    size: i64,
    sent: &mut Sent,
) -> Result<()> {
    if registry.blob_exists(to_repo, digest)? {
        sent.blobs_present += 1;
    } else if host_of(from_repo) == host_of(to_repo)
        && registry.mount_blob(to_repo, from_repo, digest)?
    {
        sent.blobs_mounted += 1;
    } else {
        let file = registry.pull_blob_to_file(from_repo, digest, media_type, size)?;
        let len = file
            .metadata()
            .map_err(|cause| Error::Io {
                path: format!("{from_repo}@{digest}"),
                cause,
            })?
            .len();
        registry.push_blob_file(to_repo, digest, std::sync::Arc::new(file), len)?;
        sent.blobs_uploaded += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_and_indexes_parse_into_blobs_and_children() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let m = serde_json::json!({"schemaVersion": 2, "config": {"mediaType": "c", "digest": d('a'), "size": 3},
            "layers": [{"mediaType": "l", "digest": d('b'), "size": 5}]});
        let p = parse("x", &serde_json::to_vec(&m).unwrap()).unwrap();
        assert_eq!(p.media_type, OCI_MANIFEST);
        assert_eq!(p.blobs, [(d('a'), "c".into(), 3), (d('b'), "l".into(), 5)]);
        let i = serde_json::json!({"mediaType": DOCKER_LIST, "manifests": [{"mediaType": DOCKER_MANIFEST, "digest": d('c'), "size": 1}]});
        let p = parse("x", &serde_json::to_vec(&i).unwrap()).unwrap();
        assert_eq!(p.media_type, DOCKER_LIST);
        assert_eq!(p.children, [(d('c'), DOCKER_MANIFEST.to_string())]);
        let bad = serde_json::json!({"config": {"digest": "md5:x"}});
        let err = parse("img", &serde_json::to_vec(&bad).unwrap()).unwrap_err();
        assert!(err.to_string().contains("`md5:x`"), "{err}");
        assert_eq!(repo_of("h:5000/a/b:t"), "h:5000/a/b");
        assert_eq!(repo_of("h:5000/a/b@sha256:x"), "h:5000/a/b");
        assert_eq!(repo_of("h:5000/a/b"), "h:5000/a/b");
    }
}
