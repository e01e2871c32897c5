//! What a deploy renders: a project's chart from its commit (through the graph, images tagged
//! by content), or a bundle's chart pulled from a registry (rendered on its own, images carried
//! as values). The deploy steps ([`super::desired`]) take either.

use std::sync::Arc;

use anyhow::Result;
use werf_graph::chart::{Cluster, Manifest, RenderOptions};

use crate::deploy;
use crate::project::Loaded;
use crate::settings::{GlobalSettings, RenderSettings};

/// A chart to deploy, and what its revisions record.
pub trait ChartSource {
    /// The render options for the release `names` (release, namespace) from the command line.
    fn options(
        &self,
        global: &GlobalSettings,
        args: &RenderSettings,
        names: (String, String),
    ) -> Result<RenderOptions>;
    /// The custom resource definitions of the enabled charts.
    fn crds(&self, options: &RenderOptions) -> Result<Arc<Vec<(String, String)>>>;
    /// The manifests in Helm's install order; `lookup` reads `cluster`.
    fn manifests(&self, options: &RenderOptions, cluster: Cluster) -> Result<Arc<Vec<Manifest>>>;
    /// The manifests and the top chart's rendered `NOTES.txt`, from one render.
    fn with_notes(
        &self,
        options: &RenderOptions,
        cluster: Cluster,
    ) -> Result<(Arc<Vec<Manifest>>, String)>;
    /// What a revision records of the chart and values.
    fn content(
        &self,
        options: &RenderOptions,
        manifest: String,
        notes: String,
    ) -> Result<deploy::Content>;
}

impl ChartSource for Loaded {
    fn options(
        &self,
        global: &GlobalSettings,
        args: &RenderSettings,
        names: (String, String),
    ) -> Result<RenderOptions> {
        super::render::render_options(global, args, names, self)
    }

    fn crds(&self, options: &RenderOptions) -> Result<Arc<Vec<(String, String)>>> {
        super::render::crds(self, options.clone())
    }

    fn manifests(&self, options: &RenderOptions, cluster: Cluster) -> Result<Arc<Vec<Manifest>>> {
        super::render::render(self, options.clone(), cluster)
    }

    fn with_notes(
        &self,
        options: &RenderOptions,
        cluster: Cluster,
    ) -> Result<(Arc<Vec<Manifest>>, String)> {
        super::render::render_with_notes(self, options.clone(), cluster)
    }

    fn content(
        &self,
        options: &RenderOptions,
        manifest: String,
        notes: String,
    ) -> Result<deploy::Content> {
        super::desired::content(self, options, manifest, notes)
    }
}
