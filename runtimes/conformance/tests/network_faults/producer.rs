//! An idempotent producer through cuts, byte-at-a-time delivery, stalls
//! and a bandwidth limit: every record it acknowledges is in the log
//! exactly once, where it was acknowledged, in send order per partition;
//! every record sent is either acknowledged or reported failed.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkite_smol::{Acks, DeliveryFuture, ProduceError, Producer, ProducerConfig, ProducerRecord};

use super::schedule;
use super::support::{
    direct_session, new_topic, own_proxy, pause, proxied_session, read_log, run, value, within,
    HANG_SLACK, PRODUCE_TIMEOUT,
};

const PARTITIONS: i32 = 4;

/// At least this many records are sent; sending goes on until the faults
/// are over.
const MIN_RECORDS: u64 = 2_000;

/// Distinct keys: each names one partition for good.
const KEYS: u64 = 40;

/// Bytes of padding per value (~100-byte records).
const PAD: usize = 80;

/// A record is acknowledged or failed within this, whatever the network does.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn idempotent_producer_keeps_every_acknowledged_record_exactly_once_in_order() {
    let what = "idempotent_producer_through_network_faults";
    let proxy = own_proxy(what);
    run(what, async {
        let t0 = Instant::now();
        let say = |line: String| eprintln!("[{what} +{:6.2} s] {line}", t0.elapsed().as_secs_f64());
        let direct = direct_session().await;
        let topic = new_topic(&direct, "net-faults-produce", PARTITIONS).await;
        let session = proxied_session(proxy, "kafkite-faulty-producer").await;
        let config = ProducerConfig::default()
            .with_acks(Acks::All)
            .with_idempotence(true)
            .with_linger(Duration::from_millis(5))
            .with_batch_size(4 * 1024)
            .with_request_timeout(PRODUCE_TIMEOUT)
            .with_retry_backoff(Duration::from_millis(50), Duration::from_millis(500))
            .with_delivery_timeout(DELIVERY_TIMEOUT);
        let producer = within(
            "Producer::new",
            DELIVERY_TIMEOUT,
            Producer::new(&session, config),
        )
        .await
        .unwrap_or_else(|e| panic!("{what}: Producer::new: {e}"));

        let faults_over = Arc::new(AtomicBool::new(false));
        let sending = smol::spawn(send_until(
            producer.clone(),
            topic.clone(),
            Arc::clone(&faults_over),
        ));
        // Traffic first, then the faults.
        pause(Duration::from_millis(500)).await;
        let injected = schedule::inject(proxy, &say).await;
        say(format!("injected: {injected}"));
        faults_over.store(true, Ordering::SeqCst);
        let sent = sending.await;
        say(format!("sent {} records", sent.len()));

        // Every record resolves: acknowledged, or failed with a reason.
        let mut acked: BTreeMap<u64, (i32, i64)> = BTreeMap::new();
        let mut failed: Vec<(u64, ProduceError)> = Vec::new();
        let mut key_partition: HashMap<String, i32> = HashMap::new();
        for (seq, key, delivery) in sent {
            match within("a delivery", DELIVERY_TIMEOUT + HANG_SLACK, delivery).await {
                Ok(d) => {
                    let first = *key_partition.entry(key.clone()).or_insert(d.partition);
                    assert_eq!(
                        d.partition, first,
                        "{what}: key {key} went to partitions {first} and {}",
                        d.partition
                    );
                    acked.insert(seq, (d.partition, d.offset));
                }
                Err(e) => failed.push((seq, e)),
            }
        }
        within("close", DELIVERY_TIMEOUT, producer.close()).await;
        let stats = proxy.stats();
        session.close().await;
        say(format!(
            "{} acknowledged, {} failed{}; proxy: {} connections, {} bytes to the broker, \
             {} to the client",
            acked.len(),
            failed.len(),
            failed
                .first()
                .map_or(String::new(), |(s, e)| format!(" (first: record {s}: {e})")),
            stats.connections,
            stats.to_broker.bytes,
            stats.to_client.bytes
        ));

        // The log, read around the proxy.
        let log = read_log(&direct, &topic, PARTITIONS).await;
        direct.close().await;
        let mut where_is: HashMap<u64, Vec<(i32, i64)>> = HashMap::new();
        for (&partition, records) in &log {
            for r in records {
                where_is
                    .entry(r.seq)
                    .or_default()
                    .push((partition, r.offset));
            }
            // Send order is log order, for every record that got there.
            let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "{what}: partition {partition} out of send order: {:?}",
                seqs.windows(2).find(|w| w[0] >= w[1])
            );
        }
        let duplicates: Vec<_> = where_is.iter().filter(|(_, at)| at.len() > 1).collect();
        let mut lost = Vec::new();
        for (seq, &(partition, offset)) in &acked {
            match where_is.get(seq).map(Vec::as_slice) {
                // -1: a retry the broker recognised as a duplicate of a
                // write whose offset it no longer reports.
                Some([(p, o)]) if *p == partition && (*o == offset || offset == -1) => {}
                other => lost.push((*seq, partition, offset, other.map(<[_]>::to_vec))),
            }
        }
        let logged: usize = log.values().map(Vec::len).sum();
        say(format!(
            "log holds {logged} records; duplicates={}, acknowledged but lost or moved={}, \
             failed={} (of which in the log: {})",
            duplicates.len(),
            lost.len(),
            failed.len(),
            failed
                .iter()
                .filter(|(s, _)| where_is.contains_key(s))
                .count()
        ));
        assert!(
            duplicates.is_empty(),
            "{what}: written twice: {duplicates:?}"
        );
        assert!(
            lost.is_empty(),
            "{what}: acknowledged (seq, partition, offset) but not there once: {:?}",
            &lost[..lost.len().min(10)]
        );
        assert!(
            injected.cuts_mid_frame >= 2 * schedule::MID_FRAME_CUTS_PER_DIRECTION,
            "{what}: {injected}"
        );
        assert!(
            stats.connections > injected.cuts,
            "{what}: {} connections for {} cuts: the client did not reconnect",
            stats.connections,
            injected.cuts
        );
        assert!(
            injected.connections_during_long_stall > 0,
            "{what}: answers held past their deadline did not make the client reconnect"
        );
        // Every fault here is retriable and shorter than the delivery
        // timeout: a failed record is a producer that gave up too early.
        assert!(
            failed.is_empty(),
            "{what}: {} records failed, first: {:?}",
            failed.len(),
            failed.first()
        );
    })
}

/// Sends keyed records, a few every 40 ms, until the faults are over and
/// at least [`MIN_RECORDS`] are out; returns each one's sequence number,
/// key and delivery.
async fn send_until(
    producer: Producer,
    topic: String,
    faults_over: Arc<AtomicBool>,
) -> Vec<(u64, String, DeliveryFuture)> {
    let mut sent = Vec::new();
    let mut seq = 0u64;
    while !(faults_over.load(Ordering::SeqCst) && seq >= MIN_RECORDS) {
        for _ in 0..5 {
            let key = format!("key-{}", seq % KEYS);
            let record = ProducerRecord::new(topic.as_str())
                .key(key.clone().into_bytes())
                .value(value(seq, PAD));
            let delivery = within("send", DELIVERY_TIMEOUT + HANG_SLACK, producer.send(record))
                .await
                .unwrap_or_else(|e| panic!("send record {seq}: {e}"));
            sent.push((seq, key, delivery));
            seq += 1;
        }
        pause(Duration::from_millis(40)).await;
    }
    sent
}
