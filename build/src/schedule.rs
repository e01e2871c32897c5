//! The build scheduler: an image starts as soon as every image it depends on is done (a pool of
//! workers, no waves), and images whose plan waits on an import's content are planned again on
//! the calling thread as soon as the images they read are done. The first failure stops new
//! starts; what is running finishes. It knows nothing of registries or builders: a build is a
//! closure, and so is planning again, so it is tested with fakes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex};

use werf_graph::plan::ImagePlan;

/// What the scheduler reads of a plan.
pub trait Node {
    /// The tag the image gets.
    fn tag(&self) -> &str;
    /// The images it depends on, by name.
    fn dependencies(&self) -> &[String];
}

impl Node for ImagePlan {
    fn tag(&self) -> &str {
        &self.tag
    }

    fn dependencies(&self) -> &[String] {
        &self.dependencies
    }
}

/// Where the scheduler starts.
pub struct Start<N> {
    /// Every image planned so far, by name.
    pub plans: HashMap<String, Arc<N>>,
    /// Planned and to be built, in the order given.
    pub pending: Vec<String>,
    /// Waiting on an import's content, with the images they read.
    pub unresolved: BTreeMap<String, Vec<String>>,
    /// Already there (nothing to build).
    pub done: HashSet<String>,
}

/// An image planned again once what it reads was done.
pub enum Replanned<N, E> {
    /// Its tag exists already: it is done.
    Exists(Arc<N>),
    /// It is to be built.
    Missing(Arc<N>),
    /// Planning it failed.
    Failed(E),
}

/// What one build is given: the image, its plan, the dependencies built in this run (what
/// each published) and every dependency's tag.
pub struct Task<'a, N, P> {
    pub name: &'a str,
    pub plan: &'a Arc<N>,
    pub built: HashMap<String, P>,
    pub tags: HashMap<String, String>,
}

/// How a scheduled build ended.
pub struct Finished<N, P, E> {
    pub plans: HashMap<String, Arc<N>>,
    /// What each image built in this run published.
    pub published: HashMap<String, P>,
    /// Replanned images whose tags exist, in the order they were found.
    pub found: Vec<(String, Arc<N>)>,
    /// Failed images, in the order they failed.
    pub failed: Vec<(String, E)>,
    /// Never started (a dependency or another image failed first).
    pub pending: Vec<String>,
    /// Never planned (what they read never became done).
    pub unresolved: Vec<String>,
}

struct State<N, P, E> {
    plans: HashMap<String, Arc<N>>,
    pending: Vec<String>,
    unresolved: BTreeMap<String, Vec<String>>,
    /// The planning thread is planning.
    resolving: bool,
    /// The planning thread plans nothing more (what is unresolved stays so).
    planner_done: bool,
    running: usize,
    published: HashMap<String, P>,
    found: Vec<(String, Arc<N>)>,
    failed: Vec<(String, E)>,
    done: HashSet<String>,
}

impl<N: Node, P, E> State<N, P, E> {
    fn ready(&self, name: &str) -> bool {
        self.plans[name]
            .dependencies()
            .iter()
            .all(|d| self.done.contains(d))
    }
}

/// Runs `build` for every pending image on `workers` threads, dependencies first, and
/// `replan` (on this thread) for every unresolved image once the images it reads are done.
/// `replan` may look up what an image built in this run published.
pub fn run<N, P, E, B, R>(
    start: Start<N>,
    workers: usize,
    build: B,
    mut replan: R,
) -> Finished<N, P, E>
where
    N: Node + Send + Sync,
    P: Clone + Send,
    E: Send,
    B: Fn(Task<'_, N, P>) -> Result<P, E> + Sync,
    R: FnMut(&str, &dyn Fn(&str) -> Option<P>) -> Replanned<N, E>,
{
    let state: Mutex<State<N, P, E>> = Mutex::new(State {
        plans: start.plans,
        pending: start.pending,
        unresolved: start.unresolved,
        resolving: false,
        planner_done: false,
        running: 0,
        published: HashMap::new(),
        found: Vec::new(),
        failed: Vec::new(),
        done: start.done,
    });
    let wake = Condvar::new();
    let worker = || loop {
        let mut s = state.lock().expect("build state lock poisoned");
        let next = loop {
            if !s.failed.is_empty() && s.running == 0 {
                return;
            }
            let ready = if s.failed.is_empty() {
                s.pending.iter().position(|n| s.ready(n))
            } else {
                None
            };
            if let Some(i) = ready {
                let name = s.pending.remove(i);
                s.running += 1;
                break name;
            }
            if s.running == 0 && !s.resolving && (s.unresolved.is_empty() || s.planner_done) {
                // Nothing runnable, running or still to be planned: the rest waits on failed
                // images (or nothing is left).
                return;
            }
            s = wake.wait(s).expect("build state lock poisoned");
        };
        // The dependencies built in this run; the caller reads the others itself.
        let plan = s.plans[next.as_str()].clone();
        let tags: HashMap<String, String> = plan
            .dependencies()
            .iter()
            .filter_map(|d| s.plans.get(d).map(|p| (d.clone(), p.tag().to_string())))
            .collect();
        let built: HashMap<String, P> = plan
            .dependencies()
            .iter()
            .filter_map(|d| s.published.get(d).map(|p| (d.clone(), p.clone())))
            .collect();
        drop(s);
        let outcome = build(Task {
            name: &next,
            plan: &plan,
            built,
            tags,
        });
        let mut s = state.lock().expect("build state lock poisoned");
        s.running -= 1;
        match outcome {
            Ok(published) => {
                s.published.insert(next.clone(), published);
                s.done.insert(next);
            }
            Err(e) => s.failed.push((next, e)),
        }
        wake.notify_all();
    };
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(worker);
        }
        // This thread plans the images waiting on imports as the images they read are done.
        while let Some(ready) = next_resolvable(&state, &wake) {
            let lookup = |image: &str| {
                state
                    .lock()
                    .expect("build state lock poisoned")
                    .published
                    .get(image)
                    .cloned()
            };
            let outcomes: Vec<(String, Replanned<N, E>)> = ready
                .into_iter()
                .map(|name| {
                    let r = replan(&name, &lookup);
                    (name, r)
                })
                .collect();
            let mut s = state.lock().expect("build state lock poisoned");
            for (name, outcome) in outcomes {
                s.unresolved.remove(&name);
                match outcome {
                    Replanned::Exists(plan) => {
                        s.done.insert(name.clone());
                        s.found.push((name.clone(), plan.clone()));
                        s.plans.insert(name, plan);
                    }
                    Replanned::Missing(plan) => {
                        s.plans.insert(name.clone(), plan);
                        s.pending.push(name);
                    }
                    Replanned::Failed(e) => s.failed.push((name, e)),
                }
            }
            s.resolving = false;
            wake.notify_all();
        }
        state
            .lock()
            .expect("build state lock poisoned")
            .planner_done = true;
        wake.notify_all();
    });
    let s = state.into_inner().expect("build state lock poisoned");
    Finished {
        plans: s.plans,
        published: s.published,
        found: s.found,
        failed: s.failed,
        pending: s.pending,
        unresolved: s.unresolved.into_keys().collect(),
    }
}

/// The images waiting on imports whose dependencies all are done now, marked as being
/// resolved; `None` when none ever will (none left, a failure, or nothing left that could
/// finish).
fn next_resolvable<N: Node, P, E>(
    state: &Mutex<State<N, P, E>>,
    wake: &Condvar,
) -> Option<Vec<String>> {
    let mut s = state.lock().expect("build state lock poisoned");
    loop {
        if s.unresolved.is_empty() || !s.failed.is_empty() {
            return None;
        }
        let ready: Vec<String> = s
            .unresolved
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| s.done.contains(d)))
            .map(|(n, _)| n.clone())
            .collect();
        if !ready.is_empty() {
            s.resolving = true;
            return Some(ready);
        }
        let runnable = s.pending.iter().any(|n| s.ready(n));
        if s.running == 0 && !runnable {
            // What is left waits on images that cannot finish.
            wake.notify_all();
            return None;
        }
        s = wake.wait(s).expect("build state lock poisoned");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan with only what the scheduler reads.
    struct Fake {
        tag: String,
        deps: Vec<String>,
    }

    impl Node for Fake {
        fn tag(&self) -> &str {
            &self.tag
        }

        fn dependencies(&self) -> &[String] {
            &self.deps
        }
    }

    fn fake(deps: &[&str]) -> Arc<Fake> {
        Arc::new(Fake {
            tag: "t".into(),
            deps: deps.iter().map(|d| d.to_string()).collect(),
        })
    }

    /// `(name, deps)` all pending, in that order.
    fn start(images: &[(&str, &[&str])]) -> Start<Fake> {
        Start {
            plans: images
                .iter()
                .map(|(n, d)| (n.to_string(), fake(d)))
                .collect(),
            pending: images.iter().map(|(n, _)| n.to_string()).collect(),
            unresolved: BTreeMap::new(),
            done: HashSet::new(),
        }
    }

    /// What happened, in order: `start NAME` and `end NAME`.
    type Log = Mutex<Vec<String>>;

    fn logged(log: &Log, name: &str) -> Result<String, String> {
        log.lock().unwrap().push(format!("start {name}"));
        log.lock().unwrap().push(format!("end {name}"));
        Ok(format!("published {name}"))
    }

    fn position(log: &[String], event: &str) -> usize {
        log.iter()
            .position(|e| e == event)
            .unwrap_or_else(|| panic!("`{event}` not in {log:?}"))
    }

    fn no_replan(_: &str, _: &dyn Fn(&str) -> Option<String>) -> Replanned<Fake, String> {
        panic!("nothing was unresolved")
    }

    #[test]
    fn an_image_starts_only_after_its_dependencies_and_sees_what_they_published() {
        let log = Log::default();
        let seen = Mutex::new(HashMap::new());
        let finished = run(
            start(&[("app", &["base", "lib"]), ("lib", &["base"]), ("base", &[])]),
            2,
            |task: Task<'_, Fake, String>| {
                let mut built: Vec<_> = task.built.keys().cloned().collect();
                built.sort();
                seen.lock().unwrap().insert(task.name.to_string(), built);
                logged(&log, task.name)
            },
            no_replan,
        );
        let log = log.into_inner().unwrap();
        assert!(
            position(&log, "end base") < position(&log, "start lib"),
            "{log:?}"
        );
        assert!(
            position(&log, "end lib") < position(&log, "start app"),
            "{log:?}"
        );
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen["app"], ["base", "lib"]);
        assert_eq!(seen["lib"], ["base"]);
        assert_eq!(seen["base"], Vec::<String>::new());
        assert_eq!(finished.published.len(), 3);
        assert_eq!(finished.published["app"], "published app");
        assert!(finished.failed.is_empty() && finished.pending.is_empty());
    }

    #[test]
    fn independent_images_build_at_the_same_time() {
        // The first build waits for the second to start: with one image at a time it would
        // give up, and the test names why.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Mutex::new(rx);
        let finished = run(
            start(&[("a", &[]), ("b", &[])]),
            2,
            |task: Task<'_, Fake, String>| {
                if task.name == "a" {
                    rx.lock()
                        .unwrap()
                        .recv_timeout(std::time::Duration::from_secs(30))
                        .map_err(|_| "`b` did not start while `a` was building".to_string())?;
                } else {
                    tx.send(()).unwrap();
                }
                Ok(String::new())
            },
            no_replan,
        );
        assert!(finished.failed.is_empty(), "{:?}", finished.failed);
        assert_eq!(finished.published.len(), 2);
    }

    #[test]
    fn a_failure_stops_new_starts_and_leaves_the_rest_pending() {
        let log = Log::default();
        let finished = run(
            start(&[("a", &[]), ("b", &["a"]), ("c", &[])]),
            1,
            |task: Task<'_, Fake, String>| {
                if task.name == "a" {
                    return Err("a broke".to_string());
                }
                logged(&log, task.name)
            },
            no_replan,
        );
        assert_eq!(finished.failed, [("a".to_string(), "a broke".to_string())]);
        let mut pending = finished.pending.clone();
        pending.sort();
        assert_eq!(pending, ["b", "c"]);
        assert_eq!(log.into_inner().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_pending_import_is_planned_once_what_it_reads_is_done() {
        let mut s = start(&[("source", &[])]);
        s.unresolved
            .insert("importer".into(), vec!["source".into()]);
        s.unresolved.insert("cached".into(), vec!["source".into()]);
        let log = Log::default();
        let mut asked = Vec::new();
        let finished = run(
            s,
            2,
            |task: Task<'_, Fake, String>| logged(&log, task.name),
            |name: &str, built: &dyn Fn(&str) -> Option<String>| {
                // What the source published is there to read.
                asked.push((name.to_string(), built("source")));
                if name == "cached" {
                    Replanned::Exists(fake(&["source"]))
                } else {
                    Replanned::Missing(fake(&["source"]))
                }
            },
        );
        asked.sort();
        assert_eq!(
            asked,
            [
                ("cached".to_string(), Some("published source".to_string())),
                ("importer".to_string(), Some("published source".to_string())),
            ]
        );
        let log = log.into_inner().unwrap();
        assert!(position(&log, "end source") < position(&log, "start importer"));
        assert!(!log.contains(&"start cached".to_string()), "{log:?}");
        assert_eq!(finished.found.len(), 1);
        assert_eq!(finished.found[0].0, "cached");
        assert!(finished.published.contains_key("importer"));
        assert!(finished.unresolved.is_empty());
    }

    #[test]
    fn an_import_of_a_failed_image_is_never_planned() {
        let mut s = start(&[("source", &[])]);
        s.unresolved
            .insert("importer".into(), vec!["source".into()]);
        let mut asked = 0;
        let finished = run(
            s,
            2,
            |_: Task<'_, Fake, String>| Err("no".to_string()),
            |_: &str, _: &dyn Fn(&str) -> Option<String>| {
                asked += 1;
                Replanned::Missing(fake(&[]))
            },
        );
        assert_eq!(asked, 0);
        assert_eq!(finished.unresolved, ["importer"]);
        assert_eq!(finished.failed.len(), 1);
    }

    #[test]
    fn a_failed_replan_is_a_failure() {
        let mut s = start(&[]);
        s.unresolved.insert("importer".into(), vec![]);
        let finished = run(
            s,
            1,
            |_: Task<'_, Fake, String>| Ok(String::new()),
            |_: &str, _: &dyn Fn(&str) -> Option<String>| Replanned::Failed("bad".to_string()),
        );
        assert_eq!(
            finished.failed,
            [("importer".to_string(), "bad".to_string())]
        );
        assert!(finished.unresolved.is_empty());
    }
}
