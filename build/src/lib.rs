//! `werf build`: find which images the registry lacks, build exactly those along the image DAG
//! (an image starts as soon as its dependencies are published; `--parallel` workers, no waves),
//! and push each one blobs-first, manifest last, so a tag only ever names a complete image.
//!
//! - [`run`]: a build from plans to results: the listing, the scheduler, the records.
//! - [`schedule`]: the scheduler, generic over what builds an image and what plans one.
//! - [`backend`]: the [`Backend`] trait and its implementations (native, buildah, BuildKit).
//! - [`push`]: a natively built image pushed, blobs first.
//! - [`tags`]: the repository's tags as the last build on this machine left them.
//! - [`taglog`]: when each tag was first seen (cleanup's `keepImagesBuiltWithinLastNHours`).
//! - [`oci`]: the OCI model (manifests, configs, descriptors).
//! - [`layer`]: reproducible layers, streamed through temp files (bounded memory).
//! - [`platforms`]: multi-platform images: a manifest per platform, an index under the tag.
//! - [`layer_index`]: each layer's files and their digests, kept per layer (import checksums).
//! - [`archive`]: `ADD` of local archives, unpacked as Docker does, never outside the destination.
//! - [`native`]: the daemonless Dockerfile executor.
//! - [`buildah`]: the external backend for images with `RUN`.
//! - [`buildkit`]: images with `RUN` solved by one or many BuildKit daemons.
//! - [`image_spec`]: werf.yaml `imageSpec` applied to what was built, before it is tagged.
//! - [`imports`]: Stapel import checksums read from built images and recorded as tags.
//! - [`custom_tag`]: `--add-custom-tag` aliases of content tags, checked and pushed.
//! - [`secrets`]: werf.yaml `secrets` read for `RUN --mount=type=secret`.
//! - [`error`]: a build's errors, and one image's.

pub mod archive;
pub mod backend;
pub mod buildah;
pub mod buildkit;
pub mod custom_tag;
pub mod error;
pub mod image_spec;
pub mod imports;
pub mod layer;
pub mod layer_index;
pub mod native;
pub mod oci;
pub mod platforms;
pub mod push;
pub mod run;
pub mod schedule;
pub mod secrets;
pub mod taglog;
pub mod tags;

use werf_registry as registry;

pub use backend::Backend;
pub use error::{Error, ImageError};
pub use run::{build, has_run, ImageResult, Options, Planner, Reporter, Wanted};
pub use tags::cached_tags;
