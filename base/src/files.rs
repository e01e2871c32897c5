//! Files written whole or not at all: a temporary file beside the target (readable by its
//! owner only), written and synced, then renamed over it. Secrets' outputs, Helm's
//! `repositories.yaml` and its indexes, and the chart cache go through here.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A file that could not be written whole (nothing was left half-written).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create `{}`", .0.display())]
    CreateDir(PathBuf, #[source] std::io::Error),
    #[error("cannot write into `{}`", .0.display())]
    Temporary(PathBuf, #[source] std::io::Error),
    #[error("cannot write `{}`", .0.display())]
    Write(PathBuf, #[source] std::io::Error),
}

/// Writes `data` as `path`, whole; `create_parent` makes the folder first.
pub fn write_whole(path: &Path, data: &[u8], create_parent: bool) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if create_parent {
        std::fs::create_dir_all(dir).map_err(|e| Error::CreateDir(dir.to_path_buf(), e))?;
    }
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::Temporary(dir.to_path_buf(), e))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| tmp.write_all(data))
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::Write(path.to_path_buf(), e))?;
    tmp.persist(path)
        .map_err(|e| Error::Write(path.to_path_buf(), e.error))?;
    Ok(())
}
