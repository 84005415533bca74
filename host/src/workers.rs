//! A bounded set of scoped threads working through a slice.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `f` of every item of `items`, in the items' order, computed by at most
/// `workers` threads, each taking the next item when it is free: the slow items
/// do not hold up the others beyond the bound. With one worker (or one item),
/// in the caller's thread, in order. A panic in `f` reaches the caller once
/// every thread has stopped.
pub fn map_in_workers<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let workers = workers.min(items.len());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = f(item);
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item is taken by a worker")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn results_keep_the_items_order_and_the_workers_overlap() {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let items: Vec<u64> = (0..12).collect();
        let got = map_in_workers(&items, 3, |&n| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            // The later items are the quicker: they finish first.
            std::thread::sleep(Duration::from_millis(60 - 4 * n));
            running.fetch_sub(1, Ordering::SeqCst);
            n * 10
        });
        assert_eq!(got, items.iter().map(|n| n * 10).collect::<Vec<_>>());
        assert_eq!(
            most.load(Ordering::SeqCst),
            3,
            "the bound is reached, never passed"
        );
    }

    #[test]
    fn one_worker_runs_in_order_in_the_callers_thread() {
        let caller = std::thread::current().id();
        let got = map_in_workers(&[1, 2, 3], 1, |&n| {
            assert_eq!(std::thread::current().id(), caller);
            n + 1
        });
        assert_eq!(got, [2, 3, 4]);
        assert!(map_in_workers(&[] as &[u8], 4, |&n| n).is_empty());
    }
}
