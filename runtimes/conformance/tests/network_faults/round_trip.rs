//! A whole session through a proxy that delivers one byte per write in
//! both directions, then one through a low bandwidth limit: connecting,
//! producing and fetching just work, and what is fetched back through
//! the proxy is exactly what was acknowledged.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkite_smol::{
    FetchConfig, FetchStart, Fetcher, Producer, ProducerConfig, ProducerRecord, Session,
};
use kafkite_testkit::{Direction, FaultyProxy};
use smol::stream::StreamExt;

use super::support::{
    direct_session, new_topic, own_proxy, proxied_session, run, seq_of, value, within, HANG_SLACK,
};

const PARTITIONS: i32 = 2;

/// Records per phase, ~130 bytes each.
const RECORDS: u64 = 200;
const PAD: usize = 120;

/// The limit of the bandwidth phase, each way: the phase's ~60 KB take a
/// few seconds.
const BANDWIDTH: u64 = 16 * 1024;

/// (partition, offset) -> (key, sequence number).
type Records = BTreeMap<(i32, i64), (Vec<u8>, u64)>;

#[test]
fn byte_at_a_time_and_low_bandwidth_sessions_round_trip() {
    let what = "byte_at_a_time_and_low_bandwidth_round_trip";
    let proxy = own_proxy(what);
    run(what, async {
        let direct = direct_session().await;
        let topic = new_topic(&direct, "net-faults-trickle", PARTITIONS).await;
        direct.close().await;

        for dir in Direction::BOTH {
            proxy.byte_at_a_time(dir, true);
        }
        let mut acked = Records::new();
        round_trip(proxy, &topic, 0, &mut acked, "byte at a time").await;
        let trickled = proxy.stats();
        eprintln!("{what}: byte at a time: {trickled:?}");
        for dir in Direction::BOTH {
            let d = trickled.direction(dir);
            assert!(d.frames > 0, "{what}: no frames {dir:?}");
            assert_eq!(d.writes, d.bytes, "{what}: {dir:?} not one byte per write");
        }

        proxy.clear_faults();
        for dir in Direction::BOTH {
            proxy.bandwidth(dir, BANDWIDTH);
        }
        round_trip(proxy, &topic, RECORDS, &mut acked, "low bandwidth").await;
        proxy.clear_faults();
        let stats = proxy.stats();
        eprintln!("{what}: after the bandwidth phase: {stats:?}");
        assert_eq!(stats.cuts, 0, "{what}");
    })
}

/// On a new session through `proxy`: produces [`RECORDS`] keyed records
/// from sequence number `first` (adding them to `acked`), then fetches
/// the whole topic from offset 0 and checks it is exactly `acked`.
async fn round_trip(
    proxy: &FaultyProxy,
    topic: &str,
    first: u64,
    acked: &mut Records,
    phase: &str,
) {
    let session = proxied_session(proxy, "kafkite-trickle").await;
    let producer = within(
        "Producer::new",
        HANG_SLACK,
        Producer::new(&session, ProducerConfig::default()),
    )
    .await
    .unwrap_or_else(|e| panic!("{phase}: Producer::new: {e}"));
    let mut deliveries = Vec::new();
    for seq in first..first + RECORDS {
        let key = format!("trickle-{}", seq % 7).into_bytes();
        let record = ProducerRecord::new(topic)
            .key(key.clone())
            .value(value(seq, PAD));
        let delivery = within("send", HANG_SLACK, producer.send(record))
            .await
            .unwrap_or_else(|e| panic!("{phase}: send {seq}: {e}"));
        deliveries.push((seq, key, delivery));
    }
    for (seq, key, delivery) in deliveries {
        let d = within("a delivery", HANG_SLACK * 2, delivery)
            .await
            .unwrap_or_else(|e| panic!("{phase}: record {seq} failed: {e}"));
        acked.insert((d.partition, d.offset), (key, seq));
    }
    within("close the producer", HANG_SLACK, producer.close()).await;

    let fetched = fetch_all(&session, topic, acked.len(), phase).await;
    session.close().await;
    assert_eq!(
        &fetched, acked,
        "{phase}: fetched back through the proxy != acknowledged"
    );
}

/// Every record of `topic` from offset 0, `count` in all.
async fn fetch_all(session: &Session, topic: &str, count: usize, phase: &str) -> Records {
    let config = FetchConfig {
        max_wait: Duration::from_millis(100),
        ..FetchConfig::default()
    };
    let fetcher = Fetcher::new(session, config);
    let starts = (0..PARTITIONS)
        .map(|p| FetchStart::new(topic, p, Some(0)))
        .collect();
    let mut stream = fetcher.fetch(starts, Some(count));
    let mut fetched = Records::new();
    within("fetch back", HANG_SLACK * 2, async {
        while let Some(record) = stream.next().await {
            let record = record.unwrap_or_else(|e| panic!("{phase}: fetch: {e}"));
            let key = record
                .key
                .as_deref()
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            let seq = seq_of(record.value.as_deref());
            let before = fetched.insert((record.partition, record.offset), (key, seq));
            assert!(before.is_none(), "{phase}: offset fetched twice");
        }
    })
    .await;
    fetched
}
