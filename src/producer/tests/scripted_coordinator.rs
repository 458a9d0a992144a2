//! A scripted transaction coordinator beside the scripted cluster: it
//! hands out a transactional id's producer id with a new epoch at every
//! InitProducerId (fencing the one before), keeps the partitions and
//! groups in the open transaction, checks that Produce writes only to
//! partitions added, and records every transactional request in order.
//!
//! It speaks both transaction protocols, as a Kafka 4 coordinator does, by
//! the versions it is sent: Produce v12 and TxnOffsetCommit v5 add their
//! partition or group themselves, and EndTxn v5 bumps the epoch and
//! returns it (KIP-890 part 2).

use std::collections::{BTreeSet, VecDeque};

use crate::protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use crate::protocol::messages::find_coordinator_response::Coordinator;
use crate::protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use crate::protocol::messages::{
    AddOffsetsToTxnResponse, AddPartitionsToTxnResponse, EndTxnResponse, FindCoordinatorResponse,
    InitProducerIdResponse, TxnOffsetCommitResponse,
};
use crate::protocol::{AnyRequest, AnyResponse, ApiKey, ErrorCode};

/// The producer id the coordinator gives every transactional id.
pub(crate) const TXN_PRODUCER_ID: i64 = 500;

/// A transaction as the coordinator ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ended {
    pub commit: bool,
    pub partitions: BTreeSet<(String, i32)>,
    /// Offsets committed with it: (group, topic, partition, offset).
    pub offsets: Vec<(String, String, i32, i64)>,
}

#[derive(Debug, Default)]
pub(crate) struct TxnCoordinator {
    /// The epoch of the latest InitProducerId (the first hands out 1).
    pub epoch: i16,
    /// The open transaction's partitions and groups.
    pub partitions: BTreeSet<(String, i32)>,
    pub groups: BTreeSet<String>,
    pub offsets: Vec<(String, String, i32, i64)>,
    /// Member checks for TxnOffsetCommit: (generation, member id).
    pub members: Vec<(i32, String)>,
    /// Transactional requests in the order they came.
    pub requests: Vec<ApiKey>,
    pub ended: Vec<Ended>,
    /// Error codes for the next answers, per API.
    pub errors: VecDeque<(ApiKey, i16)>,
    /// Produce requests to partitions not in the transaction.
    pub unadded_writes: usize,
    /// Batches of a transactional producer without the transactional flag
    /// (which read_committed consumers would see whatever the outcome).
    pub unflagged_writes: usize,
    /// InitProducerId requests that carried an id and epoch (KIP-360
    /// bumps), as (id, epoch).
    pub bumps: Vec<(i64, i16)>,
    /// How many partitions each AddPartitionsToTxn carried.
    pub add_sizes: Vec<usize>,
    /// New producer ids handed out by EndTxn v5 (an epoch overflow):
    /// the current id is `TXN_PRODUCER_ID` plus this.
    pub renewed_ids: i64,
    /// The next EndTxn v5 hands out a new producer id at epoch 0, as at
    /// an epoch overflow.
    pub renew_id_at_end: bool,
    /// Partitions put in the transaction by a Produce v12, and groups by
    /// a TxnOffsetCommit v5.
    pub implicit_adds: usize,
    /// TxnOffsetCommit requests for a group not in the transaction.
    pub unadded_offset_commits: usize,
    /// Versions of the transactional requests, as (API, version).
    pub versions: Vec<(ApiKey, i16)>,
}

impl TxnCoordinator {
    fn error_for(&mut self, api: ApiKey) -> Option<i16> {
        let at = self.errors.iter().position(|(a, _)| *a == api)?;
        self.errors.remove(at).map(|(_, code)| code)
    }

    /// The producer id the transactional id has now.
    pub fn producer_id(&self) -> i64 {
        TXN_PRODUCER_ID + self.renewed_ids
    }

    /// Whether `(id, epoch)` is older than the current identity.
    fn is_stale(&self, id: i64, epoch: i16) -> bool {
        id != self.producer_id() || epoch < self.epoch
    }

    /// Whether a Produce (at `version`) of `partition` of `topic` by
    /// `(id, epoch)` may write; v12+ puts the partition in the
    /// transaction.
    pub fn produce_check(
        &mut self,
        topic: &str,
        partition: i32,
        (id, epoch): (i64, i16),
        version: i16,
    ) -> Option<ErrorCode> {
        if self.is_stale(id, epoch) {
            return Some(ErrorCode::INVALID_PRODUCER_EPOCH);
        }
        let key = (topic.to_string(), partition);
        if version >= 12 {
            if let Some(code) = self.error_for(ApiKey::Produce) {
                return Some(ErrorCode(code));
            }
            if self.partitions.insert(key) {
                self.implicit_adds += 1;
            }
        } else if !self.partitions.contains(&key) {
            self.unadded_writes += 1;
        }
        None
    }

    /// Answers a transactional request sent at `version`; `None` for any
    /// other.
    pub fn answer(&mut self, request: &AnyRequest, version: i16) -> Option<AnyResponse> {
        if let Some(api) = transactional_api(request) {
            self.versions.push((api, version));
        }
        let answer = match request {
            // Answered in the form of v4 (KIP-699) when asked that way.
            AnyRequest::FindCoordinator(r) if !r.coordinator_keys.is_empty() => {
                AnyResponse::FindCoordinator(FindCoordinatorResponse {
                    coordinators: vec![Coordinator {
                        key: r.coordinator_keys[0].clone(),
                        node_id: 1,
                        host: "b1".into(),
                        port: 9092,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
            }
            AnyRequest::FindCoordinator(_) => {
                AnyResponse::FindCoordinator(FindCoordinatorResponse {
                    node_id: 1,
                    host: "b1".into(),
                    port: 9092,
                    ..Default::default()
                })
            }
            AnyRequest::InitProducerId(r) if r.transactional_id.is_some() => {
                self.requests.push(ApiKey::InitProducerId);
                if let Some(code) = self.error_for(ApiKey::InitProducerId) {
                    return Some(AnyResponse::InitProducerId(InitProducerIdResponse {
                        error_code: code,
                        producer_id: -1,
                        producer_epoch: -1,
                        ..Default::default()
                    }));
                }
                if r.producer_id >= 0 {
                    self.bumps.push((r.producer_id, r.producer_epoch));
                }
                // An open transaction of an older epoch is aborted.
                if !self.partitions.is_empty() || !self.groups.is_empty() {
                    self.end(false);
                }
                self.epoch += 1;
                AnyResponse::InitProducerId(InitProducerIdResponse {
                    producer_id: self.producer_id(),
                    producer_epoch: self.epoch,
                    ..Default::default()
                })
            }
            AnyRequest::AddPartitionsToTxn(r) => {
                self.requests.push(ApiKey::AddPartitionsToTxn);
                self.add_sizes.push(
                    r.v3_and_below_topics
                        .iter()
                        .map(|t| t.partitions.len())
                        .sum(),
                );
                let code = self.error_for(ApiKey::AddPartitionsToTxn);
                let code = code.or_else(|| {
                    self.is_stale(r.v3_and_below_producer_id, r.v3_and_below_producer_epoch)
                        .then_some(ErrorCode::PRODUCER_FENCED.0)
                });
                let topic_results = r
                    .v3_and_below_topics
                    .iter()
                    .map(|t| AddPartitionsToTxnTopicResult {
                        name: t.name.clone(),
                        results_by_partition: t
                            .partitions
                            .iter()
                            .map(|p| {
                                if code.is_none() {
                                    self.partitions.insert((t.name.clone(), *p));
                                }
                                AddPartitionsToTxnPartitionResult {
                                    partition_index: *p,
                                    partition_error_code: code.unwrap_or(0),
                                    ..Default::default()
                                }
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect();
                AnyResponse::AddPartitionsToTxn(AddPartitionsToTxnResponse {
                    results_by_topic_v3_and_below: topic_results,
                    ..Default::default()
                })
            }
            AnyRequest::AddOffsetsToTxn(r) => {
                self.requests.push(ApiKey::AddOffsetsToTxn);
                let code = self.error_for(ApiKey::AddOffsetsToTxn).unwrap_or(0);
                if code == 0 {
                    self.groups.insert(r.group_id.clone());
                }
                AnyResponse::AddOffsetsToTxn(AddOffsetsToTxnResponse {
                    error_code: code,
                    ..Default::default()
                })
            }
            AnyRequest::TxnOffsetCommit(r) => {
                self.requests.push(ApiKey::TxnOffsetCommit);
                self.members.push((r.generation_id, r.member_id.clone()));
                if version >= 5 {
                    if self.groups.insert(r.group_id.clone()) {
                        self.implicit_adds += 1;
                    }
                } else if !self.groups.contains(&r.group_id) {
                    self.unadded_offset_commits += 1;
                }
                let code = self.error_for(ApiKey::TxnOffsetCommit).unwrap_or(0);
                let topics = r
                    .topics
                    .iter()
                    .map(|t| TxnOffsetCommitResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| {
                                if code == 0 {
                                    self.offsets.push((
                                        r.group_id.clone(),
                                        t.name.clone(),
                                        p.partition_index,
                                        p.committed_offset,
                                    ));
                                }
                                TxnOffsetCommitResponsePartition {
                                    partition_index: p.partition_index,
                                    error_code: code,
                                    ..Default::default()
                                }
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect();
                AnyResponse::TxnOffsetCommit(TxnOffsetCommitResponse {
                    topics,
                    ..Default::default()
                })
            }
            AnyRequest::EndTxn(r) => {
                self.requests.push(ApiKey::EndTxn);
                let code = self.error_for(ApiKey::EndTxn);
                let code = code.or_else(|| {
                    self.is_stale(r.producer_id, r.producer_epoch)
                        .then_some(ErrorCode::PRODUCER_FENCED.0)
                });
                if code.is_none() {
                    self.end(r.committed);
                }
                // v5: the second protocol bumps the epoch at every end,
                // or at an overflow hands out a new id at epoch 0.
                let bumped = code.is_none() && version >= 5;
                if bumped && self.renew_id_at_end {
                    self.renew_id_at_end = false;
                    self.renewed_ids += 1;
                    self.epoch = 0;
                } else if bumped {
                    self.epoch += 1;
                }
                AnyResponse::EndTxn(EndTxnResponse {
                    error_code: code.unwrap_or(0),
                    producer_id: if bumped { self.producer_id() } else { -1 },
                    producer_epoch: if bumped { self.epoch } else { -1 },
                    ..Default::default()
                })
            }
            _ => return None,
        };
        Some(answer)
    }

    fn end(&mut self, commit: bool) {
        self.ended.push(Ended {
            commit,
            partitions: std::mem::take(&mut self.partitions),
            offsets: std::mem::take(&mut self.offsets),
        });
        self.groups.clear();
    }
}

fn transactional_api(request: &AnyRequest) -> Option<ApiKey> {
    Some(match request {
        AnyRequest::InitProducerId(_) => ApiKey::InitProducerId,
        AnyRequest::AddPartitionsToTxn(_) => ApiKey::AddPartitionsToTxn,
        AnyRequest::AddOffsetsToTxn(_) => ApiKey::AddOffsetsToTxn,
        AnyRequest::TxnOffsetCommit(_) => ApiKey::TxnOffsetCommit,
        AnyRequest::EndTxn(_) => ApiKey::EndTxn,
        _ => return None,
    })
}
