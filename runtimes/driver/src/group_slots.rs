//! The group consumers living in the event loop: each a core
//! [`kafkite::consumer::GroupConsumer`] (membership, heartbeats, fetching)
//! whose records and rebalance events go to the handle that opened it.
//!
//! The handle writes the positions the application has processed into a
//! shared map; the loop hands them to the core before every step, so an
//! auto-commit or a revocation commits what was processed up to then.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kafkite::client::{Client, Event};
use kafkite::consumer::group::{CommitId, TopicPartition};
use kafkite::consumer::{ConsumerEvent, GroupConsumer, GroupConsumerConfig, OffsetAndMetadata};

use crate::error::Error;
use crate::oneshot;
use crate::wake_guard;

/// Next offsets to read, per partition, as the application processed them.
pub(crate) type Positions = Arc<Mutex<BTreeMap<TopicPartition, i64>>>;

pub(crate) type CommitReply = oneshot::Sender<Result<(), Error>>;

/// What a handle asks of its consumer.
pub(crate) enum GroupRequest {
    Subscribe(Vec<String>),
    Release(TopicPartition),
    /// `None`: commit the processed positions.
    Commit(
        Option<BTreeMap<TopicPartition, OffsetAndMetadata>>,
        CommitReply,
    ),
    RevocationDone,
    Seek(TopicPartition, i64),
    Pause(TopicPartition),
    Resume(TopicPartition),
    Close(oneshot::Sender<()>),
}

struct Slot {
    machine: GroupConsumer,
    events: async_channel::Sender<ConsumerEvent>,
    positions: Positions,
    commits: HashMap<CommitId, CommitReply>,
    close_waiters: Vec<oneshot::Sender<()>>,
    last_timeout: Option<Instant>,
}

impl Slot {
    /// Hands the processed positions to the core.
    fn sync_positions(&mut self) {
        let positions =
            std::mem::take(&mut *self.positions.lock().unwrap_or_else(|p| p.into_inner()));
        for ((topic, partition), offset) in positions {
            self.machine.consumed(&topic, partition, offset);
        }
    }
}

#[derive(Default)]
pub(crate) struct GroupSlots {
    slots: HashMap<u64, Slot>,
}

impl GroupSlots {
    pub(crate) fn open(
        &mut self,
        id: u64,
        config: GroupConsumerConfig,
        events: async_channel::Sender<ConsumerEvent>,
        positions: Positions,
    ) {
        let slot = Slot {
            machine: GroupConsumer::new(config),
            events,
            positions,
            commits: HashMap::new(),
            close_waiters: Vec::new(),
            last_timeout: None,
        };
        self.slots.insert(id, slot);
    }

    pub(crate) fn request(
        &mut self,
        client: &mut Client,
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
        slot.sync_positions();
        let machine = &mut slot.machine;
        match request {
            GroupRequest::Subscribe(topics) => machine.subscribe(client, topics, now),
            GroupRequest::Release((topic, partition)) => {
                machine.release(client, &topic, partition, now)
            }
            GroupRequest::Commit(offsets, reply) => {
                let commit = match offsets {
                    Some(offsets) => machine.commit(client, offsets, now),
                    None => machine.commit_consumed(client, now),
                };
                slot.commits.insert(commit, reply);
            }
            GroupRequest::RevocationDone => machine.revocation_done(client, now),
            GroupRequest::Seek((topic, partition), offset) => {
                machine.seek(client, &topic, partition, offset, now)
            }
            GroupRequest::Pause((topic, partition)) => machine.pause(&topic, partition),
            GroupRequest::Resume((topic, partition)) => {
                machine.resume(client, &topic, partition, now)
            }
            GroupRequest::Close(reply) => {
                slot.close_waiters.push(reply);
                machine.close(client, now);
            }
        }
    }

    /// Offers a client event to each consumer; true when one claimed it.
    pub(crate) fn offer(&mut self, client: &mut Client, event: &Event, now: Instant) -> bool {
        let mut claimed = false;
        for slot in self.slots.values_mut() {
            if !claimed {
                slot.sync_positions();
                claimed = slot.machine.handle_client_event(client, event, now);
            }
        }
        claimed
    }

    /// Hands events to the handles and answers commits and closes. A
    /// consumer whose handle is gone is closed (leaving its group); one
    /// that finished closing is dropped.
    pub(crate) fn drain_events(&mut self, client: &mut Client, now: Instant) -> bool {
        let mut progressed = false;
        let mut finished = Vec::new();
        for (id, slot) in &mut self.slots {
            while let Some(event) = slot.machine.poll_event() {
                progressed = true;
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
                        finished.push(*id);
                        let _ = slot.events.try_send(ConsumerEvent::Closed);
                    }
                    // Unbounded: only a handle that is gone refuses, and
                    // then the consumer closes just below.
                    event => {
                        let _ = slot.events.try_send(event);
                    }
                }
            }
            if slot.events.is_closed() && slot.close_waiters.is_empty() {
                // The handle was dropped without close: leave the group.
                slot.close_waiters.push(oneshot::channel().0);
                slot.machine.close(client, now);
                progressed = true;
            }
        }
        for id in finished {
            if let Some(slot) = self.slots.remove(&id) {
                for waiter in slot.close_waiters {
                    waiter.send(());
                }
                for (_, reply) in slot.commits {
                    reply.send(Err(Error::Closed));
                }
            }
        }
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
                slot.sync_positions();
                slot.machine.handle_timeout(client, now);
                slot.last_timeout = Some(now);
            }
        }
    }
}
