//! The application's side of the event loop: what each handle waits
//! for. Commands from handles become calls into the engine; the engine's
//! events become answers to the handles that wait for them.

use std::collections::HashMap;
use std::time::Instant;

use kafkite::client::{Event, RequestError, RequestId, Response};
use kafkite::engine::{Engine, EngineEvent};

use crate::consumer::fetch_slots::FetchSlots;
use crate::consumer::group_slots::GroupSlots;
use crate::error::Error;
use crate::event_loop::command::{Command, Reply};
use crate::producer::slots::ProducerSlots;

pub(crate) struct Handles {
    waiters: HashMap<RequestId, Reply>,
    /// Replies to send once the turn's snapshot is updated, so a caller
    /// that awaited a Metadata response sees the metadata it brought.
    replies: Vec<(Reply, Result<Response, RequestError>)>,
    pub(crate) close_waiters: Vec<async_channel::Sender<()>>,
    /// The session waiting for the first metadata, and its answer once
    /// known (sent with the turn's replies).
    bootstrap: Option<async_channel::Sender<Result<(), Error>>>,
    bootstrap_result: Option<Result<(), Error>>,
    producers: ProducerSlots,
    fetchers: FetchSlots,
    pub(crate) groups: GroupSlots,
}

impl Handles {
    pub(crate) fn new(bootstrap: async_channel::Sender<Result<(), Error>>) -> Self {
        Handles {
            waiters: HashMap::new(),
            replies: Vec::new(),
            close_waiters: Vec::new(),
            bootstrap: Some(bootstrap),
            bootstrap_result: None,
            producers: ProducerSlots::default(),
            fetchers: FetchSlots::default(),
            groups: GroupSlots::default(),
        }
    }

    pub(crate) fn on_command(&mut self, engine: &mut Engine, command: Command, now: Instant) {
        match command {
            Command::Send {
                target,
                request,
                options,
                reply,
            } => {
                let id = engine.send(target, *request, options, now);
                self.waiters.insert(id, reply);
            }
            Command::AddTopics(topics) => engine.add_topics(&topics, now),
            Command::CoordinatorMoved(group) => engine.coordinator_moved(&group, now),
            Command::Close { reply } => {
                self.close_waiters.push(reply);
                engine.close(now);
            }
            Command::ProducerOpen {
                producer,
                config,
                gauge,
                mailbox,
                idempotence_off,
            } => self.producers.open(
                engine,
                producer,
                (*config, gauge),
                mailbox,
                idempotence_off,
                now,
            ),
            Command::ProducerMail { producer, mailbox } => {
                self.producers.take_mail(engine, producer, &mailbox, now)
            }
            Command::ProduceBatch {
                producer,
                records,
                reserved,
                reply,
            } => self
                .producers
                .produce_batch(engine, producer, (records, reserved), reply, now),
            Command::ProducerFlush { producer, reply } => {
                self.producers.flush(engine, producer, reply, now)
            }
            Command::Transaction {
                producer,
                operation,
                reply,
            } => self
                .producers
                .transaction(engine, producer, operation, reply, now),
            Command::ProducerClose { producer, reply } => {
                self.producers.close(engine, producer, reply, now)
            }
            Command::FetchOpen {
                fetcher,
                config,
                starts,
                events,
            } => self
                .fetchers
                .open(engine, fetcher, (*config, starts), events, now),
            Command::FetchRelease {
                fetcher,
                topic,
                partition,
                records,
            } => self
                .fetchers
                .release(engine, fetcher, (&topic, partition), records, now),
            Command::FetchClose { fetcher } => self.fetchers.close(engine, fetcher, now),
            Command::GroupOpen {
                consumer,
                config,
                events,
                positions,
            } => self
                .groups
                .open(engine, consumer, *config, (events, positions), now),
            Command::Group { consumer, request } => {
                self.groups.request(engine, consumer, request, now)
            }
        }
    }

    /// Hands an engine event to the handle waiting for it.
    pub(crate) fn on_event(&mut self, engine: &mut Engine, event: EngineEvent, now: Instant) {
        match event {
            EngineEvent::Producer(h, event) => self.producers.deliver(engine, h, event, now),
            EngineEvent::Fetcher(h, event) => self.fetchers.deliver(engine, h, event, now),
            EngineEvent::Consumer(h, event) => self.groups.deliver(engine, h, event, now),
            EngineEvent::Client(Event::Response { id, result }) => {
                if let Some(reply) = self.waiters.remove(&id) {
                    self.replies.push((reply, result));
                }
            }
            EngineEvent::Client(_) => {}
            EngineEvent::Bootstrapped => self.bootstrap_result = Some(Ok(())),
            EngineEvent::BootstrapFailed(error) => self.bootstrap_result = Some(Err(error.into())),
        }
    }

    /// Sends what the turn answered: buffer space, replies, the bootstrap.
    pub(crate) fn finish_turn(&mut self) {
        self.producers.release_freed();
        for (reply, result) in self.replies.drain(..) {
            // The caller may have stopped waiting; that is its choice.
            let _ = reply.try_send(result);
        }
        if let Some(result) = self.bootstrap_result.take() {
            if let Some(waiter) = self.bootstrap.take() {
                let _ = waiter.try_send(result);
            }
        }
    }
}
