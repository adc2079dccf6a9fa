//! The compute gate: at most cores − 1 model computations at once, the tile feed's
//! before any request's.

use super::*;

/// Bounds how many model computations run at once. The models are CPU-bound and run on
/// blocking threads; without a bound, a dozen concurrent cache misses (every intake
/// starts a new generation) take every core from the runtime that serves tiles and
/// search (mixed load at scale 1: tile p99 5.3 s, with the tile handlers themselves
/// under 1 ms).
pub(crate) struct ComputeGate {
    pub(crate) slots: Mutex<GateSlots>,
    pub(crate) freed: Condvar,
    pub(crate) limit: usize,
}

#[derive(Default)]
pub(crate) struct GateSlots {
    pub(crate) running: usize,
    /// Tile-feed computations waiting: they go before any request's.
    pub(crate) feed_waiting: usize,
    /// Request computations waiting (observable, so tests can wait for them instead of
    /// sleeping and hoping).
    pub(crate) requests_waiting: usize,
}

/// Who waits for a computation: a caller of the API, or the hotspots/risk tile feed,
/// which every map tile of those layers depends on and so goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Request,
    TileFeed,
}

impl ComputeGate {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            slots: Mutex::default(),
            freed: Condvar::new(),
            limit: limit.max(1),
        }
    }

    /// One computation fewer than the machine has cores (at least one).
    pub(crate) fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores.saturating_sub(1))
    }

    /// Wait for a free slot (call from a blocking thread, never from async code).
    pub(crate) fn enter(&self, priority: Priority) -> GatePass<'_> {
        let feed = priority == Priority::TileFeed;
        let mut slots = lock(&self.slots);
        if feed {
            slots.feed_waiting += 1;
        } else {
            slots.requests_waiting += 1;
        }
        while slots.running >= self.limit || (!feed && slots.feed_waiting > 0) {
            self.freed.wait(&mut slots);
        }
        if feed {
            slots.feed_waiting -= 1;
        } else {
            slots.requests_waiting -= 1;
        }
        slots.running += 1;
        GatePass(self)
    }
}

pub(crate) struct GatePass<'a>(&'a ComputeGate);

impl Drop for GatePass<'_> {
    fn drop(&mut self) {
        lock(&self.0.slots).running -= 1;
        // Waiters wait on different conditions (a feed's, a request's): wake them all.
        self.0.freed.notify_all();
    }
}

#[cfg(test)]
mod gate_tests {
    use super::{ComputeGate, Priority};
    use crate::analysis::lock;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// However many threads ask, no more than the limit are inside at once, and every
    /// one gets in eventually.
    #[test]
    fn the_gate_bounds_concurrent_computations() {
        for limit in [1, 3] {
            let gate = Arc::new(ComputeGate::new(limit));
            let inside = Arc::new(AtomicUsize::new(0));
            let peak = Arc::new(AtomicUsize::new(0));
            let done = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = (0..12)
                .map(|_| {
                    let (gate, inside, peak, done) =
                        (gate.clone(), inside.clone(), peak.clone(), done.clone());
                    std::thread::spawn(move || {
                        let _pass = gate.enter(Priority::Request);
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        inside.fetch_sub(1, Ordering::SeqCst);
                        done.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(done.load(Ordering::SeqCst), 12);
            let peak = peak.load(Ordering::SeqCst);
            assert!(peak <= limit, "{peak} inside a gate of {limit}");
            assert!(peak >= 1);
        }
    }

    /// A tile-feed computation waiting at a full gate goes in before the requests that
    /// were already waiting.
    #[test]
    fn the_tile_feed_goes_before_waiting_requests() {
        let gate = Arc::new(ComputeGate::new(1));
        let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let held = gate.enter(Priority::Request);
        let spawn = |priority: Priority, name: &'static str| {
            let (gate, order) = (gate.clone(), order.clone());
            std::thread::spawn(move || {
                let _pass = gate.enter(priority);
                order.lock().push(name);
            })
        };
        let requests: Vec<_> = (0..3)
            .map(|_| spawn(Priority::Request, "request"))
            .collect();
        // The three requests are waiting at the full gate before the feed arrives.
        while lock(&gate.slots).requests_waiting < 3 {
            std::thread::yield_now();
        }
        let feed = spawn(Priority::TileFeed, "feed");
        // Release only once the feed is waiting.
        while lock(&gate.slots).feed_waiting == 0 {
            std::thread::yield_now();
        }
        drop(held);
        feed.join().unwrap();
        for r in requests {
            r.join().unwrap();
        }
        let order = order.lock();
        assert_eq!(order.len(), 4);
        assert_eq!(order[0], "feed", "{order:?}");
    }
}
