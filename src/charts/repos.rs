//! Named chart repositories in Helm's own file (`repositories.yaml`, where `helm repo add` keeps
//! them: `HELM_REPOSITORY_CONFIG`, else `$XDG_CONFIG_HOME/helm/repositories.yaml`, else
//! `~/.config/helm/repositories.yaml`) and their downloaded indexes (`NAME-index.yaml` in
//! `HELM_REPOSITORY_CACHE`, else `$XDG_CACHE_HOME/helm/repository`). A dependency's repository
//! `@NAME` or `alias:NAME` resolves here to its URL.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value as Json;

/// One named repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub url: String,
    pub username: String,
    pub password: String,
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
    pub insecure_skip_tls_verify: bool,
    pub pass_credentials_all: bool,
}

impl Entry {
    /// What this werf cannot do with the entry (client certificates, a custom CA, skipped TLS
    /// verification): an error naming the repository, instead of a request made differently.
    pub fn check_supported(&self) -> Result<()> {
        let unsupported = [
            ("caFile", !self.ca_file.is_empty()),
            ("certFile", !self.cert_file.is_empty()),
            ("keyFile", !self.key_file.is_empty()),
            ("insecure_skip_tls_verify", self.insecure_skip_tls_verify),
        ];
        if let Some((key, _)) = unsupported.iter().find(|(_, set)| *set) {
            bail!(
                "chart repository `{}`: `{key}` is not supported yet by werf-rs (remove it, or use an `oci://` or `https://` URL with a trusted certificate)",
                self.name
            );
        }
        Ok(())
    }
}

/// `repositories.yaml`.
#[derive(Clone, Debug, Default)]
pub struct Repositories {
    pub file: PathBuf,
    pub entries: Vec<Entry>,
}

fn env_dir(var: &str, xdg: &str, fallback: &str, leaf: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    let base = std::env::var_os(xdg).map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(fallback)
    });
    base.join("helm").join(leaf)
}

/// Helm's `repositories.yaml`.
pub fn config_file() -> PathBuf {
    env_dir(
        "HELM_REPOSITORY_CONFIG",
        "XDG_CONFIG_HOME",
        ".config",
        "repositories.yaml",
    )
}

/// Helm's repository cache folder (indexes).
pub fn cache_dir() -> PathBuf {
    env_dir(
        "HELM_REPOSITORY_CACHE",
        "XDG_CACHE_HOME",
        ".cache",
        "repository",
    )
}

fn text(v: &Json, key: &str) -> String {
    v.get(key)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A string as YAML writes it (JSON's quoting is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

impl Repositories {
    /// Reads `file` (a missing file is no repositories).
    pub fn load(file: &Path) -> Result<Repositories> {
        let text_ = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Repositories {
                    file: file.to_path_buf(),
                    entries: Vec::new(),
                })
            }
            Err(e) => return Err(e).with_context(|| format!("reading `{}`", file.display())),
        };
        let doc = gotemplate::yaml::load::load(&text_)
            .map_err(|e| anyhow!("`{}`: {e}", file.display()))?;
        let mut entries = Vec::new();
        for r in doc
            .get("repositories")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default()
        {
            entries.push(Entry {
                name: text(&r, "name"),
                url: text(&r, "url"),
                username: text(&r, "username"),
                password: text(&r, "password"),
                ca_file: text(&r, "caFile"),
                cert_file: text(&r, "certFile"),
                key_file: text(&r, "keyFile"),
                insecure_skip_tls_verify: r["insecure_skip_tls_verify"] == Json::Bool(true),
                pass_credentials_all: r["pass_credentials_all"] == Json::Bool(true),
            });
        }
        Ok(Repositories {
            file: file.to_path_buf(),
            entries,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The URL of a dependency's `repository` when it names one (`@NAME`, `alias:NAME`).
    pub fn resolve(&self, repository: &str) -> Result<Option<&Entry>> {
        let Some(name) = repository
            .strip_prefix('@')
            .or_else(|| repository.strip_prefix("alias:"))
        else {
            return Ok(None);
        };
        let entry = self.get(name).ok_or_else(|| {
            anyhow!(
                "no repository named `{name}` in `{}` (add it with `werf helm repo add {name} URL`)",
                self.file.display()
            )
        })?;
        entry.check_supported()?;
        Ok(Some(entry))
    }

    /// The file as Helm writes it (keys in order, every field present).
    pub fn to_yaml(&self, generated: &str) -> String {
        let mut out = format!(
            "apiVersion: \"\"\ngenerated: {}\nrepositories:\n",
            quoted(generated)
        );
        if self.entries.is_empty() {
            out = format!(
                "apiVersion: \"\"\ngenerated: {}\nrepositories: []\n",
                quoted(generated)
            );
        }
        for e in &self.entries {
            out.push_str(&format!(
                "- caFile: {}\n  certFile: {}\n  insecure_skip_tls_verify: {}\n  keyFile: {}\n  name: {}\n  pass_credentials_all: {}\n  password: {}\n  url: {}\n  username: {}\n",
                quoted(&e.ca_file),
                quoted(&e.cert_file),
                e.insecure_skip_tls_verify,
                quoted(&e.key_file),
                quoted(&e.name),
                e.pass_credentials_all,
                quoted(&e.password),
                quoted(&e.url),
                quoted(&e.username),
            ));
        }
        out
    }

    /// Writes the file whole or not at all (readable by its owner only: it may hold passwords).
    pub fn save(&self, generated: &str) -> Result<()> {
        crate::files::write_whole(&self.file, self.to_yaml(generated).as_bytes(), true)?;
        Ok(())
    }
}

/// Whether `name` may name a repository (Helm refuses `/` and an empty name).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && name != "." && name != ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_round_trips_and_names_resolve() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("helm/repositories.yaml");
        let mut repos = Repositories::load(&file).expect("no file is no repositories");
        assert!(repos.entries.is_empty());
        repos.entries.push(Entry {
            name: "bitnami".into(),
            url: "https://charts.example/bitnami".into(),
            username: "u".into(),
            password: "p\"w".into(),
            ..Entry::default()
        });
        repos.save("2026-01-01T00:00:00Z").expect("saves");
        let back = Repositories::load(&file).expect("loads");
        assert_eq!(back.entries, repos.entries);
        assert_eq!(
            back.resolve("@bitnami")
                .expect("known")
                .map(|e| e.url.as_str()),
            Some("https://charts.example/bitnami")
        );
        assert_eq!(
            back.resolve("alias:bitnami")
                .expect("known")
                .map(|e| e.name.as_str()),
            Some("bitnami")
        );
        assert!(back.resolve("https://x").expect("a URL").is_none());
        let e = back.resolve("@other").expect_err("unknown");
        assert!(e.to_string().contains("no repository named `other`"), "{e}");
        let mode = std::fs::metadata(&file).expect("file").permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }

    #[test]
    fn what_is_not_supported_is_an_error_naming_the_key() {
        let e = Entry {
            name: "r".into(),
            ca_file: "/ca.pem".into(),
            ..Entry::default()
        };
        let err = e.check_supported().expect_err("unsupported");
        assert!(err.to_string().contains("`caFile`"), "{err}");
        assert!(Entry::default().check_supported().is_ok());
    }
}
