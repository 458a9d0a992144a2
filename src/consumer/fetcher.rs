//! Fetching: a cursor per partition, one Fetch in flight per leader broker,
//! offset resets through ListOffsets, and records handed out a fetch at a
//! time.
//!
//! Back-pressure: a partition is fetched again only after the caller
//! releases what was handed out for it ([`FetcherMachine::release`]), with one
//! fetch allowed ahead, so memory stays bounded and throughput does not fall
//! to one round trip per record. A leader change moves a partition to the
//! new leader's fetch on the next round; every fetch error reaches the
//! caller as an event, none is dropped.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::admin::{list_offsets_outcome, list_offsets_requests, OffsetSpec};
use crate::client::{Client, Event, RequestError, RequestId, RequestOptions, Target};
use crate::properties::{Properties, PropertyError};
use crate::protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use crate::protocol::messages::{FetchRequest, FetchResponse};
use crate::protocol::DecodeError;
use crate::protocol::{AnyResponse, ErrorCode, Uuid, VersionRange};
use crate::records::{Batch, Compression, Record, RecordSet};

use super::record_chunk::RecordChunk;

use crate::TopicPartition;

/// What to do when the fetch position is not in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// Start from the log start (`auto.offset.reset=earliest`; the default
    /// in [`FetchConfig`]).
    Earliest,
    /// Start from the end: only new records.
    Latest,
    /// Report the error and stop fetching the partition.
    Error,
}

/// Fetch settings, named after the Java client's.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// `fetch.max.wait.ms`. Default 500 ms.
    pub max_wait: Duration,
    /// `fetch.min.bytes`. Default 1.
    pub min_bytes: i32,
    /// `fetch.max.bytes`. Default 50 MiB.
    pub max_bytes: i32,
    /// `max.partition.fetch.bytes`. Default 1 MiB.
    pub partition_max_bytes: i32,
    /// `auto.offset.reset`. Default earliest.
    pub offset_reset: OffsetReset,
    /// `isolation.level` read_committed (1) or read_uncommitted (0).
    pub read_committed: bool,
    /// Delay before retrying a partition after an error (`retry.backoff.ms`).
    pub retry_backoff: Duration,
    /// The most bytes of records the fetcher holds at once, counted after
    /// decompression (librdkafka's `queued.max.messages.kbytes`): records
    /// being decoded from a response plus chunks handed out and not yet
    /// released. `max_bytes` bounds what a broker sends, compressed; this
    /// bounds what that becomes. A batch that does not fit waits, unread,
    /// until releases make room; one batch is taken even when it alone is
    /// larger (so a big batch can always be read), and never more than
    /// [`crate::records::DEFAULT_DECOMPRESSION_LIMIT`] decompressed. Default
    /// 64 MiB.
    pub max_buffered_bytes: usize,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 50 * 1024 * 1024,
            partition_max_bytes: 1024 * 1024,
            offset_reset: OffsetReset::Earliest,
            read_committed: false,
            retry_backoff: Duration::from_millis(100),
            max_buffered_bytes: 64 * 1024 * 1024,
        }
    }
}

impl FetchConfig {
    /// The config librdkafka or Java client properties describe: the
    /// consumer scope's (`fetch.max.bytes`, `auto.offset.reset`,
    /// `isolation.level`, ...), the rest at the defaults (see
    /// [`crate::properties`]).
    pub fn from_properties(properties: &Properties) -> Result<Self, PropertyError> {
        properties.fetch_config()
    }
}

/// Why a partition's fetch failed, reported as an event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// The fetch position is outside the partition's log and the reset
    /// policy is [`OffsetReset::Error`]: the partition stops until a seek.
    #[error("{topic}-{partition}: offset {offset} is out of range and the reset policy is Error")]
    OffsetOutOfRange {
        /// The partition's topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The position that was out of range.
        offset: i64,
    },
    /// The broker answered the partition's fetch with a non-retriable error
    /// code; the partition is fetched again after `retry_backoff`.
    #[error("{topic}-{partition}: {code:?}")]
    Broker {
        /// The partition's topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The partition's error code in the Fetch response.
        code: ErrorCode,
    },
    /// The fetched records do not decode, or hold offsets no log can (a
    /// negative one, or i64::MAX, after which nothing could be fetched).
    /// The partition is stopped until a seek.
    #[error("{topic}-{partition}: corrupt records: {reason}")]
    Corrupt {
        /// The partition's topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// What is wrong with the records.
        reason: String,
    },
    /// The ListOffsets request that resets the position failed with a
    /// non-retriable error; the partition stops until a seek.
    #[error("{topic}-{partition}: offset reset failed: {reason}")]
    ResetFailed {
        /// The partition's topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The ListOffsets error, as text.
        reason: String,
    },
    /// A Fetch request failed with a non-retriable [`RequestError`]; its
    /// partitions are fetched again after `retry_backoff`.
    #[error("fetch request failed: {0}")]
    Request(RequestError),
    /// KIP-320: the leader's log diverged from what this consumer read (an
    /// unclean leader election, or a follower that became leader without
    /// the records at the end): offsets `lost_from..lost_to` it already
    /// read are no longer the log's. With a reset policy fetching goes on
    /// from `lost_from`, the first offset known to diverge (`resumed_at`);
    /// with [`OffsetReset::Error`] the partition stops until a seek.
    #[error("{topic}-{partition}: log truncated; offsets {lost_from}..{lost_to} already read are gone{}", match resumed_at { Some(at) => format!(", reading on from {at}"), None => String::new() })]
    LogTruncated {
        /// The partition's topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The first offset no longer in the leader's log (the end offset of
        /// the diverging epoch).
        lost_from: i64,
        /// The position this consumer had reached: the end (exclusive) of the
        /// lost range.
        lost_to: i64,
        /// Where fetching goes on; `None` when the partition stopped
        /// ([`OffsetReset::Error`]).
        resumed_at: Option<i64>,
    },
}

/// Records of one partition from one fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedRecords {
    /// The partition's topic.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
    /// The partition's high watermark in this fetch's answer: the offset
    /// after the last record replicated to every in-sync replica.
    pub high_watermark: i64,
    /// In offset order, all at or after the position the fetch asked for.
    pub records: RecordChunk,
}

/// What the fetcher reports.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchEvent {
    /// Records of one partition; call [`FetcherMachine::release`] when done
    /// with them so that the partition is fetched further.
    Records(FetchedRecords),
    /// The position of a partition was reset by the policy.
    Reset {
        /// The partition's topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The new position.
        offset: i64,
    },
    /// A partition's fetch, or a whole Fetch request, failed.
    Error(FetchError),
}

#[derive(Debug, Default)]
struct Cursor {
    /// Next offset to fetch; `None` until known (reset pending).
    position: Option<i64>,
    /// The held bytes of each chunk handed out and not yet released, in
    /// the order they were handed out.
    handed_out: VecDeque<usize>,
    /// The next batch did not fit the budget: fetch again only once this
    /// many bytes are free (or nothing is held).
    needs_room: Option<usize>,
    /// A fetch or reset for it is in flight.
    busy: bool,
    paused: bool,
    /// Stopped by an error under the Error policy, until seek.
    stopped: bool,
    retry_at: Option<Instant>,
    /// Bumped on seek so that answers to older requests are ignored.
    epoch: u64,
    /// The last answer put the position at the high watermark: a fetch of
    /// it will likely wait the whole max wait for new records.
    caught_up: bool,
    /// The leader epoch of the last batch read (KIP-320), sent with the
    /// next fetch so that the leader can tell whether its log diverged
    /// from what was read; `None` after a seek or reset.
    fetched_epoch: Option<i32>,
}

#[derive(Debug)]
enum Pending {
    Fetch {
        broker: i32,
        asked: Vec<(TopicPartition, i64, u64)>,
        /// When it went out: an empty answer is not followed by the next
        /// fetch before the max wait asked for has passed.
        sent_at: Instant,
    },
    Reset {
        tp: TopicPartition,
        epoch: u64,
    },
}

/// The fetch state machine; rides on a [`Client`] like the producer.
#[derive(Debug)]
pub struct FetcherMachine {
    config: FetchConfig,
    cursors: BTreeMap<TopicPartition, Cursor>,
    pending: BTreeMap<RequestId, Pending>,
    brokers_busy: BTreeSet<i32>,
    events: VecDeque<FetchEvent>,
    /// Emptied record chunks handed back with [`FetcherMachine::recycle`], reused
    /// for the next chunks.
    spare_records: Vec<RecordChunk>,
    /// Bytes held in chunks handed out and not released: the part of
    /// `max_buffered_bytes` in use between responses.
    held: usize,
}

/// The budget while one response is decoded.
struct Room {
    /// Bytes taken by this response's chunks so far.
    used: usize,
    /// A batch did not fit: the rest of the response is left for later.
    full: bool,
}

/// Emptied record chunks kept for reuse: about one per partition being
/// handed out at a time.
const MAX_SPARE_RECORD_VECS: usize = 4;

/// Fetch versions whose request carries topic names (v13+ carry ids).
const FETCH_BY_NAME: VersionRange = VersionRange { min: 0, max: 12 };
const FETCH_ANY: VersionRange = VersionRange {
    min: 0,
    max: i16::MAX,
};

impl FetcherMachine {
    /// A fetcher with no partitions; add them with [`FetcherMachine::assign`].
    pub fn new(config: FetchConfig) -> Self {
        FetcherMachine {
            config,
            cursors: BTreeMap::new(),
            pending: BTreeMap::new(),
            brokers_busy: BTreeSet::new(),
            events: VecDeque::new(),
            spare_records: Vec::new(),
            held: 0,
        }
    }

    /// Bytes of records held in chunks handed out and not yet released.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// Forgets what a cursor's unreleased chunks held: they are no longer
    /// this fetcher's to count once the partition is reassigned or gone.
    fn forget_handed_out(held: &mut usize, cursor: &mut Cursor) {
        for bytes in cursor.handed_out.drain(..) {
            *held = held.saturating_sub(bytes);
        }
        cursor.needs_room = None;
    }

    /// Stops every request in flight (see [`Client::abandon`]): for a
    /// fetcher being dropped, so that its long-polling fetches neither
    /// deliver to nobody nor hold up the client's close.
    pub fn abandon_requests(&mut self, client: &mut Client, now: Instant) {
        for (id, _) in std::mem::take(&mut self.pending) {
            client.abandon(id, now);
        }
        self.brokers_busy.clear();
        for cursor in self.cursors.values_mut() {
            cursor.busy = false;
        }
    }

    /// The settings it was made with.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Starts fetching a partition from `offset`, or from where the reset
    /// policy says when `None` (offsets the caller chose, or a group's
    /// committed ones).
    pub fn assign(
        &mut self,
        client: &mut Client,
        topic: &str,
        partition: i32,
        offset: Option<i64>,
        now: Instant,
    ) {
        let cursor = self
            .cursors
            .entry((topic.to_string(), partition))
            .or_default();
        cursor.position = offset;
        cursor.fetched_epoch = None;
        cursor.epoch += 1;
        cursor.caught_up = false;
        cursor.stopped = false;
        cursor.busy = false;
        FetcherMachine::forget_handed_out(&mut self.held, cursor);
        client.add_topics(&[topic], now);
        self.drive(client, now);
    }

    /// Stops fetching a partition; its in-flight answers are dropped.
    pub fn unassign(&mut self, topic: &str, partition: i32) {
        if let Some(mut cursor) = self.cursors.remove(&(topic.to_string(), partition)) {
            FetcherMachine::forget_handed_out(&mut self.held, &mut cursor);
        }
    }

    /// The partitions being fetched.
    pub fn assignment(&self) -> Vec<(String, i32)> {
        self.cursors.keys().cloned().collect()
    }

    /// Moves a partition's position (and drops records already fetched past
    /// the old one, once they arrive).
    pub fn seek(
        &mut self,
        client: &mut Client,
        topic: &str,
        partition: i32,
        offset: i64,
        now: Instant,
    ) {
        self.assign(client, topic, partition, Some(offset), now);
    }

    /// The next offset to fetch for a partition.
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        self.cursors
            .get(&(topic.to_string(), partition))
            .and_then(|c| c.position)
    }

    /// Stops fetching a partition until [`FetcherMachine::resume`]; it keeps
    /// its position, and a fetch already in flight still delivers.
    pub fn pause(&mut self, topic: &str, partition: i32) {
        if let Some(c) = self.cursors.get_mut(&(topic.to_string(), partition)) {
            c.paused = true;
        }
    }

    /// Fetches a paused partition again.
    pub fn resume(&mut self, client: &mut Client, topic: &str, partition: i32, now: Instant) {
        if let Some(c) = self.cursors.get_mut(&(topic.to_string(), partition)) {
            c.paused = false;
        }
        self.drive(client, now);
    }

    /// The caller is done with one [`FetchedRecords`] of this partition.
    pub fn release(&mut self, client: &mut Client, topic: &str, partition: i32, now: Instant) {
        if let Some(c) = self.cursors.get_mut(&(topic.to_string(), partition)) {
            if let Some(bytes) = c.handed_out.pop_front() {
                self.held = self.held.saturating_sub(bytes);
            }
        }
        self.drive(client, now);
    }

    /// Hands back a chunk once its records were all taken out, so the
    /// next chunk is decoded into memory already allocated and touched: a
    /// megabyte of records in a fresh allocation costs more in page faults
    /// than decoding them does.
    pub fn recycle(&mut self, mut records: RecordChunk) {
        records.clear();
        if records.capacity() > 0 && self.spare_records.len() < MAX_SPARE_RECORD_VECS {
            self.spare_records.push(records);
        }
    }

    /// The next event, in the order they happened; `None` when there is none.
    pub fn poll_event(&mut self) -> Option<FetchEvent> {
        self.events.pop_front()
    }

    /// The next moment [`FetcherMachine::handle_timeout`] is due (the end of a
    /// partition's backoff); `None` when nothing waits on time.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.cursors.values().filter_map(|c| c.retry_at).min()
    }

    /// Time has reached `now`: fetches the partitions whose backoff is over.
    pub fn handle_timeout(&mut self, client: &mut Client, now: Instant) {
        self.drive(client, now);
    }

    /// Offers a client event; returns true when it belonged to the fetcher.
    pub fn handle_client_event(
        &mut self,
        client: &mut Client,
        event: &Event,
        now: Instant,
    ) -> bool {
        let claimed = match event {
            Event::Response { id, result } => match self.pending.remove(id) {
                Some(Pending::Fetch {
                    broker,
                    asked,
                    sent_at,
                }) => {
                    self.brokers_busy.remove(&broker);
                    self.handle_fetch(client, (asked, sent_at), result, now);
                    true
                }
                Some(Pending::Reset { tp, epoch }) => {
                    self.handle_reset(client, tp, epoch, result, now);
                    true
                }
                None => false,
            },
            _ => false,
        };
        self.drive(client, now);
        claimed
    }

    // ---- internals ----

    /// Whether `bytes` more may be held now: always when nothing is (so
    /// one batch larger than the budget is still read), else within it.
    fn has_room_for(&self, bytes: usize) -> bool {
        self.held == 0 || self.held.saturating_add(bytes) < self.config.max_buffered_bytes
    }

    fn fetchable(&self, c: &Cursor, now: Instant) -> bool {
        !c.busy
            && !c.paused
            && !c.stopped
            && c.handed_out.len() < 2
            && c.retry_at.is_none_or(|t| t <= now)
            && self.has_room_for(c.needs_room.unwrap_or(0))
    }

    /// Starts resets for partitions without a position, and one fetch per
    /// leader broker that has none in flight.
    fn drive(&mut self, client: &mut Client, now: Instant) {
        // A backoff that has run out is over: [`FetcherMachine::poll_timeout`]
        // must not keep reporting a deadline already passed (a driver would
        // wake for it again and again).
        for c in self.cursors.values_mut() {
            if c.retry_at.is_some_and(|t| t <= now) {
                c.retry_at = None;
            }
        }
        let mut resets = Vec::new();
        let mut per_broker: BTreeMap<i32, Vec<(TopicPartition, i64, u64)>> = BTreeMap::new();
        let mut need_metadata = false;
        for (tp, c) in &self.cursors {
            if !self.fetchable(c, now) {
                continue;
            }
            let Some(leader) = client.metadata().leader(&tp.0, tp.1) else {
                need_metadata = true;
                continue;
            };
            match c.position {
                None => resets.push(tp.clone()),
                Some(offset) => {
                    if !self.brokers_busy.contains(&leader) {
                        per_broker
                            .entry(leader)
                            .or_default()
                            .push((tp.clone(), offset, c.epoch));
                    }
                }
            }
        }
        if need_metadata {
            client.refresh_metadata(now);
        }
        for tp in resets {
            let spec = match self.config.offset_reset {
                OffsetReset::Latest => OffsetSpec::Latest,
                _ => OffsetSpec::Earliest,
            };
            self.start_reset(client, tp, spec, now);
        }
        for (broker, asked) in per_broker {
            if self.only_long_polls(client, broker, &asked) {
                continue;
            }
            self.start_fetch(client, broker, asked, now);
        }
    }

    /// True when a fetch to `broker` would ask only for partitions that
    /// are caught up while another of its partitions waits for the caller
    /// to release records. The broker would hold such a fetch for the
    /// whole max wait, and the waiting partition, once released, could not
    /// be fetched until it came back (one fetch per broker): so hold it
    /// back until the release, which fetches them all together.
    fn only_long_polls(
        &self,
        client: &Client,
        broker: i32,
        asked: &[(TopicPartition, i64, u64)],
    ) -> bool {
        let all_caught_up = asked
            .iter()
            .all(|(tp, _, _)| self.cursors.get(tp).is_some_and(|c| c.caught_up));
        all_caught_up
            && self.cursors.iter().any(|(tp, c)| {
                c.handed_out.len() >= 2
                    && !c.paused
                    && !c.stopped
                    && client.metadata().leader(&tp.0, tp.1) == Some(broker)
            })
    }

    fn start_reset(
        &mut self,
        client: &mut Client,
        tp: TopicPartition,
        spec: OffsetSpec,
        now: Instant,
    ) {
        let plan = list_offsets_requests(client.metadata(), &tp.0, &[tp.1], spec);
        let Some((leader, request)) = plan.requests.into_iter().next() else {
            client.refresh_metadata(now);
            return;
        };
        let epoch = match self.cursors.get_mut(&tp) {
            Some(c) => {
                c.busy = true;
                c.epoch
            }
            None => return,
        };
        let id = client.send(Target::Broker(leader), request, now);
        self.pending.insert(id, Pending::Reset { tp, epoch });
    }

    fn start_fetch(
        &mut self,
        client: &mut Client,
        broker: i32,
        asked: Vec<(TopicPartition, i64, u64)>,
        now: Instant,
    ) {
        let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
        for (tp, offset, _) in &asked {
            // KIP-320: the leader epoch known (a leader with a newer one
            // answers FENCED_LEADER_EPOCH: metadata is refreshed) and the
            // epoch of the last batch read (a leader whose log diverged
            // answers with where: see `diverged`).
            let current_leader_epoch = client
                .metadata()
                .topics
                .get(&tp.0)
                .and_then(|t| t.partitions.iter().find(|p| p.partition == tp.1))
                .map_or(-1, |p| p.leader_epoch);
            let last_fetched_epoch = self
                .cursors
                .get(tp)
                .and_then(|c| c.fetched_epoch)
                .unwrap_or(-1);
            topics.entry(&tp.0).or_default().push(FetchPartition {
                partition: tp.1,
                fetch_offset: *offset,
                partition_max_bytes: self.config.partition_max_bytes,
                current_leader_epoch,
                last_fetched_epoch,
                ..Default::default()
            });
        }
        let mut all_ids_known = true;
        let topics: Vec<FetchTopic> = topics
            .into_iter()
            .map(|(name, partitions)| {
                let topic_id = client
                    .metadata()
                    .topics
                    .get(name)
                    .map_or(Uuid::ZERO, |t| t.topic_id);
                all_ids_known &= topic_id != Uuid::ZERO;
                FetchTopic {
                    topic: name.to_string(),
                    topic_id,
                    partitions,
                    ..Default::default()
                }
            })
            .collect();
        let request = FetchRequest {
            replica_id: -1,
            max_wait_ms: self.config.max_wait.as_millis().min(i32::MAX as u128) as i32,
            min_bytes: self.config.min_bytes,
            max_bytes: self.config.max_bytes,
            isolation_level: i8::from(self.config.read_committed),
            topics,
            ..Default::default()
        };
        let options = RequestOptions {
            // Fetch v13+ names topics by id; without ids, stay at v12.
            versions: if all_ids_known {
                FETCH_ANY
            } else {
                FETCH_BY_NAME
            },
            // The broker holds the fetch up to max_wait before answering.
            timeout: Some(client.config().request_timeout + self.config.max_wait),
            expect_response: true,
        };
        for (tp, _, _) in &asked {
            if let Some(c) = self.cursors.get_mut(tp) {
                c.busy = true;
            }
        }
        let id = client.send_with(Target::Broker(broker), request, options, now);
        self.brokers_busy.insert(broker);
        self.pending.insert(
            id,
            Pending::Fetch {
                broker,
                asked,
                sent_at: now,
            },
        );
    }

    fn handle_fetch(
        &mut self,
        client: &mut Client,
        (asked, sent_at): (Vec<(TopicPartition, i64, u64)>, Instant),
        result: &Result<crate::client::Response, RequestError>,
        now: Instant,
    ) {
        for (tp, _, _) in &asked {
            if let Some(c) = self.cursors.get_mut(tp) {
                c.busy = false;
            }
        }
        let response: &FetchResponse = match result {
            Ok(crate::client::Response {
                body: Some(AnyResponse::Fetch(r)),
                ..
            }) => r,
            Ok(_) => return,
            Err(e) => {
                if e.is_retriable() {
                    client.refresh_metadata(now);
                } else {
                    self.events
                        .push_back(FetchEvent::Error(FetchError::Request(e.clone())));
                }
                for (tp, _, _) in &asked {
                    self.back_off(tp, now);
                }
                return;
            }
        };
        let names_by_id: BTreeMap<Uuid, String> = client
            .metadata()
            .topics
            .values()
            .map(|t| (t.topic_id, t.name.clone()))
            .collect();
        let mut room = Room {
            used: 0,
            full: false,
        };
        let held_before = self.held;
        for topic in &response.responses {
            let name = if topic.topic.is_empty() {
                names_by_id
                    .get(&topic.topic_id)
                    .cloned()
                    .unwrap_or_default()
            } else {
                topic.topic.clone()
            };
            for p in &topic.partitions {
                let tp = (name.clone(), p.partition_index);
                let Some((_, asked_offset, epoch)) = asked.iter().find(|(t, _, _)| *t == tp) else {
                    continue;
                };
                self.handle_partition(client, &tp, (*asked_offset, *epoch), p, &mut room, now);
            }
        }
        if self.held == held_before {
            self.pace_empty_answer(&asked, sent_at, now);
        }
    }

    /// An answer with no records that came before the max wait asked for
    /// has passed (some brokers ignore it, and answer at once): the next
    /// fetch of those partitions waits out the rest, instead of asking
    /// again in a loop.
    fn pace_empty_answer(
        &mut self,
        asked: &[(TopicPartition, i64, u64)],
        sent_at: Instant,
        now: Instant,
    ) {
        let not_before = sent_at + self.config.max_wait;
        if now >= not_before {
            return;
        }
        for (tp, _, _) in asked {
            if let Some(c) = self.cursors.get_mut(tp) {
                if c.retry_at.is_none() && !c.stopped {
                    c.retry_at = Some(not_before);
                }
            }
        }
    }

    fn handle_partition(
        &mut self,
        client: &mut Client,
        tp: &TopicPartition,
        (asked_offset, epoch): (i64, u64),
        p: &crate::protocol::messages::fetch_response::PartitionData,
        room: &mut Room,
        now: Instant,
    ) {
        let Some(cursor) = self.cursors.get_mut(tp) else {
            return;
        };
        if cursor.epoch != epoch || cursor.position != Some(asked_offset) {
            return; // a seek happened meanwhile
        }
        let code = ErrorCode(p.error_code);
        if code == ErrorCode::OFFSET_OUT_OF_RANGE {
            match self.config.offset_reset {
                OffsetReset::Error => {
                    cursor.stopped = true;
                    self.events
                        .push_back(FetchEvent::Error(FetchError::OffsetOutOfRange {
                            topic: tp.0.clone(),
                            partition: tp.1,
                            offset: asked_offset,
                        }));
                }
                policy => {
                    let spec = if policy == OffsetReset::Latest {
                        OffsetSpec::Latest
                    } else {
                        OffsetSpec::Earliest
                    };
                    self.start_reset(client, tp.clone(), spec, now);
                }
            }
            return;
        }
        if !code.is_ok() {
            if code.is_stale_metadata() || code.is_retriable() {
                client.refresh_metadata(now);
            } else {
                self.events.push_back(FetchEvent::Error(FetchError::Broker {
                    topic: tp.0.clone(),
                    partition: tp.1,
                    code,
                }));
            }
            self.back_off(tp, now);
            return;
        }
        if p.diverging_epoch.epoch >= 0 && p.diverging_epoch.end_offset >= 0 {
            return self.diverged(tp, asked_offset, &p.diverging_epoch);
        }
        let caught_up = p.high_watermark >= 0 && asked_offset >= p.high_watermark;
        let Some(bytes) = p.records.clone() else {
            if let Some(cursor) = self.cursors.get_mut(tp) {
                cursor.caught_up = caught_up;
            }
            return;
        };
        let total_bytes = bytes.len();
        let mut records = self.spare_records.pop().unwrap_or_default();
        let mut estimated = false;
        let mut next = asked_offset;
        let mut aborted = self
            .config
            .read_committed
            .then(|| AbortedTransactions::new(p));
        let mut failure: Option<Unreadable> = None;
        let mut needs_room = None;
        let held = self.held;
        let limit = self.config.max_buffered_bytes;
        let mut read_epoch = None;
        for batch in RecordSet::new(bytes).batches() {
            let (batch, batch_next) = match checked_batch(batch) {
                Ok(checked) => checked,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            let skip = match aborted.as_mut() {
                Some(a) => a.skips(&batch),
                None => batch.is_control(),
            };
            if skip {
                next = next.max(batch_next);
                read_epoch = leader_epoch_of(&batch);
                continue;
            }
            if room.full {
                needs_room = Some(0);
                break;
            }
            if !estimated {
                estimated = true;
                records.reserve(records_estimate(&batch, total_bytes));
            }
            let taken = held + room.used;
            // Nothing held: this batch is read whatever its size.
            let free = if taken == 0 {
                usize::MAX
            } else {
                limit.saturating_sub(taken)
            };
            // Only offsets past everything before: the position asked, the
            // batches already read, and the last record taken (a batch's
            // records may run past the last offset its header claims).
            let from = records
                .last_offset()
                .and_then(|last| last.checked_add(1))
                .map_or(next, |after| after.max(next));
            let before = records.held_bytes();
            match collect_records(&batch, from, &mut records, free) {
                Ok(Collected::All) => {}
                Ok(Collected::NoRoom { wanted }) => {
                    room.used += records.held_bytes() - before;
                    room.full = true;
                    needs_room = Some(wanted);
                    break;
                }
                Err(error) => failure = Some(error),
            }
            room.used += records.held_bytes() - before;
            if failure.is_some() {
                break;
            }
            next = next.max(batch_next);
            read_epoch = leader_epoch_of(&batch);
        }
        // `collect_records` took no record at i64::MAX, so this is never
        // `None`; checked all the same, as the offsets came off the wire.
        if let Some(after) = records.last_offset().and_then(|last| last.checked_add(1)) {
            next = next.max(after);
        }
        let Some(cursor) = self.cursors.get_mut(tp) else {
            return;
        };
        if let Some(reason) = failure {
            if records.is_empty() {
                cursor.stopped = true;
                self.events
                    .push_back(FetchEvent::Error(FetchError::Corrupt {
                        topic: tp.0.clone(),
                        partition: tp.1,
                        reason: reason.to_string(),
                    }));
                return;
            }
        }
        cursor.position = Some(next);
        cursor.caught_up = p.high_watermark >= 0 && next >= p.high_watermark;
        cursor.retry_at = None;
        cursor.needs_room = needs_room;
        if next > asked_offset {
            cursor.fetched_epoch = read_epoch;
        }
        if !records.is_empty() {
            cursor.handed_out.push_back(records.held_bytes());
            self.held += records.held_bytes();
            self.events.push_back(FetchEvent::Records(FetchedRecords {
                topic: tp.0.clone(),
                partition: tp.1,
                high_watermark: p.high_watermark,
                records,
            }));
        } else {
            self.recycle(records);
        }
    }

    /// The leader says its log diverged from ours at `diverging`: the end
    /// offset of the last epoch the two logs share. Below the position,
    /// records already read are gone (truncation): reported, and the
    /// position moved back to the divergence unless the policy is Error.
    /// At or past it nothing read was lost; the next fetch goes without a
    /// last epoch, as after a seek.
    fn diverged(
        &mut self,
        tp: &TopicPartition,
        position: i64,
        diverging: &crate::protocol::messages::fetch_response::EpochEndOffset,
    ) {
        let Some(cursor) = self.cursors.get_mut(tp) else {
            return;
        };
        cursor.fetched_epoch = None;
        if diverging.end_offset >= position {
            return;
        }
        let stop = self.config.offset_reset == OffsetReset::Error;
        if stop {
            cursor.stopped = true;
        } else {
            cursor.position = Some(diverging.end_offset);
            cursor.fetched_epoch = Some(diverging.epoch);
            cursor.caught_up = false;
        }
        self.events
            .push_back(FetchEvent::Error(FetchError::LogTruncated {
                topic: tp.0.clone(),
                partition: tp.1,
                lost_from: diverging.end_offset,
                lost_to: position,
                resumed_at: (!stop).then_some(diverging.end_offset),
            }));
    }

    fn handle_reset(
        &mut self,
        client: &mut Client,
        tp: TopicPartition,

        epoch: u64,
        result: &Result<crate::client::Response, RequestError>,
        now: Instant,
    ) {
        let Some(cursor) = self.cursors.get_mut(&tp) else {
            return;
        };
        if cursor.epoch != epoch {
            return;
        }
        cursor.busy = false;
        let outcome = match result {
            Ok(crate::client::Response {
                body: Some(AnyResponse::ListOffsets(r)),
                version,
                ..
            }) => list_offsets_outcome(&tp.0, &[tp.1], r, *version).remove(&tp.1),
            Ok(_) => None,
            Err(_) => {
                client.refresh_metadata(now);
                None
            }
        };
        match outcome {
            Some(Ok(offset)) => {
                cursor.position = Some(offset);
                cursor.fetched_epoch = None;
                self.events.push_back(FetchEvent::Reset {
                    topic: tp.0.clone(),
                    partition: tp.1,
                    offset,
                });
            }
            Some(Err(e)) if !e.is_retriable() => {
                cursor.stopped = true;
                self.events
                    .push_back(FetchEvent::Error(FetchError::ResetFailed {
                        topic: tp.0.clone(),
                        partition: tp.1,
                        reason: e.to_string(),
                    }));
            }
            _ => self.back_off(&tp, now),
        }
    }

    fn back_off(&mut self, tp: &TopicPartition, now: Instant) {
        if let Some(c) = self.cursors.get_mut(tp) {
            c.retry_at = Some(now + self.config.retry_backoff);
        }
    }
}

/// read_committed filtering, as the Java client does it: walking batches in
/// offset order, a producer joins the aborting set when the log reaches the
/// first offset of one of its aborted transactions, its transactional
/// batches are skipped while it is there, and its next control batch (the
/// abort marker) takes it out again. Control batches are never records.
struct AbortedTransactions {
    /// (first offset, producer id), ascending.
    upcoming: VecDeque<(i64, i64)>,
    aborting: BTreeSet<i64>,
}

impl AbortedTransactions {
    fn new(p: &crate::protocol::messages::fetch_response::PartitionData) -> Self {
        let mut list: Vec<(i64, i64)> = p
            .aborted_transactions
            .iter()
            .flatten()
            .map(|a| (a.first_offset, a.producer_id))
            .collect();
        list.sort_unstable();
        AbortedTransactions {
            upcoming: list.into(),
            aborting: BTreeSet::new(),
        }
    }

    /// Whether to skip this batch.
    fn skips(&mut self, batch: &crate::records::Batch) -> bool {
        let last = batch.last_offset();
        while let Some(&(first, pid)) = self.upcoming.front() {
            if first > last {
                break;
            }
            self.aborting.insert(pid);
            self.upcoming.pop_front();
        }
        let pid = batch.producer_id();
        if batch.is_control() {
            self.aborting.remove(&pid);
            return true;
        }
        batch.is_transactional() && self.aborting.contains(&pid)
    }
}

/// Why a partition's fetched data cannot be read on: the fetch then stops
/// the partition with [`FetchError::Corrupt`].
#[derive(Debug, thiserror::Error)]
enum Unreadable {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Log offsets start at 0.
    #[error("a batch starts at negative offset {0}")]
    NegativeOffset(i64),
    /// A log's next offset must fit an i64 (Kafka's does), so no log holds
    /// a record at i64::MAX; taking one would leave nowhere to fetch from
    /// next (the same record again, forever).
    #[error("offset {0} is i64::MAX: it has no next offset, so no log holds it")]
    NoNextOffset(i64),
}

/// A decoded batch and the offset after it, once its offsets are ones a
/// log can hold.
fn checked_batch(batch: Result<Batch, DecodeError>) -> Result<(Batch, i64), Unreadable> {
    let batch = batch?;
    let first = match &batch {
        Batch::V2(v2) => v2.base_offset(),
        // A legacy entry's offset is its last record's; a wrapper's inner
        // offsets are checked as they are decoded.
        Batch::Legacy(legacy) => legacy.offset(),
    };
    if first < 0 {
        return Err(Unreadable::NegativeOffset(first));
    }
    let next = batch
        .next_offset()
        .ok_or(Unreadable::NoNextOffset(batch.last_offset()))?;
    Ok((batch, next))
}

/// A record taken into a chunk must have a next offset: the fetch position
/// moves past it (and a commit stores it).
fn check_takeable(offset: i64) -> Result<(), Unreadable> {
    if offset == i64::MAX {
        return Err(Unreadable::NoNextOffset(offset));
    }
    Ok(())
}

/// The leader epoch a batch was written in; none for legacy message sets
/// (and v2 batches from before epochs, which carry -1).
fn leader_epoch_of(batch: &Batch) -> Option<i32> {
    match batch {
        Batch::V2(v2) => Some(v2.header().partition_leader_epoch).filter(|&e| e >= 0),
        Batch::Legacy(_) => None,
    }
}

/// Whether a batch's records went into the chunk.
#[derive(Debug, PartialEq)]
enum Collected {
    All,
    /// The batch (v2), or its next record (legacy), needs `wanted` bytes
    /// and fewer are free: it stays in the log for a later fetch.
    NoRoom {
        wanted: usize,
    },
}

/// The fewest bytes a v2 record takes in its section (length, attributes,
/// timestamp and offset deltas, null key and value, no headers).
const MIN_RECORD_BYTES: usize = 7;

/// Adds the records of `batch` at or after `from_offset` to `records`, if
/// they fit in `free` bytes: v2 records as positions in their batch's
/// (decompressed) records section, legacy ones decoded. On an error, the
/// records before it are in.
///
/// A record at or below one already taken is skipped, as the Java consumer
/// skips records below its next fetch offset: a log's offsets only grow,
/// but the bytes come from the broker (and from whoever produced a
/// compressed batch), and a chunk handed out in offset order must not
/// repeat a record or go back.
fn collect_records(
    batch: &Batch,
    from_offset: i64,
    records: &mut RecordChunk,
    free: usize,
) -> Result<Collected, Unreadable> {
    match batch {
        Batch::V2(batch) => {
            let mut iter = batch.records()?;
            // The count is checked while reading (a batch with more
            // records than it says is an error), and each record takes at
            // least MIN_RECORD_BYTES: so this is what the batch will hold.
            let count = usize::try_from(batch.header().record_count).unwrap_or(0);
            let section_len = iter.section().len();
            let wanted =
                RecordChunk::cost_of(section_len, count.min(section_len / MIN_RECORD_BYTES));
            if wanted > free {
                return Ok(Collected::NoRoom { wanted });
            }
            let Some(section) = records.add_section(iter.section()) else {
                // A records section of 4 GiB or more.
                return push_decoded(iter, from_offset, records, free);
            };
            let mut from = from_offset;
            while let Some(record) = iter.next_in_place() {
                let record = record?;
                if record.offset >= from {
                    check_takeable(record.offset)?;
                    // Not i64::MAX (just checked), so this cannot wrap.
                    from = record.offset + 1;
                    records.push_in_place(section, record);
                }
            }
            Ok(Collected::All)
        }
        Batch::Legacy(_) => push_decoded(batch.records()?, from_offset, records, free),
    }
}

fn push_decoded(
    iter: impl Iterator<Item = Result<Record, DecodeError>>,
    from_offset: i64,
    records: &mut RecordChunk,
    free: usize,
) -> Result<Collected, Unreadable> {
    let start = records.held_bytes();
    let mut from = from_offset;
    for record in iter {
        let record = record?;
        if record.offset < from {
            continue;
        }
        check_takeable(record.offset)?;
        let fields = record.key.as_ref().map_or(0, |k| k.len())
            + record.value.as_ref().map_or(0, |v| v.len())
            + record.headers.raw().len();
        let wanted = RecordChunk::cost_of(fields, 1);
        let used = records.held_bytes() - start;
        if used.saturating_add(wanted) > free {
            return Ok(Collected::NoRoom { wanted });
        }
        // Not i64::MAX (checked above), so this cannot wrap.
        from = record.offset + 1;
        records.push(record);
    }
    Ok(Collected::All)
}

/// How many records a partition's fetched bytes probably hold, from its
/// first uncompressed v2 batch (its record count per byte, times the
/// bytes), so the records vector is allocated once rather than grown (and
/// copied, and its fresh pages faulted in) a dozen times over a megabyte of
/// records. Only an estimate, and capped so that a hostile record count
/// cannot make the vector take more than twice the bytes it was decoded
/// from. Compressed and legacy data get no estimate.
fn records_estimate(first: &Batch, total_bytes: usize) -> usize {
    let Batch::V2(batch) = first else {
        return 0;
    };
    if batch.compression() != Compression::None {
        return 0;
    }
    let count = usize::try_from(batch.header().record_count).unwrap_or(0);
    let batch_bytes = batch.as_bytes().len().max(1);
    let estimate = count.saturating_mul(total_bytes) / batch_bytes;
    // A little over, so a last batch slightly denser than the first does
    // not double the vector.
    let estimate = estimate.saturating_add(estimate / 16 + 1);
    estimate.min(2 * total_bytes / std::mem::size_of::<Record>())
}

#[cfg(test)]
mod estimate_tests {
    use super::*;
    use crate::records::{RecordBatch, RecordBatchWriter};

    fn batch_of(records: usize, value: &[u8], compression: Compression) -> Batch {
        let mut writer = RecordBatchWriter::new(0).compression(compression);
        for i in 0..records {
            writer.append(i as i64, None, Some(value), []).unwrap();
        }
        Batch::V2(RecordBatch::decode(writer.finish().unwrap().freeze()).unwrap())
    }

    #[test]
    fn scales_the_first_batch_to_the_fetched_bytes() {
        let batch = batch_of(100, &[b'v'; 100], Compression::None);
        let bytes = batch.as_bytes().len();
        let estimate = records_estimate(&batch, 10 * bytes);
        assert!((1_000..=1_100).contains(&estimate), "{estimate}");
    }

    #[test]
    fn never_asks_for_more_than_twice_the_bytes() {
        // Records of a few bytes each: their count is far above what twice
        // the bytes hold as decoded records, and the cap wins.
        let batch = batch_of(1_000, b"v", Compression::None);
        let bytes = batch.as_bytes().len();
        let cap = 2 * bytes / std::mem::size_of::<Record>();
        assert!(cap < 1_000);
        assert_eq!(records_estimate(&batch, bytes), cap);
    }

    #[cfg(feature = "lz4")]
    #[test]
    fn compressed_data_gets_no_estimate() {
        let batch = batch_of(100, &[b'v'; 100], Compression::Lz4);
        assert_eq!(records_estimate(&batch, 1 << 20), 0);
    }
}
