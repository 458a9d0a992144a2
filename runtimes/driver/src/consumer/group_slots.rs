//! The driver's side of each group consumer running in the engine: the
//! handle its records and rebalance events go to, and the commits and
//! closes waiting for answers.
//!
//! The handle writes the positions the application has processed into a
//! shared map; the loop hands them to the core before every input, so an
//! auto-commit or a revocation commits what was processed up to then.

use std::collections::HashMap;
use std::time::Instant;

use kafkite::consumer::group::CommitId;
use kafkite::consumer::{ConsumerEvent, GroupConsumerConfig, GroupConsumerMachine};
use kafkite::engine::{ConsumerHandle, Engine};

use crate::error::Error;
use crate::event_loop::command::{CommitReply, GroupRequest, Positions};
use crate::oneshot;

struct Slot {
    handle: ConsumerHandle,
    events: async_channel::Sender<ConsumerEvent>,
    positions: Positions,
    commits: HashMap<CommitId, CommitReply>,
    close_waiters: Vec<oneshot::Sender<()>>,
}

#[derive(Default)]
pub(crate) struct GroupSlots {
    /// By the id the session gave the consumer.
    slots: HashMap<u64, Slot>,
    ids: HashMap<ConsumerHandle, u64>,
}

impl GroupSlots {
    pub(crate) fn open(
        &mut self,
        engine: &mut Engine,
        id: u64,
        config: GroupConsumerConfig,
        (events, positions): (async_channel::Sender<ConsumerEvent>, Positions),
        now: Instant,
    ) {
        let handle = engine.add_consumer(GroupConsumerMachine::new(config), now);
        let slot = Slot {
            handle,
            events,
            positions,
            commits: HashMap::new(),
            close_waiters: Vec::new(),
        };
        self.slots.insert(id, slot);
        self.ids.insert(handle, id);
    }

    /// Hands every consumer the positions processed since the last input.
    pub(crate) fn sync_positions(&mut self, engine: &mut Engine, now: Instant) {
        for slot in self.slots.values() {
            let positions =
                std::mem::take(&mut *slot.positions.lock().unwrap_or_else(|p| p.into_inner()));
            if positions.is_empty() {
                continue;
            }
            engine.consumer(slot.handle, now, |consumer, _| {
                for ((topic, partition), offset) in positions {
                    consumer.consumed(&topic, partition, offset);
                }
            });
        }
    }

    pub(crate) fn request(
        &mut self,
        engine: &mut Engine,
        id: u64,
        request: GroupRequest,
        now: Instant,
    ) {
        let Some(slot) = self.slots.get_mut(&id) else {
            match request {
                GroupRequest::Commit(_, reply) => reply.send(Err(Error::Closed)),
                GroupRequest::Close(reply) => reply.send(()),
                _ => {}
            }
            return;
        };
        let (commits, close_waiters) = (&mut slot.commits, &mut slot.close_waiters);
        engine.consumer(slot.handle, now, |consumer, client| match request {
            GroupRequest::Subscribe(topics) => consumer.subscribe(client, topics, now),
            GroupRequest::Release((topic, partition)) => {
                consumer.release(client, &topic, partition, now)
            }
            GroupRequest::Commit(offsets, reply) => {
                let commit = match offsets {
                    Some(offsets) => consumer.commit(client, offsets, now),
                    None => consumer.commit_consumed(client, now),
                };
                commits.insert(commit, reply);
            }
            GroupRequest::RevocationDone => consumer.revocation_done(client, now),
            GroupRequest::Seek((topic, partition), offset) => {
                consumer.seek(client, &topic, partition, offset, now)
            }
            GroupRequest::Pause((topic, partition)) => consumer.pause(&topic, partition),
            GroupRequest::Resume((topic, partition)) => {
                consumer.resume(client, &topic, partition, now)
            }
            GroupRequest::Close(reply) => {
                close_waiters.push(reply);
                consumer.close(client, now);
            }
            GroupRequest::Metadata(reply) => reply.send(consumer.group_metadata()),
        });
    }

    /// Hands an event to the consumer's handle and answers commits and
    /// closes; a consumer that finished closing leaves the engine.
    pub(crate) fn deliver(
        &mut self,
        engine: &mut Engine,
        handle: ConsumerHandle,
        event: ConsumerEvent,
        now: Instant,
    ) {
        let Some(&id) = self.ids.get(&handle) else {
            return;
        };
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        match event {
            ConsumerEvent::Committed {
                id: commit,
                results,
            } => {
                if let Some(reply) = slot.commits.remove(&commit) {
                    let first_error = results.into_values().find_map(Result::err);
                    reply.send(first_error.map_or(Ok(()), |e| Err(e.into())));
                }
            }
            ConsumerEvent::Closed => {
                let _ = slot.events.try_send(ConsumerEvent::Closed);
                if let Some(slot) = self.slots.remove(&id) {
                    self.ids.remove(&handle);
                    engine.remove_consumer(handle, now);
                    for waiter in slot.close_waiters {
                        waiter.send(());
                    }
                    for (_, reply) in slot.commits {
                        reply.send(Err(Error::Closed));
                    }
                }
            }
            // Unbounded: only a handle that is gone refuses, and then the
            // consumer closes (see `close_abandoned`).
            event => {
                let _ = slot.events.try_send(event);
            }
        }
    }

    /// A consumer whose handle was dropped without `close` leaves its
    /// group.
    pub(crate) fn close_abandoned(&mut self, engine: &mut Engine, now: Instant) {
        for slot in self.slots.values_mut() {
            if slot.events.is_closed() && slot.close_waiters.is_empty() {
                slot.close_waiters.push(oneshot::channel().0);
                engine.consumer(slot.handle, now, |consumer, client| {
                    consumer.close(client, now)
                });
            }
        }
    }
}
