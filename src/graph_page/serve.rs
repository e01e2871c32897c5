//! `werf graph --serve [ADDR]`: the page on a loopback address until interrupted.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};

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
}

/// Binds `addr` (loopback only); returns the listener and the address it got.
pub fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), Error> {
    if !addr.ip().is_loopback() {
        return Err(Error::NotLoopback(addr));
    }
    let listener = TcpListener::bind(addr).map_err(|source| Error::Listen { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| Error::Listen { addr, source })?;
    Ok((listener, local))
}

/// Answers every GET with the page (one connection at a time; a broken client is skipped).
pub fn serve(listener: TcpListener, page: &str) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut reader = BufReader::new(match stream.try_clone() {
            Ok(s) => s,
            Err(_) => continue,
        });
        // Read the request head (the path does not matter: there is one page).
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line == "\r\n" || line == "\n" => break,
                Ok(_) => {}
            }
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
            page.len()
        );
        let _ = stream
            .write_all(head.as_bytes())
            .and_then(|_| stream.write_all(page.as_bytes()));
    }
}
