//! Injected retriable errors: a request answered with an error a real
//! broker gives under load or during a leader move, instead of being
//! served. Nothing is changed by the request, so a correct client's retry
//! is always safe.

use kafkite::protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafkite::protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafkite::protocol::messages::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use kafkite::protocol::messages::{
    FetchResponse, HeartbeatResponse, OffsetCommitResponse, ProduceResponse,
};
use kafkite::protocol::{AnyRequest, AnyResponse, ErrorCode};

use super::Cluster;

/// An error answer for `request`, when the dice say so and the API is one
/// that gets injected errors.
pub(super) fn maybe_error(
    cluster: &mut Cluster,
    request: &AnyRequest,
    _version: i16,
) -> Option<AnyResponse> {
    let rate = cluster.config.injected_error_per_mille;
    if rate == 0 {
        return None;
    }
    let eligible = matches!(
        request,
        AnyRequest::Produce(_)
            | AnyRequest::Fetch(_)
            | AnyRequest::Heartbeat(_)
            | AnyRequest::OffsetCommit(_)
    ) || super::inject_txn::eligible(request);
    if !eligible || !cluster.rng.chance(rate) {
        return None;
    }
    cluster.injected_errors += 1;
    let pick = cluster.rng.below(2);
    Some(match request {
        AnyRequest::Produce(r) => {
            let code = if pick == 0 {
                ErrorCode::NOT_LEADER_OR_FOLLOWER
            } else {
                ErrorCode::NOT_ENOUGH_REPLICAS
            };
            AnyResponse::Produce(ProduceResponse {
                responses: r
                    .topic_data
                    .iter()
                    .map(|t| TopicProduceResponse {
                        name: t.name.clone(),
                        partition_responses: t
                            .partition_data
                            .iter()
                            .map(|p| PartitionProduceResponse {
                                index: p.index,
                                error_code: code.0,
                                base_offset: -1,
                                log_append_time_ms: -1,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        AnyRequest::Fetch(r) => AnyResponse::Fetch(FetchResponse {
            responses: r
                .topics
                .iter()
                .map(|t| FetchableTopicResponse {
                    topic: t.topic.clone(),
                    topic_id: t.topic_id,
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| PartitionData {
                            partition_index: p.partition,
                            error_code: ErrorCode::NOT_LEADER_OR_FOLLOWER.0,
                            high_watermark: -1,
                            last_stable_offset: -1,
                            log_start_offset: -1,
                            preferred_read_replica: -1,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        AnyRequest::Heartbeat(_) => AnyResponse::Heartbeat(HeartbeatResponse {
            error_code: ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.0,
            ..Default::default()
        }),
        AnyRequest::OffsetCommit(r) => {
            let code = if pick == 0 {
                ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            } else {
                ErrorCode::REQUEST_TIMED_OUT
            };
            AnyResponse::OffsetCommit(OffsetCommitResponse {
                topics: r
                    .topics
                    .iter()
                    .map(|t| OffsetCommitResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| OffsetCommitResponsePartition {
                                partition_index: p.partition_index,
                                error_code: code.0,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        other => return super::inject_txn::error_answer(other, pick),
    })
}
