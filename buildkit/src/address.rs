//! Daemon addresses as buildx spells them: `unix:///run/buildkit/buildkitd.sock`,
//! `tcp://host:port`, and `docker://` (or `docker://unix:///path/docker.sock`) for the BuildKit
//! embedded in dockerd. A `unix://` socket may be either; [`crate::connect`] asks it.

use std::fmt;
use std::path::PathBuf;

/// Errors of address parsing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{0}` is not a BuildKit address (`unix:///PATH`, `tcp://HOST:PORT`, `docker://` or `docker://unix:///PATH`)")]
    Unknown(String),
}

/// Where one daemon is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A Unix socket: buildkitd's own, or dockerd's (decided when connecting).
    Unix(PathBuf),
    /// `host:port` over TCP (TLS when certificates are given).
    Tcp(String),
    /// dockerd's socket, named as such: its embedded BuildKit through `/grpc`.
    Docker(PathBuf),
}

/// dockerd's default socket.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

impl Address {
    pub fn parse(text: &str) -> Result<Address, Error> {
        let unknown = || Error::Unknown(text.to_string());
        if let Some(rest) = text.strip_prefix("docker://") {
            if rest.is_empty() {
                return Ok(Address::Docker(PathBuf::from(DOCKER_SOCKET)));
            }
            return match Address::parse(rest)? {
                Address::Unix(p) => Ok(Address::Docker(p)),
                _ => Err(unknown()),
            };
        }
        if let Some(path) = text.strip_prefix("unix://") {
            if !path.starts_with('/') || path.len() < 2 {
                return Err(unknown());
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        if let Some(hostport) = text.strip_prefix("tcp://") {
            let hostport = hostport.trim_end_matches('/');
            let ok = hostport
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok || hostport.contains('/') {
                return Err(unknown());
            }
            return Ok(Address::Tcp(hostport.to_string()));
        }
        Err(unknown())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "unix://{}", p.display()),
            Address::Tcp(h) => write!(f, "tcp://{h}"),
            Address::Docker(p) => write!(f, "docker://unix://{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildx_spellings_parse() {
        assert_eq!(
            Address::parse("unix:///run/buildkit/buildkitd.sock").unwrap(),
            Address::Unix("/run/buildkit/buildkitd.sock".into())
        );
        assert_eq!(
            Address::parse("tcp://builder:1234").unwrap(),
            Address::Tcp("builder:1234".into())
        );
        assert_eq!(
            Address::parse("docker://").unwrap(),
            Address::Docker(DOCKER_SOCKET.into())
        );
        assert_eq!(
            Address::parse("docker://unix:///tmp/d.sock").unwrap(),
            Address::Docker("/tmp/d.sock".into())
        );
        assert_eq!(
            Address::parse("docker://unix:///tmp/d.sock")
                .unwrap()
                .to_string(),
            "docker://unix:///tmp/d.sock"
        );
    }

    #[test]
    fn other_spellings_are_refused() {
        for bad in [
            "/run/buildkit.sock",
            "unix://relative",
            "tcp://nohost",
            "tcp://:80",
            "tcp://h:99999",
            "docker://tcp://h:1",
            "http://h:1",
        ] {
            let e = Address::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("`{bad}` is not")), "{bad}: {e}");
        }
    }
}
