//! werf-rs engine: werf.yaml, Dockerfiles and Git trees as one memoized dependency graph.
//!
//! Pure: no network, no clock, no environment. The caller (`src/`) sets the [`db::Project`] input
//! (a commit's root tree, the project folder, `contextAddFiles` hashes) and asks for plans.
//!
//! - [`digest`]: the canonical BLAKE3 encoding of DESIGN.md section 3; tags.
//! - [`objects`]: Git objects by id behind [`objects::ObjectSource`]; an in-memory store.
//! - [`config`]: werf.yaml: template step, documents, strict schema, validation.
//! - [`chart`]: Helm charts from a commit: subcharts, values scoping, `.Files`, rendering steps.
//! - [`dockerfile`]: Dockerfile parsing and ARG/ENV resolution.
//! - [`giterminism`]: `werf-giterminism.yaml`: what may be read besides the commit.
//! - [`image_spec`]: werf.yaml `imageSpec`: read strictly, merged, applied to an image config.
//! - [`pattern`]: `.dockerignore` rules and COPY wildcards, matched in linear time.
//! - [`tar_guard`]: caps the tar headers a parser reads whole (every archive reader's front).
//! - [`context`]: COPY sources inside Git trees and their content digests.
//! - [`dag`]: the image DAG (petgraph), order and cycles.
//! - [`db`]: the salsa database and its inputs.
//! - [`paths`]: the root tree by path, each folder's entry depending on its parent's only.
//! - [`tree_diff`]: which paths two root trees answer differently; the entries two folders differ in.
//! - [`plan`]: tracked queries from config to image plans.
//! - [`render`]: tracked queries from chart to manifests, one node per template.
//! - [`cleanup`]: cleanup decisions: keep policies, history walks, what to keep or delete.
//! - [`stapel`]: Stapel images (git mappings, shell stages, imports) as Dockerfile stages.
//! - [`imports`]: Stapel import checksums (imports cut off by the content they copy).
//! - [`custom_tag`]: records tying each custom tag to the content tag it aliases.
//! - [`why`]: why a tag or an object changed between two revisions, down to files and fields.
//! - [`view`]: the dependency graph as nodes and edges (`werf graph`).
//! - [`error`]: the one error type.

pub mod chart;
pub mod cleanup;
pub mod config;
pub mod context;
pub mod custom_tag;
pub mod dag;
pub mod db;
pub mod digest;
pub mod dockerfile;
pub mod error;
pub mod giterminism;
pub mod image_spec;
pub mod imports;
pub mod objects;
pub mod paths;
pub mod pattern;
pub mod plan;
pub mod render;
pub mod stapel;
pub mod tar_guard;
pub mod tree_diff;
pub mod view;
pub mod why;

pub use db::{Database, Project};
pub use digest::Digest;
pub use error::{Error, Result};
pub use objects::{ObjectId, ObjectSource};
/// Setting an input field (`project.set_root_tree(&mut db).to(id)`) needs this trait.
pub use salsa::Setter;
