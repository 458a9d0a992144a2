//! The producers living in the event loop: each a core
//! [`kafkite::producer::Producer`] with the replies its handles wait for.
//!
//! The event loop offers every client event here first, so that a Produce
//! or InitProducerId answer reaches the producer that asked for it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use kafkite::client::{Client, Event};
use kafkite::producer::{
    DeliveryId, IdWindow, ProduceError, Producer, ProducerConfig, ProducerEvent,
};

use crate::batch_deliveries::BatchDeliveries;
pub(crate) use crate::batch_waiters::BatchReply;
use crate::batch_waiters::{BatchWaiters, DeliveryReply, Outcome};
use crate::buffer_gauge::BufferGauge;
use crate::idempotence_off::IdempotenceOff;
use crate::oneshot;
use crate::producer::BatchRecords;
use crate::producer_mailbox::{Mailbox, Queued};
use crate::wake_guard;

struct Slot {
    machine: Producer,
    gauge: Arc<BufferGauge>,
    mailbox: Arc<Mailbox>,
    /// Set when the producer goes on without idempotence.
    idempotence_off: Arc<IdempotenceOff>,
    /// The vector the mailbox's records are swapped into, kept (empty)
    /// between takes.
    mail: Vec<Queued>,
    /// Per record of a `send`: its reserved bytes and who awaits it.
    deliveries: IdWindow<(usize, DeliveryReply)>,
    /// The records of `send_batch`es, by batch.
    batches: BatchWaiters,
    flushes: HashMap<u64, oneshot::Sender<()>>,
    /// The flush token of a close in progress, and the close's waiter.
    closing: Option<(u64, Option<oneshot::Sender<()>>)>,
    last_timeout: Option<Instant>,
}

#[derive(Default)]
pub(crate) struct ProducerSlots {
    slots: HashMap<u64, Slot>,
    /// Seeds the producers' jitter and sticky partitioning.
    seed: u64,
}

impl ProducerSlots {
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub(crate) fn open(
        &mut self,
        id: u64,
        config: ProducerConfig,
        gauge: Arc<BufferGauge>,
        mailbox: Arc<Mailbox>,
        idempotence_off: Arc<IdempotenceOff>,
        now: Instant,
    ) {
        self.seed = self.seed.wrapping_add(wall_clock_nanos() ^ id);
        let slot = Slot {
            machine: Producer::new(config, self.seed, now),
            gauge,
            mailbox,
            idempotence_off,
            mail: Vec::new(),
            deliveries: IdWindow::default(),
            batches: BatchWaiters::default(),
            flushes: HashMap::new(),
            closing: None,
            last_timeout: None,
        };
        self.slots.insert(id, slot);
    }

    /// Places every record waiting in the producer's mailbox, in order;
    /// fails them when the producer has closed.
    pub(crate) fn take_mail(
        &mut self,
        client: &mut Client,
        id: u64,
        mailbox: &Mailbox,
        now: Instant,
    ) {
        match self.slots.get_mut(&id) {
            Some(slot) => slot.take_mail(client, now),
            None => mailbox.fail_all(),
        }
    }

    /// Places a `send_batch`'s records in order; the reply goes out when
    /// the last of them is delivered or has failed, and gives back the
    /// `reserved` bytes the handle took for them.
    pub(crate) fn produce_batch(
        &mut self,
        client: &mut Client,
        id: u64,
        (records, reserved): (BatchRecords, usize),
        reply: BatchReply,
        now: Instant,
    ) {
        let Some(slot) = self.slots.get_mut(&id) else {
            reply.send(BatchDeliveries::all_failed(
                records.len(),
                ProduceError::Closed,
            ));
            return;
        };
        let mut batch = BatchWaiters::open(records.len(), reserved, reply);
        let wall_clock = wall_clock_ms();
        let placed = |outcome: Result<DeliveryId, ProduceError>| match outcome {
            Ok(delivery) => batch.placed(delivery.0),
            Err(error) => batch.failed(error),
        };
        match records {
            BatchRecords::Records(records) => {
                slot.machine
                    .send_all(client, records, now, wall_clock, placed);
            }
            BatchRecords::Packed(packed) => {
                slot.machine
                    .send_packed(client, &packed, now, wall_clock, placed);
            }
        }
        let freed = slot.batches.add(batch);
        if freed > 0 {
            slot.gauge.release(freed);
        }
    }

    pub(crate) fn flush(
        &mut self,
        client: &mut Client,
        id: u64,
        reply: oneshot::Sender<()>,
        now: Instant,
    ) {
        // An unknown producer has nothing left to flush: `reply` drops, and
        // the handle reads that as closed.
        if let Some(slot) = self.slots.get_mut(&id) {
            // Records posted before the flush but not yet taken go first.
            slot.take_mail(client, now);
            let token = slot.machine.flush(client, now);
            slot.flushes.insert(token, reply);
        }
    }

    pub(crate) fn close(
        &mut self,
        client: &mut Client,
        id: u64,
        reply: Option<oneshot::Sender<()>>,
        now: Instant,
    ) {
        let Some(slot) = self.slots.get_mut(&id) else {
            if let Some(reply) = reply {
                reply.send(());
            }
            return;
        };
        slot.take_mail(client, now);
        slot.gauge.close();
        if slot.closing.is_none() {
            let token = slot.machine.flush(client, now);
            slot.closing = Some((token, reply));
        } else if let Some(reply) = reply {
            // A second close: answer when the first one finishes.
            let token = slot.machine.flush(client, now);
            slot.flushes.insert(token, reply);
        }
    }

    /// Offers a client event to every producer; true when one claimed it.
    pub(crate) fn offer(&mut self, client: &mut Client, event: &Event, now: Instant) -> bool {
        let mut claimed = false;
        for slot in self.slots.values_mut() {
            if slot.machine.handle_client_event(client, event, now) {
                claimed = true;
            }
        }
        claimed
    }

    /// Hands out what the producers report; returns whether there was any.
    pub(crate) fn drain_events(&mut self) -> bool {
        let mut any = false;
        let mut closed = Vec::new();
        for (&id, slot) in self.slots.iter_mut() {
            // Released once per drain rather than per record: each release
            // wakes whoever waits for buffer space.
            let mut freed = 0;
            while let Some(event) = slot.machine.poll_event() {
                any = true;
                if slot.deliver(event, &mut freed) {
                    closed.push(id);
                }
            }
            if freed > 0 {
                slot.gauge.release(freed);
            }
        }
        for id in closed {
            if let Some(slot) = self.slots.remove(&id) {
                slot.finish_close();
            }
        }
        any
    }

    /// The earliest moment a producer needs `handle_timeout`.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        self.slots.values().filter_map(Slot::wake).min()
    }

    pub(crate) fn on_time(&mut self, client: &mut Client, now: Instant) {
        for slot in self.slots.values_mut() {
            if slot.wake().is_some_and(|at| at <= now) {
                slot.machine.handle_timeout(client, now);
                slot.last_timeout = Some(now);
            }
        }
    }
}

impl Slot {
    /// Places the mailbox's records; the send time is read once per take.
    fn take_mail(&mut self, client: &mut Client, now: Instant) {
        let mut mail = std::mem::take(&mut self.mail);
        self.mailbox.swap_into(&mut mail);
        if mail.is_empty() {
            self.mail = mail;
            return;
        }
        let wall_clock = wall_clock_ms();
        for (record, size, reply) in mail.drain(..) {
            match self.machine.send(client, record, now, wall_clock) {
                Ok(delivery) => self.deliveries.insert(delivery.0, (size, reply)),
                Err(error) => {
                    self.gauge.release(size);
                    reply.send(Err(error));
                }
            }
        }
        // Emptied, its allocation kept for the next swap.
        self.mail = mail;
    }

    fn wake(&self) -> Option<Instant> {
        wake_guard::next_wake(self.machine.poll_timeout(), self.last_timeout)
    }

    /// Routes one event to its waiter, adding the bytes it frees to
    /// `freed`; true when it completes a close.
    fn deliver(&mut self, event: ProducerEvent, freed: &mut usize) -> bool {
        match event {
            ProducerEvent::Delivered(batch) => {
                let sends = &mut self.deliveries;
                let mut freed_by_sends = 0;
                *freed += self
                    .batches
                    .resolve_delivered(batch.iter(), |id, delivery| {
                        freed_by_sends += answer_send(sends, id, Ok(delivery));
                    });
                *freed += freed_by_sends;
            }
            ProducerEvent::Failed { id, error } => *freed += self.resolve(id, Err(error)),
            ProducerEvent::Flushed { token } => {
                if let Some(reply) = self.flushes.remove(&token) {
                    reply.send(());
                }
                return matches!(self.closing, Some((closing, _)) if closing == token);
            }
            ProducerEvent::IdempotenceDisabled { reason } => self.idempotence_off.set(reason),
        }
        false
    }

    /// Answers the record's waiter; returns the bytes that frees.
    fn resolve(&mut self, id: DeliveryId, outcome: Outcome) -> usize {
        let outcome = match self.batches.resolve(id.0, outcome) {
            Ok(freed) => return freed,
            Err(outcome) => outcome,
        };
        answer_send(&mut self.deliveries, id, outcome)
    }

    fn finish_close(self) {
        // Posted after the close began: the producer is gone.
        self.mailbox.fail_all();
        if let Some((_, Some(reply))) = self.closing {
            reply.send(());
        }
        // Whatever else waits (flushes after the close) sees the producer
        // closed as its senders drop here.
    }
}

/// Answers a `send`'s own record; returns the bytes it had reserved.
fn answer_send(
    sends: &mut IdWindow<(usize, DeliveryReply)>,
    id: DeliveryId,
    outcome: Outcome,
) -> usize {
    match sends.remove(id.0) {
        Some((size, reply)) => {
            reply.send(outcome);
            size
        }
        None => 0,
    }
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn wall_clock_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use kafkite::producer::{Acks, IdempotenceUnavailable};

    use super::*;

    /// The default's fallback reaches the handles: a producer with acks=1
    /// goes on without idempotence, and `Producer::idempotence_disabled`
    /// reads what the event loop kept.
    #[test]
    fn idempotence_turned_off_by_default_is_kept_for_the_handles() {
        let config = ProducerConfig::default().with_acks(Acks::Leader);
        let gauge = Arc::new(BufferGauge::new(config.buffer_memory));
        let mailbox = Arc::new(Mailbox::new(Arc::clone(&gauge)));
        let off = Arc::new(IdempotenceOff::default());
        let mut slots = ProducerSlots::default();
        slots.open(1, config, gauge, mailbox, Arc::clone(&off), Instant::now());
        assert_eq!(off.reason(), None, "not before the event is handed out");
        assert!(slots.drain_events());
        assert_eq!(off.reason(), Some(IdempotenceUnavailable::NeedsAcksAll));
    }
}
