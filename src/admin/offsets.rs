//! The earliest and latest offsets of partitions (ListOffsets), from Kafka
//! 0.8.2 (v0) to the newest version.

use std::collections::BTreeMap;

use super::AdminError;
use crate::client::ClusterMetadata;
use crate::protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use crate::protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use crate::protocol::{ApiKey, ErrorCode};

/// Which offset of a partition to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OffsetSpec {
    /// The log start offset: the first offset still in the log.
    Earliest,
    /// The high watermark: the offset the next record will get.
    Latest,
}

impl OffsetSpec {
    /// The special timestamps Kafka reads as "earliest" and "latest" at
    /// every version (v0 included).
    pub fn timestamp(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
        }
    }
}

/// What to send for one ListOffsets intent: ListOffsets goes to each
/// partition's leader, so one request per leader.
#[derive(Debug, Clone, PartialEq)]
pub struct OffsetsPlan {
    /// (leader node id, its request).
    pub requests: Vec<(i32, ListOffsetsRequest)>,
    /// Partitions that cannot be asked now: unknown topic or no leader.
    /// Both are retriable after a metadata refresh.
    pub unroutable: BTreeMap<i32, AdminError>,
}

/// Plans the requests for `partitions` of `topic` from the client's
/// metadata. The requests are valid at every version: v0's
/// `max_num_offsets` is 1 (its default), and every later field keeps the
/// value that means "a plain consumer" (replica -1, read uncommitted, no
/// leader epoch check).
pub fn list_offsets_requests(
    metadata: &ClusterMetadata,
    topic: &str,
    partitions: &[i32],
    spec: OffsetSpec,
) -> OffsetsPlan {
    let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    let mut unroutable = BTreeMap::new();
    let known = metadata.topics.contains_key(topic);
    for &partition in partitions {
        match metadata.leader(topic, partition) {
            Some(leader) => by_leader.entry(leader).or_default().push(partition),
            None if known => {
                let error = AdminError::NoLeader {
                    topic: topic.to_string(),
                    partition,
                };
                unroutable.insert(partition, error);
            }
            None => {
                let error = AdminError::UnknownTopic {
                    topic: topic.to_string(),
                };
                unroutable.insert(partition, error);
            }
        }
    }
    let requests = by_leader
        .into_iter()
        .map(|(leader, partitions)| (leader, request(topic, &partitions, spec)))
        .collect();
    OffsetsPlan {
        requests,
        unroutable,
    }
}

fn request(topic: &str, partitions: &[i32], spec: OffsetSpec) -> ListOffsetsRequest {
    ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: topic.to_string(),
            partitions: partitions
                .iter()
                .map(|&partition_index| ListOffsetsPartition {
                    partition_index,
                    timestamp: spec.timestamp(),
                    max_num_offsets: 1,
                    current_leader_epoch: -1,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Each asked partition's offset from a response at `version`: v0 answers
/// in `old_style_offsets` (a list, of one offset here), v1+ in `offset`.
pub fn list_offsets_outcome(
    topic: &str,
    asked: &[i32],
    response: &ListOffsetsResponse,
    version: i16,
) -> BTreeMap<i32, Result<i64, AdminError>> {
    let mut results: BTreeMap<i32, Result<i64, AdminError>> = asked
        .iter()
        .map(|&partition| (partition, Err(missing(topic, partition))))
        .collect();
    let answers = response
        .topics
        .iter()
        .filter(|t| t.name == topic)
        .flat_map(|t| t.partitions.iter());
    for p in answers {
        let Some(slot) = results.get_mut(&p.partition_index) else {
            continue;
        };
        let code = ErrorCode(p.error_code);
        *slot = if !code.is_ok() {
            Err(AdminError::Partition {
                api: ApiKey::ListOffsets,
                topic: topic.to_string(),
                partition: p.partition_index,
                code,
            })
        } else if version == 0 {
            p.old_style_offsets
                .first()
                .copied()
                .ok_or_else(|| missing(topic, p.partition_index))
        } else {
            Ok(p.offset)
        };
    }
    results
}

fn missing(topic: &str, partition: i32) -> AdminError {
    AdminError::MissingAnswer {
        api: ApiKey::ListOffsets,
        what: format!("partition {topic}-{partition}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{PartitionMetadata, TopicMetadata};
    use crate::protocol::messages::list_offsets_response::{
        ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
    };
    use crate::protocol::{Message, Reader};
    use bytes::BytesMut;

    fn metadata(leaders: &[i32]) -> ClusterMetadata {
        let mut m = ClusterMetadata::default();
        let partitions = leaders
            .iter()
            .enumerate()
            .map(|(i, &leader)| PartitionMetadata {
                partition: i as i32,
                error: ErrorCode::NONE,
                leader,
                leader_epoch: -1,
                replicas: vec![],
                isr: vec![],
            })
            .collect();
        m.topics.insert(
            "t".into(),
            TopicMetadata {
                name: "t".into(),
                error: ErrorCode::NONE,
                topic_id: Default::default(),
                is_internal: false,
                partitions,
            },
        );
        m
    }

    #[test]
    fn one_request_per_leader_and_leaderless_partitions_wait() {
        let plan = list_offsets_requests(
            &metadata(&[1, 2, 1, -1]),
            "t",
            &[0, 1, 2, 3],
            OffsetSpec::Latest,
        );
        let leaders: Vec<i32> = plan.requests.iter().map(|(l, _)| *l).collect();
        assert_eq!(leaders, [1, 2]);
        let to_1: Vec<i32> = plan.requests[0].1.topics[0]
            .partitions
            .iter()
            .map(|p| p.partition_index)
            .collect();
        assert_eq!(to_1, [0, 2]);
        assert!(matches!(
            plan.unroutable[&3],
            AdminError::NoLeader { partition: 3, .. }
        ));
        assert!(plan.unroutable[&3].needs_metadata_refresh());
    }

    #[test]
    fn an_unknown_topic_waits_for_metadata() {
        let plan = list_offsets_requests(
            &ClusterMetadata::default(),
            "new",
            &[0],
            OffsetSpec::Earliest,
        );
        assert!(plan.requests.is_empty());
        assert!(matches!(
            plan.unroutable[&0],
            AdminError::UnknownTopic { .. }
        ));
    }

    /// Kafka 0.8.2's form: timestamp -1 (latest) or -2 (earliest) with
    /// max_num_offsets 1, and the request is valid at every later version.
    #[test]
    fn the_request_is_kafka_0_8_2s_at_v0_and_valid_at_every_version() {
        let plan = list_offsets_requests(&metadata(&[1]), "t", &[0], OffsetSpec::Earliest);
        let request = &plan.requests[0].1;
        for v in 0..=ListOffsetsRequest::VERSIONS.max {
            let mut buf = BytesMut::new();
            request.encode(&mut buf, v).expect("encodes");
            let sent = ListOffsetsRequest::decode(&mut Reader::new(buf.freeze()), v).unwrap();
            assert_eq!(sent.replica_id, -1);
            let p = &sent.topics[0].partitions[0];
            assert_eq!(p.timestamp, -2);
            if v == 0 {
                assert_eq!(p.max_num_offsets, 1);
            }
        }
    }

    fn response(partition: ListOffsetsPartitionResponse) -> ListOffsetsResponse {
        ListOffsetsResponse {
            topics: vec![ListOffsetsTopicResponse {
                name: "t".into(),
                partitions: vec![partition],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn v0_answers_in_old_style_offsets_and_v1_in_offset() {
        let v0 = response(ListOffsetsPartitionResponse {
            old_style_offsets: vec![42],
            ..Default::default()
        });
        // Through the wire, so the test reads what a 0.8.2 broker sends.
        let mut buf = BytesMut::new();
        v0.encode(&mut buf, 0).unwrap();
        let v0 = ListOffsetsResponse::decode(&mut Reader::new(buf.freeze()), 0).unwrap();
        assert_eq!(list_offsets_outcome("t", &[0], &v0, 0)[&0], Ok(42));

        let v1 = response(ListOffsetsPartitionResponse {
            offset: 7,
            ..Default::default()
        });
        assert_eq!(list_offsets_outcome("t", &[0], &v1, 5)[&0], Ok(7));
    }

    #[test]
    fn not_leader_is_retried_after_a_refresh_and_missing_answers_are_not() {
        let moved = response(ListOffsetsPartitionResponse {
            error_code: ErrorCode::NOT_LEADER_OR_FOLLOWER.0,
            ..Default::default()
        });
        let out = list_offsets_outcome("t", &[0, 1], &moved, 3);
        let e = out[&0].clone().unwrap_err();
        assert!(e.is_retriable() && e.needs_metadata_refresh());
        assert!(matches!(out[&1], Err(AdminError::MissingAnswer { .. })));
        let empty_v0 = response(ListOffsetsPartitionResponse::default());
        assert!(list_offsets_outcome("t", &[0], &empty_v0, 0)[&0].is_err());
    }
}
