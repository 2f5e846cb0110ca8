//! Many bundles in one invocation: each bundle is independent work, so
//! they are spread over every core, sharing one [`Runtime`] (one engine, one
//! compiled copy of each guest); each step still gets a store of its own.
//!
//! [`Runtime`]: crate::runtime::Runtime

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// Applies `work` to every item on up to `threads` threads and returns the
/// results in the items' order. `done` is told how many items have finished
/// after each one does.
pub fn map<I: Sync, T: Send>(
    items: &[I],
    threads: usize,
    work: impl Fn(&I) -> T + Sync,
    done: impl Fn(usize) + Sync,
) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new(items.iter().map(|_| None).collect());
    thread::scope(|scope| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else { break };
                    let result = work(item);
                    results.lock().unwrap_or_else(|e| e.into_inner())[index] = Some(result);
                    done(finished.fetch_add(1, Ordering::Relaxed) + 1);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

/// Threads to use: one per core.
pub fn threads() -> usize {
    thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items_and_everything_runs_once() {
        let items: Vec<u64> = (0..100).collect();
        let calls = AtomicUsize::new(0);
        let squares = map(
            &items,
            4,
            |n| {
                calls.fetch_add(1, Ordering::Relaxed);
                n * n
            },
            |_| {},
        );
        assert_eq!(squares, items.iter().map(|n| n * n).collect::<Vec<_>>());
        assert_eq!(calls.load(Ordering::Relaxed), 100);
        assert!(map(&Vec::<u64>::new(), 4, |n| *n, |_| {}).is_empty());
    }
}
