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
    Delivery, DeliveryId, IdWindow, ProduceError, Producer, ProducerConfig, ProducerEvent,
    ProducerRecord,
};

use crate::buffer_gauge::BufferGauge;
use crate::oneshot;
use crate::wake_guard;

pub(crate) type DeliveryReply = oneshot::Sender<Result<Delivery, ProduceError>>;

struct Slot {
    machine: Producer,
    gauge: Arc<BufferGauge>,
    /// Per record: its reserved bytes and who awaits it.
    deliveries: IdWindow<(usize, DeliveryReply)>,
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
        now: Instant,
    ) {
        self.seed = self.seed.wrapping_add(wall_clock_nanos() ^ id);
        let slot = Slot {
            machine: Producer::new(config, self.seed, now),
            gauge,
            deliveries: IdWindow::default(),
            flushes: HashMap::new(),
            closing: None,
            last_timeout: None,
        };
        self.slots.insert(id, slot);
    }

    pub(crate) fn produce(
        &mut self,
        client: &mut Client,
        id: u64,
        record: ProducerRecord,
        size: usize,
        reply: DeliveryReply,
        now: Instant,
    ) {
        let Some(slot) = self.slots.get_mut(&id) else {
            reply.send(Err(ProduceError::Closed));
            return;
        };
        match slot.machine.send(client, record, now, wall_clock_ms()) {
            Ok(delivery) => {
                slot.deliveries.insert(delivery.0, (size, reply));
            }
            Err(error) => {
                slot.gauge.release(size);
                reply.send(Err(error));
            }
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
            while let Some(event) = slot.machine.poll_event() {
                any = true;
                if slot.deliver(event) {
                    closed.push(id);
                }
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
    fn wake(&self) -> Option<Instant> {
        wake_guard::next_wake(self.machine.poll_timeout(), self.last_timeout)
    }

    /// Routes one event to its waiter; true when it completes a close.
    fn deliver(&mut self, event: ProducerEvent) -> bool {
        match event {
            ProducerEvent::Delivered { id, delivery } => self.resolve(id, Ok(delivery)),
            ProducerEvent::Failed { id, error } => self.resolve(id, Err(error)),
            ProducerEvent::Flushed { token } => {
                if let Some(reply) = self.flushes.remove(&token) {
                    reply.send(());
                }
                return matches!(self.closing, Some((closing, _)) if closing == token);
            }
        }
        false
    }

    fn resolve(&mut self, id: DeliveryId, outcome: Result<Delivery, ProduceError>) {
        if let Some((size, reply)) = self.deliveries.remove(id.0) {
            self.gauge.release(size);
            reply.send(outcome);
        }
    }

    fn finish_close(self) {
        if let Some((_, Some(reply))) = self.closing {
            reply.send(());
        }
        // Whatever else waits (flushes after the close) sees the producer
        // closed as its senders drop here.
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
