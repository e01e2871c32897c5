//! A gRPC channel to one daemon. buildkitd speaks gRPC on its socket directly; dockerd serves
//! its embedded BuildKit on `POST /grpc` upgraded to `h2c`, which is what buildx's docker
//! driver does too: the HTTP/1.1 upgrade is made here, then the socket carries HTTP/2.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tonic::transport::{Channel, Endpoint};

use crate::address::Address;

/// Errors of reaching a daemon.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reaching `{address}`")]
    Io {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{address}` did not switch to gRPC: it answered `{answer}`")]
    Upgrade { address: String, answer: String },
    #[error("TLS settings for `{address}`: {reason}")]
    Tls { address: String, reason: String },
    #[error("gRPC channel to `{address}`")]
    Transport {
        address: String,
        #[source]
        source: tonic::transport::Error,
    },
}

/// Certificates for `tcp://` daemons (`--buildkit-tls-*`); without them TCP is plain h2c.
#[derive(Clone, Debug, Default)]
pub struct Tls {
    pub ca: PathBuf,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The name the server's certificate must carry (default: the address's host).
    pub server_name: Option<String>,
}

/// How long reaching a socket (and dockerd's upgrade answer) may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// The socket carrying gRPC, whichever kind it is.
enum Io {
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Io::Unix($s) => $e,
            Io::Tcp($s) => $e,
            Io::Tls($s) => $e,
        }
    };
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// Reads an HTTP/1.1 answer's head byte by byte, so nothing after it (the server's first
/// HTTP/2 frames) is consumed.
async fn read_head(stream: &mut UnixStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || stream.read(&mut byte).await? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Whether the socket at `path` is dockerd's (it answers `GET /_ping` with an `Api-Version`).
pub async fn is_docker(path: &Path) -> std::io::Result<bool> {
    let mut s = UnixStream::connect(path).await?;
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
        .await?;
    let head = tokio::time::timeout(Duration::from_secs(3), read_head(&mut s))
        .await
        .unwrap_or_else(|_| Ok(String::new()))?;
    Ok(head.starts_with("HTTP/1.") && head.to_ascii_lowercase().contains("api-version:"))
}

/// Opens dockerd's `/grpc` endpoint: after `101 Switching Protocols` the socket is HTTP/2.
async fn docker_grpc(path: &Path, address: &str) -> Result<UnixStream, Error> {
    let io = |source| Error::Io {
        address: address.to_string(),
        source,
    };
    let mut s = UnixStream::connect(path).await.map_err(io)?;
    s.write_all(
        b"POST /grpc HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n",
    )
    .await
    .map_err(io)?;
    let head = read_head(&mut s).await.map_err(io)?;
    if !head.starts_with("HTTP/1.1 101") {
        let answer = head.lines().next().unwrap_or("nothing").to_string();
        return Err(Error::Upgrade {
            address: address.to_string(),
            answer,
        });
    }
    Ok(s)
}

fn tls_config(address: &str, tls: &Tls) -> Result<rustls::ClientConfig, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |reason: String| Error::Tls {
        address: address.to_string(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.ca)
        .and_then(|i| i.collect())
        .map_err(|e| bad(format!("`{}`: {e}", tls.ca.display())))?;
    if cas.is_empty() {
        return Err(bad(format!("`{}` holds no certificate", tls.ca.display())));
    }
    for c in cas {
        roots
            .add(c)
            .map_err(|e| bad(format!("`{}`: {e}", tls.ca.display())))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots);
    let mut config = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .and_then(|i| i.collect())
                .map_err(|e| bad(format!("`{}`: {e}", cert.display())))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| bad(format!("`{}`: {e}", key.display())))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| bad(e.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(bad(
                "a client certificate needs its key, and a key its certificate".into(),
            ))
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

async fn dial(
    address: Address,
    docker: bool,
    tls: Option<Arc<(rustls::ClientConfig, String)>>,
) -> Result<Io, Error> {
    let shown = address.to_string();
    let io = |source| Error::Io {
        address: shown.clone(),
        source,
    };
    let fut = async {
        match &address {
            Address::Docker(p) => Ok(Io::Unix(docker_grpc(p, &shown).await?)),
            Address::Unix(p) if docker => Ok(Io::Unix(docker_grpc(p, &shown).await?)),
            Address::Unix(p) => Ok(Io::Unix(UnixStream::connect(p).await.map_err(io)?)),
            Address::Tcp(h) => {
                let s = TcpStream::connect(h).await.map_err(io)?;
                s.set_nodelay(true).map_err(io)?;
                match tls {
                    None => Ok(Io::Tcp(s)),
                    Some(t) => {
                        let (config, name) = &*t;
                        let name =
                            rustls::pki_types::ServerName::try_from(name.clone()).map_err(|e| {
                                Error::Tls {
                                    address: shown.clone(),
                                    reason: e.to_string(),
                                }
                            })?;
                        let connector = tokio_rustls::TlsConnector::from(Arc::new(config.clone()));
                        let s = connector.connect(name, s).await.map_err(io)?;
                        Ok(Io::Tls(Box::new(s)))
                    }
                }
            }
        }
    };
    tokio::time::timeout(DIAL_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| {
            Err(io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer",
            )))
        })
}

/// A daemon reached.
#[derive(Clone, Debug)]
pub struct Connected {
    /// Reconnects by itself after a lost connection.
    pub channel: Channel,
    /// dockerd's socket, when the daemon is dockerd (whose image store holds the results).
    pub docker: Option<PathBuf>,
}

/// A channel to the daemon at `address`. `unix://` sockets are asked whether they are
/// dockerd's. The connection is pinged every `keepalive`: a daemon that answers no ping for
/// twice that long (stopped, its machine gone without closing the connection) is lost, and
/// the calls in flight fail as such instead of waiting for ever.
pub async fn connect(
    address: &Address,
    tls: Option<&Tls>,
    keepalive: Duration,
) -> Result<Connected, Error> {
    let shown = address.to_string();
    let docker = match address {
        Address::Unix(p) => is_docker(p).await.map_err(|source| Error::Io {
            address: shown.clone(),
            source,
        })?,
        _ => false,
    };
    let tls = match (address, tls) {
        (Address::Tcp(h), Some(t)) => {
            let host = h.rsplit_once(':').map(|(h, _)| h).unwrap_or(h);
            let name = t
                .server_name
                .clone()
                .unwrap_or_else(|| host.trim_matches(['[', ']']).to_string());
            Some(Arc::new((tls_config(&shown, t)?, name)))
        }
        _ => None,
    };
    let target = address.clone();
    let connector = tower::service_fn(move |_: tonic::transport::Uri| {
        let target = target.clone();
        let tls = tls.clone();
        async move { dial(target, docker, tls).await }
    });
    let channel = Endpoint::from_static("http://buildkitd")
        .connect_timeout(DIAL_TIMEOUT)
        .http2_keep_alive_interval(keepalive)
        .keep_alive_timeout(keepalive * 2)
        .keep_alive_while_idle(true)
        .connect_with_connector(connector)
        .await
        .map_err(|source| Error::Transport {
            address: shown,
            source,
        })?;
    let docker = match address {
        Address::Docker(p) => Some(p.clone()),
        Address::Unix(p) if docker => Some(p.clone()),
        _ => None,
    };
    Ok(Connected { channel, docker })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn tls_settings_load_a_ca_and_a_client_pair_and_name_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["buildkitd".into()]).unwrap();
        let client = rcgen::generate_simple_self_signed(vec!["werf".into()]).unwrap();
        let ca_pem = write(dir.path(), "ca.pem", &ca.cert.pem());
        let cert = write(dir.path(), "cert.pem", &client.cert.pem());
        let key = write(dir.path(), "key.pem", &client.signing_key.serialize_pem());
        let t = |cert: Option<&PathBuf>, key: Option<&PathBuf>| Tls {
            ca: ca_pem.clone(),
            cert: cert.cloned(),
            key: key.cloned(),
            server_name: None,
        };
        let c = tls_config("tcp://b:1", &t(Some(&cert), Some(&key))).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"h2".to_vec()]);
        assert!(c.client_auth_cert_resolver.has_certs());
        let c = tls_config("tcp://b:1", &t(None, None)).unwrap();
        assert!(!c.client_auth_cert_resolver.has_certs());

        let e = tls_config("tcp://b:1", &t(Some(&cert), None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("a client certificate needs its key"), "{e}");
        let empty = write(dir.path(), "empty.pem", "");
        let e = tls_config(
            "tcp://b:1",
            &Tls {
                ca: empty.clone(),
                ..t(None, None)
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(&format!("`{}` holds no certificate", empty.display())),
            "{e}"
        );
        let e = tls_config(
            "tcp://b:1",
            &Tls {
                ca: dir.path().join("missing.pem"),
                ..t(None, None)
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("TLS settings for `tcp://b:1`: `"), "{e}");
        assert!(e.contains("missing.pem"), "{e}");
    }
}
