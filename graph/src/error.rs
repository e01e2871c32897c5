//! The engine's one error type: every message names the file, the line and the cause.

use std::fmt;

/// A place in a source file (1-based line and column; column 0 when unknown).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}", self.file),
            (l, 0) => write!(f, "{}:{l}", self.file),
            (l, c) => write!(f, "{}:{l}:{c}", self.file),
        }
    }
}

/// Everything that can go wrong while loading config and computing digests.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Error {
    /// werf.yaml is not valid YAML or does not match the schema.
    #[error("{at}: {message}")]
    Config { at: Location, message: String },

    /// An `imageSpec` (`build.imageSpec`, or image `image`'s) that werf cannot read.
    #[error("{at}: {}{spec}", image.as_ref().map(|n| format!("image `{n}`: ")).unwrap_or_default())]
    ImageSpec {
        at: Location,
        image: Option<String>,
        spec: Box<crate::image_spec::SpecError>,
    },

    /// A Dockerfile cannot be parsed or resolved.
    #[error("{at}: {message}")]
    Dockerfile { at: Location, message: String },

    /// Image dependencies form a cycle.
    #[error("{at}: images depend on each other in a cycle: {}", .cycle.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" -> "))]
    Cycle { at: Location, cycle: Vec<String> },

    /// A path that config or a Dockerfile names does not exist in the commit.
    #[error("{at}: {what} `{path}` does not exist{}", .hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    MissingPath {
        at: Location,
        what: String,
        path: String,
        hint: Option<String>,
    },

    /// A Stapel import's content is not known yet: its source is not built (or its checksum is
    /// not recorded), so the importer's tag is pending (see [`crate::imports`]).
    #[error("image `{image}` imports `{}` from `{}`, whose content is not known until it is built: the tag of `{image}` is pending", .spec.add, .spec.source)]
    ImportPending {
        image: String,
        spec: Box<crate::imports::ImportSpec>,
        /// The source's tag.
        source_tag: String,
        /// The record wanted ([`crate::imports::key`]).
        key: String,
    },

    /// A Git object could not be read.
    #[error("cannot read Git object `{id}`: {message}")]
    Object { id: String, message: String },
}

/// Result with the engine's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
