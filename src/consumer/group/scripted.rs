//! A scripted group coordinator for the membership tests: two brokers,
//! one of them the coordinator, a group whose other members and errors the
//! test sets, and offset storage. It records every group request it sees.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::protocol::Subscription;
use super::*;
use crate::client::scripted::{api_versions, Harness, Reply, Responder};
use crate::protocol::messages::find_coordinator_response::Coordinator as FoundCoordinator;
use crate::protocol::messages::join_group_response::JoinGroupResponseMember;
use crate::protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use crate::protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use crate::protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use crate::protocol::messages::{
    FindCoordinatorResponse, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupRequest, LeaveGroupResponse, MetadataResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest,
    SyncGroupResponse,
};
use crate::protocol::{AnyRequest, AnyResponse, ApiKey, ErrorCode};

/// The group as the scripted coordinator keeps it.
pub(crate) struct Coordinator {
    /// The coordinator's node id (1 or 2); a group request to the other
    /// broker gets NOT_COORDINATOR.
    pub node: i32,
    /// The highest version of each API the brokers speak.
    pub max_versions: BTreeMap<ApiKey, i16>,
    /// Topics and partition counts in the metadata.
    pub topics: Vec<(String, i32)>,
    pub generation: i32,
    /// KIP-394: a JoinGroup without member id gets MEMBER_ID_REQUIRED.
    pub require_member_id: bool,
    /// Other members: (member id, subscription), listed to the leader.
    pub others: Vec<(String, Subscription)>,
    /// Other members whose metadata is these bytes, as they sent them.
    pub others_raw: Vec<(String, Bytes)>,
    /// `Some(id)`: that other member leads, and the tested member follows.
    pub leader: Option<String>,
    /// What SyncGroup hands a follower.
    pub follower_assignment: Bytes,
    /// Error codes for the next answers, per API.
    pub errors: BTreeMap<ApiKey, VecDeque<i16>>,
    /// Heartbeats go unanswered while set.
    pub silent_heartbeats: bool,
    /// SyncGroup answers wait for `Harness::release_held` while set.
    pub hold_sync: bool,
    /// OffsetFetch answers wait likewise.
    pub hold_offset_fetch: bool,
    pub joins: Vec<JoinGroupRequest>,
    pub syncs: Vec<SyncGroupRequest>,
    /// (broker node, generation) of each heartbeat.
    pub heartbeats: Vec<(i32, i32)>,
    pub leaves: Vec<(i16, LeaveGroupRequest)>,
    pub commits: Vec<(i16, OffsetCommitRequest)>,
    pub fetches: Vec<(i16, OffsetFetchRequest)>,
    /// Stored offsets: (offset, metadata).
    pub committed: BTreeMap<TopicPartition, (i64, Option<String>)>,
    pub next_member: u32,
}

impl Default for Coordinator {
    fn default() -> Self {
        let max_versions = [
            (ApiKey::ApiVersions, 3),
            (ApiKey::Metadata, 12),
            (ApiKey::FindCoordinator, 6),
            (ApiKey::JoinGroup, 9),
            (ApiKey::SyncGroup, 5),
            (ApiKey::Heartbeat, 4),
            (ApiKey::LeaveGroup, 5),
            (ApiKey::OffsetCommit, 9),
            (ApiKey::OffsetFetch, 9),
        ]
        .into_iter()
        .collect();
        Coordinator {
            node: 1,
            max_versions,
            topics: vec![("t".into(), 4)],
            generation: 0,
            require_member_id: false,
            others: Vec::new(),
            others_raw: Vec::new(),
            leader: None,
            follower_assignment: Bytes::new(),
            errors: BTreeMap::new(),
            silent_heartbeats: false,
            hold_sync: false,
            hold_offset_fetch: false,
            joins: Vec::new(),
            syncs: Vec::new(),
            heartbeats: Vec::new(),
            leaves: Vec::new(),
            commits: Vec::new(),
            fetches: Vec::new(),
            committed: BTreeMap::new(),
            next_member: 1,
        }
    }
}

impl Coordinator {
    pub fn fail_next(&mut self, api: ApiKey, code: ErrorCode) {
        self.errors.entry(api).or_default().push_back(code.0);
    }

    fn next_error(&mut self, api: ApiKey) -> i16 {
        self.errors
            .get_mut(&api)
            .and_then(VecDeque::pop_front)
            .unwrap_or(0)
    }

    pub(crate) fn answer(&mut self, address: &str, version: i16, request: &AnyRequest) -> Reply {
        let node = if address.starts_with("b2") { 2 } else { 1 };
        let is_group_api = matches!(
            request,
            AnyRequest::JoinGroup(_)
                | AnyRequest::SyncGroup(_)
                | AnyRequest::Heartbeat(_)
                | AnyRequest::LeaveGroup(_)
                | AnyRequest::OffsetCommit(_)
                | AnyRequest::OffsetFetch(_)
        );
        if is_group_api && node != self.node {
            return Reply::Respond(not_coordinator(request, version));
        }
        let body = match request {
            AnyRequest::ApiVersions(_) => {
                let ranges: Vec<(ApiKey, i16, i16)> =
                    self.max_versions.iter().map(|(k, v)| (*k, 0, *v)).collect();
                return Reply::Respond(api_versions(&ranges));
            }
            AnyRequest::Metadata(_) => AnyResponse::Metadata(self.metadata()),
            AnyRequest::FindCoordinator(r) => {
                AnyResponse::FindCoordinator(self.find_coordinator(r, version))
            }
            AnyRequest::JoinGroup(r) => AnyResponse::JoinGroup(self.join(r)),
            AnyRequest::SyncGroup(r) if self.hold_sync => {
                return Reply::Later(AnyResponse::SyncGroup(self.sync(r)))
            }
            AnyRequest::SyncGroup(r) => AnyResponse::SyncGroup(self.sync(r)),
            AnyRequest::Heartbeat(r) => {
                if self.silent_heartbeats {
                    return Reply::Silence;
                }
                self.heartbeats.push((node, r.generation_id));
                AnyResponse::Heartbeat(HeartbeatResponse {
                    error_code: self.next_error(ApiKey::Heartbeat),
                    ..Default::default()
                })
            }
            AnyRequest::LeaveGroup(r) => {
                self.leaves.push((version, r.clone()));
                AnyResponse::LeaveGroup(LeaveGroupResponse::default())
            }
            AnyRequest::OffsetCommit(r) => AnyResponse::OffsetCommit(self.commit(r, version)),
            AnyRequest::OffsetFetch(r) if self.hold_offset_fetch => {
                return Reply::Later(AnyResponse::OffsetFetch(self.fetch(r, version)))
            }
            AnyRequest::OffsetFetch(r) => AnyResponse::OffsetFetch(self.fetch(r, version)),
            _ => return Reply::Silence,
        };
        Reply::Respond(body)
    }

    fn metadata(&self) -> MetadataResponse {
        MetadataResponse {
            brokers: [(1, "b1"), (2, "b2")]
                .iter()
                .map(|(id, host)| MetadataResponseBroker {
                    node_id: *id,
                    host: host.to_string(),
                    port: 9092,
                    ..Default::default()
                })
                .collect(),
            controller_id: 1,
            topics: self
                .topics
                .iter()
                .map(|(name, count)| MetadataResponseTopic {
                    name: Some(name.clone()),
                    partitions: (0..*count)
                        .map(|p| MetadataResponsePartition {
                            partition_index: p,
                            leader_id: 1,
                            replica_nodes: vec![1],
                            isr_nodes: vec![1],
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn find_coordinator(
        &self,
        request: &crate::protocol::messages::FindCoordinatorRequest,
        version: i16,
    ) -> FindCoordinatorResponse {
        let host = format!("b{}", self.node);
        if version >= 4 {
            FindCoordinatorResponse {
                coordinators: request
                    .coordinator_keys
                    .iter()
                    .map(|key| FoundCoordinator {
                        key: key.clone(),
                        node_id: self.node,
                        host: host.clone(),
                        port: 9092,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        } else {
            FindCoordinatorResponse {
                node_id: self.node,
                host,
                port: 9092,
                ..Default::default()
            }
        }
    }

    fn join(&mut self, r: &JoinGroupRequest) -> JoinGroupResponse {
        self.joins.push(r.clone());
        let error = self.next_error(ApiKey::JoinGroup);
        if error != 0 {
            return JoinGroupResponse {
                error_code: error,
                member_id: r.member_id.clone(),
                ..Default::default()
            };
        }
        let member_id = if r.member_id.is_empty() {
            let id = format!("member-{}", self.next_member);
            self.next_member += 1;
            if self.require_member_id {
                return JoinGroupResponse {
                    error_code: ErrorCode::MEMBER_ID_REQUIRED.0,
                    member_id: id,
                    ..Default::default()
                };
            }
            id
        } else {
            r.member_id.clone()
        };
        self.generation += 1;
        let protocol = r.protocols.first().cloned().unwrap_or_default();
        let leader = self.leader.clone().unwrap_or_else(|| member_id.clone());
        let mut members = Vec::new();
        if leader == member_id {
            members.push(JoinGroupResponseMember {
                member_id: member_id.clone(),
                group_instance_id: r.group_instance_id.clone(),
                metadata: protocol.metadata.clone(),
                ..Default::default()
            });
            for (id, subscription) in &self.others {
                members.push(JoinGroupResponseMember {
                    member_id: id.clone(),
                    metadata: subscription.encode(3).expect("encodes"),
                    ..Default::default()
                });
            }
            for (id, metadata) in &self.others_raw {
                members.push(JoinGroupResponseMember {
                    member_id: id.clone(),
                    metadata: metadata.clone(),
                    ..Default::default()
                });
            }
        }
        JoinGroupResponse {
            generation_id: self.generation,
            protocol_name: Some(protocol.name),
            leader,
            member_id,
            members,
            ..Default::default()
        }
    }

    fn sync(&mut self, r: &SyncGroupRequest) -> SyncGroupResponse {
        self.syncs.push(r.clone());
        let error = self.next_error(ApiKey::SyncGroup);
        let assignment = match &self.leader {
            Some(_) => self.follower_assignment.clone(),
            None => r
                .assignments
                .iter()
                .find(|a| a.member_id == r.member_id)
                .map(|a| a.assignment.clone())
                .unwrap_or_default(),
        };
        SyncGroupResponse {
            error_code: error,
            assignment: if error == 0 { assignment } else { Bytes::new() },
            ..Default::default()
        }
    }

    fn commit(&mut self, r: &OffsetCommitRequest, version: i16) -> OffsetCommitResponse {
        self.commits.push((version, r.clone()));
        let error = self.next_error(ApiKey::OffsetCommit);
        let topics = r
            .topics
            .iter()
            .map(|t| OffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        if error == 0 {
                            let value = (p.committed_offset, p.committed_metadata.clone());
                            self.committed
                                .insert((t.name.clone(), p.partition_index), value);
                        }
                        OffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: error,
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

    fn fetch(&mut self, r: &OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
        self.fetches.push((version, r.clone()));
        let error = self.next_error(ApiKey::OffsetFetch);
        let asked: Vec<(String, Vec<i32>)> = if version >= 8 {
            r.groups
                .iter()
                .flat_map(|g| g.topics.iter().flatten())
                .map(|t| (t.name.clone(), t.partition_indexes.clone()))
                .collect()
        } else {
            r.topics
                .iter()
                .flatten()
                .map(|t| (t.name.clone(), t.partition_indexes.clone()))
                .collect()
        };
        let stored = |topic: &str, p: i32| {
            self.committed
                .get(&(topic.to_string(), p))
                .cloned()
                .unwrap_or((-1, Some(String::new())))
        };
        if version >= 8 {
            let group_id = r
                .groups
                .first()
                .map(|g| g.group_id.clone())
                .unwrap_or_default();
            let topics = asked
                .iter()
                .map(|(name, ps)| OffsetFetchResponseTopics {
                    name: name.clone(),
                    partitions: ps
                        .iter()
                        .map(|&p| {
                            let (offset, metadata) = stored(name, p);
                            OffsetFetchResponsePartitions {
                                partition_index: p,
                                committed_offset: offset,
                                metadata,
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect();
            return OffsetFetchResponse {
                groups: vec![OffsetFetchResponseGroup {
                    group_id,
                    topics,
                    error_code: error,
                    ..Default::default()
                }],
                ..Default::default()
            };
        }
        let topics = asked
            .iter()
            .map(|(name, ps)| OffsetFetchResponseTopic {
                name: name.clone(),
                partitions: ps
                    .iter()
                    .map(|&p| {
                        let (offset, metadata) = stored(name, p);
                        OffsetFetchResponsePartition {
                            partition_index: p,
                            committed_offset: offset,
                            metadata,
                            // v0-v1 answer group errors per partition.
                            error_code: if version < 2 { error } else { 0 },
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        OffsetFetchResponse {
            topics,
            error_code: if version >= 2 { error } else { 0 },
            ..Default::default()
        }
    }
}

/// NOT_COORDINATOR in the shape of the request's answer.
fn not_coordinator(request: &AnyRequest, version: i16) -> AnyResponse {
    let code = ErrorCode::NOT_COORDINATOR.0;
    match request {
        AnyRequest::JoinGroup(_) => AnyResponse::JoinGroup(JoinGroupResponse {
            error_code: code,
            ..Default::default()
        }),
        AnyRequest::SyncGroup(_) => AnyResponse::SyncGroup(SyncGroupResponse {
            error_code: code,
            ..Default::default()
        }),
        AnyRequest::Heartbeat(_) => AnyResponse::Heartbeat(HeartbeatResponse {
            error_code: code,
            ..Default::default()
        }),
        AnyRequest::LeaveGroup(_) => AnyResponse::LeaveGroup(LeaveGroupResponse {
            error_code: code,
            ..Default::default()
        }),
        AnyRequest::OffsetFetch(_) if version >= 8 => {
            AnyResponse::OffsetFetch(OffsetFetchResponse {
                groups: vec![OffsetFetchResponseGroup {
                    error_code: code,
                    ..Default::default()
                }],
                ..Default::default()
            })
        }
        AnyRequest::OffsetFetch(_) => AnyResponse::OffsetFetch(OffsetFetchResponse {
            error_code: code,
            ..Default::default()
        }),
        _ => AnyResponse::OffsetCommit(OffsetCommitResponse::default()),
    }
}

/// The client, the member under test, the scripted coordinator, and what
/// the member reported.
pub(super) struct Setup {
    pub h: Harness,
    pub m: GroupMember,
    pub c: Rc<RefCell<Coordinator>>,
    pub events: Vec<GroupEvent>,
}

impl Setup {
    pub fn new(config: GroupConfig, coordinator: Coordinator) -> Setup {
        let c = Rc::new(RefCell::new(coordinator));
        let script = c.clone();
        let responder: Responder = Box::new(move |address, header, request| {
            script
                .borrow_mut()
                .answer(address, header.request_api_version, request)
        });
        let mut h = Harness::new(&["b1:9092"], responder);
        h.run();
        let mut setup = Setup {
            h,
            m: GroupMember::new(config),
            c,
            events: Vec::new(),
        };
        setup.settle();
        setup
    }

    /// Subscribes to "t" and settles.
    pub fn subscribed(config: GroupConfig, coordinator: Coordinator) -> Setup {
        let mut s = Setup::new(config, coordinator);
        let now = s.h.now;
        s.m.subscribe(&mut s.h.client, ["t"], now);
        s.settle();
        s
    }

    /// Delivers IO and client events until nothing moves, and checks that
    /// the member never names a deadline already past.
    pub fn settle(&mut self) {
        for e in self.h.settle(&mut self.m) {
            self.events.push(e);
        }
        if let Some(t) = self.m.poll_timeout() {
            assert!(
                t > self.h.now,
                "poll_timeout is {:?} in the past",
                self.h.now - t
            );
        }
    }

    /// Moves the clock in steps, firing every timer on the way, as a
    /// driver sleeping until the earliest deadline would.
    pub fn advance(&mut self, by: Duration) {
        self.settle();
        let end = self.h.now + by;
        while self.h.now < end {
            let next = [self.m.poll_timeout(), self.h.client.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .map_or(end, |t| t.min(end));
            self.h.now = next.max(self.h.now);
            let now = self.h.now;
            self.h.client.handle_timeout(now);
            self.m.handle_timeout(&mut self.h.client, now);
            self.settle();
        }
    }

    pub fn take_events(&mut self) -> Vec<GroupEvent> {
        std::mem::take(&mut self.events)
    }

    pub fn revocation_done(&mut self) {
        let now = self.h.now;
        self.m.revocation_done(&mut self.h.client, now);
        self.settle();
    }
}

pub(super) fn tps(topic: &str, partitions: impl IntoIterator<Item = i32>) -> Vec<TopicPartition> {
    partitions
        .into_iter()
        .map(|p| (topic.to_string(), p))
        .collect()
}
