//! The release record in the cluster: one Secret per revision (`werf.release.v1.NAME.vN`) with the
//! applied manifests, the image tags and a status, so history, prune and rollback work from any
//! machine; and the lock (a Lease) that keeps two converges of one release from interleaving.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use base64::Engine as _;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::object::ObjectId;
use crate::kubernetes::{Kube, FIELD_MANAGER};

/// A revision's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Being applied (a converge that died leaves this behind: never counted as deployed).
    PendingUpgrade,
    /// The newest deployed revision is the live one; older deployed ones are superseded.
    Deployed,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::PendingUpgrade => "pending-upgrade",
            Status::Deployed => "deployed",
            Status::Failed => "failed",
        }
    }
}

/// One revision of a release.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub namespace: String,
    pub revision: u64,
    pub status: Status,
    pub description: String,
    /// Unix seconds.
    pub deployed_at: u64,
    /// Image tags by image name.
    pub images: BTreeMap<String, String>,
    /// The applied objects (hooks excluded), by identity.
    pub objects: Vec<(ObjectId, Value)>,
}

const LABEL_OWNER: &str = "owner=werf";

fn secret_name(release: &str, revision: u64) -> String {
    format!("werf.release.v1.{release}.v{revision}")
}

fn encode(record: &Record) -> Vec<u8> {
    let json = serde_json::to_vec(record).expect("records serialize");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json).expect("writing to memory");
    let bytes = gz.finish().expect("writing to memory");
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .into_bytes()
}

fn decode(data: &[u8]) -> Option<Record> {
    let gz = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut json)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// The revisions of `release` in `namespace`, oldest first.
pub async fn history(
    kube: &Kube,
    namespace: &str,
    release: &str,
) -> Result<Vec<Record>, kube::Error> {
    let api: Api<Secret> = Api::namespaced(kube.client.clone(), namespace);
    kube.count();
    let lp = ListParams::default().labels(&format!("{LABEL_OWNER},name={release}"));
    let list = match api.list(&lp).await {
        Ok(l) => l.items,
        Err(kube::Error::Api(s)) if s.code == 404 => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut records: Vec<Record> = list
        .into_iter()
        .filter_map(|s| decode(&s.data?.get("release")?.0))
        .collect();
    records.sort_by_key(|r| r.revision);
    Ok(records)
}

/// Writes (creates or replaces) a revision's Secret.
pub async fn save(kube: &Kube, record: &Record) -> Result<(), kube::Error> {
    let api: Api<Secret> = Api::namespaced(kube.client.clone(), &record.namespace);
    let name = secret_name(&record.name, record.revision);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(record.namespace.clone()),
            labels: Some(
                [
                    ("owner".to_string(), "werf".to_string()),
                    ("name".to_string(), record.name.clone()),
                    ("version".to_string(), record.revision.to_string()),
                    ("status".to_string(), record.status.as_str().to_string()),
                ]
                .into(),
            ),
            ..Default::default()
        },
        type_: Some("werf.io/release.v1".into()),
        data: Some([("release".to_string(), ByteString(encode(record)))].into()),
        ..Default::default()
    };
    kube.count();
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&secret),
    )
    .await?;
    Ok(())
}

/// Deletes every revision's Secret.
pub async fn forget(kube: &Kube, namespace: &str, release: &str) -> Result<(), kube::Error> {
    let api: Api<Secret> = Api::namespaced(kube.client.clone(), namespace);
    for r in history(kube, namespace, release).await? {
        kube.count();
        match api
            .delete(&secret_name(release, r.revision), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A held release lock; [`Lock::release`] gives it back (a crashed holder's lock expires).
pub struct Lock {
    api: Api<Lease>,
    name: String,
}

/// Why a lock was not taken.
pub struct Held {
    pub holder: String,
    pub since: String,
}

fn now_micro() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

impl Lock {
    /// Takes the lock of `release`, valid for `seconds` (a holder that dies frees it then).
    pub async fn take(
        kube: &Kube,
        namespace: &str,
        release: &str,
        seconds: i32,
    ) -> Result<Result<Lock, Held>, kube::Error> {
        let api: Api<Lease> = Api::namespaced(kube.client.clone(), namespace);
        let name = format!("werf-lock.{release}");
        let holder = format!(
            "{}:{}",
            std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "host".into()),
            std::process::id()
        );
        let lease = |resource_version: Option<String>| Lease {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.to_string()),
                resource_version,
                ..Default::default()
            },
            spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
                holder_identity: Some(holder.clone()),
                lease_duration_seconds: Some(seconds),
                acquire_time: Some(now_micro()),
                renew_time: Some(now_micro()),
                ..Default::default()
            }),
        };
        if kube.create(&api, &lease(None)).await? {
            return Ok(Ok(Lock { api, name }));
        }
        // Held: take it over only when it expired.
        kube.count();
        let current = api.get(&name).await?;
        let spec = current.spec.clone().unwrap_or_default();
        let since = spec.acquire_time.as_ref().map(|t| t.0);
        let expires = spec
            .renew_time
            .as_ref()
            .map(|t| t.0)
            .zip(spec.lease_duration_seconds)
            .map(|(t, s)| t.as_second() + i64::from(s));
        let expired = expires.is_some_and(|e| e < k8s_openapi::jiff::Timestamp::now().as_second());
        if expired {
            kube.count();
            let taken = api
                .replace(
                    &name,
                    &Default::default(),
                    &lease(current.metadata.resource_version.clone()),
                )
                .await;
            match taken {
                Ok(_) => return Ok(Ok(Lock { api, name })),
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Err(Held {
            holder: spec.holder_identity.unwrap_or_default(),
            since: since.map(|t| t.to_string()).unwrap_or_default(),
        }))
    }

    /// Gives the lock back.
    pub async fn release(self) {
        let _ = self.api.delete(&self.name, &DeleteParams::default()).await;
    }
}
