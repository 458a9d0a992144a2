//! Choosing a partition for a record: the Java client's murmur2 hash for
//! keyed records, so a key lands where Java and librdkafka's
//! `murmur2_random` put it, and a sticky choice for keyless records, so
//! they fill one batch at a time instead of many small ones (KIP-480).

use std::sync::Arc;

use super::topic_key::TopicKey;
use crate::client::Rng;

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`),
/// bit for bit, including its seed and the fall-through tail.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len() as u32;
    let mut h: u32 = SEED ^ length;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Java's default partitioner picks for a key:
/// `Utils.toPositive(Utils.murmur2(key)) % partitions`.
pub fn partition_for_key(key: &[u8], partitions: u32) -> i32 {
    let positive = (murmur2(key) & 0x7fff_ffff) as u32;
    (positive % partitions.max(1)) as i32
}

/// Sticky choice for keyless records: one partition per topic until the
/// batch there is sent, then another, picked at random from the seeded
/// generator.
#[derive(Debug, Default, Clone)]
pub struct StickyPartitioner {
    /// Keyed by the records' shared topic names (see `TopicKey`): this is
    /// looked up for every keyless record.
    current: std::collections::BTreeMap<TopicKey, i32>,
    /// The last topic asked for and its partition: a run of keyless
    /// records of one topic (same `Arc`) skips the lookup. Its key is
    /// reused while records share the `Arc` (see [`TopicKey::reuse`]).
    last: Option<(TopicKey, i32)>,
}

impl StickyPartitioner {
    /// The partition for the next keyless record of `topic`.
    pub fn partition(&mut self, topic: &Arc<str>, partitions: u32, rng: &mut Rng) -> i32 {
        if let Some((key, p)) = &self.last {
            if Arc::ptr_eq(&key.0, topic) && (*p as u32) < partitions {
                return *p;
            }
        }
        let key = TopicKey::reuse(self.last.take().map(|(key, _)| key), topic);
        let p = match self.current.get(&key) {
            Some(&p) if (p as u32) < partitions => p,
            _ => {
                let p = rng.below(u64::from(partitions.max(1))) as i32;
                self.current.insert(key.clone(), p);
                p
            }
        };
        self.last = Some((key, p));
        p
    }

    /// The batch on `partition` was closed: move keyless records on, to a
    /// different partition when there is more than one.
    pub fn batch_closed(
        &mut self,
        topic: &Arc<str>,
        partition: i32,
        partitions: u32,
        rng: &mut Rng,
    ) {
        let Some(current) = self.current.get_mut(&**topic) else {
            return;
        };
        if *current != partition {
            return;
        }
        *current = if partitions > 1 {
            let step = 1 + rng.below(u64::from(partitions - 1)) as i32;
            (partition + step) % partitions as i32
        } else {
            0
        };
        let moved_to = *current;
        if let Some((key, p)) = &mut self.last {
            if key.as_str() == &**topic {
                *p = moved_to;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors from Kafka's own UtilsTest.testMurmur2.
    #[test]
    fn murmur2_matches_kafkas_test_vectors() {
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971
        );
        assert_eq!(murmur2(b"abc"), 479470107);
    }

    #[test]
    fn sticky_partition_moves_only_when_its_batch_closes() {
        let mut rng = Rng::new(1);
        let mut s = StickyPartitioner::default();
        let t: Arc<str> = "t".into();
        let first = s.partition(&t, 6, &mut rng);
        // An equal name that is not the same allocation finds it too.
        assert_eq!(s.partition(&"t".into(), 6, &mut rng), first);
        s.batch_closed(&t, first, 6, &mut rng);
        let second = s.partition(&t, 6, &mut rng);
        assert_ne!(second, first);
        assert!((0..6).contains(&second));
        // Closed through another name for the topic: the run moves on too.
        s.batch_closed(&"t".into(), second, 6, &mut rng);
        let third = s.partition(&t, 6, &mut rng);
        assert_ne!(third, second);
        // Fewer partitions now: a partition past the end is not kept.
        assert!(s.partition(&t, 1, &mut rng) == 0);
    }
}
