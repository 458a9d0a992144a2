//! The transactional producer against the scripted cluster and its
//! transaction coordinator: what it sends, in which order, and how each
//! class of error ends an operation.

use std::time::Duration;

use super::scripted_broker::{value, Setup};
use super::scripted_coordinator::TXN_PRODUCER_ID;
use crate::producer::*;
use crate::protocol::{ApiKey, ErrorCode};

pub(super) fn transactional() -> ProducerConfig {
    ProducerConfig::default().with_transactional_id("txn-1")
}

impl Setup {
    /// Runs until the operation with `token` reports; its result.
    pub(super) fn finish(&mut self, token: u64) -> Result<(), TransactionError> {
        for _ in 0..100 {
            self.settle();
            if let Some(result) = self.events.iter().find_map(|e| match e {
                ProducerEvent::Transaction { token: t, result } if *t == token => {
                    Some(result.clone())
                }
                _ => None,
            }) {
                return result;
            }
            self.advance(Duration::from_millis(10));
        }
        panic!("operation {token} did not finish: {:?}", self.events);
    }

    pub(super) fn init(&mut self) -> Result<(), TransactionError> {
        let now = self.h.now;
        let token = self.p.init_transactions(&mut self.h.client, now);
        self.finish(token)
    }

    pub(super) fn commit(&mut self) -> Result<(), TransactionError> {
        let now = self.h.now;
        let token = self.p.commit_transaction(&mut self.h.client, now);
        self.finish(token)
    }

    pub(super) fn abort(&mut self) -> Result<(), TransactionError> {
        let now = self.h.now;
        let token = self.p.abort_transaction(&mut self.h.client, now);
        self.finish(token)
    }

    pub(super) fn txn_requests(&self) -> Vec<ApiKey> {
        self.log.borrow().txn.requests.clone()
    }
}

fn ready() -> Setup {
    let log = super::scripted_broker::Log {
        partitions: 2,
        ..Default::default()
    };
    let mut s = Setup::with_log(transactional(), 11, log);
    s.init().expect("init_transactions");
    s
}

#[test]
fn records_outside_a_transaction_fail_with_a_typed_error() {
    let mut s = Setup::new(transactional(), 11);
    let before_init = s.send(ProducerRecord::new("t").partition(0).value(value(0)));
    assert!(
        matches!(
            before_init,
            Err(ProduceError::Transaction(
                TransactionError::WrongState { .. }
            ))
        ),
        "{before_init:?}"
    );
    s.init().expect("init_transactions");
    let before_begin = s.send(ProducerRecord::new("t").partition(0).value(value(0)));
    assert!(
        matches!(
            before_begin,
            Err(ProduceError::Transaction(
                TransactionError::WrongState { .. }
            ))
        ),
        "{before_begin:?}"
    );
    assert!(s.stored_values(0).is_empty());
    // A commit with no transaction open is refused the same way.
    assert!(matches!(
        s.commit(),
        Err(TransactionError::WrongState { .. })
    ));
}

#[test]
fn a_commit_adds_partitions_before_writing_and_ends_after_every_ack() {
    let mut s = ready();
    s.p.begin_transaction().expect("begin");
    for i in 0..6 {
        s.send_to((i % 2) as i32, value(i));
    }
    s.commit().expect("commit");
    let log = s.log.borrow();
    assert_eq!(
        log.txn.unadded_writes, 0,
        "every write was to a partition added first"
    );
    assert_eq!(
        log.txn.unflagged_writes, 0,
        "every batch is flagged transactional"
    );
    assert_eq!(log.values(0), vec![value(0), value(2), value(4)]);
    assert_eq!(log.values(1), vec![value(1), value(3), value(5)]);
    assert!(log
        .produce_transactional_ids
        .iter()
        .all(|id| id.as_deref() == Some("txn-1")));
    assert!(
        log.produce_versions.iter().all(|v| *v <= 11),
        "Produce stays at v11: the first transaction protocol"
    );
    let ended = log.txn.ended.last().expect("ended");
    assert!(ended.commit);
    assert_eq!(ended.partitions.len(), 2);
    // The two partitions in one AddPartitionsToTxn, and EndTxn last.
    assert_eq!(
        log.txn.requests,
        vec![
            ApiKey::InitProducerId,
            ApiKey::AddPartitionsToTxn,
            ApiKey::EndTxn
        ]
    );
    assert!(s.delivered().len() == 6);
    let stamped = log.records[&0].iter().all(|r| r.pid == TXN_PRODUCER_ID);
    assert!(stamped, "records carry the coordinator's producer id");
}

#[test]
fn an_abort_drops_what_was_not_sent_and_ends_the_transaction() {
    let mut s = ready();
    s.p.begin_transaction().expect("begin");
    // Partition 0 is written and acknowledged; partition 1's record is
    // still lingering when the abort comes.
    let written = s.send_to(0, value(0));
    s.advance(Duration::from_millis(10));
    assert_eq!(s.delivered().len(), 1);
    let lingering = s.send_to(1, value(1));
    s.abort().expect("abort");
    let failed = s.failed();
    assert_eq!(failed, vec![(lingering, ProduceError::TransactionAborted)]);
    assert!(s.delivered().iter().any(|(id, _)| *id == written));
    let log = s.log.borrow();
    let ended = log.txn.ended.last().expect("ended");
    assert!(!ended.commit);
    assert!(
        log.values(1).is_empty(),
        "the dropped record was never sent"
    );
    drop(log);
    // The producer goes on: a new transaction commits.
    s.p.begin_transaction().expect("begin again");
    s.send_to(1, value(2));
    s.commit().expect("commit");
    assert!(s.log.borrow().txn.ended.last().is_some_and(|e| e.commit));
}

#[test]
fn an_empty_transaction_ends_without_a_request() {
    let mut s = ready();
    s.p.begin_transaction().expect("begin");
    s.commit().expect("commit");
    s.p.begin_transaction().expect("begin");
    s.abort().expect("abort");
    assert_eq!(s.txn_requests(), vec![ApiKey::InitProducerId]);
}

#[test]
fn coordinator_errors_are_retried_inside_the_operation() {
    let mut s = ready();
    s.log.borrow_mut().txn.errors.extend([
        (
            ApiKey::AddPartitionsToTxn,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.0,
        ),
        (ApiKey::EndTxn, ErrorCode::CONCURRENT_TRANSACTIONS.0),
        (ApiKey::EndTxn, ErrorCode::NOT_COORDINATOR.0),
    ]);
    s.p.begin_transaction().expect("begin");
    s.send_to(0, value(0));
    s.commit().expect("commit after retries");
    assert_eq!(
        s.txn_requests(),
        vec![
            ApiKey::InitProducerId,
            ApiKey::AddPartitionsToTxn,
            ApiKey::AddPartitionsToTxn,
            ApiKey::EndTxn,
            ApiKey::EndTxn,
            ApiKey::EndTxn,
        ]
    );
    assert_eq!(s.stored_values(0), vec![value(0)]);
}

#[test]
fn a_newer_instance_fences_the_older_one_for_good() {
    a_newer_instance_fences(ready());
}

/// The fencing of `s`'s producer, whichever its transaction protocol.
pub(super) fn a_newer_instance_fences(mut s: Setup) {
    s.p.begin_transaction().expect("begin");
    s.send_to(0, value(0));
    // Another producer with the same transactional id initialises: the
    // coordinator bumps the epoch and aborts what was open.
    s.log.borrow_mut().txn.epoch += 1;
    let result = s.commit();
    assert!(
        matches!(&result, Err(e @ TransactionError::Fenced { .. }) if e.is_fatal()),
        "{result:?}"
    );
    assert!(matches!(
        s.p.begin_transaction(),
        Err(TransactionError::Fenced { .. })
    ));
    let refused = s.send(ProducerRecord::new("t").partition(0).value(value(1)));
    assert!(matches!(
        refused,
        Err(ProduceError::Transaction(TransactionError::Fenced { .. }))
    ));
    assert!(
        s.log.borrow().values(0).is_empty(),
        "nothing of the zombie written"
    );
}

#[test]
fn a_failed_record_makes_the_commit_abortable_then_an_abort_goes_on() {
    let mut s = ready();
    s.p.begin_transaction().expect("begin");
    s.log
        .borrow_mut()
        .errors
        .entry(0)
        .or_default()
        .push_back(ErrorCode::MESSAGE_TOO_LARGE.0);
    s.send_to(0, value(0));
    let result = s.commit();
    assert!(matches!(&result, Err(e) if e.is_abortable()), "{result:?}");
    s.abort().expect("abort");
    s.p.begin_transaction().expect("the producer goes on");
    s.send_to(1, value(1));
    s.commit().expect("commit");
    let ended: Vec<bool> = s.log.borrow().txn.ended.iter().map(|e| e.commit).collect();
    assert_eq!(ended, vec![false, true]);
}

#[test]
fn offsets_go_in_with_the_members_generation() {
    let mut s = ready();
    s.p.begin_transaction().expect("begin");
    s.send_to(0, value(0));
    let group = ConsumerGroupMetadata {
        group_id: "g".into(),
        generation_id: 4,
        member_id: "m-1".into(),
        group_instance_id: None,
    };
    let now = s.h.now;
    let token = s.p.send_offsets_to_transaction(
        &mut s.h.client,
        vec![TransactionOffset::new("in", 3, 42)],
        group,
        now,
    );
    s.finish(token).expect("offsets sent");
    s.commit().expect("commit");
    let log = s.log.borrow();
    assert_eq!(log.txn.members, vec![(4, "m-1".to_string())]);
    let ended = log.txn.ended.last().expect("ended");
    assert!(ended.commit);
    assert_eq!(
        ended.offsets,
        vec![("g".to_string(), "in".to_string(), 3, 42)]
    );
    assert!(log.txn.requests.contains(&ApiKey::AddOffsetsToTxn));
}

#[test]
fn a_zombie_members_offsets_make_the_transaction_abortable() {
    let mut s = ready();
    s.log
        .borrow_mut()
        .txn
        .errors
        .push_back((ApiKey::TxnOffsetCommit, ErrorCode::ILLEGAL_GENERATION.0));
    s.p.begin_transaction().expect("begin");
    let now = s.h.now;
    let token = s.p.send_offsets_to_transaction(
        &mut s.h.client,
        vec![TransactionOffset::new("in", 0, 1)],
        ConsumerGroupMetadata::without_membership("g"),
        now,
    );
    let result = s.finish(token);
    assert!(matches!(&result, Err(e) if e.is_abortable()), "{result:?}");
    assert!(matches!(s.commit(), Err(e) if e.is_abortable()));
    s.abort().expect("abort");
    let log = s.log.borrow();
    assert!(log
        .txn
        .ended
        .last()
        .is_some_and(|e| !e.commit && e.offsets.is_empty()));
}

#[test]
fn a_group_is_added_once_per_transaction() {
    let mut s = ready();
    s.p.begin_transaction().expect("begin");
    for offset in [5, 9] {
        let now = s.h.now;
        let token = s.p.send_offsets_to_transaction(
            &mut s.h.client,
            vec![TransactionOffset::new("in", 0, offset)],
            ConsumerGroupMetadata::without_membership("g"),
            now,
        );
        s.finish(token).expect("offsets sent");
    }
    s.commit().expect("commit");
    let requests = s.txn_requests();
    let adds = requests
        .iter()
        .filter(|r| **r == ApiKey::AddOffsetsToTxn)
        .count();
    assert_eq!(adds, 1, "{requests:?}");
    let commits = requests
        .iter()
        .filter(|r| **r == ApiKey::TxnOffsetCommit)
        .count();
    assert_eq!(commits, 2);
    let ended = s.log.borrow().txn.ended.last().cloned().expect("ended");
    assert_eq!(ended.offsets.last().map(|o| o.3), Some(9));
}

#[test]
fn a_batch_coming_back_for_a_retry_during_an_abort_is_not_sent_again() {
    let mut s = ready();
    s.p.begin_transaction().expect("begin");
    {
        let mut log = s.log.borrow_mut();
        log.errors
            .entry(0)
            .or_default()
            .push_back(ErrorCode::NOT_LEADER_OR_FOLLOWER.0);
        log.hold.insert(0);
    }
    let id = s.send_to(0, value(0));
    s.advance(Duration::from_millis(10));
    assert_eq!(
        s.log.borrow().produce_versions.len(),
        1,
        "in flight, answer held"
    );
    let now = s.h.now;
    let token = s.p.abort_transaction(&mut s.h.client, now);
    // The answer: retriable, which would put the batch back for a retry.
    s.release_held();
    s.finish(token).expect("abort");
    assert_eq!(s.failed(), vec![(id, ProduceError::TransactionAborted)]);
    let log = s.log.borrow();
    assert_eq!(log.produce_versions.len(), 1, "not sent again");
    assert!(log.txn.ended.last().is_some_and(|e| !e.commit));
}

/// A partition new to the transaction makes AddPartitionsToTxn due at
/// once (a deadline of now, which the engine serves when the call that
/// placed the records returns), with every partition new in that
/// hand-over, while the batches linger.
#[test]
fn partitions_new_to_a_transaction_are_added_together_while_they_linger() {
    let log = super::scripted_broker::Log {
        partitions: 3,
        ..Default::default()
    };
    let mut s = Setup::with_log(transactional(), 11, log);
    s.init().expect("init_transactions");
    s.p.begin_transaction().expect("begin");
    let records = (0..3).map(|p| {
        ProducerRecord::new("t")
            .partition(p)
            .value(value(p as usize))
    });
    let now = s.h.now;
    let mut placed = Vec::new();
    s.p.send_all(&mut s.h.client, records, now, 1_700_000_000_000, |r| {
        placed.push(r)
    });
    assert!(placed.iter().all(Result::is_ok), "{placed:?}");
    assert_eq!(s.p.poll_timeout(), Some(now), "the add is due at once");
    s.advance(Duration::ZERO);
    // Added before the linger is over: nothing written yet.
    assert_eq!(s.log.borrow().txn.add_sizes, vec![3]);
    assert!(
        s.log.borrow().produce_versions.is_empty(),
        "still lingering"
    );
    s.commit().expect("commit");
    let log = s.log.borrow();
    assert_eq!(log.txn.unadded_writes, 0);
    assert_eq!(log.txn.ended.last().map(|e| e.partitions.len()), Some(3));
}
