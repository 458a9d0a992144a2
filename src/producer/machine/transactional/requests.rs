//! The coordinator requests: which one is due, and how each is built.

use std::time::{Duration, Instant};

use super::{PendingOffsets, Step, TxnState, ADD_PARTITIONS_VERSIONS, INIT_WITH_EPOCH};
use crate::client::{Client, RequestOptions, Target};
use crate::producer::machine::idempotence::ProducerIdState;
use crate::producer::machine::ProducerMachine;
use crate::protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use crate::protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use crate::protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, InitProducerIdRequest,
    TxnOffsetCommitRequest,
};
use crate::protocol::VersionRange;

impl ProducerMachine {
    // ---- driving ----

    /// Sends the coordinator request that is due, if any (called from
    /// `drive`).
    pub(in crate::producer::machine) fn drive_transaction(
        &mut self,
        client: &mut Client,
        now: Instant,
    ) {
        self.expire_waiting(now);
        let aborting = self
            .transactions
            .as_ref()
            .is_some_and(|t| t.state == TxnState::Aborting);
        if aborting {
            // What came back for a retry since the abort began.
            self.drop_unsent(now);
        }
        let Some(txn) = self.transactions.as_mut() else {
            return;
        };
        // The drive that was due for a new partition is this one.
        txn.add_due = None;
        if txn.in_flight.is_some() || txn.retry_at.is_some_and(|t| t > now) {
            return;
        }
        txn.retry_at = None;
        let step = match &txn.state {
            TxnState::Initializing => Some(Step::Init),
            TxnState::InTransaction | TxnState::Committing | TxnState::Abortable(_) => {
                match &txn.offsets {
                    Some(o) if !o.added => Some(Step::AddOffsets),
                    Some(_) => Some(Step::CommitOffsets),
                    None if !txn.to_add.is_empty() => Some(Step::AddPartitions),
                    None => None,
                }
            }
            TxnState::Aborting => None,
            TxnState::Uninitialized | TxnState::Ready | TxnState::Fatal(_) => None,
        };
        let step = match step {
            Some(Step::AddPartitions) if matches!(txn.state, TxnState::Abortable(_)) => None,
            Some(step) => Some(step),
            None => self.ending_step(),
        };
        if let Some(step) = step {
            self.send_step(client, step, now);
        }
    }

    /// EndTxn, once nothing of the transaction is still on its way.
    fn ending_step(&mut self) -> Option<Step> {
        let commit = match &self.transactions.as_ref()?.state {
            TxnState::Committing => true,
            TxnState::Aborting => false,
            _ => return None,
        };
        if !self.nothing_unresolved(commit) {
            return None;
        }
        let txn = self.transactions.as_mut()?;
        if txn.added.is_empty() && txn.groups.is_empty() {
            // Nothing reached the coordinator: nothing to end.
            self.transaction_ended(commit);
            return None;
        }
        Some(Step::End { commit })
    }

    /// Every record of the transaction is resolved: for a commit, every
    /// batch acknowledged; for an abort, none in flight.
    fn nothing_unresolved(&self, commit: bool) -> bool {
        if !self.in_flight.is_empty() {
            return false;
        }
        if commit {
            self.partitions.values().all(|q| q.ready.is_empty()) && self.awaiting.is_empty()
        } else {
            true
        }
    }

    fn send_step(&mut self, client: &mut Client, step: Step, now: Instant) {
        let Some(txn) = self.transactions.as_mut() else {
            return;
        };
        let (pid, epoch) = match self.producer_id {
            ProducerIdState::Ready { id, epoch } => (id, epoch),
            _ => (-1, -1),
        };
        let coordinator = Target::TransactionCoordinator(txn.id.clone());
        let options = |versions| RequestOptions {
            versions,
            ..RequestOptions::default()
        };
        let id = match step {
            Step::Init => {
                // After an abort for a sequence gone wrong, the current id
                // and epoch ask for a bump of this identity (v3+); the
                // broker takes -1/-1 as a fresh start.
                let keep = txn.bump_epoch && pid >= 0;
                let request = InitProducerIdRequest {
                    transactional_id: Some(txn.id.clone()),
                    transaction_timeout_ms: millis(txn.timeout),
                    producer_id: if keep { pid } else { -1 },
                    producer_epoch: if keep { epoch } else { -1 },
                    ..Default::default()
                };
                let versions = VersionRange {
                    min: if keep { INIT_WITH_EPOCH } else { 0 },
                    max: i16::MAX,
                };
                client.send_with(coordinator, request, options(versions), now)
            }
            Step::AddPartitions => {
                txn.adding = std::mem::take(&mut txn.to_add).into_iter().collect();
                let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
                for (topic, partition) in &txn.adding {
                    match topics.last_mut() {
                        Some(t) if t.name == *topic.0 => t.partitions.push(*partition),
                        _ => topics.push(AddPartitionsToTxnTopic {
                            name: topic.0.to_string(),
                            partitions: vec![*partition],
                            ..Default::default()
                        }),
                    }
                }
                let request = AddPartitionsToTxnRequest {
                    v3_and_below_transactional_id: txn.id.clone(),
                    v3_and_below_producer_id: pid,
                    v3_and_below_producer_epoch: epoch,
                    v3_and_below_topics: topics,
                    ..Default::default()
                };
                client.send_with(coordinator, request, options(ADD_PARTITIONS_VERSIONS), now)
            }
            Step::AddOffsets => {
                let group_id = txn
                    .offsets
                    .as_ref()
                    .map(|o| o.group.group_id.clone())
                    .unwrap_or_default();
                let request = AddOffsetsToTxnRequest {
                    transactional_id: txn.id.clone(),
                    producer_id: pid,
                    producer_epoch: epoch,
                    group_id,
                    ..Default::default()
                };
                client.send(coordinator, request, now)
            }
            Step::CommitOffsets => {
                let Some(pending) = txn.offsets.as_ref() else {
                    return;
                };
                let request = txn_offset_commit(&txn.id, (pid, epoch), pending);
                let group_id = pending.group.group_id.clone();
                if txn.protocol.adds_implicitly() {
                    // This request may put the group in the transaction:
                    // from now on it must be ended.
                    txn.groups.insert(group_id.clone());
                }
                let versions = txn.protocol.txn_offset_commit_versions();
                client.send_with(
                    Target::GroupCoordinator(group_id),
                    request,
                    options(versions),
                    now,
                )
            }
            Step::End { commit } => {
                let request = EndTxnRequest {
                    transactional_id: txn.id.clone(),
                    producer_id: pid,
                    producer_epoch: epoch,
                    committed: commit,
                    ..Default::default()
                };
                let versions = txn.protocol.end_txn_versions();
                client.send_with(coordinator, request, options(versions), now)
            }
        };
        tracing::debug!(step = ?step, transactional_id = %txn.id, "transaction request sent");
        txn.in_flight = Some((id, step));
    }
}

fn txn_offset_commit(
    transactional_id: &str,
    (producer_id, producer_epoch): (i64, i16),
    pending: &PendingOffsets,
) -> TxnOffsetCommitRequest {
    let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
    for o in &pending.offsets {
        let partition = TxnOffsetCommitRequestPartition {
            partition_index: o.partition,
            committed_offset: o.offset,
            committed_leader_epoch: o.leader_epoch,
            committed_metadata: o.metadata.clone(),
            ..Default::default()
        };
        match topics.iter_mut().find(|t| t.name == o.topic) {
            Some(t) => t.partitions.push(partition),
            None => topics.push(TxnOffsetCommitRequestTopic {
                name: o.topic.clone(),
                partitions: vec![partition],
                ..Default::default()
            }),
        }
    }
    TxnOffsetCommitRequest {
        transactional_id: transactional_id.to_string(),
        group_id: pending.group.group_id.clone(),
        producer_id,
        producer_epoch,
        generation_id: pending.group.generation_id,
        member_id: pending.group.member_id.clone(),
        group_instance_id: pending.group.group_instance_id.clone(),
        topics,
        ..Default::default()
    }
}

fn millis(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}
