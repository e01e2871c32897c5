//! Where the cluster's configuration comes from: the kubeconfig files (merged as kubectl merges
//! them), else the pod's service account when running in one, else nothing but the command line;
//! then werf's `--kube-api-server`, `--kube-token`, `--kube-ca-path` and `--skip-tls-verify-kube`
//! laid over the context in use, as kubectl's `--server`, `--token`,
//! `--certificate-authority` and `--insecure-skip-tls-verify` are.

use std::path::Path;

use kube::config::{
    AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext,
};

/// Where a pod's service account is mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The name of the context made when there is none to lay the overrides over.
const OWN: &str = "werf";

/// The command line's settings laid over the kubeconfig.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--kube-api-server`: the API server's URL.
    pub api_server: Option<String>,
    /// `--kube-token`: a bearer token (a secret: never shown).
    pub token: Option<String>,
    /// `--kube-ca-path`: the CA certificate file the server's certificate is checked against.
    pub ca_path: Option<std::path::PathBuf>,
    /// `--skip-tls-verify-kube`: the server's certificate is not checked.
    pub skip_tls_verify: bool,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }
}

/// The kubeconfig a pod's service account gives (the API server from
/// `KUBERNETES_SERVICE_HOST`/`_PORT`, the account's token file, CA and namespace under `dir`);
/// `None` when this is not a pod.
pub fn in_cluster(host: Option<&str>, port: Option<&str>, dir: &Path) -> Option<Kubeconfig> {
    let host = host.filter(|h| !h.is_empty())?;
    let token = dir.join("token");
    if !token.is_file() {
        return None;
    }
    let port = port.filter(|p| !p.is_empty()).unwrap_or("443");
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let ca = dir.join("ca.crt");
    let namespace = std::fs::read_to_string(dir.join("namespace"))
        .ok()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let name = "in-cluster".to_string();
    Some(Kubeconfig {
        clusters: vec![NamedCluster {
            name: name.clone(),
            cluster: Some(Cluster {
                server: Some(format!("https://{host}:{port}")),
                certificate_authority: ca.is_file().then(|| ca.display().to_string()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: name.clone(),
            auth_info: Some(AuthInfo {
                token_file: Some(token.display().to_string()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        contexts: vec![NamedContext {
            name: name.clone(),
            context: Some(Context {
                cluster: name.clone(),
                user: Some(name.clone()),
                namespace,
                ..Default::default()
            }),
            ..Default::default()
        }],
        current_context: Some(name),
        ..Default::default()
    })
}

/// Lays `o` over the context `context` (else the current one). With no context at all, a
/// `--kube-api-server` makes one of its own; without that, there is nothing to connect to.
pub fn apply(k: &mut Kubeconfig, context: Option<&str>, o: &Overrides) -> Result<(), String> {
    if o.is_empty() {
        return Ok(());
    }
    if o.skip_tls_verify && o.ca_path.is_some() {
        return Err(
            "`--kube-ca-path` and `--skip-tls-verify-kube` contradict each other: pass one".into(),
        );
    }
    let name = context
        .map(str::to_string)
        .or_else(|| k.current_context.clone());
    let found = name
        .as_deref()
        .and_then(|n| k.contexts.iter().position(|c| c.name == n));
    let index = match (found, context) {
        (Some(i), _) => i,
        (None, Some(c)) => return Err(format!("the kubeconfig has no context `{c}`")),
        (None, None) if o.api_server.is_some() => {
            k.contexts.push(NamedContext {
                name: OWN.into(),
                context: Some(Context {
                    cluster: OWN.into(),
                    ..Default::default()
                }),
                ..Default::default()
            });
            k.current_context = Some(OWN.into());
            k.contexts.len() - 1
        }
        (None, None) => {
            return Err("there is no context to connect with: pass `--kube-api-server URL` (with `--kube-token`), or a kubeconfig".into())
        }
    };
    let ctx = k.contexts[index]
        .context
        .get_or_insert_with(Default::default);
    if ctx.cluster.is_empty() {
        ctx.cluster = OWN.into();
    }
    let cluster_name = ctx.cluster.clone();
    if o.token.is_some() && ctx.user.is_none() {
        ctx.user = Some(OWN.into());
    }
    let user_name = ctx.user.clone();
    let cluster = match k.clusters.iter().position(|c| c.name == cluster_name) {
        Some(i) => &mut k.clusters[i],
        None => {
            k.clusters.push(NamedCluster {
                name: cluster_name,
                ..Default::default()
            });
            k.clusters.last_mut().expect("just pushed")
        }
    };
    let cluster = cluster.cluster.get_or_insert_with(Default::default);
    if let Some(server) = &o.api_server {
        cluster.server = Some(server.clone());
    }
    if let Some(ca) = &o.ca_path {
        cluster.certificate_authority = Some(ca.display().to_string());
        cluster.certificate_authority_data = None;
        cluster.insecure_skip_tls_verify = None;
    }
    if o.skip_tls_verify {
        cluster.insecure_skip_tls_verify = Some(true);
        cluster.certificate_authority = None;
        cluster.certificate_authority_data = None;
    }
    if cluster.server.is_none() {
        return Err("the context names no API server: pass `--kube-api-server URL`".into());
    }
    if let (Some(token), Some(user)) = (&o.token, user_name) {
        let auth = match k.auth_infos.iter().position(|a| a.name == user) {
            Some(i) => &mut k.auth_infos[i],
            None => {
                k.auth_infos.push(NamedAuthInfo {
                    name: user,
                    ..Default::default()
                });
                k.auth_infos.last_mut().expect("just pushed")
            }
        };
        let auth = auth.auth_info.get_or_insert_with(Default::default);
        auth.token = Some(secrecy::SecretString::from(token.clone()));
        auth.token_file = None;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    fn config() -> Kubeconfig {
        Kubeconfig::from_yaml(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://old:6443\n    certificate-authority-data: AAAA\nusers:\n- name: u\n  user:\n    token: old\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n",
        )
        .expect("kubeconfig")
    }

    #[test]
    fn overrides_replace_what_they_name_in_the_current_context() {
        let mut k = config();
        let o = Overrides {
            api_server: Some("https://new:443".into()),
            token: Some("t0ken".into()),
            ca_path: Some("/ca.crt".into()),
            skip_tls_verify: false,
        };
        apply(&mut k, None, &o).expect("applies");
        let c = k.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(c.server.as_deref(), Some("https://new:443"));
        assert_eq!(c.certificate_authority.as_deref(), Some("/ca.crt"));
        assert_eq!(c.certificate_authority_data, None);
        let a = k.auth_infos[0].auth_info.as_ref().expect("user");
        assert_eq!(
            a.token.as_ref().map(|t| t.expose_secret().to_string()),
            Some("t0ken".to_string())
        );
        // Nothing asked, nothing changed.
        let mut k = config();
        apply(&mut k, None, &Overrides::default()).expect("applies");
        assert_eq!(
            k.clusters[0]
                .cluster
                .as_ref()
                .and_then(|c| c.server.clone()),
            Some("https://old:6443".into())
        );
    }

    #[test]
    fn a_server_alone_makes_a_context_and_nothing_is_an_error() {
        let mut k = Kubeconfig::default();
        let o = Overrides {
            api_server: Some("https://api:6443".into()),
            token: Some("t".into()),
            skip_tls_verify: true,
            ..Default::default()
        };
        apply(&mut k, None, &o).expect("applies");
        assert_eq!(k.current_context.as_deref(), Some("werf"));
        let c = k.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(c.insecure_skip_tls_verify, Some(true));
        assert_eq!(k.auth_infos[0].name, "werf");

        let mut k = Kubeconfig::default();
        let token_only = Overrides {
            token: Some("t".into()),
            ..Default::default()
        };
        let e = apply(&mut k, None, &token_only).expect_err("no server");
        assert!(e.contains("--kube-api-server"), "{e}");
        let mut k = config();
        let e = apply(&mut k, Some("nope"), &token_only).expect_err("no context");
        assert!(e.contains("no context `nope`"), "{e}");
        let both = Overrides {
            ca_path: Some("/ca".into()),
            skip_tls_verify: true,
            ..Default::default()
        };
        assert!(apply(&mut config(), None, &both)
            .expect_err("contradiction")
            .contains("contradict"));
    }

    #[test]
    fn a_pods_service_account_is_a_kubeconfig() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(in_cluster(Some("10.0.0.1"), Some("443"), dir.path()).is_none());
        std::fs::write(dir.path().join("token"), "sa-token").expect("token");
        std::fs::write(dir.path().join("ca.crt"), "PEM").expect("ca");
        std::fs::write(dir.path().join("namespace"), "apps\n").expect("ns");
        assert!(
            in_cluster(None, Some("443"), dir.path()).is_none(),
            "not a pod"
        );
        let k = in_cluster(Some("fd00::1"), Some("6443"), dir.path()).expect("in a pod");
        let c = k.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(c.server.as_deref(), Some("https://[fd00::1]:6443"));
        assert_eq!(
            c.certificate_authority.as_deref(),
            Some(dir.path().join("ca.crt").to_str().expect("utf-8"))
        );
        let ctx = k.contexts[0].context.as_ref().expect("context");
        assert_eq!(ctx.namespace.as_deref(), Some("apps"));
        let a = k.auth_infos[0].auth_info.as_ref().expect("user");
        assert_eq!(
            a.token_file.as_deref(),
            Some(dir.path().join("token").to_str().expect("utf-8"))
        );
    }
}
