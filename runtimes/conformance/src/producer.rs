//! Producer scenarios every broker must pass: both producer APIs (the
//! batching one's `send`, `send_batch` and `send_packed`), every codec, records read back
//! by independent clients (the Java client and confluent-kafka) with the
//! same partition, key, value, headers and timestamp.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use kafkite::producer::{
    partition_for_key, Delivery, Message, PackedRecords, ProduceError, ProducerConfig,
    ProducerRecord,
};
use kafkite::records::Compression;
use kafkite_testkit::{
    confluent_read_back, java_read_back, unique_name, ConsumedRecord, Peer, PeerKind,
};

use super::support::{connect, create_topic, wall_clock_ms, within, SCENARIO_LIMIT};
use kafkite_driver::{ExplicitProducer, Producer, Runtime, Session};

/// Partitions of the scenario's topic.
const PARTITIONS: u32 = 3;
/// Records per codec through the batching producer.
const RECORDS_PER_CODEC: usize = 60;
/// Messages per partition in each explicit `send()`.
const MESSAGES_PER_PARTITION: usize = 5;

/// A record as the log should hold it: the same shape the read-back
/// witnesses return.
type LoggedRecord = ConsumedRecord;

/// What the topic's log must hold.
#[derive(Debug, Default)]
pub struct ExpectedLog {
    /// Every delivered record, keyed by the (partition, offset) its
    /// delivery reported.
    pub records: BTreeMap<(i32, i64), LoggedRecord>,
    /// Records stamped by the producer at send time: the wall-clock
    /// window (ms) their timestamp must fall in. (Their delivery's
    /// timestamp cannot stand in: librdkafka's mock reports a made-up
    /// log-append time.)
    pub stamped_between: BTreeMap<(i32, i64), (i64, i64)>,
}

/// How long a witness may take to read the topic (a JVM starting on a
/// loaded 2-core machine included).
const READ_BACK_LIMIT: Duration = Duration::from_secs(60);

/// Every codec the build has, with both APIs, into one topic; returns the
/// topic and what its log must hold, keyed by (partition, offset).
pub async fn produce_every_codec<R: Runtime + Default>(
    peer: &Peer,
    what: &str,
) -> (String, ExpectedLog) {
    let session = connect::<R>(peer.bootstrap()).await;
    let topic = unique_name("produce");
    create_topic(&session, peer, &topic, PARTITIONS as i32, what).await;
    let mut logged = ExpectedLog::default();
    for compression in Compression::ALL {
        let config = ProducerConfig::default()
            .with_compression(compression)
            .with_linger(Duration::from_millis(20));
        let what = format!("{what} {compression:?}");
        batching_api(&session, &topic, config.clone(), &what, &mut logged).await;
        for api in [BatchApi::Records, BatchApi::Packed] {
            let what = format!("{what} {api:?}");
            send_batch_api(&session, &topic, config.clone(), api, &what, &mut logged).await;
        }
        explicit_api(&session, &topic, config, &what, &mut logged).await;
    }
    session.close().await;
    (topic, logged)
}

/// `Producer::send`: keyed records land where murmur2 says, explicit
/// partitions are kept, null keys, values and header values survive, and
/// every delivery names a distinct offset.
async fn batching_api<R: Runtime>(
    session: &Session<R>,
    topic: &str,
    config: ProducerConfig,
    what: &str,
    logged: &mut ExpectedLog,
) {
    let producer = Producer::new(session, config)
        .await
        .unwrap_or_else(|e| panic!("{what}: Producer::new: {e}"));
    let sent_from = wall_clock_ms();
    let mut sent = Vec::new();
    for i in 0..RECORDS_PER_CODEC {
        let (record, expected) = record_for(topic, i, what);
        let delivery = producer
            .send(record)
            .await
            .unwrap_or_else(|e| panic!("{what}: send #{i}: {e}"));
        sent.push((delivery, expected));
    }
    producer
        .flush()
        .await
        .unwrap_or_else(|e| panic!("{what}: flush: {e}"));
    let sent_until = wall_clock_ms();
    for (i, (delivery, expected)) in sent.into_iter().enumerate() {
        let delivery = delivery
            .await
            .unwrap_or_else(|e| panic!("{what}: delivery of #{i}: {e}"));
        log_delivery(
            i,
            &delivery,
            expected,
            (sent_from, sent_until),
            logged,
            what,
        );
    }
    producer.close().await;
}

/// How `send_batch_api` hands its records over.
#[derive(Debug, Clone, Copy)]
enum BatchApi {
    /// `Producer::send_batch`, owned records.
    Records,
    /// `Producer::send_packed`, the same records packed.
    Packed,
}

/// `Producer::send_batch` or `send_packed`: the same records in one call,
/// plus one for a partition the topic lacks; its outcome alone is an
/// error, in its place.
async fn send_batch_api<R: Runtime>(
    session: &Session<R>,
    topic: &str,
    config: ProducerConfig,
    api: BatchApi,
    what: &str,
    logged: &mut ExpectedLog,
) {
    let producer = Producer::new(session, config)
        .await
        .unwrap_or_else(|e| panic!("{what}: Producer::new: {e}"));
    let missing = RECORDS_PER_CODEC / 2;
    let mut records = Vec::new();
    let mut expected = Vec::new();
    for i in 0..RECORDS_PER_CODEC {
        if i == missing {
            records.push(ProducerRecord::new(topic).partition(PARTITIONS as i32 + 4));
        }
        let (record, logged_as) = record_for(topic, i, what);
        records.push(record);
        expected.push(logged_as);
    }
    let sent_from = wall_clock_ms();
    let sent = match api {
        BatchApi::Records => producer.send_batch(records).await,
        BatchApi::Packed => producer.send_packed(pack(topic, &records)).await,
    };
    let outcomes = sent
        .unwrap_or_else(|e| panic!("{what}: send_batch: {e}"))
        .await;
    let sent_until = wall_clock_ms();
    assert_eq!(
        outcomes.len(),
        RECORDS_PER_CODEC + 1,
        "{what}: one outcome per record"
    );
    assert_eq!(
        outcomes
            .failures()
            .iter()
            .map(|(at, _)| *at)
            .collect::<Vec<_>>(),
        [missing],
        "{what}: only the record for a missing partition failed"
    );
    let mut outcomes = outcomes.iter().enumerate();
    for (i, expected) in expected.into_iter().enumerate() {
        let (at, outcome) = outcomes.next().expect("counted above");
        let outcome = if at == missing {
            match outcome {
                Err(ProduceError::UnknownPartition { partition, .. }) => {
                    assert_eq!(*partition, PARTITIONS as i32 + 4, "{what}");
                }
                other => panic!("{what}: record for a missing partition: {other:?}"),
            }
            outcomes.next().expect("counted above").1
        } else {
            outcome
        };
        let delivery = outcome.unwrap_or_else(|e| panic!("{what}: send_batch #{i}: {e}"));
        log_delivery(
            i,
            &delivery,
            expected,
            (sent_from, sent_until),
            logged,
            what,
        );
    }
    producer.close().await;
}

/// Checks one acknowledged record's delivery against what was sent and
/// adds it to the expected log.
fn log_delivery(
    i: usize,
    delivery: &Delivery,
    mut expected: LoggedRecord,
    sent_between: (i64, i64),
    logged: &mut ExpectedLog,
    what: &str,
) {
    // An explicit partition wins over the key's.
    match (&expected.key, expected.partition) {
        (_, p) if p >= 0 => assert_eq!(delivery.partition, p, "{what}: #{i}"),
        (Some(key), _) => {
            let wanted = partition_for_key(key, PARTITIONS);
            assert_eq!(delivery.partition, wanted, "{what}: #{i} keyed partition");
        }
        (None, _) => {}
    }
    expected.partition = delivery.partition;
    expected.offset = delivery.offset;
    let slot = (delivery.partition, delivery.offset);
    if expected.timestamp < 0 {
        logged.stamped_between.insert(slot, sent_between);
    }
    assert!(
        logged.records.insert(slot, expected).is_none(),
        "{what}: two records delivered at {slot:?}"
    );
}

/// The [`ExplicitProducer`]: per-partition base offsets, and a second
/// `send()` that carries only its own messages.
async fn explicit_api<R: Runtime>(
    session: &Session<R>,
    topic: &str,
    config: ProducerConfig,
    what: &str,
    logged: &mut ExpectedLog,
) {
    let mut producer = ExplicitProducer::with_config(session, config)
        .await
        .unwrap_or_else(|e| panic!("{what}: ExplicitProducer: {e}"));
    let mut previous: Option<BTreeMap<i32, i64>> = None;
    for round in 0..2 {
        let mut added = BTreeMap::new();
        for partition in 0..PARTITIONS as i32 {
            let messages: Vec<(Message, LoggedRecord)> = (0..MESSAGES_PER_PARTITION)
                .map(|i| message_for(partition, round, i, what))
                .collect();
            producer.add_messages(topic, partition, messages.iter().map(|(m, _)| m.clone()));
            added.insert(partition, messages);
        }
        let result = producer
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: explicit send: {e}"));
        assert!(!result.has_errors(), "{what}: {:?}", result.errors);
        assert_eq!(
            producer.pending_messages(),
            0,
            "{what}: sent messages stay pending"
        );
        let bases = result
            .offsets
            .get(topic)
            .cloned()
            .unwrap_or_else(|| panic!("{what}: no offsets for {topic}"));
        if let Some(previous) = &previous {
            for (partition, base) in &bases {
                // Nothing else writes the topic meanwhile, so the second
                // send starts exactly where the first ended: nothing resent.
                let expected = previous[partition] + MESSAGES_PER_PARTITION as i64;
                assert_eq!(
                    *base, expected,
                    "{what}: second send on partition {partition}"
                );
            }
        }
        for (partition, messages) in added {
            let base = bases[&partition];
            for (i, (_, mut expected)) in messages.into_iter().enumerate() {
                expected.offset = base + i as i64;
                logged
                    .records
                    .insert((partition, expected.offset), expected);
            }
        }
        previous = Some(bases);
    }
    producer.close().await;
}

/// The i-th record of the batching API, varied: every 7th has no key (sticky
/// partitioning), every 5th an explicit partition, every 11th no value,
/// every 3rd a null header value, every 4th its own timestamp.
/// The same records, packed (all are for `topic`).
fn pack(topic: &str, records: &[ProducerRecord]) -> PackedRecords {
    let mut packed = PackedRecords::new(topic);
    for record in records {
        let mut last = packed.push(record.key.as_deref(), record.value.as_deref());
        if let Some(partition) = record.partition {
            last = last.partition(partition);
        }
        if let Some(ms) = record.timestamp {
            last = last.timestamp(ms);
        }
        for (key, value) in &record.headers {
            last = last.header(key, value.as_deref());
        }
    }
    packed
}

fn record_for(topic: &str, i: usize, what: &str) -> (ProducerRecord, LoggedRecord) {
    let mut record = ProducerRecord::new(topic);
    let mut expected = LoggedRecord {
        partition: -1,
        offset: -1,
        timestamp: -1,
        key: None,
        value: None,
        headers: Vec::new(),
    };
    if !i.is_multiple_of(7) {
        let key = format!("key-{}", i % 13).into_bytes();
        record = record.key(key.clone());
        expected.key = Some(key);
    }
    if i.is_multiple_of(5) {
        let partition = (i / 5 % PARTITIONS as usize) as i32;
        record = record.partition(partition);
        expected.partition = partition;
    }
    if !i.is_multiple_of(11) {
        let value = format!("{what} value {i} {}", "x".repeat(i % 40)).into_bytes();
        record = record.value(value.clone());
        expected.value = Some(value);
    }
    let header = format!("h{i}").into_bytes();
    record = record.header("index", Some(Bytes::from(header.clone())));
    expected.headers.push(("index".into(), Some(header)));
    if i.is_multiple_of(3) {
        record = record.header("absent", None);
        expected.headers.push(("absent".into(), None));
    }
    if i.is_multiple_of(4) {
        let ms = 1_700_000_000_000 + i as i64;
        record = record.timestamp(ms);
        expected.timestamp = ms;
    }
    (record, expected)
}

fn message_for(partition: i32, round: usize, i: usize, what: &str) -> (Message, LoggedRecord) {
    let value = format!("{what} explicit p{partition} r{round} m{i}").into_bytes();
    let key = format!("k{i}").into_bytes();
    let ms = 1_600_000_000_000 + (round * 100 + i) as i64;
    let message = Message::new(value.clone())
        .key(key.clone())
        .header("round", Some(Bytes::from(vec![round as u8])))
        .timestamp(ms);
    let expected = LoggedRecord {
        partition,
        offset: -1,
        timestamp: ms,
        key: Some(key),
        value: Some(value),
        headers: vec![("round".into(), Some(vec![round as u8]))],
    };
    (message, expected)
}

/// Both APIs (the batching one's three ways in), every codec; the Java client and confluent-kafka each read
/// back exactly what was acknowledged, field by field, at the partitions and
/// offsets the deliveries named.
pub async fn produces_every_codec_with_both_apis<R: Runtime + Default>(peer: &Peer) {
    let what = format!("{} produces_every_codec_with_both_apis", peer.kind());
    within::<R, _>(SCENARIO_LIMIT * 2, &what, async {
        let (topic, logged) = produce_every_codec::<R>(peer, &what).await;
        // `send`, `send_batch` and `send_packed` (each one's failed record
        // not counted), explicit.
        let per_codec = 3 * RECORDS_PER_CODEC + 2 * MESSAGES_PER_PARTITION * PARTITIONS as usize;
        let count = logged.records.len();
        assert_eq!(count, per_codec * Compression::ALL.len(), "{what}");
        // The witnesses block; the session is closed by now.
        match java_cannot_read(peer.kind()) {
            None => {
                let java = java_read_back(peer.bootstrap(), &topic, count, READ_BACK_LIMIT)
                    .unwrap_or_else(|e| panic!("{what}: Java read-back: {e}"));
                assert_log_is(&logged, &java, &format!("{what} (Java client)"));
            }
            Some(why) => eprintln!("{what}: no Java read-back: {why}"),
        }
        let confluent = confluent_read_back(peer.bootstrap(), &topic, count, READ_BACK_LIMIT)
            .unwrap_or_else(|e| panic!("{what}: confluent-kafka read-back: {e}"));
        assert_log_is(&logged, &confluent, &format!("{what} (confluent-kafka)"));
    })
    .await
}

/// Why kafka-clients 4.4 is no witness on some peers: their bugs, seen
/// with records that confluent-kafka produced, so not about kafkite.
fn java_cannot_read(kind: PeerKind) -> Option<&'static str> {
    match kind {
        PeerKind::Tansu => Some(
            "tansu 0.6 drops kafka-clients 4.4's connection to the leader while decoding \
             its ApiVersions request (UnexpectedEof in tansu's log), so the Java consumer \
             never reads",
        ),
        PeerKind::Mock => Some(
            "kafka-clients 4.4 does not find topics made through librdkafka's mock \
             (not an acceptance peer for the producer)",
        ),
        _ => None,
    }
}

/// The witness read exactly the acknowledged records; the first few
/// differences are named.
fn assert_log_is(expected: &ExpectedLog, read: &[ConsumedRecord], what: &str) {
    let read: BTreeMap<(i32, i64), &ConsumedRecord> =
        read.iter().map(|r| ((r.partition, r.offset), r)).collect();
    let mut problems = Vec::new();
    for (slot, record) in &expected.records {
        let Some(got) = read.get(slot) else {
            problems.push(format!("{slot:?}: missing"));
            continue;
        };
        let mut record = record.clone();
        if let Some(&(from, until)) = expected.stamped_between.get(slot) {
            if (from..=until).contains(&got.timestamp) {
                record.timestamp = got.timestamp;
            } else {
                problems.push(format!(
                    "{slot:?}: stamped {} outside the send window {from}..={until}",
                    got.timestamp
                ));
                continue;
            }
        }
        if **got != record {
            problems.push(format!("{slot:?}: expected {record:?}, read {got:?}"));
        }
    }
    for slot in read.keys().filter(|s| !expected.records.contains_key(s)) {
        problems.push(format!("{slot:?}: read but never acknowledged"));
    }
    assert!(
        problems.is_empty(),
        "{what}: {} differences, first: {:#?}",
        problems.len(),
        &problems[..problems.len().min(5)]
    );
}
