//! The producer under faults on librdkafka's 3-broker mock cluster:
//! idempotence keeps every acknowledged record exactly once and in order
//! through broker errors, timeouts, a leader move and a broker down and up;
//! and the memory bound holds while the cluster is stalled.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_lite::future;
use kafkite::producer::{Idempotence, ProduceError, ProducerConfig, ProducerRecord};
use kafkite::protocol::{ApiKey, ErrorCode};
use kafkite_testkit::{confluent_read_back, unique_name, Peer, PeerKind};

use super::support::{connect, within, SCENARIO_LIMIT};
use kafkite_driver::{DeliveryFuture, Producer, Runtime};

const PARTITIONS: i32 = 3;
/// Records sent between two faults.
const ROUND: usize = 200;

fn start_mock(what: &str) -> Peer {
    Peer::start(PeerKind::Mock).unwrap_or_else(|e| panic!("{what}: start a mock cluster: {e}"))
}

/// Record `i` goes to partition `i % 3` with value `r{i}`, so each
/// partition's send order is the order of `i`.
fn record(topic: &str, i: usize) -> ProducerRecord {
    ProducerRecord::new(topic)
        .partition((i % PARTITIONS as usize) as i32)
        .value(format!("r{i}").into_bytes())
}

/// Sends the next [`ROUND`] records without waiting for their deliveries.
async fn send_round<R: Runtime>(
    producer: &Producer<R>,
    topic: &str,
    next: &mut usize,
    sent: &mut Vec<(usize, DeliveryFuture)>,
    what: &str,
) {
    for _ in 0..ROUND {
        let i = *next;
        *next += 1;
        let delivery = producer
            .send(record(topic, i))
            .await
            .unwrap_or_else(|e| panic!("{what}: send r{i}: {e}"));
        sent.push((i, delivery));
    }
}

fn index_of(value: &[u8]) -> Option<usize> {
    std::str::from_utf8(value)
        .ok()?
        .strip_prefix('r')?
        .parse()
        .ok()
}

/// Every acknowledged record is in the log exactly once and in send order
/// per partition, through: NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT and
/// NOT_ENOUGH_REPLICAS answers, a leader move, a round-trip time beyond
/// the request timeout, and a leader down and back up. A record the broker
/// rejects for good reports the broker's error, and the producer goes on.
pub async fn idempotent_producer_survives_faults_exactly_once_in_order<R: Runtime + Default>() {
    let what = "idempotent_producer_survives_faults";
    let peer = start_mock(what);
    within::<R, _>(SCENARIO_LIMIT * 2, what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = unique_name("faults");
        peer.create_topic(&topic, PARTITIONS, 3)
            .unwrap_or_else(|e| panic!("{what}: create_topic: {e}"));
        let config = ProducerConfig::default()
            .with_request_timeout(Duration::from_secs(2))
            .with_retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
            .with_delivery_timeout(Duration::from_secs(60));
        assert_eq!(
            config.idempotence,
            Idempotence::Preferred,
            "{what}: idempotence is on by default"
        );
        let producer = Producer::new(&session, config)
            .await
            .unwrap_or_else(|e| panic!("{what}: Producer::new: {e}"));
        let brokers: Vec<i32> = session.metadata().brokers.keys().copied().collect();
        let fault = |step: &str, result: Result<(), kafkite_testkit::TestkitError>| {
            result.unwrap_or_else(|e| panic!("{what}: {step}: {e}"))
        };
        let produce = ApiKey::Produce as i16;

        let mut sent: Vec<(usize, DeliveryFuture)> = Vec::new();
        let mut next = 0usize;
        let pause = |ms| session.sleep_until(Instant::now() + Duration::from_millis(ms));

        send_round(&producer, &topic, &mut next, &mut sent, what).await;
        let not_leader = ErrorCode::NOT_LEADER_OR_FOLLOWER.0 as i32;
        fault(
            "push not-leader",
            peer.push_request_errors(produce, &[not_leader; 3]),
        );
        send_round(&producer, &topic, &mut next, &mut sent, what).await;
        pause(100).await;
        let retriable = [
            ErrorCode::REQUEST_TIMED_OUT.0 as i32,
            ErrorCode::NOT_ENOUGH_REPLICAS.0 as i32,
        ];
        fault(
            "push timeouts",
            peer.push_request_errors(produce, &retriable),
        );
        send_round(&producer, &topic, &mut next, &mut sent, what).await;
        pause(100).await;
        let leader0 = session.metadata().leader(&topic, 0).unwrap_or(brokers[0]);
        let moved_to = *brokers.iter().find(|&&b| b != leader0).unwrap_or(&leader0);
        fault(
            "move leader",
            peer.set_partition_leader(&topic, 0, moved_to),
        );
        send_round(&producer, &topic, &mut next, &mut sent, what).await;
        pause(100).await;
        // Longer than the request timeout: in-flight requests time out,
        // their connection drops, and they are sent again.
        let slow = session.metadata().leader(&topic, 1).unwrap_or(brokers[0]);
        fault("add round-trip time", peer.set_rtt(slow, 3_000));
        send_round(&producer, &topic, &mut next, &mut sent, what).await;
        pause(2_500).await;
        fault("remove round-trip time", peer.set_rtt(slow, 0));
        let down = session.metadata().leader(&topic, 2).unwrap_or(brokers[0]);
        fault("broker down", peer.broker_down(down));
        send_round(&producer, &topic, &mut next, &mut sent, what).await;
        pause(1_000).await;
        fault("broker up", peer.broker_up(down));
        send_round(&producer, &topic, &mut next, &mut sent, what).await;
        producer
            .flush()
            .await
            .unwrap_or_else(|e| panic!("{what}: flush: {e}"));

        let mut acknowledged = BTreeMap::new();
        let mut failed = Vec::new();
        for (i, delivery) in sent {
            match delivery.await {
                Ok(d) => {
                    assert_eq!(
                        d.partition as usize,
                        i % PARTITIONS as usize,
                        "{what}: r{i}"
                    );
                    acknowledged.insert(i, d);
                }
                Err(e) => failed.push((i, e)),
            }
        }
        eprintln!(
            "{what}: {} acknowledged, {} failed: {:?}",
            acknowledged.len(),
            failed.len(),
            &failed[..failed.len().min(3)]
        );
        assert!(
            failed.is_empty(),
            "{what}: retriable faults within the delivery timeout must not fail records"
        );

        // A record the broker rejects for good reports that error, and the
        // producer carries on with later records.
        let invalid = ErrorCode::INVALID_RECORD.0 as i32;
        fault(
            "push invalid record",
            peer.push_request_errors(produce, &[invalid]),
        );
        let rejected_index = next;
        let rejected = producer
            .send(record(&topic, rejected_index))
            .await
            .unwrap_or_else(|e| panic!("{what}: send: {e}"))
            .await;
        match rejected {
            Err(ProduceError::Broker { code, .. }) => {
                assert_eq!(code, ErrorCode::INVALID_RECORD, "{what}")
            }
            other => panic!("{what}: a rejected record reported {other:?}"),
        }
        let after = producer
            .send(record(&topic, rejected_index + 1))
            .await
            .unwrap_or_else(|e| panic!("{what}: send after rejection: {e}"))
            .await
            .unwrap_or_else(|e| panic!("{what}: delivery after rejection: {e}"));
        acknowledged.insert(rejected_index + 1, after);
        producer.close().await;
        session.close().await;

        // The log: a witness of its own reads it.
        let logged = confluent_read_back(
            peer.bootstrap(),
            &topic,
            acknowledged.len(),
            Duration::from_secs(60),
        )
        .unwrap_or_else(|e| panic!("{what}: read back: {e}"));
        let mut seen: BTreeMap<usize, (i32, i64)> = BTreeMap::new();
        let mut last_per_partition: BTreeMap<i32, usize> = BTreeMap::new();
        for r in &logged {
            let i = r
                .value
                .as_deref()
                .and_then(index_of)
                .unwrap_or_else(|| panic!("{what}: a record not ours: {r:?}"));
            if let Some(first) = seen.insert(i, (r.partition, r.offset)) {
                panic!("{what}: r{i} is in the log twice: at {first:?} and {r:?}");
            }
            if let Some(&previous) = last_per_partition.get(&r.partition) {
                assert!(
                    previous < i,
                    "{what}: partition {} holds r{previous} before r{i}: out of send order",
                    r.partition
                );
            }
            last_per_partition.insert(r.partition, i);
        }
        for (i, d) in &acknowledged {
            let at = seen.get(i);
            assert_eq!(
                at,
                Some(&(d.partition, d.offset)),
                "{what}: r{i} acknowledged at {}-{} but the log has it at {at:?}",
                d.partition,
                d.offset
            );
        }
        assert!(
            !seen.contains_key(&rejected_index),
            "{what}: the rejected record is in the log"
        );
    })
    .await
}

/// With the cluster stalled, the producer's buffered bytes never pass the
/// configured limit: `try_send` fails with QueueFull and `send` waits; once
/// the cluster answers again, the waiting send completes and every record
/// is delivered.
pub async fn memory_bound_holds_while_the_cluster_is_stalled<R: Runtime + Default>() {
    let what = "memory_bound_holds_while_stalled";
    let peer = start_mock(what);
    within::<R, _>(SCENARIO_LIMIT, what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = unique_name("stalled");
        peer.create_topic(&topic, PARTITIONS, 1)
            .unwrap_or_else(|e| panic!("{what}: create_topic: {e}"));
        const LIMIT: usize = 64 * 1024;
        let config = ProducerConfig::default()
            .with_buffer_memory(LIMIT)
            .with_batch_size(8 * 1024)
            .with_linger(Duration::from_millis(1))
            .with_request_timeout(Duration::from_secs(30));
        let producer = Producer::new(&session, config)
            .await
            .unwrap_or_else(|e| panic!("{what}: Producer::new: {e}"));
        let value = vec![7u8; 1000];
        let one = |i: usize| record(&topic, i).value(value.clone());
        // Metadata and the producer id first, so the stall is the brokers'.
        producer
            .send(one(0))
            .await
            .unwrap_or_else(|e| panic!("{what}: send: {e}"))
            .await
            .unwrap_or_else(|e| panic!("{what}: first delivery: {e}"));

        let brokers: Vec<i32> = session.metadata().brokers.keys().copied().collect();
        // Answers take this long from now on: the stall.
        const STALL: Duration = Duration::from_secs(4);
        let stalled_at = Instant::now();
        for &b in &brokers {
            peer.set_rtt(b, STALL.as_millis() as u32)
                .unwrap_or_else(|e| panic!("{what}: set_rtt: {e}"));
        }
        let mut deliveries = Vec::new();
        let mut most = 0;
        let mut full = None;
        for i in 1..1_000 {
            match producer.try_send(one(i)) {
                Ok(d) => deliveries.push(d),
                Err(e) => {
                    full = Some(e);
                    break;
                }
            }
            most = most.max(producer.buffered_bytes());
            assert!(
                most <= LIMIT,
                "{what}: {most} bytes buffered, limit {LIMIT}"
            );
        }
        match full {
            Some(ProduceError::QueueFull { limit }) => assert_eq!(limit, LIMIT, "{what}"),
            other => panic!("{what}: expected QueueFull before 1,000 KB, got {other:?}"),
        }
        eprintln!(
            "{what}: {} records accepted, {most} bytes at most",
            deliveries.len()
        );
        // `send` waits for room rather than failing or passing the limit.
        let waiting = producer.send(one(1_000));
        let waited = future::or(async { Some(waiting.await) }, async {
            session
                .sleep_until(Instant::now() + Duration::from_millis(500))
                .await;
            None
        })
        .await;
        // Room comes with answers (after the stall, or earlier when a batch
        // got out before the mock applied it, on a loaded machine) or when
        // sealing a batch frees what its open form reserved. Whenever the
        // waiting send completes, the bound holds with its record in.
        let stalled = stalled_at.elapsed();
        if let Some(Err(e)) = &waited {
            panic!("{what}: send failed instead of waiting for room: {e}");
        }
        if waited.is_some() && stalled < STALL {
            eprintln!("{what}: room came {stalled:?} into the stall");
        }
        assert!(producer.buffered_bytes() <= LIMIT, "{what}");
        // A `send_batch` that could never fit fails at once, taking nothing.
        let too_many: Vec<_> = (0..LIMIT / 1000 + 1).map(one).collect();
        match producer.send_batch(too_many).await {
            Err(ProduceError::BatchTooLarge { size, limit }) => {
                assert!(size > LIMIT && limit == LIMIT, "{what}: {size} / {limit}")
            }
            other => panic!("{what}: expected BatchTooLarge, got {other:?}"),
        }
        assert!(producer.buffered_bytes() <= LIMIT, "{what}");

        for &b in &brokers {
            peer.set_rtt(b, 0)
                .unwrap_or_else(|e| panic!("{what}: set_rtt: {e}"));
        }
        let last = producer
            .send(one(1_001))
            .await
            .unwrap_or_else(|e| panic!("{what}: send after the stall: {e}"));
        assert!(producer.buffered_bytes() <= LIMIT, "{what}");
        // A batch that fits waits for room like `send`, then is delivered.
        let batch = producer
            .send_batch((1_002..1_012).map(one).collect())
            .await
            .unwrap_or_else(|e| panic!("{what}: send_batch after the stall: {e}"));
        assert!(producer.buffered_bytes() <= LIMIT, "{what}");
        for d in deliveries {
            d.await
                .unwrap_or_else(|e| panic!("{what}: delivery after the stall: {e}"));
        }
        last.await
            .unwrap_or_else(|e| panic!("{what}: last delivery: {e}"));
        for (i, outcome) in batch.await.into_iter().enumerate() {
            outcome.unwrap_or_else(|e| panic!("{what}: send_batch record {i}: {e}"));
        }
        producer.close().await;
        assert_eq!(producer.buffered_bytes(), 0, "{what}: all given back");
        session.close().await;
    })
    .await
}
