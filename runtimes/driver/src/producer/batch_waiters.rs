//! Who waits for a record's outcome: its own `send`'s one-shot, or the
//! `send_batch` it came in, which answers when its last record is done.
//!
//! A `send_batch`'s records get consecutive delivery ids from the core
//! (they are placed one after another, with nothing in between), so a
//! batch is registered once, as a range of ids, rather than with a waiter
//! per record; an outcome finds its batch by id.

use std::collections::VecDeque;

use kafkite::producer::{Delivery, DeliveryId, ProduceError};

use crate::oneshot;
use crate::producer::batch_deliveries::{BatchDeliveries, NOT_DELIVERED};

pub(crate) type Outcome = Result<Delivery, ProduceError>;
pub(crate) type DeliveryReply = oneshot::Sender<Outcome>;
pub(crate) type BatchReply = oneshot::Sender<BatchDeliveries>;

/// One `send_batch` still collecting its records' outcomes.
struct Pending {
    /// Where its ids run: (first id, the index of that id's record). A new
    /// run starts after a record that failed before it was given an id.
    runs: Vec<(u64, usize)>,
    /// One past the last id; `runs[0].0..end` are the batch's ids.
    end: u64,
    deliveries: Vec<Delivery>,
    failures: Vec<(usize, ProduceError)>,
    remaining: usize,
    /// Buffer bytes the handle reserved for the batch, given back when the
    /// batch is answered.
    reserved: usize,
    /// `None` once answered.
    reply: Option<BatchReply>,
}

impl Pending {
    /// The index of the record that `id` names, if it is one of the batch's.
    fn index_of(&self, id: u64) -> Option<usize> {
        // Answered: it no longer waits for anything.
        self.reply.as_ref()?;
        let first = self.runs.first()?.0;
        if id < first || id >= self.end {
            return None;
        }
        let run = match self.runs.len() {
            1 => self.runs[0],
            _ => self.runs[self.runs.partition_point(|(from, _)| *from <= id) - 1],
        };
        Some(run.1 + (id - run.0) as usize)
    }

    /// One past the last id of the run that holds `id`: up to there, the
    /// ids after `id` name the records after its record.
    fn run_end(&self, id: u64) -> u64 {
        let next = self.runs.partition_point(|(from, _)| *from <= id);
        self.runs.get(next).map_or(self.end, |(from, _)| *from)
    }

    /// Records the outcome of its record at `index`; returns the bytes to
    /// give back when that completed the batch (see `answer_if_done`).
    #[inline]
    fn record(&mut self, index: usize, outcome: Outcome) -> usize {
        match outcome {
            Ok(delivery) => self.deliveries[index] = delivery,
            Err(error) => self.failures.push((index, error)),
        }
        self.remaining = self.remaining.saturating_sub(1);
        self.answer_if_done()
    }

    /// Answers the batch once every record has its outcome; returns the
    /// bytes to give back then.
    #[inline]
    fn answer_if_done(&mut self) -> usize {
        if self.remaining > 0 {
            return 0;
        }
        let Some(reply) = self.reply.take() else {
            return 0;
        };
        let deliveries = std::mem::take(&mut self.deliveries);
        let failures = std::mem::take(&mut self.failures);
        reply.send(BatchDeliveries::new(deliveries, failures));
        std::mem::take(&mut self.reserved)
    }
}

/// The `send_batch` calls of one producer still waiting for outcomes, in
/// call order (so in id order). Mostly finished in that order, too.
#[derive(Default)]
pub(crate) struct BatchWaiters {
    pending: VecDeque<Pending>,
    /// Where the last outcome found its batch: the next one is most often
    /// for the same batch.
    last_found: usize,
}

/// A `send_batch` being placed (see [`BatchWaiters::open`]).
pub(crate) struct OpenBatch {
    pending: Pending,
    next_index: usize,
}

impl OpenBatch {
    /// The next record was placed under delivery id `id`.
    pub(crate) fn placed(&mut self, id: u64) {
        let index = self.next_index;
        self.next_index += 1;
        let continues = self.pending.runs.last().is_some_and(|&(from, at)| {
            id == self.pending.end && at + (id - from) as usize == index
        });
        if !continues {
            self.pending.runs.push((id, index));
        }
        self.pending.end = id + 1;
    }

    /// The next record failed at once, without an id.
    pub(crate) fn failed(&mut self, error: ProduceError) {
        let index = self.next_index;
        self.next_index += 1;
        self.pending.failures.push((index, error));
        self.pending.remaining = self.pending.remaining.saturating_sub(1);
    }
}

impl BatchWaiters {
    /// Starts a batch of `count` records, for which the handle reserved
    /// `reserved` bytes; each record is then [`OpenBatch::placed`] or
    /// [`OpenBatch::failed`], in order, and the batch [`BatchWaiters::add`]ed.
    pub(crate) fn open(count: usize, reserved: usize, reply: BatchReply) -> OpenBatch {
        OpenBatch {
            pending: Pending {
                runs: Vec::with_capacity(1),
                end: 0,
                deliveries: vec![NOT_DELIVERED; count],
                failures: Vec::new(),
                remaining: count,
                reserved,
                reply: Some(reply),
            },
            next_index: 0,
        }
    }

    /// Waits for the outcomes of a batch's placed records; returns the bytes
    /// to give back when it is already done (none of it was placed).
    pub(crate) fn add(&mut self, open: OpenBatch) -> usize {
        let mut pending = open.pending;
        let freed = pending.answer_if_done();
        if pending.reply.is_some() {
            self.pending.push_back(pending);
        }
        freed
    }

    /// Records the outcome of delivery `id` if a batch waits for it:
    /// `Err` with the outcome when none does (a `send`'s own record), else
    /// the bytes to give back (when it completed its batch).
    pub(crate) fn resolve(&mut self, id: u64, outcome: Outcome) -> Result<usize, Outcome> {
        let Some((at, index)) = self.find(id) else {
            return Err(outcome);
        };
        let pending = &mut self.pending[at];
        let freed = pending.record(index, outcome);
        if pending.reply.is_none() {
            self.drop_answered();
        }
        Ok(freed)
    }

    /// Records the deliveries of an acknowledged batch's records (see
    /// `DeliveredBatch::iter`) for the batches waiting for them, and hands the others (`send`s' own) to
    /// `not_ours`; returns the bytes to give back. Answered batches are
    /// forgotten once, at the end.
    pub(crate) fn resolve_delivered(
        &mut self,
        delivered: impl IntoIterator<Item = (DeliveryId, Delivery)>,
        mut not_ours: impl FnMut(DeliveryId, Delivery),
    ) -> usize {
        let mut freed = 0;
        let mut answered = false;
        // Where the last record went: (batch position, id, index, end of its
        // run). A batch's records mostly arrive as one run of consecutive
        // ids, each the record after the last, found without a search.
        let mut last: Option<(usize, u64, usize, u64)> = None;
        for (id, delivery) in delivered {
            let found = match last {
                Some((at, last_id, index, run_end)) if id.0 == last_id + 1 && id.0 < run_end => {
                    Some((at, index + 1, run_end))
                }
                _ => self
                    .find(id.0)
                    .map(|(at, index)| (at, index, self.pending[at].run_end(id.0))),
            };
            let Some((at, index, run_end)) = found else {
                last = None;
                not_ours(id, delivery);
                continue;
            };
            let pending = &mut self.pending[at];
            freed += pending.record(index, Ok(delivery));
            if pending.reply.is_none() {
                answered = true;
                last = None;
            } else {
                last = Some((at, id.0, index, run_end));
            }
        }
        if answered {
            self.drop_answered();
        }
        freed
    }

    /// The position of the batch holding `id`, if any, and the index of
    /// its record there; remembered for the next search.
    fn find(&mut self, id: u64) -> Option<(usize, usize)> {
        if let Some(index) = self
            .pending
            .get(self.last_found)
            .and_then(|p| p.index_of(id))
        {
            return Some((self.last_found, index));
        }
        let after = self
            .pending
            .partition_point(|p| p.runs.first().is_some_and(|(first, _)| *first <= id));
        let at = after.checked_sub(1)?;
        let index = self.pending[at].index_of(id)?;
        self.last_found = at;
        Some((at, index))
    }

    /// Forgets answered batches at the front (answered ones behind an
    /// unanswered one stay until it is, keeping the queue in id order).
    fn drop_answered(&mut self) {
        while self.pending.front().is_some_and(|p| p.reply.is_none()) {
            self.pending.pop_front();
            self.last_found = self.last_found.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(offset: i64) -> Outcome {
        Ok(Delivery {
            partition: 0,
            offset,
            timestamp: 0,
        })
    }

    #[test]
    fn a_batch_answers_once_its_last_record_is_done_whatever_the_order() {
        let mut waiters = BatchWaiters::default();
        let (reply, mut answer) = oneshot::channel();
        let mut open = BatchWaiters::open(4, 400, reply);
        open.placed(10);
        open.failed(ProduceError::Closed);
        open.placed(11);
        open.placed(12);
        assert_eq!(waiters.add(open), 0);
        // A `send`'s own id, before, between and after: not the batch's.
        assert!(waiters.resolve(9, delivery(0)).is_err());
        assert!(waiters.resolve(13, delivery(0)).is_err());
        assert_eq!(waiters.resolve(12, delivery(52)), Ok(0));
        assert_eq!(waiters.resolve(10, delivery(50)), Ok(0));
        assert!(answer.try_take().is_none());
        assert_eq!(waiters.resolve(11, Err(ProduceError::Closed)), Ok(400));
        let batch = answer.try_take().expect("answered");
        let outcomes: Vec<_> = batch.iter().map(|o| o.map(|d| d.offset)).collect();
        assert_eq!(
            outcomes,
            [
                Ok(50),
                Err(&ProduceError::Closed),
                Err(&ProduceError::Closed),
                Ok(52)
            ]
        );
        // Answered and forgotten: the ids are nobody's now.
        assert!(waiters.resolve(10, delivery(0)).is_err());
    }

    #[test]
    fn outcomes_find_their_batch_among_many() {
        let mut waiters = BatchWaiters::default();
        let mut answers = Vec::new();
        // Five batches of 3 records, ids 100.., a `send`'s id after each
        // (103, 107, ...).
        for b in 0..5u64 {
            let (reply, answer) = oneshot::channel();
            let mut open = BatchWaiters::open(3, 3, reply);
            for r in 0..3 {
                open.placed(100 + b * 4 + r);
            }
            waiters.add(open);
            answers.push(answer);
        }
        // Batch 2 first: answered while batches before it still wait.
        for id in 108..111 {
            assert!(waiters.resolve(id, delivery(id as i64)).is_ok(), "{id}");
        }
        assert!(answers[2].try_take().is_some());
        // Then every id from the last back: batch 2's ids are nobody's
        // now, nor are the sends' own.
        for id in (100..120).rev() {
            let waited_for = id % 4 != 3 && !(108..111).contains(&id);
            let found = waiters.resolve(id, delivery(id as i64)).is_ok();
            assert_eq!(found, waited_for, "{id}");
        }
        for (b, answer) in answers.iter_mut().enumerate() {
            if b == 2 {
                continue;
            }
            let batch = answer.try_take().expect("answered");
            let offsets: Vec<_> = batch.iter().map(|o| o.map(|d| d.offset)).collect();
            let first = 100 + b as i64 * 4;
            assert_eq!(
                offsets,
                [Ok(first), Ok(first + 1), Ok(first + 2)],
                "batch {b}"
            );
        }
        assert!(waiters.pending.is_empty());
    }

    #[test]
    fn a_delivered_batch_fills_its_waiting_batches_and_passes_on_the_rest() {
        let mut waiters = BatchWaiters::default();
        let mut answers = Vec::new();
        // Two batches: ids 10..13 and 14..16; 13 and 16.. are `send`s'.
        for ids in [10..13u64, 14..16] {
            let (reply, answer) = oneshot::channel();
            let mut open = BatchWaiters::open(ids.clone().count(), 100, reply);
            ids.for_each(|id| open.placed(id));
            waiters.add(open);
            answers.push(answer);
        }
        let at = |offset: i64| Delivery {
            partition: 2,
            offset,
            timestamp: 7,
        };
        let mut others = Vec::new();
        let first: Vec<_> = (11..15).map(|id| (DeliveryId(id), at(id as i64))).collect();
        let freed = waiters.resolve_delivered(first, |id, d| others.push((id.0, d.offset)));
        assert_eq!((freed, others.clone()), (0, vec![(13, 13)]));
        let rest: Vec<_> = [10, 15, 16]
            .map(|id| (DeliveryId(id), at(id as i64)))
            .into();
        let freed = waiters.resolve_delivered(rest, |id, d| others.push((id.0, d.offset)));
        assert_eq!((freed, others), (200, vec![(13, 13), (16, 16)]));
        let offsets: Vec<Vec<i64>> = answers
            .iter_mut()
            .map(|a| {
                let batch = a.try_take().expect("answered");
                assert!(batch.is_all_delivered());
                batch
                    .iter()
                    .filter_map(|o| o.ok())
                    .map(|d| d.offset)
                    .collect()
            })
            .collect();
        assert_eq!(offsets, [vec![10, 11, 12], vec![14, 15]]);
        assert!(waiters.pending.is_empty());
    }

    #[test]
    fn a_delivered_run_skips_the_records_that_failed_unplaced() {
        let mut waiters = BatchWaiters::default();
        let (reply, mut answer) = oneshot::channel();
        // Records 0, 2, 3 and 5 got ids 20..24; 1 and 4 failed at once.
        let mut open = BatchWaiters::open(6, 60, reply);
        open.placed(20);
        open.failed(ProduceError::Closed);
        open.placed(21);
        open.placed(22);
        open.failed(ProduceError::Closed);
        open.placed(23);
        waiters.add(open);
        let delivered: Vec<_> = (19..25)
            .map(|id| {
                let d = Delivery {
                    partition: 0,
                    offset: id as i64 * 10,
                    timestamp: 0,
                };
                (DeliveryId(id), d)
            })
            .collect();
        let mut others = Vec::new();
        let freed = waiters.resolve_delivered(delivered, |id, _| others.push(id.0));
        assert_eq!((freed, others), (60, vec![19, 24]));
        let batch = answer.try_take().expect("answered");
        let offsets: Vec<_> = batch.iter().map(|o| o.ok().map(|d| d.offset)).collect();
        assert_eq!(
            offsets,
            [Some(200), None, Some(210), Some(220), None, Some(230)]
        );
    }

    #[test]
    fn a_batch_placed_not_at_all_answers_at_once() {
        let mut waiters = BatchWaiters::default();
        let (reply, mut answer) = oneshot::channel();
        let mut open = BatchWaiters::open(2, 20, reply);
        open.failed(ProduceError::Closed);
        open.failed(ProduceError::Closed);
        assert_eq!(waiters.add(open), 20);
        assert_eq!(answer.try_take().map(|b| b.failures().len()), Some(2));
        let (reply, mut answer) = oneshot::channel();
        assert_eq!(waiters.add(BatchWaiters::open(0, 0, reply)), 0);
        assert_eq!(answer.try_take().map(|b| b.len()), Some(0));
        assert!(waiters.pending.is_empty());
    }
}
