//! The fetch path against a broker the input plays: a `Fetcher` on a
//! `Client` is assigned three partitions (two of topic "a", one of "b", all
//! led by broker 1); the harness answers ApiVersions and Metadata with fixed
//! valid answers, ListOffsets with offsets from the input, and every Fetch
//! with a response built from the input: per partition an error code, a
//! high watermark, aborted transactions, and records that are raw input
//! bytes or record sets written with the crate's writers (v2 batches and
//! legacy v0/v1 message sets, every codec, offsets placed as the input
//! says) then patched, spliced and truncated as it says, with their CRCs
//! recomputed or not. Between answers the input lets time pass, seeks,
//! resets through ListOffsets, releases, pauses, reassigns and hangs up.
//!
//! Checked: no panic; each partition's records come in strictly
//! increasing offset order and never below the position the fetch asked
//! from (the seek, the reset, or after the last record handed out); the
//! fetcher's `held_bytes()` is what the unreleased chunks hold, and never
//! more than `max_buffered_bytes` plus the largest batch a response
//! carried (counted decompressed, as the fetcher counts it); releasing
//! every chunk brings it back to 0.
#![no_main]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafkite::client::{Client, ClientConfig, ConnectionId, Io};
use kafkite::consumer::{FetchConfig, FetchEvent, FetcherMachine, OffsetReset};
use kafkite::protocol::frame::{decode_request, encode_response};
use kafkite::protocol::messages::api_versions_response::ApiVersion;
use kafkite::protocol::messages::fetch_request::FetchRequest;
use kafkite::protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafkite::protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafkite::protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafkite::protocol::messages::{
    ApiVersionsResponse, FetchResponse, ListOffsetsResponse, MetadataResponse,
};
use kafkite::protocol::{AnyRequest, ApiKey, Uuid};
use kafkite::records::batch_rewrite::set_base_offset;
use kafkite::records::{
    Batch, Compression, LegacyMessageSetWriter, RecordBatchWriter, RecordSet,
    DEFAULT_DECOMPRESSION_LIMIT,
};
use libfuzzer_sys::fuzz_target;

#[path = "common/script.rs"]
mod script;
use script::Script;

/// The partitions the fetcher is assigned.
const PARTITIONS: [(&str, i32); 3] = [("a", 0), ("a", 1), ("b", 0)];

/// Topic ids in the metadata, so that Fetch v13+ (topics by id) is used.
fn topic_id(topic: &str) -> Uuid {
    let mut id = [7u8; 16];
    id[15] = topic.as_bytes().first().copied().unwrap_or(0);
    Uuid(id)
}

/// What a record costs the fetcher's budget besides its bytes: one chunk
/// entry (`RecordChunk` keeps 64 bytes per record, checked at compile time
/// in the library); the fewest bytes a v2 record takes in its section.
const ENTRY_BYTES: usize = 64;
const MIN_RECORD_BYTES: usize = 7;
/// Bytes of a v2 batch before its records section.
const V2_HEADER: usize = 61;

/// The broker: its open connections and the fetches it has not answered.
struct Broker {
    conns: BTreeSet<ConnectionId>,
    /// (connection, correlation id, version, request), oldest first.
    fetches: VecDeque<(ConnectionId, i32, i16, FetchRequest)>,
    fetch_max: i16,
    list_offsets_max: i16,
    metadata_max: i16,
}

/// What the harness knows of one partition, to check the fetcher against.
#[derive(Default)]
struct Expect {
    /// The lowest offset the next records may have: the seek or reset
    /// position, then one past the last record handed out; `None` while a
    /// reset is pending (no position yet).
    floor: Option<i64>,
    /// What each unreleased chunk holds, oldest first.
    chunks: VecDeque<usize>,
}

struct Harness<'a> {
    client: Client,
    fetcher: FetcherMachine,
    broker: Broker,
    expect: BTreeMap<(String, i32), Expect>,
    script: Script<'a>,
    now: Instant,
    /// The largest cost (decompressed bytes plus entries) of one batch in
    /// any response so far: what the fetcher may hold over its budget.
    largest_batch: usize,
}

fuzz_target!(|data: &[u8]| {
    let mut script = Script { data };
    let setup = script.byte();
    let budget = script.byte();
    let versions = script.byte();
    let config = FetchConfig {
        offset_reset: match setup % 3 {
            0 => OffsetReset::Earliest,
            1 => OffsetReset::Latest,
            _ => OffsetReset::Error,
        },
        read_committed: setup & 4 != 0,
        max_buffered_bytes: match budget % 10 {
            0 => 0,
            1 => 1,
            2 => 100,
            3 => 1_000,
            4 => 4_096,
            5 => 16 * 1024,
            6 => 64 * 1024,
            7 => 1 << 20,
            8 => usize::from(budget) * 37,
            _ => FetchConfig::default().max_buffered_bytes,
        },
        ..FetchConfig::default()
    };
    let now = Instant::now();
    let client_config = ClientConfig::new(["b1:9092"])
        .with_request_timeout(Duration::from_secs(5))
        .with_seed(u64::from(setup));
    let mut h = Harness {
        client: Client::new(client_config, now),
        fetcher: FetcherMachine::new(config),
        broker: Broker {
            conns: BTreeSet::new(),
            fetches: VecDeque::new(),
            fetch_max: i16::from(versions % 18),
            list_offsets_max: i16::from(versions / 18 % 11),
            metadata_max: if setup & 8 != 0 { 12 } else { 9 },
        },
        expect: BTreeMap::new(),
        script,
        now,
        largest_batch: 0,
    };
    for (i, (topic, partition)) in PARTITIONS.iter().enumerate() {
        // Partition 1 of "a" starts from the reset policy (ListOffsets).
        let start = (i != 1).then_some(i64::from(setup >> 4));
        h.expect.insert(
            (topic.to_string(), *partition),
            Expect {
                floor: start,
                chunks: VecDeque::new(),
            },
        );
        let now = h.now;
        h.fetcher
            .assign(&mut h.client, topic, *partition, start, now);
    }
    h.pump();

    for _ in 0..48 {
        if h.script.is_empty() {
            break;
        }
        let op = h.script.byte();
        let tp = PARTITIONS[usize::from(op >> 4) % PARTITIONS.len()];
        let key = (tp.0.to_string(), tp.1);
        let now = h.now;
        match op % 16 {
            0..=5 => h.answer_fetch(),
            6 | 7 => {
                h.now += Duration::from_millis(u64::from(h.script.byte()) * 50);
                let now = h.now;
                h.client.handle_timeout(now);
                h.fetcher.handle_timeout(&mut h.client, now);
            }
            8 | 9 => {
                if let Some(e) = h.expect.get_mut(&key) {
                    e.chunks.pop_front();
                }
                h.fetcher.release(&mut h.client, tp.0, tp.1, now);
            }
            10 => {
                let around = h.fetcher.position(tp.0, tp.1).unwrap_or(0);
                let offset = h.script.offset(around);
                h.expect.insert(
                    key,
                    Expect {
                        floor: Some(offset),
                        chunks: VecDeque::new(),
                    },
                );
                h.fetcher.seek(&mut h.client, tp.0, tp.1, offset, now);
            }
            11 => {
                h.expect.insert(key, Expect::default());
                h.fetcher.assign(&mut h.client, tp.0, tp.1, None, now);
            }
            12 => h.fetcher.pause(tp.0, tp.1),
            13 => h.fetcher.resume(&mut h.client, tp.0, tp.1, now),
            14 => {
                // Unassigned and assigned again at its position.
                let position = h.fetcher.position(tp.0, tp.1);
                h.fetcher.unassign(tp.0, tp.1);
                h.expect.insert(
                    key,
                    Expect {
                        floor: position,
                        chunks: VecDeque::new(),
                    },
                );
                h.fetcher.assign(&mut h.client, tp.0, tp.1, position, now);
            }
            _ => {
                // The broker hangs up on the connection of the oldest
                // fetch (or any).
                let conn = h
                    .broker
                    .fetches
                    .front()
                    .map(|f| f.0)
                    .or_else(|| h.broker.conns.first().copied());
                if let Some(conn) = conn {
                    h.broker.close(conn);
                    h.client
                        .handle_disconnected(conn, "closed by the fuzzer", now);
                }
            }
        }
        h.pump();
    }

    // Everything released: nothing is held any more. (Pumping answers no
    // fetch, so no new records arrive meanwhile.)
    for (topic, partition) in PARTITIONS {
        let key = (topic.to_string(), partition);
        let unreleased = h.expect.get(&key).map_or(0, |e| e.chunks.len());
        for _ in 0..unreleased {
            let now = h.now;
            h.fetcher.release(&mut h.client, topic, partition, now);
        }
        if let Some(e) = h.expect.get_mut(&key) {
            e.chunks.clear();
        }
    }
    h.pump();
    assert_eq!(h.fetcher.held_bytes(), 0, "held bytes after every release");
});

impl Broker {
    fn close(&mut self, conn: ConnectionId) {
        self.conns.remove(&conn);
        self.fetches.retain(|f| f.0 != conn);
    }
}

impl Harness<'_> {
    /// Carries out the client's IO and takes its events and the
    /// fetcher's until nothing moves.
    fn pump(&mut self) {
        for _ in 0..200 {
            let mut moved = false;
            while let Some(io) = self.client.poll_io() {
                moved = true;
                match io {
                    Io::Connect { conn, .. } => {
                        self.broker.conns.insert(conn);
                        self.client.handle_connected(conn, self.now);
                    }
                    Io::Send { conn, data } => self.serve(conn, data),
                    Io::Close { conn } => self.broker.close(conn),
                }
            }
            while let Some(event) = self.client.poll_event() {
                moved = true;
                // Every event, as a consumer's loop offers them: the
                // fetcher moves on metadata and readiness too.
                self.fetcher
                    .handle_client_event(&mut self.client, &event, self.now);
            }
            self.take_fetch_events();
            if !moved {
                break;
            }
        }
    }

    /// Checks what the fetcher hands out.
    fn take_fetch_events(&mut self) {
        while let Some(event) = self.fetcher.poll_event() {
            match event {
                FetchEvent::Records(fetched) => {
                    let key = (fetched.topic.clone(), fetched.partition);
                    let expect = self
                        .expect
                        .get_mut(&key)
                        .expect("records of a partition not assigned");
                    let chunk = fetched.records;
                    assert!(!chunk.is_empty(), "an empty chunk handed out");
                    let Some(mut floor) = expect.floor else {
                        panic!("records of {key:?} before its position was known");
                    };
                    for record in chunk.iter() {
                        assert!(
                            record.offset >= floor,
                            "{key:?}: record at {} below {floor}",
                            record.offset
                        );
                        floor = record.offset.checked_add(1).expect("a record at i64::MAX");
                        // Every field is a slice of a buffer the chunk
                        // holds: touch them all.
                        let _ = record.key.as_ref().map(|k| k.len());
                        let _ = record.value.as_ref().map(|v| v.len());
                        for header in record.headers.iter() {
                            let _ = (header.key_bytes(), header.value_bytes());
                        }
                    }
                    for (view, record) in chunk.views().zip(chunk.iter()) {
                        assert_eq!(view.offset(), record.offset);
                    }
                    expect.floor = Some(floor);
                    expect.chunks.push_back(chunk.held_bytes());
                    self.fetcher.recycle(chunk);
                }
                FetchEvent::Reset {
                    topic,
                    partition,
                    offset,
                } => {
                    if let Some(e) = self.expect.get_mut(&(topic, partition)) {
                        e.floor = Some(offset);
                    }
                }
                FetchEvent::Error(_) => {}
            }
        }
        let unreleased: usize = self.expect.values().flat_map(|e| e.chunks.iter()).sum();
        let held = self.fetcher.held_bytes();
        assert_eq!(held, unreleased, "held bytes against the unreleased chunks");
        let budget = self.fetcher.config().max_buffered_bytes;
        assert!(
            held <= budget.saturating_add(self.largest_batch),
            "held {held} bytes, budget {budget}, largest batch {}",
            self.largest_batch
        );
    }

    /// Answers the frames the client wrote on `conn`; fetches wait for
    /// the input to answer them.
    fn serve(&mut self, conn: ConnectionId, mut data: Bytes) {
        if !self.broker.conns.contains(&conn) {
            return;
        }
        let mut out = BytesMut::new();
        while data.len() >= 4 {
            let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
            assert!(data.len() >= 4 + size, "a partial frame from the client");
            let frame = data.slice(4..4 + size);
            data = data.slice(4 + size..);
            let (header, request) = decode_request(frame).expect("the client's frames decode");
            let api = request.api_key();
            let version = header.request_api_version;
            let id = header.correlation_id;
            let encoded = match request {
                AnyRequest::ApiVersions(_) => {
                    let body = self.broker.api_versions();
                    encode_response(&mut out, api, version, id, &body)
                }
                AnyRequest::Metadata(_) => encode_response(&mut out, api, version, id, &metadata()),
                AnyRequest::ListOffsets(r) => {
                    let body = ListOffsetsResponse {
                        topics: r
                            .topics
                            .iter()
                            .map(|t| ListOffsetsTopicResponse {
                                name: t.name.clone(),
                                partitions: t
                                    .partitions
                                    .iter()
                                    .map(|p| {
                                        let choice = self.script.byte();
                                        let offset = self.script.offset(0);
                                        // v0 answers with a list of
                                        // offsets, v1+ with one.
                                        let (old_style_offsets, offset) = if version == 0 {
                                            (vec![offset], -1)
                                        } else {
                                            (Vec::new(), offset)
                                        };
                                        ListOffsetsPartitionResponse {
                                            partition_index: p.partition_index,
                                            error_code: match choice % 8 {
                                                0 => 6,
                                                1 => 3,
                                                2 => 29,
                                                _ => 0,
                                            },
                                            old_style_offsets,
                                            offset,
                                            ..Default::default()
                                        }
                                    })
                                    .collect(),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    };
                    encode_response(&mut out, api, version, id, &body)
                }
                AnyRequest::Fetch(r) => {
                    self.broker.fetches.push_back((conn, id, version, r));
                    Ok(())
                }
                _ => Ok(()),
            };
            encoded.expect("the harness's answers encode");
        }
        if !out.is_empty() {
            self.client.handle_received(conn, &out, self.now);
        }
    }

    /// Answers the oldest fetch with a response from the input.
    fn answer_fetch(&mut self) {
        let Some((conn, id, version, request)) = self.broker.fetches.pop_front() else {
            return;
        };
        let mut responses = Vec::new();
        for topic in &request.topics {
            let name = if topic.topic.is_empty() {
                PARTITIONS
                    .iter()
                    .find(|(t, _)| topic_id(t) == topic.topic_id)
                    .map_or("", |(t, _)| *t)
            } else {
                topic.topic.as_str()
            };
            let mut partitions = Vec::new();
            for p in &topic.partitions {
                let choice = self.script.byte();
                if choice % 16 == 15 {
                    continue; // left out of the answer
                }
                let records = self.records(p.fetch_offset);
                if let Some(records) = &records {
                    self.largest_batch = self.largest_batch.max(largest_batch(records));
                }
                let high_watermark = match choice % 16 {
                    14 => -1,
                    _ => p.fetch_offset.saturating_add(i64::from(self.script.byte())),
                };
                let aborted = (0..self.script.byte() % 4)
                    .map(|_| AbortedTransaction {
                        producer_id: i64::from(self.script.byte() % 4),
                        first_offset: self.script.offset(p.fetch_offset),
                        ..Default::default()
                    })
                    .collect::<Vec<_>>();
                partitions.push(PartitionData {
                    partition_index: p.partition,
                    error_code: match choice % 16 {
                        10 => 1,  // OFFSET_OUT_OF_RANGE
                        11 => 6,  // NOT_LEADER_OR_FOLLOWER
                        12 => -1, // UNKNOWN_SERVER_ERROR
                        13 => i16::from(self.script.byte()),
                        _ => 0,
                    },
                    high_watermark,
                    last_stable_offset: high_watermark,
                    log_start_offset: 0,
                    // Fetch v4 brought transactions.
                    aborted_transactions: Some(if version >= 4 { aborted } else { Vec::new() }),
                    records,
                    ..Default::default()
                });
            }
            responses.push(FetchableTopicResponse {
                topic: name.to_string(),
                topic_id: topic.topic_id,
                partitions,
                ..Default::default()
            });
        }
        let body = FetchResponse {
            responses,
            ..Default::default()
        };
        let mut out = BytesMut::new();
        encode_response(&mut out, ApiKey::Fetch, version, id, &body)
            .expect("the harness's fetch answer encodes");
        self.client.handle_received(conn, &out, self.now);
    }

    /// The records field of one partition's answer.
    fn records(&mut self, fetch_offset: i64) -> Option<Bytes> {
        let mode = self.script.byte();
        match mode % 8 {
            0 => None,
            1 => Some(Bytes::copy_from_slice(self.script.bytes(usize::MAX))),
            _ => {
                let mut set = self.written_set(fetch_offset);
                self.mutate(&mut set, mode);
                Some(set.freeze())
            }
        }
    }

    /// One to four batches (or legacy message sets), written with the
    /// crate's writers from the input's choices.
    fn written_set(&mut self, fetch_offset: i64) -> BytesMut {
        let mut set = BytesMut::new();
        let mut next = fetch_offset;
        for _ in 0..1 + self.script.byte() % 4 {
            let kind = self.script.byte();
            let placement = self.script.byte();
            let base = match placement % 4 {
                // Mostly where the last one ended, as a log has it.
                0 | 1 => next,
                _ => self.script.offset(next),
            };
            let spec = BatchSpec::read(&mut self.script, kind, placement, base);
            if let Some(bytes) = spec.written() {
                let start = set.len();
                set.extend_from_slice(&bytes);
                spec.rebase(&mut set[start..], base);
                next = base.saturating_add(spec.count as i64);
            }
        }
        set
    }

    /// Patches, splices and truncates a written set as the input says,
    /// then recomputes its batches' CRCs (or not), so that mutations get
    /// past the checksums to the decoders behind them.
    fn mutate(&mut self, set: &mut BytesMut, mode: u8) {
        if mode & 0x08 != 0 {
            for _ in 0..1 + self.script.byte() % 8 {
                let at = usize::from(self.script.u16());
                let xor = self.script.byte();
                if !set.is_empty() {
                    let at = at % set.len();
                    set[at] ^= xor;
                }
            }
        }
        if mode & 0x10 != 0 {
            let at = usize::from(self.script.u16()) % (set.len() + 1);
            let raw = self.script.bytes(usize::MAX);
            let tail = set.split_off(at);
            set.extend_from_slice(raw);
            set.extend_from_slice(&tail);
        }
        if mode & 0x20 != 0 {
            // A broker cuts the last batch short at the fetch's size limit.
            let keep = usize::from(self.script.u16()) % (set.len() + 1);
            set.truncate(keep);
        }
        if mode & 0x40 == 0 {
            fix_checksums(set);
        }
    }
}

/// One batch (or legacy message set) as the input describes it: what the
/// writers are given, so that what they write can be kept and reused
/// (compressing is most of the harness's time otherwise).
#[derive(Clone, PartialEq, Eq, Hash)]
struct BatchSpec {
    magic: i8,
    compression: Compression,
    count: usize,
    /// How values are made (see [`BatchSpec::value`]).
    values: u8,
    key: bool,
    /// v2: transactional or control, producer id, headers, gaps.
    flags: u8,
    /// v2 with gaps: each record's distance from the one before, less 1.
    gaps: Vec<u8>,
    /// Values taken from the input.
    inputs: Vec<Vec<u8>>,
    /// The offset written at: 0 unless the offsets are inside compressed
    /// bytes (magic 0 wrappers), where moving them means writing anew.
    written_at: i64,
}

/// Batches written, by what they were written from; forgotten when they
/// hold more than this many bytes.
const CACHE_BYTES: usize = 64 << 20;

thread_local! {
    static WRITTEN: RefCell<(HashMap<BatchSpec, Option<Bytes>>, usize)> =
        RefCell::new((HashMap::new(), 0));
}

impl BatchSpec {
    fn read(script: &mut Script<'_>, kind: u8, placement: u8, base: i64) -> BatchSpec {
        let magic = (kind % 3) as i8;
        let mut compression = Compression::ALL[usize::from(kind / 3) % Compression::ALL.len()];
        if magic < 2 && compression == Compression::Zstd {
            // Kafka has zstd in magic 2 only.
            compression = Compression::None;
        }
        let count = 1 + usize::from(placement >> 2) % 8;
        let values = script.byte();
        let flags = if magic == 2 { script.byte() } else { 0 };
        let gaps = if flags & 0x20 != 0 {
            (1..count).map(|_| script.byte() % 8).collect()
        } else {
            Vec::new()
        };
        let inputs = if values % 4 == 0 {
            (0..count).map(|_| script.bytes(32).to_vec()).collect()
        } else {
            Vec::new()
        };
        let written_at = if magic == 0 && compression != Compression::None {
            base
        } else {
            0
        };
        BatchSpec {
            magic,
            compression,
            count,
            values,
            key: kind & 0x80 != 0,
            flags,
            gaps,
            inputs,
            written_at,
        }
    }

    /// A value of the size the input picks: input bytes, or runs that
    /// compress to almost nothing (decompression bombs, up to 16 KB a
    /// record: far over the small budgets).
    fn value(&self, i: usize) -> Vec<u8> {
        match self.values % 4 {
            0 => self.inputs.get(i).cloned().unwrap_or_default(),
            1 => vec![b'v'; i * 100],
            2 => vec![0; usize::from(self.values) * 64],
            _ => vec![i as u8; usize::from(self.values >> 2) * 256],
        }
    }

    /// The batch, written at `written_at`; `None` if the writers refuse.
    fn written(&self) -> Option<Bytes> {
        WRITTEN.with(|cache| {
            let mut cache = cache.borrow_mut();
            if let Some(written) = cache.0.get(self) {
                return written.clone();
            }
            let written = if self.magic == 2 {
                self.v2_batch()
            } else {
                self.legacy_set()
            }
            .map(BytesMut::freeze);
            let len = written.as_ref().map_or(0, Bytes::len);
            if cache.1 + len > CACHE_BYTES {
                cache.0.clear();
                cache.1 = 0;
            }
            cache.1 += len;
            cache.0.insert(self.clone(), written.clone());
            written
        })
    }

    fn v2_batch(&self) -> Option<BytesMut> {
        let flags = self.flags;
        let mut w = RecordBatchWriter::new(0).compression(self.compression);
        if flags & 3 == 1 {
            w = w
                .transactional(true)
                .producer(i64::from(flags >> 2 & 3), 0, 0);
        } else if flags & 3 == 2 {
            w = w.control(true).producer(i64::from(flags >> 2 & 3), 0, 0);
        }
        let key = self.key.then_some(&b"key"[..]);
        let headers = [("h", Some(&b"hv"[..]))];
        let headers = &headers[..usize::from(flags & 0x40 != 0)];
        let mut offset = 0i64;
        for i in 0..self.count {
            let value = self.value(i);
            let timestamp = 1_000 + i as i64;
            match self.gaps.get(i.wrapping_sub(1)) {
                // Gaps, as a compacted log has them.
                Some(gap) if i > 0 => {
                    offset += i64::from(*gap) + 1;
                    w.append_at(
                        offset,
                        timestamp,
                        key,
                        Some(&value),
                        headers.iter().copied(),
                    )
                    .ok()?;
                }
                _ => {
                    offset = w
                        .append(timestamp, key, Some(&value), headers.iter().copied())
                        .ok()?;
                }
            }
        }
        w.finish().ok()
    }

    fn legacy_set(&self) -> Option<BytesMut> {
        let mut w =
            LegacyMessageSetWriter::new(self.magic, self.compression, self.written_at).ok()?;
        for i in 0..self.count {
            let value = self.value(i);
            w.append(1_000 + i as i64, Some(b"key"), Some(&value))
                .ok()?;
        }
        w.finish().ok()
    }

    /// Moves a batch written at `written_at` to `base`: the v2 base offset
    /// (outside the CRC), or each top-level legacy entry's offset (outside
    /// the message CRC; a magic 1 wrapper's inner offsets are relative).
    fn rebase(&self, batch: &mut [u8], base: i64) {
        let shift = base.wrapping_sub(self.written_at);
        if shift == 0 {
            return;
        }
        if self.magic == 2 {
            let _ = set_base_offset(batch, base);
            return;
        }
        let mut at = 0;
        while batch.len() >= at + 12 {
            let mut offset = [0u8; 8];
            offset.copy_from_slice(&batch[at..at + 8]);
            let moved = i64::from_be_bytes(offset).wrapping_add(shift);
            batch[at..at + 8].copy_from_slice(&moved.to_be_bytes());
            let size =
                i32::from_be_bytes([batch[at + 8], batch[at + 9], batch[at + 10], batch[at + 11]]);
            let Ok(size) = usize::try_from(size) else {
                return;
            };
            at += 12 + size;
        }
    }
}

impl Broker {
    fn api_versions(&self) -> ApiVersionsResponse {
        ApiVersionsResponse {
            api_keys: [
                (ApiKey::ApiVersions, 0, 3),
                (ApiKey::Metadata, 0, self.metadata_max),
                (ApiKey::Fetch, 0, self.fetch_max),
                (ApiKey::ListOffsets, 0, self.list_offsets_max),
            ]
            .iter()
            .map(|(k, min, max)| ApiVersion {
                api_key: k.key(),
                min_version: *min,
                max_version: *max,
                ..Default::default()
            })
            .collect(),
            ..Default::default()
        }
    }
}

/// Broker 1 at b1:9092 leads every partition.
fn metadata() -> MetadataResponse {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in PARTITIONS {
        topics.entry(topic).or_default().push(partition);
    }
    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "b1".into(),
            port: 9092,
            ..Default::default()
        }],
        controller_id: 1,
        topics: topics
            .into_iter()
            .map(|(name, partitions)| MetadataResponseTopic {
                name: Some(name.into()),
                topic_id: topic_id(name),
                partitions: partitions
                    .into_iter()
                    .map(|partition_index| MetadataResponsePartition {
                        partition_index,
                        leader_id: 1,
                        replica_nodes: vec![1],
                        isr_nodes: vec![1],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// The most one batch of `records` can add to the fetcher's held bytes:
/// a v2 batch's decompressed section plus an entry per record it can
/// hold; a legacy entry's records' fields plus an entry each.
fn largest_batch(records: &Bytes) -> usize {
    let mut largest = 0;
    for batch in RecordSet::new(records.clone()).batches() {
        let Ok(batch) = batch else {
            break;
        };
        let cost = match &batch {
            Batch::V2(v2) => {
                let wire = v2.as_bytes();
                let body = wire.get(V2_HEADER..).unwrap_or_default();
                let section = if v2.compression() == Compression::None {
                    body.len()
                } else {
                    v2.compression()
                        .decompress(body, 2, DEFAULT_DECOMPRESSION_LIMIT)
                        .map_or(0, |d| d.len())
                };
                let count = usize::try_from(v2.header().record_count).unwrap_or(0);
                section + ENTRY_BYTES * count.min(section / MIN_RECORD_BYTES)
            }
            Batch::Legacy(_) => match batch.records() {
                Ok(iter) => iter
                    .map_while(Result::ok)
                    .map(|r| {
                        r.key.map_or(0, |k| k.len())
                            + r.value.map_or(0, |v| v.len())
                            // Legacy records have no headers; were there
                            // any, their raw bytes are at most this.
                            + r.headers
                                .iter()
                                .map(|h| h.key_bytes().len() + h.value_bytes().map_or(0, |v| v.len()) + 10)
                                .sum::<usize>()
                            + ENTRY_BYTES
                    })
                    .sum(),
                Err(_) => 0,
            },
        };
        largest = largest.max(cost);
    }
    largest
}

/// Recomputes the CRC of every v2 batch (CRC-32C from the attributes on)
/// and every top-level legacy message (CRC-32 from the magic on) that the
/// length fields delimit; stops where they stop making sense.
fn fix_checksums(set: &mut [u8]) {
    let mut at = 0;
    while set.len() >= at + 17 {
        let len = i32::from_be_bytes([set[at + 8], set[at + 9], set[at + 10], set[at + 11]]);
        let Ok(len) = usize::try_from(len) else {
            return;
        };
        let end = at + 12 + len;
        if end > set.len() {
            return;
        }
        let magic = set[at + 16];
        if magic == 2 && len >= 9 {
            let crc = crc32c(&set[at + 21..end]);
            set[at + 17..at + 21].copy_from_slice(&crc.to_be_bytes());
        } else if magic < 2 && len >= 4 {
            let crc = crc32(&set[at + 16..end]);
            set[at + 12..at + 16].copy_from_slice(&crc.to_be_bytes());
        }
        at = end;
    }
}

/// Bitwise reflected CRC-32 with `poly`: slow and short, which is all a
/// harness needs.
fn crc_reflected(poly: u32, data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (poly & mask);
        }
    }
    !crc
}

fn crc32c(data: &[u8]) -> u32 {
    crc_reflected(0x82F6_3B78, data)
}

fn crc32(data: &[u8]) -> u32 {
    crc_reflected(0xEDB8_8320, data)
}
