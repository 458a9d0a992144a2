//! OffsetCommit and OffsetFetch. A commit is checked against the group's
//! generation and members as Kafka's coordinator checks it, so a former
//! owner's late commit cannot overwrite the new owner's.

use kafkite::protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafkite::protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafkite::protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
};
use kafkite::protocol::ErrorCode;

use super::group::{Group, Phase};
use super::group_api::check_coordinator;
use super::{AcceptedCommit, Cluster};

pub(super) fn commit(
    cluster: &mut Cluster,
    broker: i32,
    request: &OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let generation = if version >= 1 {
        request.generation_id_or_member_epoch
    } else {
        -1
    };
    let code = check_coordinator(cluster, broker, &request.group_id).and_then(|()| {
        let group = cluster
            .groups
            .entry(request.group_id.clone())
            .or_insert_with(Group::new);
        check_commit(group, generation, &request.member_id)
    });
    let now = cluster.now_ms;
    let topics = request
        .topics
        .iter()
        .map(|t| OffsetCommitResponseTopic {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| {
                    let known = cluster.topics.get(&t.name).is_some_and(|x| {
                        p.partition_index >= 0 && (p.partition_index as usize) < x.partitions.len()
                    });
                    let error_code = match code {
                        Err(c) => c,
                        Ok(()) if !known => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
                        Ok(()) => {
                            if let Some(group) = cluster.groups.get_mut(&request.group_id) {
                                group.offsets.insert(
                                    (t.name.clone(), p.partition_index),
                                    (p.committed_offset, p.committed_metadata.clone()),
                                );
                            }
                            cluster.commits.push(AcceptedCommit {
                                group: request.group_id.clone(),
                                topic: t.name.clone(),
                                partition: p.partition_index,
                                offset: p.committed_offset,
                                generation,
                                at_ms: now,
                            });
                            0
                        }
                    };
                    OffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code,
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    OffsetCommitResponse {
        topics,
        ..Default::default()
    }
}

/// Kafka's rules: a commit without a generation is only for a group with
/// no members (one whose offsets are kept from outside it, or an admin's);
/// otherwise the member must be known and its generation current, and not
/// while the group waits for its assignment.
fn check_commit(group: &Group, generation: i32, member_id: &str) -> Result<(), i16> {
    if generation < 0 && group.phase == Phase::Empty {
        return Ok(());
    }
    if group.phase == Phase::Completing {
        return Err(ErrorCode::REBALANCE_IN_PROGRESS.0);
    }
    if !group.members.contains_key(member_id) {
        return Err(ErrorCode::UNKNOWN_MEMBER_ID.0);
    }
    if generation != group.generation {
        return Err(ErrorCode::ILLEGAL_GENERATION.0);
    }
    Ok(())
}

pub(super) fn fetch(
    cluster: &Cluster,
    broker: i32,
    request: &OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = request
            .groups
            .iter()
            .map(|g| {
                let (code, topics) = group_offsets(
                    cluster,
                    broker,
                    &g.group_id,
                    g.topics.as_ref().map(|ts| {
                        ts.iter()
                            .map(|t| (t.name.clone(), t.partition_indexes.clone()))
                            .collect()
                    }),
                    request.require_stable,
                );
                OffsetFetchResponseGroup {
                    group_id: g.group_id.clone(),
                    error_code: code,
                    topics: topics
                        .into_iter()
                        .map(|(name, parts)| OffsetFetchResponseTopics {
                            name,
                            partitions: parts
                                .into_iter()
                                .map(|(i, offset, metadata, error_code)| {
                                    OffsetFetchResponsePartitions {
                                        partition_index: i,
                                        committed_offset: offset,
                                        committed_leader_epoch: -1,
                                        metadata,
                                        error_code,
                                        ..Default::default()
                                    }
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }
            })
            .collect();
        return OffsetFetchResponse {
            groups,
            ..Default::default()
        };
    }
    let wanted = request.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.clone(), t.partition_indexes.clone()))
            .collect()
    });
    let stable = version >= 7 && request.require_stable;
    let (code, topics) = group_offsets(cluster, broker, &request.group_id, wanted, stable);
    // Before v2 there is no top-level error: it goes on every partition.
    let per_partition = if version < 2 { code } else { 0 };
    OffsetFetchResponse {
        error_code: if version >= 2 { code } else { 0 },
        topics: topics
            .into_iter()
            .map(|(name, parts)| OffsetFetchResponseTopic {
                name,
                partitions: parts
                    .into_iter()
                    .map(
                        |(i, offset, metadata, unstable)| OffsetFetchResponsePartition {
                            partition_index: i,
                            committed_offset: offset,
                            committed_leader_epoch: -1,
                            metadata: metadata.or_else(|| Some(String::new())),
                            error_code: if unstable != 0 {
                                unstable
                            } else {
                                per_partition
                            },
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// (partition, offset, metadata, error code) per partition.
type PartitionOffsets = Vec<(i32, i64, Option<String>, i16)>;

/// The committed offsets asked for (`None`: all the group has), -1 where
/// nothing is committed. With `require_stable`, a partition whose offset
/// an open transaction carries is UNSTABLE_OFFSET_COMMIT (KIP-447): the
/// reader waits until that transaction ends.
fn group_offsets(
    cluster: &Cluster,
    broker: i32,
    group_id: &str,
    wanted: Option<Vec<(String, Vec<i32>)>>,
    require_stable: bool,
) -> (i16, Vec<(String, PartitionOffsets)>) {
    if let Err(code) = check_coordinator(cluster, broker, group_id) {
        let topics = wanted
            .unwrap_or_default()
            .into_iter()
            .map(|(n, ps)| (n, ps.into_iter().map(|p| (p, -1, None, 0)).collect()))
            .collect();
        return (code, topics);
    }
    let group = cluster.groups.get(group_id);
    let committed = |t: &str, p: i32| {
        group
            .and_then(|g| g.offsets.get(&(t.to_string(), p)))
            .cloned()
            .unwrap_or((-1, None))
    };
    let wanted = wanted.unwrap_or_else(|| {
        let mut all: Vec<(String, Vec<i32>)> = Vec::new();
        if let Some(g) = group {
            for (t, p) in g.offsets.keys() {
                match all.last_mut() {
                    Some((name, ps)) if name == t => ps.push(*p),
                    _ => all.push((t.clone(), vec![*p])),
                }
            }
        }
        all
    });
    let topics = wanted
        .into_iter()
        .map(|(name, ps)| {
            let parts = ps
                .into_iter()
                .map(|p| {
                    let key = (name.clone(), p);
                    let unstable = require_stable
                        && group.is_some_and(|g| {
                            g.pending_txn_offsets.values().any(|o| o.contains_key(&key))
                        });
                    if unstable {
                        return (p, -1, None, ErrorCode::UNSTABLE_OFFSET_COMMIT.0);
                    }
                    let (offset, metadata) = committed(&name, p);
                    (p, offset, metadata, 0)
                })
                .collect();
            (name, parts)
        })
        .collect();
    (0, topics)
}
