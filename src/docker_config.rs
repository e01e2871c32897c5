//! Docker configs (`config.json`) as werf-rs edits them: logins added as `docker login` stores
//! them (`auths.HOST.auth`, base64 of `USER:PASSWORD`) and removed as `docker logout` does,
//! the rest of the file kept; `werf cr login|logout` edit the user's, `werf ci-env` makes a job's
//! own folder under the werf-rs home from a copy of it. Files are readable by their owner only.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine as _;

/// The largest Docker config read.
const MAX_CONFIG: u64 = 4 << 20;

/// How long the folders of earlier jobs are kept.
const KEPT_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why the job's Docker config could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the Docker config `{}`", .0.display())]
    Read(PathBuf, #[source] std::io::Error),
    #[error("the Docker config `{}` is larger than {MAX_CONFIG} bytes", .0.display())]
    TooLarge(PathBuf),
    #[error("the Docker config `{}` is not a JSON object", .0.display())]
    NotAnObject(PathBuf),
    #[error("the Docker config `{}` is not valid JSON", .0.display())]
    Json(PathBuf, #[source] serde_json::Error),
    #[error("cannot make the folder `{}`", .0.display())]
    Folder(PathBuf, #[source] std::io::Error),
    #[error(transparent)]
    Write(#[from] werf_base::files::Error),
}

/// Credentials to store for a registry.
pub struct Credentials<'a> {
    pub registry: &'a str,
    pub user: &'a str,
    pub password: &'a str,
}

/// The user's `config.json`: `--docker-config` (exported as `DOCKER_CONFIG` at start),
/// `DOCKER_CONFIG`, else `~/.docker`, as every registry client of the run reads it.
pub fn user_file() -> Option<PathBuf> {
    crate::registry::docker_config_folder().map(|d| d.join("config.json"))
}

/// Adds `login` to `config`.
fn add_login(config: &mut serde_json::Map<String, serde_json::Value>, login: &Credentials<'_>) {
    let auths = config
        .entry("auths")
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    if !auths.is_object() {
        *auths = serde_json::Value::Object(Default::default());
    }
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", login.user, login.password));
    if let Some(auths) = auths.as_object_mut() {
        auths.insert(
            login.registry.to_string(),
            serde_json::json!({ "auth": auth }),
        );
    }
}

/// `docker login`: `login` stored in the config at `path` (made when missing), whole or not at
/// all.
pub fn login(path: &Path, login: &Credentials<'_>) -> Result<(), Error> {
    let mut config = read(path)?;
    add_login(&mut config, login);
    write(path, config)
}

/// `docker logout`: the login of `registry` removed from the config at `path`; `false` when
/// there was none.
pub fn logout(path: &Path, registry: &str) -> Result<bool, Error> {
    let mut config = read(path)?;
    let removed = config
        .get_mut("auths")
        .and_then(serde_json::Value::as_object_mut)
        .and_then(|auths| auths.remove(registry))
        .is_some();
    if removed {
        write(path, config)?;
    }
    Ok(removed)
}

fn write(path: &Path, config: serde_json::Map<String, serde_json::Value>) -> Result<(), Error> {
    let text = serde_json::to_vec_pretty(&serde_json::Value::Object(config))
        .map_err(|e| Error::Json(path.to_path_buf(), e))?;
    werf_base::files::write_whole(path, &text, true)?;
    Ok(())
}

/// Makes a new folder under `home` holding the config of `source` (when it has one) with
/// `login` added; folders of jobs older than a week are removed.
pub fn make(
    home: &Path,
    source: Option<&Path>,
    login: Option<Credentials<'_>>,
) -> Result<PathBuf, Error> {
    use std::os::unix::fs::DirBuilderExt as _;
    let mut config = match source.map(|s| s.join("config.json")) {
        Some(path) => read(&path)?,
        None => serde_json::Map::new(),
    };
    if let Some(login) = login {
        add_login(&mut config, &login);
    }
    let parent = home.join("tmp").join("ci-env");
    std::fs::create_dir_all(&parent).map_err(|e| Error::Folder(parent.clone(), e))?;
    prune(&parent);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let folder = parent.join(format!("docker-config-{}-{nanos}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&folder)
        .map_err(|e| Error::Folder(folder.clone(), e))?;
    write(&folder.join("config.json"), config)?;
    Ok(folder)
}

/// The config at `path` (none there: an empty one).
fn read(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    use std::io::Read as _;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(Error::Read(path.to_path_buf(), e)),
    };
    let mut text = Vec::new();
    file.take(MAX_CONFIG + 1)
        .read_to_end(&mut text)
        .map_err(|e| Error::Read(path.to_path_buf(), e))?;
    if text.len() as u64 > MAX_CONFIG {
        return Err(Error::TooLarge(path.to_path_buf()));
    }
    match serde_json::from_slice(&text).map_err(|e| Error::Json(path.to_path_buf(), e))? {
        serde_json::Value::Object(m) => Ok(m),
        _ => Err(Error::NotAnObject(path.to_path_buf())),
    }
}

/// Removes what earlier jobs left in `parent` more than a week ago (best effort).
fn prune(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > KEPT_FOR);
        if old {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_config_is_copied_and_the_login_added() {
        let home = tempfile::tempdir().expect("tempdir");
        let user = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            user.path().join("config.json"),
            r#"{"auths":{"other.example.com":{"auth":"b3RoZXI6eA=="}},"credHelpers":{"gcr.io":"gcloud"}}"#,
        )
        .expect("write");
        let folder = make(
            home.path(),
            Some(user.path()),
            Some(Credentials {
                registry: "registry.example.com:5050",
                user: "gitlab-ci-token",
                password: "token",
            }),
        )
        .expect("made");
        assert!(folder.starts_with(home.path().join("tmp/ci-env")));
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(folder.join("config.json")).expect("read"))
                .expect("json");
        assert_eq!(
            config,
            serde_json::json!({
                "auths": {
                    "other.example.com": {"auth": "b3RoZXI6eA=="},
                    // base64 of `gitlab-ci-token:token`
                    "registry.example.com:5050": {"auth": "Z2l0bGFiLWNpLXRva2VuOnRva2Vu"},
                },
                "credHelpers": {"gcr.io": "gcloud"},
            })
        );
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&folder.join("config.json")), 0o600);
        // The user's own config is untouched.
        assert!(!std::fs::read_to_string(user.path().join("config.json"))
            .expect("read")
            .contains("registry.example.com"));
    }

    #[test]
    fn login_and_logout_keep_the_rest_of_the_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/config.json");
        let creds = |registry| Credentials {
            registry,
            user: "u",
            password: "p",
        };
        login(&path, &creds("a.example.com")).expect("login");
        login(&path, &creds("b.example.com")).expect("login");
        assert!(logout(&path, "a.example.com").expect("logout"));
        assert!(!logout(&path, "a.example.com").expect("logout again"));
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        // base64 of `u:p`
        assert_eq!(
            config,
            serde_json::json!({"auths": {"b.example.com": {"auth": "dTpw"}}})
        );
    }

    #[test]
    fn a_broken_config_is_an_error_naming_it() {
        let home = tempfile::tempdir().expect("tempdir");
        let user = tempfile::tempdir().expect("tempdir");
        std::fs::write(user.path().join("config.json"), "{not json").expect("write");
        let e = make(home.path(), Some(user.path()), None).expect_err("broken");
        assert!(
            matches!(e, Error::Json(ref p, _) if p.ends_with("config.json")),
            "{e}"
        );
        // No config at all is an empty one.
        let empty = tempfile::tempdir().expect("tempdir");
        assert!(!logout(&empty.path().join("config.json"), "x").expect("nothing to remove"));
        let folder = make(home.path(), Some(empty.path()), None).expect("made");
        assert_eq!(
            std::fs::read_to_string(folder.join("config.json")).expect("read"),
            "{}"
        );
    }
}
