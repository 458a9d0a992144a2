//! The fetchers living in the event loop: each a core
//! [`kafkite::consumer::Fetcher`] whose events go to the stream that
//! opened it.
//!
//! Memory stays bounded without a bounded channel: the core fetches a
//! partition again only after the stream releases what it was handed (one
//! fetch ahead), so at most two fetched chunks per partition are queued.

use std::collections::HashMap;
use std::time::Instant;

use kafkite::client::{Client, Event};
use kafkite::consumer::RecordChunk;
use kafkite::consumer::{FetchConfig, FetchEvent, Fetcher};

use crate::wake_guard;

/// Where a partition starts: an offset, or `None` for the reset policy.
pub(crate) type FetchStart = (String, i32, Option<i64>);

struct Slot {
    machine: Fetcher,
    events: async_channel::Sender<FetchEvent>,
    last_timeout: Option<Instant>,
}

#[derive(Default)]
pub(crate) struct FetchSlots {
    slots: HashMap<u64, Slot>,
}

impl FetchSlots {
    pub(crate) fn open(
        &mut self,
        client: &mut Client,
        id: u64,
        config: FetchConfig,
        starts: Vec<FetchStart>,
        events: async_channel::Sender<FetchEvent>,
        now: Instant,
    ) {
        let mut machine = Fetcher::new(config);
        for (topic, partition, offset) in starts {
            machine.assign(client, &topic, partition, offset, now);
        }
        let slot = Slot {
            machine,
            events,
            last_timeout: None,
        };
        self.slots.insert(id, slot);
    }

    pub(crate) fn release(
        &mut self,
        client: &mut Client,
        id: u64,
        topic: &str,
        partition: i32,
        records: RecordChunk,
        now: Instant,
    ) {
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.machine.recycle(records);
            slot.machine.release(client, topic, partition, now);
        }
    }

    /// Stops a fetcher and abandons its requests in flight: their answers
    /// are dropped unread, and a session close does not wait for them.
    pub(crate) fn close(&mut self, client: &mut Client, id: u64, now: Instant) {
        if let Some(mut slot) = self.slots.remove(&id) {
            slot.machine.abandon_requests(client, now);
        }
    }

    /// Offers a client event to each fetcher; true when one claimed it.
    pub(crate) fn offer(&mut self, client: &mut Client, event: &Event, now: Instant) -> bool {
        let mut claimed = false;
        for slot in self.slots.values_mut() {
            // Every fetcher sees every event until one claims it: an event
            // that is not an answer (a metadata update) lets each one move.
            if !claimed {
                claimed = slot.machine.handle_client_event(client, event, now);
            }
        }
        claimed
    }

    /// Hands the fetchers' events to their streams; a fetcher whose stream
    /// is gone is closed. True when anything was handed over.
    pub(crate) fn drain_events(&mut self) -> bool {
        let mut progressed = false;
        self.slots.retain(|_, slot| {
            while let Some(event) = slot.machine.poll_event() {
                progressed = true;
                if slot.events.try_send(event).is_err() {
                    return false;
                }
            }
            true
        });
        progressed
    }

    pub(crate) fn next_wake(&self) -> Option<Instant> {
        self.slots
            .values()
            .filter_map(|slot| {
                wake_guard::next_wake(slot.machine.poll_timeout(), slot.last_timeout)
            })
            .min()
    }

    pub(crate) fn on_time(&mut self, client: &mut Client, now: Instant) {
        for slot in self.slots.values_mut() {
            if slot.machine.poll_timeout().is_some_and(|at| at <= now) {
                slot.machine.handle_timeout(client, now);
                slot.last_timeout = Some(now);
            }
        }
    }
}
