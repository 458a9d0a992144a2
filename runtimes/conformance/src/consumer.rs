//! Scenarios for the envelope [`Consumer`], the [`Fetcher`] and the
//! [`OffsetMaster`], on every broker.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_lite::StreamExt;

use kafkite::admin::OffsetSpec;
use kafkite::client::Target;
use kafkite::consumer::{FetchError, OffsetReset};
use kafkite::protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafkite::protocol::messages::DeleteRecordsRequest;
use kafkite::protocol::{ApiKey, ErrorCode};
use kafkite_testkit::{unique_name, Peer, PeerKind};

use super::support::{
    connect, create_topic, eventually, leader_of, produce, send_all, within, SCENARIO_LIMIT,
};
use kafkite_driver::{
    ConsumedRecord, Consumer, Error, FetchConfig, FetchStart, Fetcher, GroupOffsets, OffsetMaster,
    ProducerConfig, ProducerRecord, Runtime, Session, TopicPartition,
};

/// How long a stream may take to hand out its next item in these tests.
const NEXT_LIMIT: Duration = Duration::from_secs(30);

/// Commit stores the next offset with its metadata, ack moves on without
/// storing, the limit is exact, a new stream resumes at the committed
/// offsets, and cancel ends the stream with nothing more committed.
pub async fn envelopes_commit_ack_cancel_and_limit<R: Runtime + Default>(peer: &Peer) {
    let what = format!("{} envelopes_commit_ack_cancel_and_limit", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = new_topic(peer, &session, "envelopes", 2, &what).await;
        produce(&session, &topic, 0, &["a0", "a1", "a2", "a3", "a4", "a5"]).await;
        produce(&session, &topic, 1, &["b0", "b1", "b2", "b3"]).await;
        let group = GroupOffsets::new(session.clone(), unique_name("envelopes"));
        let consumer = Consumer::new(
            &session,
            group.clone(),
            [(topic.clone(), vec![0, 1])],
            Duration::from_millis(100),
            1,
        );

        // Round one: five envelopes; even offsets committed, odd ones acked.
        let mut stream = consumer.consume(Some(5));
        let mut seen: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        let mut expected_commits = BTreeMap::new();
        while let Some(envelope) = next::<R, _>(&mut stream, &what).await {
            let envelope = envelope.unwrap_or_else(|e| panic!("{what}: round one: {e}"));
            let (partition, offset) = (envelope.partition, envelope.offset);
            let value = envelope.value.clone();
            let expected_value = format!("{}{offset}", if partition == 0 { "a" } else { "b" });
            assert_eq!(value, Some(Bytes::from(expected_value)), "{what}: value");
            seen.entry(partition).or_default().push(offset);
            if offset % 2 == 0 {
                let metadata = format!("m-{partition}-{offset}");
                envelope
                    .commit(&metadata)
                    .await
                    .unwrap_or_else(|e| panic!("{what}: commit: {e}"));
                expected_commits.insert((topic.clone(), partition), (offset + 1, metadata));
            } else {
                envelope.ack();
            }
        }
        let total: usize = seen.values().map(Vec::len).sum();
        assert_eq!(total, 5, "{what}: the limit is exact: {seen:?}");
        for (partition, offsets) in &seen {
            let in_order: Vec<i64> = (0..offsets.len() as i64).collect();
            assert_eq!(
                offsets, &in_order,
                "{what}: partition {partition} in order, once"
            );
        }
        assert_committed(peer, &group, &topic, &expected_commits, &what).await;

        // Round two resumes at the committed offsets: records acked after
        // the last commit come again (ack stores nothing).
        let mut stream = consumer.consume(None);
        let mut held = BTreeMap::new();
        while held.len() < 2 {
            let envelope = next::<R, _>(&mut stream, &what)
                .await
                .unwrap_or_else(|| panic!("{what}: round two ended early"))
                .unwrap_or_else(|e| panic!("{what}: round two: {e}"));
            let tp = (topic.clone(), envelope.partition);
            let resume_at = expected_commits.get(&tp).map_or(0, |(offset, _)| *offset);
            assert_eq!(
                envelope.offset, resume_at,
                "{what}: partition {} resumes at its committed offset",
                envelope.partition
            );
            // Both stay unresolved: each partition waits for its own.
            held.insert(envelope.partition, envelope);
        }
        let (Some(first), Some(second)) = (held.remove(&0), held.remove(&1)) else {
            panic!("{what}: one envelope of each partition");
        };
        second.cancel();
        assert!(
            next::<R, _>(&mut stream, &what).await.is_none(),
            "{what}: the stream ends after a cancel"
        );
        match first.commit("after cancel").await {
            Err(Error::Cancelled) => {}
            other => panic!("{what}: a commit after cancel: {other:?}"),
        }
        // Nothing committed after the cancel.
        assert_committed(peer, &group, &topic, &expected_commits, &what).await;
        session.close().await;
    })
    .await
}

/// batch_consume hands out batches of at most `max` records, and a batch's
/// commit stores one past each partition's last record.
pub async fn batches_commit_each_partitions_next_offset<R: Runtime + Default>(peer: &Peer) {
    let what = format!("{} batches_commit_each_partitions_next_offset", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = new_topic(peer, &session, "batches", 2, &what).await;
        produce(&session, &topic, 0, &["a0", "a1", "a2"]).await;
        produce(&session, &topic, 1, &["b0", "b1"]).await;
        let group = GroupOffsets::new(session.clone(), unique_name("batches"));
        let consumer = Consumer::new(
            &session,
            group.clone(),
            [(topic.clone(), vec![0, 1])],
            Duration::from_millis(100),
            1,
        );
        let mut stream = consumer.batch_consume(2, Some(5));
        let mut read: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        let mut last = BTreeMap::new();
        while let Some(batch) = next::<R, _>(&mut stream, &what).await {
            let batch = batch.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                (1..=2).contains(&batch.records().len()),
                "{what}: batch of {}",
                batch.records().len()
            );
            for record in batch.records() {
                read.entry(record.partition)
                    .or_default()
                    .push(record.offset);
                last.insert(
                    (topic.clone(), record.partition),
                    (record.offset + 1, "batch".to_string()),
                );
            }
            batch
                .commit("batch")
                .await
                .unwrap_or_else(|e| panic!("{what}: commit: {e}"));
        }
        assert_eq!(
            read,
            BTreeMap::from([(0, vec![0, 1, 2]), (1, vec![0, 1])]),
            "{what}: every record once, in order"
        );
        assert_committed(peer, &group, &topic, &last, &what).await;
        session.close().await;
    })
    .await
}

/// After the log start moves past a group's committed offset (DeleteRecords,
/// where the broker has it; else the offset is past the log end), each
/// policy does what it says: earliest reads from the log start, latest
/// reads only what comes after, error reports the offset.
pub async fn offset_out_of_range_policies<R: Runtime + Default>(peer: &Peer) {
    let what = format!("{} offset_out_of_range_policies", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = new_topic(peer, &session, "out-of-range", 1, &what).await;
        produce(&session, &topic, 0, &["r0", "r1", "r2", "r3", "r4"]).await;
        let (stale, log_start) = if delete_records(peer, &session, &topic, 3, &what).await {
            (1, 3)
        } else {
            (100, 0)
        };
        let tp = (topic.clone(), 0);
        let consumer_for = |policy: OffsetReset| {
            let group = GroupOffsets::new(session.clone(), unique_name("out-of-range"));
            let consumer = Consumer::new(
                &session,
                group.clone(),
                [(topic.clone(), vec![0])],
                Duration::from_millis(100),
                1,
            )
            .with_offset_reset(policy);
            (group, consumer)
        };
        let commit_stale = |group: GroupOffsets<R>| {
            let tp = tp.clone();
            async move {
                let offsets = BTreeMap::from([(tp, kafkite_driver::OffsetAndMetadata::new(stale))]);
                group.commit_offsets(&offsets).await
            }
        };

        if peer.kind() == PeerKind::Tansu {
            // tansu 0.6.0 neither keeps DeleteRecords (it closes the
            // connection) nor answers OFFSET_OUT_OF_RANGE for an offset past
            // the end (librdkafka sees the same: it fetches at that offset
            // forever), so no policy can be triggered there. Check that this
            // is still so, to notice when it changes.
            let (group, consumer) = consumer_for(OffsetReset::Error);
            commit_stale(group)
                .await
                .unwrap_or_else(|e| panic!("{what}: commit: {e}"));
            let mut stream = consumer.consume(Some(1));
            let deadline = Instant::now() + Duration::from_secs(3);
            let item = future_or_timeout::<R, _>(stream.next(), deadline).await;
            assert!(
                item.is_none(),
                "{what}: tansu answered a fetch past the end: {item:?}; enable the policy checks"
            );
            eprintln!("{what}: tansu has no out-of-range answer; policies not checkable there");
            session.close().await;
            return;
        }

        let (group, consumer) = consumer_for(OffsetReset::Earliest);
        commit_stale(group)
            .await
            .unwrap_or_else(|e| panic!("{what}: commit: {e}"));
        let first =
            next::<R, _>(&mut consumer.consume(Some(1)), &format!("{what}: earliest")).await;
        match first {
            Some(Ok(envelope)) => assert_eq!(envelope.offset, log_start, "{what}: earliest"),
            other => panic!("{what}: earliest: {other:?}"),
        }

        let (group, consumer) = consumer_for(OffsetReset::Error);
        commit_stale(group)
            .await
            .unwrap_or_else(|e| panic!("{what}: commit: {e}"));
        match next::<R, _>(&mut consumer.consume(Some(1)), &format!("{what}: error")).await {
            Some(Err(Error::Fetch(FetchError::OffsetOutOfRange { offset, .. }))) => {
                assert_eq!(offset, stale, "{what}: error names the offset")
            }
            other => panic!("{what}: error policy: {other:?}"),
        }

        let (group, consumer) = consumer_for(OffsetReset::Latest);
        commit_stale(group)
            .await
            .unwrap_or_else(|e| panic!("{what}: commit: {e}"));
        let mut stream = consumer.consume(Some(1));
        // The reset to the end happens inside the stream; keep adding a new
        // record until one arrives: it must be one of the new ones.
        let mut added = 0;
        let envelope = loop {
            added += 1;
            produce(&session, &topic, 0, &["new"]).await;
            let deadline = Instant::now() + Duration::from_secs(2);
            let item = future_or_timeout::<R, _>(stream.next(), deadline).await;
            match item {
                Some(Some(Ok(envelope))) => break envelope,
                Some(other) => panic!("{what}: latest: {other:?}"),
                None if added < 10 => continue,
                None => panic!("{what}: latest: nothing after {added} new records"),
            }
        };
        assert!(
            envelope.offset >= 5,
            "{what}: latest read old offset {}",
            envelope.offset
        );
        assert_eq!(
            envelope.value,
            Some(Bytes::from_static(b"new")),
            "{what}: latest"
        );
        session.close().await;
    })
    .await
}

/// The [`Fetcher`] reads exactly what was produced (keys, values, headers,
/// timestamps) from explicit offsets, and the [`OffsetMaster`] gives each
/// partition's log start and end.
pub async fn fetcher_and_offset_master_read_what_the_broker_holds<R: Runtime + Default>(
    peer: &Peer,
) {
    let what = format!("{} fetcher_and_offset_master", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = new_topic(peer, &session, "fetcher", 2, &what).await;
        let producer = kafkite_driver::Producer::new(&session, ProducerConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{what}: producer: {e}"));
        let mut sent = Vec::new();
        for i in 0..10i64 {
            let partition = (i % 2) as i32;
            let mut record = ProducerRecord::new(topic.as_str())
                .partition(partition)
                .value(format!("value-{i}"))
                .timestamp(1_700_000_000_000 + i);
            if i % 3 != 0 {
                record = record.key(format!("key-{i}"));
            }
            if i % 4 == 0 {
                record = record
                    .header("h", Some(Bytes::from(format!("hv-{i}"))))
                    .header("null", None);
            }
            sent.push(record.clone());
            let delivery = producer
                .send(record)
                .await
                .unwrap_or_else(|e| panic!("{what}: send: {e}"));
            producer
                .flush()
                .await
                .unwrap_or_else(|e| panic!("{what}: flush: {e}"));
            delivery
                .await
                .unwrap_or_else(|e| panic!("{what}: delivery: {e}"));
        }
        producer.close().await;

        let partitions: Vec<TopicPartition> = vec![(topic.clone(), 0), (topic.clone(), 1)];
        let master = OffsetMaster::new(&session);
        let earliest = master
            .fetch_earliest(&partitions)
            .await
            .unwrap_or_else(|e| panic!("{what}: earliest: {e}"));
        let latest = master
            .fetch_latest(&partitions)
            .await
            .unwrap_or_else(|e| panic!("{what}: latest: {e}"));
        let zero_five = |a: i64, b: i64| {
            BTreeMap::from([(partitions[0].clone(), a), (partitions[1].clone(), b)])
        };
        assert_eq!(earliest, zero_five(0, 0), "{what}: earliest");
        assert_eq!(latest, zero_five(5, 5), "{what}: latest");

        // From offset 1 of partition 0 and 0 of partition 1: 9 records.
        let fetcher = Fetcher::new(&session, FetchConfig::default());
        let starts = vec![
            FetchStart::new(&topic, 0, Some(1)),
            FetchStart::new(&topic, 1, Some(0)),
        ];
        let mut stream = fetcher.fetch(starts, Some(9));
        let mut got: Vec<ConsumedRecord> = Vec::new();
        while let Some(item) = next::<R, _>(&mut stream, &what).await {
            got.push(item.unwrap_or_else(|e| panic!("{what}: fetch: {e}")));
        }
        got.sort_by_key(|r| (r.partition, r.offset));
        let expected: Vec<(i32, i64, &ProducerRecord)> = sent
            .iter()
            .enumerate()
            .map(|(i, r)| ((i % 2) as i32, (i / 2) as i64, r))
            .filter(|(p, o, _)| !(*p == 0 && *o == 0))
            .collect();
        let mut expected = expected;
        expected.sort_by_key(|(p, o, _)| (*p, *o));
        assert_eq!(got.len(), expected.len(), "{what}: count");
        for (record, (partition, offset, sent)) in got.iter().zip(expected) {
            assert_eq!(
                (record.partition, record.offset),
                (partition, offset),
                "{what}"
            );
            assert_eq!(record.key, sent.key, "{what}: key at {partition}/{offset}");
            assert_eq!(
                record.value, sent.value,
                "{what}: value at {partition}/{offset}"
            );
            assert_eq!(Some(record.timestamp), sent.timestamp, "{what}: timestamp");
            let headers: Vec<(String, Option<Bytes>)> = record
                .headers
                .iter()
                .map(|h| (h.key_str().unwrap_or_default().to_string(), h.value_bytes()))
                .collect();
            assert_eq!(
                headers, sent.headers,
                "{what}: headers at {partition}/{offset}"
            );
        }

        // The same a chunk at a time, one batch per fetch (so each
        // partition's next chunk comes only once the last is dropped and
        // released): the same records; under a limit of 7, exactly 7, each
        // partition's from its start offset on.
        let small_fetches = FetchConfig {
            partition_max_bytes: 1,
            ..FetchConfig::default()
        };
        let fetcher = Fetcher::new(&session, small_fetches);
        for limit in [9, 7] {
            let starts = vec![
                FetchStart::new(&topic, 0, Some(1)),
                FetchStart::new(&topic, 1, Some(0)),
            ];
            let mut chunks = fetcher.fetch_chunks(starts, Some(limit));
            let mut in_chunks: Vec<ConsumedRecord> = Vec::new();
            while let Some(chunk) = next::<R, _>(&mut chunks, &what).await {
                let chunk = chunk.unwrap_or_else(|e| panic!("{what}: fetch_chunks: {e}"));
                let (topic, partition, len) =
                    (chunk.topic().to_string(), chunk.partition(), chunk.len());
                // The borrowed records are the owned ones, field by field.
                let borrowed: Vec<RecordFields> = chunk
                    .iter()
                    .map(|r| {
                        let headers = r
                            .headers()
                            .map(|h| (h.key.to_vec(), h.value.map(<[u8]>::to_vec)));
                        (
                            r.offset(),
                            r.timestamp(),
                            r.key().map(<[u8]>::to_vec),
                            r.value().map(<[u8]>::to_vec),
                            headers.collect(),
                        )
                    })
                    .collect();
                let records: Vec<ConsumedRecord> = chunk.into_iter().collect();
                assert_eq!(records.len(), len, "{what}: chunk length");
                let owned: Vec<RecordFields> = records
                    .iter()
                    .map(|r| {
                        let headers = r
                            .headers
                            .iter()
                            .map(|h| (h.key.to_vec(), h.value.map(<[u8]>::to_vec)));
                        (
                            r.offset,
                            r.timestamp,
                            r.key.as_deref().map(<[u8]>::to_vec),
                            r.value.as_deref().map(<[u8]>::to_vec),
                            headers.collect(),
                        )
                    })
                    .collect();
                assert_eq!(borrowed, owned, "{what}: borrowed records against owned");
                assert!(records
                    .iter()
                    .all(|r| *r.topic == topic && r.partition == partition));
                in_chunks.extend(records);
            }
            assert_eq!(in_chunks.len(), limit, "{what}: records in chunks");
            in_chunks.sort_by_key(|r| (r.partition, r.offset));
            if limit == got.len() {
                assert_eq!(in_chunks, got, "{what}: chunks against the stream");
            }
            for partition in [0, 1] {
                let offsets: Vec<i64> = in_chunks
                    .iter()
                    .filter(|r| r.partition == partition)
                    .map(|r| r.offset)
                    .collect();
                let first = if partition == 0 { 1 } else { 0 };
                let expected: Vec<i64> = (first..first + offsets.len() as i64).collect();
                assert_eq!(
                    offsets, expected,
                    "{what}: partition {partition} under limit {limit}"
                );
            }
        }
        session.close().await;
    })
    .await
}

/// Responses far larger than one socket read (each is read straight into a
/// buffer of its own, and those buffers are reused once their records are
/// dropped) arrive whole: every byte of every value, read twice over, once
/// with the records held until the end and once with each chunk dropped as
/// it is read.
pub async fn large_responses_arrive_whole<R: Runtime + Default>(peer: &Peer) {
    const PER_PARTITION: usize = 150;
    const VALUE: usize = 8 * 1024;
    let what = format!("{} large_responses", peer.kind());
    // Each value's bytes depend on its partition and offset.
    let value_of = |partition: i32, offset: i64| -> Vec<u8> {
        (0..VALUE)
            .map(|i| (i as i64 * 31 + offset * 7 + i64::from(partition) * 13) as u8)
            .collect()
    };
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = new_topic(peer, &session, "large", 2, &what).await;
        let producer = kafkite_driver::Producer::new(&session, ProducerConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{what}: producer: {e}"));
        let records = (0..PER_PARTITION as i64).flat_map(|offset| {
            [0, 1].map(|partition| {
                ProducerRecord::new(topic.as_str())
                    .partition(partition)
                    .value(value_of(partition, offset))
            })
        });
        send_all(&producer, records, &what).await;
        producer.close().await;

        let fetcher = Fetcher::new(&session, FetchConfig::default());
        let starts = || {
            vec![
                FetchStart::new(&topic, 0, Some(0)),
                FetchStart::new(&topic, 1, Some(0)),
            ]
        };
        let total = 2 * PER_PARTITION;
        let mut held = Vec::new();
        let mut stream = fetcher.fetch(starts(), Some(total));
        while let Some(record) = next::<R, _>(&mut stream, &what).await {
            held.push(record.unwrap_or_else(|e| panic!("{what}: fetch: {e}")));
        }
        drop(stream);
        let mut read = 0;
        let mut chunks = fetcher.fetch_chunks(starts(), Some(total));
        while let Some(chunk) = next::<R, _>(&mut chunks, &what).await {
            let chunk = chunk.unwrap_or_else(|e| panic!("{what}: fetch_chunks: {e}"));
            for record in chunk.iter() {
                let expected = value_of(chunk.partition(), record.offset());
                assert!(
                    record.value() == Some(&expected[..]),
                    "{what}: chunk value at {}/{}",
                    chunk.partition(),
                    record.offset()
                );
                read += 1;
            }
        }
        assert_eq!(read, total, "{what}: records in chunks");
        assert_eq!(held.len(), total, "{what}: records held");
        held.sort_by_key(|r| (r.partition, r.offset));
        for (i, record) in held.iter().enumerate() {
            let (partition, offset) = ((i / PER_PARTITION) as i32, (i % PER_PARTITION) as i64);
            assert_eq!(
                (record.partition, record.offset),
                (partition, offset),
                "{what}"
            );
            let expected = value_of(partition, offset);
            assert!(
                record.value.as_deref() == Some(&expected[..]),
                "{what}: value at {partition}/{offset}"
            );
        }
        session.close().await;
    })
    .await
}

/// A record's offset, timestamp, key, value and headers, owned.
type RecordFields = (
    i64,
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(Vec<u8>, Option<Vec<u8>>)>,
);

/// The next stream item, or a failed test after [`NEXT_LIMIT`].
async fn next<R: Runtime + Default, S: futures_lite::Stream + Unpin>(
    stream: &mut S,
    what: &str,
) -> Option<S::Item> {
    let deadline = Instant::now() + NEXT_LIMIT;
    match future_or_timeout::<R, _>(stream.next(), deadline).await {
        Some(item) => item,
        None => panic!("{what}: no stream item within {NEXT_LIMIT:?}"),
    }
}

/// `future`'s output, or `None` at `deadline`.
async fn future_or_timeout<R: Runtime + Default, T>(
    future: impl std::future::Future<Output = T>,
    deadline: Instant,
) -> Option<T> {
    let runtime = R::default();
    let timeout = async {
        runtime.sleep_until(deadline).await;
        None
    };
    futures_lite::future::or(async { Some(future.await) }, timeout).await
}

/// The group's committed offsets of the topic's partitions are `expected`.
///
/// tansu 0.6.0 answers every commit's metadata as null (a known broker bug,
/// TEST-PEERS.md): against it only offsets are compared, by blanking the
/// metadata of `expected` too.
async fn assert_committed<R: Runtime>(
    peer: &Peer,
    group: &GroupOffsets<R>,
    topic: &str,
    expected: &BTreeMap<TopicPartition, (i64, String)>,
    what: &str,
) {
    let mut expected = expected.clone();
    if peer.kind() == PeerKind::Tansu {
        expected
            .values_mut()
            .for_each(|(_, metadata)| metadata.clear());
    }
    assert_eq!(
        committed(group, topic, what).await,
        expected,
        "{what}: committed offsets and metadata"
    );
}

/// The group's committed offsets of the topic's partitions, with metadata.
async fn committed<R: Runtime>(
    group: &GroupOffsets<R>,
    topic: &str,
    what: &str,
) -> BTreeMap<TopicPartition, (i64, String)> {
    let partitions = [(topic.to_string(), 0), (topic.to_string(), 1)];
    group
        .fetch_offsets(&partitions)
        .await
        .unwrap_or_else(|e| panic!("{what}: fetch_offsets: {e}"))
        .into_iter()
        .filter_map(|(tp, o)| {
            let o = o?;
            Some((tp, (o.offset, o.metadata.unwrap_or_default())))
        })
        .collect()
}

/// A new topic whose partitions' leaders serve.
async fn new_topic<R: Runtime>(
    peer: &Peer,
    session: &Session<R>,
    prefix: &str,
    partitions: i32,
    what: &str,
) -> String {
    let topic = unique_name(prefix);
    create_topic(session, peer, &topic, partitions, what).await;
    let all: Vec<i32> = (0..partitions).collect();
    eventually(session, &format!("{what}: {topic} known"), || async {
        let metadata = session
            .add_topics(&[&topic])
            .await
            .map_err(|e| e.to_string())?;
        let known = metadata.topics.get(&topic).map(|t| t.partitions.len());
        Ok(known.filter(|&n| n == all.len()))
    })
    .await;
    session
        .list_offsets(&topic, &all, OffsetSpec::Latest)
        .await
        .unwrap_or_else(|e| panic!("{what}: {topic} leaders serving: {e}"));
    topic
}

/// Moves partition 0's log start to `offset` with DeleteRecords; false when
/// the leader does not offer DeleteRecords.
///
/// tansu 0.6.0 offers DeleteRecords but closes the connection on it: there
/// (and only there) a failed request also means "not available".
async fn delete_records<R: Runtime>(
    peer: &Peer,
    session: &Session<R>,
    topic: &str,
    offset: i64,
    what: &str,
) -> bool {
    let leader = leader_of(session, topic, 0).await;
    let offered = session
        .broker_versions(leader)
        .is_some_and(|versions| versions.get(ApiKey::DeleteRecords.key()).is_some());
    if !offered {
        return false;
    }
    let request = DeleteRecordsRequest {
        topics: vec![DeleteRecordsTopic {
            name: topic.to_string(),
            partitions: vec![DeleteRecordsPartition {
                partition_index: 0,
                offset,
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 10_000,
        ..Default::default()
    };
    let response = match session.send(Target::Broker(leader), request).await {
        Ok(response) => response,
        Err(e) if peer.kind() == PeerKind::Tansu => {
            eprintln!("{what}: tansu failed DeleteRecords ({e}); using an offset past the end");
            return false;
        }
        Err(e) => panic!("{what}: DeleteRecords: {e}"),
    };
    let result = response
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == 0)
        .unwrap_or_else(|| panic!("{what}: DeleteRecords answered nothing for partition 0"));
    let code = ErrorCode(result.error_code);
    assert!(code.is_ok(), "{what}: DeleteRecords: {code}");
    assert_eq!(
        result.low_watermark, offset,
        "{what}: DeleteRecords low watermark"
    );
    true
}
