//! kube-node-sim: plays the nodes of a test cluster, in the spirit of kwok (Kubernetes WithOut
//! Kubelet). It registers nodes and renews their leases, and sets the status of every pod bound
//! to them the way a kubelet would: Running/Ready only when every container image exists in its
//! registry (a real manifest HEAD), `ErrImagePull` then `ImagePullBackOff` with events when one
//! does not, `CrashLoopBackOff` with growing restart counts for commands that contain `crash`,
//! Succeeded/Failed for pods that run to completion (a command's last `exit N` is its exit code;
//! none: 0), and removal of pods being
//! deleted once their (shortened) grace period has passed. It also serves the kubelet's log
//! endpoint ([`logs`]), so `kubectl logs` shows what each simulated container "printed".

mod logs;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use clap::Parser;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{json, Value};

#[derive(Parser, Debug)]
#[command(about = "Plays the nodes of a test Kubernetes cluster")]
struct Args {
    /// Kubeconfig of a user allowed to manage nodes, pods and leases.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: std::path::PathBuf,
    /// How many nodes to register.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Node name prefix (`sim-node-0`, ...).
    #[arg(long, default_value = "sim-node")]
    node_prefix: String,
    /// A registry reached over plain HTTP (`HOST:PORT`); repeatable.
    #[arg(long = "registry-insecure")]
    registry_insecure: Vec<String>,
    /// Time from a pod's arrival to its containers running.
    #[arg(long, default_value_t = 300)]
    ready_delay_ms: u64,
    /// Longest grace period honoured for deleted pods (simulated containers stop fast).
    #[arg(long, default_value_t = 1)]
    max_grace_seconds: u64,
    /// How often pods are reconciled.
    #[arg(long, default_value_t = 250)]
    tick_ms: u64,
}

/// What the simulator remembers per pod.
struct PodState {
    seen: Instant,
    deleting_since: Option<Instant>,
    pull_failures: u32,
    restarts: u32,
    next_restart: Instant,
    /// The last status written, to write only on change.
    last: Option<Value>,
    events: HashSet<String>,
    /// The images this pod has pulled and their ids: as a kubelet, a running pod's image is not
    /// asked of the registry again (a re-check per pod per tick loads the machine it measures).
    pulled: HashMap<String, String>,
}

struct Sim {
    client: Client,
    args: Args,
    nodes: Vec<String>,
    http: reqwest::Client,
    images: HashMap<String, (Instant, Result<String, String>)>,
    pods: HashMap<String, PodState>,
    ip_counter: u32,
    ips: HashMap<String, String>,
    logs: logs::Logs,
    heart: Heart,
}

fn now() -> String {
    Timestamp::now().to_string()
}

impl Sim {
    async fn register_nodes(&self) -> Result<()> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        for name in &self.nodes {
            let node: Node = serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {
                    "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64", "type": "kube-node-sim"}},
                "spec": {}
            }))?;
            match nodes.create(&PostParams::default(), &node).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(e).context(format!("registering node `{name}`")),
            }
            self.heart.node_heartbeat(name).await?;
        }
        Ok(())
    }
}

/// What keeps the nodes alive in the control plane's eyes (leases, node status), on its own
/// task: a long reconcile (a thousand pods at once) must not let the node lifecycle controller
/// mark the nodes unready.
#[derive(Clone)]
struct Heart {
    client: Client,
    nodes: Vec<String>,
    kubelet_port: u16,
}

impl Heart {
    /// Renews the leases every 10 s and the node status every 20 s, forever.
    async fn beat(self) {
        let mut last_heartbeat = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            if let Err(e) = self.renew_leases().await {
                tracing::warn!("{e:#}");
            }
            if last_heartbeat.elapsed() >= Duration::from_secs(20) {
                for n in &self.nodes {
                    if let Err(e) = self.node_heartbeat(n).await {
                        tracing::warn!("{e:#}");
                    }
                }
                last_heartbeat = Instant::now();
            }
        }
    }

    async fn node_heartbeat(&self, name: &str) -> Result<()> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let t = now();
        let cond = |kind: &str, status: &str, reason: &str| {
            json!({"type": kind, "status": status, "reason": reason, "message": reason,
                   "lastHeartbeatTime": t, "lastTransitionTime": t})
        };
        let status = json!({"status": {
            "capacity": {"cpu": "16", "memory": "64Gi", "pods": "250", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": "16", "memory": "64Gi", "pods": "250", "ephemeral-storage": "100Gi"},
            "conditions": [
                cond("Ready", "True", "KubeletReady"),
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID"),
            ],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2", "operatingSystem": "linux",
                          "architecture": "amd64", "containerRuntimeVersion": "sim://1", "osImage": "kube-node-sim",
                          "kernelVersion": "sim", "machineID": name, "systemUUID": name, "bootID": name},
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}}
        }});
        nodes
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .with_context(|| format!("updating the status of node `{name}`"))?;
        Ok(())
    }

    async fn renew_leases(&self) -> Result<()> {
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), "kube-node-lease");
        for name in &self.nodes {
            let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                         "renewTime": Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()}});
            leases
                .patch(
                    name,
                    &PatchParams::apply("kube-node-sim").force(),
                    &Patch::Apply(&lease),
                )
                .await
                .with_context(|| format!("renewing the lease of node `{name}`"))?;
        }
        Ok(())
    }
}

impl Sim {
    /// Whether `image` exists in its registry (cached for a second).
    async fn image(&mut self, image: &str) -> Result<String, String> {
        if let Some((at, r)) = self.images.get(image) {
            if at.elapsed() < Duration::from_secs(1) {
                return r.clone();
            }
        }
        let r = self.check_image(image).await;
        self.images
            .insert(image.to_string(), (Instant::now(), r.clone()));
        r
    }

    async fn check_image(&self, image: &str) -> Result<String, String> {
        let (name, reference) = match image.split_once('@') {
            Some((n, d)) => (n.to_string(), d.to_string()),
            None => match image.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
                Some((n, t)) => (n.to_string(), t.to_string()),
                None => (image.to_string(), "latest".to_string()),
            },
        };
        let (host, repo) = match name.split_once('/') {
            Some((h, r)) if h.contains('.') || h.contains(':') || h == "localhost" => {
                (h.to_string(), r.to_string())
            }
            _ => (
                "registry-1.docker.io".to_string(),
                if name.contains('/') {
                    name.clone()
                } else {
                    format!("library/{name}")
                },
            ),
        };
        let scheme = if self.args.registry_insecure.iter().any(|h| h == &host) {
            "http"
        } else {
            "https"
        };
        let url = format!("{scheme}://{host}/v2/{repo}/manifests/{reference}");
        let accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";
        match self.http.head(&url).header("Accept", accept).send().await {
            Ok(r) if r.status().is_success() => Ok(r
                .headers()
                .get("Docker-Content-Digest")
                .and_then(|d| d.to_str().ok())
                .map(|d| format!("{host}/{repo}@{d}"))
                .unwrap_or_else(|| format!("{host}/{repo}"))),
            Ok(r) if r.status().as_u16() == 404 => Err(format!("rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": {image}: not found")),
            Ok(r) => Err(format!("failed to pull image \"{image}\": registry answered {}", r.status())),
            Err(e) => Err(format!("failed to pull image \"{image}\": {e}")),
        }
    }

    async fn event(&self, pod: &Pod, node: &str, kind: &str, reason: &str, message: &str) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let t = now();
        let suffix: u32 = rand_suffix();
        let ev = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{name}.{suffix:08x}"), "namespace": ns},
            "involvedObject": {"kind": "Pod", "name": name, "namespace": ns, "uid": pod.metadata.uid, "apiVersion": "v1",
                               "fieldPath": "spec.containers{app}"},
            "reason": reason, "message": message, "type": kind,
            "source": {"component": "kubelet", "host": node},
            "firstTimestamp": t, "lastTimestamp": t, "count": 1});
        let events: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        if let Ok(ev) = serde_json::from_value::<Event>(ev) {
            if let Err(e) = events.create(&PostParams::default(), &ev).await {
                tracing::warn!("event for pod `{ns}/{name}`: {e}");
            }
        }
    }

    /// One pass over the pods of the simulated nodes. Returns the list's resource version when
    /// every pod is settled (running and ready, or finished, and nothing written): until a pod
    /// changes there is nothing to do.
    async fn reconcile(&mut self) -> Result<Option<String>> {
        let pods: Api<Pod> = Api::all(self.client.clone());
        let list = pods
            .list(&ListParams::default())
            .await
            .context("listing pods")?;
        let mut settled = true;
        let mut alive = HashSet::new();
        let mut alive_names = HashSet::new();
        for pod in list.items {
            let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
                continue;
            };
            if !self.nodes.contains(&node) {
                continue;
            }
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            alive.insert(uid.clone());
            alive_names.insert((
                pod.metadata.namespace.clone().unwrap_or_default(),
                pod.metadata.name.clone().unwrap_or_default(),
            ));
            match self.reconcile_pod(&pod, &node, &uid).await {
                Ok(done) => settled &= done,
                Err(e) => {
                    settled = false;
                    tracing::warn!(
                        "pod `{}`: {e:#}",
                        pod.metadata.name.clone().unwrap_or_default()
                    );
                }
            }
        }
        self.pods.retain(|uid, _| alive.contains(uid));
        self.logs
            .retain(|ns, pod| alive_names.contains(&(ns.to_string(), pod.to_string())));
        Ok(settled.then(|| list.metadata.resource_version.unwrap_or_default()))
    }

    /// Brings one pod's status up to date; `true` when it is settled (ready or finished, and
    /// nothing had to be written).
    async fn reconcile_pod(&mut self, pod: &Pod, node: &str, uid: &str) -> Result<bool> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let state = self
            .pods
            .entry(uid.to_string())
            .or_insert_with(|| PodState {
                seen: Instant::now(),
                deleting_since: None,
                pull_failures: 0,
                restarts: 0,
                next_restart: Instant::now(),
                last: None,
                events: HashSet::new(),
                pulled: HashMap::new(),
            });
        if pod.metadata.deletion_timestamp.is_some() {
            let since = *state.deleting_since.get_or_insert_with(Instant::now);
            let grace = pod
                .metadata
                .deletion_grace_period_seconds
                .unwrap_or(0)
                .max(0) as u64;
            if since.elapsed() >= Duration::from_secs(grace.min(self.args.max_grace_seconds)) {
                match api
                    .delete(
                        &name,
                        &DeleteParams {
                            grace_period_seconds: Some(0),
                            ..Default::default()
                        },
                    )
                    .await
                {
                    Ok(_) | Err(kube::Error::Api(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(false);
        }
        let spec = pod.spec.clone().unwrap_or_default();
        let seen = state.seen;
        let started = seen.elapsed() >= Duration::from_millis(self.args.ready_delay_ms);
        let ip = {
            let next = self.ip_counter + 1;
            let ip = self
                .ips
                .entry(uid.to_string())
                .or_insert_with(|| format!("10.244.{}.{}", next / 250, next % 250 + 2))
                .clone();
            if ip.ends_with(&format!(".{}", next % 250 + 2)) {
                self.ip_counter = next;
            }
            ip
        };
        // Images first: every container's image must exist in its registry.
        let mut missing: Option<(String, String)> = None;
        let mut image_ids = HashMap::new();
        for c in spec
            .init_containers
            .iter()
            .flatten()
            .chain(spec.containers.iter())
        {
            let image = c.image.clone().unwrap_or_default();
            let known = self
                .pods
                .get(uid)
                .and_then(|s| s.pulled.get(&image).cloned());
            if let Some(id) = known {
                image_ids.insert(c.name.clone(), id);
                continue;
            }
            match self.image(&image).await {
                Ok(id) => {
                    if let Some(state) = self.pods.get_mut(uid) {
                        state.pulled.insert(image, id.clone());
                    }
                    image_ids.insert(c.name.clone(), id);
                }
                Err(e) => {
                    missing.get_or_insert((c.name.clone(), e));
                }
            }
        }
        let state = self.pods.get_mut(uid).expect("state was inserted above");
        let t = now();
        let start_time = pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.clone())
            .map(|s| s.0.to_string())
            .unwrap_or_else(|| t.clone());
        let restart_policy = spec
            .restart_policy
            .clone()
            .unwrap_or_else(|| "Always".into());
        let runs_to_completion = restart_policy != "Always";
        let command_of = |c: &k8s_openapi::api::core::v1::Container| {
            c.command
                .iter()
                .flatten()
                .chain(c.args.iter().flatten())
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut events: Vec<(&str, String, String)> = Vec::new();
        let mut ready = false;
        let mut phase = "Pending";
        let mut statuses = Vec::new();
        for c in &spec.containers {
            let image = c.image.clone().unwrap_or_default();
            let base = json!({"name": c.name, "image": image, "imageID": image_ids.get(&c.name).cloned().unwrap_or_default(),
                              "containerID": format!("sim://{uid}/{}", c.name), "restartCount": state.restarts});
            let mut s = base.clone();
            let command = command_of(c);
            if let Some((_, err)) = &missing {
                let reason = if state.pull_failures == 0 {
                    "ErrImagePull"
                } else {
                    "ImagePullBackOff"
                };
                self.logs.waiting(&ns, &name, &c.name, reason.to_string());
                s["state"] = json!({"waiting": {"reason": reason, "message": err}});
                s["ready"] = json!(false);
                s["started"] = json!(false);
                events.push((
                    "Warning",
                    "Failed".into(),
                    format!("Failed to pull image \"{image}\": {err}"),
                ));
                events.push(("Warning", "Failed".into(), format!("Error: {reason}")));
                if reason == "ImagePullBackOff" {
                    events.push((
                        "Normal",
                        "BackOff".into(),
                        format!("Back-off pulling image \"{image}\""),
                    ));
                }
            } else if !started {
                s["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
                s["ready"] = json!(false);
                s["started"] = json!(false);
            } else if command.contains("crash") {
                phase = "Running";
                if Instant::now() >= state.next_restart {
                    state.restarts += 1;
                    self.logs.push(
                        &ns,
                        &name,
                        &c.name,
                        format!("starting `{command}` (image {image})"),
                    );
                    self.logs.push(&ns, &name, &c.name, format!("fatal: crash requested by the command; exiting with code 1 (restart {})", state.restarts));
                    let backoff =
                        Duration::from_millis((500u64 << state.restarts.min(5)).min(10_000));
                    state.next_restart = Instant::now() + backoff;
                }
                s["restartCount"] = json!(state.restarts);
                s["state"] = json!({"waiting": {"reason": "CrashLoopBackOff",
                    "message": format!("back-off restarting failed container {} in pod {name}", c.name)}});
                s["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": t, "finishedAt": t}});
                s["ready"] = json!(false);
                s["started"] = json!(false);
                events.push((
                    "Normal",
                    "Pulled".into(),
                    format!("Container image \"{image}\" already present on machine"),
                ));
                events.push((
                    "Warning",
                    "BackOff".into(),
                    "Back-off restarting failed container".into(),
                ));
            } else if runs_to_completion {
                let code = exit_code(&command);
                let failed = code != 0;
                phase = if failed { "Failed" } else { "Succeeded" };
                if state.events.insert(format!("log:done:{}", c.name)) {
                    self.logs.push(
                        &ns,
                        &name,
                        &c.name,
                        format!("running `{command}` (image {image})"),
                    );
                    self.logs
                        .push(&ns, &name, &c.name, format!("exit code {code}"));
                }
                s["state"] = json!({"terminated": {"exitCode": code,
                    "reason": if failed { "Error" } else { "Completed" }, "startedAt": start_time, "finishedAt": t}});
                s["ready"] = json!(false);
                s["started"] = json!(false);
                events.push((
                    "Normal",
                    "Started".into(),
                    format!("Started container {}", c.name),
                ));
            } else {
                phase = "Running";
                ready = true;
                if state.events.insert(format!("log:started:{}", c.name)) {
                    self.logs.push(
                        &ns,
                        &name,
                        &c.name,
                        format!("started container {} from image {image}", c.name),
                    );
                    if !command.is_empty() {
                        self.logs
                            .push(&ns, &name, &c.name, format!("running `{command}`"));
                    }
                }
                s["state"] = json!({"running": {"startedAt": start_time}});
                s["ready"] = json!(true);
                s["started"] = json!(true);
                events.push((
                    "Normal",
                    "Pulled".into(),
                    format!("Container image \"{image}\" already present on machine"),
                ));
                events.push((
                    "Normal",
                    "Started".into(),
                    format!("Started container {}", c.name),
                ));
            }
            statuses.push(s);
        }
        if missing.is_some() {
            state.pull_failures += 1;
        }
        let all_ready = ready && statuses.iter().all(|s| s["ready"] == json!(true));
        let cond = |kind: &str, ok: bool, reason: &str| {
            let mut c = json!({"type": kind, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": start_time});
            if !ok {
                c["reason"] = json!(reason);
            }
            c
        };
        let not_ready_reason = if phase == "Succeeded" || phase == "Failed" {
            "PodCompleted"
        } else {
            "ContainersNotReady"
        };
        let status = json!({
            "phase": phase,
            "conditions": [cond("Initialized", true, ""), cond("Ready", all_ready, not_ready_reason),
                           cond("ContainersReady", all_ready, not_ready_reason), cond("PodScheduled", true, "")],
            "hostIP": "127.0.0.1", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": start_time,
            "containerStatuses": statuses, "qosClass": "BestEffort"
        });
        // Compare without timestamps, so an unchanged pod is not written again; unless its
        // readiness in the cluster is not ours (the node lifecycle controller marks the pods of
        // a node it thought gone unready, and a kubelet reports them again).
        let mut comparable = status.clone();
        strip_times(&mut comparable);
        let ready_in_cluster = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status == "True");
        let drifted = state.last.is_some() && ready_in_cluster != Some(all_ready);
        let write = drifted || state.last.as_ref() != Some(&comparable);
        if write {
            api.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": status})),
            )
            .await
            .with_context(|| format!("updating the status of pod `{ns}/{name}`"))?;
            state.last = Some(comparable);
        }
        let fresh: Vec<(&str, String, String)> = events
            .into_iter()
            .filter(|(_, reason, message)| state.events.insert(format!("{reason}:{message}")))
            .collect();
        let wrote = write || !fresh.is_empty();
        for (kind, reason, message) in fresh {
            self.event(pod, node, kind, &reason, &message).await;
        }
        let finished = phase == "Succeeded" || phase == "Failed";
        Ok(!wrote && missing.is_none() && (all_ready || finished))
    }
}

fn strip_times(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.ends_with("At") && !k.ends_with("Time"));
            m.values_mut().for_each(strip_times);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_times),
        _ => {}
    }
}

fn rand_suffix() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.subsec_nanos() ^ (t.as_secs() as u32).rotate_left(16) ^ std::process::id()
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();
    // Both ring (kube) and aws-lc (reqwest) are linked; pick one for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = Kubeconfig::read_from(&args.kubeconfig)
        .with_context(|| format!("reading `{}`", args.kubeconfig.display()))?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    let client = Client::try_from(config)?;
    let nodes: Vec<String> = (0..args.nodes)
        .map(|i| format!("{}-{i}", args.node_prefix))
        .collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let logs = logs::Logs::default();
    let kubelet_port = logs::serve(logs.clone()).await?;
    let heart = Heart {
        client: client.clone(),
        nodes: nodes.clone(),
        kubelet_port,
    };
    let mut sim = Sim {
        client,
        args,
        nodes,
        http,
        images: HashMap::new(),
        pods: HashMap::new(),
        ip_counter: 0,
        ips: HashMap::new(),
        logs,
        heart: heart.clone(),
    };
    sim.register_nodes().await?;
    heart.renew_leases().await?;
    tokio::spawn(heart.beat());
    let tick = Duration::from_millis(sim.args.tick_ms);
    let mut shutdown = Box::pin(tokio::signal::ctrl_c());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let pods: Api<Pod> = Api::all(sim.client.clone());
    loop {
        let settled = sim.reconcile().await.unwrap_or_else(|e| {
            tracing::warn!("{e:#}");
            None
        });
        // While pods move, a pass every tick; once all are settled, the next pass waits for a
        // change to any pod (a watch from the list's version) or a few seconds: listing
        // thousands of settled pods four times a second would load the machine under test.
        let wake = async {
            match settled {
                Some(version) => changed(&pods, &version, tick).await,
                None => tokio::time::sleep(tick).await,
            }
        };
        tokio::select! {
            _ = wake => {}
            _ = &mut shutdown => return Ok(()),
            _ = term.recv() => return Ok(()),
        }
    }
}

/// Returns when a pod changes after `version`, or after a few seconds (or one `tick` when the
/// watch cannot start).
async fn changed(pods: &Api<Pod>, version: &str, tick: Duration) {
    use futures_util::StreamExt as _;
    let params = kube::api::WatchParams::default().timeout(5);
    match pods.watch(&params, version).await {
        Ok(stream) => {
            let mut stream = std::pin::pin!(stream);
            let _ = stream.next().await;
        }
        Err(_) => tokio::time::sleep(tick).await,
    }
}

/// The exit code a simulated command reports: its last `exit N`, else 0.
fn exit_code(command: &str) -> i32 {
    command
        .match_indices("exit ")
        .filter_map(|(i, w)| {
            let digits: String = command[i + w.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<i32>().ok()
        })
        .last()
        .map_or(0, |c| c & 0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_s_last_exit_is_its_code() {
        assert_eq!(exit_code("sh -c echo hi; exit 3"), 3);
        assert_eq!(exit_code("run the job"), 0);
        assert_eq!(exit_code("exit 1"), 1);
        assert_eq!(exit_code("exit 1; exit 300"), 44);
    }
}
