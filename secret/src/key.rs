//! Where werf finds the secret key: `WERF_SECRET_KEY`, then `.werf_secret_key` in the project,
//! then `~/.werf/global_secret_key`.

use std::path::{Path, PathBuf};

use super::cipher::{self, Key};

/// Why no usable key was found.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no secret key to decrypt werf's secrets: set `WERF_SECRET_KEY`, or write `.werf_secret_key` in the project or `~/.werf/global_secret_key` (`werf helm secret generate-secret-key` makes one)")]
    Missing,
    #[error("the secret key from {from} cannot be used")]
    Bad {
        from: String,
        #[source]
        source: cipher::Error,
    },
    #[error("cannot read the secret key `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The key from the variable `env` (`WERF_SECRET_KEY`; `WERF_OLD_SECRET_KEY` for rotation), the
/// project's `.werf_secret_key`, or the user's global key.
pub fn find(env: &str, project: &Path) -> Result<Key, Error> {
    let parse =
        |text: &str, from: String| Key::parse(text).map_err(|source| Error::Bad { from, source });
    if let Ok(text) = std::env::var(env) {
        if !text.trim().is_empty() {
            return parse(&text, format!("`{env}`"));
        }
    }
    let mut files = vec![project.join(".werf_secret_key")];
    if let Some(home) = std::env::var_os("HOME") {
        files.push(PathBuf::from(home).join(".werf/global_secret_key"));
    }
    for path in files {
        match std::fs::read_to_string(&path) {
            Ok(text) => return parse(&text, format!("`{}`", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Read { path, source }),
        }
    }
    Err(Error::Missing)
}
