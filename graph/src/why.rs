//! Why an image's tag or an object changed between two revisions, end to end: the stage input
//! that changed, down to file paths; for an object, the template and the image values it read
//! whose tags changed, and the field paths that differ. Pure: both revisions' plans and renders
//! are given.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use crate::context::Matched;
use crate::error::Result;
use crate::objects::{EntryKind, ObjectId, ObjectSource, Tree, TreeEntry};
use crate::pattern::join;
use crate::plan::ImagePlan;
use crate::tree_diff::differing;

/// How a path changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Added,
    Modified,
    Deleted,
}

impl Change {
    pub fn as_str(&self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Modified => "modified",
            Change::Deleted => "deleted",
        }
    }
}

/// The files that differ between two trees (below `prefix`), at most `limit` of them.
pub fn changed_paths(
    objects: &dyn ObjectSource,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    prefix: &str,
    limit: usize,
    out: &mut Vec<(String, Change)>,
) -> Result<()> {
    if old == new || out.len() >= limit {
        return Ok(());
    }
    let tree = |id: Option<ObjectId>| -> Result<Arc<Tree>> {
        id.map_or_else(|| Ok(Arc::default()), |id| objects.tree(id))
    };
    let (a, b) = (tree(old)?, tree(new)?);
    let is_tree = |e: Option<&TreeEntry>| e.is_some_and(|e| e.kind == EntryKind::Tree);
    for (name, x, y) in differing(&a, &b) {
        if out.len() >= limit {
            break;
        }
        let path = join(prefix, name);
        if is_tree(x) || is_tree(y) {
            let sub = |e: Option<&TreeEntry>| e.filter(|e| e.kind == EntryKind::Tree).map(|e| e.id);
            changed_paths(objects, sub(x), sub(y), &path, limit, out)?;
            // A file replaced by a folder (or back) is also a change of the file.
            if !is_tree(x) && x.is_some() {
                out.push((path, Change::Deleted));
            } else if !is_tree(y) && y.is_some() {
                out.push((path, Change::Added));
            }
            continue;
        }
        out.push((
            path,
            match (x, y) {
                (None, Some(_)) => Change::Added,
                (Some(_), None) => Change::Deleted,
                _ => Change::Modified,
            },
        ));
    }
    Ok(())
}

/// Why `new`'s tag differs from `old`'s (`None`: the image is new), as lines.
pub fn image(
    objects: &dyn ObjectSource,
    old: Option<&ImagePlan>,
    new: &ImagePlan,
    repo_path_of: &dyn Fn(&ImagePlan, &str) -> String,
) -> Result<Vec<String>> {
    let Some(old) = old else {
        return Ok(vec![format!("image `{}` is new", new.name)]);
    };
    if old.tag == new.tag {
        return Ok(vec![format!(
            "image `{}`: tag {} unchanged",
            new.name,
            &new.tag[..12]
        )]);
    }
    let mut out = vec![format!(
        "image `{}`: tag {} -> {}",
        new.name,
        &old.tag[..12],
        &new.tag[..12]
    )];
    for st in &new.stages {
        let Some(prev) = old.stages.iter().find(|s| s.label == st.label) else {
            out.push(format!("  stage {}: new", st.label));
            continue;
        };
        if prev.digest == st.digest {
            continue;
        }
        let before: BTreeMap<&str, &crate::plan::Component> = prev
            .components
            .iter()
            .map(|c| (c.label.as_str(), c))
            .collect();
        for c in &st.components {
            match before.get(c.label.as_str()) {
                Some(p) if p.digest == c.digest => {}
                Some(p) => out.push(format!(
                    "  stage {}: {} changed: {} -> {}",
                    st.label, c.label, p.value, c.value
                )),
                None => out.push(format!(
                    "  stage {}: {} added: {}",
                    st.label, c.label, c.value
                )),
            }
        }
        // Down to the files: each COPY source whose content changed.
        for (u, pu) in st.sources.iter().zip(prev.sources.iter()) {
            if u.content.digest == pu.content.digest {
                continue;
            }
            let old_by_path: BTreeMap<&str, &Matched> =
                pu.content.matched.iter().map(|m| (m.path(), m)).collect();
            for m in &u.content.matched {
                let repo_path = repo_path_of(new, m.path());
                let mut files = Vec::new();
                match (old_by_path.get(m.path()), m) {
                    (Some(Matched::Tree { id: a, .. }), Matched::Tree { id: b, .. }) => {
                        changed_paths(objects, Some(*a), Some(*b), &repo_path, 20, &mut files)?
                    }
                    (Some(Matched::File { id: a, .. }), Matched::File { id: b, .. }) if a != b => {
                        files.push((repo_path.clone(), Change::Modified))
                    }
                    (None, _) => files.push((repo_path.clone(), Change::Added)),
                    (Some(p), m) if p != &m => files.push((repo_path.clone(), Change::Modified)),
                    _ => {}
                }
                for (path, how) in files {
                    out.push(format!("    {path} {}", how.as_str()));
                }
            }
        }
    }
    Ok(out)
}

/// The field paths where two JSON documents differ (`spec.template.spec.containers[0].image`).
pub fn field_paths(old: &Value, new: &Value) -> Vec<String> {
    fn walk(a: Option<&Value>, b: Option<&Value>, at: &str, out: &mut Vec<String>) {
        match (a, b) {
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    walk(x.get(k), y.get(k), &p, out);
                }
            }
            (Some(Value::Array(x)), Some(Value::Array(y))) => {
                for i in 0..x.len().max(y.len()) {
                    walk(x.get(i), y.get(i), &format!("{at}[{i}]"), out);
                }
            }
            (x, y) if x == y => {}
            _ => out.push(if at.is_empty() {
                "(document)".into()
            } else {
                at.to_string()
            }),
        }
    }
    let mut out = Vec::new();
    walk(Some(old), Some(new), "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::MemoryObjects;

    #[test]
    fn changed_paths_name_each_file() {
        let s = MemoryObjects::new();
        let a = s.add_files([
            ("src/a.go", &b"1"[..]),
            ("src/b.go", b"1"),
            ("README", b"r"),
        ]);
        let b = s.add_files([
            ("src/a.go", &b"2"[..]),
            ("src/c.go", b"1"),
            ("README", b"r"),
        ]);
        let mut out = Vec::new();
        changed_paths(&s, Some(a), Some(b), "svc", 10, &mut out).unwrap();
        out.sort();
        assert_eq!(
            out,
            [
                ("svc/src/a.go".to_string(), Change::Modified),
                ("svc/src/b.go".to_string(), Change::Deleted),
                ("svc/src/c.go".to_string(), Change::Added),
            ]
        );
    }

    #[test]
    fn field_paths_of_a_changed_image() {
        let old = serde_json::json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"image": "r:1", "name": "a"}]}}}});
        let new = serde_json::json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"image": "r:2", "name": "a"}]}}}});
        assert_eq!(
            field_paths(&old, &new),
            ["spec.template.spec.containers[0].image"]
        );
        assert!(field_paths(&old, &old).is_empty());
    }
}
