//! A group's committed offsets: build
//! OffsetCommit and OffsetFetch requests and read their answers into typed
//! per-partition results. Pure functions; [`crate::consumer::group`] sends
//! them for a member, and anyone can send them for a group it does not join.
//!
//! A committed offset is the next offset to read, as in every Kafka client:
//! after processing the record at offset 41, commit 42.
//!
//! Versions: the Client picks the highest version both sides speak, so each
//! request comes as [`Phrasing`]s whose fields mean the same at every
//! version of their range. OffsetCommit v0 (Kafka 0.8.1) stores in
//! ZooKeeper and v1+ in Kafka; v1 adds the generation and member, v2-v4 a
//! retention time (left at -1, the broker's default), v6 the leader epoch,
//! v7 the static member's instance id. OffsetFetch v0 reads from ZooKeeper;
//! v2 can ask for every partition (null topics) and answers group errors at
//! the top; v7 adds `require_stable`; v8 moves everything into a groups
//! array (KIP-709).
//!
//! Resetting a group's offsets to the earliest or the latest is ListOffsets
//! ([`crate::admin::list_offsets_requests`]) then a commit of what it found
//! ([`reset_offsets`]).

use std::collections::BTreeMap;

use crate::admin::{AdminError, Phrasing};
use crate::client::RequestError;
use crate::consumer::group::TopicPartition;
use crate::protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use crate::protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use crate::protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
};
use crate::protocol::{ApiKey, ErrorCode, VersionRange};

/// A committed position and what the committer stored with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset to read.
    pub offset: i64,
    /// The leader epoch of the last record read, for fencing (v6+ commits;
    /// `None` sends -1).
    pub leader_epoch: Option<i32>,
    /// Free text kept with the offset (`None` is null on the wire).
    pub metadata: Option<String>,
}

impl OffsetAndMetadata {
    /// An offset with empty metadata and no epoch.
    pub fn new(offset: i64) -> Self {
        OffsetAndMetadata {
            offset,
            leader_epoch: None,
            metadata: Some(String::new()),
        }
    }

    /// Sets the free text stored with the offset.
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }
}

/// Who commits. A member commits under its generation, so that a member
/// fenced by a rebalance cannot overwrite its successor's offsets;
/// a consumer outside group management commits with
/// generation -1 and no member id, which the broker accepts while the group
/// has no members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committer {
    /// The group whose offsets are committed.
    pub group_id: String,
    /// The member's generation; -1 outside group management.
    pub generation_id: i32,
    /// The member id the coordinator gave; empty outside group management.
    pub member_id: String,
    /// A static member's `group.instance.id` (needs OffsetCommit v7+).
    pub group_instance_id: Option<String>,
}

impl Committer {
    /// Commits outside group management.
    pub fn standalone(group_id: impl Into<String>) -> Self {
        Committer {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

/// Why a committed offset could not be stored or read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OffsetError {
    /// The broker failed the whole request for the group.
    #[error("{} for group {group:?} failed: {code}", api.name())]
    Group {
        /// The request: OffsetCommit or OffsetFetch.
        api: ApiKey,
        /// The group id.
        group: String,
        /// The group-level error code.
        code: ErrorCode,
    },
    /// The broker failed one partition.
    #[error("{} for {topic}-{partition} of group {group:?} failed: {code}", api.name())]
    Partition {
        /// The request: OffsetCommit or OffsetFetch.
        api: ApiKey,
        /// The group id.
        group: String,
        /// The partition's topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The partition's error code.
        code: ErrorCode,
    },
    /// The answer left out something the request asked about.
    #[error("the {} response has no answer for {what}", api.name())]
    MissingAnswer {
        /// The request: OffsetCommit or OffsetFetch.
        api: ApiKey,
        /// What has no answer: the group, or a partition.
        what: String,
    },
    /// The request got no answer (timeout, lost connection, too old a
    /// broker, coordinator lookup refused).
    #[error("{} request failed: {error}", api.name())]
    Request {
        /// The request: OffsetCommit or OffsetFetch.
        api: ApiKey,
        /// Why it got no answer.
        error: RequestError,
    },
}

impl OffsetError {
    /// The broker's error code, when the broker answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            OffsetError::Group { code, .. } | OffsetError::Partition { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the same request may succeed later: the coordinator is
    /// loading, moving or not found yet, a transaction's offsets are not
    /// stable yet (UNSTABLE_OFFSET_COMMIT), or the request was lost.
    pub fn is_retriable(&self) -> bool {
        match self {
            OffsetError::Request { error, .. } => error.is_retriable(),
            OffsetError::MissingAnswer { .. } => false,
            _ => self.code().is_some_and(ErrorCode::is_retriable),
        }
    }

    /// Whether the coordinator is gone from the broker that answered: call
    /// `Client::coordinator_moved` so the retry looks it up again.
    pub fn coordinator_moved(&self) -> bool {
        matches!(
            self.code(),
            Some(ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE)
        )
    }
}

/// The OffsetCommit for `offsets`: valid at every version from v0, or from
/// v7 when the committer is a static member.
pub fn offset_commit_request(
    committer: &Committer,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Phrasing<OffsetCommitRequest> {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for ((topic, partition), o) in offsets {
        let entry = OffsetCommitRequestPartition {
            partition_index: *partition,
            committed_offset: o.offset,
            committed_leader_epoch: o.leader_epoch.unwrap_or(-1),
            committed_metadata: o.metadata.clone(),
            ..Default::default()
        };
        match topics.last_mut() {
            Some(t) if &t.name == topic => t.partitions.push(entry),
            _ => topics.push(OffsetCommitRequestTopic {
                name: topic.clone(),
                partitions: vec![entry],
                ..Default::default()
            }),
        }
    }
    let request = OffsetCommitRequest {
        group_id: committer.group_id.clone(),
        generation_id_or_member_epoch: committer.generation_id,
        member_id: committer.member_id.clone(),
        group_instance_id: committer.group_instance_id.clone(),
        topics,
        ..Default::default()
    };
    let min = if committer.group_instance_id.is_some() {
        7
    } else {
        0
    };
    phrasing(request, min, i16::MAX)
}

/// Each committed partition's result.
pub fn offset_commit_outcome(
    group: &str,
    asked: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    response: &OffsetCommitResponse,
) -> BTreeMap<TopicPartition, Result<(), OffsetError>> {
    let api = ApiKey::OffsetCommit;
    let mut results: BTreeMap<TopicPartition, Result<(), OffsetError>> = asked
        .keys()
        .map(|tp| (tp.clone(), Err(missing(api, tp))))
        .collect();
    for t in &response.topics {
        for p in &t.partitions {
            let key = (t.name.clone(), p.partition_index);
            if let Some(slot) = results.get_mut(&key) {
                *slot = partition_result(api, group, &key, p.error_code).map(|_| ());
            }
        }
    }
    results
}

/// The OffsetFetch phrasings for `partitions` (`None`: every partition the
/// group has offsets for, which needs v2+), newest first. With
/// `require_stable` the broker holds back offsets of open transactions
/// (v7+); older brokers are asked without it, as the Java client does.
pub fn offset_fetch_requests(
    group: &str,
    partitions: Option<&[TopicPartition]>,
    require_stable: bool,
) -> Vec<Phrasing<OffsetFetchRequest>> {
    let grouped = partitions.map(by_topic);
    let newest = OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: group.to_string(),
            topics: grouped.as_ref().map(|topics| {
                topics
                    .iter()
                    .map(|(name, partition_indexes)| OffsetFetchRequestTopics {
                        name: name.clone(),
                        partition_indexes: partition_indexes.clone(),
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        }],
        topics: Some(Vec::new()),
        require_stable,
        ..Default::default()
    };
    let single = |require_stable: bool| OffsetFetchRequest {
        group_id: group.to_string(),
        topics: grouped.as_ref().map(|topics| {
            topics
                .iter()
                .map(|(name, partition_indexes)| OffsetFetchRequestTopic {
                    name: name.clone(),
                    partition_indexes: partition_indexes.clone(),
                    ..Default::default()
                })
                .collect()
        }),
        require_stable,
        ..Default::default()
    };
    // Null topics ("all") exists from v2.
    let oldest = if partitions.is_none() { 2 } else { 0 };
    let mut phrasings = vec![phrasing(newest, 8, i16::MAX)];
    if require_stable {
        phrasings.push(phrasing(single(true), 7, 7));
        phrasings.push(phrasing(single(false), oldest, 6));
    } else {
        phrasings.push(phrasing(single(false), oldest, 7));
    }
    phrasings
}

/// Per-partition committed offsets (`None`: nothing committed) from an
/// OffsetFetch answer at `version`, or the error that failed the whole
/// request. `asked` lists the partitions asked for (`None`: all).
pub fn offset_fetch_outcome(
    group: &str,
    asked: Option<&[TopicPartition]>,
    response: &OffsetFetchResponse,
    version: i16,
) -> Result<BTreeMap<TopicPartition, Result<Option<OffsetAndMetadata>, OffsetError>>, OffsetError> {
    let api = ApiKey::OffsetFetch;
    let group_error = |code: i16| OffsetError::Group {
        api,
        group: group.to_string(),
        code: ErrorCode(code),
    };
    // (topic, partition, offset, epoch, metadata, error) per answer.
    let mut answers: Vec<(TopicPartition, i64, i32, Option<String>, i16)> = Vec::new();
    if version >= 8 {
        let Some(g) = response.groups.iter().find(|g| g.group_id == group) else {
            return Err(OffsetError::MissingAnswer {
                api,
                what: format!("group {group:?}"),
            });
        };
        if g.error_code != 0 {
            return Err(group_error(g.error_code));
        }
        for t in &g.topics {
            for p in &t.partitions {
                let tp = (t.name.clone(), p.partition_index);
                let epoch = p.committed_leader_epoch;
                let row = (
                    tp,
                    p.committed_offset,
                    epoch,
                    p.metadata.clone(),
                    p.error_code,
                );
                answers.push(row);
            }
        }
    } else {
        if response.error_code != 0 {
            return Err(group_error(response.error_code));
        }
        for t in &response.topics {
            for p in &t.partitions {
                let tp = (t.name.clone(), p.partition_index);
                let epoch = p.committed_leader_epoch;
                let row = (
                    tp,
                    p.committed_offset,
                    epoch,
                    p.metadata.clone(),
                    p.error_code,
                );
                answers.push(row);
            }
        }
    }
    let mut results: BTreeMap<TopicPartition, Result<Option<OffsetAndMetadata>, OffsetError>> =
        asked
            .unwrap_or_default()
            .iter()
            .map(|tp| (tp.clone(), Err(missing(api, tp))))
            .collect();
    for (tp, offset, epoch, metadata, code) in answers {
        if asked.is_some() && !results.contains_key(&tp) {
            continue;
        }
        // Kafka 0.8.2 answers v0 (ZooKeeper) for a partition with no
        // offset stored with UNKNOWN_TOPIC_OR_PARTITION and offset -1.
        let nothing_in_zookeeper =
            version == 0 && code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0 && offset < 0;
        let result = if nothing_in_zookeeper {
            Ok(None)
        } else {
            partition_result(api, group, &tp, code).map(|_| {
                (offset >= 0).then(|| OffsetAndMetadata {
                    offset,
                    leader_epoch: (epoch >= 0).then_some(epoch),
                    metadata,
                })
            })
        };
        results.insert(tp, result);
    }
    Ok(results)
}

/// The commit that moves `topic`'s partitions to the offsets ListOffsets
/// found ([`crate::admin::list_offsets_outcome`]): the earliest or latest,
/// as asked. Partitions ListOffsets failed for are left out.
pub fn reset_offsets(
    topic: &str,
    listed: &BTreeMap<i32, Result<i64, AdminError>>,
    metadata: &str,
) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
    listed
        .iter()
        .filter_map(|(partition, offset)| {
            let offset = offset.as_ref().ok()?;
            let value = OffsetAndMetadata::new(*offset).with_metadata(metadata);
            Some(((topic.to_string(), *partition), value))
        })
        .collect()
}

fn partition_result(
    api: ApiKey,
    group: &str,
    (topic, partition): &TopicPartition,
    code: i16,
) -> Result<(), OffsetError> {
    if code == 0 {
        return Ok(());
    }
    Err(OffsetError::Partition {
        api,
        group: group.to_string(),
        topic: topic.clone(),
        partition: *partition,
        code: ErrorCode(code),
    })
}

fn missing(api: ApiKey, (topic, partition): &TopicPartition) -> OffsetError {
    OffsetError::MissingAnswer {
        api,
        what: format!("partition {topic}-{partition}"),
    }
}

fn phrasing<R>(request: R, min: i16, max: i16) -> Phrasing<R> {
    Phrasing {
        request,
        versions: VersionRange { min, max },
    }
}

/// Partitions grouped per topic, in order.
fn by_topic(partitions: &[TopicPartition]) -> Vec<(String, Vec<i32>)> {
    let mut map: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in partitions {
        map.entry(topic).or_default().push(*partition);
    }
    map.into_iter()
        .map(|(t, mut ps)| {
            ps.sort_unstable();
            ps.dedup();
            (t.to_string(), ps)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::offset_commit_response::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };
    use crate::protocol::messages::offset_fetch_response::{
        OffsetFetchResponseGroup, OffsetFetchResponseTopics,
    };
    use crate::protocol::messages::offset_fetch_response::{
        OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    };
    use crate::protocol::{Message, Reader};
    use bytes::BytesMut;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        (topic.to_string(), partition)
    }

    fn through_the_wire<M: Message>(m: &M, version: i16) -> M {
        let mut buf = BytesMut::new();
        m.encode(&mut buf, version).expect("encodes");
        M::decode(&mut Reader::new(buf.freeze()), version).expect("decodes")
    }

    fn offsets() -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        BTreeMap::from([
            (tp("a", 0), OffsetAndMetadata::new(42).with_metadata("m")),
            (tp("a", 3), OffsetAndMetadata::new(7)),
            (tp("b", 1), OffsetAndMetadata::new(1)),
        ])
    }

    #[test]
    fn a_commit_encodes_at_every_version_with_the_fields_each_version_has() {
        let member = Committer {
            group_id: "g".into(),
            generation_id: 5,
            member_id: "m-1".into(),
            group_instance_id: None,
        };
        let p = offset_commit_request(&member, &offsets());
        assert_eq!(p.versions.min, 0);
        for v in 0..=OffsetCommitRequest::VERSIONS.max {
            let sent = through_the_wire(&p.request, v);
            assert_eq!(sent.group_id, "g");
            let names: Vec<&str> = sent.topics.iter().map(|t| t.name.as_str()).collect();
            assert_eq!(names, ["a", "b"]);
            let first = &sent.topics[0].partitions[0];
            assert_eq!(
                (first.committed_offset, first.committed_metadata.as_deref()),
                (42, Some("m"))
            );
            let generation = if v >= 1 { 5 } else { -1 };
            assert_eq!(sent.generation_id_or_member_epoch, generation);
        }
        let static_member = Committer {
            group_instance_id: Some("i-1".into()),
            ..member
        };
        assert_eq!(
            offset_commit_request(&static_member, &offsets())
                .versions
                .min,
            7
        );
    }

    #[test]
    fn a_reset_commits_what_list_offsets_found_and_skips_failures() {
        let listed = BTreeMap::from([
            (0, Ok(10)),
            (
                1,
                Err(AdminError::NoLeader {
                    topic: "a".into(),
                    partition: 1,
                }),
            ),
        ]);
        let reset = reset_offsets("a", &listed, "reset");
        let want = OffsetAndMetadata::new(10).with_metadata("reset");
        assert_eq!(reset, BTreeMap::from([(tp("a", 0), want)]));
    }

    #[test]
    fn commit_results_are_per_partition_and_missing_ones_are_errors() {
        let response = OffsetCommitResponse {
            topics: vec![OffsetCommitResponseTopic {
                name: "a".into(),
                partitions: vec![
                    OffsetCommitResponsePartition {
                        partition_index: 0,
                        error_code: 0,
                        ..Default::default()
                    },
                    OffsetCommitResponsePartition {
                        partition_index: 3,
                        error_code: ErrorCode::NOT_COORDINATOR.0,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let out = offset_commit_outcome("g", &offsets(), &response);
        assert_eq!(out[&tp("a", 0)], Ok(()));
        let moved = out[&tp("a", 3)].clone().unwrap_err();
        assert!(moved.is_retriable() && moved.coordinator_moved());
        assert!(matches!(
            out[&tp("b", 1)],
            Err(OffsetError::MissingAnswer { .. })
        ));
    }

    #[test]
    fn fetch_phrasings_cover_every_version_once() {
        let asked = [tp("a", 1), tp("a", 0), tp("b", 2)];
        for stable in [false, true] {
            let phrasings = offset_fetch_requests("g", Some(&asked), stable);
            let mut covered = Vec::new();
            for p in &phrasings {
                for v in p.versions.min..=p.versions.max.min(OffsetFetchRequest::VERSIONS.max) {
                    covered.push(v);
                    let sent = through_the_wire(&p.request, v);
                    let (group, topics) = if v >= 8 {
                        let g = &sent.groups[0];
                        let topics = g.topics.as_ref().unwrap();
                        (
                            g.group_id.clone(),
                            topics
                                .iter()
                                .map(|t| (t.name.clone(), t.partition_indexes.clone()))
                                .collect::<Vec<_>>(),
                        )
                    } else {
                        let topics = sent.topics.as_ref().unwrap();
                        (
                            sent.group_id.clone(),
                            topics
                                .iter()
                                .map(|t| (t.name.clone(), t.partition_indexes.clone()))
                                .collect(),
                        )
                    };
                    assert_eq!(group, "g");
                    assert_eq!(
                        topics,
                        [("a".to_string(), vec![0, 1]), ("b".to_string(), vec![2])]
                    );
                    assert_eq!(sent.require_stable, stable && v >= 7);
                }
            }
            covered.sort_unstable();
            assert_eq!(
                covered,
                (0..=OffsetFetchRequest::VERSIONS.max).collect::<Vec<_>>()
            );
        }
        // "Every partition" is null topics, from v2 on.
        let all = offset_fetch_requests("g", None, false);
        assert_eq!(all.last().unwrap().versions.min, 2);
        assert_eq!(through_the_wire(&all[1].request, 2).topics, None);
        assert_eq!(through_the_wire(&all[0].request, 9).groups[0].topics, None);
    }

    fn v1_answer(partitions: Vec<OffsetFetchResponsePartition>) -> OffsetFetchResponse {
        OffsetFetchResponse {
            topics: vec![OffsetFetchResponseTopic {
                name: "a".into(),
                partitions,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn fetched_offsets_read_the_same_at_v1_and_v8_and_minus_one_is_none() {
        let old = v1_answer(vec![
            OffsetFetchResponsePartition {
                partition_index: 0,
                committed_offset: 42,
                metadata: Some("m".into()),
                ..Default::default()
            },
            OffsetFetchResponsePartition {
                partition_index: 1,
                committed_offset: -1,
                ..Default::default()
            },
        ]);
        let new = OffsetFetchResponse {
            groups: vec![OffsetFetchResponseGroup {
                group_id: "g".into(),
                topics: vec![OffsetFetchResponseTopics {
                    name: "a".into(),
                    partitions: vec![
                        OffsetFetchResponsePartitions {
                            partition_index: 0,
                            committed_offset: 42,
                            metadata: Some("m".into()),
                            ..Default::default()
                        },
                        OffsetFetchResponsePartitions {
                            partition_index: 1,
                            committed_offset: -1,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let asked = [tp("a", 0), tp("a", 1)];
        for (response, version) in [(old, 1), (new, 8)] {
            let response = through_the_wire(&response, version);
            let out = offset_fetch_outcome("g", Some(&asked), &response, version).unwrap();
            let want = OffsetAndMetadata::new(42).with_metadata("m");
            assert_eq!(out[&tp("a", 0)], Ok(Some(want)));
            assert_eq!(out[&tp("a", 1)], Ok(None));
        }
    }

    #[test]
    fn group_errors_fail_the_whole_fetch_and_v0_unknown_partition_is_no_offset() {
        let loading = OffsetFetchResponse {
            error_code: ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.0,
            ..Default::default()
        };
        let e = offset_fetch_outcome("g", None, &loading, 3).unwrap_err();
        assert!(e.is_retriable() && !e.coordinator_moved());
        let zookeeper = v1_answer(vec![OffsetFetchResponsePartition {
            partition_index: 0,
            committed_offset: -1,
            error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
            ..Default::default()
        }]);
        let out = offset_fetch_outcome("g", Some(&[tp("a", 0)]), &zookeeper, 0).unwrap();
        assert_eq!(out[&tp("a", 0)], Ok(None));
        let unstable = v1_answer(vec![OffsetFetchResponsePartition {
            partition_index: 0,
            error_code: ErrorCode::UNSTABLE_OFFSET_COMMIT.0,
            ..Default::default()
        }]);
        let out = offset_fetch_outcome("g", Some(&[tp("a", 0)]), &unstable, 7).unwrap();
        assert!(out[&tp("a", 0)].as_ref().unwrap_err().is_retriable());
    }
}
