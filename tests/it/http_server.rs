//! Test support: a hostile HTTP/1.1 server on 127.0.0.1 whose every answer a test writes
//! (endless pages, bodies of gigabytes made on the fly, answers that never come). One thread a
//! connection; stopped on drop.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the server sends back for one request.
pub enum Body {
    /// These bytes.
    Bytes(Vec<u8>),
    /// `len` copies of `byte`, announced with their `Content-Length`, made as they are sent.
    Repeat { byte: u8, len: u64 },
}

/// One answer.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: Body::Bytes(body.into()),
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Handler = dyn Fn(&str, &str) -> Reply + Send + Sync;

/// The server; `url` is `http://127.0.0.1:PORT`.
pub struct Server {
    pub url: String,
    pub addr: String,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Serves `handler(method, path with query)` until dropped.
    pub fn start(handler: impl Fn(&str, &str) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            let (handler, stop) = (handler.clone(), stop.clone());
                            std::thread::spawn(move || serve(conn, &*handler, &stop));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        Server {
            url: format!("http://{addr}"),
            addr,
            stop,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(conn: TcpStream, handler: &Handler, stop: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        );
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
            return;
        }
        let reply = handler(&method, &path);
        let len = match &reply.body {
            Body::Bytes(b) => b.len() as u64,
            Body::Repeat { len, .. } => *len,
        };
        let mut head = format!("HTTP/1.1 {} X\r\nContent-Length: {len}\r\n", reply.status);
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if out.write_all(head.as_bytes()).is_err() {
            return;
        }
        let sent = match reply.body {
            // A HEAD answer has the length of the body it does not send.
            _ if method == "HEAD" => true,
            Body::Bytes(b) => out.write_all(&b).is_ok(),
            Body::Repeat { byte, len } => {
                let chunk = vec![byte; 1 << 20];
                let mut left = len;
                let mut ok = true;
                while left > 0 && ok && !stop.load(Ordering::Relaxed) {
                    let n = left.min(chunk.len() as u64) as usize;
                    ok = out.write_all(&chunk[..n]).is_ok();
                    left -= n as u64;
                }
                ok && left == 0
            }
        };
        if !sent {
            return;
        }
    }
}
