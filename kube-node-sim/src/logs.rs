//! The kubelet's log endpoint (`/containerLogs/NS/POD/CONTAINER`), so `kubectl logs` works: the
//! API server proxies to the node's InternalIP and `daemonEndpoints.kubeletEndpoint.Port`. Each
//! simulated node serves HTTPS (a self-signed certificate; the API server does not verify kubelet
//! certificates unless told to) with the lines the simulator recorded for each container.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// `(namespace, pod, container)`.
type Key = (String, String, String);

/// Log lines by container, or why the container has none (still waiting).
#[derive(Clone, Default)]
pub struct Logs {
    inner: Arc<Mutex<HashMap<Key, Entry>>>,
}

#[derive(Default)]
struct Entry {
    lines: Vec<String>,
    waiting: Option<String>,
}

impl Logs {
    /// Appends a line to a container's log.
    pub fn push(&self, ns: &str, pod: &str, container: &str, line: String) {
        let mut m = self.inner.lock().expect("log store lock poisoned");
        let e = m
            .entry((ns.into(), pod.into(), container.into()))
            .or_default();
        e.waiting = None;
        e.lines.push(line);
    }

    /// Marks a container as not started (its log request gets the kubelet's 400 answer).
    pub fn waiting(&self, ns: &str, pod: &str, container: &str, why: String) {
        let mut m = self.inner.lock().expect("log store lock poisoned");
        let e = m
            .entry((ns.into(), pod.into(), container.into()))
            .or_default();
        if e.lines.is_empty() {
            e.waiting = Some(why);
        }
    }

    /// Forgets pods that are gone.
    pub fn retain(&self, keep: impl Fn(&str, &str) -> bool) {
        self.inner
            .lock()
            .expect("log store lock poisoned")
            .retain(|(ns, pod, _), _| keep(ns, pod));
    }

    fn answer(&self, path: &str) -> (u16, String) {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let ["containerLogs", ns, pod, container] = parts.as_slice() else {
            return (404, "not found\n".into());
        };
        let tail: Option<usize> = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("tailLines="))
            .and_then(|v| v.parse().ok());
        let m = self.inner.lock().expect("log store lock poisoned");
        match m.get(&(ns.to_string(), pod.to_string(), container.to_string())) {
            Some(Entry { waiting: Some(why), .. }) => (
                400,
                format!("container \"{container}\" in pod \"{pod}\" is waiting to start: {why}\n"),
            ),
            Some(e) => {
                let skip = tail.map(|t| e.lines.len().saturating_sub(t)).unwrap_or(0);
                (200, e.lines[skip..].iter().map(|l| format!("{l}\n")).collect())
            }
            None => (400, format!("container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating\n")),
        }
    }
}

/// Serves the log endpoint on a free 127.0.0.1 port; returns the port.
pub async fn serve(logs: Logs) -> Result<u16> {
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .context("making the kubelet serving certificate")?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .context("TLS configuration of the log endpoint")?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let logs = logs.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (code, body) = logs.answer(&path);
                let reason = if code == 200 {
                    "OK"
                } else if code == 400 {
                    "Bad Request"
                } else {
                    "Not Found"
                };
                let response = format!(
                    "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_tail_and_waiting_containers() {
        let logs = Logs::default();
        for i in 0..5 {
            logs.push("ns", "p", "app", format!("line {i}"));
        }
        assert_eq!(
            logs.answer("/containerLogs/ns/p/app?tailLines=2"),
            (200, "line 3\nline 4\n".into())
        );
        logs.waiting("ns", "q", "app", "ImagePullBackOff".into());
        assert_eq!(logs.answer("/containerLogs/ns/q/app").0, 400);
        assert_eq!(logs.answer("/stats").0, 404);
    }
}
