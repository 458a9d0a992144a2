//! The group membership state machine: a consumer's place in a classic
//! (JoinGroup/SyncGroup) consumer group, sans IO.
//!
//! Like the producer, it rides on a [`Client`] passed to every call: the
//! client finds the coordinator (FindCoordinator), picks versions and
//! carries the bytes; the member decides what to send and claims the
//! answers ([`GroupMember::handle_client_event`]).
//!
//! ```text
//!   subscribe ─► JoinGroup ─► (leader: assign) ─► SyncGroup ─► Stable ─┐
//!                   ▲                                     heartbeats   │
//!                   └──── PartitionsRevoked ─► revocation_done() ◄─────┘
//!                                        (eager: everything; cooperative:
//!                                         only the partitions that move)
//! ```
//!
//! The user learns of partitions through [`GroupEvent`]s. Revocation waits
//! for the user: the member reports `PartitionsRevoked` and holds still
//! until [`GroupMember::revocation_done`], which is the moment to commit.
//! Heartbeats continue meanwhile, so a slow commit costs no membership
//! while it stays within the rebalance timeout.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use super::assignor::{rebalance_protocol, PartitionCounts, RebalanceProtocol};
use super::config::GroupConfig;
use super::event::{CommitId, GroupError, GroupEvent, OffsetFetchId};
use super::requests::Identity;
use super::TopicPartition;
use crate::admin::Phrasing;
use crate::client::{Client, Event, RequestError, RequestId, RequestOptions, Target};
use crate::protocol::messages::JoinGroupResponse;
use crate::protocol::AnyRequest;

/// Where a member stands, for users and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// Not subscribed yet: nothing to do.
    Idle,
    /// Waiting to send, or waiting for, JoinGroup.
    Joining,
    /// Assigning (leader) or waiting for SyncGroup.
    Syncing,
    /// A member with an assignment, heartbeating.
    Stable,
    /// Waiting for [`GroupMember::revocation_done`].
    Revoking,
    /// LeaveGroup sent.
    Leaving,
    /// Out of the group after [`GroupMember::leave`] or
    /// [`GroupMember::close`]: nothing more to do.
    Closed,
    /// Stopped by a fatal error (reported as [`GroupEvent::Error`]).
    Failed,
}

/// One consumer's membership in a group.
#[derive(Debug)]
pub struct GroupMember {
    pub(super) config: GroupConfig,
    pub(super) protocol: RebalanceProtocol,
    /// The subscribed topics, sorted.
    pub(super) topics: Vec<String>,
    /// Empty until the coordinator gives one (KIP-394: in MEMBER_ID_REQUIRED
    /// or in the JoinGroup answer).
    pub(super) member_id: String,
    /// -1 when the member has no valid generation.
    pub(super) generation_id: i32,
    pub(super) protocol_name: Option<String>,
    pub(super) leader_id: String,
    /// Partitions the user holds: reported assigned, not yet revoked or lost.
    pub(super) owned: BTreeSet<TopicPartition>,
    pub(super) phase: Phase,
    pub(super) heartbeat: Heartbeat,
    /// A rejoin asked for while a rebalance was under way: rejoin once it
    /// is over, with the new subscription.
    pub(super) rejoin_pending: Option<&'static str>,
    /// The partition counts the leader assigned with; a change makes the
    /// leader rebalance.
    pub(super) assigned_with: Option<PartitionCounts>,
    /// The client's metadata generation `assigned_with` was last compared
    /// with. Compared in every `drive`, not only on `MetadataUpdated`: an
    /// update that lands while SyncGroup is in flight would otherwise be
    /// missed, and a leader that assigned before a topic appeared would
    /// stay stable with nothing to read.
    pub(super) counts_seen_generation: u64,
    pub(super) requests: BTreeMap<RequestId, InFlight>,
    pub(super) commits: BTreeMap<CommitId, super::commits::CommitJob>,
    /// The newest commit asked for each partition: an older commit still
    /// waiting to be retried must not overwrite it (see `commits`).
    pub(super) newest_commit: BTreeMap<TopicPartition, CommitId>,
    pub(super) fetches: BTreeMap<OffsetFetchId, super::commits::FetchJob>,
    pub(super) next_job: u64,
    pub(super) events: VecDeque<GroupEvent>,
}

#[derive(Debug)]
pub(super) enum Phase {
    Idle,
    NeedJoin {
        at: Instant,
        reason: &'static str,
    },
    Joining(RequestId),
    /// The leader waits for metadata of topics other members subscribe to.
    AwaitingMetadata {
        join: Box<JoinGroupResponse>,
        /// Topics the metadata lacked.
        missing: Vec<String>,
        /// The client's metadata generation when last looked at.
        seen_generation: u64,
        /// A second refresh was asked for: the first answer may have come
        /// from a request already in flight, which did not name the topics.
        asked_again: bool,
        /// Metadata answers that change nothing raise no event: look again
        /// then.
        check_at: Instant,
        give_up_at: Instant,
    },
    Syncing(RequestId),
    Stable,
    Revoking {
        partitions: Vec<TopicPartition>,
        then: AfterRevoke,
    },
    Leaving(RequestId),
    Closed,
    Failed,
}

/// What follows the user's `revocation_done`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AfterRevoke {
    Rejoin(&'static str),
    /// Cooperative: take up the partitions added in the same assignment,
    /// then rejoin so the revoked ones can be assigned elsewhere.
    Assign(Vec<TopicPartition>),
    Close {
        leave: bool,
    },
}

#[derive(Debug, Default)]
pub(super) struct Heartbeat {
    pub due: Option<Instant>,
    pub in_flight: Option<RequestId>,
    /// The coordinator drops a member it has not heard from in the
    /// session timeout: past this, the member assumes it was dropped.
    pub session_deadline: Option<Instant>,
}

/// A request of the member's, with the phrasings left to try should the
/// broker speak none of this one's versions.
#[derive(Debug)]
pub(super) struct InFlight {
    pub purpose: Purpose,
    pub rest: Vec<Phrasing<AnyRequest>>,
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    Join,
    Sync,
    Heartbeat { generation_id: i32 },
    Leave,
    Commit(CommitId),
    Fetch(OffsetFetchId),
}

impl GroupMember {
    /// A member that joins once it has a subscription.
    pub fn new(config: GroupConfig) -> Self {
        GroupMember {
            protocol: rebalance_protocol(&config.assignors),
            config,
            topics: Vec::new(),
            member_id: String::new(),
            generation_id: -1,
            protocol_name: None,
            leader_id: String::new(),
            owned: BTreeSet::new(),
            phase: Phase::Idle,
            heartbeat: Heartbeat::default(),
            rejoin_pending: None,
            assigned_with: None,
            counts_seen_generation: 0,
            requests: BTreeMap::new(),
            commits: BTreeMap::new(),
            newest_commit: BTreeMap::new(),
            fetches: BTreeMap::new(),
            next_job: 1,
            events: VecDeque::new(),
        }
    }

    // ---- commands ----

    /// Subscribes to `topics` (replacing the previous list) and joins, or
    /// rejoins with the new list.
    pub fn subscribe<S: Into<String>>(
        &mut self,
        client: &mut Client,
        topics: impl IntoIterator<Item = S>,
        now: Instant,
    ) {
        let mut topics: Vec<String> = topics.into_iter().map(Into::into).collect();
        topics.sort();
        topics.dedup();
        let idle = matches!(self.phase, Phase::Idle);
        if (topics == self.topics && !idle) || (topics.is_empty() && idle) {
            return;
        }
        self.topics = topics;
        client.add_topics(&self.topics, now);
        match self.phase {
            Phase::Idle => {
                self.phase = Phase::NeedJoin {
                    at: now,
                    reason: "subscribed",
                }
            }
            _ => self.request_rejoin("the subscription changed", now),
        }
        self.drive(client, now);
    }

    /// The user finished with the partitions of the last
    /// [`GroupEvent::PartitionsRevoked`] (and committed their offsets).
    /// Does nothing when no revocation is pending.
    pub fn revocation_done(&mut self, client: &mut Client, now: Instant) {
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        let Phase::Revoking { partitions, then } = phase else {
            self.phase = phase;
            return;
        };
        for tp in &partitions {
            self.owned.remove(tp);
        }
        match then {
            AfterRevoke::Rejoin(reason) => self.phase = Phase::NeedJoin { at: now, reason },
            AfterRevoke::Assign(added) => {
                self.owned.extend(added.iter().cloned());
                self.events.push_back(GroupEvent::PartitionsAssigned(added));
                self.phase = Phase::NeedJoin {
                    at: now,
                    reason: "revoked partitions that move to other members",
                };
            }
            AfterRevoke::Close { leave } => self.finish_close(client, leave, now),
        }
        self.drive(client, now);
    }

    // ---- inputs ----

    /// Offers a client event; returns true when it answered one of the
    /// member's requests.
    pub fn handle_client_event(
        &mut self,
        client: &mut Client,
        event: &Event,
        now: Instant,
    ) -> bool {
        let claimed = match event {
            Event::Response { id, result } => match self.requests.remove(id) {
                Some(request) => {
                    self.handle_response(client, *id, request, result, now);
                    true
                }
                None => false,
            },
            _ => false,
        };
        self.drive(client, now);
        claimed
    }

    /// Time has reached `now`: sends the heartbeats, joins and retries that
    /// are due.
    pub fn handle_timeout(&mut self, client: &mut Client, now: Instant) {
        self.drive(client, now);
    }

    // ---- outputs ----

    /// The next event, in the order they happened; `None` when there is none.
    pub fn poll_event(&mut self) -> Option<GroupEvent> {
        self.events.pop_front()
    }

    /// The next moment `handle_timeout` is due. Never a moment already
    /// acted on: whatever was due has been done by the last input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let phase = match &self.phase {
            Phase::NeedJoin { at, .. } => Some(*at),
            Phase::AwaitingMetadata { check_at, .. } => Some(*check_at),
            _ => None,
        };
        let heartbeat = if self.heartbeats_on() {
            let due = self
                .heartbeat
                .due
                .filter(|_| self.heartbeat.in_flight.is_none());
            [due, self.heartbeat.session_deadline]
        } else {
            [None, None]
        };
        let jobs = self.commits.values().filter_map(|j| j.retry_at);
        let fetches = self.fetches.values().filter_map(|j| j.retry_at);
        phase
            .into_iter()
            .chain(heartbeat.into_iter().flatten())
            .chain(jobs)
            .chain(fetches)
            .min()
    }

    // ---- state ----

    /// Where the member stands now.
    pub fn state(&self) -> GroupState {
        match self.phase {
            Phase::Idle => GroupState::Idle,
            Phase::NeedJoin { .. } | Phase::Joining(_) => GroupState::Joining,
            Phase::AwaitingMetadata { .. } | Phase::Syncing(_) => GroupState::Syncing,
            Phase::Stable => GroupState::Stable,
            Phase::Revoking { .. } => GroupState::Revoking,
            Phase::Leaving(_) => GroupState::Leaving,
            Phase::Closed => GroupState::Closed,
            Phase::Failed => GroupState::Failed,
        }
    }

    /// The partitions the member holds now, sorted.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.owned.iter().cloned().collect()
    }

    /// The member id the coordinator gave (empty before).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The current generation, -1 when none.
    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    /// Whether the coordinator made this member the leader of the current
    /// generation (the one that runs the assignor).
    pub fn is_leader(&self) -> bool {
        !self.member_id.is_empty() && self.leader_id == self.member_id
    }

    /// The rebalance protocol this member follows (from its assignors).
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        self.protocol
    }

    /// The settings it was made with.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    // ---- internals ----

    pub(super) fn identity(&self) -> Identity<'_> {
        Identity {
            group_id: &self.config.group_id,
            member_id: &self.member_id,
            generation_id: self.generation_id,
            group_instance_id: self.config.group_instance_id.as_deref(),
        }
    }

    /// Heartbeats run while the member holds a generation.
    pub(super) fn heartbeats_on(&self) -> bool {
        self.generation_id >= 0 && matches!(self.phase, Phase::Stable | Phase::Revoking { .. })
    }

    /// Does everything due at `now`, so that `poll_timeout` only names
    /// moments to come.
    pub(super) fn drive(&mut self, client: &mut Client, now: Instant) {
        // Heartbeats first: a session that expired puts the member back to
        // joining, which the phase step below then does at once.
        self.drive_heartbeat(client, now);
        self.check_partition_counts(client, now);
        if let Phase::NeedJoin { at, reason } = self.phase {
            if at <= now {
                self.send_join(client, reason, now);
            }
        }
        self.drive_metadata_wait(client, now);
        self.drive_offset_jobs(client, now);
    }

    /// Sends `first` to the coordinator; `rest` waits in case the broker
    /// speaks none of its versions.
    pub(super) fn send_phrased<R: Into<AnyRequest>>(
        &mut self,
        client: &mut Client,
        first: Phrasing<R>,
        rest: Vec<Phrasing<R>>,
        purpose: Purpose,
        timeout: Option<Duration>,
        now: Instant,
    ) -> RequestId {
        let rest = rest
            .into_iter()
            .map(|p| Phrasing {
                request: p.request.into(),
                versions: p.versions,
            })
            .collect();
        let target = Target::GroupCoordinator(self.config.group_id.clone());
        let options = RequestOptions {
            versions: first.versions,
            timeout,
            expect_response: true,
        };
        let id = client.send_any(target, first.request.into(), options, now);
        self.requests.insert(
            id,
            InFlight {
                purpose,
                rest,
                timeout,
            },
        );
        id
    }

    fn handle_response(
        &mut self,
        client: &mut Client,
        id: RequestId,
        mut request: InFlight,
        result: &Result<crate::client::Response, RequestError>,
        now: Instant,
    ) {
        if matches!(result, Err(RequestError::UnsupportedVersion { .. }))
            && !request.rest.is_empty()
        {
            let next = request.rest.remove(0);
            let retry = self.send_phrased(
                client,
                next,
                request.rest,
                request.purpose,
                request.timeout,
                now,
            );
            self.rename_request(id, retry);
            return;
        }
        match request.purpose {
            Purpose::Join => self.on_join(client, id, result, now),
            Purpose::Sync => self.on_sync(client, id, result, now),
            Purpose::Heartbeat { generation_id } => {
                self.on_heartbeat(client, id, generation_id, result, now)
            }
            Purpose::Leave => {
                if matches!(self.phase, Phase::Leaving(r) if r == id) {
                    self.phase = Phase::Closed;
                    self.events.push_back(GroupEvent::Closed);
                }
            }
            Purpose::Commit(job) => self.on_commit(client, job, result, now),
            Purpose::Fetch(job) => self.on_fetch(client, job, result, now),
        }
    }

    /// A request was resent under a new id: whoever waited for the old one
    /// now waits for the new one.
    fn rename_request(&mut self, old: RequestId, new: RequestId) {
        match &mut self.phase {
            Phase::Joining(r) | Phase::Syncing(r) | Phase::Leaving(r) if *r == old => *r = new,
            _ => {}
        }
        if self.heartbeat.in_flight == Some(old) {
            self.heartbeat.in_flight = Some(new);
        }
        for job in self.commits.values_mut() {
            if job.in_flight == Some(old) {
                job.in_flight = Some(new);
            }
        }
        for job in self.fetches.values_mut() {
            if job.in_flight == Some(old) {
                job.in_flight = Some(new);
            }
        }
    }

    /// Asks for a rebalance: at once when stable (eager members first give
    /// up everything), after the current one when one is under way.
    pub(super) fn request_rejoin(&mut self, reason: &'static str, now: Instant) {
        match self.phase {
            Phase::Stable => {
                if self.protocol == RebalanceProtocol::Eager && !self.owned.is_empty() {
                    let partitions = self.assignment();
                    self.events
                        .push_back(GroupEvent::PartitionsRevoked(partitions.clone()));
                    self.phase = Phase::Revoking {
                        partitions,
                        then: AfterRevoke::Rejoin(reason),
                    };
                } else {
                    self.phase = Phase::NeedJoin { at: now, reason };
                }
            }
            Phase::Joining(_) | Phase::AwaitingMetadata { .. } | Phase::Syncing(_) => {
                self.rejoin_pending = Some(reason);
            }
            _ => {}
        }
    }

    /// The coordinator no longer knows this member's generation (or its
    /// member id): what it owns is lost, and it joins again.
    pub(super) fn fenced(&mut self, reset_member_id: bool, now: Instant) {
        self.generation_id = -1;
        if reset_member_id {
            self.member_id.clear();
        }
        self.assigned_with = None;
        self.heartbeat = Heartbeat::default();
        match &mut self.phase {
            Phase::Revoking { partitions, then } => {
                let revoking: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
                let lost: Vec<TopicPartition> = self.owned.difference(&revoking).cloned().collect();
                if !lost.is_empty() {
                    self.events.push_back(GroupEvent::PartitionsLost(lost));
                }
                self.owned = revoking;
                if !matches!(then, AfterRevoke::Close { .. }) {
                    *then = AfterRevoke::Rejoin("fenced by the coordinator");
                }
            }
            Phase::Leaving(_) | Phase::Closed | Phase::Failed | Phase::Idle => {}
            _ => {
                self.lose_all();
                self.phase = Phase::NeedJoin {
                    at: now,
                    reason: "fenced by the coordinator",
                };
            }
        }
    }

    pub(super) fn lose_all(&mut self) {
        if !self.owned.is_empty() {
            let lost = std::mem::take(&mut self.owned).into_iter().collect();
            self.events.push_back(GroupEvent::PartitionsLost(lost));
        }
    }

    /// Stops for good after a fatal error.
    pub(super) fn fail(&mut self, error: GroupError) {
        self.lose_all();
        self.heartbeat = Heartbeat::default();
        self.phase = Phase::Failed;
        self.events.push_back(GroupEvent::Error(error));
    }
}
