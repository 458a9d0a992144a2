//! Fetch and ListOffsets. A Fetch that finds nothing waits (up to its
//! `max_wait_ms`) for data, as Kafka's fetch purgatory does, so idle
//! consumers cost the simulation nothing.

use bytes::BytesMut;
use kafkite::protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafkite::protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafkite::protocol::messages::{
    FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
};
use kafkite::protocol::{AnyResponse, ErrorCode};

use super::{Cluster, Partition, SlotState};

/// A Fetch waiting for data.
#[derive(Debug, Default)]
pub(super) struct PendingFetch {
    pub request: FetchRequest,
    pub deadline_ms: u64,
    /// The cluster's data version when last looked at.
    pub seen_version: u64,
}

pub(super) fn fetch(
    cluster: &mut Cluster,
    broker: i32,
    request: FetchRequest,
    version: i16,
) -> SlotState {
    let response = answer(cluster, broker, &request, version);
    if has_data_or_error(&response) || request.max_wait_ms <= 0 {
        return SlotState::Ready(Box::new(AnyResponse::Fetch(response)));
    }
    let deadline_ms = cluster.now_ms + u64::try_from(request.max_wait_ms).unwrap_or(0);
    SlotState::Fetch(Box::new(PendingFetch {
        request,
        deadline_ms,
        seen_version: cluster.data_version,
    }))
}

pub(super) fn has_data_or_error(response: &FetchResponse) -> bool {
    response.error_code != 0
        || response.responses.iter().any(|t| {
            t.partitions
                .iter()
                .any(|p| p.error_code != 0 || p.records.as_ref().is_some_and(|r| !r.is_empty()))
        })
}

/// The Fetch answer as of now.
pub(super) fn answer(
    cluster: &Cluster,
    broker: i32,
    request: &FetchRequest,
    _version: i16,
) -> FetchResponse {
    let mut budget = usize::try_from(request.max_bytes.max(1)).unwrap_or(usize::MAX);
    let read_committed = request.isolation_level == 1;
    let responses = request
        .topics
        .iter()
        .map(|t| {
            let topic = cluster.topics.get(&t.topic);
            FetchableTopicResponse {
                topic: t.topic.clone(),
                topic_id: topic.map(|x| x.id).unwrap_or(t.topic_id),
                partitions: t
                    .partitions
                    .iter()
                    .map(|fp| {
                        let p = topic
                            .and_then(|x| x.partitions.get(usize::try_from(fp.partition).ok()?));
                        let limit = usize::try_from(fp.partition_max_bytes.max(1))
                            .unwrap_or(1)
                            .min(budget.max(1));
                        let at = (fp.partition, fp.fetch_offset);
                        let data = read_partition(p, broker, at, limit, read_committed);
                        let used = data.records.as_ref().map_or(0, |r| r.len());
                        budget = budget.saturating_sub(used);
                        data
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    FetchResponse {
        responses,
        ..Default::default()
    }
}

/// One partition's answer. read_committed reads up to the last stable
/// offset and lists the aborted transactions among what it returns, as
/// Kafka does; read_uncommitted reads up to the high watermark.
fn read_partition(
    p: Option<&Partition>,
    broker: i32,
    (index, offset): (i32, i64),
    limit: usize,
    read_committed: bool,
) -> PartitionData {
    let mut data = PartitionData {
        partition_index: index,
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        preferred_read_replica: -1,
        ..Default::default()
    };
    let Some(p) = p else {
        data.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0;
        return data;
    };
    if p.leader != broker {
        data.error_code = ErrorCode::NOT_LEADER_OR_FOLLOWER.0;
        return data;
    }
    data.high_watermark = p.high_watermark;
    let stable = p.last_stable_offset();
    data.last_stable_offset = stable;
    data.log_start_offset = p.log_start_offset;
    if offset < p.log_start_offset || offset > p.log_end_offset() {
        data.error_code = ErrorCode::OFFSET_OUT_OF_RANGE.0;
        return data;
    }
    let upto = if read_committed {
        stable
    } else {
        p.high_watermark
    };
    let batches = p.read(offset, upto, limit);
    if read_committed {
        let aborted = p.aborted_between(offset, upto);
        data.aborted_transactions = Some(
            aborted
                .into_iter()
                .map(|(producer_id, first_offset)| AbortedTransaction {
                    producer_id,
                    first_offset,
                    ..Default::default()
                })
                .collect(),
        );
    }
    let mut buf = BytesMut::new();
    for b in batches {
        buf.extend_from_slice(&b);
    }
    data.records = Some(buf.freeze());
    data
}

pub(super) fn list_offsets(
    cluster: &Cluster,
    broker: i32,
    request: &ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let topics = request
        .topics
        .iter()
        .map(|t| ListOffsetsTopicResponse {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|lp| {
                    let p = cluster
                        .topics
                        .get(&t.name)
                        .and_then(|x| x.partitions.get(usize::try_from(lp.partition_index).ok()?));
                    let mut answer = ListOffsetsPartitionResponse {
                        partition_index: lp.partition_index,
                        timestamp: -1,
                        offset: -1,
                        leader_epoch: -1,
                        ..Default::default()
                    };
                    match p {
                        None => answer.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
                        Some(p) if p.leader != broker => {
                            answer.error_code = ErrorCode::NOT_LEADER_OR_FOLLOWER.0
                        }
                        Some(p) => {
                            let committed = request.isolation_level == 1;
                            let offset = offset_for(p, lp.timestamp, committed);
                            if version == 0 {
                                answer.old_style_offsets = vec![offset];
                            } else {
                                answer.offset = offset;
                            }
                        }
                    }
                    answer
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ListOffsetsResponse {
        topics,
        ..Default::default()
    }
}

/// -2 earliest, -1 latest (the high watermark; read_committed: the last
/// stable offset), otherwise the first batch whose newest record is at or
/// after the timestamp.
fn offset_for(p: &Partition, timestamp: i64, read_committed: bool) -> i64 {
    match timestamp {
        -2 => p.log_start_offset,
        t if t < 0 && read_committed => p.last_stable_offset(),
        t if t < 0 => p.high_watermark,
        t => p
            .log
            .iter()
            .find(|b| b.max_timestamp >= t && b.last_offset < p.high_watermark)
            .map_or(p.high_watermark, |b| b.base_offset),
    }
}
