//! `werf kube-run`: the image built if `--repo` lacks it, then one pod running the command
//! (see `werf_deploy::pod_run` and `werf_deploy::kube_run`); the command's exit code is the
//! process's.

use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _, Result};
use werf_deploy::pod_run::{self, PodRun, PullAuth};

use crate::cli::KubeRunArgs;
use crate::kubernetes::Kube;
use crate::pipeline::desired::runtime;
use crate::pipeline::publish::publish_all;
use crate::pipeline::render::release_names;
use crate::project::{load_for, Reads};
use crate::settings::{
    self, environment, CustomTags, GlobalSettings, KubeSettings, PublishSettings,
};

/// Runs `werf kube-run`.
pub fn run(global: &GlobalSettings, args: &KubeRunArgs) -> Result<ExitCode> {
    if args.rm_with_namespace && !args.rm {
        bail!("`--rm-with-namespace` needs `--rm`");
    }
    if let Some(pod) = &args.pod {
        if !is_subdomain(pod) {
            bail!("`--pod {pod}`: a pod's name is a DNS subdomain (lowercase letters, digits, `-` and `.`, at most 253 characters, a letter or digit at each end)");
        }
    }
    let timeout = settings::timeout(&args.timeout)?;
    // Overrides that are no partial Pod are refused before anything is built.
    if let Some(overrides) = &args.overrides {
        let mut probe = serde_json::json!({"kind": "Pod", "metadata": {}, "spec": {}});
        pod_run::apply_overrides(&mut probe, overrides, "werf-run", "IMAGE").or_else(
            |e| match e {
                // The real pod's name is known later; only the shape is checked here.
                pod_run::OverridesError::Fixed(_) => Ok(()),
                e => Err(e),
            },
        )?;
    }
    let repo = args.repo.clone().ok_or_else(|| {
        anyhow!("`werf kube-run` needs `--repo REGISTRY/PROJECT` (or `WERF_REPO`) for the image")
    })?;
    let metadata = settings::metadata(&args.metadata, environment())?;
    let kube_settings = KubeSettings::resolve(&args.kube)?;
    let mut loaded = load_for(global, Reads::Images)?;
    let image = match &args.image {
        Some(i) => i.clone(),
        None => {
            // From werf.yaml: an importer's tag may wait for its build.
            let names: Vec<String> = loaded
                .config
                .images
                .iter()
                .filter(|i| !i.is_internal())
                .map(|i| i.name.clone())
                .collect();
            match names.as_slice() {
                [only] => only.clone(),
                [] => bail!("werf.yaml has no image to run"),
                _ => bail!(
                    "werf.yaml has {} images ({}): name the one to run",
                    names.len(),
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    };
    let rt = runtime()?;
    // The cluster is checked before anything is built.
    let kube = rt.block_on(Kube::connect_with(&kube_settings.target, global.timeouts))?;
    let settings = PublishSettings::resolve(&args.publish, global);
    let registry = settings
        .registry
        .client(Some(&repo), &[], global.timeouts)?;
    if args.require_built_images {
        let tag = crate::pipeline::desired::tags(&loaded)?
            .remove(&image)
            .ok_or_else(|| anyhow!("image `{image}` is not defined in werf.yaml"))?;
        let reference = format!("{repo}:{tag}");
        if registry.manifest_digest(&reference)?.is_none() {
            bail!("`--require-built-images`: image `{image}` (`{reference}`) is not in `{repo}`");
        }
    } else {
        let wanted = loaded.selected_plans(std::slice::from_ref(&image))?;
        publish_all(
            global,
            &mut loaded,
            wanted,
            &repo,
            &settings,
            &CustomTags::default(),
        )?;
    }
    let tag = crate::pipeline::desired::tags(&loaded)?
        .remove(&image)
        .ok_or_else(|| anyhow!("image `{image}` is not defined in werf.yaml"))?;
    let reference = format!("{repo}:{tag}");
    let (_, namespace) = release_names(global, None, args.namespace.as_deref(), &loaded)?;
    let name = args.pod.clone().unwrap_or_else(|| {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64
            ^ u64::from(std::process::id());
        pod_run::random_name(seed)
    });
    let auth = if args.auto_pull_secret {
        let host = werf_registry::host_of(&repo);
        match werf_registry::credentials(host)? {
            oci_client::secrets::RegistryAuth::Basic(username, password) => {
                Some((host, PullAuth::Basic { username, password }))
            }
            oci_client::secrets::RegistryAuth::Bearer(token) => {
                Some((host, PullAuth::Token(token)))
            }
            oci_client::secrets::RegistryAuth::Anonymous => None,
        }
    } else {
        None
    };
    let pull_secret = auth
        .as_ref()
        .map(|(host, a)| pod_run::pull_secret(&name, &namespace, host, a));
    let mut annotations = metadata.annotations.clone();
    annotations.insert("werf.io/version".into(), env!("CARGO_PKG_VERSION").into());
    let mut pod = pod_run::pod(&PodRun {
        name: &name,
        namespace: &namespace,
        image: &reference,
        command: &args.command,
        labels: &metadata.labels,
        annotations: &annotations,
        pull_secret: pull_secret.as_ref().map(|_| name.as_str()),
    });
    if let Some(overrides) = &args.overrides {
        pod_run::apply_overrides(&mut pod, overrides, &name, &reference)?;
    }
    crate::printer::line(&format!(
        "Running pod `{name}` in `{namespace}` from `{reference}`"
    ));
    let run_settings = werf_deploy::kube_run::Settings {
        start_timeout: timeout,
        run_timeout: None,
        rm: args.rm,
        rm_namespace: args.rm_with_namespace,
    };
    let mut out = std::io::stdout();
    let code = rt
        .block_on(werf_deploy::kube_run::run(
            &kube,
            &crate::progress::DeployLines,
            pod,
            pull_secret,
            &mut out,
            &run_settings,
        ))
        .with_context(|| format!("`werf kube-run` of image `{image}`"))?;
    if code != 0 {
        crate::printer::line(&format!(
            "Pod `{name}`: the command exited with code {code}"
        ));
    }
    Ok(ExitCode::from((code & 0xff) as u8))
}

/// A DNS-1123 subdomain, as Kubernetes checks a pod's name.
fn is_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}
