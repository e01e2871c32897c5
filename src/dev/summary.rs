//! What one `werf dev` cycle changed, decided from the previous cycle's tags and objects and this
//! one's (pure): which image tags moved, which objects differ, and the one-line why that links a
//! saved file to an image and the objects reading it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use werf_graph::render::RenderedTemplate;

/// An image whose tag is not the previous cycle's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagChange {
    pub image: String,
    /// `None`: the image is new.
    pub old: Option<String>,
    pub new: String,
}

/// The images whose tags differ between two cycles, by name.
pub fn changed_tags(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Vec<TagChange> {
    new.iter()
        .filter(|(name, tag)| old.get(*name) != Some(*tag))
        .map(|(name, tag)| TagChange {
            image: name.clone(),
            old: old.get(name).cloned(),
            new: tag.clone(),
        })
        .collect()
}

/// One rendered object as a cycle keeps it: a reference into its template's render, which is
/// the engine's memo (nothing is copied, and a template that did not render again is the same
/// allocation, so its objects compare without reading their text).
#[derive(Clone, Debug)]
pub struct Rendered {
    pub from: Arc<RenderedTemplate>,
    /// Which of the template's manifests.
    pub index: usize,
    /// The template's name.
    pub template: Arc<str>,
}

impl Rendered {
    /// The document's text.
    pub fn text(&self) -> &str {
        &self.from.manifests[self.index].text
    }

    /// The images whose values the template read.
    pub fn images(&self) -> &BTreeSet<String> {
        &self.from.images
    }

    /// Same text: the same render (no comparison needed), or equal text.
    pub fn same_as(&self, other: &Rendered) -> bool {
        (Arc::ptr_eq(&self.from, &other.from) && self.index == other.index)
            || self.text() == other.text()
    }
}

/// What happened to an object between two cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum How {
    Created,
    Updated,
    Deleted,
}

impl How {
    pub fn verb(self) -> &'static str {
        match self {
            How::Created => "create",
            How::Updated => "update",
            How::Deleted => "delete",
        }
    }
}

/// The objects (`Kind/name`) whose text differs between two cycles, with what happened to them.
pub fn changed_objects(
    old: &BTreeMap<String, Rendered>,
    new: &BTreeMap<String, Rendered>,
) -> Vec<(String, How)> {
    let mut out: Vec<(String, How)> = new
        .iter()
        .filter_map(|(id, r)| match old.get(id) {
            None => Some((id.clone(), How::Created)),
            Some(o) if !o.same_as(r) => Some((id.clone(), How::Updated)),
            Some(_) => None,
        })
        .collect();
    out.extend(
        old.keys()
            .filter(|id| !new.contains_key(*id))
            .map(|id| (id.clone(), How::Deleted)),
    );
    out.sort();
    out
}

/// At most `n` items joined by `, `, then `+K more`.
pub fn some_of(items: &[String], n: usize) -> String {
    let mut out = items[..items.len().min(n)].join(", ");
    if items.len() > n {
        out.push_str(&format!(" (+{} more)", items.len() - n));
    }
    out
}

/// The chain from saved files to an image's new tag to the changed objects that read it:
/// `services/api/main.go → api 3f2a91 → Deployment/api`.
pub fn why_line(files: &[String], change: &TagChange, objects: &[String]) -> String {
    let mut out = String::new();
    if !files.is_empty() {
        out.push_str(&some_of(files, 3));
        out.push_str(" → ");
    }
    out.push_str(&change.image);
    out.push(' ');
    out.push_str(&change.new[..change.new.len().min(6)]);
    if !objects.is_empty() {
        out.push_str(" → ");
        out.push_str(&some_of(objects, 3));
    }
    out
}

/// The objects of `changed` that read `image`'s values.
pub fn readers(
    image: &str,
    changed: &[(String, How)],
    now: &BTreeMap<String, Rendered>,
) -> Vec<String> {
    changed
        .iter()
        .filter(|(id, _)| now.get(id).is_some_and(|r| r.images().contains(image)))
        .map(|(id, _)| id.clone())
        .collect()
}

/// The engine's execution log (`query(key)` entries) counted by query: `image_plan ×2, ...`,
/// most first.
pub fn by_query(log: &[String]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for entry in log {
        let query = entry.split_once('(').map_or(entry.as_str(), |(q, _)| q);
        *counts.entry(query).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if counts.is_empty() {
        return "nothing".into();
    }
    counts
        .iter()
        .map(|(q, n)| format!("{q} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use werf_graph::chart::Manifest;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn obj(text: &str, images: &[&str]) -> Rendered {
        Rendered {
            from: Arc::new(RenderedTemplate {
                manifests: vec![Manifest {
                    source: "t.yaml".into(),
                    kind: "K".into(),
                    name: "n".into(),
                    text: text.into(),
                    object: Default::default(),
                    hook: false,
                }],
                images: images.iter().map(|s| s.to_string()).collect(),
                lookup: false,
            }),
            index: 0,
            template: "t.yaml".into(),
        }
    }

    #[test]
    fn only_moved_and_new_tags_are_changes() {
        let old = tags(&[("api", "aaaaaa"), ("web", "bbbbbb"), ("gone", "cccccc")]);
        let new = tags(&[("api", "dddddd"), ("web", "bbbbbb"), ("new", "eeeeee")]);
        assert_eq!(
            changed_tags(&old, &new),
            [
                TagChange {
                    image: "api".into(),
                    old: Some("aaaaaa".into()),
                    new: "dddddd".into()
                },
                TagChange {
                    image: "new".into(),
                    old: None,
                    new: "eeeeee".into()
                },
            ]
        );
        assert!(changed_tags(&new, &new).is_empty());
    }

    #[test]
    fn objects_are_created_updated_or_deleted_by_their_text() {
        let old: BTreeMap<String, Rendered> = [
            ("Deployment/api".to_string(), obj("a: 1", &["api"])),
            ("Service/api".to_string(), obj("s: 1", &[])),
            ("ConfigMap/old".to_string(), obj("c: 1", &[])),
        ]
        .into();
        let new: BTreeMap<String, Rendered> = [
            ("Deployment/api".to_string(), obj("a: 2", &["api"])),
            ("Service/api".to_string(), obj("s: 1", &[])),
            ("ConfigMap/new".to_string(), obj("c: 1", &[])),
        ]
        .into();
        let changed = changed_objects(&old, &new);
        assert_eq!(
            changed,
            [
                ("ConfigMap/new".to_string(), How::Created),
                ("ConfigMap/old".to_string(), How::Deleted),
                ("Deployment/api".to_string(), How::Updated),
            ]
        );
        assert_eq!(readers("api", &changed, &new), ["Deployment/api"]);
        assert!(readers("web", &changed, &new).is_empty());
    }

    #[test]
    fn the_log_is_counted_by_query_most_first() {
        let log: Vec<String> = ["image_plan(a)", "stage_plan(a:0)", "stage_plan(b:0)"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(by_query(&log), "stage_plan ×2, image_plan ×1");
        assert_eq!(by_query(&[]), "nothing");
    }

    #[test]
    fn the_why_line_links_files_to_the_tag_to_the_objects() {
        let change = TagChange {
            image: "api".into(),
            old: Some("000000".into()),
            new: "3f2a91deadbeef".into(),
        };
        assert_eq!(
            why_line(
                &["services/api/main.go".into()],
                &change,
                &["Deployment/api".into()]
            ),
            "services/api/main.go → api 3f2a91 → Deployment/api"
        );
        let files: Vec<String> = (0..5).map(|i| format!("f{i}")).collect();
        assert_eq!(
            why_line(&files, &change, &[]),
            "f0, f1, f2 (+2 more) → api 3f2a91"
        );
    }
}
