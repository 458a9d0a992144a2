//! Deterministic producer tests against scripted brokers that keep a real
//! log per partition, on a hand-moved clock.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::client::scripted::{api_versions, metadata, Harness, Reply, Responder};
use crate::protocol::{AnyRequest, ApiKey, ErrorCode};

mod idempotence_refused;
mod recovery;
pub(crate) mod scripted_broker;
mod scripted_coordinator;
mod transactions;
mod transactions_v2;

use scripted_broker::{cluster, value, Log, Setup};

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
        .entry(0)
        .or_default()
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
    let sequences: Vec<i32> = log.records[&0].iter().map(|r| r.seq).collect();
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
        .entry(0)
        .or_default()
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
        p: ProducerMachine::new(ProducerConfig::default(), 7, now),
        log,
        events: Vec::new(),
    };
    s.send(ProducerRecord::new("t").partition(0).value(value(0)))
        .expect("queued");
    s.flush();
    assert_eq!(s.stored_values(0), vec![value(0)]);
    assert_eq!(s.log.borrow().produce_versions, vec![2]);
    assert!(!s.p.is_idempotent());
    // Idempotence was the default, not asked for: the producer went on
    // without it, and said so.
    assert!(s.events.contains(&ProducerEvent::IdempotenceDisabled {
        reason: IdempotenceUnavailable::Unsupported
    }));
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
        .entry(0)
        .or_default()
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
    let stored = &log.records[&0];
    let sequences: Vec<i32> = stored.iter().map(|r| r.seq).collect();
    assert_eq!(sequences, (0..40).collect::<Vec<i32>>());
    assert!(stored.iter().all(|r| r.pid == 1001), "one producer id");
}

/// A broker before KIP-360 (InitProducerId below v3, Kafka before 2.5):
/// the producer asks for a new id rather than bump its epoch.
#[test]
fn an_unknown_producer_id_on_an_old_broker_gets_a_new_id_and_restamps_from_zero() {
    let log = Log {
        init_producer_id_max: Some(2),
        ..Log::default()
    };
    let mut s = Setup::with_log(ProducerConfig::default(), 9, log);
    s.send(ProducerRecord::new("t").partition(0).value(value(0)))
        .expect("queued");
    s.flush();
    s.log.borrow_mut().forget_producers(0);
    s.send(ProducerRecord::new("t").partition(0).value(value(1)))
        .expect("queued");
    s.flush();
    let log = s.log.borrow();
    assert_eq!(log.init_producer_id_calls, 2);
    let stored = &log.records[&0];
    assert_eq!(stored.len(), 2, "each record once");
    assert_eq!((stored[0].pid, stored[0].seq), (1001, 0));
    assert_eq!(
        (stored[1].pid, stored[1].epoch, stored[1].seq),
        (1002, 0, 0),
        "new id, sequence from 0"
    );
    assert_eq!(
        log.attempts_on(0),
        [(1001, 0, 0), (1001, 0, 1), (1002, 0, 0)],
        "refused as unknown, then sent under the new id"
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
        p: ProducerMachine::new(ProducerConfig::default(), 7, now),
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
    let mut p = ProducerMachine::new(config, 7, h.now);
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
    let mut p = ProducerMachine::new(config, 7, h.now);
    h.run();
    let send = |p: &mut ProducerMachine, h: &mut Harness, i: usize| {
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
    s.log.borrow_mut().expect_next(0, 1001, 0, i32::MAX - 1);
    send(&mut s, 1..3); // ends exactly at i32::MAX
    send(&mut s, 3..6); // from 0
    s.p.set_next_sequence("t", 0, i32::MAX);
    s.log.borrow_mut().expect_next(0, 1001, 0, i32::MAX);
    send(&mut s, 6..9); // spans the wrap: i32::MAX, 0, 1
    send(&mut s, 9..10); // from 2
    assert_eq!(s.stored_values(0), (0..10).map(value).collect::<Vec<_>>());
    assert_eq!(s.delivered().len(), 10);
    let log = s.log.borrow();
    let sequences: Vec<i32> = log.records[&0].iter().map(|r| r.seq).collect();
    let max = i32::MAX;
    assert_eq!(sequences, [0, max - 1, max, 0, 1, 2, max, 0, 1, 2]);
    assert_eq!(log.produce_versions.len(), 5, "no batch refused or retried");
}

/// A topic just created is unknown to the brokers for a moment: their
/// answers leave the metadata as it was, which raises no event. The
/// records still go out once a later answer knows the topic, instead of
/// waiting for the delivery timeout (the hang kafkite's TLS suite hit on
/// a loaded machine).
#[test]
fn records_for_a_topic_the_brokers_do_not_know_yet_go_out_once_they_do() {
    let log = scripted_broker::Log {
        hide_topic_answers: 3,
        ..Default::default()
    };
    let mut s = Setup::with_log(ProducerConfig::default(), 9, log);
    let id = s.send_to(0, value(0));
    // Time moves only to the deadlines the client and the producer report,
    // and each is woken only for its own, as the engine does.
    let start = s.h.now;
    for _ in 0..100 {
        if !s.delivered().is_empty() {
            break;
        }
        let client_due = s.h.client.poll_timeout();
        let producer_due = s.p.poll_timeout();
        let Some(next) = [client_due, producer_due].into_iter().flatten().min() else {
            break;
        };
        s.h.now = next.max(s.h.now);
        let now = s.h.now;
        if client_due.is_some_and(|t| t <= now) {
            s.h.client.handle_timeout(now);
        }
        if producer_due.is_some_and(|t| t <= now) {
            s.p.handle_timeout(&mut s.h.client, now);
        }
        s.settle();
    }
    assert_eq!(
        s.log.borrow().hide_topic_answers,
        0,
        "the unknown answers were given"
    );
    assert_eq!(
        s.delivered().iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![id]
    );
    assert_eq!(s.stored_values(0), vec![value(0)]);
    assert!(
        s.h.now - start < Duration::from_secs(2),
        "delivered {:?} after the send, not at the delivery timeout",
        s.h.now - start
    );
}
