//! Credentials for a registry host from the Docker config: `auths` entries, then credential
//! helpers (`credHelpers`, `credsStore`).

use std::path::PathBuf;

use oci_client::secrets::RegistryAuth;

use super::{Error, Result};

/// The Docker config folder: `$DOCKER_CONFIG`, else `~/.docker` (`--docker-config` sets
/// `DOCKER_CONFIG` at start).
pub fn docker_config_folder() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
}

/// Credentials for `host` from `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`):
/// `auths` entries (`auth` base64 or `username`/`password`, `identitytoken`), then
/// `credHelpers`/`credsStore` through `docker-credential-NAME get`. Anonymous when none apply.
pub fn credentials(host: &str) -> Result<RegistryAuth> {
    let Some(path) = docker_config_folder().map(|d| d.join("config.json")) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let cred_err = |message: String| Error::Credentials {
        registry: host.to_string(),
        message,
    };
    let config: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| cred_err(format!("`{}` is not valid JSON: {e}", path.display())))?;
    let keys = [
        host.to_string(),
        format!("https://{host}"),
        format!("http://{host}"),
        format!("https://{host}/v1/"),
    ];
    if let Some(auths) = config.get("auths").and_then(|a| a.as_object()) {
        for k in &keys {
            let Some(entry) = auths.get(k) else { continue };
            if let Some(token) = entry.get("identitytoken").and_then(|t| t.as_str()) {
                return Ok(RegistryAuth::Bearer(token.to_string()));
            }
            if let (Some(u), Some(p)) = (
                entry.get("username").and_then(|v| v.as_str()),
                entry.get("password").and_then(|v| v.as_str()),
            ) {
                return Ok(RegistryAuth::Basic(u.to_string(), p.to_string()));
            }
            if let Some(auth) = entry.get("auth").and_then(|v| v.as_str()) {
                use base64::Engine;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth)
                    .map_err(|e| {
                        cred_err(format!("`auth` in `{}` is not base64: {e}", path.display()))
                    })?;
                let decoded = String::from_utf8(decoded).map_err(|e| cred_err(e.to_string()))?;
                let (u, p) = decoded
                    .split_once(':')
                    .ok_or_else(|| cred_err("`auth` must encode `user:password`".into()))?;
                return Ok(RegistryAuth::Basic(u.to_string(), p.to_string()));
            }
        }
    }
    let helper = config
        .get("credHelpers")
        .and_then(|h| h.get(host))
        .or_else(|| config.get("credsStore"))
        .and_then(|v| v.as_str());
    if let Some(helper) = helper {
        return credential_helper(helper, host).map_err(|e| cred_err(e.to_string()));
    }
    Ok(RegistryAuth::Anonymous)
}

/// Why a credential helper gave no credentials.
#[derive(Debug, thiserror::Error)]
enum HelperError {
    #[error("cannot run `{program}`: {cause}")]
    Spawn {
        program: String,
        cause: std::io::Error,
    },
    #[error("`{program}`: {cause}")]
    Io {
        program: String,
        cause: std::io::Error,
    },
    #[error("`{program}` printed invalid JSON: {cause}")]
    Json {
        program: String,
        cause: serde_json::Error,
    },
}

fn credential_helper(helper: &str, host: &str) -> std::result::Result<RegistryAuth, HelperError> {
    use std::io::Write;
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|cause| HelperError::Spawn {
            program: program.clone(),
            cause,
        })?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(host.as_bytes())
        .map_err(|cause| HelperError::Io {
            program: program.clone(),
            cause,
        })?;
    let out = child.wait_with_output().map_err(|cause| HelperError::Io {
        program: program.clone(),
        cause,
    })?;
    if !out.status.success() {
        // Helpers answer "credentials not found" with a failure: that means anonymous.
        return Ok(RegistryAuth::Anonymous);
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|cause| HelperError::Json {
            program: program.clone(),
            cause,
        })?;
    let user = v
        .get("Username")
        .and_then(|u| u.as_str())
        .unwrap_or_default();
    let secret = v.get("Secret").and_then(|s| s.as_str()).unwrap_or_default();
    Ok(if user == "<token>" {
        RegistryAuth::Bearer(secret.to_string())
    } else {
        RegistryAuth::Basic(user.to_string(), secret.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_auth_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths": {"r.example": {"auth": "dXNlcjpwYXNz"}, "t.example": {"identitytoken": "tok"}}}"#,
        )
        .expect("write");
        std::env::set_var("DOCKER_CONFIG", dir.path());
        assert!(
            matches!(credentials("r.example"), Ok(RegistryAuth::Basic(u, p)) if u == "user" && p == "pass")
        );
        assert!(matches!(credentials("t.example"), Ok(RegistryAuth::Bearer(t)) if t == "tok"));
        assert!(matches!(
            credentials("other.example"),
            Ok(RegistryAuth::Anonymous)
        ));
        std::env::remove_var("DOCKER_CONFIG");
    }
}
