//! [`Mailbox`]: where a producer handle leaves records for the event loop.
//!
//! Handing each record over as its own command costs a channel message, a
//! wake-up check and a move of the whole command per record, and the event
//! loop takes commands a few dozen per turn. A handle instead appends to
//! this vector under a short lock and sends one `ProducerMail` command only
//! when the vector was empty; the event loop then takes everything waiting
//! in one swap. Order is kept: records are placed in the order they were
//! appended, and flush and close take the mailbox first.

use std::sync::{Arc, Mutex};

use kafkite::producer::{ProduceError, ProducerRecord};

use crate::producer::batch_waiters::DeliveryReply;
use crate::producer::buffer_gauge::BufferGauge;

/// One record handed over by `send`, with its reserved bytes and waiter.
pub(crate) type Queued = (ProducerRecord, usize, DeliveryReply);

pub(crate) struct Mailbox {
    queued: Mutex<Vec<Queued>>,
    /// The producer's buffer gauge, where failed records give their bytes
    /// back.
    gauge: Arc<BufferGauge>,
}

impl Mailbox {
    pub(crate) fn new(gauge: Arc<BufferGauge>) -> Self {
        Mailbox {
            queued: Mutex::new(Vec::new()),
            gauge,
        }
    }

    /// Answers everything waiting with `Closed` and frees its bytes: for
    /// records nobody will place (the producer or the event loop is gone).
    pub(crate) fn fail_all(&self) {
        for (_, size, reply) in self.take() {
            self.gauge.release(size);
            reply.send(Err(ProduceError::Closed));
        }
    }

    /// Appends one record; true when the mailbox was empty, so the caller
    /// must tell the event loop (one `ProducerMail` per fill).
    pub(crate) fn post(&self, queued: Queued) -> bool {
        let mut queue = self.lock();
        queue.push(queued);
        queue.len() == 1
    }

    /// Everything waiting, oldest first, leaving the mailbox empty.
    pub(crate) fn take(&self) -> Vec<Queued> {
        std::mem::take(&mut *self.lock())
    }

    /// Swaps what is waiting into `into` (which must be empty), leaving the
    /// mailbox `into`'s allocation: the two vectors trade places, so
    /// neither grows from nothing again on every fill.
    pub(crate) fn swap_into(&self, into: &mut Vec<Queued>) {
        debug_assert!(into.is_empty());
        std::mem::swap(&mut *self.lock(), into);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Queued>> {
        // A panic while holding the lock cannot leave the vector invalid.
        self.queued
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oneshot;

    #[test]
    fn only_the_first_post_of_a_fill_asks_for_a_wake_up() {
        let gauge = Arc::new(BufferGauge::new(100));
        assert!(gauge.try_reserve(3));
        let mailbox = Mailbox::new(Arc::clone(&gauge));
        let post = |i: i32| {
            let (reply, _delivery) = oneshot::channel();
            mailbox.post((ProducerRecord::new("t").partition(i), 1, reply))
        };
        assert!(post(0));
        assert!(!post(1));
        let taken = mailbox.take();
        let order: Vec<_> = taken.iter().map(|(r, _, _)| r.partition).collect();
        assert_eq!(order, [Some(0), Some(1)]);
        assert!(mailbox.take().is_empty());
        assert!(post(2), "empty again after a take");
        mailbox.fail_all();
        assert!(mailbox.take().is_empty());
        assert_eq!(gauge.used(), 2, "the failed record's byte is given back");
    }
}
