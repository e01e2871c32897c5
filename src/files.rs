//! Files written whole or not at all: a temporary file beside the target (readable by its
//! owner only), written and synced, then renamed over it. Secrets' outputs, Helm's
//! `repositories.yaml` and its indexes, and the chart cache go through here.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};

/// Writes `data` as `path`, whole; `create_parent` makes the folder first.
pub fn write_whole(path: &Path, data: &[u8], create_parent: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if create_parent {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write into `{}`", dir.display()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| tmp.write_all(data))
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}
