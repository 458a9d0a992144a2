//! [`IdWindow`]: values keyed by delivery id, for bookkeeping per record.
//!
//! Delivery ids are handed out in order and mostly reported in order (per
//! partition, batch by batch), so a window from the oldest id still held
//! costs O(1) per record and no allocation of its own, where a map or an
//! ordered set would hash or allocate tree nodes per record. The producer
//! keeps its unreported ids in one (what `flush` waits on); the async
//! driver keeps each record's waiter in another.

use std::collections::VecDeque;

/// Values keyed by increasing `u64` ids, taken out in any order.
#[derive(Debug)]
pub struct IdWindow<T> {
    /// The id of `slots[0]`.
    base: u64,
    /// Per id from `base`; the front is always occupied.
    slots: VecDeque<Option<T>>,
}

impl<T> Default for IdWindow<T> {
    fn default() -> Self {
        IdWindow {
            base: 0,
            slots: VecDeque::new(),
        }
    }
}

impl<T> IdWindow<T> {
    /// Holds `value` under `id`. Ids come in increasing order; ids skipped
    /// count as taken.
    #[inline]
    pub fn insert(&mut self, id: u64, value: T) {
        if self.slots.is_empty() {
            self.base = id;
        }
        // Almost always the next id: one push.
        if id.checked_sub(self.base) == Some(self.slots.len() as u64) {
            self.slots.push_back(Some(value));
            return;
        }
        // Should an id come out of order, make room for it.
        while id < self.base {
            self.slots.push_front(None);
            self.base -= 1;
        }
        let index = (id - self.base) as usize;
        while self.slots.len() <= index {
            self.slots.push_back(None);
        }
        self.slots[index] = Some(value);
    }

    /// Takes the value held under `id`, if any.
    pub fn remove(&mut self, id: u64) -> Option<T> {
        let index = usize::try_from(id.checked_sub(self.base)?).ok()?;
        let value = self.slots.get_mut(index)?.take();
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
        value
    }

    /// The value held under `id`, if any, to change in place.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        let index = usize::try_from(id.checked_sub(self.base)?).ok()?;
        self.slots.get_mut(index)?.as_mut()
    }

    /// The oldest id still held.
    pub fn oldest(&self) -> Option<u64> {
        (!self.slots.is_empty()).then_some(self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_moves_only_when_everything_before_it_is_taken() {
        let mut o = IdWindow::default();
        assert_eq!(o.oldest(), None);
        for id in 1..=4 {
            o.insert(id, ());
        }
        o.remove(2);
        o.remove(3);
        assert_eq!(o.oldest(), Some(1));
        o.remove(1);
        assert_eq!(o.oldest(), Some(4));
        o.remove(4);
        assert_eq!(o.oldest(), None);
        o.remove(4);
        o.insert(9, ());
        assert_eq!(o.oldest(), Some(9));
    }

    #[test]
    fn values_come_back_by_id_in_any_order() {
        let mut by_id = IdWindow::default();
        for id in 5..10 {
            by_id.insert(id, id * 10);
        }
        assert_eq!(by_id.get_mut(7), Some(&mut 70));
        assert_eq!(by_id.get_mut(4), None);
        assert_eq!(by_id.remove(7), Some(70));
        assert_eq!(by_id.get_mut(7), None);
        assert_eq!(by_id.remove(5), Some(50));
        assert_eq!(by_id.remove(7), None);
        by_id.insert(3, 30);
        assert_eq!(by_id.remove(3), Some(30));
        assert_eq!(by_id.remove(6), Some(60));
        assert_eq!(by_id.remove(9), Some(90));
        assert_eq!(by_id.remove(8), Some(80));
        assert_eq!(by_id.remove(100), None);
    }
}
