//! The envelope consumer under faults on librdkafka's 3-broker mock
//! cluster: a leader move and a broker down and up while it consumes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures_lite::{future, StreamExt};

use kafkite::producer::{ProducerConfig, ProducerRecord};
use kafkite_testkit::{unique_name, Peer, PeerKind};

use super::support::{connect, send_all, within, SCENARIO_LIMIT};
use kafkite_driver::{Consumer, GroupOffsets, Producer, Runtime, Session, TopicPartition};

const PARTITIONS: i32 = 3;
/// Records produced before consumption starts, and again after the faults.
const BATCH: usize = 150;

/// Every record produced is delivered at least once, and the group's
/// committed offsets never go backwards, while partition 0's leader moves
/// and partition 2's leader goes down and comes back.
pub async fn envelope_consumer_survives_leader_move_and_broker_restart<R: Runtime + Default>() {
    let what = "envelope_consumer_survives_faults";
    let peer =
        Peer::start(PeerKind::Mock).unwrap_or_else(|e| panic!("{what}: start a mock cluster: {e}"));
    within::<R, _>(SCENARIO_LIMIT * 2, what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = unique_name("consume-faults");
        peer.create_topic(&topic, PARTITIONS, 3)
            .unwrap_or_else(|e| panic!("{what}: create_topic: {e}"));
        let mut produced = produce(&session, &topic, 0, what).await;

        let group = GroupOffsets::new(session.clone(), unique_name("consume-faults"));
        let consumer = Consumer::new(
            &session,
            group.clone(),
            [(topic.clone(), (0..PARTITIONS).collect())],
            Duration::from_millis(100),
            1,
        );
        let mut stream = consumer.consume(None);
        let mut delivered: BTreeSet<String> = BTreeSet::new();
        let mut committed: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        let mut envelopes = 0usize;
        let mut step = 0;
        let mut down: Option<(i32, Instant)> = None;
        let deadline = Instant::now() + SCENARIO_LIMIT;
        while !delivered.is_superset(&produced) || step < 4 {
            assert!(
                Instant::now() < deadline,
                "{what}: {} of {} records delivered by the deadline (step {step})",
                delivered.intersection(&produced).count(),
                produced.len()
            );
            // The faults, as consumption goes on.
            match step {
                0 if envelopes >= 60 => {
                    let from = session.metadata().leader(&topic, 0).unwrap_or(1);
                    let to = if from == 1 { 2 } else { 1 };
                    eprintln!("{what}: moving partition 0's leader {from} -> {to}");
                    peer.set_partition_leader(&topic, 0, to)
                        .unwrap_or_else(|e| panic!("{what}: move leader: {e}"));
                    step = 1;
                }
                1 if envelopes >= 120 => {
                    let broker = session.metadata().leader(&topic, 2).unwrap_or(3);
                    eprintln!("{what}: broker {broker} (leads partition 2) down");
                    peer.broker_down(broker)
                        .unwrap_or_else(|e| panic!("{what}: broker down: {e}"));
                    down = Some((broker, Instant::now()));
                    step = 2;
                }
                2 if down.is_some_and(|(_, at)| at.elapsed() > Duration::from_secs(2)) => {
                    let (broker, _) = down.take().unwrap_or((3, Instant::now()));
                    eprintln!("{what}: broker {broker} up");
                    peer.broker_up(broker)
                        .unwrap_or_else(|e| panic!("{what}: broker up: {e}"));
                    step = 3;
                }
                3 => {
                    produced.extend(produce(&session, &topic, BATCH, what).await);
                    step = 4;
                }
                _ => {}
            }
            let wait_until = Instant::now() + Duration::from_millis(200);
            let Some(item) = next_or_timeout::<R, _>(&mut stream, wait_until).await else {
                continue;
            };
            let envelope = match item {
                Some(Ok(envelope)) => envelope,
                // Fetch errors reach the stream; under these faults they
                // are retriable and consumption goes on.
                Some(Err(e)) => {
                    eprintln!("{what}: stream error (going on): {e}");
                    continue;
                }
                None => panic!("{what}: the stream ended"),
            };
            envelopes += 1;
            let value = envelope
                .value
                .as_ref()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            delivered.insert(value);
            let tp = (envelope.topic.to_string(), envelope.partition);
            if envelope.offset % 10 != 9 {
                envelope.ack();
                continue;
            }
            let offset = envelope.offset + 1;
            match envelope.commit("faults").await {
                Ok(()) => {}
                Err(e) if e.is_retriable() => {
                    eprintln!("{what}: commit failed (going on): {e}");
                    continue;
                }
                Err(e) => panic!("{what}: commit: {e}"),
            }
            let stored = group
                .fetch_offsets(std::slice::from_ref(&tp))
                .await
                .ok()
                .and_then(|m| m.get(&tp).cloned().flatten());
            if let Some(stored) = stored {
                let previous = committed.insert(tp.clone(), stored.offset);
                assert!(
                    previous.is_none_or(|p| p <= stored.offset),
                    "{what}: {tp:?} committed offset went back from {previous:?} to {}",
                    stored.offset
                );
                assert!(
                    stored.offset >= offset,
                    "{what}: {tp:?} stored {} < committed {offset}",
                    stored.offset
                );
            }
        }
        eprintln!(
            "{what}: {} records produced, {envelopes} envelopes, committed {committed:?}",
            produced.len()
        );
        session.close().await;
    })
    .await
}

/// Produces [`BATCH`] records `v{first}`.. round robin over the partitions
/// and returns their values once all are acknowledged.
async fn produce<R: Runtime>(
    session: &Session<R>,
    topic: &str,
    first: usize,
    what: &str,
) -> BTreeSet<String> {
    let producer = Producer::new(session, ProducerConfig::default())
        .await
        .unwrap_or_else(|e| panic!("{what}: producer: {e}"));
    let records = (first..first + BATCH).map(|i| {
        ProducerRecord::new(topic)
            .partition((i % PARTITIONS as usize) as i32)
            .value(format!("v{i}"))
    });
    send_all(&producer, records, what).await;
    producer.close().await;
    (first..first + BATCH).map(|i| format!("v{i}")).collect()
}

/// The stream's next item, or `None` at `deadline`.
async fn next_or_timeout<R: Runtime + Default, S: futures_lite::Stream + Unpin>(
    stream: &mut S,
    deadline: Instant,
) -> Option<Option<S::Item>> {
    let runtime = R::default();
    let timeout = async {
        runtime.sleep_until(deadline).await;
        None
    };
    future::or(async { Some(stream.next().await) }, timeout).await
}
