//! The producer's memory bound, shared by its handles and the event loop.
//!
//! A handle reserves a record's bytes before the record leaves it, and the
//! event loop gives them back when the record is delivered or fails. So the
//! bound covers records still on their way to the event loop as well as
//! those batched or in flight, without a round trip to the loop per record.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use event_listener::{Event, EventListener};

#[derive(Debug)]
pub(crate) struct BufferGauge {
    used: AtomicUsize,
    limit: usize,
    closed: AtomicBool,
    /// Notified when bytes are given back or the producer closes.
    changed: Event,
}

impl BufferGauge {
    pub(crate) fn new(limit: usize) -> Self {
        BufferGauge {
            used: AtomicUsize::new(0),
            limit,
            closed: AtomicBool::new(false),
            changed: Event::new(),
        }
    }

    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Takes `bytes` when they fit under the limit.
    pub(crate) fn try_reserve(&self, bytes: usize) -> bool {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let Some(after) = used.checked_add(bytes).filter(|&a| a <= self.limit) else {
                return false;
            };
            match self
                .used
                .compare_exchange_weak(used, after, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => used = now,
            }
        }
    }

    pub(crate) fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
        self.changed.notify(usize::MAX);
    }

    /// A listener to await before trying again; made before the retry so
    /// that a release in between is not missed.
    pub(crate) fn listen(&self) -> EventListener {
        self.changed.listen()
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.changed.notify(usize::MAX);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_stop_at_the_limit_and_releases_make_room() {
        let gauge = BufferGauge::new(100);
        assert!(gauge.try_reserve(60));
        assert!(!gauge.try_reserve(41));
        assert!(gauge.try_reserve(40));
        assert_eq!(gauge.used(), 100);
        gauge.release(60);
        assert!(gauge.try_reserve(50));
        assert!(!gauge.try_reserve(usize::MAX), "no overflow");
    }
}
