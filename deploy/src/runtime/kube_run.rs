//! `werf kube-run` against the cluster: the namespace made if missing, the pod created, waited
//! for until its container runs (bounded), its log followed into the caller's writer, its exit
//! code read from the status, and the pod (and its pull Secret) deleted unless kept.

use std::io::Write;
use std::time::{Duration, Instant};

use futures::AsyncBufReadExt as _;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use kube::api::{Api, LogParams};
use kube::discovery::ApiResource;
use serde_json::Value;

use crate::kubernetes::Kube;
use crate::pod_run::{progress, Progress};
use crate::report::Reporter;
use crate::{Error, Result};

/// How a run goes.
pub struct Settings {
    /// How long the container may take to start (scheduling, pulling).
    pub start_timeout: Duration,
    /// How long the command may run (`None`: as long as it takes).
    pub run_timeout: Option<Duration>,
    /// Delete the pod and its Secret afterwards.
    pub rm: bool,
    /// Delete the namespace too.
    pub rm_namespace: bool,
}

/// How often the pod is read while waiting.
const POLL: Duration = Duration::from_millis(200);

/// Runs `pod` (with `pull_secret`, a Secret for pulling its image) and returns its container's
/// exit code; its log goes to `out` as it comes.
pub async fn run(
    kube: &Kube,
    reporter: &dyn Reporter,
    pod: Value,
    pull_secret: Option<Value>,
    out: &mut (dyn Write + Send),
    settings: &Settings,
) -> Result<i32> {
    let name = pod["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let namespace = pod["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let fail = |message: String| Error::PodRun {
        pod: name.clone(),
        namespace: namespace.clone(),
        message,
    };
    crate::ensure_namespace(kube, reporter, &namespace).await?;
    let result = async {
        if let Some(secret) = &pull_secret {
            let typed: Secret = serde_json::from_value(secret.clone())
                .map_err(|e| fail(format!("its pull Secret: {e}")))?;
            let api: Api<Secret> = Api::namespaced(kube.client.clone(), &namespace);
            kube.create(&api, &typed)
                .await
                .map_err(|source| Error::Api {
                    verb: "create",
                    id: format!(
                        "Secret `{namespace}/{}`",
                        typed.metadata.name.clone().unwrap_or_default()
                    ),
                    source,
                })?;
        }
        let typed: Pod =
            serde_json::from_value(pod.clone()).map_err(|e| fail(format!("its spec: {e}")))?;
        let api: Api<Pod> = Api::namespaced(kube.client.clone(), &namespace);
        // A namespace just made has no service account token yet: the API server asks to try
        // again shortly (a `ServerTimeout` with a retry delay), until the start timeout.
        let asked = Instant::now();
        let created = loop {
            match kube.create(&api, &typed).await {
                Err(kube::Error::Api(s))
                    if s.code == 500
                        && s.reason == "ServerTimeout"
                        && asked.elapsed() < settings.start_timeout =>
                {
                    let delay = s
                        .details
                        .as_ref()
                        .map_or(1, |d| d.retry_after_seconds.clamp(1, 10));
                    tokio::time::sleep(Duration::from_secs(u64::from(delay))).await;
                }
                other => {
                    break other.map_err(|source| Error::Api {
                        verb: "create",
                        id: format!("Pod `{namespace}/{name}`"),
                        source,
                    })?
                }
            }
        };
        if !created {
            return Err(fail(
                "a pod of that name exists already (choose another `--pod`)".into(),
            ));
        }
        let ar = ApiResource::erase::<Pod>(&());
        let read = || async {
            kube.get(&ar, Some(&namespace), &name)
                .await?
                .ok_or_else(|| fail("it was deleted while it ran".into()))
        };
        // Until the container runs (or has run): its log exists from then on.
        let started = Instant::now();
        let mut state = progress(&read().await?);
        while state == Progress::Waiting {
            if started.elapsed() > settings.start_timeout {
                return Err(fail(format!(
                    "its container did not start within {:?}",
                    settings.start_timeout
                )));
            }
            tokio::time::sleep(POLL).await;
            state = progress(&read().await?);
        }
        if let Progress::Failed(why) = &state {
            return Err(fail(why.clone()));
        }
        // The log, followed until the container ends (or, for one that has, read whole).
        kube.count();
        let lp = LogParams {
            follow: true,
            container: Some(name.clone()),
            ..Default::default()
        };
        let stream = api
            .log_stream(&name, &lp)
            .await
            .map_err(|source| Error::Api {
                verb: "read the log of",
                id: format!("Pod `{namespace}/{name}`"),
                source,
            })?;
        let mut lines = stream.lines();
        use futures::StreamExt as _;
        while let Some(line) = lines.next().await {
            let line = line.map_err(|e| fail(format!("reading its log: {e}")))?;
            writeln!(out, "{line}").map_err(|e| fail(format!("writing its log: {e}")))?;
        }
        let ran = Instant::now();
        loop {
            match progress(&read().await?) {
                Progress::Exited(code) => return Ok(code),
                Progress::Failed(why) => return Err(fail(why)),
                Progress::Waiting | Progress::Running => {}
            }
            if settings.run_timeout.is_some_and(|t| ran.elapsed() > t) {
                return Err(fail(format!(
                    "the command did not end within {:?}",
                    settings.run_timeout.unwrap_or_default()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }
    .await;
    if settings.rm {
        let cleaned = cleanup(kube, &namespace, &name, pull_secret.is_some(), settings).await;
        if let (Ok(_), Err(e)) = (&result, cleaned) {
            return Err(e);
        }
    }
    result
}

/// Deletes the pod, its Secret and (when asked) the namespace.
async fn cleanup(
    kube: &Kube,
    namespace: &str,
    name: &str,
    secret: bool,
    settings: &Settings,
) -> Result<()> {
    kube.delete(&ApiResource::erase::<Pod>(&()), Some(namespace), name)
        .await?;
    if secret {
        kube.delete(&ApiResource::erase::<Secret>(&()), Some(namespace), name)
            .await?;
    }
    if settings.rm_namespace {
        kube.delete(&ApiResource::erase::<Namespace>(&()), None, namespace)
            .await?;
    }
    Ok(())
}
