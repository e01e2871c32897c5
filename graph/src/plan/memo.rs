//! Plans remembered across processes: the digest of everything a plan reads, and the plans'
//! encoding for a store (MessagePack: ids as raw bytes, nothing escaped; a record is read by the
//! engine that wrote it only, so its layout need not outlive a build).
//!
//! A plan is a pure function of the [`Project`] input (the objects it names are content-addressed)
//! and of the engine that computed it. [`inputs_digest`] covers the input; the caller adds the
//! engine's identity to its key. Within one process, [`seed`] hands the remembered digests to the
//! graph, so a render reads the tags without planning again: [`super::image_digest`] takes a
//! seeded digest only while the project's inputs are the ones it was made for.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::ImagePlan;
use crate::config::TemplateEnv;
use crate::db::{Database, Db, Project};
use crate::digest::Digest;
use crate::dockerfile::Resolved;
use crate::image_spec::ImageSpec;
use crate::objects::{MemoryObjects, ObjectId, TreeEntry};
use crate::pattern::DockerIgnore;

/// Feeds `std::hash::Hash` into BLAKE3. What `Hash` writes is stable within one build of the
/// engine only, which is why a memo's key also names the engine that wrote it.
struct Feed(blake3::Hasher);

impl Hasher for Feed {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        0
    }
}

/// The digest of every input field of `project`: equal digests plan to equal plans (by the same
/// engine). Of the environment variables, only those werf.yaml's `env` may read count: with
/// giterminism rules (the command line always has them), the ones they allow; without, all.
/// A CI job's own variables (`CI_JOB_ID`, ...) then leave the digest alone.
#[salsa::tracked]
pub fn inputs_digest(db: &dyn Db, project: Project) -> Digest {
    use salsa::Accumulator as _;
    let mut feed = Feed(blake3::Hasher::new());
    "werf-rs/plan-inputs/v1".hash(&mut feed);
    // The whole tree: a digest answered from the seed depends on every path.
    crate::paths::Read(String::new()).accumulate(db);
    project.root_tree(db).hash(&mut feed);
    project.prefix(db).hash(&mut feed);
    project.config_file(db).hash(&mut feed);
    project.work_files(db).hash(&mut feed);
    // Every field by name: a new field fails to compile here until it is covered.
    let TemplateEnv {
        env,
        vars,
        commit,
        templates_dir,
        giterminism,
        platforms,
    } = &**project.template_env(db);
    (env, commit, templates_dir, giterminism, platforms).hash(&mut feed);
    match giterminism {
        Some(rules) => vars
            .iter()
            .filter(|(name, _)| rules.allows_env(name))
            .for_each(|v| v.hash(&mut feed)),
        None => vars.hash(&mut feed),
    }
    project.import_checksums(db).hash(&mut feed);
    Digest(*feed.0.finalize().as_bytes())
}

/// Remembered digests of a project's images, for the inputs whose [`inputs_digest`] is `inputs`.
#[derive(Debug, PartialEq, Eq)]
pub struct Seeded {
    pub inputs: Digest,
    pub digests: BTreeMap<String, Digest>,
}

/// Gives the graph the images' digests of remembered `plans` (made for `inputs`): until an input
/// changes, [`super::image_digest`] answers from them instead of planning.
pub fn seed(db: &mut Database, inputs: Digest, plans: &[(String, Arc<ImagePlan>)]) {
    let digests = plans.iter().map(|(n, p)| (n.clone(), p.digest)).collect();
    db.set_plan_seed(Some(Arc::new(Seeded { inputs, digests })));
}

/// Takes the seed away: every digest is planned (a seed's digests read the whole tree, so
/// [`super::carry`] would ask every image on every tree).
pub fn unseed(db: &mut Database) {
    db.set_plan_seed(None);
}

/// Whether the seed was made for `project`'s current inputs. A query of its own: when the
/// inputs change it runs again, and an image's digest, which reads it, does not (it is `false`
/// before and after, unless a seed was taken for the new inputs).
#[salsa::tracked]
pub(crate) fn seed_applies(db: &dyn Db, project: Project) -> bool {
    db.plan_seed()
        .and_then(|seed| seed.value(db).as_ref().map(|s| s.inputs))
        .is_some_and(|inputs| inputs == *inputs_digest(db, project))
}

/// The seeded digest of `image`, if the seed was made for `project`'s current inputs.
pub(crate) fn seeded(db: &dyn Db, project: Project, image: &str) -> Option<Digest> {
    if !seed_applies(db, project) {
        return None;
    }
    let seed = db.plan_seed()?;
    seed.value(db).as_ref()?.digests.get(image).copied()
}

/// What the encoding cannot hold, or a record that does not read back.
#[derive(Debug, thiserror::Error)]
pub enum MemoError {
    /// werf.yaml `secrets` may hold values: they are never written to a store.
    #[error("image `{0}` has `secrets`: its plan is not remembered")]
    Secrets(String),
    #[error("the remembered plans cannot be read")]
    Decode(#[source] rmp_serde::decode::Error),
    #[error("the plans cannot be written")]
    Encode(#[source] rmp_serde::encode::Error),
    /// A remembered synthetic object whose content does not give its id.
    #[error("a remembered object does not match its id `{0}`")]
    Object(ObjectId),
}

/// One plan with the fields its plain serialization leaves out (they are needed to build).
#[derive(Serialize)]
struct StoredRef<'a> {
    plan: &'a ImagePlan,
    ignore: &'a DockerIgnore,
    dockerfile: &'a Resolved,
    image_spec: Option<&'a ImageSpec>,
}

/// [`StoredRef`] read back.
#[derive(Deserialize)]
struct Stored {
    plan: ImagePlan,
    ignore: DockerIgnore,
    dockerfile: Resolved,
    image_spec: Option<ImageSpec>,
}

/// The plans, and the synthetic objects planning made (a Stapel image's context trees and
/// Dockerfile), which its build reads.
#[derive(Serialize)]
struct RecordRef<'a> {
    plans: Vec<(&'a String, StoredRef<'a>)>,
    trees: Vec<(ObjectId, &'a [TreeEntry])>,
    blobs: Vec<(ObjectId, Blob<'a>)>,
}

/// [`RecordRef`] read back.
#[derive(Deserialize)]
struct Record {
    plans: Vec<(String, Stored)>,
    trees: Vec<(ObjectId, Vec<TreeEntry>)>,
    blobs: Vec<(ObjectId, Blob<'static>)>,
}

/// A blob's content as one MessagePack `bin`, not a list of numbers.
pub(crate) struct Blob<'a>(pub(crate) std::borrow::Cow<'a, [u8]>);

impl Serialize for Blob<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob<'static> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = Vec<u8>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a blob's bytes")
            }

            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }

            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(Bytes)
            .map(|b| Blob(std::borrow::Cow::Owned(b)))
    }
}

/// Appends to `out` (a record's header may be there already: 5,000 images encode to about
/// 10 MB, not copied again) every image's plan and the synthetic objects of `synthetic` (what
/// planning made); an error for a plan the encoding must not hold.
pub fn encode(
    out: &mut dyn std::io::Write,
    plans: &[(String, Arc<ImagePlan>)],
    synthetic: &MemoryObjects,
) -> Result<(), MemoError> {
    let mut stored = Vec::with_capacity(plans.len());
    for (name, plan) in plans {
        if !plan.secrets.is_empty() {
            return Err(MemoError::Secrets(name.clone()));
        }
        stored.push((
            name,
            StoredRef {
                plan,
                ignore: &plan.ignore,
                dockerfile: &plan.dockerfile,
                image_spec: plan.image_spec.as_deref(),
            },
        ));
    }
    let (trees, blobs) = synthetic.contents();
    let record = RecordRef {
        plans: stored,
        trees: trees
            .iter()
            .map(|(id, t)| (*id, t.entries.as_slice()))
            .collect(),
        blobs: blobs
            .iter()
            .map(|(id, b)| (*id, Blob(std::borrow::Cow::Borrowed(&b[..]))))
            .collect(),
    };
    rmp_serde::encode::write(out, &record).map_err(MemoError::Encode)
}

/// The plans [`encode`] wrote, equal to the ones it was given; their synthetic objects are added
/// to `synthetic`, each checked against its id.
pub fn decode(
    bytes: &[u8],
    synthetic: &MemoryObjects,
) -> Result<Vec<(String, Arc<ImagePlan>)>, MemoError> {
    let record: Record = rmp_serde::from_slice(bytes).map_err(MemoError::Decode)?;
    for (id, entries) in record.trees {
        if synthetic.add_tree(entries) != id {
            return Err(MemoError::Object(id));
        }
    }
    for (id, Blob(bytes)) in record.blobs {
        if synthetic.add_blob(&bytes) != id {
            return Err(MemoError::Object(id));
        }
    }
    Ok(record
        .plans
        .into_iter()
        .map(|(name, s)| {
            let mut plan = s.plan;
            plan.ignore = Arc::new(s.ignore);
            plan.dockerfile = Arc::new(s.dockerfile);
            plan.image_spec = s.image_spec.map(Arc::new);
            (name, Arc::new(plan))
        })
        .collect())
}
