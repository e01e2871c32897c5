//! Branches and tags as werf reads them, and each commit's tags from the engine.
//!
//! References: the `origin/*` remote branches (without `origin/HEAD`) and every tag, peeled to
//! their commit. The [`EngineSource`] answers the history walk: a commit's committer time and
//! parents from Git, and its image tags by pointing the engine's project at the commit's tree and
//! asking every image's digest (not its whole plan). The salsa database lives across commits,
//! so a tree that repeats costs nothing and an image whose files did not change is cut off
//! early; an image none of whose reads the commit's diff touches is not asked at all
//! ([`werf_graph::plan::carry`]); a commit whose werf.yaml does not plan has no images (nothing
//! in the registry can come from it).

use std::collections::HashMap;
use std::sync::Arc;

use werf_graph::cleanup::history::{Commit, Source, Tags};
use werf_graph::cleanup::policy::RefKind;
use werf_graph::cleanup::refs::GitRef;
use werf_graph::plan::carry::Carry;
use werf_graph::{Database, Digest, ObjectId, Project, Setter};

use super::{Error, Result};
use crate::git::{to_graph_id, Repo};

fn git_err(what: impl Into<String>) -> impl FnOnce(String) -> Error {
    let what = what.into();
    move |message| Error::Git { what, message }
}

/// The repository's `origin/*` branches and tags.
pub fn references(repo: &Repo) -> Result<Vec<GitRef>> {
    let r = repo.sync.to_thread_local();
    let platform = r
        .references()
        .map_err(|e| git_err("listing references")(e.to_string()))?;
    let mut out = Vec::new();
    let branches = platform
        .remote_branches()
        .map_err(|e| git_err("listing remote branches")(e.to_string()))?;
    for reference in branches {
        let mut reference =
            reference.map_err(|e| git_err("reading a remote branch")(e.to_string()))?;
        let full = reference.name().as_bstr().to_string();
        let Some(name) = full.strip_prefix("refs/remotes/origin/") else {
            continue;
        };
        if name == "HEAD" {
            continue;
        }
        let name = name.to_string();
        let commit = reference
            .peel_to_commit()
            .map_err(|e| git_err(format!("branch `origin/{name}`"))(e.to_string()))?;
        let time = commit
            .time()
            .map_err(|e| git_err(format!("branch `origin/{name}`"))(e.to_string()))?
            .seconds;
        out.push(GitRef {
            kind: RefKind::Branch,
            name,
            head: commit.id.to_string(),
            time,
        });
    }
    let tags = platform
        .tags()
        .map_err(|e| git_err("listing tags")(e.to_string()))?;
    for reference in tags {
        let mut reference = reference.map_err(|e| git_err("reading a tag")(e.to_string()))?;
        let full = reference.name().as_bstr().to_string();
        let name = full.strip_prefix("refs/tags/").unwrap_or(&full).to_string();
        let what = format!("tag `{name}`");
        // An annotated tag is dated by its tagger, a lightweight one by its commit.
        let direct = reference
            .try_id()
            .map(|id| id.detach())
            .ok_or_else(|| git_err(what.clone())("a symbolic tag".into()))?;
        let object = r
            .find_object(direct)
            .map_err(|e| git_err(what.clone())(e.to_string()))?;
        let tagger_time = if object.kind == gix::object::Kind::Tag {
            let tag = object.into_tag();
            let tagger = tag
                .tagger()
                .map_err(|e| git_err(what.clone())(e.to_string()))?;
            match tagger {
                Some(t) => Some(
                    t.time()
                        .map_err(|e| git_err(what.clone())(e.to_string()))?
                        .seconds,
                ),
                None => None,
            }
        } else {
            None
        };
        let commit = match reference.peel_to_commit() {
            Ok(c) => c,
            // A tag of a tree or blob has no images.
            Err(_) => continue,
        };
        let time = match tagger_time {
            Some(t) => t,
            None => {
                commit
                    .time()
                    .map_err(|e| git_err(what.clone())(e.to_string()))?
                    .seconds
            }
        };
        out.push(GitRef {
            kind: RefKind::Tag,
            name,
            head: commit.id.to_string(),
            time,
        });
    }
    Ok(out)
}

/// What the engine did for the walks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Distinct trees planned (a tree seen again is answered from the memo).
    pub trees: usize,
    /// Image plans asked for (images × trees planned).
    pub image_plans: usize,
    /// Image plans the engine recomputed: their stages walked again (`image_stages` ran; the
    /// rest were memo hits).
    pub image_plans_recomputed: usize,
    /// Of the image plans, those carried over from the tree before without asking the engine:
    /// the diff touched none of the paths they read.
    pub image_plans_carried: usize,
    /// Commits whose werf.yaml did not plan.
    pub failed_commits: usize,
}

/// A tree, and the commit when werf.yaml may read `.Commit` there.
type TreeKey = (ObjectId, Option<String>);

/// The walk's view of Git and the engine.
pub struct EngineSource<'a> {
    repo: gix::Repository,
    db: &'a mut Database,
    project: Project,
    commits: HashMap<String, Commit>,
    trees: HashMap<String, ObjectId>,
    /// The committer's offset of each commit read (for werf.yaml's `.Commit.Date.Human`).
    offsets: HashMap<String, i32>,
    /// Whether each werf.yaml blob may read `.Commit` (asked once per blob).
    reads_commit: HashMap<ObjectId, bool>,
    /// Tags by tree, and by commit too where werf.yaml may read `.Commit`.
    by_tree: HashMap<TreeKey, Arc<Tags>>,
    /// The image names of the last tree planned (werf.yaml's order, shared by the commits'
    /// [`Tags`]) and that order sorted by name: werf.yaml rarely changes along a history.
    names: (Vec<Arc<str>>, Vec<usize>),
    /// Every tag seen, once, by its digest.
    tags: HashMap<Digest, Arc<str>>,
    /// The digests of the tree planned last, and the paths each read.
    carry: Carry,
    pub stats: Stats,
}

impl<'a> EngineSource<'a> {
    /// Whether werf.yaml at the engine's tree may read `.Commit`: it names it, or includes
    /// templates (partials) that might.
    fn reads_commit(&mut self) -> bool {
        use werf_graph::db::Db as _;
        let Ok(blob) = werf_graph::plan::config_blob(&*self.db, self.project).clone() else {
            return false;
        };
        if let Some(known) = self.reads_commit.get(&blob) {
            return *known;
        }
        let reads = self.db.objects().blob(blob).is_ok_and(|data| {
            let text = String::from_utf8_lossy(&data);
            text.contains("Commit") || text.contains("include") || text.contains("template")
        });
        self.reads_commit.insert(blob, reads);
        reads
    }

    /// A source over `repo`, planning with `db` (its execution counts must be on for the stats,
    /// see [`Database::enable_execution_counts`]). The plan seed of the checkout goes: a seeded
    /// digest reads the whole tree, so no image could be carried over.
    pub fn new(repo: &Repo, db: &'a mut Database, project: Project) -> Self {
        werf_graph::plan::memo::unseed(db);
        EngineSource {
            repo: repo.sync.to_thread_local(),
            db,
            project,
            commits: HashMap::new(),
            trees: HashMap::new(),
            offsets: HashMap::new(),
            reads_commit: HashMap::new(),
            by_tree: HashMap::new(),
            names: (Vec::new(), Vec::new()),
            tags: HashMap::new(),
            carry: Carry::default(),
            stats: Stats::default(),
        }
    }

    fn read(&mut self, id: &str) -> Result<()> {
        if self.commits.contains_key(id) {
            return Ok(());
        }
        let what = format!("commit `{id}`");
        let oid = gix::ObjectId::from_hex(id.as_bytes())
            .map_err(|e| git_err(what.clone())(e.to_string()))?;
        let commit = self.repo.find_commit(oid).map_err(|e| {
            git_err(what.clone())(format!(
                "{e} (a shallow clone? a cleanup needs the whole history of its references: `git fetch --unshallow`)"
            ))
        })?;
        let committed = commit
            .time()
            .map_err(|e| git_err(what.clone())(e.to_string()))?;
        let time = committed.seconds;
        self.offsets.insert(id.to_string(), committed.offset);
        let tree = commit
            .tree_id()
            .map_err(|e| git_err(what.clone())(e.to_string()))?;
        let parents = commit.parent_ids().map(|p| p.to_string()).collect();
        self.trees.insert(id.to_string(), to_graph_id(&tree));
        self.commits
            .insert(id.to_string(), Commit { time, parents });
        Ok(())
    }
}

impl Source for EngineSource<'_> {
    type Error = Error;

    fn commit(&mut self, id: &str) -> Result<Commit> {
        self.read(id)?;
        Ok(self.commits[id].clone())
    }

    fn tags(&mut self, id: &str) -> Result<Arc<Tags>> {
        self.read(id)?;
        let tree = self.trees[id];
        if self.project.root_tree(self.db) != tree {
            self.project.set_root_tree(self.db).to(tree);
        }
        // A werf.yaml that may read `.Commit` (or a partial that may) is planned per commit,
        // with that commit's values; any other is the same for every commit of one tree.
        let key = (tree, self.reads_commit().then(|| id.to_string()));
        if let Some(t) = self.by_tree.get(&key) {
            return Ok(t.clone());
        }
        let digests = if key.1.is_some() {
            // Another commit is another input: nothing is carried over.
            let info = werf_graph::config::CommitInfo {
                hash: id.to_string(),
                unix: self.commits[id].time,
                offset: self.offsets.get(id).copied().unwrap_or(0),
            };
            self.project.set_commit(self.db, info);
            self.carry.forget();
            werf_graph::plan::digests_all(self.db, self.project)
        } else {
            let digests = self.carry.digests(self.db, self.project);
            self.stats.image_plans_carried = self.carry.stats.carried;
            digests
        };
        self.stats.trees += 1;
        let tags: Tags = match digests {
            Ok(digests) => {
                self.stats.image_plans += digests.len();
                let (names, order) = &mut self.names;
                if names.len() != digests.len()
                    || names.iter().zip(&digests).any(|(a, (b, _))| **a != **b)
                {
                    *names = digests.iter().map(|(n, _)| Arc::from(n.as_str())).collect();
                    *order = (0..names.len()).collect();
                    order.sort_by(|&a, &b| names[a].cmp(&names[b]));
                }
                let known = &mut self.tags;
                order
                    .iter()
                    .filter_map(|&i| {
                        let digest = *digests[i].1.as_ref().ok()?;
                        let tag = known
                            .entry(digest)
                            .or_insert_with(|| Arc::from(digest.tag().as_str()));
                        Some((names[i].clone(), tag.clone()))
                    })
                    .collect()
            }
            Err(_) => {
                self.stats.failed_commits += 1;
                Tags::default()
            }
        };
        self.stats.image_plans_recomputed += self
            .db
            .take_execution_counts()
            .get("image_stages")
            .copied()
            .unwrap_or(0);
        let tags = Arc::new(tags);
        self.by_tree.insert(key, tags.clone());
        Ok(tags)
    }
}
