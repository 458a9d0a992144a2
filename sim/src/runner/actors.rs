//! The simulated applications: a producer that sends numbered records,
//! and group consumers that read through the envelope discipline. Each
//! runs on its own [`Engine`], with the same `Producer` and
//! `GroupConsumer` the runtime drivers run; an application only says what
//! to send and what it made of what it got.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use kafkite::consumer::{ConsumerEvent, EnvelopeQueue, Resolution};
use kafkite::engine::{ConsumerHandle, Engine, ProducerHandle};
use kafkite::producer::{DeliveryId, ProducerEvent, ProducerRecord};

use super::trace::Trace;

pub use kafkite::TopicPartition;

/// What a producer's record became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged at (partition, offset).
    Acked {
        /// The partition the record was written to.
        partition: i32,
        /// The record's offset in that partition.
        offset: i64,
    },
    /// Refused when sent, or failed for good; the error as text.
    Failed(String),
}

/// The producing application.
#[derive(Debug)]
pub struct ProducerApp {
    /// The producer machine inside the application's engine.
    pub producer: ProducerHandle,
    /// The topic every record goes to.
    pub topic: String,
    /// The topic's partition count: record `i` goes to partition
    /// `i % partitions`.
    pub partitions: i32,
    /// (record index, when to send), in time order.
    pub to_send: VecDeque<(usize, Instant)>,
    /// The record index of each send the producer accepted, by the id its
    /// outcome will carry.
    pub ids: BTreeMap<DeliveryId, usize>,
    /// Each record's outcome so far, by record index.
    pub outcomes: BTreeMap<usize, Outcome>,
    /// How many records the application sends in all.
    pub total: usize,
}

impl ProducerApp {
    /// The value of record `index`: `r` and the index in five digits.
    pub fn value(index: usize) -> String {
        format!("r{index:05}")
    }

    /// When the application next has a record to send.
    pub fn next_send(&self) -> Option<Instant> {
        self.to_send.front().map(|(_, at)| *at)
    }

    /// Sends the records due by `now`, in one call into the engine.
    pub fn send_due(
        &mut self,
        engine: &mut Engine,
        (now, wall_ms): (Instant, i64),
        trace: &mut Trace,
        now_us: u64,
    ) {
        let mut due = Vec::new();
        while self.to_send.front().is_some_and(|(_, at)| *at <= now) {
            if let Some((index, _)) = self.to_send.pop_front() {
                due.push(index);
            }
        }
        if due.is_empty() {
            return;
        }
        let (topic, partitions) = (self.topic.clone(), self.partitions);
        let results = engine.producer(self.producer, now, |producer, client| {
            due.iter()
                .map(|&index| {
                    let record = ProducerRecord::new(topic.clone())
                        .partition(index as i32 % partitions)
                        .key(Bytes::from(format!("k{index}")))
                        .value(Bytes::from(Self::value(index)));
                    (index, producer.send(client, record, now, wall_ms))
                })
                .collect::<Vec<_>>()
        });
        for (index, result) in results.unwrap_or_default() {
            match result {
                Ok(id) => {
                    trace.line(now_us, "producer", || format!("send #{index} as {}", id.0));
                    self.ids.insert(id, index);
                }
                Err(e) => {
                    trace.line(now_us, "producer", || format!("send #{index} refused: {e}"));
                    self.outcomes.insert(index, Outcome::Failed(e.to_string()));
                }
            }
        }
    }

    /// Records what a producer event says about the records' outcomes.
    pub fn on_event(&mut self, event: ProducerEvent, trace: &mut Trace, now_us: u64) {
        match event {
            ProducerEvent::Delivered(batch) => {
                for (id, delivery) in batch.iter() {
                    let Some(index) = self.ids.get(&id).copied() else {
                        continue;
                    };
                    trace.line(now_us, "producer", || {
                        format!(
                            "acked #{index} at {}-{}@{}",
                            batch.topic(),
                            delivery.partition,
                            delivery.offset
                        )
                    });
                    self.outcomes.insert(
                        index,
                        Outcome::Acked {
                            partition: delivery.partition,
                            offset: delivery.offset,
                        },
                    );
                }
            }
            ProducerEvent::Failed { id, error } => {
                if let Some(index) = self.ids.get(&id).copied() {
                    trace.line(now_us, "producer", || format!("failed #{index}: {error}"));
                    self.outcomes
                        .insert(index, Outcome::Failed(error.to_string()));
                }
            }
            // The sim's producers are not transactional (yet).
            ProducerEvent::Flushed { .. } | ProducerEvent::Transaction { .. } => {}
            // The sim asks for idempotence, which never turns off then;
            // traced should that change.
            ProducerEvent::IdempotenceDisabled { reason } => {
                trace.line(now_us, "producer", || {
                    format!("idempotence disabled: {reason}")
                });
            }
        }
    }

    /// True when every record has an outcome.
    pub fn finished(&self) -> bool {
        self.outcomes.len() == self.total
    }
}

/// A consuming application in a group: a `GroupConsumer` with
/// auto-commit, read through the envelope discipline.
#[derive(Debug)]
pub struct ConsumerApp {
    /// The application's name ("consumer-0", ...), as in the trace.
    pub name: String,
    /// The group consumer machine inside the application's engine.
    pub consumer: ConsumerHandle,
    /// Every record handed to the application: (partition, offset, value,
    /// virtual µs).
    pub delivered: Vec<(i32, i64, String, u64)>,
    /// The fatal group error the member stopped with, as text.
    pub fatal: Option<String>,
    /// The envelope discipline: fetched records are handed out one at a
    /// time per partition and each resolved (commit or ack) before that
    /// partition's next.
    pub envelopes: EnvelopeQueue,
    /// Every n-th envelope is committed, the others acked.
    pub commit_every_nth: u64,
    /// How many envelopes were handed out so far.
    pub handed_out: u64,
    /// Every (partition, next offset) a commit resolution asked to store.
    pub commit_resolved: BTreeSet<(i32, i64)>,
    /// A broken envelope rule, if one was seen.
    pub envelope_violation: Option<String>,
}

impl ConsumerApp {
    /// An application that has handed out nothing yet; every
    /// `commit_every_nth` envelope is committed, the others acked.
    pub fn new(name: String, consumer: ConsumerHandle, commit_every_nth: u64) -> Self {
        ConsumerApp {
            name,
            consumer,
            delivered: Vec::new(),
            fatal: None,
            envelopes: EnvelopeQueue::new(None),
            commit_every_nth,
            handed_out: 0,
            commit_resolved: Default::default(),
            envelope_violation: None,
        }
    }

    /// Takes a consumer event: records are handed out as envelopes and
    /// resolved; revoked or lost partitions are forgotten; a fatal group
    /// error is kept.
    pub fn on_event(
        &mut self,
        engine: &mut Engine,
        event: ConsumerEvent,
        now: Instant,
        (trace, now_us): (&mut Trace, u64),
    ) {
        match event {
            ConsumerEvent::Records(r) => {
                trace.line(now_us, &self.name, || {
                    format!(
                        "records {}-{} {}..={} ({})",
                        r.topic,
                        r.partition,
                        r.records.first_offset().unwrap_or(-1),
                        r.records.last_offset().unwrap_or(-1),
                        r.records.len()
                    )
                });
                self.envelopes.push(r);
                self.hand_out(engine, now, now_us);
            }
            ConsumerEvent::Revoked(tps) | ConsumerEvent::Lost(tps) => {
                trace.line(now_us, &self.name, || format!("gone: {tps:?}"));
                for (topic, partition) in &tps {
                    self.envelopes.forget(topic, *partition);
                }
            }
            ConsumerEvent::GroupError(err) => {
                trace.line(now_us, &self.name, || format!("group error: {err}"));
                if err.is_fatal() {
                    self.fatal = Some(err.to_string());
                }
            }
            other => trace.line(now_us, &self.name, || format!("{other:?}")),
        }
    }

    /// Hands out envelopes and resolves each at once: commit every n-th
    /// (the consumer's auto-commit then stores it), ack the rest. Checks
    /// that only owned partitions are handed out.
    fn hand_out(&mut self, engine: &mut Engine, now: Instant, now_us: u64) {
        let owned: BTreeSet<TopicPartition> = engine
            .consumer_state(self.consumer)
            .map(|c| c.assignment().clone())
            .unwrap_or_default();
        while let Some(envelope) = self.envelopes.next_envelope() {
            let tp = (envelope.topic.clone(), envelope.partition);
            if !owned.contains(&tp) && self.envelope_violation.is_none() {
                self.envelope_violation = Some(format!(
                    "{} handed out {}-{}@{} of a partition it does not own",
                    self.name, tp.0, tp.1, envelope.record.offset
                ));
            }
            let value = envelope
                .record
                .value
                .as_ref()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            self.delivered
                .push((envelope.partition, envelope.record.offset, value, now_us));
            self.handed_out += 1;
            let next = envelope.record.offset + 1;
            let resolution = if self.handed_out.is_multiple_of(self.commit_every_nth) {
                self.commit_resolved.insert((envelope.partition, next));
                Resolution::Commit
            } else {
                Resolution::Ack
            };
            let resolved = self.envelopes.resolve(envelope.token, resolution);
            engine.consumer(self.consumer, now, |consumer, client| {
                if resolution == Resolution::Commit {
                    consumer.consumed(&tp.0, tp.1, next);
                }
                for (topic, partition) in resolved.release {
                    consumer.release(client, &topic, partition, now);
                }
            });
        }
    }
}
