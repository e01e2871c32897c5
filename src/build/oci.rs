//! OCI image model (manifest, config, descriptors) and reproducible layers.
//!
//! A layer is a tar of entries sorted by path, every parent folder written, mtime 0, uid/gid 0,
//! modes as Git records them, gzip with a zero header mtime and fixed level: the same files give
//! the same bytes, so the same digest, on any machine. JSON is written with struct field order
//! fixed and maps sorted, so configs and manifests are reproducible too.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// `sha256:<hex>` of bytes.
pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", werf_graph::digest::hex(&Sha256::digest(data)))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Index {
    pub manifests: Vec<Descriptor>,
}

/// An empty JSON object (`{}`), as used in `ExposedPorts` and `Volumes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Empty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Empty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub architecture: String,
    pub os: String,
    #[serde(default)]
    pub config: ContainerConfig,
    pub rootfs: RootFs,
}

impl ImageConfig {
    /// The config of an empty image for `platform` (`os/arch[/variant]`).
    pub fn scratch(platform: &str) -> Self {
        let mut parts = platform.split('/');
        let os = parts.next().unwrap_or("linux").to_string();
        let architecture = parts.next().unwrap_or("amd64").to_string();
        ImageConfig {
            architecture,
            os,
            config: ContainerConfig::default(),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: Vec::new(),
            },
        }
    }

    /// Sets `NAME=value` in `Env`, replacing an earlier value.
    pub fn set_env(&mut self, name: &str, value: &str) {
        let env = self.config.env.get_or_insert_with(Vec::new);
        let prefix = format!("{name}=");
        env.retain(|e| !e.starts_with(&prefix));
        env.push(format!("{name}={value}"));
    }
}

/// What a layer entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Dir { mode: u32 },
    File { mode: u32, data: Arc<[u8]> },
    Symlink { target: String },
}

/// A file system as a sorted map of absolute-less paths (`usr/bin/app`).
pub type Tree = BTreeMap<String, Node>;

/// A built layer.
#[derive(Clone, Debug)]
pub struct Layer {
    pub gzip: Arc<Vec<u8>>,
    pub digest: String,
    pub diff_id: String,
}

impl Layer {
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: LAYER_GZIP.into(),
            digest: self.digest.clone(),
            size: self.gzip.len() as i64,
            platform: None,
        }
    }
}

/// Writes `entries` as a reproducible gzipped tar (parent folders added as 0755 when missing).
pub fn build_layer(entries: &Tree) -> std::io::Result<Layer> {
    let mut all: Tree = entries.clone();
    for path in entries.keys() {
        let mut p = path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            all.entry(parent.to_string())
                .or_insert(Node::Dir { mode: 0o755 });
            p = parent;
        }
    }
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, node) in &all {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        match node {
            Node::Dir { mode } => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_size(0);
                tar.append_data(&mut h, format!("{path}/"), std::io::empty())?;
            }
            Node::File { mode, data } => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                tar.append_data(&mut h, path, &data[..])?;
            }
            Node::Symlink { target } => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                tar.append_link(&mut h, path, target)?;
            }
        }
    }
    let raw = tar.into_inner()?;
    let diff_id = sha256(&raw);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&raw)?;
    let gzip = gz.finish()?;
    Ok(Layer {
        digest: sha256(&gzip),
        diff_id,
        gzip: Arc::new(gzip),
    })
}

/// Applies a (possibly gzipped) layer tar to `tree`, honouring whiteouts.
pub fn apply_layer(tree: &mut Tree, blob: &[u8]) -> std::io::Result<()> {
    use std::io::Read;
    let mut raw = Vec::new();
    if blob.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(blob).read_to_end(&mut raw)?;
    } else {
        raw.extend_from_slice(blob);
    }
    let mut archive = tar::Archive::new(&raw[..]);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if path.is_empty() || path == "." {
            continue;
        }
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if name == ".wh..wh..opq" {
            let prefix = format!("{dir}/");
            tree.retain(|k, _| !k.starts_with(&prefix));
            continue;
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let target = if dir.is_empty() {
                hidden.to_string()
            } else {
                format!("{dir}/{hidden}")
            };
            let prefix = format!("{target}/");
            tree.retain(|k, _| k != &target && !k.starts_with(&prefix));
            continue;
        }
        let mode = entry.header().mode().unwrap_or(0o644);
        let node = match entry.header().entry_type() {
            tar::EntryType::Directory => Node::Dir { mode },
            tar::EntryType::Symlink => Node::Symlink {
                target: entry
                    .link_name()?
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            },
            tar::EntryType::Link => {
                let target = entry
                    .link_name()?
                    .map(|l| l.to_string_lossy().trim_start_matches("./").to_string())
                    .unwrap_or_default();
                match tree.get(&target) {
                    Some(n) => n.clone(),
                    None => continue,
                }
            }
            _ => {
                let mut data = Vec::new();
                entry.read_to_end(&mut data)?;
                Node::File {
                    mode,
                    data: data.into(),
                }
            }
        };
        if !matches!(node, Node::Dir { .. }) {
            let prefix = format!("{path}/");
            tree.retain(|k, _| !k.starts_with(&prefix));
        }
        tree.insert(path, node);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_reproducible_and_round_trip() {
        let mut t = Tree::new();
        t.insert(
            "app/bin/run".into(),
            Node::File {
                mode: 0o755,
                data: Arc::from(&b"#!/bin/sh\n"[..]),
            },
        );
        t.insert(
            "app/link".into(),
            Node::Symlink {
                target: "bin/run".into(),
            },
        );
        let a = build_layer(&t).expect("layer");
        let b = build_layer(&t.clone()).expect("layer");
        assert_eq!(a.digest, b.digest);
        let mut back = Tree::new();
        apply_layer(&mut back, &a.gzip).expect("apply");
        assert_eq!(back.get("app/bin/run"), t.get("app/bin/run"));
        assert_eq!(back.get("app"), Some(&Node::Dir { mode: 0o755 }));
        let mut wh = Tree::new();
        wh.insert(
            "app/.wh.link".into(),
            Node::File {
                mode: 0o644,
                data: Arc::from(&b""[..]),
            },
        );
        apply_layer(&mut back, &build_layer(&wh).expect("layer").gzip).expect("apply");
        assert!(!back.contains_key("app/link"));
    }
}
