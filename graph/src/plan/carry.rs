//! Every image's digest along a sequence of root trees (the cleanup's history walk), asking the
//! graph only for the images a tree may have changed.
//!
//! salsa answers an unchanged image from its memo, but first verifies each of the image's
//! queries against the new tree: at 1,000 images that is ~16,000 verifications per commit,
//! most of a cleanup's walk. Here each image's digest comes with the paths its answer read
//! ([`crate::paths::Read`], its dependencies' included). On the next tree, when werf.yaml's
//! config is the same and the tree's diff ([`Changes`]) touches none of those paths, every lookup
//! the image made finds what it found before, so its digest is the same: it is carried over
//! without asking. The others are asked, and their reads recorded again.

use std::sync::Arc;

use rayon::prelude::*;

use super::{config, image_dag, image_digest};
use crate::config::WerfConfig;
use crate::db::{Database, Db, ImageKey, Project};
use crate::digest::Digest;
use crate::error::Result;
use crate::objects::ObjectId;
use crate::paths::Read;
use crate::tree_diff::Changes;

/// A diff larger than this many paths is not looked at: every image is asked.
const DIFF_LIMIT: usize = 100_000;

/// What [`Carry::digests`] did, summed over its calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CarryStats {
    /// Image digests asked of the graph.
    pub asked: usize,
    /// Image digests carried over from the tree before (not asked).
    pub carried: usize,
}

/// One image as the last tree answered it.
struct Known {
    digest: Result<Digest>,
    /// The paths the answer read, sorted.
    reads: Box<[String]>,
}

struct Last {
    tree: ObjectId,
    config: Arc<WerfConfig>,
    /// One per image of `config`, in its order.
    images: Vec<Known>,
}

/// The digests of the trees asked so far. Only the project's root tree may change between two
/// calls: after any other input changes (the commit werf.yaml reads, the import checksums, the
/// plan seed), call [`Carry::forget`].
#[derive(Default)]
pub struct Carry {
    last: Option<Last>,
    pub stats: CarryStats,
}

impl Carry {
    /// Forgets the last tree: the next call asks every image.
    pub fn forget(&mut self) {
        self.last = None;
    }

    /// Every image's digest at the project's current root tree, in werf.yaml's order: what
    /// [`super::digests_all`] answers, errors included.
    pub fn digests(
        &mut self,
        db: &Database,
        project: Project,
    ) -> Result<Vec<(String, Result<Digest>)>> {
        let last = self.last.take();
        let config = config(db, project).clone()?;
        image_dag(db, project).clone()?;
        let tree = project.root_tree(db);
        // What the last tree answered, for the images this tree cannot have changed (none when
        // the config is not the last tree's).
        let mut previous: Vec<Option<Known>> = (0..config.images.len()).map(|_| None).collect();
        if let Some(last) = last.filter(|l| l.config == config) {
            // A diff that cannot be read, or is too large, asks every image.
            let changes = Changes::between(Db::objects(db), last.tree, tree, DIFF_LIMIT)
                .ok()
                .flatten();
            if let Some(changes) = changes {
                for (slot, k) in previous.iter_mut().zip(last.images) {
                    if !k.reads.iter().any(|p| changes.touches(p)) {
                        *slot = Some(k);
                    }
                }
            }
        }
        let names: Vec<String> = config
            .images
            .iter()
            .zip(&previous)
            .filter(|(_, k)| k.is_none())
            .map(|(img, _)| img.name.clone())
            .collect();
        let answers: Vec<Known> = names
            .into_par_iter()
            .map_with(db.clone(), |db, name| {
                let key = ImageKey::new(db, name);
                let digest = image_digest(db, project, key).clone();
                let mut reads: Vec<String> = image_digest::accumulated::<Read>(db, project, key)
                    .into_iter()
                    .map(|r| r.0.clone())
                    .collect();
                reads.sort_unstable();
                reads.dedup();
                Known {
                    digest,
                    reads: reads.into_boxed_slice(),
                }
            })
            .collect();
        self.stats.asked += answers.len();
        self.stats.carried += config.images.len() - answers.len();
        // One answer per image not carried over, in order.
        let mut answers = answers.into_iter();
        let images: Vec<Known> = previous
            .into_iter()
            .filter_map(|k| k.or_else(|| answers.next()))
            .collect();
        let out = config
            .images
            .iter()
            .zip(&images)
            .map(|(img, k)| (img.name.clone(), k.digest.clone()))
            .collect();
        self.last = Some(Last {
            tree,
            config,
            images,
        });
        Ok(out)
    }
}
