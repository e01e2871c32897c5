//! Change notifications for tracking: a watch (kube-runtime's watcher) on each kind and namespace
//! being tracked and on the namespaces' ReplicaSets and Pods, so tracking reads the cluster again
//! when something changed instead of on a timer. A watcher that (re)synchronises also wakes the
//! reader, so a change made before a watch started is never missed.

use std::time::Duration;

use futures::StreamExt as _;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt as _;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::kubernetes::Kube;

/// Running watches; dropping this stops them.
pub struct Changes {
    rx: mpsc::UnboundedReceiver<()>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Changes {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Changes {
    /// Watches every `(kind, namespace)` of `targets` (a namespace of `None`: cluster-wide).
    pub fn watch(kube: &Kube, targets: &[(ApiResource, Option<String>)]) -> Changes {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for (ar, ns) in targets {
            kube.count();
            let api: Api<DynamicObject> = match ns {
                Some(ns) => Api::namespaced_with(kube.client.clone(), ns, ar),
                None => Api::all_with(kube.client.clone(), ar),
            };
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                let mut events = watcher::watcher(api, watcher::Config::default())
                    .default_backoff()
                    .boxed();
                while let Some(event) = events.next().await {
                    let wake = match event {
                        // The initial listing is what the reader reads itself; its end (and a
                        // re-listing's, after a dropped watch) means "read again".
                        Ok(Event::Init | Event::InitApply(_)) => false,
                        Ok(Event::InitDone | Event::Apply(_) | Event::Delete(_)) => true,
                        // The reader's next request reports a lasting problem itself.
                        Err(_) => true,
                    };
                    if wake && tx.send(()).is_err() {
                        return;
                    }
                }
            }));
        }
        Changes { rx, tasks }
    }

    /// Waits until something changed (then lets a burst of changes settle for `settle`) or until
    /// `deadline`; returns whether something changed.
    pub async fn next(&mut self, deadline: Instant, settle: Duration) -> bool {
        tokio::select! {
            got = self.rx.recv() => {
                if got.is_none() {
                    // Every watch ended: nothing more will wake us before the deadline.
                    tokio::time::sleep_until(deadline).await;
                    return false;
                }
                tokio::time::sleep(settle).await;
                while self.rx.try_recv().is_ok() {}
                true
            }
            () = tokio::time::sleep_until(deadline) => false,
        }
    }
}
