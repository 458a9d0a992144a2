//! The producer state machine: records in, batches per partition, Produce
//! requests per leader broker, deliveries out. Like the client, it does no
//! IO: it rides on a [`Client`] that the caller passes to every call, and
//! claims the client's events for the requests it sent.
//!
//! Ordering and exactly-once per partition come from idempotence (KIP-98):
//! a producer id from InitProducerId, a sequence number per partition
//! stamped on each batch when it is first sent, and retries that resend the
//! same bytes in the same order. A partition has one batch in flight at a
//! time, so a failed batch goes back to the front of its partition and is
//! resent before anything after it. How a partition whose sequence went
//! wrong starts over, without a batch that may be in the log ever being
//! numbered twice, is in [`idempotence`].

use std::collections::{BTreeMap, VecDeque};

use super::id_window::IdWindow;
use super::topic_key::TopicKey;
use std::sync::Arc;

mod awaiting;
mod idempotence;
mod partition_queue;
mod place;
mod send_many;
mod transactional;

use awaiting::AwaitingTopic;
use idempotence::{Identity, ProducerIdState};
use partition_queue::{PartitionKey, PartitionQueues};
use std::time::{Duration, Instant};
use transactional::Transactions;

use super::batch::Batch;
use super::batch_buffers::BatchBuffers;
use super::config::{Acks, ProducerConfig};
use super::delivered_batch::DeliveredBatch;
use super::outgoing::Outgoing;
use super::partitioner::StickyPartitioner;
use super::record::{DeliveryId, ProduceError, ProducerEvent, ProducerRecord};
use super::sequence::increment_sequence;
use crate::client::{Client, Event, RequestError, RequestId, RequestOptions, Rng, Target};
use crate::protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use crate::protocol::messages::produce_response::PartitionProduceResponse;
use crate::protocol::messages::ProduceRequest;
use crate::protocol::{AnyResponse, ErrorCode, VersionRange};

/// Produce versions that carry RecordBatch v2.
const V2_PRODUCE: VersionRange = VersionRange {
    min: 3,
    max: i16::MAX,
};
/// Produce versions that carry legacy message sets.
const LEGACY_PRODUCE: VersionRange = VersionRange { min: 0, max: 2 };

#[derive(Debug)]
struct InFlightProduce {
    broker: i32,
    batches: Vec<Batch>,
    /// Produce v0-v2: the request carried legacy message sets.
    legacy: bool,
}

/// The producer core.
#[derive(Debug)]
pub struct ProducerMachine {
    config: ProducerConfig,
    rng: Rng,
    sticky: StickyPartitioner,
    producer_id: ProducerIdState,
    identity: Identity,
    partitions: PartitionQueues,
    awaiting: BTreeMap<String, AwaitingTopic>,
    in_flight: BTreeMap<RequestId, InFlightProduce>,
    in_flight_per_broker: BTreeMap<i32, usize>,
    buffered: usize,
    next_delivery: u64,
    /// Flush requests: token -> every delivery id issued before it.
    flushes: Vec<(u64, u64)>,
    next_flush: u64,
    flushing: bool,
    events: VecDeque<ProducerEvent>,
    /// Delivery ids not yet reported, to know when flushes complete.
    outstanding: IdWindow<()>,
    /// The partition count `send` last looked up: its topic, and the
    /// metadata generation it was read at. A run of records to one topic
    /// then skips the metadata lookup.
    last_count: Option<(Arc<str>, u64, u32)>,
    /// Where new batches are written (reused from acknowledged ones).
    buffers: BatchBuffers,
    /// When `drive` last ran: linger and retry deadlines up to then were
    /// acted on, and what still holds their batches back (a batch in
    /// flight, a missing leader, the producer id) ends with an event, not
    /// a timer.
    driven_at: Option<Instant>,
    /// With a transactional id: the transaction's state.
    transactions: Option<Transactions>,
}

impl ProducerMachine {
    /// A producer with these settings, started at `now`. `seed` seeds its
    /// random choices (sticky partitions, retry jitter): same inputs, same outputs.
    pub fn new(config: ProducerConfig, seed: u64, now: Instant) -> Self {
        let buffers = BatchBuffers::new(config.batch_size);
        let (producer_id, event) = ProducerIdState::initial(&config, now);
        let transactions = config
            .transactional_id
            .clone()
            .map(|id| Transactions::new(id, config.transaction_timeout));
        ProducerMachine {
            config,
            rng: Rng::new(seed),
            sticky: StickyPartitioner::default(),
            producer_id,
            identity: Identity::default(),
            partitions: PartitionQueues::default(),
            awaiting: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            in_flight_per_broker: BTreeMap::new(),
            buffered: 0,
            next_delivery: 1,
            flushes: Vec::new(),
            next_flush: 1,
            flushing: false,
            events: event.into_iter().collect(),
            outstanding: IdWindow::default(),
            last_count: None,
            buffers,
            driven_at: None,
            transactions,
        }
    }

    /// The settings it was made with.
    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }

    /// Bytes of records buffered and not yet acknowledged.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Whether idempotence is in force: a producer id arrived, and the
    /// producer has not gone on without it (while a new id is on its way
    /// after the first, it still is).
    pub fn is_idempotent(&self) -> bool {
        match self.producer_id {
            ProducerIdState::Ready { .. } => true,
            ProducerIdState::Needed { .. } | ProducerIdState::Requesting(_) => self.identity.had_id,
            ProducerIdState::Disabled | ProducerIdState::Failed(_) => false,
        }
    }

    /// Queues a record. `wall_clock_ms` stamps records without a timestamp
    /// (the core reads no clock). Fails at once with `QueueFull` when the
    /// buffer limit would be passed; the async layer waits and retries.
    pub fn send(
        &mut self,
        client: &mut Client,
        record: ProducerRecord,
        now: Instant,
        wall_clock_ms: i64,
    ) -> Result<DeliveryId, ProduceError> {
        self.send_outgoing(client, record, now, wall_clock_ms)
    }

    fn send_outgoing<R: Outgoing>(
        &mut self,
        client: &mut Client,
        record: R,
        now: Instant,
        wall_clock_ms: i64,
    ) -> Result<DeliveryId, ProduceError> {
        if let Some(refused) = self.refusal() {
            return Err(refused);
        }
        let size = record.estimated_size();
        self.admit(size)?;
        let id = self.take_id(size);
        let timestamp = record.timestamp().unwrap_or(wall_clock_ms);
        // Records of this topic still waiting for its metadata go first,
        // even when the metadata has just arrived: send order is partition
        // order.
        if self.awaiting.contains_key(&**record.topic()) {
            self.place_awaiting(client, now);
        }
        let count = match self.awaiting.contains_key(&**record.topic()) {
            true => None,
            false => self.partition_count(client, record.topic()),
        };
        let batch_ready = match count {
            Some(count) => self.place(id, &record, timestamp, size, count, now),
            None => {
                let generation = client.metadata_generation();
                let topic = Arc::clone(record.topic());
                let record = record.into_owned();
                let entry =
                    self.awaiting
                        .entry(topic.to_string())
                        .or_insert_with(|| AwaitingTopic {
                            records: Vec::new(),
                            asked_at_generation: generation,
                            asked_at: now,
                            ask_again_at: None,
                        });
                entry.records.push((id, record, timestamp, size));
                client.add_topics(&[topic], now);
                false
            }
        };
        if batch_ready || !self.records_only_join_batches() {
            self.drive(client, now);
        }
        Ok(id)
    }

    /// Whether a record can take `size` more bytes: within the largest
    /// request and the buffer.
    #[inline]
    fn admit(&self, size: usize) -> Result<(), ProduceError> {
        if size > self.config.max_request_size {
            return Err(ProduceError::RecordTooLarge {
                size,
                limit: self.config.max_request_size,
            });
        }
        if self.buffered + size > self.config.buffer_memory {
            return Err(ProduceError::QueueFull {
                limit: self.config.buffer_memory,
            });
        }
        Ok(())
    }

    /// The next record's delivery id, its `size` counted as buffered.
    #[inline]
    fn take_id(&mut self, size: usize) -> DeliveryId {
        let id = DeliveryId(self.next_delivery);
        self.next_delivery += 1;
        self.buffered += size;
        self.outstanding.insert(id.0, ());
        id
    }

    /// Most records only join a lingering batch: nothing to send until a
    /// batch fills or lingers out (the timer's job), so the per-record path
    /// skips the pass over every partition. Not while flushing, without
    /// linger, or while the producer id is still to come.
    #[inline]
    fn records_only_join_batches(&self) -> bool {
        let idle_id = matches!(
            self.producer_id,
            ProducerIdState::Ready { .. } | ProducerIdState::Disabled
        );
        idle_id && !self.flushing && !self.config.linger.is_zero()
    }

    /// Sends everything queued without waiting for linger; reports
    /// [`ProducerEvent::Flushed`] with the returned token once every record
    /// sent before the call is delivered or failed.
    pub fn flush(&mut self, client: &mut Client, now: Instant) -> u64 {
        let token = self.next_flush;
        self.next_flush += 1;
        self.flushes.push((token, self.next_delivery));
        self.flushing = true;
        self.drive(client, now);
        self.check_flushes();
        token
    }

    /// Offers a client event; returns true when it belonged to the producer.
    pub fn handle_client_event(
        &mut self,
        client: &mut Client,
        event: &Event,
        now: Instant,
    ) -> bool {
        let claimed = match event {
            Event::Response { id, result }
                if self.handle_transaction_answer(client, *id, result, now) =>
            {
                true
            }
            Event::Response { id, result } => {
                if let ProducerIdState::Requesting(pending) = self.producer_id {
                    if pending == *id {
                        self.handle_init_producer_id(result, now);
                        self.drive(client, now);
                        return true;
                    }
                }
                match self.in_flight.remove(id) {
                    Some(request) => {
                        self.handle_produce_result(client, request, result, now);
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        };
        self.drive(client, now);
        claimed
    }

    /// Time has reached `now`: fails records past the delivery timeout and
    /// sends what linger and backoff no longer hold back.
    pub fn handle_timeout(&mut self, client: &mut Client, now: Instant) {
        self.expire(now);
        self.drive(client, now);
    }

    /// The next moment `handle_timeout` is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        // A deadline `drive` already saw would be in the past: a driver
        // sleeping until it would spin (kafkite-sim found this while a
        // partition's batch was in flight).
        let driven_at = self.driven_at;
        let pending = |t: Instant| driven_at.is_none_or(|d| t > d);
        for q in self.partitions.values() {
            // Only a partition's first batch goes out, and only while it
            // has none in flight (see `send_ready_batches`); the answer to
            // the one in flight drives the next. Waking for a later
            // batch's linger or for a busy partition would find nothing to
            // send (against a slow broker, a wake-up per batch).
            if let Some(first) = q.ready.front().filter(|_| q.in_flight == 0) {
                if first.is_open() && pending(first.created + self.config.linger) {
                    consider(first.created + self.config.linger);
                }
                if let Some(t) = first.retry_at.filter(|t| pending(*t)) {
                    consider(t);
                }
            }
            // A queue is in creation order (a batch put back goes to the
            // front, and it was the oldest): its first batch expires first.
            // Reading only that keeps this O(partitions), however many
            // batches wait.
            if let Some(first) = q.ready.front() {
                consider(first.created + self.config.delivery_timeout);
            }
        }
        for a in self.awaiting.values() {
            consider(a.asked_at + self.config.delivery_timeout);
            if let Some(t) = a.ask_again_at {
                consider(t);
            }
        }
        if let ProducerIdState::Needed { at } = self.producer_id {
            consider(at);
        }
        if let Some(t) = self.transactions.as_ref().and_then(|t| t.poll_timeout()) {
            consider(t);
        }
        next
    }

    /// The next event, in the order they happened; `None` when there is none.
    pub fn poll_event(&mut self) -> Option<ProducerEvent> {
        self.events.pop_front()
    }

    // ---- sending ----

    /// Moves everything that can move: producer id, ready batches onto
    /// their leaders.
    fn drive(&mut self, client: &mut Client, now: Instant) {
        self.driven_at = Some(now);
        self.place_awaiting(client, now);
        self.ask_again_for_topics(client, now);
        self.request_producer_id(client, now);
        if self.fail_without_idempotence(now) {
            return;
        }
        if !matches!(
            self.producer_id,
            ProducerIdState::Needed { .. } | ProducerIdState::Requesting(_)
        ) {
            self.send_ready_batches(client, now);
        }
        self.drive_transaction(client, now);
    }

    fn batch_is_sendable(&self, batch: &Batch, now: Instant) -> bool {
        if batch.retry_at.is_some_and(|t| t > now) {
            return false;
        }
        !batch.is_open()
            || self.flushing
            || self.committing()
            || batch.size() >= self.config.batch_size
            || batch.created + self.config.linger <= now
    }

    fn send_ready_batches(&mut self, client: &mut Client, now: Instant) {
        // Per leader: at most one batch per partition per request, up to
        // max.request.size.
        let mut per_broker: BTreeMap<i32, Vec<PartitionKey>> = BTreeMap::new();
        let mut missing_leader = false;
        for (tp, queue) in self.partitions.iter() {
            // One batch of a partition in flight at a time: a broker that
            // does not check sequences (librdkafka's mock wrote a batch
            // whose predecessor had failed) would otherwise write a later
            // batch ahead of a retried one, and without idempotence any
            // broker would. Requests still pipeline across partitions, up
            // to `max_in_flight` per broker.
            if queue.in_flight > 0 {
                continue;
            }
            let Some(first) = queue.ready.front() else {
                continue;
            };
            // In a transaction, only once the partition is in it.
            if let Some(txn) = self.transactions.as_mut() {
                if !txn.admits(tp) {
                    continue;
                }
            }
            if !self.batch_is_sendable(first, now) {
                continue;
            }
            match client.metadata().leader(tp.0.as_str(), tp.1) {
                Some(leader) => per_broker.entry(leader).or_default().push(tp.clone()),
                None => missing_leader = true,
            }
        }
        tracing::trace!(
            brokers = per_broker.len(),
            missing_leader,
            awaiting = self.awaiting.len(),
            next = ?self.poll_timeout(),
            "producer drove"
        );
        if missing_leader {
            client.refresh_metadata(now);
        }
        for (broker, tps) in per_broker {
            let in_flight = self.in_flight_per_broker.get(&broker).copied().unwrap_or(0);
            if in_flight >= self.config.max_in_flight {
                continue;
            }
            self.send_to_broker(client, broker, tps, now);
        }
        self.check_flushes();
    }

    fn send_to_broker(
        &mut self,
        client: &mut Client,
        broker: i32,
        tps: Vec<PartitionKey>,
        now: Instant,
    ) {
        let producer = self.current_producer();
        let mut batches = Vec::new();
        let mut total = 0usize;
        let mut legacy: Option<bool> = None;
        for tp in tps {
            let Some(queue) = self.partitions.get_mut(&tp) else {
                continue;
            };
            let Some(front) = queue.ready.front() else {
                continue;
            };
            let is_legacy = queue.legacy_magic.is_some();
            if legacy.is_some_and(|l| l != is_legacy) {
                continue;
            }
            if total > 0 && total + front.size() > self.config.max_request_size {
                break;
            }
            let Some(mut batch) = queue.ready.pop_front() else {
                continue;
            };
            if let Some(txn) = self.transactions.as_mut() {
                txn.sent(&tp);
            }
            // A batch stamped before (a retry) keeps its stamp, whatever
            // the producer's identity now: see `idempotence`.
            if batch.needs_stamp(producer.is_some() && !is_legacy) {
                let (pid, sequence) = match producer {
                    Some(p) if !is_legacy => {
                        // Nothing of this partition is unresolved (this
                        // is its only stamped batch): a new identity
                        // starts it at 0.
                        if queue.producer != Some(p) {
                            queue.producer = Some(p);
                            queue.next_sequence = 0;
                        }
                        (p, queue.next_sequence)
                    }
                    _ => ((-1, -1), -1),
                };
                let transactional = self.transactions.is_some() && sequence >= 0;
                if let Err(e) = batch.seal(pid, sequence, transactional) {
                    self.fail_batch(batch, e, now);
                    continue;
                }
                if sequence >= 0 {
                    queue.next_sequence =
                        increment_sequence(queue.next_sequence, batch.record_count());
                }
            }
            if let Some(magic) = queue.legacy_magic {
                if let Err(e) = batch.downgrade(magic) {
                    self.fail_batch(batch, e, now);
                    continue;
                }
            }
            if let Some(queue) = self.partitions.get_mut(&tp) {
                queue.in_flight += 1;
            }
            legacy = Some(is_legacy);
            total += batch.size();
            batches.push(batch);
        }
        if batches.is_empty() {
            return;
        }
        let legacy = legacy.unwrap_or(false);
        let mut topics: BTreeMap<&str, Vec<PartitionProduceData>> = BTreeMap::new();
        for b in &batches {
            topics
                .entry(&b.topic)
                .or_default()
                .push(PartitionProduceData {
                    index: b.partition,
                    records: b.sealed.clone(),
                    ..Default::default()
                });
        }
        let request = ProduceRequest {
            transactional_id: self.transactions.as_ref().map(|t| t.id().to_string()),
            acks: self.config.acks.to_wire(),
            timeout_ms: self
                .config
                .request_timeout
                .as_millis()
                .min(i32::MAX as u128) as i32,
            topic_data: topics
                .into_iter()
                .map(|(name, partition_data)| TopicProduceData {
                    name: name.to_string(),
                    partition_data,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let options = RequestOptions {
            // Without a transactional id v12 is v11: the batch is appended
            // as before. With one, the transaction protocol decides.
            versions: match (legacy, self.transactions.as_ref()) {
                (true, _) => LEGACY_PRODUCE,
                (false, None) => V2_PRODUCE,
                (false, Some(txn)) => txn.protocol().produce_versions(),
            },
            // The broker may take the produce timeout to answer; allow it
            // that plus a margin for the network.
            timeout: Some(self.config.request_timeout + Duration::from_secs(5)),
            expect_response: self.config.acks != Acks::None,
        };
        for b in &mut batches {
            b.attempts += 1;
        }
        let id = client.send_with(Target::Broker(broker), request, options, now);
        tracing::trace!(
            broker,
            batches = batches.len(),
            request = id.0,
            "produce sent"
        );
        *self.in_flight_per_broker.entry(broker).or_default() += 1;
        self.in_flight.insert(
            id,
            InFlightProduce {
                broker,
                batches,
                legacy,
            },
        );
    }

    // ---- answers ----

    fn handle_produce_result(
        &mut self,
        client: &mut Client,
        request: InFlightProduce,
        result: &Result<crate::client::Response, RequestError>,
        now: Instant,
    ) {
        if let Some(n) = self.in_flight_per_broker.get_mut(&request.broker) {
            *n = n.saturating_sub(1);
        }
        for b in &request.batches {
            if let Some(q) = self
                .partitions
                .get_mut(&(TopicKey(Arc::clone(&b.topic)), b.partition))
            {
                q.in_flight = q.in_flight.saturating_sub(1);
            }
        }
        let response = match result {
            Ok(r) => r,
            // Transactions need RecordBatch v2 (and, under the second
            // protocol, v12): no legacy rewrite, the batches fail below.
            Err(RequestError::UnsupportedVersion { .. })
                if !request.legacy && self.transactions.is_none() =>
            {
                // The broker predates RecordBatch v2: rewrite as legacy.
                let magic = match client
                    .broker_versions(request.broker)
                    .and_then(|t| t.choose(crate::protocol::ApiKey::Produce, LEGACY_PRODUCE))
                {
                    Some(2) => 1,
                    _ => 0,
                };
                for b in request.batches {
                    if let Some(q) = self
                        .partitions
                        .get_mut(&(TopicKey(Arc::clone(&b.topic)), b.partition))
                    {
                        q.legacy_magic = Some(magic);
                    }
                    self.requeue(b, now, false);
                }
                return;
            }
            Err(e) if e.is_retriable() => {
                tracing::debug!(broker = request.broker, error = %e, "produce retried");
                client.refresh_metadata(now);
                for b in request.batches {
                    self.requeue(b, now, true);
                }
                return;
            }
            Err(e) => {
                for b in request.batches {
                    self.fail_batch(b, ProduceError::Request(Box::new(e.clone())), now);
                }
                return;
            }
        };
        let answers: BTreeMap<(String, i32), PartitionProduceResponse> = match &response.body {
            Some(AnyResponse::Produce(r)) => r
                .responses
                .iter()
                .flat_map(|t| {
                    t.partition_responses
                        .iter()
                        .map(move |p| ((t.name.clone(), p.index), p.clone()))
                })
                .collect(),
            // acks=0: written, no answer will come.
            None => {
                for b in request.batches {
                    self.deliver(b, -1, -1);
                }
                return;
            }
            Some(_) => BTreeMap::new(),
        };
        for mut batch in request.batches {
            let key = (batch.topic.to_string(), batch.partition);
            let Some(answer) = answers.get(&key) else {
                // A partition missing from the answer: treat as retriable.
                self.requeue(batch, now, true);
                continue;
            };
            let code = ErrorCode(answer.error_code);
            if code.is_ok() {
                self.deliver(batch, answer.base_offset, answer.log_append_time_ms);
            } else if code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER {
                // Already written by an earlier attempt.
                self.deliver(batch, answer.base_offset, answer.log_append_time_ms);
            } else if self.transactions.is_some()
                && (code == ErrorCode::UNKNOWN_PRODUCER_ID
                    || code == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
            {
                // In a transaction the batch fails and the transaction
                // must abort; the epoch is bumped after (see
                // `transactional`).
                let error = ProduceError::Broker {
                    topic: batch.topic.to_string(),
                    partition: batch.partition,
                    code,
                };
                self.fail_batch(batch, error, now);
            } else if code == ErrorCode::UNKNOWN_PRODUCER_ID
                || code == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
            {
                // The broker forgot this producer here, or lost batches
                // of it: this batch is not in the log (see `idempotence`),
                // so it alone is numbered afresh, under a new epoch.
                self.start_new_epoch(batch.producer, now);
                batch.reset_sequence();
                self.requeue(batch, now, true);
            } else if code == ErrorCode::INVALID_PRODUCER_EPOCH {
                // The broker knows a newer epoch of this id than ours
                // (nothing this producer did): fail the batch, as the Java
                // client does, since an earlier attempt's outcome is not
                // known, and go on under a new id.
                self.start_new_producer_id(batch.producer, now);
                let error = ProduceError::Broker {
                    topic: batch.topic.to_string(),
                    partition: batch.partition,
                    code,
                };
                self.fail_batch(batch, error, now);
            } else if code.is_retriable() {
                tracing::debug!(partition = batch.partition, %code, "batch retried");
                if code.is_stale_metadata() {
                    client.refresh_metadata(now);
                }
                self.requeue(batch, now, true);
            } else {
                let error = ProduceError::Broker {
                    topic: batch.topic.to_string(),
                    partition: batch.partition,
                    code,
                };
                self.fail_batch(batch, error, now);
            }
        }
    }

    /// Puts a batch back at the front of its partition, after a backoff. It
    /// was the partition's only batch in flight, so everything queued there
    /// comes after it. It keeps its producer id, epoch and sequence: it may
    /// be in the log, and only the same three let the broker see that.
    fn requeue(&mut self, mut batch: Batch, now: Instant, backoff: bool) {
        if backoff {
            let exp = batch.attempts.saturating_sub(1).min(10);
            let base = self
                .config
                .retry_backoff
                .saturating_mul(1 << exp)
                .min(self.config.retry_backoff_max);
            let jitter = 0.8 + 0.4 * self.rng.unit();
            batch.retry_at = Some(now + base.mul_f64(jitter));
        }
        let tp = (TopicKey(Arc::clone(&batch.topic)), batch.partition);
        self.partitions.entry(tp).ready.push_front(batch);
    }

    fn deliver(&mut self, mut batch: Batch, base_offset: i64, log_append_time: i64) {
        self.buffered = self.buffered.saturating_sub(batch.reserved);
        for entry in &batch.entries {
            self.outstanding.remove(entry.id.0);
        }
        let records = std::mem::take(&mut batch.entries);
        self.events
            .push_back(ProducerEvent::Delivered(DeliveredBatch::new(
                Arc::clone(&batch.topic),
                batch.partition,
                base_offset,
                log_append_time,
                records,
            )));
        self.buffers.keep(batch);
        self.check_flushes();
    }

    /// Sets the sequence the next batch of a partition is stamped with, as
    /// if that many records had gone before it (for tests of the wrap at
    /// `i32::MAX`, 2^31 records away).
    #[cfg(test)]
    pub(crate) fn set_next_sequence(&mut self, topic: &str, partition: i32, sequence: i32) {
        let producer = self.current_producer();
        let queue = self.partitions.queue_for(&Arc::from(topic), partition);
        queue.producer = producer;
        queue.next_sequence = sequence;
    }

    /// Buffers kept for new batches (for tests).
    #[cfg(test)]
    pub(crate) fn spare_buffers(&self) -> usize {
        self.buffers.len()
    }

    /// Fails a batch's records. A batch that was stamped leaves its
    /// sequence numbers unaccounted for (it may or may not be in the log),
    /// which the broker would take for a gap: its partition goes on under
    /// a new epoch.
    fn fail_batch(&mut self, batch: Batch, error: ProduceError, now: Instant) {
        if batch.base_sequence >= 0 && batch.legacy_magic.is_none() {
            self.start_new_epoch(batch.producer, now);
        }
        self.transaction_record_failed(&error, now);
        self.buffered = self.buffered.saturating_sub(batch.reserved);
        for entry in &batch.entries {
            self.report_failure(entry.id, error.clone());
        }
        self.buffers.keep(batch);
        self.check_flushes();
    }

    fn fail(&mut self, id: DeliveryId, size: usize, error: ProduceError, now: Instant) {
        self.transaction_record_failed(&error, now);
        self.buffered = self.buffered.saturating_sub(size);
        self.report_failure(id, error);
        self.check_flushes();
    }

    fn report_failure(&mut self, id: DeliveryId, error: ProduceError) {
        self.outstanding.remove(id.0);
        self.events.push_back(ProducerEvent::Failed { id, error });
    }

    /// Fails batches and waiting records past the delivery timeout. A
    /// batch in flight is left to its request's own timeout.
    fn expire(&mut self, now: Instant) {
        let timeout = self.config.delivery_timeout;
        let mut expired = Vec::new();
        self.partitions.for_each_mut(|queue| {
            // In creation order (see `poll_timeout`): the expired ones are
            // at the front.
            while queue
                .ready
                .front()
                .is_some_and(|b| b.created + timeout <= now)
            {
                if let Some(b) = queue.ready.pop_front() {
                    expired.push(b);
                }
            }
        });
        for b in expired {
            let error = ProduceError::DeliveryTimeout {
                topic: b.topic.to_string(),
                partition: b.partition,
            };
            self.fail_batch(b, error, now);
        }
        let topics: Vec<String> = self.awaiting.keys().cloned().collect();
        for topic in topics {
            let late = self
                .awaiting
                .get(&topic)
                .is_some_and(|a| a.asked_at + timeout <= now);
            if late {
                if let Some(waiting) = self.awaiting.remove(&topic) {
                    for (id, _, _, size) in waiting.records {
                        self.fail(
                            id,
                            size,
                            ProduceError::DeliveryTimeout {
                                topic: topic.clone(),
                                partition: -1,
                            },
                            now,
                        );
                    }
                }
            }
        }
    }

    fn check_flushes(&mut self) {
        let oldest_outstanding = self.outstanding.oldest();
        let mut done = Vec::new();
        self.flushes.retain(|(token, before)| {
            let complete = oldest_outstanding.is_none_or(|o| o >= *before);
            if complete {
                done.push(*token);
            }
            !complete
        });
        for token in done {
            self.events.push_back(ProducerEvent::Flushed { token });
        }
        if self.flushes.is_empty() {
            self.flushing = false;
        }
    }
}
