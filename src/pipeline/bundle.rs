//! Bundles in the pipeline: a project's chart made into a bundle and published (after its
//! images), and a published bundle as a [`ChartSource`]: rendered on its own with the values it
//! carries, its werf secrets decrypted with the key of `WERF_SECRET_KEY` (or the current
//! folder's `.werf_secret_key`, or the user's global key).

use std::sync::Arc;

use anyhow::{Context as _, Result};
use werf_bundle::{artifact, compose, package, version};
use werf_graph::chart::standalone::{self, Service};
use werf_graph::chart::{Chart, Cluster, Manifest, RenderOptions};

use super::source::ChartSource;
use crate::deploy;
use crate::project::Loaded;
use crate::settings::{GlobalSettings, RenderSettings};

/// A bundle pulled from a registry.
pub struct Bundle {
    /// `REPO:TAG` it was pulled from.
    pub reference: String,
    pub chart: Arc<Chart>,
    pub service: Service,
}

impl Bundle {
    /// Pulls the bundle `repo:tag`.
    pub fn pull(registry: &werf_registry::Registry, repo: &str, tag: &str) -> Result<Bundle> {
        let pulled = artifact::pull(registry, repo, tag)?;
        let chart = werf_graph::chart::load::from_files(&pulled.reference, pulled.files)
            .with_context(|| format!("loading the chart of bundle `{}`", pulled.reference))?;
        let service = standalone::service_of(&chart.values)
            .map_err(|m| anyhow::anyhow!("bundle `{}`: {m}", pulled.reference))?;
        Ok(Bundle {
            reference: pulled.reference,
            chart: Arc::new(chart),
            service,
        })
    }

    fn prepared(&self, options: &RenderOptions, cluster: Cluster) -> Result<standalone::Prepared> {
        standalone::prepare(&self.chart, &self.service, options, cluster)
            .with_context(|| format!("rendering bundle `{}`", self.reference))
    }
}

impl ChartSource for Bundle {
    fn options(
        &self,
        global: &GlobalSettings,
        args: &RenderSettings,
        (release, namespace): (String, String),
    ) -> Result<RenderOptions> {
        let mut options = RenderOptions {
            release,
            namespace,
            env: global.env.clone(),
            values_files: super::render::values_files(args)?,
            set: args.set.clone(),
            repo: Some(self.service.repo.clone()),
            revision: 1,
            ..Default::default()
        };
        let here = std::env::current_dir().context("cannot read the current folder")?;
        super::render::add_chart_secrets(&self.chart, &here, args, &mut options)?;
        Ok(options)
    }

    fn crds(&self, options: &RenderOptions) -> Result<Arc<Vec<(String, String)>>> {
        Ok(Arc::new(self.prepared(options, Cluster::offline())?.crds()))
    }

    fn manifests(&self, options: &RenderOptions, cluster: Cluster) -> Result<Arc<Vec<Manifest>>> {
        let prepared = self.prepared(options, cluster)?;
        let manifests = prepared
            .manifests()
            .with_context(|| format!("rendering bundle `{}`", self.reference))?;
        Ok(Arc::new(manifests))
    }

    fn with_notes(
        &self,
        options: &RenderOptions,
        cluster: Cluster,
    ) -> Result<(Arc<Vec<Manifest>>, String)> {
        let prepared = self.prepared(options, cluster)?;
        let manifests = prepared
            .manifests()
            .with_context(|| format!("rendering bundle `{}`", self.reference))?;
        Ok((Arc::new(manifests), prepared.notes()?))
    }

    fn content(
        &self,
        options: &RenderOptions,
        manifest: String,
        notes: String,
    ) -> Result<deploy::Content> {
        let config = werf_graph::chart::user_values(&self.chart, options)?;
        Ok(deploy::Content {
            chart: super::desired::recorded_chart(&self.chart),
            config: serde_json::Value::Object(config),
            manifest,
            notes,
            commit: None,
        })
    }
}

/// A published bundle.
pub struct Published {
    pub reference: String,
    pub chart: String,
    pub version: String,
    pub digest: String,
}

/// Makes the project's chart into a bundle (images as `repo:TAG`, the publish's values merged,
/// `Chart.lock`'s dependencies packaged) and pushes it as `repo:tag`. The images must be
/// published already.
pub fn publish_chart(
    global: &GlobalSettings,
    loaded: &Loaded,
    args: &RenderSettings,
    repo: &str,
    tag: &str,
    registry: &werf_registry::Registry,
    registry_settings: &crate::settings::RegistrySettings,
) -> Result<Published> {
    let (dir, tree) = werf_graph::render::chart_tree(&loaded.db, loaded.project).clone()?;
    let chart = werf_graph::render::chart(&loaded.db, loaded.project).clone()?;
    let files = werf_graph::chart::load::tree_files(&*loaded.objects, tree, &dir)?;
    // The publish's own values, without werf's secrets: those stay encrypted in the bundle and
    // are decrypted where it is applied.
    let user_options = RenderOptions {
        values_files: super::render::values_files(args)?,
        set: args.set.clone(),
        ..Default::default()
    };
    let user = werf_graph::chart::user_values(&chart, &user_options)?;
    let images = super::desired::tags(loaded)?
        .into_iter()
        .map(|(name, t)| (name, format!("{repo}:{t}")))
        .collect();
    let service = Service {
        project: loaded.config.meta.project.clone(),
        repo: repo.to_string(),
        images,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let chart_version = version::chart_version(tag, now);
    let dependencies =
        crate::charts::locked::archives(loaded, &global.home, global.timeouts, registry_settings)?;
    let bundle_files = compose::bundle_files(compose::Parts {
        files,
        chart: &chart,
        user,
        service,
        dependencies,
        version: chart_version.clone(),
    });
    // Loaded again as Helm will load it: a bundle that does not load is not published.
    let bundled = werf_graph::chart::load::from_files(&dir, bundle_files.clone())
        .context("the bundle's chart")?;
    let archive =
        package::to_tgz(&bundled.name, &bundle_files).context("packaging the bundle's chart")?;
    let digest = artifact::push(registry, repo, tag, &bundled.meta, archive)?;
    Ok(Published {
        reference: format!("{repo}:{tag}"),
        chart: bundled.name,
        version: chart_version,
        digest,
    })
}
