//! Rendering for every command that renders: the render options from the command line and
//! werf.yaml (release and namespace names, values, werf's secrets), and the chart's manifests and
//! CRDs from the loaded project's graph.

use std::sync::Arc;

use anyhow::{Context as _, Result};
use werf_graph::chart::{self, Cluster, RenderOptions};
use werf_graph::render::{self, RenderInput};

use crate::project::Loaded;
use crate::secret;
use crate::settings::{GlobalSettings, RenderSettings};

/// The chart's manifests for `options`, from the loaded project's graph; `lookup` reads
/// `cluster`.
pub fn render(
    loaded: &Loaded,
    options: RenderOptions,
    cluster: Cluster,
) -> Result<Arc<Vec<chart::Manifest>>> {
    let input = RenderInput::new(&loaded.db, options, cluster);
    Ok(render::rendered_chart_on_every_core(
        &loaded.db,
        loaded.project,
        input,
    )?)
}

/// [`render`] and the release notes (the top chart's `templates/NOTES.txt`, empty without one),
/// from one input: the notes do not set the chart up a second time.
pub fn render_with_notes(
    loaded: &Loaded,
    options: RenderOptions,
    cluster: Cluster,
) -> Result<(Arc<Vec<chart::Manifest>>, String)> {
    let input = RenderInput::new(&loaded.db, options, cluster);
    let manifests = render::rendered_chart_on_every_core(&loaded.db, loaded.project, input)?;
    let notes = render::notes(&loaded.db, loaded.project, input).clone()?;
    Ok((manifests, notes.to_string()))
}

/// The chart's custom resource definitions for `options` (`crds/` of the enabled charts).
pub fn crds(loaded: &Loaded, options: RenderOptions) -> Result<Arc<Vec<(String, String)>>> {
    let input = RenderInput::new(&loaded.db, options, Cluster::offline());
    Ok(render::crds(&loaded.db, loaded.project, input).clone()?)
}

/// The release and namespace names as werf computes them: `--release`/`--namespace`, else
/// werf.yaml's `deploy.helmRelease`/`deploy.namespace` templates (default `PROJECT`, or
/// `PROJECT-ENV` with `--env`), slugged unless werf.yaml turns that off.
pub fn release_names(
    global: &GlobalSettings,
    release: Option<&str>,
    namespace: Option<&str>,
    loaded: &Loaded,
) -> Result<(String, String)> {
    let meta = &loaded.config.meta;
    let settings = crate::deploy::names::Settings {
        project: &meta.project,
        env: global.env.as_deref(),
        release_template: meta.deploy.helm_release.as_deref(),
        release_slug: meta.deploy.helm_release_slug,
        namespace_template: meta.deploy.namespace.as_deref(),
        namespace_slug: meta.deploy.namespace_slug,
    };
    let ns = crate::deploy::names::namespace(namespace, &settings)
        .context("werf.yaml `deploy.namespace`")?;
    let name = crate::deploy::names::release(release, &ns, &settings)
        .context("werf.yaml `deploy.helmRelease`")?;
    Ok((name, ns))
}

/// [`render_options`] with the names computed from the command line and werf.yaml
/// ([`release_names`]), for the commands that have no release yet.
pub fn named_render_options(
    global: &GlobalSettings,
    args: &RenderSettings,
    loaded: &Loaded,
) -> Result<RenderOptions> {
    let names = release_names(
        global,
        args.release.as_deref(),
        args.namespace.as_deref(),
        loaded,
    )?;
    render_options(global, args, names, loaded)
}

/// Release and namespace (`names`, computed once by [`release_names`]), values and image
/// repository from the command line.
pub fn render_options(
    global: &GlobalSettings,
    args: &RenderSettings,
    (release, namespace): (String, String),
    loaded: &Loaded,
) -> Result<RenderOptions> {
    let values_files = values_files(args)?;
    let mut options = RenderOptions {
        release,
        namespace,
        env: global.env.clone(),
        values_files,
        set: args.set.clone(),
        repo: args.repo.clone(),
        custom_tags: super::images::referenced(loaded, args.use_custom_tag.as_ref()),
        revision: 1,
        kube_version: None,
        api_versions: None,
        secret_files: Default::default(),
        dependency_archives: crate::charts::locked::archives(
            loaded,
            &global.home,
            global.timeouts,
            &crate::settings::RegistrySettings::default(),
        )?,
    };
    add_secrets(loaded, args, &mut options)?;
    Ok(options)
}

/// The `--values` files, read, in order.
pub fn values_files(args: &RenderSettings) -> Result<Vec<(String, String)>> {
    let mut values_files = Vec::new();
    for f in &args.values {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read values file `{}`", f.display()))?;
        values_files.push((f.display().to_string(), text));
    }
    Ok(values_files)
}

/// werf's encrypted secrets in a render: the chart's `secret-values.yaml` (after `values.yaml`,
/// before `--values`) and each `--secret-values` file (after `--values`), decrypted into values;
/// `.helm/secret/*` decrypted for `werf_secret_file`. The key is only looked for when there is
/// something to decrypt.
fn add_secrets(loaded: &Loaded, args: &RenderSettings, options: &mut RenderOptions) -> Result<()> {
    let chart = werf_graph::render::chart(&loaded.db, loaded.project).clone()?;
    let project_dir = loaded.repo.workdir.join(&loaded.repo.prefix);
    add_chart_secrets(&chart, &project_dir, args, options)
}

/// [`add_secrets`] for a chart read from anywhere; the key is looked for from `key_dir`
/// (its `.werf_secret_key`) after `WERF_SECRET_KEY`.
pub fn add_chart_secrets(
    chart: &werf_graph::chart::Chart,
    key_dir: &std::path::Path,
    args: &RenderSettings,
    options: &mut RenderOptions,
) -> Result<()> {
    let chart_values = chart.files.get("secret-values.yaml");
    let files: Vec<(&String, &Arc<[u8]>)> = chart
        .files
        .iter()
        .filter(|(name, _)| name.starts_with("secret/"))
        .collect();
    if chart_values.is_none() && files.is_empty() && args.secret_values.is_empty() {
        return Ok(());
    }
    let key = secret::key::find("WERF_SECRET_KEY", key_dir)?;
    let decrypt_values = |name: String, text: &str| -> Result<(String, String)> {
        let tree = secret::values::parse(text).with_context(|| format!("reading `{name}`"))?;
        let plain =
            secret::values::decrypt(&key, tree).with_context(|| format!("decrypting `{name}`"))?;
        Ok((
            format!("{name} (decrypted)"),
            secret::values::to_yaml(&plain),
        ))
    };
    let mut values = Vec::new();
    if let Some(data) = chart_values {
        let name = format!("{}/secret-values.yaml", chart.dir);
        values.push(decrypt_values(name, &String::from_utf8_lossy(data))?);
    }
    values.append(&mut options.values_files);
    for f in &args.secret_values {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read secret values file `{}`", f.display()))?;
        values.push(decrypt_values(f.display().to_string(), &text)?);
    }
    options.values_files = values;
    for (name, data) in files {
        let text = String::from_utf8_lossy(data);
        let (plain, _) = secret::cipher::decrypt(&key, &text)
            .with_context(|| format!("decrypting `{}/{name}`", chart.dir))?;
        let plain = String::from_utf8(plain).with_context(|| {
            format!(
                "`{}/{name}`: the decrypted file is not UTF-8 text",
                chart.dir
            )
        })?;
        let short = name.trim_start_matches("secret/").to_string();
        options.secret_files.insert(short, plain);
    }
    Ok(())
}
