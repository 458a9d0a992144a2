//! The whole client as a state machine: one `Engine` (the composition the
//! runtime drivers run) with an idempotent `ProducerMachine` and a
//! `GroupConsumerMachine`, against the simulated
//! cluster (`kafkite-sim`, a sans-IO broker with logs, replication, a
//! group coordinator and producer-state checks), on virtual time. The
//! input is the schedule: which connection's bytes arrive next (each
//! direction of a connection stays in order, as TCP keeps it), when
//! connects succeed or are refused, time passing to any deadline or
//! beyond, hang-ups, broker crashes, restarts, stalls and leader
//! elections, injected error answers, records sent, flushes, commits,
//! seeks, pauses. In hostile mode (the first byte's low bit) the input
//! also rewrites the broker's answers before they arrive: bytes flipped,
//! frames cut short, sizes forged, garbage and duplicated frames.
//!
//! When the input runs out, everything heals and the run settles.
//!
//! Checked, always: no panic; the heap the run holds never exceeds
//! `MEMORY_BOUND` over what it held at the start (a counting global
//! allocator; the client's frame limit, fetch budget and producer buffer
//! are set small so the bound means something); each partition's records
//! reach the application in strictly increasing offsets while it owns the
//! partition and does not seek.
//!
//! Checked in honest mode (the broker's answers arrive as it wrote them):
//! no record is in the log twice, every acknowledged record is in the log
//! at the offset its acknowledgement gave, below the high watermark, and
//! acknowledged records of a partition are in the order they were sent;
//! what the consumer is handed is what the log holds at that offset; and
//! once healed the run settles: every record sent has an outcome and every
//! acknowledged one reached the consumer.
#![no_main]

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
#[path = "common/script.rs"]
mod script;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafkite::client::{ClientConfig, ConnectionId, Io};
use kafkite::consumer::{ConsumerEvent, FetchConfig, GroupConsumerConfig, GroupConsumerMachine};
use kafkite::engine::{ConsumerHandle, Engine, EngineEvent, Output as EngineOutput, ProducerHandle};
use kafkite::producer::{
    Acks, DeliveryId, ProducerMachine, ProducerConfig, ProducerEvent, ProducerRecord,
};
use kafkite::records::RecordSet;
use kafkite_sim::{Cluster, ClusterConfig, ConnKey, Output};
use libfuzzer_sys::fuzz_target;
use script::Script;

#[global_allocator]
static ALLOC: counting_alloc::Counting = counting_alloc::Counting;

const TOPIC: &str = "t";
const GROUP: &str = "g";
const WALL_CLOCK_START_MS: i64 = 1_700_000_000_000;
/// The client's frame limit, fetch budget and producer buffer.
const MAX_RESPONSE: usize = 1 << 20;
const FETCH_BUDGET: usize = 256 * 1024;
const PRODUCER_BUFFER: usize = 1 << 20;
/// What a run may hold beyond its start: the three limits above, the
/// cluster's logs (a few thousand small records at most), frames in
/// flight, and the machines' own state, with room to spare. A client
/// that let a forged size or a repeated answer grow its memory would
/// pass it.
const MEMORY_BOUND: usize = 24 << 20;
/// Steps the input may script, and virtual time the settling may take.
const MAX_STEPS: usize = 3_000;
const SETTLE_STEPS: usize = 200_000;
const SETTLE_FOR: Duration = Duration::from_secs(600);

/// One client connection: its cluster side once connected, and the bytes
/// on their way in each direction (`None` toward the client: a hang-up).
#[derive(Default)]
struct Link {
    broker: i32,
    key: Option<ConnKey>,
    to_broker: VecDeque<Bytes>,
    to_client: VecDeque<Option<Bytes>>,
}

struct Run<'a> {
    script: Script<'a>,
    hostile: bool,
    base: Instant,
    now_us: u64,
    cluster: Cluster,
    /// The client as the runtime drivers run it: the connection machine,
    /// the producer and the group consumer composed by the engine.
    engine: Engine,
    producer: ProducerHandle,
    consumer: ConsumerHandle,
    links: BTreeMap<ConnectionId, Link>,
    partitions: i32,
    /// Record index of each delivery id, and what became of each record.
    sent: BTreeMap<DeliveryId, usize>,
    sent_count: usize,
    acked: BTreeMap<usize, (i32, i64)>,
    failed: BTreeSet<usize>,
    /// Per partition, the offset the next record handed out must exceed
    /// (cleared on assignment, seek and fetch errors).
    floor: BTreeMap<i32, i64>,
    delivered: BTreeMap<(i32, i64), Bytes>,
    delivered_values: BTreeSet<Bytes>,
}

/// `WHOLE_CLIENT_TRACE=1` prints what a run does, to read a finding.
fn trace(line: impl FnOnce() -> String) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("WHOLE_CLIENT_TRACE").is_some()) {
        eprintln!("{}", line());
    }
}

fn value_of(index: usize) -> Bytes {
    Bytes::from(format!("r{index:06}"))
}

fuzz_target!(|data: &[u8]| {
    let mut script = Script { data };
    let setup = script.byte();
    let hostile = setup & 1 != 0;
    let brokers = 1 + usize::from(setup >> 1) % 3;
    let partitions = 1 + i32::from(setup >> 3) % 3;
    let linger = u64::from(script.byte() % 20);
    let base = Instant::now();
    let mut cluster = Cluster::new(
        ClusterConfig::new(brokers)
            .with_seed(u64::from(setup))
            .with_min_insync_replicas(brokers.min(2))
            .with_auto_create_topics(false),
    );
    let _ = cluster.create_topic(TOPIC, partitions, brokers as i16);
    let bootstrap: Vec<String> = (1..=brokers).map(|b| format!("broker-{b}:9092")).collect();
    let mut engine = Engine::new(
        ClientConfig::new(bootstrap)
            .with_client_id("fuzz")
            .with_request_timeout(Duration::from_secs(5))
            .with_connect_timeout(Duration::from_secs(2))
            .with_reconnect_backoff(Duration::from_millis(50), Duration::from_secs(1))
            .with_metadata_max_age(Duration::from_secs(10))
            .with_max_response_size(MAX_RESPONSE)
            .with_seed(u64::from(setup)),
        base,
    );
    let producer = ProducerMachine::new(
        ProducerConfig::default()
            .with_acks(Acks::All)
            .with_idempotence(true)
            .with_linger(Duration::from_millis(linger))
            .with_buffer_memory(PRODUCER_BUFFER)
            .with_request_timeout(Duration::from_secs(4))
            .with_delivery_timeout(Duration::from_secs(100))
            .with_retry_backoff(Duration::from_millis(50), Duration::from_secs(1)),
        u64::from(setup),
        base,
    );
    let mut consumer_config = GroupConsumerConfig::new(GROUP);
    consumer_config.group = consumer_config
        .group
        .with_session_timeout(Duration::from_secs(6))
        .with_heartbeat_interval(Duration::from_secs(1))
        .with_rebalance_timeout(Duration::from_secs(10))
        .with_offsets_timeout(Duration::from_secs(30));
    consumer_config.fetch = FetchConfig {
        max_wait: Duration::from_millis(500),
        max_buffered_bytes: FETCH_BUDGET,
        ..FetchConfig::default()
    };
    consumer_config.auto_commit = Some(Duration::from_millis(700));
    // Hostile brokers may hold off the first metadata for long: keep trying.
    engine.set_bootstrap_deadline(None);
    let producer = engine.add_producer(producer, base);
    let consumer = engine.add_consumer(GroupConsumerMachine::new(consumer_config), base);
    let mut run = Run {
        script,
        hostile,
        base,
        now_us: 0,
        cluster,
        engine,
        producer,
        consumer,
        links: BTreeMap::new(),
        partitions,
        sent: BTreeMap::new(),
        sent_count: 0,
        acked: BTreeMap::new(),
        failed: BTreeSet::new(),
        floor: BTreeMap::new(),
        delivered: BTreeMap::new(),
        delivered_values: BTreeSet::new(),
    };
    let start = counting_alloc::reset_peak();
    let now = run.now();
    run.engine
        .consumer(consumer, now, |c, client| c.subscribe(client, [TOPIC], now));
    run.pump();
    let mut steps = 0;
    while !run.script.is_empty() && steps < MAX_STEPS {
        steps += 1;
        run.step();
        run.pump();
        run.check_memory(start);
    }
    run.settle(start);
});

impl Run<'_> {
    fn now(&self) -> Instant {
        self.base + Duration::from_micros(self.now_us)
    }

    fn now_ms(&self) -> u64 {
        self.now_us / 1000
    }

    fn check_memory(&self, start: usize) {
        let peak = counting_alloc::peak();
        assert!(
            peak.saturating_sub(start) <= MEMORY_BOUND,
            "the run held {} bytes over its start, beyond the bound of {MEMORY_BOUND}",
            peak - start
        );
    }

    /// One scripted step.
    fn step(&mut self) {
        let op = self.script.byte() % 16;
        trace(|| format!("{:>9} us: step {op}", self.now_us));
        match op {
            0..=3 => self.deliver_to_client(),
            4..=6 => self.deliver_to_broker(),
            7 => {
                let ms = u64::from(self.script.u16() % 12_000);
                self.advance_to(self.now_us + ms * 1000 + 1);
            }
            8 => {
                if let Some(at) = self.next_deadline() {
                    self.advance_to(at);
                }
            }
            9 => self.send_records(),
            10 => self.network_fault(),
            11 => self.broker_fault(),
            12 => self.consumer_action(),
            13 => {
                let now = self.now();
                self.engine
                    .producer(self.producer, now, |p, client| p.flush(client, now));
            }
            14 => {
                let per_mille = u32::from(self.script.byte()) % 200;
                self.cluster.set_injected_error_per_mille(per_mille);
            }
            _ => {
                if self.hostile {
                    self.tamper();
                } else {
                    self.deliver_to_client();
                }
            }
        }
    }

    /// The head of one connection's answers reaches the client.
    fn deliver_to_client(&mut self) {
        let ready: Vec<ConnectionId> = self
            .links
            .iter()
            .filter(|(_, l)| l.key.is_some() && !l.to_client.is_empty())
            .map(|(c, _)| *c)
            .collect();
        let Some(&conn) = ready.get(self.script.pick(ready.len())) else {
            self.connect_one();
            return;
        };
        self.deliver_head(conn);
    }

    fn deliver_head(&mut self, conn: ConnectionId) {
        let now = self.now();
        let Some(link) = self.links.get_mut(&conn) else {
            return;
        };
        match link.to_client.pop_front() {
            Some(Some(data)) => self.engine.handle_received(conn, &data, now),
            Some(None) => {
                self.links.remove(&conn);
                self.engine
                    .handle_disconnected(conn, "closed by the broker", now);
            }
            None => {}
        }
    }

    /// The head of one connection's requests reaches its broker.
    fn deliver_to_broker(&mut self) {
        let ready: Vec<ConnectionId> = self
            .links
            .iter()
            .filter(|(_, l)| l.key.is_some() && !l.to_broker.is_empty())
            .map(|(c, _)| *c)
            .collect();
        let Some(&conn) = ready.get(self.script.pick(ready.len())) else {
            self.connect_one();
            return;
        };
        let now_ms = self.now_ms();
        if let Some(link) = self.links.get_mut(&conn) {
            if let (Some(key), Some(data)) = (link.key, link.to_broker.pop_front()) {
                self.cluster.receive(key, &data, now_ms);
            }
        }
    }

    /// A connection the client asked for is made (or refused: broker
    /// down, or the input says so).
    fn connect_one(&mut self) {
        let waiting: Vec<ConnectionId> = self
            .links
            .iter()
            .filter(|(_, l)| l.key.is_none())
            .map(|(c, _)| *c)
            .collect();
        let Some(&conn) = waiting.get(self.script.pick(waiting.len())) else {
            return;
        };
        let refuse = self.script.byte() % 8 == 0;
        self.connect(conn, refuse);
    }

    /// Completes the client's connect of `conn`: made if its broker is up
    /// and `refuse` is not set, refused otherwise.
    fn connect(&mut self, conn: ConnectionId, refuse: bool) {
        let now = self.now();
        let broker = self.links.get(&conn).map_or(-1, |l| l.broker);
        match (refuse, self.cluster.connect(broker)) {
            (false, Some(key)) => {
                if let Some(link) = self.links.get_mut(&conn) {
                    link.key = Some(key);
                }
                self.engine.handle_connected(conn, now);
            }
            (_, key) => {
                if let Some(key) = key {
                    self.cluster.disconnect(key);
                }
                self.links.remove(&conn);
                self.engine
                    .handle_disconnected(conn, "connection refused", now);
            }
        }
    }

    fn network_fault(&mut self) {
        let conns: Vec<ConnectionId> = self.links.keys().copied().collect();
        let Some(&conn) = conns.get(self.script.pick(conns.len())) else {
            return;
        };
        let Some(link) = self.links.get_mut(&conn) else {
            return;
        };
        match self.script.byte() % 3 {
            // The broker's side goes: what it wrote still arrives, then the
            // hang-up.
            0 => {
                if let Some(key) = link.key {
                    self.cluster.drop_connection(key);
                }
            }
            // Requests on their way are lost, then the hang-up.
            1 => {
                link.to_broker.clear();
                if let Some(key) = link.key.take() {
                    self.cluster.disconnect(key);
                }
                self.links.remove(&conn);
                let now = self.now();
                self.engine
                    .handle_disconnected(conn, "reset by the network", now);
            }
            // Answers on their way are lost, after the broker acted.
            _ => {
                link.to_client.clear();
                link.to_client.push_back(None);
                if let Some(key) = link.key {
                    self.cluster.disconnect(key);
                }
            }
        }
    }

    fn broker_fault(&mut self) {
        let ids = self.cluster.broker_ids();
        let broker = ids[self.script.pick(ids.len())];
        let _ = match self.script.byte() % 5 {
            0 => self.cluster.crash_broker(broker),
            1 => self.cluster.restart_broker(broker),
            2 => self.cluster.stall_broker(broker, true),
            3 => self.cluster.stall_broker(broker, false),
            _ => {
                let partition = self.script.pick(self.partitions as usize) as i32;
                let pick = u64::from(self.script.byte());
                self.cluster.elect_leader(TOPIC, partition, pick);
                Ok(())
            }
        };
    }

    fn send_records(&mut self) {
        let count = 1 + self.script.byte() % 8;
        let keyed = self.script.byte();
        let now = self.now();
        let wall = WALL_CLOCK_START_MS + self.now_ms() as i64;
        for _ in 0..count {
            let index = self.sent_count;
            self.sent_count += 1;
            let mut record = ProducerRecord::new(TOPIC).value(value_of(index));
            record = match keyed % 3 {
                0 => record.partition(index as i32 % self.partitions),
                1 => record.key(Bytes::from(format!("k{}", index % 7))),
                _ => record,
            };
            let sent = self.engine.producer(self.producer, now, |p, client| {
                p.send(client, record, now, wall)
            });
            match sent.expect("the producer runs") {
                Ok(id) => {
                    self.sent.insert(id, index);
                }
                Err(_) => {
                    self.failed.insert(index);
                }
            }
        }
    }

    fn consumer_action(&mut self) {
        let now = self.now();
        let partition = self.script.pick(self.partitions as usize) as i32;
        match self.script.byte() % 5 {
            0 => {
                self.engine
                    .consumer(self.consumer, now, |c, client| c.commit_consumed(client, now));
            }
            1 => {
                // Back, or to where it is: a seek forward skips records on
                // purpose, and every acknowledged record must still come.
                let reached = self
                    .delivered
                    .range((partition, 0)..(partition, i64::MAX))
                    .next_back()
                    .map_or(0, |((_, offset), _)| offset + 1);
                let offset = i64::from(self.script.byte()) % (reached + 1);
                self.floor.remove(&partition);
                self.engine.consumer(self.consumer, now, |c, client| {
                    c.seek(client, TOPIC, partition, offset, now)
                });
            }
            2 => {
                self.engine
                    .consumer(self.consumer, now, |c, _| c.pause(TOPIC, partition));
            }
            3 => {
                self.engine.consumer(self.consumer, now, |c, client| {
                    c.resume(client, TOPIC, partition, now)
                });
            }
            _ => {}
        }
    }

    /// Hostile mode: rewrites the next answer on one connection.
    fn tamper(&mut self) {
        let conns: Vec<ConnectionId> = self
            .links
            .iter()
            .filter(|(_, l)| matches!(l.to_client.front(), Some(Some(_))))
            .map(|(c, _)| *c)
            .collect();
        let Some(&conn) = conns.get(self.script.pick(conns.len())) else {
            return;
        };
        let how = self.script.byte();
        let at = usize::from(self.script.u16());
        let with = self.script.bytes(64);
        let Some(link) = self.links.get_mut(&conn) else {
            return;
        };
        let Some(Some(frame)) = link.to_client.pop_front() else {
            return;
        };
        let mut bytes = BytesMut::from(&frame[..]);
        let len = bytes.len().max(1);
        match how % 6 {
            // Bytes flipped where the input says.
            0 => {
                for (i, b) in with.iter().enumerate() {
                    if let Some(x) = bytes.get_mut((at + i * 7) % len) {
                        *x ^= b | 1;
                    }
                }
            }
            // Cut short (the size prefix still promises the rest).
            1 => bytes.truncate(at % len),
            // A forged size prefix: small, huge, negative.
            2 => {
                let size: i32 = match at % 4 {
                    0 => i32::MAX,
                    1 => -1,
                    2 => (MAX_RESPONSE + 1) as i32,
                    _ => i32::from(self.script.u16()),
                };
                if bytes.len() >= 4 {
                    bytes[..4].copy_from_slice(&size.to_be_bytes());
                }
            }
            // The input's bytes in its place, framed.
            3 => {
                bytes.clear();
                bytes.put_i32(with.len() as i32);
                bytes.extend_from_slice(with);
            }
            // Delivered twice.
            4 => link.to_client.push_front(Some(frame.clone())),
            // Input bytes spliced in, the size prefix fixed up.
            _ => {
                let at = (at % len).max(4).min(bytes.len());
                let tail = bytes.split_off(at);
                bytes.extend_from_slice(with);
                bytes.extend_from_slice(&tail);
                if bytes.len() >= 4 {
                    let size = (bytes.len() - 4) as i32;
                    bytes[..4].copy_from_slice(&size.to_be_bytes());
                }
            }
        }
        link.to_client.push_front(Some(bytes.freeze()));
    }

    /// The earliest deadline of the client, its machines and the cluster.
    fn next_deadline(&mut self) -> Option<u64> {
        let to_us = |t: Instant| {
            let us = t.saturating_duration_since(self.base).as_micros();
            u64::try_from(us).unwrap_or(u64::MAX)
        };
        [
            self.engine.poll_timeout().map(to_us),
            self.cluster.next_deadline().map(|ms| ms * 1000),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|t| t.max(self.now_us + 1))
    }

    /// Time moves to `at_us`; whatever is due by then runs.
    fn advance_to(&mut self, at_us: u64) {
        self.now_us = self.now_us.max(at_us);
        let now = self.now();
        self.cluster.tick(self.now_ms());
        self.engine.handle_timeout(now);
    }

    /// Moves outputs until everything is quiet: the engine's IO onto the
    /// links, its events to the application, the cluster's answers onto
    /// the links.
    fn pump(&mut self) {
        for _ in 0..100_000 {
            let mut moved = true;
            match self.engine.poll_output() {
                EngineOutput::Io(io) => self.io(io),
                EngineOutput::Event(EngineEvent::Producer(_, event)) => {
                    trace(|| format!("  producer: {event:?}").chars().take(300).collect());
                    self.on_producer_event(event);
                }
                EngineOutput::Event(EngineEvent::Consumer(_, event)) => {
                    trace(|| format!("  consumer: {event:?}").chars().take(300).collect());
                    self.on_consumer_event(event);
                }
                EngineOutput::Event(event) => {
                    trace(|| format!("  client: {event:?}").chars().take(300).collect());
                }
                EngineOutput::Timeout(_) => moved = false,
            }
            while let Some(output) = self.cluster.poll_output() {
                moved = true;
                self.on_cluster_output(output);
            }
            if !moved {
                return;
            }
        }
        panic!("the engine never went quiet");
    }

    fn io(&mut self, io: Io) {
        trace(|| match &io {
            Io::Send { conn, data } => format!("  io: send {} bytes on {conn:?}", data.len()),
            other => format!("  io: {other:?}"),
        });
        match io {
            Io::Connect { conn, host, port } => {
                let broker = self.cluster.broker_at(&host, port).unwrap_or(-1);
                self.links.insert(
                    conn,
                    Link {
                        broker,
                        ..Link::default()
                    },
                );
            }
            Io::Send { conn, data } => {
                let link = self.links.get_mut(&conn);
                assert!(
                    link.as_ref().is_some_and(|l| l.key.is_some()),
                    "the client wrote to a connection that is not open"
                );
                if let Some(link) = link {
                    link.to_broker.push_back(data);
                }
            }
            Io::Close { conn } => {
                if let Some(link) = self.links.remove(&conn) {
                    if let Some(key) = link.key {
                        self.cluster.disconnect(key);
                    }
                }
            }
        }
    }

    fn on_cluster_output(&mut self, output: Output) {
        let (key, data) = match output {
            Output::Send { conn, data } => (conn, Some(data)),
            Output::Close { conn } => (conn, None),
        };
        if let Some(link) = self.links.values_mut().find(|l| l.key == Some(key)) {
            link.to_client.push_back(data);
        }
    }

    fn on_producer_event(&mut self, event: ProducerEvent) {
        match event {
            ProducerEvent::Delivered(batch) => {
                for (id, delivery) in batch.iter() {
                    if let Some(&index) = self.sent.get(&id) {
                        let before = self
                            .acked
                            .insert(index, (delivery.partition, delivery.offset));
                        assert!(before.is_none(), "record {index} acknowledged twice");
                        assert!(
                            !self.failed.contains(&index),
                            "record {index} failed, then acknowledged"
                        );
                    }
                }
            }
            ProducerEvent::Failed { id, .. } => {
                if let Some(&index) = self.sent.get(&id) {
                    assert!(
                        !self.acked.contains_key(&index),
                        "record {index} acknowledged, then failed"
                    );
                    self.failed.insert(index);
                }
            }
            // The fuzzed producer is not transactional.
            ProducerEvent::Flushed { .. } | ProducerEvent::Transaction { .. } => {}
            ProducerEvent::IdempotenceDisabled { reason } => {
                // Asked for explicitly: refusing must be an error, never a
                // quiet fallback.
                panic!("idempotence was asked for and turned off: {reason}");
            }
        }
    }

    fn on_consumer_event(&mut self, event: ConsumerEvent) {
        let now = self.now();
        match event {
            ConsumerEvent::Records(fetched) => {
                let partition = fetched.partition;
                for record in fetched.records.views() {
                    let offset = record.offset();
                    if let Some(&floor) = self.floor.get(&partition) {
                        assert!(
                            offset > floor,
                            "partition {partition}: offset {offset} handed out after {floor}"
                        );
                    }
                    self.floor.insert(partition, offset);
                    let value = Bytes::copy_from_slice(record.value().unwrap_or_default());
                    self.delivered_values.insert(value.clone());
                    self.delivered.insert((partition, offset), value);
                }
                let last = fetched.records.last_offset();
                self.engine.consumer(self.consumer, now, |c, client| {
                    if let Some(last) = last {
                        c.consumed(TOPIC, partition, last + 1);
                    }
                    c.release(client, TOPIC, partition, now);
                });
            }
            ConsumerEvent::Assigned(tps)
            | ConsumerEvent::Revoked(tps)
            | ConsumerEvent::Lost(tps) => {
                for (_, p) in tps {
                    self.floor.remove(&p);
                }
            }
            ConsumerEvent::FetchError(_) => self.floor.clear(),
            ConsumerEvent::GroupError(error) => {
                if !self.hostile && error.is_fatal() {
                    panic!("the group consumer failed against an honest cluster: {error}");
                }
            }
            ConsumerEvent::Committed { .. }
            | ConsumerEvent::StartOffsetsFailed(_)
            | ConsumerEvent::Closed => {}
        }
    }

    /// Everything heals; the run goes on until it settles or gives up,
    /// then the invariants are checked.
    fn settle(&mut self, start: usize) {
        self.cluster.set_injected_error_per_mille(0);
        for b in self.cluster.broker_ids() {
            let _ = self.cluster.restart_broker(b);
            let _ = self.cluster.stall_broker(b, false);
        }
        let now = self.now();
        for p in 0..self.partitions {
            self.engine
                .consumer(self.consumer, now, |c, client| c.resume(client, TOPIC, p, now));
        }
        self.pump();
        let give_up = self.now_us + SETTLE_FOR.as_micros() as u64;
        for _ in 0..SETTLE_STEPS {
            if self.settled() {
                break;
            }
            // In order: connects, then every request, then every answer,
            // then time to the next deadline.
            if let Some(conn) = self
                .links
                .iter()
                .find(|(_, l)| l.key.is_none())
                .map(|(c, _)| *c)
            {
                self.connect(conn, false);
            } else if let Some(conn) = self
                .links
                .iter()
                .find(|(_, l)| !l.to_broker.is_empty())
                .map(|(c, _)| *c)
            {
                let now_ms = self.now_ms();
                if let Some(link) = self.links.get_mut(&conn) {
                    let data: Vec<Bytes> = link.to_broker.drain(..).collect();
                    if let Some(key) = link.key {
                        for d in data {
                            self.cluster.receive(key, &d, now_ms);
                        }
                    }
                }
            } else if let Some(conn) = self
                .links
                .iter()
                .find(|(_, l)| !l.to_client.is_empty())
                .map(|(c, _)| *c)
            {
                self.deliver_head(conn);
            } else {
                match self.next_deadline() {
                    Some(at) if at <= give_up => self.advance_to(at),
                    _ => break,
                }
            }
            self.pump();
            self.check_memory(start);
        }
        self.check_memory(start);
        if !self.hostile {
            self.check_log();
            assert!(
                self.settled(),
                "no settling after healing: {} sent, {} acknowledged, {} failed, {} delivered",
                self.sent_count,
                self.acked.len(),
                self.failed.len(),
                self.delivered.len()
            );
        }
    }

    /// Every record has an outcome and every acknowledged one was handed
    /// to the consumer.
    fn settled(&self) -> bool {
        self.acked.len() + self.failed.len() == self.sent_count
            && self
                .acked
                .keys()
                .all(|&index| self.delivered_values.contains(&value_of(index)))
    }

    /// The log against what the producer was told and what the consumer
    /// was handed.
    fn check_log(&self) {
        let Some(topic) = self.cluster.topics().get(TOPIC) else {
            return;
        };
        let mut found: BTreeMap<Bytes, (i32, i64)> = BTreeMap::new();
        let mut log: BTreeMap<(i32, i64), Bytes> = BTreeMap::new();
        let mut high_watermarks = BTreeMap::new();
        for (p, partition) in topic.partitions.iter().enumerate() {
            let p = p as i32;
            high_watermarks.insert(p, partition.high_watermark);
            for batch in &partition.log {
                for record in RecordSet::new(batch.bytes.clone()).records().flatten() {
                    let value = record.value.clone().unwrap_or_default();
                    if let Some(before) = found.insert(value.clone(), (p, record.offset)) {
                        panic!(
                            "{value:?} is in the log twice: at {before:?} and {p}@{}",
                            record.offset
                        );
                    }
                    log.insert((p, record.offset), value);
                }
            }
        }
        let mut acked_order: BTreeMap<i32, Vec<(usize, i64)>> = BTreeMap::new();
        for (&index, &(partition, offset)) in &self.acked {
            let at = found.get(&value_of(index));
            // -1: a retry the broker recognised as written before, whose
            // offset it no longer reports.
            let offset = match at {
                Some(&(p, o)) if p == partition && (offset == o || offset == -1) => o,
                _ => panic!("record {index} acknowledged at {partition}@{offset}, found at {at:?}"),
            };
            let hw = high_watermarks.get(&partition).copied().unwrap_or(0);
            assert!(
                offset < hw,
                "record {index} acknowledged at {offset}, high watermark {hw}"
            );
            acked_order
                .entry(partition)
                .or_default()
                .push((index, offset));
        }
        for (partition, list) in acked_order {
            for pair in list.windows(2) {
                assert!(
                    pair[0].1 < pair[1].1,
                    "partition {partition}: record {} sent before {} but written after it",
                    pair[0].0,
                    pair[1].0
                );
            }
        }
        for (at, value) in &self.delivered {
            assert_eq!(
                log.get(at),
                Some(value),
                "the consumer was handed {value:?} at {at:?}, not what the log holds"
            );
        }
    }
}
