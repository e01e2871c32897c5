//! Custom tags pushed: each the content tag's own manifest put under another tag (no blob is
//! uploaded again), after the record that ties it to the content tag (see
//! [`werf_graph::custom_tag`]), so a custom tag never exists in the repository without the
//! record cleanup reads. A custom tag already naming the content tag's manifest, with its
//! record, is left alone.

use std::collections::BTreeSet;

use werf_graph::custom_tag::record_tag;

use crate::push;
use crate::registry::{self, parallel, Registry};

/// One custom tag to give an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    pub image: String,
    pub content_tag: String,
    pub tag: String,
}

/// What [`publish`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Custom tags put (new, or moved from another manifest).
    pub tagged: usize,
    /// Custom tags that already named the right manifest.
    pub unchanged: usize,
}

/// Why a custom tag was not pushed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("listing the tags of `{repo}`")]
    List {
        repo: String,
        #[source]
        cause: Box<registry::Error>,
    },
    #[error(
        "custom tag `{tag}` of image `{image}`: its content tag `{content_tag}` is not in `{repo}`"
    )]
    Missing {
        image: String,
        tag: String,
        content_tag: String,
        repo: String,
    },
    #[error("custom tag `{tag}` of image `{image}`: the manifest of `{content_tag}` names no `mediaType`")]
    NoMediaType {
        image: String,
        tag: String,
        content_tag: String,
    },
    #[error("custom tag `{tag}` of image `{image}`")]
    Registry {
        image: String,
        tag: String,
        #[source]
        cause: Box<registry::Error>,
    },
}

/// What one alias needed.
enum Done {
    Tagged,
    Unchanged,
}

/// Pushes every alias to `repo` (eight at a time), each record first.
pub fn publish(registry: &Registry, repo: &str, aliases: &[Alias]) -> Result<Published, Error> {
    let mut out = Published::default();
    if aliases.is_empty() {
        return Ok(out);
    }
    let listing = |cause| Error::List {
        repo: repo.to_string(),
        cause: Box::new(cause),
    };
    let tags: BTreeSet<String> = registry.list_tags(repo).map_err(listing)?;
    // Each alias's error is its own; `parallel` itself then never fails.
    let done = parallel(aliases, |a| Ok(one(registry, repo, &tags, a))).map_err(listing)?;
    for d in done {
        match d? {
            Done::Tagged => out.tagged += 1,
            Done::Unchanged => out.unchanged += 1,
        }
    }
    Ok(out)
}

fn one(registry: &Registry, repo: &str, tags: &BTreeSet<String>, a: &Alias) -> Result<Done, Error> {
    let err = |cause| Error::Registry {
        image: a.image.clone(),
        tag: a.tag.clone(),
        cause: Box::new(cause),
    };
    let record = record_tag(&a.content_tag, &a.tag);
    let content = format!("{repo}:{}", a.content_tag);
    if !tags.contains(&a.content_tag) {
        return Err(Error::Missing {
            image: a.image.clone(),
            tag: a.tag.clone(),
            content_tag: a.content_tag.clone(),
            repo: repo.to_string(),
        });
    }
    // An alias already in place costs two HEADs; the content manifest is read only to push it.
    if tags.contains(&record) && tags.contains(&a.tag) {
        let wanted = registry.manifest_digest(&content).map_err(err)?;
        let current = registry
            .manifest_digest(&format!("{repo}:{}", a.tag))
            .map_err(err)?;
        if wanted.is_some() && current == wanted {
            return Ok(Done::Unchanged);
        }
    }
    let (body, _) = registry.pull_manifest(&content).map_err(err)?;
    let media_type = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
        .ok_or_else(|| Error::NoMediaType {
            image: a.image.clone(),
            tag: a.tag.clone(),
            content_tag: a.content_tag.clone(),
        })?;
    if !tags.contains(&record) {
        let labels = [
            ("werf-rs.custom-tag.tag", a.tag.as_str()),
            ("werf-rs.custom-tag.content-tag", a.content_tag.as_str()),
            ("werf-rs.custom-tag.image", a.image.as_str()),
        ];
        push::record(registry, repo, &record, &labels).map_err(err)?;
    }
    registry
        .push_manifest(repo, &a.tag, body, &media_type)
        .map_err(err)?;
    Ok(Done::Tagged)
}
