//! A client session on dockerd: the daemon calls back into it during a solve. werf-rs serves
//! secrets (`RUN --mount=type=secret`) and the health check BuildKit watches the session with.
//!
//! dockerd opens sessions on `POST /session` upgraded to `h2c`, naming the session and the gRPC
//! methods the client serves in `X-Docker-Expose-Session-*` headers; after the upgrade the
//! client is the gRPC server of that connection.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tonic::{Request, Response, Status};

use crate::proto::secrets::secrets_server::{Secrets, SecretsServer};
use crate::proto::secrets::{GetSecretRequest, GetSecretResponse};

/// Errors of opening a session.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("opening a session on `{socket}`")]
    Io {
        socket: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{socket}` did not open a session: it answered `{answer}`")]
    Refused { socket: String, answer: String },
}

/// A secret's bytes; never shown.
#[derive(Clone)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

struct Store(Arc<HashMap<String, Secret>>);

#[tonic::async_trait]
impl Secrets for Store {
    async fn get_secret(
        &self,
        request: Request<GetSecretRequest>,
    ) -> Result<Response<GetSecretResponse>, Status> {
        let id = request.into_inner().id;
        match self.0.get(&id) {
            Some(s) => Ok(Response::new(GetSecretResponse { data: s.0.clone() })),
            None => Err(Status::not_found(format!(
                "secret `{id}` is not among the image's `secrets`"
            ))),
        }
    }
}

const SECRETS_METHOD: &str = "/moby.buildkit.secrets.v1.Secrets/GetSecret";
const HEALTH_METHOD: &str = "/grpc.health.v1.Health/Check";

/// An open session; closed (HTTP/2 GOAWAY) when dropped.
pub struct Session {
    pub id: String,
    close: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
    }
}

/// Opens a session on dockerd's socket serving `secrets`; must be called within a runtime.
pub async fn open_docker(
    socket: &Path,
    id: &str,
    secrets: HashMap<String, Secret>,
) -> Result<Session, Error> {
    let shown = socket.display().to_string();
    let io = |source| Error::Io {
        socket: shown.clone(),
        source,
    };
    let mut s = UnixStream::connect(socket).await.map_err(io)?;
    let request = format!(
        "POST /session HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\
         X-Docker-Expose-Session-Uuid: {id}\r\nX-Docker-Expose-Session-Name: werf\r\n\
         X-Docker-Expose-Session-Sharedkey: {id}\r\n\
         X-Docker-Expose-Session-Grpc-Method: {SECRETS_METHOD}\r\n\
         X-Docker-Expose-Session-Grpc-Method: {HEALTH_METHOD}\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await.map_err(io)?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || s.read(&mut byte).await.map_err(io)? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    if !head.starts_with("HTTP/1.1 101") {
        return Err(Error::Refused {
            socket: shown,
            answer: head.lines().next().unwrap_or("nothing").to_string(),
        });
    }
    let (_reporter, health) = tonic_health::server::health_reporter();
    let store = Store(Arc::new(secrets));
    // The one connection, then none: the server lives until the session is dropped.
    let incoming = tokio_stream::StreamExt::chain(
        tokio_stream::once(Ok::<_, std::io::Error>(s)),
        tokio_stream::pending(),
    );
    let (close, closed) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(health)
            .add_service(SecretsServer::new(store))
            .serve_with_incoming_shutdown(incoming, async {
                let _ = closed.await;
            })
            .await;
    });
    Ok(Session {
        id: id.to_string(),
        close: Some(close),
    })
}
