//! The driver's side of each producer running in the engine: the replies
//! its handles wait for, and the bytes they reserved.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use kafkite::engine::{Engine, ProducerHandle};
use kafkite::producer::{
    DeliveryId, IdWindow, ProduceError, ProducerConfig, ProducerEvent, ProducerMachine,
    TransactionError, TransactionProtocol,
};

/// A transactional operation's outcome, and the transaction protocol the
/// producer speaks once it is over (`None` when the producer is gone):
/// `init_transactions` chooses it with the coordinator, so the handle
/// learns it with the answer.
pub(crate) type TransactionAnswer = (Result<(), TransactionError>, Option<TransactionProtocol>);

/// Who waits for a transactional operation.
pub(crate) type TransactionReply = oneshot::Sender<TransactionAnswer>;

use crate::event_loop::command::{BatchRecords, TransactionOp};
use crate::oneshot;
use crate::producer::batch_deliveries::BatchDeliveries;
pub(crate) use crate::producer::batch_waiters::BatchReply;
use crate::producer::batch_waiters::{BatchWaiters, DeliveryReply, Outcome};
use crate::producer::buffer_gauge::BufferGauge;
use crate::producer::idempotence_off::IdempotenceOff;
use crate::producer::mailbox::{Mailbox, Queued};

struct Slot {
    handle: ProducerHandle,
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
    /// Transactional operations under way, by the core's token.
    transactions: HashMap<u64, TransactionReply>,
    /// The flush token of a close in progress, and the close's waiter.
    closing: Option<(u64, Option<oneshot::Sender<()>>)>,
    /// Buffer bytes freed this turn, released together at its end: each
    /// release wakes whoever waits for buffer space.
    freed: usize,
}

#[derive(Default)]
pub(crate) struct ProducerSlots {
    /// By the id the session gave the producer.
    slots: HashMap<u64, Slot>,
    ids: HashMap<ProducerHandle, u64>,
    /// Seeds the producers' jitter and sticky partitioning.
    seed: u64,
}

impl ProducerSlots {
    pub(crate) fn open(
        &mut self,
        engine: &mut Engine,
        id: u64,
        (config, gauge): (ProducerConfig, Arc<BufferGauge>),
        mailbox: Arc<Mailbox>,
        idempotence_off: Arc<IdempotenceOff>,
        now: Instant,
    ) {
        self.seed = self.seed.wrapping_add(wall_clock_nanos() ^ id);
        // Registered before the engine runs it: its first events (the
        // idempotence fallback) come out of the engine only afterwards.
        let handle = engine.add_producer(ProducerMachine::new(config, self.seed, now), now);
        let slot = Slot {
            handle,
            gauge,
            mailbox,
            idempotence_off,
            mail: Vec::new(),
            deliveries: IdWindow::default(),
            batches: BatchWaiters::default(),
            flushes: HashMap::new(),
            transactions: HashMap::new(),
            closing: None,
            freed: 0,
        };
        self.slots.insert(id, slot);
        self.ids.insert(handle, id);
    }

    /// Places every record waiting in the producer's mailbox, in order;
    /// fails them when the producer has closed.
    pub(crate) fn take_mail(
        &mut self,
        engine: &mut Engine,
        id: u64,
        mailbox: &Mailbox,
        now: Instant,
    ) {
        match self.slots.get_mut(&id) {
            Some(slot) => slot.take_mail(engine, now),
            None => mailbox.fail_all(),
        }
    }

    /// Places a `send_batch`'s records in order; the reply goes out when
    /// the last of them is delivered or has failed, and gives back the
    /// `reserved` bytes the handle took for them.
    pub(crate) fn produce_batch(
        &mut self,
        engine: &mut Engine,
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
        engine.producer(slot.handle, now, |producer, client| {
            let placed = |outcome: Result<DeliveryId, ProduceError>| match outcome {
                Ok(delivery) => batch.placed(delivery.0),
                Err(error) => batch.failed(error),
            };
            match records {
                BatchRecords::Records(records) => {
                    producer.send_all(client, records, now, wall_clock, placed)
                }
                BatchRecords::Packed(packed) => {
                    producer.send_packed(client, &packed, now, wall_clock, placed)
                }
            }
        });
        slot.freed += slot.batches.add(batch);
    }

    pub(crate) fn flush(
        &mut self,
        engine: &mut Engine,
        id: u64,
        reply: oneshot::Sender<()>,
        now: Instant,
    ) {
        // An unknown producer has nothing left to flush: `reply` drops, and
        // the handle reads that as closed.
        if let Some(slot) = self.slots.get_mut(&id) {
            // Records posted before the flush but not yet taken go first.
            slot.take_mail(engine, now);
            if let Some(token) = engine.producer(slot.handle, now, |p, c| p.flush(c, now)) {
                slot.flushes.insert(token, reply);
            }
        }
    }

    /// Starts a transactional operation; its reply goes out when the core
    /// reports it finished (`begin` at once: it asks nothing of a broker).
    /// Records posted before it are placed first.
    pub(crate) fn transaction(
        &mut self,
        engine: &mut Engine,
        id: u64,
        operation: TransactionOp,
        reply: TransactionReply,
        now: Instant,
    ) {
        let Some(slot) = self.slots.get_mut(&id) else {
            reply.send((Err(closed()), None));
            return;
        };
        slot.take_mail(engine, now);
        let started = engine.producer(slot.handle, now, |p, c| match operation {
            TransactionOp::Init => Ok(p.init_transactions(c, now)),
            TransactionOp::Begin => Err(p.begin_transaction()),
            TransactionOp::SendOffsets(offsets, group) => {
                Ok(p.send_offsets_to_transaction(c, offsets, group, now))
            }
            TransactionOp::Commit => Ok(p.commit_transaction(c, now)),
            TransactionOp::Abort => Ok(p.abort_transaction(c, now)),
        });
        match started {
            Some(Ok(token)) => {
                slot.transactions.insert(token, reply);
            }
            // `begin` chooses no protocol: the handle keeps the one it knows.
            Some(Err(begun)) => reply.send((begun, None)),
            None => reply.send((Err(closed()), None)),
        }
    }

    pub(crate) fn close(
        &mut self,
        engine: &mut Engine,
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
        slot.take_mail(engine, now);
        slot.gauge.close();
        let Some(token) = engine.producer(slot.handle, now, |p, c| p.flush(c, now)) else {
            return;
        };
        if slot.closing.is_none() {
            slot.closing = Some((token, reply));
        } else if let Some(reply) = reply {
            // A second close: answer when the first one finishes.
            slot.flushes.insert(token, reply);
        }
    }

    /// Hands one of a producer's events to its waiters; a producer whose
    /// close finished leaves the engine.
    pub(crate) fn deliver(
        &mut self,
        engine: &mut Engine,
        handle: ProducerHandle,
        event: ProducerEvent,
        now: Instant,
    ) {
        let Some(id) = self.ids.get(&handle).copied() else {
            return;
        };
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        if let ProducerEvent::Transaction { token, result } = event {
            // Answered with the protocol the operation leaves in force.
            if let Some(reply) = slot.transactions.remove(&token) {
                let protocol = engine
                    .producer_state(handle)
                    .and_then(|p| p.transaction_protocol());
                reply.send((result, protocol));
            }
            return;
        }
        if slot.deliver(event) {
            if let Some(slot) = self.slots.remove(&id) {
                self.ids.remove(&handle);
                engine.remove_producer(handle, now);
                slot.finish_close();
            }
        }
    }

    /// Gives back the buffer bytes freed this turn.
    pub(crate) fn release_freed(&mut self) {
        for slot in self.slots.values_mut() {
            if slot.freed > 0 {
                slot.gauge.release(std::mem::take(&mut slot.freed));
            }
        }
    }
}

impl Slot {
    /// Places the mailbox's records; the send time is read once per take.
    fn take_mail(&mut self, engine: &mut Engine, now: Instant) {
        let mut mail = std::mem::take(&mut self.mail);
        self.mailbox.swap_into(&mut mail);
        if mail.is_empty() {
            self.mail = mail;
            return;
        }
        let wall_clock = wall_clock_ms();
        let (deliveries, gauge) = (&mut self.deliveries, &self.gauge);
        engine.producer(self.handle, now, |producer, client| {
            for (record, size, reply) in mail.drain(..) {
                match producer.send(client, record, now, wall_clock) {
                    Ok(delivery) => deliveries.insert(delivery.0, (size, reply)),
                    Err(error) => {
                        gauge.release(size);
                        reply.send(Err(error));
                    }
                }
            }
        });
        // Left full only if the engine no longer ran the producer.
        for (_, size, reply) in mail.drain(..) {
            self.gauge.release(size);
            reply.send(Err(ProduceError::Closed));
        }
        // Emptied, its allocation kept for the next swap.
        self.mail = mail;
    }

    /// Routes one event to its waiter, adding the bytes it frees to
    /// `freed`; true when it completes a close.
    fn deliver(&mut self, event: ProducerEvent) -> bool {
        match event {
            ProducerEvent::Delivered(batch) => {
                let sends = &mut self.deliveries;
                let mut freed_by_sends = 0;
                self.freed += self
                    .batches
                    .resolve_delivered(batch.iter(), |id, delivery| {
                        freed_by_sends += answer_send(sends, id, Ok(delivery));
                    });
                self.freed += freed_by_sends;
            }
            ProducerEvent::Failed { id, error } => self.freed += self.resolve(id, Err(error)),
            ProducerEvent::Flushed { token } => {
                if let Some(reply) = self.flushes.remove(&token) {
                    reply.send(());
                }
                return matches!(self.closing, Some((closing, _)) if closing == token);
            }
            ProducerEvent::IdempotenceDisabled { reason } => self.idempotence_off.set(reason),
            // Answered by `ProducerSlots::deliver`, which reads the
            // protocol; here only if that did not.
            ProducerEvent::Transaction { token, result } => {
                if let Some(reply) = self.transactions.remove(&token) {
                    reply.send((result, None));
                }
            }
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
        if self.freed > 0 {
            self.gauge.release(self.freed);
        }
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

/// The answer to an operation on a producer that is gone.
fn closed() -> TransactionError {
    TransactionError::WrongState {
        operation: "a transactional operation",
        state: "closed",
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
    use kafkite::client::ClientConfig;
    use kafkite::engine::{EngineEvent, Output};
    use kafkite::producer::{Acks, IdempotenceUnavailable};

    use super::*;

    /// The default's fallback reaches the handles: a producer with acks=1
    /// goes on without idempotence, and `Producer::idempotence_disabled`
    /// reads what the event loop kept.
    #[test]
    fn idempotence_turned_off_by_default_is_kept_for_the_handles() {
        let now = Instant::now();
        let mut engine = Engine::new(ClientConfig::new(["b1:9092"]), now);
        let config = ProducerConfig::default().with_acks(Acks::Leader);
        let gauge = Arc::new(BufferGauge::new(config.buffer_memory));
        let mailbox = Arc::new(Mailbox::new(Arc::clone(&gauge)));
        let off = Arc::new(IdempotenceOff::default());
        let mut slots = ProducerSlots::default();
        slots.open(
            &mut engine,
            1,
            (config, gauge),
            mailbox,
            Arc::clone(&off),
            now,
        );
        assert_eq!(off.reason(), None, "not before the event is handed out");
        loop {
            match engine.poll_output() {
                Output::Event(EngineEvent::Producer(h, event)) => {
                    slots.deliver(&mut engine, h, event, now)
                }
                Output::Timeout(_) => break,
                _ => {}
            }
        }
        assert_eq!(off.reason(), Some(IdempotenceUnavailable::NeedsAcksAll));
    }
}
