//! The idempotent producer's recovery, as the Java client's (KIP-360):
//! an epoch bump (or a new id) after the broker forgot the producer or saw
//! a gap, taken up by each partition only once nothing of it is
//! unresolved, and never a second sequence number for a batch that may
//! already be in the log.

use std::time::Duration;

use super::scripted_broker::{value, Log, Setup};
use crate::producer::*;
use crate::protocol::ErrorCode;

const LINGER: Duration = Duration::from_millis(5);
/// Past any retry backoff's first step (100 ms, with jitter).
const BACKOFF: Duration = Duration::from_millis(200);

fn two_partitions(init_epoch: i16) -> Log {
    Log {
        partitions: 2,
        init_epoch,
        ..Log::default()
    }
}

/// Partition 1 has a batch in flight, written but not yet answered, when
/// the broker turns out to have forgotten the producer on partition 0.
/// Partition 0 goes on under a new identity; partition 1's batch is
/// answered with a retriable error (the write may or may not have
/// happened, as far as the producer knows), and its retry carries its
/// first stamp, so the broker recognises it. Returns the setup after every
/// record was delivered, for the identity-specific checks.
fn forgotten_on_one_partition_while_another_is_in_flight(init_epoch: i16) -> Setup {
    let mut s = Setup::with_log(ProducerConfig::default(), 9, two_partitions(init_epoch));
    // Partition 0 is led by broker 2, partition 1 by broker 1.
    s.send_to(0, value(0));
    s.send_to(1, value(1));
    s.flush();
    {
        let mut log = s.log.borrow_mut();
        log.hold.insert(1);
        log.store_then_fail
            .entry(1)
            .or_default()
            .push_back(ErrorCode::REQUEST_TIMED_OUT.0);
    }
    let in_flight = s.send_to(1, value(2));
    s.advance(LINGER);
    assert_eq!(
        s.stored_values(1),
        [value(1), value(2)],
        "written, unanswered"
    );

    s.log.borrow_mut().forget_producers(0);
    let refused = s.send_to(0, value(3));
    s.advance(LINGER);
    s.advance(BACKOFF);
    s.release_held();
    let after_0 = s.send_to(0, value(4));
    let after_1 = s.send_to(1, value(5));
    s.flush();

    assert_eq!(s.failed(), []);
    let delivered: Vec<DeliveryId> = s.delivered().iter().map(|(id, _)| *id).collect();
    for id in [in_flight, refused, after_0, after_1] {
        assert_eq!(delivered.iter().filter(|d| **d == id).count(), 1, "{id:?}");
    }
    // Every record stored once, in send order.
    assert_eq!(s.stored_values(0), [value(0), value(3), value(4)]);
    assert_eq!(s.stored_values(1), [value(1), value(2), value(5)]);
    s
}

#[test]
fn an_unknown_producer_id_bumps_the_epoch_and_spares_other_partitions_in_flight() {
    let s = forgotten_on_one_partition_while_another_is_in_flight(0);
    let log = s.log.borrow();
    assert_eq!(log.init_producer_id_calls, 1, "a bump, not a new id");
    // Partition 0: refused as unknown, then the same batch from 0 under
    // epoch 1.
    assert_eq!(
        log.attempts_on(0),
        [(1001, 0, 0), (1001, 0, 1), (1001, 1, 0), (1001, 1, 1)]
    );
    // Partition 1: its batch in flight through the bump was retried with
    // its own stamp; only the next batch took up epoch 1, from 0.
    assert_eq!(
        log.attempts_on(1),
        [(1001, 0, 0), (1001, 0, 1), (1001, 0, 1), (1001, 1, 0)]
    );
    assert!(s.p.is_idempotent());
}

/// At the last epoch a bump cannot go higher: a new producer id, with the
/// same care for the batch in flight.
#[test]
fn at_the_last_epoch_an_unknown_producer_id_gets_a_new_id_instead() {
    let max = i16::MAX;
    let s = forgotten_on_one_partition_while_another_is_in_flight(max);
    let log = s.log.borrow();
    assert_eq!(log.init_producer_id_calls, 2);
    assert_eq!(
        log.attempts_on(0),
        [
            (1001, max, 0),
            (1001, max, 1),
            (1002, max, 0),
            (1002, max, 1)
        ]
    );
    assert_eq!(
        log.attempts_on(1),
        [
            (1001, max, 0),
            (1001, max, 1),
            (1001, max, 1),
            (1002, max, 0)
        ]
    );
}

/// The broker wrote a batch and its answer was lost: the request times
/// out, and the retry must carry the same producer id, epoch and sequence
/// (DUPLICATE_SEQUENCE_NUMBER then says it was written), even though
/// another partition's gap bumped the epoch while it waited.
#[test]
fn a_batch_whose_answer_was_lost_is_retried_with_its_stamp_through_a_bump() {
    // The client gives a Produce up 5 s after the request timeout.
    let config = ProducerConfig::default().with_request_timeout(Duration::from_secs(1));
    let mut s = Setup::with_log(config, 9, two_partitions(0));
    s.send_to(0, value(0));
    s.send_to(1, value(1));
    s.flush();

    s.log.borrow_mut().lose_answers = 1;
    let lost = s.send_to(1, value(2));
    s.advance(LINGER);
    assert_eq!(s.stored_values(1), [value(1), value(2)], "written");

    // Meanwhile partition 0's broker lost batches: OUT_OF_ORDER_SEQUENCE.
    s.log.borrow_mut().expect_next(0, 1001, 0, 7);
    let gap = s.send_to(0, value(3));
    s.advance(LINGER);
    s.advance(BACKOFF);
    assert_eq!(s.stored_values(0), [value(0), value(3)]);

    // Partition 1's request times out and its batch goes again.
    for _ in 0..70 {
        s.advance(Duration::from_millis(100));
    }
    s.flush();
    assert_eq!(s.failed(), []);
    let delivered: Vec<DeliveryId> = s.delivered().iter().map(|(id, _)| *id).collect();
    assert!(delivered.contains(&lost) && delivered.contains(&gap));
    assert_eq!(s.stored_values(1), [value(1), value(2)], "not stored twice");
    let log = s.log.borrow();
    assert_eq!(
        log.attempts_on(1),
        [(1001, 0, 0), (1001, 0, 1), (1001, 0, 1)],
        "the retry kept its stamp"
    );
    // The gap's batch was refused, so it alone was numbered afresh.
    assert_eq!(
        log.attempts_on(0),
        [(1001, 0, 0), (1001, 0, 1), (1001, 1, 0)]
    );
    assert_eq!(log.init_producer_id_calls, 1);
}

/// A batch whose outcome is still unknown at the delivery timeout fails
/// with a timeout (it may or may not be in the log) and is never sent
/// again; the partition goes on under a new epoch, so a gap its sequence
/// may have left does not matter.
#[test]
fn a_batch_unresolved_at_the_delivery_timeout_fails_and_is_not_sent_again() {
    let config = ProducerConfig::default()
        .with_request_timeout(Duration::from_secs(1))
        .with_delivery_timeout(Duration::from_secs(5));
    let mut s = Setup::new(config, 9);
    s.send_to(0, value(0));
    s.flush();

    s.log.borrow_mut().lose_answers = 1;
    let lost = s.send_to(0, value(1));
    for _ in 0..70 {
        s.advance(Duration::from_millis(100));
    }
    let timeout = ProduceError::DeliveryTimeout {
        topic: "t".into(),
        partition: 0,
    };
    assert_eq!(s.failed(), [(lost, timeout)]);

    let next = s.send_to(0, value(2));
    s.flush();
    assert!(s.delivered().iter().any(|(id, _)| *id == next));
    // Written once by the attempt whose answer was lost, never again.
    assert_eq!(s.stored_values(0), [value(0), value(1), value(2)]);
    let log = s.log.borrow();
    assert_eq!(
        log.attempts_on(0),
        [(1001, 0, 0), (1001, 0, 1), (1001, 1, 0)]
    );
    assert_eq!(log.init_producer_id_calls, 1);
}

/// INVALID_PRODUCER_EPOCH: the broker knows a newer epoch of this id than
/// the producer (another instance bumped it). The batch fails, as in the
/// Java client, and the producer goes on under a new id, which no epoch
/// of the old one can fence.
#[test]
fn a_fenced_epoch_fails_the_batch_and_goes_on_under_a_new_producer_id() {
    let mut s = Setup::new(ProducerConfig::default(), 9);
    s.send_to(0, value(0));
    s.flush();
    if let Some(state) = s.log.borrow_mut().producers.get_mut(&(0, 1001)) {
        state.epoch = 3;
    }
    let fenced = s.send_to(0, value(1));
    s.flush();
    let next = s.send_to(0, value(2));
    s.flush();

    let error = ProduceError::Broker {
        topic: "t".into(),
        partition: 0,
        code: ErrorCode::INVALID_PRODUCER_EPOCH,
    };
    assert_eq!(s.failed(), [(fenced, error)]);
    assert!(s.delivered().iter().any(|(id, _)| *id == next));
    assert_eq!(s.stored_values(0), [value(0), value(2)]);
    assert_eq!(
        s.log.borrow().attempts_on(0),
        [(1001, 0, 0), (1001, 0, 1), (1002, 0, 0)]
    );
}
