//! A scripted transaction coordinator beside the scripted cluster: it
//! hands out a transactional id's producer id with a new epoch at every
//! InitProducerId (fencing the one before), keeps the partitions and
//! groups in the open transaction, checks that Produce writes only to
//! partitions added, and records every transactional request in order.

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
}

impl TxnCoordinator {
    fn error_for(&mut self, api: ApiKey) -> Option<i16> {
        let at = self.errors.iter().position(|(a, _)| *a == api)?;
        self.errors.remove(at).map(|(_, code)| code)
    }

    /// Whether a Produce of `partition` of `topic` by `epoch` may write.
    pub fn produce_check(&mut self, topic: &str, partition: i32, epoch: i16) -> Option<ErrorCode> {
        if epoch < self.epoch {
            return Some(ErrorCode::INVALID_PRODUCER_EPOCH);
        }
        if !self.partitions.contains(&(topic.to_string(), partition)) {
            self.unadded_writes += 1;
        }
        None
    }

    /// Answers a transactional request; `None` for any other.
    pub fn answer(&mut self, request: &AnyRequest) -> Option<AnyResponse> {
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
                    producer_id: TXN_PRODUCER_ID,
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
                    (r.v3_and_below_producer_epoch < self.epoch)
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
                    (r.producer_epoch < self.epoch).then_some(ErrorCode::PRODUCER_FENCED.0)
                });
                if code.is_none() {
                    self.end(r.committed);
                }
                AnyResponse::EndTxn(EndTxnResponse {
                    error_code: code.unwrap_or(0),
                    producer_id: -1,
                    producer_epoch: -1,
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
