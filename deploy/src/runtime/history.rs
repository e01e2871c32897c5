//! The release's history read from the cluster, with the objects of the revisions that count.

use std::sync::Arc;

use serde_json::Value;

use crate::kubernetes::Kube;
use crate::object::{Desired, ObjectId};
use crate::release::{Record, Status};
use crate::{record, release, Error, Release, Result};

/// The release's revisions, oldest first; the objects of their manifests are read for the
/// revisions a plan compares with and prunes from (the last one, and every one since the last
/// deployed), not for older ones.
pub async fn history(kube: &Kube, release: &Release) -> Result<Vec<Record>> {
    let mut records = record::history(kube, &release.namespace, &release.name).await?;
    fill_objects(kube, release, &mut records).await?;
    Ok(records)
}

/// Reads the objects of the revisions a plan needs (see [`history`]) into `records`.
pub async fn fill_objects(kube: &Kube, release: &Release, records: &mut [Record]) -> Result<()> {
    fill_objects_with(kube, release, records, &|_| None).await
}

/// What a caller knows of a recorded document from the text [`release::rendered_text`] finds it
/// was written from (see [`fill_objects_with`]).
pub enum Known {
    /// The object the text parses to, made the record's object here.
    Parsed(Value),
    /// The record's object itself: what [`Desired::new`] makes of the text for the release's
    /// namespace, kept as it is (shared, not copied; a no-op converge compares it with the
    /// desired object it is).
    Made(ObjectId, Arc<Value>),
}

/// [`fill_objects`], a document's object taken from `known` when it knows the text (a no-op
/// converge parses each document once, not once more from the record).
pub async fn fill_objects_with(
    kube: &Kube,
    release: &Release,
    records: &mut [Record],
    known: &(dyn Fn(&str) -> Option<Known> + Sync),
) -> Result<()> {
    let since = records
        .iter()
        .rposition(|r| r.status() == Status::Deployed)
        .unwrap_or(0);
    for r in records.iter_mut().skip(since) {
        r.objects = objects_of(kube, r, &release.namespace, known).await?;
    }
    Ok(())
}

/// The release's revisions, each with the objects of its manifest (rollback, dismiss).
pub async fn history_all(kube: &Kube, release: &Release) -> Result<Vec<Record>> {
    let mut records = record::history(kube, &release.namespace, &release.name).await?;
    for r in records.iter_mut() {
        r.objects = objects_of(kube, r, &release.namespace, &|_| None).await?;
    }
    Ok(records)
}

/// The objects of a record's manifest, read as the chart's manifests are (so that an unchanged
/// object equals its recorded one; `known` may know a document's object already). The documents
/// are parsed on every core. Objects of kinds the cluster no longer serves are left out: none of
/// them can exist.
async fn objects_of(
    kube: &Kube,
    r: &Record,
    namespace: &str,
    known: &(dyn Fn(&str) -> Option<Known> + Sync),
) -> Result<Vec<(ObjectId, Arc<Value>)>> {
    use rayon::prelude::*;
    let origin = format!("revision {} of release `{}`", r.revision(), r.name());
    let documents = release::documents(r.manifest());
    let objects: Vec<Result<Known>> = documents
        .par_iter()
        .map(|(source, text)| {
            if let Some(k) = release::rendered_text(text).and_then(known) {
                return Ok(k);
            }
            gotemplate::yaml::load::load_with(text, gotemplate::yaml::load::Numbers::AsWritten)
                .map(Known::Parsed)
                .map_err(|e| Error::Manifest {
                    source_file: format!("{source} ({origin})"),
                    message: format!("not valid YAML: {e}"),
                })
        })
        .collect();
    let mut out = Vec::new();
    // In the manifest's order: the first bad document is the one reported.
    for ((source, _), object) in documents.iter().zip(objects) {
        let object = match object? {
            Known::Made(id, object) => {
                out.push((id, object));
                continue;
            }
            Known::Parsed(object) => object,
        };
        let (Some(api_version), Some(kind)) = (
            object.get("apiVersion").and_then(Value::as_str),
            object.get("kind").and_then(Value::as_str),
        ) else {
            continue;
        };
        let namespaced = match kube.resource(api_version, kind, &origin).await {
            Ok((_, namespaced)) => namespaced,
            Err(crate::kubernetes::Error::UnknownKind { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let d =
            Desired::new(object, source, namespaced, namespace).map_err(|e| Error::Invalid {
                source_file: format!("{source} ({origin})"),
                source: e,
            })?;
        out.push((d.id, d.object));
    }
    Ok(out)
}
