//! The driver's side of each fetcher running in the engine: the stream
//! its events go to.
//!
//! Memory stays bounded without a bounded channel: the core fetches a
//! partition again only after the stream releases what it was handed (one
//! fetch ahead), so at most two fetched chunks per partition are queued.

use std::collections::HashMap;
use std::time::Instant;

use kafkite::consumer::RecordChunk;
use kafkite::consumer::{FetchConfig, FetchEvent, FetcherMachine};
use kafkite::engine::{Engine, FetcherHandle};

use crate::event_loop::command::PartitionStart;

#[derive(Default)]
pub(crate) struct FetchSlots {
    /// By the id the session gave the fetcher.
    handles: HashMap<u64, FetcherHandle>,
    streams: HashMap<FetcherHandle, async_channel::Sender<FetchEvent>>,
}

impl FetchSlots {
    pub(crate) fn open(
        &mut self,
        engine: &mut Engine,
        id: u64,
        (config, starts): (FetchConfig, Vec<PartitionStart>),
        events: async_channel::Sender<FetchEvent>,
        now: Instant,
    ) {
        let handle = engine.add_fetcher(FetcherMachine::new(config), now);
        self.handles.insert(id, handle);
        self.streams.insert(handle, events);
        engine.fetcher(handle, now, |fetcher, client| {
            for (topic, partition, offset) in starts {
                fetcher.assign(client, &topic, partition, offset, now);
            }
        });
    }

    pub(crate) fn release(
        &mut self,
        engine: &mut Engine,
        id: u64,
        (topic, partition): (&str, i32),
        records: RecordChunk,
        now: Instant,
    ) {
        if let Some(&handle) = self.handles.get(&id) {
            engine.fetcher(handle, now, |fetcher, client| {
                fetcher.recycle(records);
                fetcher.release(client, topic, partition, now);
            });
        }
    }

    /// Stops a fetcher and abandons its requests in flight: their answers
    /// are dropped unread, and a session close does not wait for them.
    pub(crate) fn close(&mut self, engine: &mut Engine, id: u64, now: Instant) {
        if let Some(handle) = self.handles.remove(&id) {
            self.streams.remove(&handle);
            engine.remove_fetcher(handle, now);
        }
    }

    /// Hands an event to the fetcher's stream; a fetcher whose stream is
    /// gone is closed.
    pub(crate) fn deliver(
        &mut self,
        engine: &mut Engine,
        handle: FetcherHandle,
        event: FetchEvent,
        now: Instant,
    ) {
        let Some(stream) = self.streams.get(&handle) else {
            return;
        };
        if stream.try_send(event).is_err() {
            self.streams.remove(&handle);
            self.handles.retain(|_, h| *h != handle);
            engine.remove_fetcher(handle, now);
        }
    }
}
