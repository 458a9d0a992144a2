use bytes::Bytes;

use super::*;
use crate::records::{RecordHeaders, TimestampType};

fn record(offset: i64) -> Record {
    Record {
        offset,
        timestamp: 1_000 + offset,
        timestamp_type: TimestampType::CreateTime,
        key: None,
        value: Some(Bytes::from(format!("v{offset}"))),
        headers: RecordHeaders::default(),
    }
}

fn chunk(topic: &str, partition: i32, offsets: std::ops::Range<i64>) -> FetchedRecords {
    FetchedRecords {
        topic: topic.to_string(),
        partition,
        high_watermark: offsets.end,
        records: offsets.map(record).collect(),
    }
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    (topic.to_string(), partition)
}

#[test]
fn a_partition_hands_out_its_next_record_only_after_the_last_is_resolved() {
    let mut queue = EnvelopeQueue::new(None);
    queue.push(chunk("t", 0, 0..2));
    queue.push(chunk("t", 1, 5..6));

    let first = queue.next_envelope().expect("t-0 offset 0");
    assert_eq!((first.partition, first.record.offset), (0, 0));
    let second = queue.next_envelope().expect("t-1 offset 5");
    assert_eq!((second.partition, second.record.offset), (1, 5));
    assert_eq!(queue.next_envelope(), None, "both partitions wait");

    let resolved = queue.resolve(first.token, Resolution::Ack);
    assert!(
        resolved.release.is_empty(),
        "t-0's chunk still has offset 1"
    );
    let third = queue.next_envelope().expect("t-0 offset 1 after the ack");
    assert_eq!((third.partition, third.record.offset), (0, 1));
    assert_eq!(queue.unresolved(), 2);
}

#[test]
fn resolving_the_last_record_of_a_chunk_releases_it_once() {
    let mut queue = EnvelopeQueue::new(None);
    queue.push(chunk("t", 0, 0..1));
    queue.push(chunk("t", 0, 1..2));
    let first = queue.next_envelope().expect("offset 0");
    assert_eq!(
        queue.resolve(first.token, Resolution::Commit).release,
        vec![tp("t", 0)]
    );
    assert_eq!(
        queue.resolve(first.token, Resolution::Commit),
        Resolved::default(),
        "a second resolve of one token changes nothing"
    );
    let second = queue.next_envelope().expect("offset 1");
    assert_eq!(second.record.offset, 1);
    assert_eq!(
        queue.resolve(second.token, Resolution::Ack).release,
        vec![tp("t", 0)]
    );
}

#[test]
fn the_limit_is_exact_across_partitions() {
    let mut queue = EnvelopeQueue::new(Some(3));
    queue.push(chunk("t", 0, 0..4));
    queue.push(chunk("t", 1, 0..4));
    let mut offsets = Vec::new();
    while let Some(envelope) = queue.next_envelope() {
        offsets.push((envelope.partition, envelope.record.offset));
        queue.resolve(envelope.token, Resolution::Ack);
    }
    assert_eq!(offsets, vec![(0, 0), (1, 0), (0, 1)]);
    assert!(queue.is_finished());
    assert_eq!(queue.handed_out(), 3);
}

#[test]
fn cancel_stops_everything_and_later_resolutions_do_nothing() {
    let mut queue = EnvelopeQueue::new(None);
    queue.push(chunk("t", 0, 0..1));
    queue.push(chunk("t", 1, 0..3));
    let a = queue.next_envelope().expect("t-0");
    let b = queue.next_envelope().expect("t-1");
    let resolved = queue.resolve(b.token, Resolution::Cancel);
    assert!(resolved.stop);
    assert!(resolved.release.is_empty());
    assert!(queue.is_finished());
    assert_eq!(queue.next_envelope(), None);
    assert_eq!(
        queue.resolve(a.token, Resolution::Commit),
        Resolved::default()
    );
    queue.push(chunk("t", 2, 0..1));
    assert_eq!(queue.next_envelope(), None, "nothing after a cancel");
}

#[test]
fn a_batch_takes_every_free_partition_up_to_max_and_blocks_them_until_resolved() {
    let mut queue = EnvelopeQueue::new(None);
    queue.push(chunk("t", 0, 10..12));
    queue.push(chunk("t", 1, 20..22));
    let batch = queue.next_batch(3).expect("a batch");
    assert_eq!(batch.len(), 3);
    assert_eq!(
        batch.commit_offsets(),
        BTreeMap::from([(tp("t", 0), 12), (tp("t", 1), 21)])
    );
    assert_eq!(queue.next_batch(3), None, "both partitions are held");
    let resolved = queue.resolve(batch.token, Resolution::Commit);
    assert_eq!(resolved.release, vec![tp("t", 0)]);
    let rest = queue.next_batch(3).expect("t-1's last record");
    assert_eq!(rest.commit_offsets(), BTreeMap::from([(tp("t", 1), 22)]));
    assert_eq!(queue.handed_out(), 4);
}

#[test]
fn a_batch_never_exceeds_the_limit() {
    let mut queue = EnvelopeQueue::new(Some(2));
    queue.push(chunk("t", 0, 0..5));
    let batch = queue.next_batch(10).expect("a batch");
    assert_eq!(batch.len(), 2);
    queue.resolve(batch.token, Resolution::Ack);
    assert_eq!(queue.next_batch(10), None);
    assert!(queue.is_finished());
}

#[test]
fn forgetting_a_partition_counts_the_chunks_it_held() {
    let mut queue = EnvelopeQueue::new(None);
    queue.push(chunk("t", 0, 0..1));
    queue.push(chunk("t", 0, 1..3));
    let first = queue.next_envelope().expect("offset 0");
    assert_eq!(queue.forget("t", 0), 2, "one used up, one queued");
    assert_eq!(queue.resolve(first.token, Resolution::Ack).release, vec![]);
    assert_eq!(queue.next_envelope(), None);
}
