//! The salsa database: the inputs `src/` sets, and the handles queries read through.
//!
//! One [`Project`] input names the commit's root tree, the project folder inside the repository,
//! the config file and the `contextAddFiles` read from the work tree. Everything else is derived
//! by tracked queries in [`crate::plan`]. Git objects are read through [`ObjectSource`] (pure:
//! content-addressed), expensive listings are memoized across processes through [`DigestStore`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::context::{DigestStore, NoStore, WorkFile};
use crate::objects::{Layered, ObjectId, ObjectSource};

/// What queries need besides salsa's storage.
#[salsa::db]
pub trait Db: salsa::Database {
    /// Git objects by id (with the synthetic layer).
    fn objects(&self) -> &dyn ObjectSource;
    /// Where queries put the objects they make (content-addressed, see [`Layered`]).
    fn synthetic(&self) -> &crate::objects::MemoryObjects;
    /// The cross-process memo.
    fn store(&self) -> &dyn DigestStore;
    /// Records that a query body ran (engine tests assert on this log). The key is formatted
    /// only when the log keeps entries.
    fn log_execution(&self, query: &'static str, key: std::fmt::Arguments<'_>);
    /// Digests remembered from an earlier process (see [`crate::plan::memo`]).
    fn plan_seed(&self) -> Option<PlanSeed>;
}

/// The input holding remembered image digests (none until [`crate::plan::memo::seed`]).
#[salsa::input(debug)]
pub struct PlanSeed {
    #[returns(ref)]
    pub value: Option<Arc<crate::plan::memo::Seeded>>,
}

/// The inputs of one project at one revision.
#[salsa::input(debug)]
pub struct Project {
    /// The root tree of the commit (or of the `--dev` work-tree snapshot).
    #[returns(copy)]
    pub root_tree: ObjectId,
    /// The project folder inside the repository (`""` at the root).
    #[returns(ref)]
    pub prefix: String,
    /// The config file name inside the project folder (`werf.yaml`).
    #[returns(ref)]
    pub config_file: String,
    /// `contextAddFiles` from the work tree, by repository-relative path.
    #[returns(ref)]
    pub work_files: Arc<BTreeMap<String, WorkFile>>,
    /// What werf.yaml's template reads besides files: `--env` and the environment variables.
    #[returns(ref)]
    pub template_env: Arc<crate::config::TemplateEnv>,
    /// Checksums of Stapel imports' content, as the registry records them (see
    /// [`crate::imports`]); an import missing here leaves its importer pending.
    #[returns(ref)]
    pub import_checksums: Arc<crate::imports::Checksums>,
}

impl Project {
    /// Sets what werf.yaml's `.Commit` reads, leaving the input untouched (and every query
    /// reading it valid) when it is already so.
    pub fn set_commit(self, db: &mut Database, info: crate::config::CommitInfo) {
        use salsa::Setter as _;
        let env = self.template_env(db).clone();
        if env.commit.as_ref() != Some(&info) {
            let mut next = (*env).clone();
            next.commit = Some(info);
            self.set_template_env(db).to(Arc::new(next));
        }
    }
}

/// An image, by name.
#[salsa::interned(debug)]
pub struct ImageKey<'db> {
    #[returns(ref)]
    pub name: String,
}

/// One Dockerfile stage of an image.
#[salsa::interned(debug)]
pub struct StageKey<'db> {
    #[returns(ref)]
    pub image: String,
    #[returns(copy)]
    pub index: usize,
}

/// The engine's database.
#[salsa::db]
#[derive(Clone)]
pub struct Database {
    storage: salsa::Storage<Self>,
    objects: Arc<Layered>,
    store: Arc<dyn DigestStore>,
    log: Option<Arc<ExecutionLog>>,
    seed: Option<PlanSeed>,
}

/// What the execution log keeps: each run's `query(key)`, or only how many runs of each query.
#[derive(Debug)]
enum ExecutionLog {
    Entries(Mutex<Vec<String>>),
    Counts(Mutex<BTreeMap<&'static str, usize>>),
}

impl Database {
    /// A database reading objects from `objects` and memoizing listings in `store`.
    pub fn new(objects: Arc<dyn ObjectSource>, store: Arc<dyn DigestStore>) -> Self {
        let mut db = Database {
            storage: salsa::Storage::default(),
            objects: Arc::new(Layered::new(objects)),
            store,
            log: None,
            seed: None,
        };
        db.seed = Some(PlanSeed::new(&db, None));
        db
    }

    /// Sets the remembered digests (see [`crate::plan::memo::seed`]); `None` forgets them.
    pub fn set_plan_seed(&mut self, value: Option<Arc<crate::plan::memo::Seeded>>) {
        use salsa::Setter as _;
        if let Some(seed) = self.seed {
            seed.set_value(self).to(value);
        }
    }

    /// A database without a persistent memo.
    pub fn in_memory(objects: Arc<dyn ObjectSource>) -> Self {
        Self::new(objects, Arc::new(NoStore))
    }

    /// Turns on the execution log (see [`Database::take_execution_log`]).
    pub fn with_execution_log(mut self) -> Self {
        self.enable_execution_log();
        self
    }

    /// Turns on the execution log of a database already in use (a log already on stays, with
    /// its entries and the clones that share it).
    pub fn enable_execution_log(&mut self) {
        if !matches!(self.log.as_deref(), Some(ExecutionLog::Entries(_))) {
            self.log = Some(Arc::new(ExecutionLog::Entries(Mutex::default())));
        }
    }

    /// Turns on counting query runs by query, without their keys (see
    /// [`Database::take_execution_counts`]): what a walk over many trees can afford. It replaces
    /// a log of entries; counts already on stay.
    pub fn enable_execution_counts(&mut self) {
        if !matches!(self.log.as_deref(), Some(ExecutionLog::Counts(_))) {
            self.log = Some(Arc::new(ExecutionLog::Counts(Mutex::default())));
        }
    }

    /// The `query(key)` entries of every query body that ran since the last call, sorted (none
    /// unless [`Database::enable_execution_log`] is on).
    pub fn take_execution_log(&self) -> Vec<String> {
        let mut log = match self.log.as_deref() {
            Some(ExecutionLog::Entries(l)) => {
                std::mem::take(&mut *l.lock().expect("execution log lock poisoned"))
            }
            _ => Vec::new(),
        };
        log.sort();
        log
    }

    /// How many times each query's body ran since the last call (empty unless
    /// [`Database::enable_execution_counts`] is on).
    pub fn take_execution_counts(&self) -> BTreeMap<&'static str, usize> {
        match self.log.as_deref() {
            Some(ExecutionLog::Counts(c)) => {
                std::mem::take(&mut *c.lock().expect("execution log lock poisoned"))
            }
            _ => BTreeMap::new(),
        }
    }

    /// Replaces the object source (e.g. after new objects were written); Git ids stay valid.
    pub fn set_objects(&mut self, objects: Arc<dyn ObjectSource>) {
        self.objects = Arc::new(Layered {
            synthetic: self.objects.synthetic.clone(),
            inner: objects,
        });
    }

    /// The objects planning made (see [`Db::synthetic`]), shared.
    pub fn synthetic_objects(&self) -> Arc<crate::objects::MemoryObjects> {
        self.objects.synthetic.clone()
    }

    /// The objects queries read, synthetic layer included (builders read through this too).
    pub fn layered_objects(&self) -> Arc<dyn ObjectSource> {
        self.objects.clone()
    }
}

#[salsa::db]
impl salsa::Database for Database {}

#[salsa::db]
impl Db for Database {
    fn objects(&self) -> &dyn ObjectSource {
        &*self.objects
    }

    fn synthetic(&self) -> &crate::objects::MemoryObjects {
        &self.objects.synthetic
    }

    fn store(&self) -> &dyn DigestStore {
        &*self.store
    }

    fn plan_seed(&self) -> Option<PlanSeed> {
        self.seed
    }

    fn log_execution(&self, query: &'static str, key: std::fmt::Arguments<'_>) {
        match self.log.as_deref() {
            None => {}
            Some(ExecutionLog::Entries(l)) => l
                .lock()
                .expect("execution log lock poisoned")
                .push(format!("{query}({key})")),
            Some(ExecutionLog::Counts(c)) => {
                *c.lock()
                    .expect("execution log lock poisoned")
                    .entry(query)
                    .or_default() += 1
            }
        }
    }
}
