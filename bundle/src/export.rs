//! `werf export`: a built image published under another reference for others to own: werf's
//! labels removed from its config (`werf`, `werf.*`, `werf-*`), the labels asked for added,
//! its layers copied as they are. An index is exported platform by platform.

use std::collections::BTreeMap;

use serde_json::Value;
use werf_registry::Registry;

use crate::images::{copy_blob, parse, repo_of, Sent};
use crate::{artifact::digest, Error, Result};

/// The most an image config may weigh.
const MAX_CONFIG_BYTES: i64 = 16 << 20;

/// A label `KEY=VALUE` given by `from` (a flag or a variable).
pub fn parse_label(text: &str, from: &str) -> std::result::Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("{from}: `{text}` is not a label `KEY=VALUE`")),
    }
}

/// Whether `key` is one of werf's labels.
pub fn is_werf_label(key: &str) -> bool {
    key == "werf" || key.starts_with("werf.") || key.starts_with("werf-")
}

/// The config with werf's labels removed and `add` added (an `add` key wins over the image's).
pub fn relabel(config: &mut Value, add: &BTreeMap<String, String>) {
    let Some(inner) = config.get_mut("config").and_then(Value::as_object_mut) else {
        return;
    };
    let mut labels = match inner.remove("Labels") {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    labels.retain(|k, _| !is_werf_label(k));
    for (k, v) in add {
        labels.insert(k.clone(), Value::String(v.clone()));
    }
    if !labels.is_empty() {
        inner.insert("Labels".into(), Value::Object(labels));
    }
}

/// Exports the image `from` (`REPO:TAG`) as `to_repo:to_tag`.
pub fn export(
    registry: &Registry,
    from: &str,
    to_repo: &str,
    to_tag: &str,
    add: &BTreeMap<String, String>,
) -> Result<Sent> {
    let mut sent = Sent::default();
    let from_repo = repo_of(from).to_string();
    one(
        registry,
        from,
        &from_repo,
        to_repo,
        Some(to_tag),
        add,
        &mut sent,
    )?;
    Ok(sent)
}

/// Exports one manifest; returns its new (digest, media type, size).
fn one(
    registry: &Registry,
    from: &str,
    from_repo: &str,
    to_repo: &str,
    tag: Option<&str>,
    add: &BTreeMap<String, String>,
    sent: &mut Sent,
) -> Result<(String, String, usize)> {
    let invalid = |message: String| Error::Invalid {
        bundle: from.to_string(),
        message,
    };
    let (body, _) = registry.pull_manifest(from)?;
    let parsed = parse(from, &body)?;
    let mut manifest: Value =
        serde_json::from_slice(&body).map_err(|e| invalid(format!("manifest: {e}")))?;
    if !parsed.children.is_empty() {
        if tag.is_none() {
            return Err(invalid("an index inside an index is not exported".into()));
        }
        let mut children = Vec::new();
        for (child, _) in &parsed.children {
            children.push(one(
                registry,
                &format!("{from_repo}@{child}"),
                from_repo,
                to_repo,
                None,
                add,
                sent,
            )?);
        }
        if let Some(list) = manifest.get_mut("manifests").and_then(Value::as_array_mut) {
            for (d, (digest, _, size)) in list.iter_mut().zip(children) {
                d["digest"] = Value::String(digest);
                d["size"] = Value::from(size);
            }
        }
    } else {
        let (config_digest, config_type, config_size) = parsed
            .blobs
            .first()
            .cloned()
            .ok_or_else(|| invalid("an image manifest without a config".into()))?;
        if !(0..=MAX_CONFIG_BYTES).contains(&config_size) {
            return Err(invalid(format!(
                "its config's size {config_size} is not between 0 and {MAX_CONFIG_BYTES} bytes"
            )));
        }
        let raw = registry.pull_blob(from_repo, &config_digest, &config_type, config_size)?;
        let mut config: Value = serde_json::from_slice(&raw)
            .map_err(|e| invalid(format!("its config is not JSON: {e}")))?;
        relabel(&mut config, add);
        let new_config = serde_json::to_vec(&config).unwrap_or_default();
        let new_digest = digest(&new_config);
        manifest["config"]["digest"] = Value::String(new_digest.clone());
        manifest["config"]["size"] = Value::from(new_config.len());
        for (blob, media_type, size) in &parsed.blobs[1..] {
            copy_blob(registry, from_repo, to_repo, blob, media_type, *size, sent)?;
        }
        if !registry.blob_exists(to_repo, &new_digest)? {
            registry.push_blob(to_repo, &new_digest, new_config)?;
            sent.blobs_uploaded += 1;
        }
    }
    let out = serde_json::to_vec(&manifest).unwrap_or_default();
    let out_digest = digest(&out);
    let size = out.len();
    registry.push_manifest(to_repo, tag.unwrap_or(&out_digest), out, &parsed.media_type)?;
    sent.manifests += 1;
    Ok((out_digest, parsed.media_type, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn werf_s_labels_go_the_user_s_stay_and_added_ones_win() {
        let mut c = serde_json::json!({"architecture": "amd64", "config": {"Labels": {
            "werf": "p", "werf.io/image": "app", "werf-version": "2", "werfless": "kept",
            "org.opencontainers.image.title": "old"}}});
        let add = BTreeMap::from([(
            "org.opencontainers.image.title".to_string(),
            "new".to_string(),
        )]);
        relabel(&mut c, &add);
        assert_eq!(
            c["config"]["Labels"],
            serde_json::json!({"werfless": "kept", "org.opencontainers.image.title": "new"})
        );
        assert_eq!(
            parse_label("a.b=c=d", "--add-label"),
            Ok(("a.b".to_string(), "c=d".to_string()))
        );
        assert!(parse_label("=x", "`WERF_EXPORT_ADD_LABEL_1`")
            .unwrap_err()
            .contains("`WERF_EXPORT_ADD_LABEL_1`"));
        let mut only_werf = serde_json::json!({"config": {"Labels": {"werf": "p"}}});
        relabel(&mut only_werf, &BTreeMap::new());
        assert_eq!(only_werf, serde_json::json!({"config": {}}));
    }
}
