//! Giterminism at load time: `werf-giterminism.yaml` read from the project folder of the commit
//! (or of the `--dev` snapshot), and what werf.yaml uses besides the commit checked against it:
//! `contextAddFiles`, `secrets` and Stapel `mount.fromPath` need an allowance each (werf.yaml's
//! `env` is checked by the engine as it renders).

use anyhow::{bail, Result};
use werf_graph::config::{SecretFrom, WerfConfig};
use werf_graph::giterminism::{Giterminism, FILE};
use werf_graph::pattern::join;
use werf_graph::{ObjectId, ObjectSource};

/// The project's rules: the file in the tree `root` at `prefix`, or none (nothing loosened).
pub fn read(objects: &dyn ObjectSource, root: ObjectId, prefix: &str) -> Result<Giterminism> {
    let path = join(prefix, FILE);
    let Some(entry) = werf_graph::context::lookup(objects, root, &path)? else {
        return Ok(Giterminism::default());
    };
    if !entry.kind.is_file() {
        bail!("`{path}` is not a file");
    }
    let data = objects.blob(entry.id)?;
    let text =
        std::str::from_utf8(&data).map_err(|_| anyhow::anyhow!("`{path}` is not UTF-8 text"))?;
    Ok(Giterminism::parse(&path, text)?)
}

/// What werf.yaml reads from outside the commit, checked against the rules.
pub fn check_config(config: &WerfConfig, rules: &Giterminism, config_file: &str) -> Result<()> {
    for img in &config.images {
        let at = || format!("{config_file}:{}: image `{}`", img.line, img.name);
        for entry in &img.context_add_files {
            let path = join(&img.context, entry);
            if !rules.allows_context_add_file(&path) {
                bail!(
                    "{}: `contextAddFiles` entry `{entry}` reads `{path}` from the work tree, which giterminism does not allow: list it in `config.dockerfile.allowContextAddFiles` of `{FILE}`",
                    at()
                );
            }
        }
        for secret in &img.secrets {
            let (allowed, what, key) = match &secret.from {
                SecretFrom::Env(name) => (
                    rules.allows_secret_env(name),
                    format!("the environment variable `{name}`"),
                    "config.secrets.allowEnvVariables",
                ),
                SecretFrom::File(path) => (
                    rules.allows_secret_file(path),
                    format!("the file `{path}`"),
                    "config.secrets.allowFiles",
                ),
                SecretFrom::Value(_) => (
                    rules.allows_secret_value(&secret.id),
                    format!("a value with id `{}`", secret.id),
                    "config.secrets.allowValueIds",
                ),
            };
            if !allowed {
                bail!(
                    "{}: secret `{}` from {what} is not allowed by giterminism: list it in `{key}` of `{FILE}`",
                    at(),
                    secret.id
                );
            }
        }
    }
    Ok(())
}

/// Stapel `mount[].fromPath` folders of this machine, checked against the rules.
pub fn check_mounts(
    plans: &[(
        String,
        werf_graph::Result<std::sync::Arc<werf_graph::plan::ImagePlan>>,
    )],
    rules: &Giterminism,
    config_file: &str,
) -> Result<()> {
    for (name, plan) in plans {
        let Ok(plan) = plan else { continue };
        for (from, _) in &plan.host_mounts {
            if !rules.allows_mount_from_path(from) {
                bail!(
                    "{config_file}: image `{name}`: `mount` from `{from}` of this machine is not allowed by giterminism: list it in `config.stapel.mount.allowFromPaths` of `{FILE}`"
                );
            }
        }
    }
    Ok(())
}
