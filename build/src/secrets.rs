//! werf.yaml `secrets` read for a build (`value`, `env`, `src`): the bytes `RUN
//! --mount=type=secret` sees, never part of a digest or of any output.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use werf_graph::config::{SecretFrom, SecretSource};

/// A secret that cannot be read, by id.
#[derive(Debug, thiserror::Error)]
#[error("secret `{id}`: {reason}")]
pub struct Error {
    pub id: String,
    pub reason: String,
}

/// A secret's bytes; never shown.
#[derive(Clone)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

/// The values of `secrets` by id, read now: `src` relative to `project_dir` (or `~/`), `env`
/// from this process's environment.
pub fn read(
    secrets: &[SecretSource],
    project_dir: &Path,
) -> Result<BTreeMap<String, Secret>, Error> {
    let mut out = BTreeMap::new();
    for s in secrets {
        let bad = |reason: String| Error {
            id: s.id.clone(),
            reason,
        };
        let value = match &s.from {
            SecretFrom::Env(name) => std::env::var_os(name)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| bad(format!("the environment variable `{name}` is not set")))?,
            SecretFrom::File(path) => {
                let full = match path.strip_prefix("~/") {
                    Some(rest) => std::env::var_os("HOME")
                        .map(PathBuf::from)
                        .unwrap_or_default()
                        .join(rest),
                    None => project_dir.join(path),
                };
                std::fs::read(&full).map_err(|e| bad(format!("`{}`: {e}", full.display())))?
            }
            SecretFrom::Value(v) => v.as_bytes().to_vec(),
        };
        out.insert(s.id.clone(), Secret(value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_source_is_read_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.txt"), "from a file").unwrap();
        let src = |id: &str, from: SecretFrom| SecretSource {
            id: id.into(),
            from,
        };
        let got = read(
            &[
                src("v", SecretFrom::Value("literal".into())),
                src("f", SecretFrom::File("s.txt".into())),
                src("p", SecretFrom::Env("PATH".into())),
            ],
            dir.path(),
        )
        .unwrap();
        assert_eq!(got["v"].0, b"literal");
        assert_eq!(got["f"].0, b"from a file");
        assert!(!got["p"].0.is_empty());
        assert_eq!(format!("{:?}", got["v"]), "Secret(<7 bytes>)");
        let e = read(
            &[src(
                "x",
                SecretFrom::Env("WERF_TEST_SURELY_UNSET_VAR".into()),
            )],
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "secret `x`: the environment variable `WERF_TEST_SURELY_UNSET_VAR` is not set"
        );
        let e = read(&[src("y", SecretFrom::File("gone.txt".into()))], dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("secret `y`: `") && e.contains("gone.txt"),
            "{e}"
        );
    }
}
