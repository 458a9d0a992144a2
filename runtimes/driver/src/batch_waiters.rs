//! Who waits for a record's outcome: its own `send`'s one-shot, or a place
//! in a `send_batch`'s answer, which goes out when its last record is done.

use kafkite::producer::{Delivery, IdWindow, ProduceError};

use crate::oneshot;

pub(crate) type Outcome = Result<Delivery, ProduceError>;
pub(crate) type DeliveryReply = oneshot::Sender<Outcome>;
pub(crate) type BatchReply = oneshot::Sender<Vec<Outcome>>;

/// The waiter of one record.
pub(crate) enum Waiter {
    One(DeliveryReply),
    /// Index `index` of the `send_batch` numbered `batch`.
    InBatch {
        batch: u64,
        index: u32,
    },
}

/// One `send_batch` still collecting its records' outcomes.
struct Pending {
    /// `Closed` until the record's outcome arrives (each arrives once: a
    /// record's waiter is taken when it is answered).
    outcomes: Vec<Outcome>,
    remaining: usize,
    reply: BatchReply,
}

/// The `send_batch` calls of one producer still waiting for outcomes, by
/// number: numbered in call order and mostly finished in that order, which
/// is what an `IdWindow` is quick at.
#[derive(Default)]
pub(crate) struct BatchWaiters {
    pending: IdWindow<Pending>,
    next: u64,
}

impl BatchWaiters {
    /// Registers a batch of `count` records; returns its number.
    pub(crate) fn open(&mut self, count: usize, reply: BatchReply) -> u64 {
        let batch = self.next;
        self.next += 1;
        let pending = Pending {
            outcomes: vec![Err(ProduceError::Closed); count],
            remaining: count,
            reply,
        };
        self.pending.insert(batch, pending);
        batch
    }

    /// Records one outcome; answers the batch when it was the last.
    pub(crate) fn resolve(&mut self, batch: u64, index: u32, outcome: Outcome) {
        let Some(pending) = self.pending.get_mut(batch) else {
            return;
        };
        if let Some(slot) = pending.outcomes.get_mut(index as usize) {
            *slot = outcome;
            pending.remaining = pending.remaining.saturating_sub(1);
        }
        if pending.remaining == 0 {
            self.finish(batch);
        }
    }

    /// Answers a batch whose records all have outcomes (also one of none).
    pub(crate) fn finish_if_done(&mut self, batch: u64) {
        if self
            .pending
            .get_mut(batch)
            .is_some_and(|p| p.remaining == 0)
        {
            self.finish(batch);
        }
    }

    fn finish(&mut self, batch: u64) {
        if let Some(pending) = self.pending.remove(batch) {
            pending.reply.send(pending.outcomes);
        }
    }
}

impl Waiter {
    /// Hands `outcome` to whoever waits for it.
    pub(crate) fn answer(self, outcome: Outcome, batches: &mut BatchWaiters) {
        match self {
            Waiter::One(reply) => reply.send(outcome),
            Waiter::InBatch { batch, index } => batches.resolve(batch, index, outcome),
        }
    }
}
