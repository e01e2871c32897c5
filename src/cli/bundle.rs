//! `werf bundle …`: the arguments of publishing, applying, rendering and copying bundles.

use clap::{Args, Subcommand};

use super::{
    AddCustomTagArgs, HistoryArgs, KubeArgs, MetadataArgs, PublishFlags, RegistryAccessArgs,
    RenderArgs, TrackArgs,
};

/// `werf bundle ...`.
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Build and push the images `--repo` lacks, then push the chart, with the images'
    /// references and this command's values, as the OCI Helm chart `REPO:TAG` (werf's
    /// encrypted secrets stay encrypted in it).
    Publish(BundlePublishArgs),
    /// Deploy the bundle `REPO:TAG` from any folder (no Git repository, no werf.yaml), as
    /// `converge` deploys: only what differs, tracked, recorded, rolled back on failure with
    /// `--auto-rollback`.
    Apply(BundleApplyArgs),
    /// Print the manifests of the bundle `REPO:TAG` as `apply` would deploy them.
    Render(BundleRenderArgs),
    /// Copy a bundle and every image it references: `REPO:TAG` or `archive:PATH` to
    /// `REPO:TAG` or `archive:PATH` (an archive moves a bundle where no registry reaches).
    Copy(BundleCopyArgs),
}

/// The bundle's tag.
#[derive(Debug, Args)]
pub struct BundleTagArgs {
    /// The bundle's tag in `--repo` (a semantic version is also the chart's version).
    #[arg(long, env = "WERF_TAG", default_value = "latest", value_name = "TAG")]
    pub tag: String,
}

#[derive(Debug, Args)]
pub struct BundlePublishArgs {
    #[command(flatten)]
    pub render: RenderArgs,

    #[command(flatten)]
    pub tag: BundleTagArgs,

    #[command(flatten)]
    pub custom_tags: AddCustomTagArgs,

    #[command(flatten)]
    pub publish: PublishFlags,
}

#[derive(Debug, Args)]
pub struct BundleApplyArgs {
    #[command(flatten)]
    pub render: RenderArgs,

    #[command(flatten)]
    pub tag: BundleTagArgs,

    #[command(flatten)]
    pub registry: RegistryAccessArgs,

    #[command(flatten)]
    pub kube: KubeArgs,

    #[command(flatten)]
    pub metadata: MetadataArgs,

    #[command(flatten)]
    pub track: TrackArgs,

    #[command(flatten)]
    pub history: HistoryArgs,
}

#[derive(Debug, Args)]
pub struct BundleRenderArgs {
    #[command(flatten)]
    pub render: RenderArgs,

    #[command(flatten)]
    pub tag: BundleTagArgs,

    #[command(flatten)]
    pub registry: RegistryAccessArgs,
}

#[derive(Debug, Args)]
pub struct BundleCopyArgs {
    /// The bundle: `REPO[:TAG]` (`latest` without a tag) or `archive:PATH`.
    #[arg(long, value_name = "REPO:TAG|archive:PATH")]
    pub from: String,

    /// Where it goes: `REPO[:TAG]` or `archive:PATH`.
    #[arg(long, value_name = "REPO:TAG|archive:PATH")]
    pub to: String,

    #[command(flatten)]
    pub registry: RegistryAccessArgs,
}
