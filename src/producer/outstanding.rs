//! Which deliveries are still unreported, by id: what `flush` waits on.
//!
//! Ids are handed out in order and mostly reported in order (per
//! partition, batch by batch), so a window of flags from the oldest
//! unreported id does the job in O(1) per record without allocating per
//! record, where an ordered set would allocate tree nodes.

use std::collections::VecDeque;

#[derive(Debug, Default)]
pub(crate) struct Outstanding {
    /// The id of `reported[0]`.
    base: u64,
    /// Per id from `base`: reported yet? The front is always `false`.
    reported: VecDeque<bool>,
}

impl Outstanding {
    /// `id` was handed out; ids come in increasing order.
    pub(crate) fn insert(&mut self, id: u64) {
        if self.reported.is_empty() {
            self.base = id;
        }
        // Ids skipped (none are, today) count as reported.
        while self.base + (self.reported.len() as u64) < id {
            self.reported.push_back(true);
        }
        self.reported.push_back(false);
    }

    /// `id` was reported (delivered or failed).
    pub(crate) fn remove(&mut self, id: u64) {
        let Some(index) = id.checked_sub(self.base) else {
            return;
        };
        if let Some(flag) = self.reported.get_mut(index as usize) {
            *flag = true;
        }
        while self.reported.front() == Some(&true) {
            self.reported.pop_front();
            self.base += 1;
        }
    }

    /// The oldest id not reported yet.
    pub(crate) fn oldest(&self) -> Option<u64> {
        (!self.reported.is_empty()).then_some(self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_moves_only_when_everything_before_it_is_reported() {
        let mut o = Outstanding::default();
        assert_eq!(o.oldest(), None);
        for id in 1..=4 {
            o.insert(id);
        }
        o.remove(2);
        o.remove(3);
        assert_eq!(o.oldest(), Some(1));
        o.remove(1);
        assert_eq!(o.oldest(), Some(4));
        o.remove(4);
        assert_eq!(o.oldest(), None);
        o.remove(4);
        o.insert(9);
        assert_eq!(o.oldest(), Some(9));
    }
}
