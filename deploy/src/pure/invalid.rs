//! Why werf cannot read a rendered manifest or one of its annotations, and why the apply order
//! its dependency annotations ask for is impossible: each names the field or annotation.

/// A manifest field or annotation werf cannot read.
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    #[error("no `{0}`")]
    Missing(&'static str),
    #[error("`{key}: {value}` is not {allowed}")]
    NotOneOf {
        key: &'static str,
        value: String,
        /// The values allowed, as the message lists them.
        allowed: &'static str,
    },
    #[error("`{key}`: {source}")]
    Duration {
        key: &'static str,
        #[source]
        source: werf_base::duration::NotADuration,
    },
    #[error("`{key}: {value}` is not a whole number")]
    NotWholeNumber { key: &'static str, value: String },
    #[error("`{key}` is not a valid regular expression: {source}")]
    Regex {
        key: String,
        #[source]
        source: regex::Error,
    },
    #[error("`{key}: {value}`: `{part}` is not `key=value`")]
    NotKeyValue {
        key: String,
        value: String,
        part: String,
    },
    #[error("`{key}`: `state={state}` is not `ready` or `present`")]
    DependencyState { key: String, state: String },
    #[error("`{key}`: unknown key `{name}`")]
    UnknownKey { key: String, name: String },
    #[error("`{key}: {value}` needs `kind=` and `name=`")]
    NeedsKindAndName { key: String, value: String },
    #[error("`{key}`: unknown field `{field}`")]
    UnknownField { key: String, field: String },
    #[error("`{0}` is missing")]
    MissingAnnotation(String),
    #[error("`{key}: {resource}` is not `KIND[.VERSION.GROUP]/NAME`")]
    NotResource { key: String, resource: String },
}

/// An apply order the dependency annotations ask for and no order satisfies.
#[derive(Debug, thiserror::Error)]
pub enum Unordered {
    #[error("{id}: `{annotation}` waits for {later}, which is applied later (a later stage or a higher `werf.io/weight`)")]
    AppliedLater {
        /// The dependant, as shown (`Kind/name (namespace)`).
        id: String,
        annotation: String,
        later: String,
    },
    #[error("{id}: `{annotation}` names {kind} `{name}`, which is not in the release")]
    NotInRelease {
        id: String,
        annotation: String,
        kind: String,
        name: String,
    },
    #[error("`werf.io/deploy-dependency-*` annotations form a cycle among {}", .0.join(", "))]
    Cycle(Vec<String>),
}
