//! The transactional APIs: InitProducerId with a transactional id,
//! AddPartitionsToTxn, AddOffsetsToTxn and EndTxn at the transaction
//! coordinator, TxnOffsetCommit at the group coordinator. Each checks
//! what Kafka's checks: the right coordinator, the producer id and a
//! current epoch (an older one is fenced), the transaction's phase, and,
//! for offsets, the member's generation (KIP-447).

use kafkite::protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafkite::protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafkite::protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, InitProducerIdRequest,
    InitProducerIdResponse, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use kafkite::protocol::ErrorCode;

use super::group::Group;
use super::group_api::check_coordinator;
use super::transactions::{TxnEntry, TxnPhase};
use super::{produce, Cluster};

/// The code for a fenced producer: PRODUCER_FENCED where the version knows
/// it (v2+ of the coordinator's APIs), INVALID_PRODUCER_EPOCH before.
fn fenced(version: i16) -> i16 {
    if version >= 2 {
        ErrorCode::PRODUCER_FENCED.0
    } else {
        ErrorCode::INVALID_PRODUCER_EPOCH.0
    }
}

/// Checks that `broker` coordinates `id`, and that the producer id and
/// epoch are the current ones.
fn check_producer(
    cluster: &Cluster,
    broker: i32,
    id: &str,
    (producer_id, epoch): (i64, i16),
    version: i16,
) -> Result<(), i16> {
    check_coordinator(cluster, broker, id)?;
    let entry = cluster
        .transactions
        .get(id)
        .ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING.0)?;
    if entry.producer_id != producer_id {
        return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING.0);
    }
    if epoch != entry.epoch {
        return Err(fenced(version));
    }
    Ok(())
}

pub(super) fn init_producer_id(
    cluster: &mut Cluster,
    broker: i32,
    request: &InitProducerIdRequest,
) -> InitProducerIdResponse {
    let Some(id) = request.transactional_id.clone() else {
        return produce::init_producer_id(cluster);
    };
    let refused = |code: i16| InitProducerIdResponse {
        error_code: code,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    if let Err(code) = check_coordinator(cluster, broker, &id) {
        return refused(code);
    }
    let timeout_ms = u64::try_from(request.transaction_timeout_ms.max(1)).unwrap_or(60_000);
    let phase = cluster.transactions.get(&id).map(|e| e.phase.clone());
    match phase {
        None => {
            let producer_id = cluster.new_producer_id();
            cluster.transactions.insert(
                id,
                TxnEntry {
                    producer_id,
                    epoch: 0,
                    timeout_ms,
                    phase: TxnPhase::Empty,
                    partitions: Default::default(),
                    groups: Default::default(),
                    last_ended: None,
                    bumped_by_end: false,
                    served_by: broker,
                },
            );
            InitProducerIdResponse {
                producer_id,
                producer_epoch: 0,
                ..Default::default()
            }
        }
        // An older instance left a transaction open: fence it (a bumped
        // epoch) and abort what it wrote; the new one asks again.
        Some(TxnPhase::Ongoing { .. }) => {
            if let Some(e) = cluster.transactions.get_mut(&id) {
                e.epoch = e.epoch.saturating_add(1);
                e.bumped_by_end = false;
            }
            cluster.start_ending(&id, false, "fenced");
            refused(ErrorCode::CONCURRENT_TRANSACTIONS.0)
        }
        Some(TxnPhase::Ending { .. }) => refused(ErrorCode::CONCURRENT_TRANSACTIONS.0),
        Some(TxnPhase::Empty) => {
            let fresh = cluster.new_producer_id();
            let Some(e) = cluster.transactions.get_mut(&id) else {
                return refused(ErrorCode::UNKNOWN_SERVER_ERROR.0);
            };
            // A new epoch fences every older instance; near the end of
            // the epochs, a new producer id starts over.
            if e.epoch >= i16::MAX - 1 {
                e.producer_id = fresh;
                e.epoch = 0;
            } else {
                e.epoch += 1;
            }
            e.timeout_ms = timeout_ms;
            e.bumped_by_end = false;
            InitProducerIdResponse {
                producer_id: e.producer_id,
                producer_epoch: e.epoch,
                ..Default::default()
            }
        }
    }
}

/// Whether the id may add to its transaction now: `Ok` opens one if none
/// is.
fn open_for_adding(cluster: &mut Cluster, id: &str) -> Result<(), i16> {
    let now = cluster.now_ms;
    let entry = cluster
        .transactions
        .get_mut(id)
        .ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING.0)?;
    match entry.phase {
        TxnPhase::Ending { .. } => Err(ErrorCode::CONCURRENT_TRANSACTIONS.0),
        TxnPhase::Empty => {
            entry.phase = TxnPhase::Ongoing { since_ms: now };
            Ok(())
        }
        TxnPhase::Ongoing { .. } => Ok(()),
    }
}

pub(super) fn add_partitions(
    cluster: &mut Cluster,
    broker: i32,
    request: &AddPartitionsToTxnRequest,
    version: i16,
) -> AddPartitionsToTxnResponse {
    let id = &request.v3_and_below_transactional_id;
    let producer = (
        request.v3_and_below_producer_id,
        request.v3_and_below_producer_epoch,
    );
    let mut code = check_producer(cluster, broker, id, producer, version)
        .and_then(|()| open_for_adding(cluster, id));
    let known = |cluster: &Cluster, topic: &str, p: i32| {
        cluster
            .topics
            .get(topic)
            .is_some_and(|t| p >= 0 && (p as usize) < t.partitions.len())
    };
    // One unknown partition fails them all: the others get
    // OPERATION_NOT_ATTEMPTED, as Kafka answers.
    let any_unknown = request
        .v3_and_below_topics
        .iter()
        .any(|t| t.partitions.iter().any(|p| !known(cluster, &t.name, *p)));
    if code.is_ok() && any_unknown {
        code = Err(ErrorCode::OPERATION_NOT_ATTEMPTED.0);
    }
    if code.is_ok() {
        if let Some(e) = cluster.transactions.get_mut(id) {
            for t in &request.v3_and_below_topics {
                for p in &t.partitions {
                    e.partitions.insert((t.name.clone(), *p));
                }
            }
        }
    }
    add_partitions_answer(request, |topic, p| match code {
        Ok(()) => 0,
        Err(c) if c == ErrorCode::OPERATION_NOT_ATTEMPTED.0 && !known(cluster, topic, p) => {
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
        }
        Err(c) => c,
    })
}

/// An AddPartitionsToTxn answer (v0-3) with `code(topic, partition)` for
/// each partition asked for.
pub(super) fn add_partitions_answer(
    request: &AddPartitionsToTxnRequest,
    code: impl Fn(&str, i32) -> i16,
) -> AddPartitionsToTxnResponse {
    let results = request
        .v3_and_below_topics
        .iter()
        .map(|t| AddPartitionsToTxnTopicResult {
            name: t.name.clone(),
            results_by_partition: t
                .partitions
                .iter()
                .map(|p| AddPartitionsToTxnPartitionResult {
                    partition_index: *p,
                    partition_error_code: code(&t.name, *p),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    AddPartitionsToTxnResponse {
        results_by_topic_v3_and_below: results,
        ..Default::default()
    }
}

pub(super) fn add_offsets(
    cluster: &mut Cluster,
    broker: i32,
    request: &AddOffsetsToTxnRequest,
    version: i16,
) -> AddOffsetsToTxnResponse {
    let id = &request.transactional_id;
    let producer = (request.producer_id, request.producer_epoch);
    let code = check_producer(cluster, broker, id, producer, version)
        .and_then(|()| open_for_adding(cluster, id));
    if code.is_ok() {
        if let Some(e) = cluster.transactions.get_mut(id) {
            e.groups.insert(request.group_id.clone());
        }
    }
    AddOffsetsToTxnResponse {
        error_code: code.err().unwrap_or(0),
        ..Default::default()
    }
}

pub(super) fn end_txn(
    cluster: &mut Cluster,
    broker: i32,
    request: &EndTxnRequest,
    version: i16,
) -> EndTxnResponse {
    let id = &request.transactional_id;
    let commit = request.committed;
    // The second protocol: the coordinator bumps the epoch at every end
    // and answers with the new one.
    let v2 = version >= 5 && cluster.transaction_v2();
    let answer = |cluster: &Cluster, code: i16| {
        let e = cluster.transactions.get(id);
        EndTxnResponse {
            error_code: code,
            producer_id: e.filter(|_| code == 0).map_or(-1, |e| e.producer_id),
            producer_epoch: e.filter(|_| code == 0).map_or(-1, |e| e.epoch),
            ..Default::default()
        }
    };
    if v2 {
        // A retry of an EndTxn that bumped the epoch comes with the one
        // before.
        let retry = cluster.transactions.get(id).is_some_and(|e| {
            e.bumped_by_end
                && e.producer_id == request.producer_id
                && request.producer_epoch.saturating_add(1) == e.epoch
        });
        if retry && check_coordinator(cluster, broker, id).is_ok() {
            let phase = cluster
                .transactions
                .get(id)
                .map(|e| (e.phase.clone(), e.last_ended));
            return match phase {
                Some((TxnPhase::Ending { commit: c, .. }, _)) if c == commit => {
                    answer(cluster, ErrorCode::CONCURRENT_TRANSACTIONS.0)
                }
                Some((TxnPhase::Empty, Some(c))) if c == commit => answer(cluster, 0),
                _ => answer(cluster, ErrorCode::INVALID_TXN_STATE.0),
            };
        }
    }
    let producer = (request.producer_id, request.producer_epoch);
    let code = check_producer(cluster, broker, id, producer, version).and_then(|()| {
        let entry = cluster
            .transactions
            .get(id)
            .ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING.0)?;
        match &entry.phase {
            TxnPhase::Ongoing { .. } => Ok(true),
            // A retry of the EndTxn that is under way or done.
            TxnPhase::Ending { commit: c, .. } if *c == commit => {
                Err(ErrorCode::CONCURRENT_TRANSACTIONS.0)
            }
            // Nothing was added: the second protocol still ends (and
            // bumps); the first only answers a retry.
            TxnPhase::Empty if v2 => Ok(true),
            TxnPhase::Empty if entry.last_ended == Some(commit) => Ok(false),
            _ => Err(ErrorCode::INVALID_TXN_STATE.0),
        }
    });
    match code {
        Ok(true) => {
            if v2 {
                if let Some(e) = cluster.transactions.get_mut(id) {
                    e.epoch = e.epoch.saturating_add(1);
                    e.bumped_by_end = true;
                }
            }
            let reason = if commit { "commit" } else { "abort" };
            cluster.start_ending(id, commit, reason);
            answer(cluster, 0)
        }
        Ok(false) => answer(cluster, 0),
        Err(c) => answer(cluster, c),
    }
}

pub(super) fn txn_offset_commit(
    cluster: &mut Cluster,
    broker: i32,
    request: &TxnOffsetCommitRequest,
    version: i16,
) -> TxnOffsetCommitResponse {
    let code = add_group_implicitly(cluster, request, version)
        .and_then(|()| check_txn_offsets(cluster, broker, request));
    if code.is_ok() {
        let group = cluster
            .groups
            .entry(request.group_id.clone())
            .or_insert_with(Group::new);
        let pending = group
            .pending_txn_offsets
            .entry(request.producer_id)
            .or_default();
        for t in &request.topics {
            for p in &t.partitions {
                pending.insert(
                    (t.name.clone(), p.partition_index),
                    (p.committed_offset, p.committed_metadata.clone()),
                );
            }
        }
    }
    txn_offsets_answer(request, code.err().unwrap_or(0))
}

/// A TxnOffsetCommit answer with `code` for every partition.
pub(super) fn txn_offsets_answer(
    request: &TxnOffsetCommitRequest,
    code: i16,
) -> TxnOffsetCommitResponse {
    let topics = request
        .topics
        .iter()
        .map(|t| TxnOffsetCommitResponseTopic {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| TxnOffsetCommitResponsePartition {
                    partition_index: p.partition_index,
                    error_code: code,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    TxnOffsetCommitResponse {
        topics,
        ..Default::default()
    }
}

/// The second protocol (v5+): the TxnOffsetCommit adds the group to the
/// transaction itself, opening one if none is.
fn add_group_implicitly(
    cluster: &mut Cluster,
    request: &TxnOffsetCommitRequest,
    version: i16,
) -> Result<(), i16> {
    if version < 5 || !cluster.transaction_v2() {
        return Ok(());
    }
    let now = cluster.now_ms;
    let Some(entry) = cluster
        .transactions
        .get_mut(&request.transactional_id)
        .filter(|e| e.producer_id == request.producer_id && e.epoch == request.producer_epoch)
    else {
        return Ok(()); // the checks that follow answer it
    };
    match entry.phase {
        TxnPhase::Ending { .. } => return Err(ErrorCode::CONCURRENT_TRANSACTIONS.0),
        TxnPhase::Empty => entry.phase = TxnPhase::Ongoing { since_ms: now },
        TxnPhase::Ongoing { .. } => {}
    }
    entry.groups.insert(request.group_id.clone());
    Ok(())
}

/// The group coordinator's checks: its group, the transaction has the
/// group added and the producer's epoch is current, and (KIP-447) the
/// member and generation, when given, are the group's.
fn check_txn_offsets(
    cluster: &Cluster,
    broker: i32,
    request: &TxnOffsetCommitRequest,
) -> Result<(), i16> {
    check_coordinator(cluster, broker, &request.group_id)?;
    let entry = cluster
        .transactions
        .get(&request.transactional_id)
        .filter(|e| e.producer_id == request.producer_id)
        .ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING.0)?;
    if request.producer_epoch != entry.epoch {
        return Err(ErrorCode::INVALID_PRODUCER_EPOCH.0);
    }
    let open = matches!(entry.phase, TxnPhase::Ongoing { .. });
    if !open || !entry.groups.contains(&request.group_id) {
        return Err(ErrorCode::INVALID_TXN_STATE.0);
    }
    if request.generation_id >= 0 {
        let group = cluster
            .groups
            .get(&request.group_id)
            .ok_or(ErrorCode::UNKNOWN_MEMBER_ID.0)?;
        if !group.members.contains_key(&request.member_id) {
            return Err(ErrorCode::UNKNOWN_MEMBER_ID.0);
        }
        if request.generation_id != group.generation {
            return Err(ErrorCode::ILLEGAL_GENERATION.0);
        }
    }
    Ok(())
}
