//! A bundle archive: one tar file holding the chart (`chart.tgz`) and an OCI image layout of
//! every image the bundle references (`oci-layout`, `index.json` naming each image by its tag,
//! `blobs/sha256/…`, each blob once however many images share it), so `skopeo` reads an image
//! as `oci-archive:PATH:TAG`. Written to a temp file beside its place and renamed when whole;
//! read back with every size bounded and every blob checked against its digest.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use werf_registry::Registry;

use crate::images::{parse, Sent};
use crate::{Error, Result};

const CHART: &str = "chart.tgz";
const INDEX: &str = "index.json";
const LAYOUT: &str = "oci-layout";
/// The annotation naming an image of the layout.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Bounds on what an archive's reader trusts.
const MAX_ENTRIES: usize = 1_000_000;
const MAX_MANIFEST_BYTES: u64 = 4 << 20;
const MAX_INDEX_BYTES: u64 = 16 << 20;

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |cause| Error::Io {
        path: path.display().to_string(),
        cause,
    }
}

/// A bundle archive being written.
pub struct Writer {
    path: PathBuf,
    tar: tar::Builder<tempfile::NamedTempFile>,
    written: HashSet<String>,
    index: Vec<serde_json::Value>,
}

impl Writer {
    /// Starts the archive that [`Writer::finish`] puts at `path`.
    pub fn create(path: &Path) -> Result<Writer> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".bundle-")
            .tempfile_in(dir)
            .map_err(io(path))?;
        let mut tar = tar::Builder::new(tmp);
        tar.mode(tar::HeaderMode::Deterministic);
        let mut w = Writer {
            path: path.to_path_buf(),
            tar,
            written: HashSet::new(),
            index: Vec::new(),
        };
        w.entry(LAYOUT, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        Ok(w)
    }

    fn entry(&mut self, name: &str, data: &[u8]) -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        self.tar
            .append_data(&mut header, name, data)
            .map_err(io(&self.path))
    }

    /// The chart's archive.
    pub fn chart(&mut self, archive: &[u8]) -> Result<()> {
        self.entry(CHART, archive)
    }

    /// The image `reference` of the registry, named `tag` in the layout.
    pub fn image(&mut self, registry: &Registry, reference: &str, tag: &str) -> Result<()> {
        let repo = crate::images::repo_of(reference).to_string();
        let (digest, media_type, size) = self.manifest(registry, &repo, reference, 0)?;
        self.index.push(serde_json::json!({
            "mediaType": media_type,
            "digest": digest,
            "size": size,
            "annotations": {REF_NAME: tag},
        }));
        Ok(())
    }

    fn manifest(
        &mut self,
        registry: &Registry,
        repo: &str,
        reference: &str,
        depth: usize,
    ) -> Result<(String, String, usize)> {
        let (body, digest) = registry.pull_manifest(reference)?;
        let parsed = parse(reference, &body)?;
        if depth > 0 && !parsed.children.is_empty() {
            return Err(Error::Invalid {
                bundle: reference.to_string(),
                message: "an index inside an index is not archived".into(),
            });
        }
        for (child, _) in &parsed.children {
            self.manifest(registry, repo, &format!("{repo}@{child}"), depth + 1)?;
        }
        for (blob, media_type, size) in &parsed.blobs {
            if self.written.contains(blob) {
                continue;
            }
            let mut file = registry.pull_blob_to_file(repo, blob, media_type, *size)?;
            let len = file.metadata().map_err(io(&self.path))?.len();
            file.rewind().map_err(io(&self.path))?;
            let mut header = tar::Header::new_gnu();
            header.set_size(len);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            let name = blob_path(blob);
            self.tar
                .append_data(&mut header, &name, file)
                .map_err(io(&self.path))?;
            self.written.insert(blob.clone());
        }
        let size = body.len();
        if self.written.insert(digest.clone()) {
            self.entry(&blob_path(&digest), &body)?;
        }
        Ok((digest, parsed.media_type, size))
    }

    /// Writes the layout's index and puts the archive in its place.
    pub fn finish(mut self) -> Result<()> {
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": crate::images::OCI_INDEX,
            "manifests": self.index,
        });
        let body = serde_json::to_vec_pretty(&index).unwrap_or_default();
        self.entry(INDEX, &body)?;
        let mut tmp = self.tar.into_inner().map_err(io(&self.path))?;
        tmp.flush().map_err(io(&self.path))?;
        tmp.as_file().sync_all().map_err(io(&self.path))?;
        tmp.persist(&self.path)
            .map_err(|e| io(&self.path)(e.error))?;
        Ok(())
    }
}

fn blob_path(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
}

/// An image of an archive, as its index names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub tag: String,
    pub digest: String,
    pub media_type: String,
}

/// A bundle archive opened for reading: where each member is in the file.
pub struct Reader {
    path: PathBuf,
    file: File,
    members: HashMap<String, (u64, u64)>,
}

impl Reader {
    /// Opens the archive at `path` (its members listed, nothing else read).
    pub fn open(path: &Path) -> Result<Reader> {
        let file = File::open(path).map_err(io(path))?;
        let mut members = HashMap::new();
        let mut archive = tar::Archive::new(file.try_clone().map_err(io(path))?);
        for entry in archive.entries().map_err(io(path))? {
            let entry = entry.map_err(io(path))?;
            if members.len() >= MAX_ENTRIES {
                return Err(invalid(path, format!("more than {MAX_ENTRIES} members")));
            }
            let name = entry
                .path()
                .map_err(io(path))?
                .to_string_lossy()
                .into_owned();
            let size = entry.header().size().map_err(io(path))?;
            members.insert(name, (entry.raw_file_position(), size));
        }
        for required in [CHART, INDEX, LAYOUT] {
            if !members.contains_key(required) {
                return Err(invalid(
                    path,
                    format!("it has no `{required}`: not a bundle archive"),
                ));
            }
        }
        Ok(Reader {
            path: path.to_path_buf(),
            file,
            members,
        })
    }

    fn read(&self, name: &str, max: u64) -> Result<Vec<u8>> {
        let (pos, size) = *self
            .members
            .get(name)
            .ok_or_else(|| invalid(&self.path, format!("it has no `{name}`")))?;
        if size > max {
            return Err(invalid(
                &self.path,
                format!("`{name}` is {size} bytes, more than the {max} allowed"),
            ));
        }
        let mut buf = vec![0u8; size as usize];
        self.file
            .read_exact_at(&mut buf, pos)
            .map_err(io(&self.path))?;
        Ok(buf)
    }

    /// The chart's archive.
    pub fn chart(&self) -> Result<Vec<u8>> {
        self.read(CHART, crate::artifact::MAX_CHART_BYTES as u64)
    }

    /// The images the layout's index names, by tag.
    pub fn images(&self) -> Result<BTreeMap<String, Named>> {
        let body = self.read(INDEX, MAX_INDEX_BYTES)?;
        let index: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| invalid(&self.path, format!("`{INDEX}` is not JSON: {e}")))?;
        let mut out = BTreeMap::new();
        for m in index
            .get("manifests")
            .and_then(|m| m.as_array())
            .into_iter()
            .flatten()
        {
            let text = |p: &str| {
                m.pointer(p)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let named = Named {
                tag: text(&format!("/annotations/{}", REF_NAME.replace('/', "~1"))),
                digest: text("/digest"),
                media_type: text("/mediaType"),
            };
            out.insert(named.tag.clone(), named);
        }
        Ok(out)
    }

    /// A blob's bytes checked against its digest (manifests: small).
    fn manifest(&self, digest: &str) -> Result<Vec<u8>> {
        let body = self.read(&blob_path(digest), MAX_MANIFEST_BYTES)?;
        if crate::artifact::digest(&body) != digest {
            return Err(invalid(
                &self.path,
                format!("blob `{digest}` does not have that digest"),
            ));
        }
        Ok(body)
    }

    /// Pushes the image `named` of the archive to `repo:tag`.
    pub fn push_image(
        &self,
        registry: &Registry,
        named: &Named,
        repo: &str,
        tag: &str,
    ) -> Result<Sent> {
        let mut sent = Sent::default();
        self.push_manifest(registry, &named.digest, repo, tag, 0, &mut sent)?;
        Ok(sent)
    }

    fn push_manifest(
        &self,
        registry: &Registry,
        digest: &str,
        repo: &str,
        tag: &str,
        depth: usize,
        sent: &mut Sent,
    ) -> Result<()> {
        let body = self.manifest(digest)?;
        let parsed = parse(digest, &body)?;
        if depth > 0 && !parsed.children.is_empty() {
            return Err(invalid(&self.path, "an index inside an index".into()));
        }
        for (child, _) in &parsed.children {
            self.push_manifest(registry, child, repo, child, depth + 1, sent)?;
        }
        for (blob, _, _) in &parsed.blobs {
            if registry.blob_exists(repo, blob)? {
                sent.blobs_present += 1;
                continue;
            }
            let (file, len) = self.checked_blob(blob)?;
            registry.push_blob_file(repo, blob, std::sync::Arc::new(file), len)?;
            sent.blobs_uploaded += 1;
        }
        let tag = if depth > 0 { digest } else { tag };
        registry.push_manifest(repo, tag, body, &parsed.media_type)?;
        sent.manifests += 1;
        Ok(())
    }

    /// A blob copied to a temp file, its digest checked on the way.
    fn checked_blob(&self, digest: &str) -> Result<(File, u64)> {
        let name = blob_path(digest);
        let (pos, size) = *self
            .members
            .get(&name)
            .ok_or_else(|| invalid(&self.path, format!("it has no blob `{digest}`")))?;
        let mut out = tempfile::tempfile().map_err(io(&self.path))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut done = 0u64;
        while done < size {
            let n = ((size - done) as usize).min(buf.len());
            self.file
                .read_exact_at(&mut buf[..n], pos + done)
                .map_err(io(&self.path))?;
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io(&self.path))?;
            done += n as u64;
        }
        if format!("sha256:{:x}", hasher.finalize()) != digest {
            return Err(invalid(
                &self.path,
                format!("blob `{digest}` does not have that digest"),
            ));
        }
        out.rewind().map_err(io(&self.path))?;
        Ok((out, size))
    }
}

fn invalid(path: &Path, message: String) -> Error {
    Error::Invalid {
        bundle: format!("archive:{}", path.display()),
        message,
    }
}
