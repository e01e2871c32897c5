//! Many registry requests, 8 at a time.

use std::sync::Mutex;

use super::{Error, Result};

/// Asks `f` for each item, 8 requests at a time; the first error wins (the rest are not asked).
pub fn parallel<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let failed: Mutex<Option<Error>> = Mutex::default();
    std::thread::scope(|scope| {
        for _ in 0..items.len().min(8) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(item) = items.get(i) else { return };
                if failed.lock().expect("lock").is_some() {
                    return;
                }
                match f(item) {
                    Ok(r) => out.lock().expect("lock")[i] = Some(r),
                    Err(e) => {
                        failed.lock().expect("lock").get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().expect("lock") {
        return Err(e);
    }
    Ok(out
        .into_inner()
        .expect("lock")
        .into_iter()
        .map(|r| r.expect("every item answered"))
        .collect())
}
