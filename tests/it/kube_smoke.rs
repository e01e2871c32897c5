//! The real control plane and the node simulator, exercised with the machine's real `kubectl`.

use std::time::Duration;

use crate::cluster::cluster;
use crate::registry::push_base_image;

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write manifest");
    p.display().to_string()
}

fn deployment(name: &str, image: &str, replicas: u32, extra: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: smoke\nspec:\n  replicas: {replicas}\n  progressDeadlineSeconds: 15\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: app\n        image: {image}\n{extra}"
    )
}

#[test]
fn kubectl_smoke_against_the_real_control_plane() {
    let c = cluster();
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    c.kubectl_ok(&["create", "namespace", "smoke"]);

    // Server-side apply twice: the second changes nothing; another manager conflicts.
    let cm = write(dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: smoke\ndata:\n  a: \"1\"\n");
    c.kubectl_ok(&["apply", "--server-side", "-f", &cm]);
    let rv1 =
        c.get_json(&["configmap", "cfg", "-n", "smoke"])["metadata"]["resourceVersion"].clone();
    c.kubectl_ok(&["apply", "--server-side", "-f", &cm]);
    let rv2 =
        c.get_json(&["configmap", "cfg", "-n", "smoke"])["metadata"]["resourceVersion"].clone();
    assert_eq!(rv1, rv2, "a repeated server-side apply changes nothing");
    let other = write(dir, "cm2.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: smoke\ndata:\n  a: \"2\"\n");
    let out = c.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager",
        "other",
        "-f",
        &other,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("conflict"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        c.writes_by("werf")
            .iter()
            .any(|w| w == "patch configmaps smoke/cfg"),
        "{:?}",
        c.writes_by("werf")
    );

    // A Deployment whose image is in the registry rolls out; one whose image is missing fails.
    let image = c.registry.repo("smoke/app:1");
    push_base_image(&image, dir);
    let good = write(dir, "good.yaml", &deployment("good", &image, 2, ""));
    c.kubectl_ok(&["apply", "-f", &good]);
    c.kubectl_ok(&[
        "rollout",
        "status",
        "deployment/good",
        "-n",
        "smoke",
        "--timeout=90s",
    ]);
    let missing = c.registry.repo("smoke/missing:1");
    let bad = write(dir, "bad.yaml", &deployment("bad", &missing, 1, ""));
    c.kubectl_ok(&["apply", "-f", &bad]);
    let out = c.kubectl(&[
        "rollout",
        "status",
        "deployment/bad",
        "-n",
        "smoke",
        "--timeout=60s",
    ]);
    assert!(!out.status.success(), "a missing image must not roll out");
    let pods = c.get_json(&["pods", "-n", "smoke", "-l", "app=bad"]);
    let reason = pods["items"][0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason == "ErrImagePull" || reason == "ImagePullBackOff",
        "{pods}"
    );
    let events = c.kubectl_ok(&[
        "get",
        "events",
        "-n",
        "smoke",
        "--field-selector",
        "reason=Failed",
    ]);
    assert!(events.contains("Failed to pull image"), "{events}");

    // Merge, JSON and strategic merge patches.
    c.kubectl_ok(&[
        "patch",
        "deployment",
        "good",
        "-n",
        "smoke",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"labels":{"patched":"merge"}}}"#,
    ]);
    c.kubectl_ok(&[
        "patch",
        "deployment",
        "good",
        "-n",
        "smoke",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":1}]"#,
    ]);
    c.kubectl_ok(&["patch", "deployment", "good", "-n", "smoke", "--type", "strategic", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"X","value":"1"}]}]}}}}"#]);
    let d = c.get_json(&["deployment", "good", "-n", "smoke"]);
    assert_eq!(d["metadata"]["labels"]["patched"], "merge");
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        "1"
    );
    c.kubectl_ok(&[
        "rollout",
        "status",
        "deployment/good",
        "-n",
        "smoke",
        "--timeout=90s",
    ]);

    // diff: a change is shown (exit 1), no change is silent (exit 0).
    let changed = write(dir, "cm3.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: smoke\ndata:\n  a: \"3\"\n");
    let out = c.kubectl(&["diff", "-f", &changed]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("+  a: \"3\""),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(c.kubectl(&["diff", "-f", &cm]).status.code(), Some(0));

    // Cascading delete removes the ReplicaSets and Pods; a namespace delete completes.
    c.kubectl_ok(&["delete", "deployment", "good", "-n", "smoke", "--wait=true"]);
    c.wait_for(
        "good's ReplicaSets and Pods to go",
        Duration::from_secs(60),
        || {
            c.get_json(&["replicasets", "-n", "smoke", "-l", "app=good"])["items"]
                .as_array()
                .is_some_and(|a| a.is_empty())
                && c.get_json(&["pods", "-n", "smoke", "-l", "app=good"])["items"]
                    .as_array()
                    .is_some_and(|a| a.is_empty())
        },
    );
    c.kubectl_ok(&["delete", "namespace", "smoke", "--timeout=120s"]);
    assert!(!c.kubectl(&["get", "namespace", "smoke"]).status.success());
}

#[test]
fn the_simulated_node_crashes_completes_and_fails_like_a_kubelet() {
    let c = cluster();
    let work = tempfile::tempdir().expect("tempdir");
    let image = c.registry.repo("sim/tiny:1");
    push_base_image(&image, work.path());
    c.kubectl_ok(&["create", "namespace", "sim"]);
    let manifests = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: crasher\n  namespace: sim\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: app\n    image: {image}\n    command: [\"/app\", \"--crash\"]\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: ok\n  namespace: sim\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: app\n        image: {image}\n        command: [\"sh\", \"-c\", \"exit 0\"]\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: failing\n  namespace: sim\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: app\n        image: {image}\n        command: [\"sh\", \"-c\", \"exit 1\"]\n"
    );
    let path = work.path().join("sim.yaml");
    std::fs::write(&path, manifests).expect("write");
    c.kubectl_ok(&["apply", "-f", path.to_str().expect("utf-8")]);
    c.wait_for(
        "the crashing pod to restart twice in CrashLoopBackOff",
        Duration::from_secs(60),
        || {
            let p = c.get_json(&["pod", "crasher", "-n", "sim"]);
            let s = &p["status"]["containerStatuses"][0];
            s["state"]["waiting"]["reason"] == "CrashLoopBackOff"
                && s["restartCount"].as_u64().unwrap_or(0) >= 2
        },
    );
    c.kubectl_ok(&[
        "wait",
        "--for=condition=complete",
        "job/ok",
        "-n",
        "sim",
        "--timeout=60s",
    ]);
    c.kubectl_ok(&[
        "wait",
        "--for=condition=failed",
        "job/failing",
        "-n",
        "sim",
        "--timeout=60s",
    ]);
    let nodes = c.get_json(&["nodes"]);
    assert_eq!(
        nodes["items"][0]["status"]["conditions"][0]["status"],
        "True"
    );
    c.kubectl_ok(&["delete", "namespace", "sim", "--timeout=120s"]);
}

#[test]
fn the_kube_client_sees_ready_nodes_and_werf_writes_are_audited() {
    use k8s_openapi::api::core::v1::{ConfigMap, Node};
    use kube::api::{Api, PostParams};
    let c = cluster();
    let (rt, client) = c.client();
    let nodes: Api<Node> = Api::all(client.clone());
    let list = rt
        .block_on(nodes.list(&Default::default()))
        .expect("list nodes");
    assert!(
        !list.items.is_empty(),
        "the node simulator registered no node"
    );
    assert!(list.items.iter().all(|n| n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))));
    c.kubectl_ok(&["create", "namespace", "audit"]);
    let cms: Api<ConfigMap> = Api::namespaced(client, "audit");
    let cm: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "counted"}})).expect("cm");
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    rt.block_on(cms.create(&dry, &cm)).expect("dry-run create");
    rt.block_on(cms.create(&PostParams::default(), &cm))
        .expect("create");
    let writes: Vec<String> = c
        .writes_by("werf")
        .into_iter()
        .filter(|w| w.contains("audit/"))
        .collect();
    assert_eq!(
        writes,
        ["create configmaps audit/counted"],
        "the dry run is not counted"
    );
    c.kubectl_ok(&["delete", "namespace", "audit", "--timeout=120s"]);
}
