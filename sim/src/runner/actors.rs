//! The simulated applications: a producer that sends numbered records,
//! and group consumers that read, commit as they go, and commit on
//! revocation, all through kafkite's core state machines.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkite::client::{Client, Event};
use kafkite::consumer::group::{CommitId, GroupEvent, GroupMember, GroupState, OffsetFetchId};
use kafkite::consumer::{EnvelopeQueue, FetchEvent, Fetcher, OffsetAndMetadata, Resolution};
use kafkite::producer::{DeliveryId, Producer, ProducerEvent, ProducerRecord};

use super::trace::Trace;

pub type TopicPartition = (String, i32);

/// What a producer's record became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged at (partition, offset).
    Acked {
        partition: i32,
        offset: i64,
    },
    Failed(String),
}

/// The producing application.
#[derive(Debug)]
pub struct ProducerApp {
    pub producer: Producer,
    pub topic: String,
    pub partitions: i32,
    /// (record index, when to send), in time order.
    pub to_send: VecDeque<(usize, Instant)>,
    pub ids: BTreeMap<DeliveryId, usize>,
    pub outcomes: BTreeMap<usize, Outcome>,
    pub total: usize,
}

impl ProducerApp {
    pub fn value(index: usize) -> String {
        format!("r{index:05}")
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        let send = self.to_send.front().map(|(_, at)| *at);
        [send, self.producer.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn on_timeout(
        &mut self,
        client: &mut Client,
        now: Instant,
        wall_ms: i64,
        trace: &mut Trace,
        now_us: u64,
    ) {
        while self.to_send.front().is_some_and(|(_, at)| *at <= now) {
            let Some((index, _)) = self.to_send.pop_front() else {
                break;
            };
            let record = ProducerRecord::new(self.topic.clone())
                .partition(index as i32 % self.partitions)
                .key(Bytes::from(format!("k{index}")))
                .value(Bytes::from(Self::value(index)));
            match self.producer.send(client, record, now, wall_ms) {
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
        self.producer.handle_timeout(client, now);
    }

    pub fn on_client_event(&mut self, client: &mut Client, event: &Event, now: Instant) -> bool {
        self.producer.handle_client_event(client, event, now)
    }

    /// Takes the producer's events; true if there were any.
    pub fn drain(&mut self, trace: &mut Trace, now_us: u64) -> bool {
        let mut any = false;
        while let Some(e) = self.producer.poll_event() {
            any = true;
            match e {
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
                ProducerEvent::Flushed { .. } => {}
                // The sim asks for idempotence, which never turns off
                // then; traced should that change.
                ProducerEvent::IdempotenceDisabled { reason } => {
                    trace.line(now_us, "producer", || {
                        format!("idempotence disabled: {reason}")
                    });
                }
            }
        }
        any
    }

    pub fn finished(&self) -> bool {
        self.outcomes.len() == self.total
    }
}

/// A consuming application in a group.
#[derive(Debug)]
pub struct ConsumerApp {
    pub name: String,
    pub member: GroupMember,
    pub fetcher: Fetcher,
    pub topic: String,
    /// Committed-offset reads in flight, for the partitions just assigned.
    pub offset_reads: BTreeMap<OffsetFetchId, Vec<TopicPartition>>,
    /// The commit whose answer ends a revocation.
    pub revoke_commit: Option<CommitId>,
    /// A periodic commit not yet answered: the next waits for it, since
    /// two commits of one partition in flight may land out of order (a
    /// retried older one after a newer one).
    pub commit_in_flight: Option<CommitId>,
    /// Positions of revoked partitions, to commit once the commit in
    /// flight is answered.
    pub revoked_positions: Option<BTreeMap<TopicPartition, i64>>,
    /// Positions last committed.
    pub committed: BTreeMap<TopicPartition, i64>,
    pub commit_every: Duration,
    pub next_commit: Instant,
    /// Every record handed to the application: (partition, offset, value,
    /// virtual µs).
    pub delivered: Vec<(i32, i64, String, u64)>,
    pub fatal: Option<String>,
    /// The Dart package's envelope discipline: fetched records are handed
    /// out one at a time per partition and each resolved (commit or ack)
    /// before that partition's next.
    pub envelopes: EnvelopeQueue,
    /// Every n-th envelope is committed, the others acked.
    pub commit_every_nth: u64,
    pub handed_out: u64,
    /// Offsets (next to read) of commit-resolved envelopes, to store.
    pub to_commit: BTreeMap<TopicPartition, i64>,
    /// Every (partition, next offset) a commit resolution asked to store.
    pub commit_resolved: BTreeSet<(i32, i64)>,
    /// A broken envelope rule, if one was seen.
    pub envelope_violation: Option<String>,
}

impl ConsumerApp {
    pub fn next_timeout(&self) -> Option<Instant> {
        let commit = (self.member.state() == GroupState::Stable).then_some(self.next_commit);
        [
            self.member.poll_timeout(),
            self.fetcher.poll_timeout(),
            commit,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn on_timeout(&mut self, client: &mut Client, now: Instant) {
        self.member.handle_timeout(client, now);
        self.fetcher.handle_timeout(client, now);
        if now >= self.next_commit {
            self.next_commit = now + self.commit_every;
            if self.member.state() == GroupState::Stable && self.commit_in_flight.is_none() {
                let positions = self.to_commit_of(self.member.assignment());
                self.commit_in_flight = self.commit_positions(client, positions, now);
            }
        }
    }

    pub fn on_client_event(&mut self, client: &mut Client, event: &Event, now: Instant) -> bool {
        self.member.handle_client_event(client, event, now)
            || self.fetcher.handle_client_event(client, event, now)
    }

    /// What commit resolutions asked to store for `partitions`.
    fn to_commit_of(&self, partitions: Vec<TopicPartition>) -> BTreeMap<TopicPartition, i64> {
        partitions
            .into_iter()
            .filter_map(|tp| self.to_commit.get(&tp).map(|o| (tp, *o)))
            .collect()
    }

    /// Hands out envelopes and resolves each at once: commit every n-th,
    /// ack the rest. Checks that only owned partitions are handed out.
    fn hand_out(&mut self, client: &mut Client, now: Instant, now_us: u64) -> bool {
        let mut any = false;
        let owned: BTreeSet<TopicPartition> = self.member.assignment().into_iter().collect();
        while let Some(envelope) = self.envelopes.next_envelope() {
            any = true;
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
            let resolution = if self.handed_out.is_multiple_of(self.commit_every_nth) {
                let next = envelope.record.offset + 1;
                self.to_commit.insert(tp.clone(), next);
                self.commit_resolved.insert((envelope.partition, next));
                Resolution::Commit
            } else {
                Resolution::Ack
            };
            let resolved = self.envelopes.resolve(envelope.token, resolution);
            for (topic, partition) in resolved.release {
                self.fetcher.release(client, &topic, partition, now);
            }
        }
        any
    }

    /// Commits the positions that moved; returns the commit, if one was
    /// needed.
    fn commit_positions(
        &mut self,
        client: &mut Client,
        positions: BTreeMap<TopicPartition, i64>,
        now: Instant,
    ) -> Option<CommitId> {
        let mut offsets = BTreeMap::new();
        for (tp, position) in positions {
            if self.committed.get(&tp) != Some(&position) {
                offsets.insert(tp, OffsetAndMetadata::new(position));
            }
        }
        if offsets.is_empty() {
            return None;
        }
        for (tp, o) in &offsets {
            self.committed.insert(tp.clone(), o.offset);
        }
        Some(self.member.commit(client, offsets, now))
    }

    /// Takes the member's and fetcher's events; true if there were any.
    pub fn drain(
        &mut self,
        client: &mut Client,
        now: Instant,
        trace: &mut Trace,
        now_us: u64,
    ) -> bool {
        let mut any = false;
        while let Some(e) = self.member.poll_event() {
            any = true;
            self.on_group_event(client, e, now, trace, now_us);
        }
        while let Some(e) = self.fetcher.poll_event() {
            any = true;
            match e {
                FetchEvent::Records(r) => {
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
                }
                FetchEvent::Reset {
                    topic,
                    partition,
                    offset,
                } => trace.line(now_us, &self.name, || {
                    format!("reset {topic}-{partition} to {offset}")
                }),
                FetchEvent::Error(err) => {
                    trace.line(now_us, &self.name, || format!("fetch error: {err}"))
                }
            }
        }
        any |= self.hand_out(client, now, now_us);
        any
    }

    fn on_group_event(
        &mut self,
        client: &mut Client,
        e: GroupEvent,
        now: Instant,
        trace: &mut Trace,
        now_us: u64,
    ) {
        trace.line(now_us, &self.name, || format!("{e:?}"));
        match e {
            GroupEvent::PartitionsAssigned(tps) => {
                if !tps.is_empty() {
                    let id = self.member.fetch_committed(client, tps.clone(), now);
                    self.offset_reads.insert(id, tps);
                }
            }
            GroupEvent::CommittedOffsets { id, result } => {
                let Some(tps) = self.offset_reads.remove(&id) else {
                    return;
                };
                let owned: BTreeSet<TopicPartition> =
                    self.member.assignment().into_iter().collect();
                match result {
                    Ok(map) => {
                        for tp in tps.into_iter().filter(|tp| owned.contains(tp)) {
                            let offset = match map.get(&tp) {
                                Some(Ok(Some(o))) if o.offset >= 0 => Some(o.offset),
                                _ => None,
                            };
                            if let Some(o) = offset {
                                self.committed.insert(tp.clone(), o);
                            } else {
                                self.committed.remove(&tp);
                            }
                            self.fetcher.assign(client, &tp.0, tp.1, offset, now);
                        }
                    }
                    Err(_) => {
                        let again: Vec<TopicPartition> =
                            tps.into_iter().filter(|tp| owned.contains(tp)).collect();
                        if !again.is_empty() {
                            let id = self.member.fetch_committed(client, again.clone(), now);
                            self.offset_reads.insert(id, again);
                        }
                    }
                }
            }
            GroupEvent::PartitionsRevoked(tps) => {
                let positions = self.to_commit_of(tps.clone());
                for tp in &tps {
                    self.fetcher.unassign(&tp.0, tp.1);
                    self.envelopes.forget(&tp.0, tp.1);
                    self.to_commit.remove(tp);
                }
                self.revoked_positions = Some(positions);
                if self.commit_in_flight.is_none() {
                    self.commit_revoked(client, now);
                }
            }
            GroupEvent::PartitionsLost(tps) => {
                for tp in &tps {
                    self.fetcher.unassign(&tp.0, tp.1);
                    self.envelopes.forget(&tp.0, tp.1);
                    self.committed.remove(tp);
                    self.to_commit.remove(tp);
                }
            }
            GroupEvent::Committed { id, results } => {
                // A failed commit is retried by the next one: forget what
                // was assumed committed.
                for (tp, r) in &results {
                    if r.is_err() {
                        self.committed.remove(tp);
                    }
                }
                if self.commit_in_flight == Some(id) {
                    self.commit_in_flight = None;
                    if self.revoked_positions.is_some() {
                        self.commit_revoked(client, now);
                    }
                }
                if self.revoke_commit == Some(id) {
                    self.revoke_commit = None;
                    self.member.revocation_done(client, now);
                }
            }
            GroupEvent::Error(err) => {
                if err.is_fatal() {
                    self.fatal = Some(err.to_string());
                }
            }
            GroupEvent::Closed => {}
        }
    }

    /// Commits the revoked partitions' positions, then lets the member go
    /// on (at once when there is nothing to commit).
    fn commit_revoked(&mut self, client: &mut Client, now: Instant) {
        let positions = self.revoked_positions.take().unwrap_or_default();
        match self.commit_positions(client, positions, now) {
            Some(id) => self.revoke_commit = Some(id),
            None => self.member.revocation_done(client, now),
        }
    }
}
