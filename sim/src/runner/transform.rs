//! The consume-transform-produce application of the exactly-once runs: a
//! group consumer reading the input topic and a transactional producer
//! writing one output record per input record, each transaction carrying
//! the input offsets it consumed (`send_offsets_to_transaction`). It runs
//! the way the Java client's documentation says such an application
//! must: commit before giving partitions up, and on any transactional
//! error start over from the committed offsets (here: a new instance, as
//! a crashed process would).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkite::consumer::{ConsumerEvent, FetchedRecords};
use kafkite::engine::{ConsumerHandle, Engine, ProducerHandle};
use kafkite::producer::{ProducerEvent, ProducerRecord, TransactionOffset};

use super::trace::Trace;
use super::{OUTPUT_TOPIC, TOPIC};

/// A bug to inject, to show the exactly-once invariant catches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EosBug {
    /// Commit the input offsets with a plain OffsetCommit before the
    /// transaction commits, instead of inside it.
    OffsetsOutsideTransaction,
}

/// Where the application is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for `init_transactions` (token).
    Initializing(u64),
    /// No transaction open.
    Ready,
    /// A transaction open since this moment.
    InTransaction(Instant),
    /// Waiting for `send_offsets_to_transaction` (token).
    SendingOffsets(u64),
    /// Waiting for a plain offset commit (the injected bug's path).
    CommittingOutside,
    /// Waiting for `commit_transaction` (token).
    Committing(u64),
    /// Waiting for `abort_transaction` (token) after an abortable error;
    /// then the instance starts over from the committed offsets.
    Aborting(u64),
    /// Failed: the runner replaces this instance.
    Failed,
}

/// One instance of the consume-transform-produce application.
#[derive(Debug)]
pub struct TransformApp {
    /// The instance's name ("transformer-0#2": application 0, third
    /// instance), as in the trace.
    pub name: String,
    /// The application number: instances of one application share a
    /// transactional id.
    pub app: usize,
    /// The group consumer reading the input topic.
    pub consumer: ConsumerHandle,
    /// The transactional producer writing the output topic.
    pub producer: ProducerHandle,
    phase: Phase,
    /// Records fetched and not yet transformed, per partition, in order.
    pending: BTreeMap<i32, Vec<(i64, String)>>,
    /// Chunks held per partition (released once transformed).
    held: BTreeMap<i32, usize>,
    /// The next input offset to transform, per partition (guards against
    /// chunks that overlap what was already transformed).
    next: BTreeMap<i32, i64>,
    /// Input positions the open transaction consumed up to.
    positions: BTreeMap<i32, i64>,
    /// Records transformed in the open transaction.
    in_transaction: usize,
    /// Commit after this many records...
    batch: usize,
    /// ... or this long after the transaction began.
    linger: Duration,
    /// A revocation waits for the open transaction to commit.
    revocation_pending: bool,
    bug: Option<EosBug>,
    /// Why the instance failed, for the trace.
    pub failure: Option<String>,
    /// Transactions this instance committed.
    pub committed: u64,
}

impl TransformApp {
    /// An instance whose `init_transactions` has been asked for (`token`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        app: usize,
        (consumer, producer): (ConsumerHandle, ProducerHandle),
        init_token: u64,
        batch: usize,
        linger: Duration,
        bug: Option<EosBug>,
    ) -> Self {
        TransformApp {
            name,
            app,
            consumer,
            producer,
            phase: Phase::Initializing(init_token),
            pending: BTreeMap::new(),
            held: BTreeMap::new(),
            next: BTreeMap::new(),
            positions: BTreeMap::new(),
            in_transaction: 0,
            batch: batch.max(1),
            linger,
            revocation_pending: false,
            bug,
            failure: None,
            committed: 0,
        }
    }

    /// Whether the instance failed and must be replaced.
    pub fn failed(&self) -> bool {
        self.phase == Phase::Failed
    }

    /// When the open transaction must commit, if one is open.
    pub fn wake_at(&self) -> Option<Instant> {
        match self.phase {
            Phase::InTransaction(since) => Some(since + self.linger),
            _ => None,
        }
    }

    fn fail(&mut self, why: String, trace: &mut Trace, now_us: u64) {
        trace.line(now_us, &self.name, || format!("fails: {why}"));
        self.failure.get_or_insert(why);
        self.phase = Phase::Failed;
    }

    /// A consumer event: records are queued, revocations wait for the
    /// open transaction.
    pub fn on_consumer_event(
        &mut self,
        engine: &mut Engine,
        event: ConsumerEvent,
        (now, wall_ms): (Instant, i64),
        (trace, now_us): (&mut Trace, u64),
    ) {
        match event {
            ConsumerEvent::Records(r) => self.take_records(r, trace, now_us),
            ConsumerEvent::Revoked(tps) => {
                trace.line(now_us, &self.name, || format!("revoked {tps:?}"));
                let open = matches!(self.phase, Phase::InTransaction(_)) && self.in_transaction > 0;
                let ending = matches!(
                    self.phase,
                    Phase::SendingOffsets(_) | Phase::Committing(_) | Phase::CommittingOutside
                );
                self.forget(&tps.iter().map(|(_, p)| *p).collect::<Vec<_>>());
                if open || ending {
                    self.revocation_pending = true;
                    if open {
                        self.start_commit(engine, now, trace, now_us);
                    }
                } else {
                    engine.consumer(self.consumer, now, |c, client| {
                        c.revocation_done(client, now)
                    });
                }
            }
            ConsumerEvent::Lost(tps) => {
                trace.line(now_us, &self.name, || format!("lost {tps:?}"));
                self.forget(&tps.iter().map(|(_, p)| *p).collect::<Vec<_>>());
            }
            ConsumerEvent::Committed { results, .. } => {
                let ok = results.values().all(|r| r.is_ok());
                self.on_outside_commit(engine, now, ok);
            }
            ConsumerEvent::GroupError(err) => {
                trace.line(now_us, &self.name, || format!("group error: {err}"));
                if err.is_fatal() {
                    self.fail(format!("group: {err}"), trace, now_us);
                }
            }
            _ => {}
        }
        self.work(engine, (now, wall_ms), trace, now_us);
    }

    /// A producer event: the answer to the operation waited for.
    pub fn on_producer_event(
        &mut self,
        engine: &mut Engine,
        event: ProducerEvent,
        (now, wall_ms): (Instant, i64),
        (trace, now_us): (&mut Trace, u64),
    ) {
        match event {
            ProducerEvent::Transaction { token, result } => {
                let waited = match self.phase {
                    Phase::Initializing(t)
                    | Phase::SendingOffsets(t)
                    | Phase::Committing(t)
                    | Phase::Aborting(t) => t == token,
                    _ => false,
                };
                if !waited {
                    return;
                }
                if let Phase::Aborting(_) = self.phase {
                    // Aborted (or not: the successor fences it anyway);
                    // the consumer's positions are past what the
                    // transaction carried, so start over from the
                    // committed offsets, as a new instance.
                    let how = result.map_or_else(|e| e.to_string(), |()| "ok".into());
                    self.fail(format!("aborted ({how})"), trace, now_us);
                    return;
                }
                if let Err(e) = result {
                    if e.is_abortable() {
                        trace.line(now_us, &self.name, || format!("aborts after: {e}"));
                        self.abort(engine, now);
                    } else {
                        // Fatal: this instance stops; its successor fences
                        // it and aborts what it left.
                        self.fail(format!("transaction: {e}"), trace, now_us);
                    }
                    return;
                }
                match self.phase {
                    Phase::Initializing(_) => {
                        trace.line(now_us, &self.name, || "initialized".into());
                        self.phase = Phase::Ready;
                    }
                    Phase::SendingOffsets(_) => self.commit(engine, now, trace, now_us),
                    Phase::Committing(_) => {
                        trace.line(now_us, &self.name, || {
                            format!("committed {} records", self.in_transaction)
                        });
                        self.committed += 1;
                        self.phase = Phase::Ready;
                        self.in_transaction = 0;
                        self.positions.clear();
                        if std::mem::take(&mut self.revocation_pending) {
                            engine.consumer(self.consumer, now, |c, client| {
                                c.revocation_done(client, now)
                            });
                        }
                    }
                    _ => {}
                }
            }
            // A record of the transaction failed: it cannot commit, so
            // the transaction is aborted (unless that is under way).
            ProducerEvent::Failed { error, .. }
                if !matches!(self.phase, Phase::Failed | Phase::Aborting(_)) =>
            {
                trace.line(now_us, &self.name, || {
                    format!("aborts after a record: {error}")
                });
                self.abort(engine, now);
            }
            _ => {}
        }
        self.work(engine, (now, wall_ms), trace, now_us);
    }

    /// The plain offset commit of the injected bug was answered.
    fn on_outside_commit(&mut self, engine: &mut Engine, now: Instant, ok: bool) {
        if self.phase != Phase::CommittingOutside {
            return;
        }
        if ok {
            self.commit_now(engine, now);
        } else {
            self.phase = Phase::Failed;
            self.failure
                .get_or_insert("plain offset commit failed".into());
        }
    }

    /// Time passed: commits a transaction whose linger ran out.
    pub fn on_timeout(
        &mut self,
        engine: &mut Engine,
        (now, wall_ms): (Instant, i64),
        trace: &mut Trace,
        now_us: u64,
    ) {
        self.work(engine, (now, wall_ms), trace, now_us);
    }

    fn take_records(&mut self, r: FetchedRecords, trace: &mut Trace, now_us: u64) {
        trace.line(now_us, &self.name, || {
            format!(
                "records {}-{} {}..={}",
                r.topic,
                r.partition,
                r.records.first_offset().unwrap_or(-1),
                r.records.last_offset().unwrap_or(-1)
            )
        });
        let queue = self.pending.entry(r.partition).or_default();
        for record in r.records.iter() {
            let value = record
                .value
                .as_ref()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            queue.push((record.offset, value));
        }
        *self.held.entry(r.partition).or_default() += 1;
    }

    fn forget(&mut self, partitions: &[i32]) {
        for p in partitions {
            self.pending.remove(p);
            self.held.remove(p);
            self.next.remove(p);
        }
    }

    /// Transforms what is pending inside a transaction, and commits when
    /// the batch is full or the linger ran out.
    fn work(
        &mut self,
        engine: &mut Engine,
        (now, wall_ms): (Instant, i64),
        trace: &mut Trace,
        now_us: u64,
    ) {
        let has_pending = self.pending.values().any(|q| !q.is_empty());
        if self.phase == Phase::Ready && has_pending && !self.revocation_pending {
            let begun = engine
                .producer(self.producer, now, |p, _| p.begin_transaction())
                .unwrap_or(Ok(()));
            if let Err(e) = begun {
                self.fail(format!("begin: {e}"), trace, now_us);
                return;
            }
            self.phase = Phase::InTransaction(now);
        }
        if let Phase::InTransaction(since) = self.phase {
            self.transform(engine, (now, wall_ms), trace, now_us);
            if self.phase == Phase::Failed {
                return;
            }
            let due = self.in_transaction >= self.batch || now >= since + self.linger;
            if due && self.in_transaction > 0 {
                self.start_commit(engine, now, trace, now_us);
            }
        }
    }

    /// One output record per pending input record, and the chunks
    /// released.
    fn transform(
        &mut self,
        engine: &mut Engine,
        (now, wall_ms): (Instant, i64),
        trace: &mut Trace,
        now_us: u64,
    ) {
        let pending = std::mem::take(&mut self.pending);
        let mut outputs = Vec::new();
        for (partition, records) in &pending {
            for (offset, value) in records {
                let next = self.next.entry(*partition).or_insert(*offset);
                if *offset != *next {
                    continue; // already transformed (an overlapping chunk)
                }
                *next = offset + 1;
                outputs.push((*partition, *offset, format!("o{value}")));
            }
        }
        let held = std::mem::take(&mut self.held);
        let results = engine.producer(self.producer, now, |producer, client| {
            outputs
                .iter()
                .map(|(partition, _, value)| {
                    let record = ProducerRecord::new(OUTPUT_TOPIC)
                        .partition(*partition)
                        .value(Bytes::from(value.clone()));
                    producer.send(client, record, now, wall_ms)
                })
                .collect::<Vec<_>>()
        });
        for ((partition, offset, _), result) in outputs.iter().zip(results.unwrap_or_default()) {
            if let Err(e) = result {
                self.fail(format!("send: {e}"), trace, now_us);
                return;
            }
            self.positions.insert(*partition, offset + 1);
            self.in_transaction += 1;
        }
        engine.consumer(self.consumer, now, |c, client| {
            for (partition, count) in &held {
                for _ in 0..*count {
                    c.release(client, TOPIC, *partition, now);
                }
            }
        });
    }

    /// Puts the consumed positions into the transaction (or, with the
    /// injected bug, commits them outside it), then commits.
    fn start_commit(&mut self, engine: &mut Engine, now: Instant, trace: &mut Trace, now_us: u64) {
        let offsets: Vec<TransactionOffset> = self
            .positions
            .iter()
            .map(|(p, o)| TransactionOffset::new(TOPIC, *p, *o))
            .collect();
        trace.line(now_us, &self.name, || {
            format!("commit {:?}", self.positions)
        });
        if self.bug == Some(EosBug::OffsetsOutsideTransaction) {
            let positions = self.positions.clone();
            engine.consumer(self.consumer, now, |c, client| {
                for (p, o) in &positions {
                    c.consumed(TOPIC, *p, *o);
                }
                c.commit_consumed(client, now);
            });
            self.phase = Phase::CommittingOutside;
            return;
        }
        let Some(metadata) = engine
            .consumer_state(self.consumer)
            .map(|c| c.group_metadata())
        else {
            return;
        };
        let token = engine.producer(self.producer, now, |p, client| {
            p.send_offsets_to_transaction(client, offsets, metadata, now)
        });
        if let Some(token) = token {
            self.phase = Phase::SendingOffsets(token);
        }
    }

    fn commit(&mut self, engine: &mut Engine, now: Instant, trace: &mut Trace, now_us: u64) {
        trace.line(now_us, &self.name, || "end transaction".into());
        self.commit_now(engine, now);
    }

    fn abort(&mut self, engine: &mut Engine, now: Instant) {
        let token = engine.producer(self.producer, now, |p, client| {
            p.abort_transaction(client, now)
        });
        match token {
            Some(token) => self.phase = Phase::Aborting(token),
            None => self.phase = Phase::Failed,
        }
    }

    fn commit_now(&mut self, engine: &mut Engine, now: Instant) {
        let token = engine.producer(self.producer, now, |p, client| {
            p.commit_transaction(client, now)
        });
        if let Some(token) = token {
            self.phase = Phase::Committing(token);
        }
    }
}
