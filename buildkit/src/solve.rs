//! One solve: a Dockerfile built by the daemon's `dockerfile.v0` frontend over a context given
//! as an LLB input (no client session is needed), exported as the caller says, while the
//! solve's status stream is read for the steps and their output.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::llb::Builder;
use crate::proto::control::{
    control_client::ControlClient, CacheOptions, SolveRequest, StatusRequest,
};

/// Errors of a solve.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The daemon ran the build and it failed (a step's command, a missing file...): another
    /// daemon would fail the same way.
    #[error("{message}{}", if .output.is_empty() { String::new() } else { format!("\n{}", .output) })]
    Failed { message: String, output: String },
    /// The daemon was lost (gone, restarted, unreachable) before answering: the build may be
    /// run again elsewhere.
    #[error("the daemon was lost: {0}")]
    Lost(#[source] Box<tonic::Status>),
}

impl Error {
    pub fn is_lost(&self) -> bool {
        matches!(self, Error::Lost(_))
    }
}

/// Where the result goes.
#[derive(Clone, Debug)]
pub enum Exporter {
    /// dockerd's image store, tagged `name` (pushed by dockerd afterwards).
    Moby { name: String },
    /// buildkitd's image exporter, pushed straight to `name`'s registry.
    Push { name: String, insecure: bool },
}

/// A Dockerfile build.
#[derive(Clone, Debug)]
pub struct Request {
    pub dockerfile: Vec<u8>,
    /// The context as an image reference (`repo@sha256:...`) the daemon can pull.
    pub context: String,
    /// The frontend's options (`build-arg:NAME`, `target`, `label:NAME`, `platform`,
    /// `force-network-mode`, `add-hosts`).
    pub frontend_attrs: BTreeMap<String, String>,
    pub exporter: Exporter,
    /// Entitlements asked for (`network.host`).
    pub entitlements: Vec<String>,
    /// The client session the daemon calls back (secrets), if one is open.
    pub session: Option<String>,
}

/// What a successful solve answered.
#[derive(Clone, Debug, Default)]
pub struct Solved {
    /// The exporter's response (`containerimage.digest`, `containerimage.config.digest`...).
    pub exporter_response: HashMap<String, String>,
    /// Steps the daemon found in its cache.
    pub cached_steps: usize,
    /// Steps it ran.
    pub run_steps: usize,
}

/// An id no other solve or session of this process has (`werf-PID-TIME-N`).
pub fn unique_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "werf-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether a call's failure says the daemon itself went away rather than the build failing.
pub fn lost(status: &tonic::Status) -> bool {
    use tonic::Code;
    match status.code() {
        Code::Unavailable | Code::Cancelled | Code::Aborted => true,
        Code::Unknown | Code::Internal => {
            // A broken connection surfaces as an h2/transport error, not a build message.
            let m = status.message().to_ascii_lowercase();
            [
                "transport error",
                "connection reset",
                "broken pipe",
                "connection refused",
                "h2 protocol error",
                "error reading a body from connection",
                "keep-alive timed out",
                "ping timeout",
            ]
            .iter()
            .any(|s| m.contains(s))
        }
        _ => false,
    }
}

/// The output lines a failed step printed, per step, newest steps last (bounded).
#[derive(Default)]
struct Logs {
    names: HashMap<String, String>,
    failed: Vec<(String, String)>,
    output: HashMap<String, Vec<u8>>,
    cached: std::collections::HashSet<String>,
    completed: std::collections::HashSet<String>,
}

const OUTPUT_KEPT: usize = 16 * 1024;

impl Logs {
    fn tail_of(&self, vertex: &str) -> String {
        let out = self
            .output
            .get(vertex)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let lines: Vec<&str> = out.lines().collect();
        lines[lines.len().saturating_sub(20)..]
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Runs `request` on the daemon behind `channel`; `on_step` hears each step as it starts.
pub async fn solve(
    channel: Channel,
    request: Request,
    on_step: &(dyn Fn(&str) + Sync),
) -> Result<Solved, Error> {
    let reference = unique_id();
    let mut control = ControlClient::new(channel);

    let mut inputs = HashMap::new();
    let mut b = Builder::new();
    let ctx = b.image(
        &request.context,
        request.frontend_attrs.get("platform").map(|s| s.as_str()),
    );
    inputs.insert("context".to_string(), b.definition(&ctx));
    let mut b = Builder::new();
    let df = b.file("/Dockerfile", 0o644, request.dockerfile.clone());
    inputs.insert("dockerfile".to_string(), b.definition(&df));

    let mut frontend_attrs: HashMap<String, String> =
        request.frontend_attrs.clone().into_iter().collect();
    frontend_attrs.insert("filename".into(), "Dockerfile".into());
    let (exporter, exporter_attrs) = match &request.exporter {
        Exporter::Moby { name } => ("moby", HashMap::from([("name".to_string(), name.clone())])),
        Exporter::Push { name, insecure } => {
            let mut a = HashMap::from([
                ("name".to_string(), name.clone()),
                ("push".to_string(), "true".to_string()),
            ]);
            if *insecure {
                a.insert("registry.insecure".into(), "true".into());
            }
            ("image", a)
        }
    };
    let solve = SolveRequest {
        r#ref: reference.clone(),
        definition: None,
        exporter: exporter.into(),
        exporter_attrs,
        session: request.session.clone().unwrap_or_default(),
        frontend: "dockerfile.v0".into(),
        frontend_attrs,
        cache: Some(CacheOptions::default()),
        entitlements: request.entitlements.clone(),
        frontend_inputs: inputs,
        internal: false,
        source_policy: None,
    };

    // The status stream is read alongside the solve (BuildKit holds a status request for a
    // solve that has not started yet); it ends when the solve does.
    let mut status_client = control.clone();
    let status_ref = reference.clone();
    let logs = std::sync::Mutex::new(Logs::default());
    let read_status = async {
        let Ok(stream) = status_client
            .status(StatusRequest { r#ref: status_ref })
            .await
        else {
            return;
        };
        let mut stream = stream.into_inner();
        while let Some(Ok(msg)) = stream.next().await {
            let mut l = logs.lock().expect("logs lock");
            for v in msg.vertexes {
                if !l.names.contains_key(&v.digest) {
                    on_step(&v.name);
                    l.names.insert(v.digest.clone(), v.name.clone());
                }
                if v.cached {
                    l.cached.insert(v.digest.clone());
                }
                if v.completed.is_some() {
                    l.completed.insert(v.digest.clone());
                }
                if !v.error.is_empty() && !l.failed.iter().any(|(d, _)| *d == v.digest) {
                    l.failed.push((v.digest.clone(), v.error.clone()));
                }
            }
            for log in msg.logs {
                let buf = l.output.entry(log.vertex).or_default();
                buf.extend_from_slice(&log.msg);
                if buf.len() > OUTPUT_KEPT {
                    let cut = buf.len() - OUTPUT_KEPT;
                    buf.drain(..cut);
                }
            }
        }
    };
    let (answer, ()) = tokio::join!(control.solve(solve), read_status);
    let l = logs.into_inner().expect("logs lock");
    match answer {
        Ok(r) => {
            let r = r.into_inner();
            Ok(Solved {
                exporter_response: r.exporter_response,
                cached_steps: l.cached.len(),
                run_steps: l.completed.difference(&l.cached).count(),
            })
        }
        Err(status) if lost(&status) => Err(Error::Lost(Box::new(status))),
        Err(status) => {
            let (step, output) = match l.failed.last() {
                Some((d, _)) => (l.names.get(d).cloned().unwrap_or_default(), l.tail_of(d)),
                None => (String::new(), String::new()),
            };
            let message = if step.is_empty() {
                status.message().to_string()
            } else {
                format!("at `{step}`: {}", status.message())
            };
            Err(Error::Failed { message, output })
        }
    }
}
