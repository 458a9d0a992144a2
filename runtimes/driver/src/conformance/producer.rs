//! Producer scenarios every broker must pass: both producer APIs, every
//! codec, records read back by independent clients (the Java client and
//! confluent-kafka) with the same partition, key, value, headers and
//! timestamp.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use kafkite::admin::NewTopic;
use kafkite::producer::{partition_for_key, Message, ProducerConfig, ProducerRecord};
use kafkite::records::Compression;
use kafkite_testkit::{unique_name, Peer, PeerKind};

use super::support::{connect, within, SCENARIO_LIMIT};
use crate::{ExplicitProducer, Producer, Runtime, Session};

/// Partitions of the scenario's topic.
const PARTITIONS: u32 = 3;
/// Records per codec through the batching producer.
const RECORDS_PER_CODEC: usize = 60;
/// Messages per partition in each explicit `send()`.
const MESSAGES_PER_PARTITION: usize = 5;

/// A record as the log should hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRecord {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Every codec the build has, with both APIs, into one topic; returns the
/// topic and what its log must hold, keyed by (partition, offset).
pub async fn produce_every_codec<R: Runtime + Default>(
    peer: &Peer,
    what: &str,
) -> (String, BTreeMap<(i32, i64), LoggedRecord>) {
    let session = connect::<R>(peer.bootstrap()).await;
    let topic = unique_name("produce");
    create_topic(&session, peer, &topic, what).await;
    let mut logged = BTreeMap::new();
    for compression in Compression::ALL {
        let config = ProducerConfig::default()
            .with_compression(compression)
            .with_linger(Duration::from_millis(20));
        let what = format!("{what} {compression:?}");
        batching_api(&session, &topic, config.clone(), &what, &mut logged).await;
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
    logged: &mut BTreeMap<(i32, i64), LoggedRecord>,
) {
    let producer = Producer::new(session, config)
        .await
        .unwrap_or_else(|e| panic!("{what}: Producer::new: {e}"));
    let mut sent = Vec::new();
    for i in 0..RECORDS_PER_CODEC {
        let (record, expected) = record_for(topic, i, what);
        let delivery = producer
            .send(record)
            .await
            .unwrap_or_else(|e| panic!("{what}: send #{i}: {e}"));
        sent.push((delivery, expected));
    }
    for (i, (delivery, mut expected)) in sent.into_iter().enumerate() {
        let delivery = delivery
            .await
            .unwrap_or_else(|e| panic!("{what}: delivery of #{i}: {e}"));
        assert_eq!(delivery.topic, topic, "{what}: #{i}");
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
        if expected.timestamp < 0 {
            expected.timestamp = delivery.timestamp;
        }
        let slot = (delivery.partition, delivery.offset);
        assert!(
            logged.insert(slot, expected).is_none(),
            "{what}: two records delivered at {slot:?}"
        );
    }
    producer.close().await;
}

/// The Dart package's API: per-partition base offsets, and a second
/// `send()` that carries only its own messages.
async fn explicit_api<R: Runtime>(
    session: &Session<R>,
    topic: &str,
    config: ProducerConfig,
    what: &str,
    logged: &mut BTreeMap<(i32, i64), LoggedRecord>,
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
                logged.insert((partition, expected.offset), expected);
            }
        }
        previous = Some(bases);
    }
    producer.close().await;
}

/// The i-th record of the batching API, varied: every 7th has no key (sticky
/// partitioning), every 5th an explicit partition, every 11th no value,
/// every 3rd a null header value, every 4th its own timestamp.
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
    if i % 7 != 0 {
        let key = format!("key-{}", i % 13).into_bytes();
        record = record.key(key.clone());
        expected.key = Some(key);
    }
    if i % 5 == 0 {
        let partition = (i / 5 % PARTITIONS as usize) as i32;
        record = record.partition(partition);
        expected.partition = partition;
    }
    if i % 11 != 0 {
        let value = format!("{what} value {i} {}", "x".repeat(i % 40)).into_bytes();
        record = record.value(value.clone());
        expected.value = Some(value);
    }
    let header = format!("h{i}").into_bytes();
    record = record.header("index", Some(Bytes::from(header.clone())));
    expected.headers.push(("index".into(), Some(header)));
    if i % 3 == 0 {
        record = record.header("absent", None);
        expected.headers.push(("absent".into(), None));
    }
    if i % 4 == 0 {
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

async fn create_topic<R: Runtime>(session: &Session<R>, peer: &Peer, topic: &str, what: &str) {
    if peer.kind() == PeerKind::Mock {
        peer.create_topic(topic, PARTITIONS as i32, 1)
            .unwrap_or_else(|e| panic!("{what}: mock create_topic: {e}"));
    } else {
        session
            .create_topics(&[NewTopic::new(topic, PARTITIONS as i32, 1)])
            .await
            .unwrap_or_else(|e| panic!("{what}: create_topics: {e}"));
    }
}

/// Both APIs, every codec; the log holds exactly what was acknowledged
/// (read back by the session itself in offsets).
pub async fn produces_every_codec_with_both_apis<R: Runtime + Default>(peer: &Peer) {
    let what = format!("{} produces_every_codec_with_both_apis", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let (_topic, logged) = produce_every_codec::<R>(peer, &what).await;
        let per_codec = RECORDS_PER_CODEC + 2 * MESSAGES_PER_PARTITION * PARTITIONS as usize;
        assert_eq!(logged.len(), per_codec * Compression::ALL.len(), "{what}");
    })
    .await
}
