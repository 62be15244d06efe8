//! Work spread over the machine's cores: each thread takes the next item left until there is none, and the
//! results come back in the items' order.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The most threads started, whatever the machine offers.
const MOST_THREADS: usize = 16;

/// `work` applied to every item, on as many threads as the machine has cores (at most 16, never more than
/// there are items), the results in the items' order. `None` when a thread panicked: the panic stops that
/// thread only, and is not passed on.
pub fn map_on_every_core<T, R, F>(items: &[T], work: F) -> Option<Vec<R>>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    map_on_every_core_with(items, || (), |_, item| work(item))
}

/// [`map_on_every_core`], each thread keeping a state of its own (buffers, open directories) that `start`
/// makes when the thread starts and `work` is given with each item.
pub fn map_on_every_core_with<T, S, R, F>(
    items: &[T],
    start: impl Fn() -> S + Sync,
    work: F,
) -> Option<Vec<R>>
where
    T: Sync,
    R: Send,
    F: Fn(&mut S, &T) -> R + Sync,
{
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MOST_THREADS)
        .min(items.len());
    let next = AtomicUsize::new(0);
    let parts = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut state = start();
                    let mut done = Vec::new();
                    loop {
                        let at = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(at) else {
                            return done;
                        };
                        done.push((at, work(&mut state, item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().ok())
            .collect::<Option<Vec<_>>>()
    })?;
    let mut results: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    for (at, result) in parts.into_iter().flatten() {
        results[at] = Some(result);
    }
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_worked_once_and_the_results_keep_the_items_order() {
        let items: Vec<u64> = (0..10_000).collect();
        let calls = AtomicUsize::new(0);
        let squares = map_on_every_core(&items, |n| {
            calls.fetch_add(1, Ordering::Relaxed);
            n * n
        })
        .unwrap();
        assert_eq!(calls.into_inner(), items.len());
        assert_eq!(squares, items.iter().map(|n| n * n).collect::<Vec<_>>());
        assert_eq!(map_on_every_core(&[] as &[u64], |n| *n), Some(Vec::new()));
    }

    #[test]
    fn each_thread_keeps_its_own_state_from_item_to_item() {
        let items: Vec<u64> = (0..10_000).collect();
        let started = AtomicUsize::new(0);
        // Each result is the item and how many items its thread had worked before it.
        let worked = map_on_every_core_with(
            &items,
            || {
                started.fetch_add(1, Ordering::Relaxed);
                0u64
            },
            |before: &mut u64, n| {
                *before += 1;
                (*n, *before - 1)
            },
        )
        .unwrap();
        assert_eq!(worked.iter().map(|(n, _)| *n).collect::<Vec<_>>(), items);
        let threads = started.into_inner();
        assert!((1..=MOST_THREADS).contains(&threads));
        // Every thread counted from 0 on its own: the counts seen are each thread's 0, 1, 2, ... run.
        let mut counts: Vec<u64> = worked.iter().map(|(_, before)| *before).collect();
        counts.sort_unstable();
        let zeros = counts.iter().filter(|c| **c == 0).count();
        assert!((1..=threads).contains(&zeros));
        assert_eq!(counts.len(), items.len());
        assert!(counts.windows(2).all(|w| w[1] <= w[0] + 1));
    }

    #[test]
    fn a_thread_that_panics_gives_none() {
        let items: Vec<u64> = (0..64).collect();
        let result = map_on_every_core(&items, |n| {
            assert_ne!(*n, 33, "planted failure");
            *n
        });
        assert_eq!(result, None);
    }
}
