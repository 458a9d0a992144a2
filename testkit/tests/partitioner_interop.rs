//! Acceptance: for 10,000 random keys and partition counts 1 to 64,
//! kafkite's partitioner picks the partition that the Java client's own
//! murmur2 picks (`Utils.toPositive(Utils.murmur2(key)) % n` from
//! kafka-clients 4.4, run here), and confluent-kafka with
//! `partitioner=murmur2_random` (librdkafka 2.16) agrees.
//!
//! Needs `java`, `javac` and the venv (`scripts/peers/install.sh kafka
//! python`, which the testkit runs itself): without them the test fails,
//! it never skips.

use kafkite::producer::partition_for_key;
use kafkite_testkit::{java_murmur2_partitions, librdkafka_murmur2_partitions};

const KEYS: usize = 10_000;
const MAX_PARTITIONS: u32 = 64;
const MAX_KEY_LEN: usize = 64;

/// splitmix64: a fixed seed gives the same keys on every run and machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The keys, those that exercise murmur2's edge cases first: the empty key
/// (only the seed and the final mix), one key of each length 1 to 8 (the
/// 1-, 2- and 3-byte tails, with and without a whole 4-byte block before
/// them), bytes with the high bit set (Java's bytes are signed), then
/// random keys of random length 0..=64. The first ones also form the sample
/// that murmur2_librdkafka.py sends through a real confluent-kafka Producer.
fn keys() -> Vec<Vec<u8>> {
    let mut rng = SplitMix64(0x6b61_666b_6974_6521);
    let mut keys: Vec<Vec<u8>> = vec![Vec::new()];
    for len in 1..=8 {
        keys.push((0..len).map(|_| rng.next() as u8).collect());
    }
    keys.push(vec![0xff; 3]);
    keys.push(vec![0x80, 0x7f, 0xfe, 0x01, 0xc3]);
    while keys.len() < KEYS {
        let len = (rng.next() % (MAX_KEY_LEN as u64 + 1)) as usize;
        keys.push((0..len).map(|_| rng.next() as u8).collect());
    }
    keys
}

fn hex(key: &[u8]) -> String {
    if key.is_empty() {
        return "(empty)".into();
    }
    key.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn kafkite_partitions_keys_like_the_java_client_and_librdkafka_murmur2_random() {
    let keys = keys();
    // The two witnesses run side by side (each is a second or two, mostly
    // process start-up).
    let (java, librdkafka) = std::thread::scope(|s| {
        let java = s.spawn(|| java_murmur2_partitions(&keys, MAX_PARTITIONS));
        let librdkafka = librdkafka_murmur2_partitions(&keys, MAX_PARTITIONS);
        (java.join(), librdkafka)
    });
    let java = java
        .expect("the Java murmur2 thread panicked")
        .unwrap_or_else(|e| panic!("the Java client's murmur2 (kafka-clients 4.4): {e}"));
    let librdkafka = librdkafka
        .unwrap_or_else(|e| panic!("librdkafka's murmur2_random (confluent-kafka 2.16): {e}"));

    let mut mismatches = Vec::new();
    let mut compared = 0usize;
    for (i, key) in keys.iter().enumerate() {
        for n in 1..=MAX_PARTITIONS {
            let ours = partition_for_key(key, n);
            let j = java[i][n as usize - 1];
            let r = librdkafka[i][n as usize - 1];
            compared += 1;
            if i64::from(ours) != i64::from(j) || j != r {
                mismatches.push(format!(
                    "  key #{i} {} (len {}), {n} partitions: kafkite {ours}, java {j}, librdkafka {r}",
                    hex(key),
                    key.len()
                ));
            }
        }
    }
    assert_eq!(compared, KEYS * MAX_PARTITIONS as usize);
    assert!(
        mismatches.is_empty(),
        "{} of {compared} (key, partition count) pairs disagree; the first ones:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
}
