//! Cleanup decisions (pure): which registry tags the Git history and the clusters still need.
//!
//! Tags are pure functions of a commit's content, so nothing is read from metadata tags: the
//! caller walks the history of the references the policies select, asks the engine for each
//! commit's tags, and these modules decide. No clock, no network: `now` is an argument.
//!
//! - [`policy`]: `cleanup.keepPolicies` from werf.yaml, with werf's defaults, typed.
//! - [`refs`]: which branches and tags a policy set selects (`limit.last/in/operator`).
//! - [`history`]: the walk of one reference's history and `imagesPerReference`.
//! - [`decide`]: every tag of the repository, kept (with every reason) or deleted.

pub mod decide;
pub mod history;
pub mod policy;
pub mod refs;

/// A commit id (hex).
pub type CommitId = String;

/// Whether `tag` has the shape of a werf-rs image tag (56 lowercase hex characters, see
/// [`crate::Digest::tag`]); other tags in the repository are never touched by a cleanup.
pub fn is_image_tag(tag: &str) -> bool {
    tag.len() == 56
        && tag
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `tag` is one werf-rs writes: an image tag, an import record ([`crate::imports`]) or
/// a custom tag's record ([`crate::custom_tag`]).
pub fn is_ours(tag: &str) -> bool {
    is_image_tag(tag) || record_source(tag).is_some()
}

/// The tag a record tag is about (an import's source, or a custom tag's content tag).
pub fn record_source(tag: &str) -> Option<&str> {
    crate::imports::record_source(tag).or_else(|| crate::custom_tag::record_source(tag))
}

#[cfg(test)]
mod tests {
    #[test]
    fn image_tags_are_56_lowercase_hex() {
        assert!(super::is_image_tag(&"a1".repeat(28)));
        assert!(!super::is_image_tag(&"A1".repeat(28)));
        assert!(!super::is_image_tag(&"a1".repeat(27)));
        assert!(!super::is_image_tag("latest"));
    }
}
