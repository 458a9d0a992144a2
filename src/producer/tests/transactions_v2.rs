//! KIP-890's second transaction protocol against the scripted
//! coordinator: chosen by the `transaction.version` feature and the
//! request versions, no AddPartitionsToTxn or AddOffsetsToTxn, the epoch
//! EndTxn returns adopted with sequences from 0, and the first protocol
//! wherever the cluster lacks any of it.

use super::scripted_broker::{value, Log, Setup};
use super::scripted_coordinator::TXN_PRODUCER_ID;
use super::transactions::{a_newer_instance_fences, transactional};
use crate::producer::*;
use crate::protocol::{ApiKey, ErrorCode};

/// A producer past `init_transactions` against brokers that finalize
/// `transaction.version` at `feature` and speak Produce up to
/// `max_produce`.
fn ready_with(feature: Option<i16>, max_produce: i16) -> Setup {
    let log = Log {
        partitions: 2,
        transaction_version: feature,
        ..Default::default()
    };
    let mut s = Setup::with_log(transactional(), max_produce, log);
    s.init().expect("init_transactions");
    s
}

fn ready_v2() -> Setup {
    let s = ready_with(Some(2), 12);
    assert_eq!(s.p.transaction_protocol(), Some(TransactionProtocol::V2));
    s
}

impl Setup {
    fn send_offsets(&mut self, group: &str, offset: i64) -> Result<(), TransactionError> {
        let now = self.h.now;
        let token = self.p.send_offsets_to_transaction(
            &mut self.h.client,
            vec![TransactionOffset::new("in", 0, offset)],
            ConsumerGroupMetadata::without_membership(group),
            now,
        );
        self.finish(token)
    }

    /// The versions the coordinators saw for `api`.
    fn txn_versions(&self, api: ApiKey) -> Vec<i16> {
        let log = self.log.borrow();
        let seen = log.txn.versions.iter().filter(|(a, _)| *a == api);
        seen.map(|(_, v)| *v).collect()
    }
}

#[test]
fn the_second_protocol_sends_no_add_partitions_or_add_offsets() {
    let mut s = ready_v2();
    s.p.begin_transaction().expect("begin");
    for i in 0..4 {
        s.send_to((i % 2) as i32, value(i));
    }
    s.send_offsets("g", 7).expect("offsets");
    s.commit().expect("commit");
    assert_eq!(
        s.txn_requests(),
        vec![
            ApiKey::InitProducerId,
            ApiKey::TxnOffsetCommit,
            ApiKey::EndTxn
        ],
        "Produce and TxnOffsetCommit add partitions and group themselves"
    );
    assert_eq!(s.txn_versions(ApiKey::TxnOffsetCommit), vec![5]);
    assert_eq!(s.txn_versions(ApiKey::EndTxn), vec![5]);
    let log = s.log.borrow();
    assert!(!log.produce_versions.is_empty());
    assert!(log.produce_versions.iter().all(|v| *v == 12));
    assert_eq!(log.txn.unadded_writes, 0);
    assert_eq!(log.txn.unflagged_writes, 0);
    assert_eq!(log.txn.implicit_adds, 3, "two partitions and a group");
    let ended = log.txn.ended.last().expect("ended");
    assert!(ended.commit);
    assert_eq!(ended.partitions.len(), 2);
    assert_eq!(ended.offsets, vec![("g".into(), "in".into(), 0, 7)]);
    assert_eq!(log.values(0), vec![value(0), value(2)]);
}

#[test]
fn the_second_protocol_adopts_the_epoch_end_txn_returns_and_restarts_sequences() {
    let mut s = ready_v2();
    for round in 0..3 {
        s.p.begin_transaction().expect("begin");
        for i in 0..3 {
            s.send_to(0, value(round * 3 + i));
        }
        s.commit().expect("commit");
    }
    let log = s.log.borrow();
    // Epoch 1 from InitProducerId, then one more per EndTxn; each epoch's
    // first batch starts at sequence 0 (the broker refuses anything else).
    let firsts: Vec<(i64, i16, i32)> = log.attempts_on(0);
    assert_eq!(
        firsts,
        vec![
            (TXN_PRODUCER_ID, 1, 0),
            (TXN_PRODUCER_ID, 2, 0),
            (TXN_PRODUCER_ID, 3, 0)
        ]
    );
    assert_eq!(log.txn.epoch, 4, "the last EndTxn bumped it again");
    assert_eq!(log.values(0).len(), 9);
    assert_eq!(
        log.txn
            .requests
            .iter()
            .filter(|r| **r == ApiKey::InitProducerId)
            .count(),
        1,
        "the epoch comes from EndTxn, not from InitProducerId"
    );
}

#[test]
fn the_second_protocol_adopts_a_new_producer_id_at_an_epoch_overflow() {
    let mut s = ready_v2();
    s.log.borrow_mut().txn.renew_id_at_end = true;
    s.p.begin_transaction().expect("begin");
    s.send_to(0, value(0));
    s.commit().expect("commit");
    s.p.begin_transaction().expect("begin");
    s.send_to(0, value(1));
    s.commit().expect("commit under the new id");
    let log = s.log.borrow();
    assert_eq!(
        log.attempts_on(0),
        vec![(TXN_PRODUCER_ID, 1, 0), (TXN_PRODUCER_ID + 1, 0, 0)]
    );
    assert!(log.txn.ended.iter().all(|e| e.commit));
}

#[test]
fn the_first_protocol_without_transaction_version_2() {
    // No feature, the feature at 1, or a broker without Produce v12.
    for (feature, max_produce) in [(None, 12), (Some(1), 12), (Some(2), 11)] {
        let mut s = ready_with(feature, max_produce);
        assert_eq!(
            s.p.transaction_protocol(),
            Some(TransactionProtocol::V1),
            "{feature:?}, Produce v{max_produce}"
        );
        s.p.begin_transaction().expect("begin");
        s.send_to(0, value(0));
        s.send_offsets("g", 1).expect("offsets");
        s.commit().expect("commit");
        let mut requests = s.txn_requests();
        requests.sort_by_key(|api| api.key());
        assert_eq!(
            requests,
            vec![
                ApiKey::InitProducerId,
                ApiKey::AddPartitionsToTxn,
                ApiKey::AddOffsetsToTxn,
                ApiKey::EndTxn,
                ApiKey::TxnOffsetCommit,
            ]
        );
        assert!(s.txn_versions(ApiKey::EndTxn).iter().all(|v| *v <= 4));
        assert!(s
            .txn_versions(ApiKey::TxnOffsetCommit)
            .iter()
            .all(|v| *v <= 4));
        let log = s.log.borrow();
        assert!(log.produce_versions.iter().all(|v| *v <= 11));
        assert_eq!(log.txn.unadded_writes, 0);
        assert_eq!(log.txn.unadded_offset_commits, 0);
        assert_eq!(log.txn.implicit_adds, 0);
    }
}

#[test]
fn a_partition_refused_by_the_produce_makes_the_transaction_abortable() {
    for code in [
        ErrorCode::INVALID_TXN_STATE,
        ErrorCode::TRANSACTION_ABORTABLE,
    ] {
        let mut s = ready_v2();
        s.log
            .borrow_mut()
            .txn
            .errors
            .push_back((ApiKey::Produce, code.0));
        s.p.begin_transaction().expect("begin");
        s.send_to(0, value(0));
        let result = s.commit();
        assert!(matches!(&result, Err(e) if e.is_abortable()), "{result:?}");
        s.abort().expect("abort");
        s.p.begin_transaction().expect("the producer goes on");
        s.send_to(0, value(1));
        s.commit().expect("commit");
        assert_eq!(s.stored_values(0), vec![value(1)], "{code}");
        // The aborting EndTxn's new epoch is the bump a failed batch
        // asks for: no InitProducerId for it.
        assert_eq!(
            s.txn_requests(),
            vec![ApiKey::InitProducerId, ApiKey::EndTxn, ApiKey::EndTxn]
        );
    }
}

#[test]
fn under_the_second_protocol_a_newer_instance_fences_the_older_one() {
    a_newer_instance_fences(ready_v2());
}

#[test]
fn under_the_second_protocol_an_abort_of_records_never_sent_ends_without_a_request() {
    let mut s = ready_v2();
    s.p.begin_transaction().expect("begin");
    let lingering = s.send_to(0, value(0));
    s.abort().expect("abort");
    assert_eq!(
        s.failed(),
        vec![(lingering, ProduceError::TransactionAborted)]
    );
    assert_eq!(s.txn_requests(), vec![ApiKey::InitProducerId]);
}
