//! Smoke test of the read-back witnesses: records with the awkward fields
//! (null and empty keys, values and header values, repeated and non-ASCII
//! header keys, binary bytes, explicit timestamps, two partitions) are
//! produced by confluent-kafka to a real Kafka 4.4 broker, and
//! `java_read_back` and `confluent_read_back` must both return exactly them.

use std::time::Duration;

use kafkite_testkit::{
    confluent_read_back, java_read_back, run_python, shared, unique_name, ConsumedRecord, PeerKind,
};

/// Creates TOPIC with 2 partitions, produces the records below to it and
/// prints `partition offset` per record, in order. Record i has timestamp
/// BASE_TS + i.
const PRODUCE: &str = r#"
import sys
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic, base_ts = sys.argv[1], sys.argv[2], int(sys.argv[3])
admin = AdminClient({"bootstrap.servers": bootstrap})
for f in admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)]).values():
    f.result(30)

records = [
    (0, b"k1", b"v1", [("h1", b"x"), ("h2", None)]),
    (0, None, b"no key", []),
    (1, b"tomb", None, [("empty", b"")]),
    (1, b"", b"", []),
    (0, bytes(range(256)), bytes(range(255, -1, -1)), [("dup", b"1"), ("dup", b"2"), ("\u043a\u043b\u044e\u0447", b"\x00\xff")]),
    (1, b"big", b"y" * 10000, []),
]
p = Producer({"bootstrap.servers": bootstrap})
done = {}
for i, (part, key, value, headers) in enumerate(records):
    p.produce(topic, value=value, key=key, partition=part, headers=headers, timestamp=base_ts + i,
              on_delivery=lambda err, msg, i=i: done.__setitem__(i, (err, msg.partition(), msg.offset())))
if p.flush(30):
    sys.exit("undelivered records")
for i in range(len(records)):
    err, part, offset = done[i]
    if err is not None:
        sys.exit(f"record {i}: {err}")
    print(part, offset)
"#;

const BASE_TS: i64 = 1_700_000_000_000;

fn record(
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&str, Option<&[u8]>)],
) -> ConsumedRecord {
    ConsumedRecord {
        partition: 0,
        offset: 0,
        timestamp: 0,
        key: key.map(<[u8]>::to_vec),
        value: value.map(<[u8]>::to_vec),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(<[u8]>::to_vec)))
            .collect(),
    }
}

#[test]
fn java_and_confluent_read_back_the_same_records_that_were_produced() {
    let kafka = shared(PeerKind::Kafka);
    let topic = unique_name("read-back");
    let all_bytes: Vec<u8> = (0..=255).collect();
    let reversed: Vec<u8> = all_bytes.iter().rev().copied().collect();
    let mut expected = vec![
        record(
            Some(b"k1"),
            Some(b"v1"),
            &[("h1", Some(b"x")), ("h2", None)],
        ),
        record(None, Some(b"no key"), &[]),
        record(Some(b"tomb"), None, &[("empty", Some(b""))]),
        record(Some(b""), Some(b""), &[]),
        record(
            Some(&all_bytes),
            Some(&reversed),
            &[
                ("dup", Some(b"1")),
                ("dup", Some(b"2")),
                ("ключ", Some(&[0x00, 0xff])),
            ],
        ),
        record(Some(b"big"), Some(&[b'y'; 10_000]), &[]),
    ];

    let delivered = run_python(
        PRODUCE,
        [kafka.bootstrap(), topic.as_str(), &BASE_TS.to_string()],
    )
    .unwrap_or_else(|e| panic!("confluent-kafka producer: {e}"));
    let positions: Vec<(i32, i64)> = delivered
        .lines()
        .map(|l| {
            let (p, o) = l.split_once(' ').expect("`partition offset` line");
            (p.parse().expect("partition"), o.parse().expect("offset"))
        })
        .collect();
    assert_eq!(
        positions.len(),
        expected.len(),
        "delivery reports: {delivered}"
    );
    for (i, (r, (partition, offset))) in expected.iter_mut().zip(positions).enumerate() {
        r.partition = partition;
        r.offset = offset;
        r.timestamp = BASE_TS + i as i64;
    }
    expected.sort();

    let timeout = Duration::from_secs(60);
    let java = java_read_back(kafka.bootstrap(), &topic, expected.len(), timeout)
        .unwrap_or_else(|e| panic!("java_read_back: {e}"));
    let confluent = confluent_read_back(kafka.bootstrap(), &topic, expected.len(), timeout)
        .unwrap_or_else(|e| panic!("confluent_read_back: {e}"));
    assert_eq!(java, expected, "the Java client read back something else");
    assert_eq!(
        confluent, expected,
        "confluent-kafka read back something else"
    );

    // Asking for one more than there is: both fail after the timeout and
    // say how many they got.
    let want = expected.len() + 1;
    let short = Duration::from_secs(5);
    let got = format!("got {} of {want}", expected.len());
    let java_err = java_read_back(kafka.bootstrap(), &topic, want, short)
        .expect_err("java_read_back of more records than the topic holds")
        .to_string();
    assert!(java_err.contains(&got), "java_read_back error: {java_err}");
    let confluent_err = confluent_read_back(kafka.bootstrap(), &topic, want, short)
        .expect_err("confluent_read_back of more records than the topic holds")
        .to_string();
    assert!(
        confluent_err.contains(&got),
        "confluent_read_back error: {confluent_err}"
    );
}
