//! Every machine's deadline in one ordered table, keyed by slot. (The
//! connection machine's is read when the engine is asked for its next
//! deadline.)
//!
//! A machine's deadline is read again only after the engine has called
//! into that machine, so an idle producer with many partitions is not
//! scanned on every input. Finding the next deadline is a lookup of the
//! table's first entry.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::slots::Slot;

/// How far a deadline that was already served is pushed back. Machines
/// promise never to report a deadline they have been woken for; should one
/// break that promise, its driver wakes a millisecond later instead of
/// spinning, and [`Timers::stale`] counts it (the simulator reports it).
pub(crate) const STALE_DEADLINE_RETRY: Duration = Duration::from_millis(1);

#[derive(Debug, Default)]
pub(crate) struct Timers {
    queue: BTreeSet<(Instant, Slot)>,
    due: BTreeMap<Slot, Instant>,
    /// When each slot was last woken by a timeout.
    woken: BTreeMap<Slot, Instant>,
    stale: u64,
}

impl Timers {
    /// Sets `slot`'s deadline, replacing the one it had.
    pub(crate) fn set(&mut self, slot: Slot, deadline: Option<Instant>) {
        let deadline = deadline.map(|at| match self.woken.get(&slot) {
            Some(&woken) if at <= woken => {
                self.stale += 1;
                woken + STALE_DEADLINE_RETRY
            }
            _ => at,
        });
        if self.due.get(&slot).copied() == deadline {
            return;
        }
        if let Some(old) = self.due.remove(&slot) {
            self.queue.remove(&(old, slot));
        }
        if let Some(at) = deadline {
            self.due.insert(slot, at);
            self.queue.insert((at, slot));
        }
    }

    /// Forgets a slot that is gone.
    pub(crate) fn remove(&mut self, slot: Slot) {
        self.set(slot, None);
        self.woken.remove(&slot);
    }

    /// The earliest deadline of all.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Takes the first slot due at `now`, noting that it was woken then.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Slot> {
        let &(at, slot) = self.queue.first()?;
        if at > now {
            return None;
        }
        self.queue.remove(&(at, slot));
        self.due.remove(&slot);
        self.woken.insert(slot, now);
        Some(slot)
    }

    /// How many deadlines were reported after being served.
    pub(crate) fn stale(&self) -> u64 {
        self.stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_deadline_comes_first_and_a_served_one_is_not_repeated() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.set(Slot(2), Some(t0 + Duration::from_secs(2)));
        timers.set(Slot(1), Some(t0 + Duration::from_secs(1)));
        assert_eq!(timers.next(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(timers.pop_due(t0), None, "nothing is due yet");
        let now = t0 + Duration::from_secs(1);
        assert_eq!(timers.pop_due(now), Some(Slot(1)));
        assert_eq!(timers.pop_due(now), None);
        // Slot 1 reports the deadline it was just woken for: pushed back.
        timers.set(Slot(1), Some(now));
        assert_eq!(timers.stale(), 1);
        assert_eq!(timers.next(), Some(now + STALE_DEADLINE_RETRY));
        timers.remove(Slot(1));
        assert_eq!(timers.next(), Some(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn moving_a_deadline_replaces_it() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.set(Slot(1), Some(t0 + Duration::from_secs(5)));
        timers.set(Slot(1), Some(t0 + Duration::from_secs(3)));
        assert_eq!(timers.pop_due(t0 + Duration::from_secs(4)), Some(Slot(1)));
        assert_eq!(timers.next(), None, "the old deadline went with the move");
    }
}
