//! `werf graph --serve [ADDR]`: the page on a loopback address until interrupted.
//!
//! Served by hyper on the shared tokio runtime: a task per connection (an idle or slow client
//! holds only its own), request heads of at most [`MAX_HEAD`] bytes (past it, 431 and the
//! connection closed), a head that does not arrive within [`HEAD_TIMEOUT`] closes its
//! connection, and at most [`MAX_CONNECTIONS`] connections are served at once.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

/// The largest request head read (request line and headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send a request head (also the idle time of a kept connection).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 256;

/// Errors of the page server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{0}` is not a loopback address: the graph page is only served to this machine")]
    NotLoopback(SocketAddr),
    #[error("cannot listen on `{addr}`")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(String),
}

/// Binds `addr` (loopback only); returns the listener and the address it got.
pub fn bind(addr: SocketAddr) -> Result<(std::net::TcpListener, SocketAddr), Error> {
    if !addr.ip().is_loopback() {
        return Err(Error::NotLoopback(addr));
    }
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| Error::Listen { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| Error::Listen { addr, source })?;
    Ok((listener, local))
}

/// Answers every GET or HEAD with the page, until the process is interrupted.
pub fn serve(listener: std::net::TcpListener, page: &str) -> Result<(), Error> {
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        source,
    })?;
    let runtime = crate::runtime::get().map_err(|e| Error::Runtime(e.to_string()))?;
    let page = Bytes::from(page.to_string());
    runtime.block_on(async move {
        listener
            .set_nonblocking(true)
            .map_err(|source| Error::Listen { addr, source })?;
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|source| Error::Listen { addr, source })?;
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return Ok(());
            };
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let page = page.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| answer(req, page.clone()));
                let mut http = hyper::server::conn::http1::Builder::new();
                http.timer(TokioTimer::new())
                    .header_read_timeout(HEAD_TIMEOUT)
                    .max_buf_size(MAX_HEAD);
                // A client that breaks off or sends garbage ends only its own connection.
                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                drop(slot);
            });
        }
    })
}

async fn answer(
    req: Request<hyper::body::Incoming>,
    page: Bytes,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = Response::builder()
        .header("Cache-Control", "no-store")
        .header("X-Content-Type-Options", "nosniff");
    let response = match *req.method() {
        Method::GET => response
            .status(StatusCode::OK)
            .header("Content-Type", "text/html; charset=utf-8")
            .body(Full::new(page)),
        Method::HEAD => response
            .status(StatusCode::OK)
            .header("Content-Type", "text/html; charset=utf-8")
            .header("Content-Length", page.len())
            .body(Full::new(Bytes::new())),
        _ => response
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header("Allow", "GET, HEAD")
            .body(Full::new(Bytes::new())),
    };
    Ok(response.unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}
