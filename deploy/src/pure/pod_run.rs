//! `werf kube-run`'s pod, decided without the cluster: the spec (one container running the
//! command once, `restartPolicy: Never`), the user's `--overrides` merged in as kubectl merges
//! them (maps key by key, lists of named items by name, other values replaced), and what a pod's
//! status says of the run.

use serde_json::{json, Map, Value};

/// Why the overrides cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OverridesError {
    #[error("`--overrides` is not JSON: {0}")]
    Json(String),
    #[error("`--overrides` must be a JSON object (a partial Pod), not {0}")]
    NotObject(String),
    #[error("`--overrides` may not change the Pod's `{0}`")]
    Fixed(&'static str),
}

/// What the pod is made of.
pub struct PodRun<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub image: &'a str,
    /// The command and its arguments (the image's entrypoint replaced), empty: the image's own.
    pub command: &'a [String],
    pub labels: &'a std::collections::BTreeMap<String, String>,
    pub annotations: &'a std::collections::BTreeMap<String, String>,
    /// A `kubernetes.io/dockerconfigjson` Secret for pulling the image.
    pub pull_secret: Option<&'a str>,
}

/// The Pod for `run` (its one container is named after the pod, as werf names it).
pub fn pod(run: &PodRun<'_>) -> Value {
    let mut labels: Map<String, Value> = run
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    labels.insert("run".into(), Value::String(run.name.to_string()));
    let annotations: Map<String, Value> = run
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut container = json!({"name": run.name, "image": run.image});
    if !run.command.is_empty() {
        container["command"] = json!(run.command);
    }
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": run.name, "namespace": run.namespace, "labels": labels},
        "spec": {"restartPolicy": "Never", "containers": [container]},
    });
    if !annotations.is_empty() {
        pod["metadata"]["annotations"] = Value::Object(annotations);
    }
    if let Some(secret) = run.pull_secret {
        pod["spec"]["imagePullSecrets"] = json!([{"name": secret}]);
    }
    pod
}

/// `overrides` (its `%pod_name%`, `%container_name%` and `%container_image%` replaced) merged
/// into `pod`; the pod's name, namespace and kind stay.
pub fn apply_overrides(
    pod: &mut Value,
    overrides: &str,
    name: &str,
    image: &str,
) -> Result<(), OverridesError> {
    let text = overrides
        .replace("%pod_name%", name)
        .replace("%container_name%", name)
        .replace("%container_image%", image);
    let over: Value =
        serde_json::from_str(&text).map_err(|e| OverridesError::Json(e.to_string()))?;
    let Value::Object(_) = &over else {
        return Err(OverridesError::NotObject(kind(&over).into()));
    };
    for (pointer, what) in [
        ("/metadata/name", "metadata.name"),
        ("/metadata/namespace", "metadata.namespace"),
        ("/kind", "kind"),
    ] {
        if let Some(v) = over.pointer(pointer) {
            if Some(v) != pod.pointer(pointer) {
                return Err(OverridesError::Fixed(what));
            }
        }
    }
    merge(pod, over);
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// kubectl's merge of an override: maps key by key, lists whose items all have a `name` merged
/// item by item by name (new names appended), anything else replaced; `null` removes a key.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(&k);
                    continue;
                }
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(o))
            if b.iter()
                .chain(o.iter())
                .all(|i| i.get("name").is_some_and(Value::is_string)) =>
        {
            for item in o {
                match b.iter_mut().find(|x| x.get("name") == item.get("name")) {
                    Some(existing) => merge(existing, item),
                    None => b.push(item),
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Credentials for pulling the image, as the Docker config gives them.
pub enum PullAuth {
    Basic { username: String, password: String },
    Token(String),
}

/// The `kubernetes.io/dockerconfigjson` Secret `name` with `auth` for the registry `host`.
pub fn pull_secret(name: &str, namespace: &str, host: &str, auth: &PullAuth) -> Value {
    let entry = match auth {
        PullAuth::Basic { username, password } => {
            json!({"username": username, "password": password})
        }
        PullAuth::Token(t) => json!({"identitytoken": t}),
    };
    let config = json!({"auths": {host: entry}});
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": name, "namespace": namespace, "labels": {"run": name}},
        "stringData": {".dockerconfigjson": config.to_string()},
    })
}

/// A pod name werf would make: `werf-run-` and a random number.
pub fn random_name(seed: u64) -> String {
    format!("werf-run-{}", seed % 10_000_000_000)
}

/// Where a run is, from its pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Scheduled, pulling, creating.
    Waiting,
    /// The container runs: its log can be followed.
    Running,
    /// The container ended with this code.
    Exited(i32),
    /// It will not run: the image cannot be pulled, or the pod was refused.
    Failed(String),
}

/// What the pod's status says of the run (its first container).
pub fn progress(pod: &Value) -> Progress {
    let status = &pod["status"]["containerStatuses"][0];
    if let Some(t) = status.pointer("/state/terminated") {
        return Progress::Exited(t["exitCode"].as_i64().unwrap_or(1) as i32);
    }
    if status.pointer("/state/running").is_some() {
        return Progress::Running;
    }
    if let Some(w) = status.pointer("/state/waiting") {
        let reason = w["reason"].as_str().unwrap_or_default();
        if matches!(
            reason,
            "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "CreateContainerConfigError"
        ) {
            let message = w["message"].as_str().unwrap_or_default();
            return Progress::Failed(format!("{reason}: {message}"));
        }
    }
    if pod["status"]["phase"] == "Failed" {
        let message = pod["status"]["message"]
            .as_str()
            .unwrap_or("the pod failed");
        return Progress::Failed(message.to_string());
    }
    Progress::Waiting
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn run_pod() -> Value {
        let labels = BTreeMap::from([("team".to_string(), "core".to_string())]);
        let annotations = BTreeMap::new();
        let command = vec!["sh".to_string(), "-c".to_string(), "exit 3".to_string()];
        pod(&PodRun {
            name: "werf-run-1",
            namespace: "ns",
            image: "r/p:t",
            command: &command,
            labels: &labels,
            annotations: &annotations,
            pull_secret: Some("werf-run-1"),
        })
    }

    #[test]
    fn the_pod_runs_the_command_once_and_overrides_merge_by_name() {
        let mut p = run_pod();
        assert_eq!(p["spec"]["restartPolicy"], "Never");
        assert_eq!(
            p["spec"]["containers"][0]["command"],
            json!(["sh", "-c", "exit 3"])
        );
        assert_eq!(p["spec"]["imagePullSecrets"][0]["name"], "werf-run-1");
        assert_eq!(
            p["metadata"]["labels"],
            json!({"team": "core", "run": "werf-run-1"})
        );
        apply_overrides(
            &mut p,
            r#"{"metadata": {"labels": {"extra": "1"}}, "spec": {"serviceAccountName": "job",
                "containers": [{"name": "%container_name%", "env": [{"name": "IMG", "value": "%container_image%"}]},
                               {"name": "side", "image": "busybox"}]}}"#,
            "werf-run-1",
            "r/p:t",
        )
        .unwrap();
        assert_eq!(p["metadata"]["labels"]["extra"], "1");
        assert_eq!(p["metadata"]["labels"]["team"], "core");
        assert_eq!(p["spec"]["serviceAccountName"], "job");
        let containers = p["spec"]["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 2);
        assert_eq!(containers[0]["image"], "r/p:t");
        assert_eq!(containers[0]["env"][0]["value"], "r/p:t");
        assert_eq!(containers[1]["name"], "side");
    }

    #[test]
    fn bad_overrides_are_named() {
        let mut p = run_pod();
        let err = |o: &str| apply_overrides(&mut run_pod(), o, "werf-run-1", "r/p:t").unwrap_err();
        assert!(matches!(err("{"), OverridesError::Json(_)));
        assert_eq!(err("[1]"), OverridesError::NotObject("a list".into()));
        assert_eq!(
            err(r#"{"metadata": {"name": "other"}}"#),
            OverridesError::Fixed("metadata.name")
        );
        // The same name is no change.
        apply_overrides(
            &mut p,
            r#"{"metadata": {"name": "werf-run-1"}}"#,
            "werf-run-1",
            "x",
        )
        .unwrap();
    }

    #[test]
    fn the_pull_secret_holds_the_registry_s_login() {
        let s = pull_secret(
            "werf-run-1",
            "ns",
            "r.example",
            &PullAuth::Basic {
                username: "u".into(),
                password: "p".into(),
            },
        );
        assert_eq!(s["type"], "kubernetes.io/dockerconfigjson");
        let config: Value =
            serde_json::from_str(s["stringData"][".dockerconfigjson"].as_str().unwrap()).unwrap();
        assert_eq!(
            config,
            json!({"auths": {"r.example": {"username": "u", "password": "p"}}})
        );
        assert!(random_name(12345).starts_with("werf-run-"));
    }

    #[test]
    fn progress_reads_the_first_container() {
        let with = |state: Value| json!({"status": {"phase": "Pending", "containerStatuses": [{"state": state}]}});
        assert_eq!(
            progress(&json!({"status": {"phase": "Pending"}})),
            Progress::Waiting
        );
        assert_eq!(
            progress(&with(json!({"waiting": {"reason": "ContainerCreating"}}))),
            Progress::Waiting
        );
        assert_eq!(progress(&with(json!({"running": {}}))), Progress::Running);
        assert_eq!(
            progress(&with(json!({"terminated": {"exitCode": 3}}))),
            Progress::Exited(3)
        );
        assert!(matches!(
            progress(&with(json!({"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}))),
            Progress::Failed(m) if m.contains("not found")
        ));
    }
}
