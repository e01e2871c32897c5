//! A repository's tags as the last build on this machine left them (listed, plus what it
//! pushed and recorded), so the next plan reads the import records without asking the registry.

use std::collections::BTreeSet;

use werf_cache::Store;

/// Cache namespace: a repository's tags with when they were listed.
const TAGS: &str = "registry-tags";

fn key(text: &str) -> werf_cache::Key {
    werf_cache::key_for_name("registry", text)
}

/// The tags of `repo` as the last build on this machine left them (`None`: no build yet).
pub fn cached_tags(
    store: &Store,
    repo: &str,
) -> Result<Option<BTreeSet<String>>, werf_cache::Error> {
    #[derive(serde::Deserialize)]
    struct Listing {
        tags: BTreeSet<String>,
    }
    Ok(store
        .get(TAGS, &key(repo))?
        .and_then(|b| serde_json::from_slice::<Listing>(&b).ok())
        .map(|l| l.tags))
}

/// Records `tags` as `repo`'s, listed at `now` (Unix seconds); the record is left as it is when
/// it holds these tags already (a no-op build writes nothing).
pub fn save(
    store: &Store,
    repo: &str,
    tags: &BTreeSet<String>,
    now: u64,
) -> Result<(), werf_cache::Error> {
    if cached_tags(store, repo)?.as_ref() == Some(tags) {
        return Ok(());
    }
    store.put(
        TAGS,
        &key(repo),
        &serde_json::to_vec(&serde_json::json!({"confirmed_at": now, "tags": tags})).expect("json"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_tags_are_not_written_again() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(home.path()).unwrap();
        let inode = || crate::taglog::record_inode(&store, TAGS);
        assert_eq!(cached_tags(&store, "r").unwrap(), None);
        let mut tags: BTreeSet<String> = ["a".to_string()].into();
        save(&store, "r", &tags, 10).unwrap();
        let first = inode();
        save(&store, "r", &tags, 20).unwrap();
        assert_eq!(inode(), first);
        tags.insert("b".into());
        save(&store, "r", &tags, 30).unwrap();
        assert_ne!(inode(), first);
        assert_eq!(cached_tags(&store, "r").unwrap(), Some(tags));
    }
}
