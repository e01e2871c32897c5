//! Custom tags (`--add-custom-tag`, `--use-custom-tag`) as the engine sees them: an image's
//! custom tag in a render ([`ImageTag`], its content tag filled in by the graph), and the
//! records of which content tag each custom tag was made an alias of, kept in the repository as
//! tags of their own so one listing tells cleanup which custom tags go with which image (werf's
//! "custom tag and its content-based tag are treated as one").
//!
//! A record is the tag `ctm-CONTENT-HASH`: the 56-hex content tag, then 16 hex characters of
//! the custom tag's digest (a custom tag may be 128 characters long; a registry tag may not be
//! longer, so the name itself cannot be in the record's tag).

use std::collections::{BTreeMap, BTreeSet};

use crate::digest::{Builder, TAG_LEN};

/// One image's custom tag, its name already spelled in: text, and where the content tag goes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ImageTag(pub Vec<TagPart>);

/// A piece of an [`ImageTag`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TagPart {
    Text(String),
    ContentTag,
}

impl ImageTag {
    /// The tag, for the image's content tag `content_tag`.
    pub fn expand(&self, content_tag: &str) -> String {
        self.0
            .iter()
            .map(|p| match p {
                TagPart::Text(t) => t.as_str(),
                TagPart::ContentTag => content_tag,
            })
            .collect()
    }
}

/// What opens a record tag.
pub const RECORD_PREFIX: &str = "ctm-";

/// Hex characters of a custom tag's digest inside a record tag.
const HASH_LEN: usize = 16;

/// The short digest of `custom_tag` a record holds.
pub fn hash(custom_tag: &str) -> String {
    let mut b = Builder::new("custom-tag");
    b.str("tag", custom_tag);
    b.finish().hex()[..HASH_LEN].to_string()
}

/// The record tag saying `custom_tag` is an alias of `content_tag` (77 characters).
pub fn record_tag(content_tag: &str, custom_tag: &str) -> String {
    format!("{RECORD_PREFIX}{content_tag}-{}", hash(custom_tag))
}

/// The content tag and custom tag hash a record tag holds; `None` for any other tag.
pub fn parse_record_tag(tag: &str) -> Option<(&str, &str)> {
    let rest = tag.strip_prefix(RECORD_PREFIX)?;
    let (content, hash) = rest.split_once('-')?;
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    (hex(content, TAG_LEN) && hex(hash, HASH_LEN)).then_some((content, hash))
}

/// The content tag a record is about (cleanup keeps a record while its content tag is kept).
pub fn record_source(tag: &str) -> Option<&str> {
    parse_record_tag(tag).map(|(content, _)| content)
}

/// The custom tags among `tags` that records name: custom tag -> the content tags it was made
/// an alias of (more than one when it was moved from image to image).
pub fn aliases(tags: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_hash: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (content, hash) in tags.iter().filter_map(|t| parse_record_tag(t)) {
        by_hash.entry(hash).or_default().insert(content.to_string());
    }
    if by_hash.is_empty() {
        return BTreeMap::new();
    }
    tags.iter()
        .filter(|t| parse_record_tag(t).is_none())
        .filter_map(|t| {
            by_hash
                .get(hash(t).as_str())
                .map(|c| (t.clone(), c.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_names_its_content_tag_and_finds_its_custom_tag() {
        let content = "ab".repeat(28);
        let record = record_tag(&content, "main");
        assert_eq!(record.len(), 77);
        assert_eq!(record_source(&record), Some(content.as_str()));
        let other = "cd".repeat(28);
        let tags: BTreeSet<String> = [
            record.clone(),
            content.clone(),
            other.clone(),
            "main".to_string(),
            "latest".to_string(),
        ]
        .into();
        let found = aliases(&tags);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found["main"], BTreeSet::from([content]));
    }

    #[test]
    fn other_tags_are_not_records() {
        for t in [
            "ctm-".to_string(),
            format!("ctm-{}", "a".repeat(56)),
            format!("ctm-{}-{}", "A".repeat(56), "0".repeat(16)),
            format!("ctm-{}-{}", "a".repeat(55), "0".repeat(16)),
            format!("ctm-{}-{}", "a".repeat(56), "0".repeat(17)),
            format!("imp-{}-{}", "a".repeat(56), "0".repeat(16)),
        ] {
            assert_eq!(parse_record_tag(&t), None, "{t}");
        }
        let ok = format!("ctm-{}-{}", "a".repeat(56), "0".repeat(16));
        assert!(parse_record_tag(&ok).is_some());
    }

    #[test]
    fn no_records_no_aliases() {
        let tags: BTreeSet<String> = ["main".to_string(), "a".repeat(56)].into();
        assert!(aliases(&tags).is_empty());
        let with = BTreeSet::from([record_tag(&"a".repeat(56), "main"), "main".into()]);
        assert!(!aliases(&with).is_empty());
    }
}
