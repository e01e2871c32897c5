//! A client session: the daemon calls back into it during a solve. werf-rs serves secrets
//! (`RUN --mount=type=secret`), registry credentials (the daemon's own pulls and pushes) and
//! the health check BuildKit watches the session with.
//!
//! The session is named, and the gRPC methods the client serves listed, in
//! `X-Docker-Expose-Session-*` metadata; then the client is the gRPC server of a connection the
//! daemon is the client of, carried by the Control API's `Session` stream (that connection's
//! bytes in `BytesMessage`s), which every BuildKit daemon serves: buildkitd, and dockerd on
//! `/grpc` (dockerd's own `POST /session` carrier is not needed).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tonic::{Request, Response, Status};

use crate::proto::auth::auth_server::{Auth, AuthServer};
use crate::proto::auth::{
    CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse,
    GetTokenAuthorityRequest, GetTokenAuthorityResponse, VerifyTokenAuthorityRequest,
    VerifyTokenAuthorityResponse,
};
use crate::proto::secrets::secrets_server::{Secrets, SecretsServer};
use crate::proto::secrets::{GetSecretRequest, GetSecretResponse};

/// Errors of opening a session.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("session metadata `{0}` is not plain ASCII")]
    Header(String),
    #[error("the daemon did not open the session")]
    Refused(#[source] Box<tonic::Status>),
}

impl Error {
    /// Whether the daemon went away rather than refusing.
    pub fn is_lost(&self) -> bool {
        matches!(self, Error::Refused(status) if crate::solve::lost(status))
    }
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

/// A registry's credentials for the daemon: (user name, password or identity token).
pub type Credentials = Arc<dyn Fn(&str) -> Option<(String, String)> + Send + Sync>;

/// What a session serves.
#[derive(Clone)]
pub struct Services {
    /// Secrets by id.
    pub secrets: HashMap<String, Secret>,
    /// Credentials by registry host (`None`: anonymous).
    pub credentials: Credentials,
}

struct Registries(Credentials);

#[tonic::async_trait]
impl Auth for Registries {
    async fn credentials(
        &self,
        request: Request<CredentialsRequest>,
    ) -> Result<Response<CredentialsResponse>, Status> {
        let host = request.into_inner().host;
        let (username, secret) = (self.0)(&host).unwrap_or_default();
        Ok(Response::new(CredentialsResponse { username, secret }))
    }

    async fn fetch_token(
        &self,
        _: Request<FetchTokenRequest>,
    ) -> Result<Response<FetchTokenResponse>, Status> {
        Err(Status::unimplemented("the daemon fetches tokens itself"))
    }

    async fn get_token_authority(
        &self,
        _: Request<GetTokenAuthorityRequest>,
    ) -> Result<Response<GetTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("no token authority"))
    }

    async fn verify_token_authority(
        &self,
        _: Request<VerifyTokenAuthorityRequest>,
    ) -> Result<Response<VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("no token authority"))
    }
}

const SECRETS_METHOD: &str = "/moby.buildkit.secrets.v1.Secrets/GetSecret";
const CREDENTIALS_METHOD: &str = "/moby.filesync.v1.Auth/Credentials";
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

/// Serves the session's services on `io` until `closed` fires.
fn serve<IO>(io: IO, services: Services, closed: tokio::sync::oneshot::Receiver<()>)
where
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
{
    let (_reporter, health) = tonic_health::server::health_reporter();
    let store = Store(Arc::new(services.secrets));
    let registries = Registries(services.credentials);
    // The one connection, then none: the server lives until the session is dropped.
    let incoming = tokio_stream::StreamExt::chain(
        tokio_stream::once(Ok::<_, std::io::Error>(io)),
        tokio_stream::pending(),
    );
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(health)
            .add_service(SecretsServer::new(store))
            .add_service(AuthServer::new(registries))
            .serve_with_incoming_shutdown(incoming, async {
                let _ = closed.await;
            })
            .await;
    });
}

/// Opens a session through the Control API's `Session` stream on `channel`, serving
/// `services`; must be called within a runtime.
pub async fn open_control(
    channel: tonic::transport::Channel,
    id: &str,
    services: Services,
) -> Result<Session, Error> {
    use crate::proto::control::{control_client::ControlClient, BytesMessage};
    use tokio::io::AsyncReadExt as _;
    let (served, bridged) = tokio::io::duplex(256 * 1024);
    let (mut from_server, mut to_server) = tokio::io::split(bridged);
    // What our server writes goes to the daemon as messages...
    let (tx, rx) = tokio::sync::mpsc::channel::<BytesMessage>(16);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match from_server.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send(BytesMessage {
                            data: buf[..n].to_vec(),
                        })
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    let md = request.metadata_mut();
    let header = |v: &str| {
        v.parse::<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>()
            .map_err(|_| Error::Header(v.to_string()))
    };
    md.insert("x-docker-expose-session-uuid", header(id)?);
    md.insert("x-docker-expose-session-name", header("werf")?);
    md.insert("x-docker-expose-session-sharedkey", header(id)?);
    for m in [SECRETS_METHOD, CREDENTIALS_METHOD, HEALTH_METHOD] {
        md.append("x-docker-expose-session-grpc-method", header(m)?);
    }
    let (close, closed) = tokio::sync::oneshot::channel::<()>();
    serve(served, services, closed);
    let response = ControlClient::new(channel)
        .session(request)
        .await
        .map_err(|status| Error::Refused(Box::new(status)))?;
    // ...and what the daemon sends goes to our server.
    let mut inbound = response.into_inner();
    tokio::spawn(async move {
        while let Ok(Some(msg)) = inbound.message().await {
            if to_server.write_all(&msg.data).await.is_err() {
                break;
            }
        }
        let _ = to_server.shutdown().await;
    });
    Ok(Session {
        id: id.to_string(),
        close: Some(close),
    })
}
