//! Custom tags: werf's `--add-custom-tag`/`--use-custom-tag` aliases of the images' content tags.
//!
//! - [`template`]: the tag templates, read and checked as werf does (pure).
//! - [`publish`]: the aliases pushed, each after its record (nothing uploaded again).

pub mod publish;
pub mod template;

pub use publish::{publish, Alias, Published};
pub use template::Template;
