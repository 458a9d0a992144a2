//! Deterministic producer tests against scripted brokers that keep a real
//! log per partition, on a hand-moved clock.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::sequence::increment_sequence;
use super::*;
use crate::client::scripted::{api_versions, metadata, Harness, Reply, Responder};
use crate::client::Event;
use crate::protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use crate::protocol::messages::{InitProducerIdResponse, ProduceResponse};
use crate::protocol::{AnyRequest, AnyResponse, ApiKey, ErrorCode};
use crate::records::RecordSet;

/// A stored record's value, producer id and sequence.
type StoredRecord = (Bytes, i64, i32);

/// What the scripted cluster stored, and errors queued for its answers.
#[derive(Default)]
struct Log {
    /// Per partition: (value, producer id, sequence) per record, in order.
    records: BTreeMap<(String, i32), Vec<StoredRecord>>,
    /// Per partition and producer id, the next sequence the broker expects.
    expected_sequence: BTreeMap<((String, i32), i64), i32>,
    /// Error codes to answer the next Produce partitions with, in order.
    errors: VecDeque<i16>,
    /// Error codes to answer with after storing the batch anyway: an
    /// answer lost after the write.
    store_then_fail: VecDeque<i16>,
    produce_versions: Vec<i16>,
    init_producer_id_calls: usize,
}

/// Whether `sequence` comes before `expected`, counting as the broker does
/// in a space that wraps from `i32::MAX` to 0: within half of it behind.
fn sequence_behind(sequence: i32, expected: i32) -> bool {
    let distance = (i64::from(expected) - i64::from(sequence)).rem_euclid(1 << 31);
    distance > 0 && distance < 1 << 30
}

/// A broker cluster (two brokers, topic "t" with one partition led by
/// broker 2) that stores what it is sent, deduplicating by sequence as
/// Kafka does.
fn cluster(log: Rc<RefCell<Log>>, max_produce: i16) -> Responder {
    Box::new(move |_, header, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Respond(api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 0, 12),
            (ApiKey::Produce, 0, max_produce),
            (ApiKey::InitProducerId, 0, 4),
        ])),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(2)),
        AnyRequest::InitProducerId(_) => {
            let mut l = log.borrow_mut();
            l.init_producer_id_calls += 1;
            Reply::Respond(AnyResponse::InitProducerId(InitProducerIdResponse {
                producer_id: 1000 + l.init_producer_id_calls as i64,
                producer_epoch: 0,
                ..Default::default()
            }))
        }
        AnyRequest::Produce(p) => {
            let mut l = log.borrow_mut();
            l.produce_versions.push(header.request_api_version);
            let mut responses = Vec::new();
            for t in &p.topic_data {
                let mut partitions = Vec::new();
                for pd in &t.partition_data {
                    let key = (t.name.clone(), pd.index);
                    let error = l.errors.pop_front().unwrap_or(0);
                    let base = l.records.get(&key).map_or(0, Vec::len) as i64;
                    let mut answer = PartitionProduceResponse {
                        index: pd.index,
                        error_code: error,
                        base_offset: if error == 0 { base } else { -1 },
                        log_append_time_ms: -1,
                        ..Default::default()
                    };
                    if error == 0 {
                        let set = RecordSet::new(pd.records.clone().unwrap_or_default());
                        let mut batch_records = Vec::new();
                        let mut pid = -1;
                        let mut seq = -1;
                        for batch in set.batches() {
                            let batch = batch.expect("batch decodes");
                            if let crate::records::Batch::V2(b) = &batch {
                                pid = b.producer_id();
                                seq = b.header().base_sequence;
                            }
                            for r in batch.records().expect("records") {
                                batch_records.push(r.expect("record").value.unwrap_or_default());
                            }
                        }
                        let expected = l
                            .expected_sequence
                            .get(&(key.clone(), pid))
                            .copied()
                            .unwrap_or(0);
                        if pid >= 0 && seq != expected && sequence_behind(seq, expected) {
                            answer.error_code = ErrorCode::DUPLICATE_SEQUENCE_NUMBER.0;
                        } else if pid >= 0 && seq != expected {
                            answer.error_code = ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER.0;
                            answer.base_offset = -1;
                        } else {
                            let count = batch_records.len() as i32;
                            if pid >= 0 {
                                l.expected_sequence
                                    .insert((key.clone(), pid), increment_sequence(seq, count));
                            }
                            let entry = l.records.entry(key).or_default();
                            for (i, v) in batch_records.into_iter().enumerate() {
                                let record_seq = if pid >= 0 {
                                    increment_sequence(seq, i as i32)
                                } else {
                                    -1
                                };
                                entry.push((v, pid, record_seq));
                            }
                        }
                    }
                    if answer.error_code == 0 {
                        if let Some(code) = l.store_then_fail.pop_front() {
                            answer.error_code = code;
                            answer.base_offset = -1;
                        }
                    }
                    partitions.push(answer);
                }
                responses.push(TopicProduceResponse {
                    name: t.name.clone(),
                    partition_responses: partitions,
                    ..Default::default()
                });
            }
            if p.acks == 0 {
                return Reply::Silence;
            }
            Reply::Respond(AnyResponse::Produce(ProduceResponse {
                responses,
                ..Default::default()
            }))
        }
        _ => Reply::Silence,
    })
}

struct Setup {
    h: Harness,
    p: Producer,
    log: Rc<RefCell<Log>>,
    events: Vec<ProducerEvent>,
}

impl Setup {
    fn new(config: ProducerConfig, max_produce: i16) -> Self {
        let log = Rc::new(RefCell::new(Log::default()));
        let mut h = Harness::new(&["b1:9092"], cluster(log.clone(), max_produce));
        h.run();
        let now = h.now;
        Setup {
            h,
            p: Producer::new(config, 7, now),
            log,
            events: Vec::new(),
        }
    }

    /// Runs client IO and routes client events to the producer until quiet.
    fn settle(&mut self) {
        for _ in 0..500 {
            self.h.run();
            let events: Vec<Event> = self.h.events.drain(..).collect();
            if events.is_empty() {
                break;
            }
            for e in events {
                self.p
                    .handle_client_event(&mut self.h.client, &e, self.h.now);
            }
        }
        while let Some(e) = self.p.poll_event() {
            self.events.push(e);
        }
    }

    fn advance(&mut self, by: Duration) {
        self.h.now += by;
        let now = self.h.now;
        self.h.client.handle_timeout(now);
        self.p.handle_timeout(&mut self.h.client, now);
        self.settle();
    }

    fn send(&mut self, record: ProducerRecord) -> Result<DeliveryId, ProduceError> {
        let now = self.h.now;
        let r = self
            .p
            .send(&mut self.h.client, record, now, 1_700_000_000_000);
        self.settle();
        r
    }

    fn flush(&mut self) {
        let now = self.h.now;
        let token = self.p.flush(&mut self.h.client, now);
        for _ in 0..50 {
            self.settle();
            if self.events.contains(&ProducerEvent::Flushed { token }) {
                return;
            }
            self.advance(Duration::from_millis(100));
        }
        panic!("flush {token} did not finish: {:?}", self.events);
    }

    fn delivered(&self) -> Vec<(DeliveryId, Delivery)> {
        self.events
            .iter()
            .flat_map(|e| match e {
                ProducerEvent::Delivered(batch) => batch.iter().collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    fn stored_values(&self, partition: i32) -> Vec<Bytes> {
        self.log
            .borrow()
            .records
            .get(&("t".to_string(), partition))
            .map(|v| v.iter().map(|(b, _, _)| b.clone()).collect())
            .unwrap_or_default()
    }
}

fn value(i: usize) -> Bytes {
    Bytes::from(format!("value-{i}"))
}

#[test]
fn records_are_batched_and_delivered_with_consecutive_offsets() {
    let mut s = Setup::new(ProducerConfig::default(), 9);
    for i in 0..10 {
        s.send(ProducerRecord::new("t").partition(0).value(value(i)))
            .expect("queued");
    }
    // Lingering: nothing sent before linger.ms.
    assert!(s.stored_values(0).is_empty());
    s.advance(Duration::from_millis(5));
    let delivered = s.delivered();
    assert_eq!(delivered.len(), 10);
    let offsets: Vec<i64> = delivered.iter().map(|(_, d)| d.offset).collect();
    assert_eq!(offsets, (0..10).collect::<Vec<i64>>());
    assert_eq!(s.stored_values(0), (0..10).map(value).collect::<Vec<_>>());
    assert_eq!(s.log.borrow().produce_versions, vec![9], "one request, v9");
    assert!(s.p.is_idempotent());
    assert_eq!(s.p.buffered_bytes(), 0);
}

#[test]
fn a_not_leader_error_is_retried_once_and_stored_exactly_once_in_order() {
    let mut s = Setup::new(ProducerConfig::default(), 9);
    s.log
        .borrow_mut()
        .errors
        .push_back(ErrorCode::NOT_LEADER_OR_FOLLOWER.0);
    for i in 0..5 {
        s.send(ProducerRecord::new("t").partition(0).value(value(i)))
            .expect("queued");
    }
    s.flush();
    assert_eq!(s.stored_values(0), (0..5).map(value).collect::<Vec<_>>());
    assert_eq!(s.delivered().len(), 5);
    let log = s.log.borrow();
    assert_eq!(log.produce_versions.len(), 2, "sent, failed, sent again");
    let sequences: Vec<i32> = log.records[&("t".to_string(), 0)]
        .iter()
        .map(|(_, _, seq)| *seq)
        .collect();
    assert_eq!(sequences, vec![0, 1, 2, 3, 4]);
}

#[test]
fn a_retry_of_a_write_whose_answer_was_lost_is_not_stored_twice() {
    // The broker stores the batch but answers with a retriable error; the
    // retry carries the same sequence and is recognised as a duplicate.
    let mut s = Setup::new(ProducerConfig::default(), 9);
    s.log
        .borrow_mut()
        .store_then_fail
        .push_back(ErrorCode::REQUEST_TIMED_OUT.0);
    s.send(ProducerRecord::new("t").partition(0).value(value(0)))
        .expect("queued");
    s.send(ProducerRecord::new("t").partition(0).value(value(1)))
        .expect("queued");
    s.flush();
    assert_eq!(s.stored_values(0), vec![value(0), value(1)]);
    assert_eq!(s.delivered().len(), 2);
    assert_eq!(s.log.borrow().produce_versions.len(), 2);
}

#[test]
fn keyed_records_land_on_the_java_partition() {
    let mut s = Setup::new(ProducerConfig::default(), 9);
    // Topic "t" has one partition in the scripted metadata: every key maps
    // to 0, and the partitioner must agree with murmur2 % 1.
    s.send(ProducerRecord::new("t").key("some-key").value(value(0)))
        .expect("queued");
    s.flush();
    assert_eq!(
        s.delivered()[0].1.partition,
        partition_for_key(b"some-key", 1)
    );
}

#[test]
fn the_buffer_limit_refuses_records_instead_of_growing() {
    let config = ProducerConfig::default().with_buffer_memory(1000);
    let mut s = Setup::new(config, 9);
    let mut refused = 0;
    for i in 0..50 {
        match s.send(ProducerRecord::new("t").partition(0).value(value(i))) {
            Ok(_) => {}
            Err(ProduceError::QueueFull { limit: 1000 }) => refused += 1,
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(s.p.buffered_bytes() <= 1000);
    }
    assert!(refused > 0);
    s.flush();
    assert_eq!(s.p.buffered_bytes(), 0);
}

#[test]
fn acks_zero_completes_without_waiting_for_an_answer() {
    let config = ProducerConfig::default().with_acks(Acks::None);
    let mut s = Setup::new(config, 9);
    s.send(ProducerRecord::new("t").partition(0).value(value(0)))
        .expect("queued");
    s.flush();
    let delivered = s.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].1.offset, -1);
    assert!(!s.p.is_idempotent(), "idempotence needs acks=all");
}

#[test]
fn an_old_broker_gets_legacy_message_sets_without_idempotence() {
    // Produce v0-v2 only, and no InitProducerId (0.10-era broker).
    let log = Rc::new(RefCell::new(Log::default()));
    let l = log.clone();
    let inner = cluster(log.clone(), 2);
    let mut inner = inner;
    let responder: Responder = Box::new(move |a, h, r| match r {
        AnyRequest::ApiVersions(_) => Reply::Respond(api_versions(&[
            (ApiKey::ApiVersions, 0, 1),
            (ApiKey::Metadata, 0, 2),
            (ApiKey::Produce, 0, 2),
        ])),
        _ => inner(a, h, r),
    });
    let _ = l;
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    let now = h.now;
    let mut s = Setup {
        h,
        p: Producer::new(ProducerConfig::default(), 7, now),
        log,
        events: Vec::new(),
    };
    s.send(ProducerRecord::new("t").partition(0).value(value(0)))
        .expect("queued");
    s.flush();
    assert_eq!(s.stored_values(0), vec![value(0)]);
    assert_eq!(s.log.borrow().produce_versions, vec![2]);
    assert!(!s.p.is_idempotent());
    // Message format v1 has no headers: a record with one fails, typed,
    // instead of reaching the log without it.
    s.send(
        ProducerRecord::new("t")
            .partition(0)
            .value(value(1))
            .header("trace", Some(Bytes::from_static(b"id"))),
    )
    .expect("queued");
    s.flush();
    assert!(s.events.iter().any(|e| matches!(
        e,
        ProducerEvent::Failed {
            error: ProduceError::HeadersUnsupported { magic: 1 },
            ..
        }
    )));
    assert_eq!(s.stored_values(0), vec![value(0)]);
}

#[test]
fn an_unknown_topic_fails_with_a_typed_error_after_max_block() {
    let config = ProducerConfig::default().with_max_block(Duration::from_secs(5));
    let mut s = Setup::new(config, 9);
    s.send(ProducerRecord::new("missing").value(value(0)))
        .expect("queued");
    s.settle();
    // A topic just created may be unknown to the first answers: it waits.
    assert!(s.events.is_empty(), "{:?}", s.events);
    for _ in 0..60 {
        s.advance(Duration::from_millis(100));
    }
    assert!(s.events.iter().any(|e| matches!(
        e,
        ProducerEvent::Failed { error: ProduceError::UnknownTopic(t), .. } if t == "missing"
    )));
}

#[test]
fn a_partition_that_does_not_exist_fails_at_once() {
    let mut s = Setup::new(ProducerConfig::default(), 9);
    s.send(ProducerRecord::new("t").partition(3).value(value(0)))
        .expect("queued");
    assert!(s.events.iter().any(|e| matches!(
        e,
        ProducerEvent::Failed {
            error: ProduceError::UnknownPartition { partition: 3, .. },
            ..
        }
    )));
}

#[test]
fn a_non_retriable_error_fails_the_records_with_the_brokers_code() {
    let mut s = Setup::new(ProducerConfig::default(), 9);
    s.log
        .borrow_mut()
        .errors
        .push_back(ErrorCode::RECORD_LIST_TOO_LARGE.0);
    s.send(ProducerRecord::new("t").partition(0).value(value(0)))
        .expect("queued");
    s.flush();
    assert!(s.events.iter().any(|e| matches!(
        e,
        ProducerEvent::Failed { error: ProduceError::Broker { code, .. }, .. }
            if *code == ErrorCode::RECORD_LIST_TOO_LARGE
    )));
    assert!(s.stored_values(0).is_empty());
}

#[test]
fn many_batches_of_one_partition_carry_consecutive_sequences() {
    let config = ProducerConfig::default().with_batch_size(200);
    let mut s = Setup::new(config, 9);
    for i in 0..40 {
        s.send(ProducerRecord::new("t").partition(0).value(value(i)))
            .expect("queued");
    }
    s.flush();
    assert_eq!(s.stored_values(0), (0..40).map(value).collect::<Vec<_>>());
    let log = s.log.borrow();
    assert!(log.produce_versions.len() > 3, "several requests");
    let stored = &log.records[&("t".to_string(), 0)];
    let sequences: Vec<i32> = stored.iter().map(|(_, _, seq)| *seq).collect();
    assert_eq!(sequences, (0..40).collect::<Vec<i32>>());
    assert!(
        stored.iter().all(|(_, pid, _)| *pid == 1001),
        "one producer id"
    );
}

#[test]
fn an_unknown_producer_id_gets_a_new_id_and_the_batch_is_restamped_from_zero() {
    let mut s = Setup::new(ProducerConfig::default(), 9);
    s.send(ProducerRecord::new("t").partition(0).value(value(0)))
        .expect("queued");
    s.flush();
    s.log
        .borrow_mut()
        .errors
        .push_back(ErrorCode::UNKNOWN_PRODUCER_ID.0);
    s.send(ProducerRecord::new("t").partition(0).value(value(1)))
        .expect("queued");
    s.flush();
    let log = s.log.borrow();
    assert_eq!(log.init_producer_id_calls, 2);
    let stored = &log.records[&("t".to_string(), 0)];
    assert_eq!(stored.len(), 2, "each record once");
    assert_eq!((stored[0].1, stored[0].2), (1001, 0));
    assert_eq!(
        (stored[1].1, stored[1].2),
        (1002, 0),
        "new id, sequence from 0"
    );
}

#[test]
fn records_waiting_for_metadata_stay_ahead_of_records_sent_after_it_arrived() {
    // The async driver hands the client a Metadata answer and, in the same
    // turn, more records before the producer hears of the answer: the
    // records that waited must still go first.
    let log = Rc::new(RefCell::new(Log::default()));
    let h = Harness::new(&["b1:9092"], cluster(log.clone(), 9));
    let now = h.now;
    let mut s = Setup {
        h,
        p: Producer::new(ProducerConfig::default(), 7, now),
        log,
        events: Vec::new(),
    };
    let record = |i| ProducerRecord::new("t").partition(0).value(value(i));
    let now = s.h.now;
    s.p.send(&mut s.h.client, record(0), now, 1_700_000_000_000)
        .expect("queued while the topic is unknown");
    // The client learns the topic; the producer is not told yet.
    s.h.run();
    assert!(s.h.client.metadata().topics.contains_key("t"));
    s.p.send(&mut s.h.client, record(1), now, 1_700_000_000_000)
        .expect("queued");
    s.settle();
    s.flush();
    assert_eq!(s.stored_values(0), vec![value(0), value(1)]);
}

#[test]
fn a_lingered_batch_held_back_by_the_producer_id_sets_no_past_deadline() {
    // Found by kafkite-sim: an open batch past linger.ms that cannot be
    // sent yet (here the producer id is pending; also with a batch of the
    // partition in flight) kept its linger deadline in poll_timeout, in the
    // past, and a driver sleeping until it spun.
    let responder: Responder = Box::new(|_, _, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Respond(api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 0, 12),
            (ApiKey::Produce, 0, 9),
            (ApiKey::InitProducerId, 0, 4),
        ])),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(2)),
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    let config = ProducerConfig::default().with_linger(Duration::from_millis(5));
    let mut p = Producer::new(config, 7, h.now);
    h.run();
    let now = h.now;
    p.send(
        &mut h.client,
        ProducerRecord::new("t").partition(0).value(value(0)),
        now,
        0,
    )
    .expect("queued");
    for _ in 0..3 {
        h.advance(Duration::from_millis(10));
        let now = h.now;
        p.handle_timeout(&mut h.client, now);
        let deadline = p.poll_timeout().expect("the delivery timeout");
        assert!(
            deadline > now,
            "poll_timeout is {:?} in the past",
            now - deadline
        );
    }
}

/// A batch queued behind one in flight cannot go out before that one is
/// answered (which drives the producer again), so its linger sets no wake-up:
/// against a slow broker every batch's linger woke the driver for nothing.
#[test]
fn a_batch_behind_one_in_flight_sets_no_linger_wake_up() {
    let produced = Rc::new(std::cell::Cell::new(0));
    let produced_in_responder = produced.clone();
    let responder: Responder = Box::new(move |_, _, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Respond(api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 0, 12),
            (ApiKey::Produce, 0, 9),
        ])),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(2)),
        AnyRequest::Produce(_) => {
            // Never answered: the first batch stays in flight.
            produced_in_responder.set(produced_in_responder.get() + 1);
            Reply::Silence
        }
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    let linger = Duration::from_millis(5);
    let config = ProducerConfig::default()
        .with_linger(linger)
        .with_idempotence(false);
    let delivery_timeout = config.delivery_timeout;
    let mut p = Producer::new(config, 7, h.now);
    h.run();
    let send = |p: &mut Producer, h: &mut Harness, i: usize| {
        let now = h.now;
        p.send(
            &mut h.client,
            ProducerRecord::new("t").partition(0).value(value(i)),
            now,
            0,
        )
        .expect("queued");
    };
    send(&mut p, &mut h, 0);
    let first_created = h.now;
    assert_eq!(p.poll_timeout(), Some(first_created + linger));
    h.advance(linger);
    let now = h.now;
    p.handle_timeout(&mut h.client, now);
    h.run();
    assert_eq!(produced.get(), 1, "the first batch went out at its linger");

    h.advance(Duration::from_millis(1));
    send(&mut p, &mut h, 1);
    let second_created = h.now;
    assert_eq!(
        p.poll_timeout(),
        Some(second_created + delivery_timeout),
        "only the queued batch's delivery timeout, not its linger"
    );
}

/// An acknowledged batch's buffer goes to the next batch (warm, no new
/// allocation), emptied: the next batch stores exactly its own records.
#[test]
fn an_acknowledged_batch_buffer_is_filled_again() {
    let mut s = Setup::new(ProducerConfig::default(), 9);
    s.send(ProducerRecord::new("t").partition(0).value(value(0)))
        .expect("queued");
    s.advance(Duration::from_millis(5));
    assert_eq!(s.delivered().len(), 1);
    assert_eq!(s.p.spare_buffers(), 1, "kept once acknowledged");
    s.send(ProducerRecord::new("t").partition(0).value(value(1)))
        .expect("queued");
    assert_eq!(s.p.spare_buffers(), 0, "taken by the new batch");
    s.advance(Duration::from_millis(5));
    assert_eq!(s.delivered().len(), 2);
    assert_eq!(s.stored_values(0), vec![value(0), value(1)]);
    assert_eq!(s.p.spare_buffers(), 1);
}

/// Records sent packed or all at once (in one call, keyless runs appended
/// straight to their batch) are placed exactly as the same records sent
/// one by one:
/// the same ids and failures at once, the same batches, the same log.
#[test]
fn records_sent_in_one_call_are_placed_as_the_same_sends_would_be() {
    // Small batches and buffer: runs end on a full batch, on a key, on an
    // explicit partition (1 does not exist), and on the buffer limit.
    let config = ProducerConfig::default()
        .with_batch_size(400)
        .with_buffer_memory(6_000);
    let mut records = Vec::new();
    for i in 0..120usize {
        let mut record = ProducerRecord::new("t").value(Bytes::from(vec![i as u8; 10 + i % 80]));
        if i % 7 == 3 {
            record = record.key(format!("k{i}"));
        }
        match i % 13 {
            5 => record = record.partition(0),
            9 => record = record.partition(1),
            _ => {}
        }
        if i % 17 == 2 {
            record = record.timestamp(1_600_000_000_000 + i as i64);
        }
        records.push(record);
    }
    let mut packed = PackedRecords::new("t");
    for r in &records {
        let mut last = packed.push(r.key.as_deref(), r.value.as_deref());
        if let Some(p) = r.partition {
            last = last.partition(p);
        }
        if let Some(ms) = r.timestamp {
            last.timestamp(ms);
        }
    }
    let wall_clock = 1_700_000_000_000;

    // Each producer has its producer id first: runs are taken only while
    // a record just joins a batch.
    let ready = |config: ProducerConfig| {
        let mut s = Setup::new(config, 9);
        s.send(ProducerRecord::new("t").value(value(0)))
            .expect("queued");
        s.flush();
        assert!(s.p.is_idempotent());
        s
    };
    let mut one_by_one = ready(config.clone());
    let now = one_by_one.h.now;
    let sent: Vec<_> = records
        .iter()
        .map(|r| {
            one_by_one
                .p
                .send(&mut one_by_one.h.client, r.clone(), now, wall_clock)
        })
        .collect();
    let mut at_once = ready(config.clone());
    let now = at_once.h.now;
    let mut placed = Vec::new();
    at_once
        .p
        .send_packed(&mut at_once.h.client, &packed, now, wall_clock, |r| {
            placed.push(r)
        });
    assert_eq!(placed, sent);
    // The owned records in one call: the same again.
    let mut all = ready(config);
    let now = all.h.now;
    let mut placed_all = Vec::new();
    all.p
        .send_all(&mut all.h.client, records, now, wall_clock, |r| {
            placed_all.push(r)
        });
    assert_eq!(placed_all, sent);
    all.flush();

    assert!(sent
        .iter()
        .any(|r| matches!(r, Err(ProduceError::QueueFull { .. }))));
    assert_eq!(at_once.p.buffered_bytes(), one_by_one.p.buffered_bytes());
    one_by_one.flush();
    at_once.flush();
    assert_eq!(at_once.delivered(), one_by_one.delivered());
    assert_eq!(at_once.events, one_by_one.events);
    assert_eq!(all.events, one_by_one.events);
    assert_eq!(all.stored_values(0), one_by_one.stored_values(0));
    assert!(!at_once.delivered().is_empty());
    assert_eq!(at_once.stored_values(0), one_by_one.stored_values(0));
    let log = |s: &Setup| s.log.borrow().produce_versions.len();
    assert_eq!(log(&at_once), log(&one_by_one), "the same requests");
    assert!(log(&at_once) > 3, "runs ended on full batches");
}

/// Sequences wrap from i32::MAX to 0, as the broker counts them: a batch
/// may span the wrap, and the batches after it go on from 0.
#[test]
fn sequences_wrap_from_i32_max_to_zero_across_and_between_batches() {
    let mut s = Setup::new(ProducerConfig::default(), 9);
    let send = |s: &mut Setup, range: std::ops::Range<usize>| {
        for i in range {
            s.send(ProducerRecord::new("t").partition(0).value(value(i)))
                .expect("queued");
        }
        s.flush();
    };
    send(&mut s, 0..1);
    // As if 2^31 - 2 more records had gone: the broker expects the same.
    s.p.set_next_sequence("t", 0, i32::MAX - 1);
    s.log
        .borrow_mut()
        .expected_sequence
        .insert((("t".to_string(), 0), 1001), i32::MAX - 1);
    send(&mut s, 1..3); // ends exactly at i32::MAX
    send(&mut s, 3..6); // from 0
    s.p.set_next_sequence("t", 0, i32::MAX);
    s.log
        .borrow_mut()
        .expected_sequence
        .insert((("t".to_string(), 0), 1001), i32::MAX);
    send(&mut s, 6..9); // spans the wrap: i32::MAX, 0, 1
    send(&mut s, 9..10); // from 2
    assert_eq!(s.stored_values(0), (0..10).map(value).collect::<Vec<_>>());
    assert_eq!(s.delivered().len(), 10);
    let log = s.log.borrow();
    let sequences: Vec<i32> = log.records[&("t".to_string(), 0)]
        .iter()
        .map(|(_, _, seq)| *seq)
        .collect();
    let max = i32::MAX;
    assert_eq!(sequences, [0, max - 1, max, 0, 1, 2, max, 0, 1, 2]);
    assert_eq!(log.produce_versions.len(), 5, "no batch refused or retried");
}
