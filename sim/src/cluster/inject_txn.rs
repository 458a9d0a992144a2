//! Retriable errors injected into the transactional APIs: what a
//! coordinator that is loading, moving or still finishing the previous
//! transaction answers. The client must retry each inside the call.

use kafkite::protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafkite::protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafkite::protocol::messages::{
    AddOffsetsToTxnResponse, AddPartitionsToTxnResponse, EndTxnResponse, InitProducerIdResponse,
    TxnOffsetCommitResponse,
};
use kafkite::protocol::{AnyRequest, AnyResponse, ErrorCode};

/// Whether `request` is one of the transactional APIs errors go into.
pub(super) fn eligible(request: &AnyRequest) -> bool {
    match request {
        AnyRequest::InitProducerId(r) => r.transactional_id.is_some(),
        AnyRequest::AddPartitionsToTxn(_)
        | AnyRequest::AddOffsetsToTxn(_)
        | AnyRequest::EndTxn(_)
        | AnyRequest::TxnOffsetCommit(_) => true,
        _ => false,
    }
}

/// The error answer for `request`; `pick` (0 or 1) chooses the error.
pub(super) fn error_answer(request: &AnyRequest, pick: u64) -> Option<AnyResponse> {
    let coordinator = if pick == 0 {
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    } else {
        ErrorCode::NOT_COORDINATOR
    };
    let busy = if pick == 0 {
        ErrorCode::CONCURRENT_TRANSACTIONS
    } else {
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    };
    Some(match request {
        AnyRequest::InitProducerId(_) => AnyResponse::InitProducerId(InitProducerIdResponse {
            error_code: coordinator.0,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        }),
        AnyRequest::AddPartitionsToTxn(r) => {
            AnyResponse::AddPartitionsToTxn(AddPartitionsToTxnResponse {
                results_by_topic_v3_and_below: r
                    .v3_and_below_topics
                    .iter()
                    .map(|t| AddPartitionsToTxnTopicResult {
                        name: t.name.clone(),
                        results_by_partition: t
                            .partitions
                            .iter()
                            .map(|p| AddPartitionsToTxnPartitionResult {
                                partition_index: *p,
                                partition_error_code: busy.0,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        AnyRequest::AddOffsetsToTxn(_) => AnyResponse::AddOffsetsToTxn(AddOffsetsToTxnResponse {
            error_code: busy.0,
            ..Default::default()
        }),
        AnyRequest::EndTxn(_) => AnyResponse::EndTxn(EndTxnResponse {
            error_code: coordinator.0,
            ..Default::default()
        }),
        AnyRequest::TxnOffsetCommit(r) => AnyResponse::TxnOffsetCommit(TxnOffsetCommitResponse {
            topics: r
                .topics
                .iter()
                .map(|t| TxnOffsetCommitResponseTopic {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| TxnOffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: coordinator.0,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        _ => return None,
    })
}
