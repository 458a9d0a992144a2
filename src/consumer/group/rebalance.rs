//! One rebalance, as a member lives it: JoinGroup (with the KIP-394
//! member-id round trip), the leader's assignment, SyncGroup, and taking up
//! the assignment eagerly or cooperatively.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::assignor::{Assignor, MemberSubscription, PartitionCounts, RebalanceProtocol};
use super::event::{GroupError, GroupEvent};
use super::member::{AfterRevoke, GroupMember, Phase, Purpose};
use super::protocol::{flatten, Assignment, GroupedPartitions, Subscription, SUBSCRIPTION_VERSION};
use super::requests;
use super::TopicPartition;
use crate::client::{Client, RequestError, RequestId, Response};
use crate::protocol::messages::JoinGroupResponse;
use crate::protocol::{AnyResponse, ApiKey, ErrorCode};

/// Slack on top of the rebalance timeout for JoinGroup and SyncGroup, which
/// the coordinator holds until the whole group has joined (or synced).
const REBALANCE_SLACK: Duration = Duration::from_secs(5);

/// How a member reacts to an error in a group answer.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Reaction {
    /// Try again after the backoff, looking the coordinator up again first
    /// when it moved (or may have: the connection was lost).
    Retry {
        coordinator_moved: bool,
    },
    /// The coordinator does not know this member (UNKNOWN_MEMBER_ID) or its
    /// generation (ILLEGAL_GENERATION).
    Fenced {
        reset_member_id: bool,
    },
    /// The group is rebalancing: join it.
    Rejoin,
    Fatal(GroupError),
    /// The coordinator's versions are a guess (Kafka 0.8/0.9, after
    /// hang-ups on ApiVersions) that lacks the API: reported, and tried
    /// again after `GUESSED_VERSIONS_RETRY`, by when the client may have
    /// asked the broker again. Not fatal: a modern broker behind a network
    /// that cut those connections must not stop the member for good.
    Wait(GroupError),
}

/// How long a member waits before trying again a request that failed on
/// guessed broker versions.
const GUESSED_VERSIONS_RETRY: Duration = Duration::from_secs(10);

impl GroupMember {
    pub(super) fn react_to_code(&self, api: ApiKey, code: ErrorCode) -> Reaction {
        match code {
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => Reaction::Retry {
                coordinator_moved: true,
            },
            ErrorCode::UNKNOWN_MEMBER_ID => Reaction::Fenced {
                reset_member_id: true,
            },
            ErrorCode::ILLEGAL_GENERATION => Reaction::Fenced {
                reset_member_id: false,
            },
            ErrorCode::REBALANCE_IN_PROGRESS => Reaction::Rejoin,
            code if code.is_retriable() => Reaction::Retry {
                coordinator_moved: false,
            },
            code => Reaction::Fatal(GroupError::Refused {
                api,
                group: self.config.group_id.clone(),
                code,
            }),
        }
    }

    pub(super) fn react_to_request_error(&self, api: ApiKey, error: &RequestError) -> Reaction {
        if let RequestError::UnsupportedVersion { guessed: true, .. } = error {
            return Reaction::Wait(GroupError::Request {
                api,
                group: self.config.group_id.clone(),
                error: error.clone(),
            });
        }
        if error.is_retriable() {
            // A lost connection or a timeout may mean the coordinator died:
            // find it again (the Java client marks it unknown too).
            Reaction::Retry {
                coordinator_moved: true,
            }
        } else {
            Reaction::Fatal(GroupError::Request {
                api,
                group: self.config.group_id.clone(),
                error: error.clone(),
            })
        }
    }

    /// Acts on a failed JoinGroup or SyncGroup.
    fn rebalance_failed(&mut self, client: &mut Client, reaction: Reaction, now: Instant) {
        match reaction {
            Reaction::Retry { coordinator_moved } => {
                if coordinator_moved {
                    client.coordinator_moved(&self.config.group_id, now);
                }
                self.phase = Phase::NeedJoin {
                    at: now + self.config.retry_backoff,
                    reason: "retrying after a coordinator error",
                };
            }
            Reaction::Fenced { reset_member_id } => self.fenced(reset_member_id, now),
            Reaction::Rejoin => {
                self.phase = Phase::NeedJoin {
                    at: now,
                    reason: "the group is rebalancing",
                }
            }
            Reaction::Fatal(error) => self.fail(error),
            Reaction::Wait(error) => {
                self.events.push_back(GroupEvent::Error(error));
                self.phase = Phase::NeedJoin {
                    at: now + GUESSED_VERSIONS_RETRY.max(self.config.retry_backoff),
                    reason: "waiting for the coordinator's versions to be asked again",
                };
            }
        }
    }

    // ---- JoinGroup ----

    pub(super) fn send_join(&mut self, client: &mut Client, reason: &'static str, now: Instant) {
        self.rejoin_pending = None;
        let owned = match self.protocol {
            RebalanceProtocol::Cooperative => self.assignment(),
            RebalanceProtocol::Eager => Vec::new(),
        };
        let subscription = Subscription {
            topics: self.topics.clone(),
            user_data: None,
            owned_partitions: owned,
            generation_id: (self.generation_id >= 0).then_some(self.generation_id),
            rack_id: self.config.rack_id.clone(),
        };
        let bytes = match subscription.encode(SUBSCRIPTION_VERSION) {
            Ok(bytes) => bytes,
            // Only a topic name too long for its length prefix gets here;
            // the coordinator could not take it either.
            Err(error) => {
                return self.fail(GroupError::BadSubscription {
                    group: self.config.group_id.clone(),
                    member_id: self.member_id.clone(),
                    error,
                })
            }
        };
        let protocols = self
            .config
            .assignors
            .iter()
            .map(|a| (a.name().to_string(), bytes.clone()))
            .collect();
        let join = requests::join_group(&self.config, &self.member_id, protocols, reason);
        let timeout = Some(self.config.rebalance_timeout + REBALANCE_SLACK);
        let id = self.send_phrased(client, join, Vec::new(), Purpose::Join, timeout, now);
        self.phase = Phase::Joining(id);
    }

    pub(super) fn on_join(
        &mut self,
        client: &mut Client,
        id: RequestId,
        result: &Result<Response, RequestError>,
        now: Instant,
    ) {
        if !matches!(self.phase, Phase::Joining(r) if r == id) {
            return;
        }
        let response = match result {
            Ok(Response {
                body: Some(AnyResponse::JoinGroup(r)),
                ..
            }) => r,
            Ok(_) => return self.rebalance_failed(client, missing_body(), now),
            Err(error) => {
                let reaction = self.react_to_request_error(ApiKey::JoinGroup, error);
                return self.rebalance_failed(client, reaction, now);
            }
        };
        match ErrorCode(response.error_code) {
            ErrorCode::NONE => self.joined(client, response, now),
            // KIP-394: the coordinator names the member and asks it to join
            // again with that id, so that a member that never gets the
            // answer leaves no ghost behind.
            ErrorCode::MEMBER_ID_REQUIRED => {
                self.member_id = response.member_id.clone();
                self.phase = Phase::NeedJoin {
                    at: now,
                    reason: "the coordinator gave a member id",
                };
            }
            code => {
                let reaction = self.react_to_code(ApiKey::JoinGroup, code);
                self.rebalance_failed(client, reaction, now);
            }
        }
    }

    fn joined(&mut self, client: &mut Client, response: &JoinGroupResponse, now: Instant) {
        self.generation_id = response.generation_id;
        self.member_id = response.member_id.clone();
        self.leader_id = response.leader.clone();
        self.protocol_name = response.protocol_name.clone();
        self.assigned_with = None;
        // KIP-814: a static leader that rejoined finds the assignment made;
        // it syncs like a follower.
        if !self.is_leader() || response.skip_assignment {
            return self.send_sync(client, Vec::new(), now);
        }
        let wanted: BTreeSet<String> = response
            .members
            .iter()
            .filter_map(|m| Subscription::decode_grouped(&m.metadata).ok())
            .flat_map(|(s, _, _)| s.topics)
            .collect();
        let missing: Vec<String> = wanted
            .into_iter()
            .filter(|t| !client.metadata().topics.contains_key(t))
            .collect();
        if missing.is_empty() {
            return self.assign_and_sync(client, response, now);
        }
        // Other members subscribe to topics this one has no metadata for:
        // ask, and wait for the answer (a topic that does not exist stays
        // missing and gets no partitions).
        client.add_topics(&missing, now);
        self.phase = Phase::AwaitingMetadata {
            join: Box::new(response.clone()),
            missing,
            seen_generation: client.metadata_generation(),
            asked_again: false,
            check_at: now + self.config.retry_backoff,
            give_up_at: now + client.config().request_timeout,
        };
    }

    /// The leader assigns once the missing topics' metadata is in, after
    /// at most two answers, or at the request timeout.
    pub(super) fn drive_metadata_wait(&mut self, client: &mut Client, now: Instant) {
        // Never "now": poll_timeout must name a moment to come.
        let retry_backoff = self.config.retry_backoff.max(Duration::from_millis(1));
        let Phase::AwaitingMetadata {
            missing,
            seen_generation,
            asked_again,
            check_at,
            give_up_at,
            ..
        } = &mut self.phase
        else {
            return;
        };
        let known = &client.metadata().topics;
        let all_present = missing.iter().all(|t| known.contains_key(t));
        let answered = client.metadata_generation() > *seen_generation;
        if !(all_present || *give_up_at <= now || (answered && *asked_again)) {
            if answered {
                *asked_again = true;
                *seen_generation = client.metadata_generation();
                client.refresh_metadata(now);
            }
            *check_at = (now + retry_backoff).min(*give_up_at);
            return;
        }
        if let Phase::AwaitingMetadata { join, .. } =
            std::mem::replace(&mut self.phase, Phase::Idle)
        {
            self.assign_and_sync(client, &join, now);
        }
    }

    /// The leader's part: run the chosen assignor over every member's
    /// subscription and send the result with SyncGroup.
    pub(super) fn assign_and_sync(
        &mut self,
        client: &mut Client,
        join: &JoinGroupResponse,
        now: Instant,
    ) {
        let name = join.protocol_name.clone().unwrap_or_default();
        let Some(assignor) =
            Assignor::from_name(&name).filter(|a| self.config.assignors.contains(a))
        else {
            return self.fail(GroupError::UnknownAssignor {
                group: self.config.group_id.clone(),
                name,
            });
        };
        let mut members = Vec::new();
        let mut owned = Vec::new();
        let mut versions: BTreeMap<String, i16> = BTreeMap::new();
        for m in &join.members {
            let (subscription, claims) = match Subscription::decode_grouped(&m.metadata) {
                Ok((s, claims, version)) => {
                    versions.insert(m.member_id.clone(), version);
                    (s, claims)
                }
                Err(error) => {
                    self.events
                        .push_back(GroupEvent::Error(GroupError::BadSubscription {
                            group: self.config.group_id.clone(),
                            member_id: m.member_id.clone(),
                            error,
                        }));
                    (Subscription::default(), Vec::new())
                }
            };
            members.push(MemberSubscription {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                subscription,
            });
            owned.push(claims);
        }
        let counts = partition_counts(
            client,
            members.iter().flat_map(|m| m.subscription.topics.iter()),
        );
        keep_believable_claims(&mut members, owned, &counts);
        let plan = assignor.assign(&members, &counts);
        self.assigned_with = Some(counts);
        self.counts_seen_generation = client.metadata_generation();
        let mut assignments = Vec::new();
        for (member_id, partitions) in plan {
            // Each member reads its assignment at the version it speaks.
            let version = versions.get(&member_id).copied().unwrap_or(0);
            let assignment = Assignment {
                partitions,
                user_data: None,
            };
            match assignment.encode(version) {
                Ok(bytes) => assignments.push((member_id, bytes)),
                Err(error) => {
                    return self.fail(GroupError::BadAssignment {
                        group: self.config.group_id.clone(),
                        error,
                    })
                }
            }
        }
        self.send_sync(client, assignments, now);
    }

    // ---- SyncGroup ----

    fn send_sync(&mut self, client: &mut Client, assignments: Vec<(String, Bytes)>, now: Instant) {
        let name = self.protocol_name.clone().unwrap_or_default();
        let sync = requests::sync_group(&self.identity(), &name, assignments);
        let timeout = Some(self.config.rebalance_timeout + REBALANCE_SLACK);
        let id = self.send_phrased(client, sync, Vec::new(), Purpose::Sync, timeout, now);
        self.phase = Phase::Syncing(id);
    }

    pub(super) fn on_sync(
        &mut self,
        client: &mut Client,
        id: RequestId,
        result: &Result<Response, RequestError>,
        now: Instant,
    ) {
        if !matches!(self.phase, Phase::Syncing(r) if r == id) {
            return;
        }
        let response = match result {
            Ok(Response {
                body: Some(AnyResponse::SyncGroup(r)),
                ..
            }) => r,
            Ok(_) => return self.rebalance_failed(client, missing_body(), now),
            Err(error) => {
                let reaction = self.react_to_request_error(ApiKey::SyncGroup, error);
                return self.rebalance_failed(client, reaction, now);
            }
        };
        let code = ErrorCode(response.error_code);
        if !code.is_ok() {
            let reaction = self.react_to_code(ApiKey::SyncGroup, code);
            return self.rebalance_failed(client, reaction, now);
        }
        let subscribed = &self.topics;
        let keep =
            |topic: &str, partition: i32| partition >= 0 && subscribed.iter().any(|t| t == topic);
        match Assignment::decode_keeping(&response.assignment, keep) {
            Ok(assignment) => self.take_up(assignment.partitions, now),
            Err(error) => {
                self.events
                    .push_back(GroupEvent::Error(GroupError::BadAssignment {
                        group: self.config.group_id.clone(),
                        error,
                    }));
                self.phase = Phase::NeedJoin {
                    at: now + self.config.retry_backoff,
                    reason: "the assignment did not decode",
                };
            }
        }
    }

    /// The member has its assignment: heartbeats start, and the user hears
    /// what changed.
    fn take_up(&mut self, partitions: Vec<TopicPartition>, now: Instant) {
        self.heartbeat.due = Some(now + self.config.heartbeat_interval);
        self.heartbeat.in_flight = None;
        self.heartbeat.session_deadline = Some(now + self.config.session_timeout);
        let assigned: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        let revoked: Vec<TopicPartition> = self.owned.difference(&assigned).cloned().collect();
        let added: Vec<TopicPartition> = assigned.difference(&self.owned).cloned().collect();
        if revoked.is_empty() {
            self.owned.extend(added.iter().cloned());
            self.events.push_back(GroupEvent::PartitionsAssigned(added));
            self.phase = Phase::Stable;
            if let Some(reason) = self.rejoin_pending.take() {
                self.request_rejoin(reason, now);
            }
        } else {
            // Cooperative (an eager member owns nothing by now): give up
            // what moves, then take up what was added and rejoin, so that
            // the leader can hand the revoked partitions on.
            self.events
                .push_back(GroupEvent::PartitionsRevoked(revoked.clone()));
            self.phase = Phase::Revoking {
                partitions: revoked,
                then: AfterRevoke::Assign(added),
            };
        }
    }

    /// The leader rebalances when a subscribed topic's partition count
    /// changed since it assigned (or a topic it could not find appeared).
    /// Looks once per metadata generation, once stable.
    pub(super) fn check_partition_counts(&mut self, client: &Client, now: Instant) {
        if !self.is_leader() || !matches!(self.phase, Phase::Stable) {
            return;
        }
        let Some(before) = &self.assigned_with else {
            return;
        };
        if client.metadata_generation() == self.counts_seen_generation {
            return;
        }
        self.counts_seen_generation = client.metadata_generation();
        let current = partition_counts(client, before.keys());
        if &current != before {
            self.request_rejoin("the partition count of a subscribed topic changed", now);
        }
    }
}

/// Partition counts of `topics` in the client's metadata (0 if unknown).
fn partition_counts<'a>(
    client: &Client,
    topics: impl Iterator<Item = &'a String>,
) -> PartitionCounts {
    topics
        .map(|t| {
            let n = client
                .metadata()
                .topics
                .get(t)
                .map_or(0, |m| m.partitions.len());
            (t.clone(), i32::try_from(n).unwrap_or(i32::MAX))
        })
        .collect()
}

/// Gives each member the owned partitions an assignor can act on, and no
/// more: claims from the newest generation (the assignors believe no
/// other), on partitions that exist, at most two claimants per partition
/// (two already make it contested: the sticky assignor keeps it with
/// neither, the cooperative one holds it back while either owns it). What
/// the leader keeps is then at most twice the partitions of the
/// subscribed topics, however much members claim.
fn keep_believable_claims(
    members: &mut [MemberSubscription],
    owned: Vec<GroupedPartitions>,
    counts: &PartitionCounts,
) {
    let newest = members
        .iter()
        .map(|m| m.subscription.generation_id.unwrap_or(-1))
        .max()
        .unwrap_or(-1);
    let mut claimants: BTreeMap<TopicPartition, u8> = BTreeMap::new();
    for (member, claims) in members.iter_mut().zip(owned) {
        if member.subscription.generation_id.unwrap_or(-1) != newest {
            continue;
        }
        let exists = |topic: &str, partition: i32| {
            counts
                .get(topic)
                .is_some_and(|&count| (0..count).contains(&partition))
        };
        let kept = flatten(claims, |topic, partition| {
            if !exists(topic, partition) {
                return false;
            }
            let n = claimants.entry((topic.to_string(), partition)).or_default();
            *n += 1;
            *n <= 2
        });
        member.subscription.owned_partitions = kept;
    }
}

/// An answer of the wrong type (or none) cannot come from a coordinator
/// that understood the request: retry as after a lost answer.
fn missing_body() -> Reaction {
    Reaction::Retry {
        coordinator_moved: true,
    }
}
