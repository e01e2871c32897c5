//! The release records in the cluster, as Helm stores them (see [`crate::release`]): reading a
//! release's history, creating a revision (the create that succeeds once is the release lock),
//! rewriting a revision's status, renewing a pending revision's lock, deleting revisions.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;

use crate::kubernetes::Kube;
use crate::release::{
    secret_name, Holder, Record, ANNOTATION_COMMIT, ANNOTATION_EXPIRES, ANNOTATION_HOLDER,
};

/// Why the records could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{verb} `{secret}`: {}", crate::kubernetes::describe(source))]
    Api {
        verb: &'static str,
        secret: String,
        source: kube::Error,
    },
    #[error("the release record `{secret}` cannot be read")]
    Decode {
        secret: String,
        #[source]
        source: crate::release::DecodeError,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

fn now_seconds() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_second()
}

/// Now as Go writes a `time.Time` in JSON (RFC 3339 with nanoseconds).
pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// The revisions of `release` in `namespace`, oldest first (one list request).
pub async fn history(kube: &Kube, namespace: &str, release: &str) -> Result<Vec<Record>> {
    let api: Api<Secret> = Api::namespaced(kube.client.clone(), namespace);
    kube.count();
    let lp = ListParams::default().labels(&format!("owner=helm,name={release}"));
    let list = match api.list(&lp).await {
        Ok(l) => l.items,
        Err(kube::Error::Api(s)) if s.code == 404 => Vec::new(),
        Err(source) => {
            return Err(Error::Api {
                verb: "list",
                secret: format!("sh.helm.release.v1.{release}.*"),
                source,
            })
        }
    };
    let mut records = Vec::new();
    for s in list {
        let name = s.metadata.name.clone().unwrap_or_default();
        let Some(data) = s.data.as_ref().and_then(|d| d.get("release")) else {
            continue;
        };
        let mut r = Record::decode(&data.0).map_err(|source| Error::Decode {
            secret: name.clone(),
            source,
        })?;
        let annotations = s.metadata.annotations.unwrap_or_default();
        r.holder = annotations.get(ANNOTATION_HOLDER).map(|h| Holder {
            holder: h.clone(),
            expires: annotations
                .get(ANNOTATION_EXPIRES)
                .and_then(|e| e.parse().ok())
                .unwrap_or(0),
        });
        r.commit = annotations.get(ANNOTATION_COMMIT).cloned();
        r.created = s.metadata.creation_timestamp.map_or(0, |t| t.0.as_second());
        records.push(r);
    }
    records.sort_by_key(Record::revision);
    Ok(records)
}

fn secret(record: &Record, namespace: &str, holder: Option<&Holder>) -> Secret {
    let mut annotations: BTreeMap<String, String> = holder
        .map(|h| {
            [
                (ANNOTATION_HOLDER.to_string(), h.holder.clone()),
                (ANNOTATION_EXPIRES.to_string(), h.expires.to_string()),
            ]
            .into()
        })
        .unwrap_or_default();
    if let Some(commit) = &record.commit {
        annotations.insert(ANNOTATION_COMMIT.to_string(), commit.clone());
    }
    Secret {
        metadata: ObjectMeta {
            name: Some(secret_name(record.name(), record.revision())),
            namespace: Some(namespace.to_string()),
            labels: Some(record.labels(now_seconds()).into_iter().collect()),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        },
        type_: Some("helm.sh/release.v1".into()),
        data: Some([("release".to_string(), ByteString(record.encode()))].into()),
        ..Default::default()
    }
}

/// Creates a new revision held by `holder`; `false` when that revision exists already (another
/// operation took it: the release is locked).
pub async fn create(
    kube: &Kube,
    namespace: &str,
    record: &Record,
    holder: &Holder,
) -> Result<bool> {
    let api: Api<Secret> = Api::namespaced(kube.client.clone(), namespace);
    kube.create(&api, &secret(record, namespace, Some(holder)))
        .await
        .map_err(|source| Error::Api {
            verb: "create",
            secret: secret_name(record.name(), record.revision()),
            source,
        })
}

/// Rewrites a revision (its status and data); the lock annotations go.
pub async fn update(kube: &Kube, namespace: &str, record: &Record) -> Result<()> {
    let api: Api<Secret> = Api::namespaced(kube.client.clone(), namespace);
    let name = secret_name(record.name(), record.revision());
    let s = secret(record, namespace, None);
    let patch = json!({
        "metadata": {
            "labels": s.metadata.labels,
            "annotations": {ANNOTATION_HOLDER: null, ANNOTATION_EXPIRES: null},
        },
        "data": {"release": base64::engine::general_purpose::STANDARD.encode(record.encode())},
    });
    kube.count();
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| Error::Api {
            verb: "update",
            secret: name,
            source,
        })?;
    Ok(())
}

/// Moves a pending revision's lock expiry on (a long converge stays the holder).
pub async fn renew(
    kube: &Kube,
    namespace: &str,
    release: &str,
    revision: u64,
    expires: i64,
) -> Result<()> {
    let api: Api<Secret> = Api::namespaced(kube.client.clone(), namespace);
    let name = secret_name(release, revision);
    let patch = json!({"metadata": {"annotations": {ANNOTATION_EXPIRES: expires.to_string()}}});
    kube.count();
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| Error::Api {
            verb: "renew the lock of",
            secret: name,
            source,
        })?;
    Ok(())
}

/// Deletes one revision (gone already is fine).
pub async fn delete(kube: &Kube, namespace: &str, release: &str, revision: u64) -> Result<()> {
    let api: Api<Secret> = Api::namespaced(kube.client.clone(), namespace);
    let name = secret_name(release, revision);
    kube.count();
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(source) => Err(Error::Api {
            verb: "delete",
            secret: name,
            source,
        }),
    }
}

/// This process as a lock holder (`host:pid`).
pub fn holder_identity() -> String {
    format!(
        "{}:{}",
        std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".into()),
        std::process::id()
    )
}
