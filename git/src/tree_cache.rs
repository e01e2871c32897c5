//! Decoded trees kept for lookups, in bounded memory: two generations counted in entries, so a
//! walk through many commits (cleanup's history) keeps the folders it is using, not every
//! commit's.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use werf_graph::objects::Tree;
use werf_graph::ObjectId;

/// Entries a generation holds before it becomes the previous one (about 20 MiB of trees).
const GENERATION: usize = if cfg!(test) { 8 } else { 1 << 18 };

#[derive(Default)]
struct Generations {
    current: HashMap<ObjectId, Arc<Tree>>,
    /// Entries in `current`, each tree counting one more than its entries.
    current_entries: usize,
    previous: HashMap<ObjectId, Arc<Tree>>,
}

impl Generations {
    fn insert(&mut self, id: ObjectId, tree: Arc<Tree>) {
        let weight = tree.entries.len() + 1;
        if self.current_entries + weight > GENERATION && !self.current.is_empty() {
            self.previous = std::mem::take(&mut self.current);
            self.current_entries = 0;
        }
        self.current_entries += weight;
        self.current.insert(id, tree);
    }
}

/// The cache: a tree used in the current generation or the one before stays.
#[derive(Default)]
pub struct TreeCache {
    generations: RwLock<Generations>,
}

impl TreeCache {
    /// The tree `id` if it is kept (one of the previous generation moves to the current).
    pub fn get(&self, id: &ObjectId) -> Option<Arc<Tree>> {
        if let Some(t) = self.read().current.get(id) {
            return Some(t.clone());
        }
        let mut g = self.generations.write().expect("tree cache lock poisoned");
        if let Some(t) = g.current.get(id) {
            return Some(t.clone());
        }
        let t = g.previous.remove(id)?;
        g.insert(*id, t.clone());
        Some(t)
    }

    /// Keeps `tree` (the oldest generation goes when the current one is full).
    pub fn insert(&self, id: ObjectId, tree: Arc<Tree>) {
        self.generations
            .write()
            .expect("tree cache lock poisoned")
            .insert(id, tree);
    }

    /// Trees kept.
    pub fn len(&self) -> usize {
        let g = self.read();
        g.current.len() + g.previous.len()
    }

    /// Whether no tree is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Generations> {
        self.generations.read().expect("tree cache lock poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use werf_graph::objects::{EntryKind, TreeEntry};

    fn tree(n: usize) -> Arc<Tree> {
        Arc::new(Tree {
            entries: (0..n)
                .map(|i| TreeEntry {
                    name: format!("f{i}"),
                    kind: EntryKind::Blob,
                    id: ObjectId([i as u8; 20]),
                })
                .collect(),
        })
    }

    fn id(i: u8) -> ObjectId {
        ObjectId([i; 20])
    }

    #[test]
    fn trees_in_use_stay_and_old_ones_go_past_two_generations() {
        let cache = TreeCache::default();
        // Each weighs 3 entries: two fit in a generation of 8.
        cache.insert(id(1), tree(2));
        cache.insert(id(2), tree(2));
        assert_eq!(cache.len(), 2);
        cache.insert(id(3), tree(2));
        assert_eq!(cache.len(), 3, "1 and 2 are the previous generation");
        // Using 1 moves it to the current generation; 2 is left behind.
        assert_eq!(cache.get(&id(1)), Some(tree(2)));
        cache.insert(id(4), tree(2));
        cache.insert(id(5), tree(2));
        assert!(cache.get(&id(2)).is_none(), "two generations old");
        assert!(cache.get(&id(1)).is_some(), "used since");
        assert!(cache.get(&id(5)).is_some());
        assert!(cache.len() <= 5, "bounded: {}", cache.len());
        // A tree heavier than a generation is still kept (alone).
        cache.insert(id(9), tree(20));
        assert!(cache.get(&id(9)).is_some());
    }
}
