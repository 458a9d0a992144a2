//! A classic consumer group as its coordinator keeps it: members, the
//! join barrier, the leader's assignment handed out at sync, sessions,
//! and committed offsets.
//!
//! ```text
//!  Empty ─join─► PreparingRebalance ─(all rejoined, or rebalance timeout:
//!                 ▲                   the absent are removed)─► CompletingRebalance
//!                 │                                              │ leader's SyncGroup
//!                 └──── join, leave, session expiry ◄──── Stable ◄┘
//! ```

use std::collections::BTreeMap;

use bytes::Bytes;
use kafkite::protocol::messages::join_group_response::JoinGroupResponseMember;
use kafkite::protocol::messages::{JoinGroupResponse, SyncGroupResponse};
use kafkite::protocol::{AnyResponse, ErrorCode};

/// Where a group stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Empty,
    /// Waiting for members to rejoin, until this moment at most.
    Preparing {
        deadline_ms: u64,
        not_before_ms: u64,
    },
    /// Waiting for the leader's SyncGroup.
    Completing,
    Stable,
}

#[derive(Debug, Clone)]
pub(super) struct Member {
    pub session_timeout_ms: u64,
    pub rebalance_timeout_ms: u64,
    pub protocols: Vec<(String, Bytes)>,
    pub group_instance_id: Option<String>,
    pub last_heard_ms: u64,
    /// A JoinGroup waiting for the barrier: (ticket, version).
    pub join: Option<(u64, i16)>,
    /// A SyncGroup waiting for the leader: (ticket, version).
    pub sync: Option<(u64, i16)>,
    pub assignment: Bytes,
}

/// Offsets by partition: (offset, metadata).
pub(super) type GroupOffsets = BTreeMap<(String, i32), (i64, Option<String>)>;

#[derive(Debug, Clone)]
pub(super) struct Group {
    pub generation: i32,
    pub phase: Phase,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// Committed offsets: (offset, metadata).
    pub offsets: GroupOffsets,
    /// Offsets sent in open transactions, by producer id: committed when
    /// the transaction commits, dropped when it aborts.
    pub pending_txn_offsets: BTreeMap<i64, GroupOffsets>,
    pub next_member: u64,
}

impl Group {
    pub fn new() -> Self {
        Group {
            generation: 0,
            phase: Phase::Empty,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            offsets: BTreeMap::new(),
            pending_txn_offsets: BTreeMap::new(),
            next_member: 1,
        }
    }

    pub fn next_deadline(&self) -> Option<u64> {
        let phase = match self.phase {
            Phase::Preparing {
                deadline_ms,
                not_before_ms,
            } => Some(if self.all_joined() {
                not_before_ms
            } else {
                deadline_ms
            }),
            _ => None,
        };
        let sessions = self
            .members
            .values()
            .filter(|m| !self.session_paused(m))
            .map(|m| m.last_heard_ms + m.session_timeout_ms);
        phase.into_iter().chain(sessions).min()
    }

    /// A member waiting in the join barrier is not expired by its session
    /// (the rebalance timeout bounds it instead), as in Kafka.
    fn session_paused(&self, m: &Member) -> bool {
        m.join.is_some() && matches!(self.phase, Phase::Preparing { .. })
    }

    fn all_joined(&self) -> bool {
        self.members.values().all(|m| m.join.is_some())
    }

    /// Starts (or keeps) a rebalance: pending syncs learn of it.
    pub fn prepare_rebalance(
        &mut self,
        now_ms: u64,
        initial_delay_ms: u64,
        answers: &mut BTreeMap<u64, AnyResponse>,
    ) {
        let was_empty = self.phase == Phase::Empty;
        if matches!(self.phase, Phase::Preparing { .. }) {
            return;
        }
        for m in self.members.values_mut() {
            if let Some((ticket, version)) = m.sync.take() {
                answers.insert(
                    ticket,
                    sync_error(ErrorCode::REBALANCE_IN_PROGRESS.0, version),
                );
            }
        }
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0);
        let not_before_ms = if was_empty {
            now_ms + initial_delay_ms
        } else {
            now_ms
        };
        self.phase = Phase::Preparing {
            deadline_ms: (now_ms + timeout).max(not_before_ms),
            not_before_ms,
        };
    }

    /// Removes a member; its waiting requests are answered with
    /// UNKNOWN_MEMBER_ID and the rest of the group rebalances.
    pub fn remove_member(
        &mut self,
        member_id: &str,
        now_ms: u64,
        answers: &mut BTreeMap<u64, AnyResponse>,
    ) {
        let Some(m) = self.members.remove(member_id) else {
            return;
        };
        if let Some((ticket, version)) = m.join {
            answers.insert(
                ticket,
                join_error(ErrorCode::UNKNOWN_MEMBER_ID.0, member_id, version),
            );
        }
        if let Some((ticket, version)) = m.sync {
            answers.insert(ticket, sync_error(ErrorCode::UNKNOWN_MEMBER_ID.0, version));
        }
        if self.leader.as_deref() == Some(member_id) {
            self.leader = None;
        }
        if self.members.is_empty() {
            self.become_empty();
        } else {
            self.prepare_rebalance(now_ms, 0, answers);
        }
        self.try_complete_join(now_ms, answers);
    }

    fn become_empty(&mut self) {
        self.phase = Phase::Empty;
        self.generation += 1;
        self.leader = None;
        self.protocol_name = None;
        self.protocol_type = None;
    }

    /// Expires silent members and opens the join barrier when it is time.
    pub fn on_time(&mut self, now_ms: u64, answers: &mut BTreeMap<u64, AnyResponse>) {
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| {
                !self.session_paused(m) && m.last_heard_ms + m.session_timeout_ms <= now_ms
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.remove_member(&id, now_ms, answers);
        }
        self.try_complete_join(now_ms, answers);
    }

    /// The barrier opens once every member rejoined (and the initial
    /// delay is over) or the rebalance timeout passed; members that did
    /// not rejoin are dropped. Everyone gets the new generation; the
    /// leader also gets the members and their subscriptions.
    pub fn try_complete_join(&mut self, now_ms: u64, answers: &mut BTreeMap<u64, AnyResponse>) {
        let Phase::Preparing {
            deadline_ms,
            not_before_ms,
        } = self.phase
        else {
            return;
        };
        let ready = (self.all_joined() && now_ms >= not_before_ms) || now_ms >= deadline_ms;
        if !ready {
            return;
        }
        self.members.retain(|_, m| m.join.is_some());
        if self.members.is_empty() {
            self.become_empty();
            return;
        }
        self.generation += 1;
        let chosen = self.choose_protocol();
        self.protocol_name = Some(chosen.clone());
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        let leader = self.leader.clone().unwrap_or_default();
        let listing: Vec<JoinGroupResponseMember> = self
            .members
            .iter()
            .map(|(id, m)| JoinGroupResponseMember {
                member_id: id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                metadata: m
                    .protocols
                    .iter()
                    .find(|(n, _)| *n == chosen)
                    .map(|(_, b)| b.clone())
                    .unwrap_or_default(),
                ..Default::default()
            })
            .collect();
        for (id, m) in self.members.iter_mut() {
            m.last_heard_ms = now_ms;
            m.assignment = Bytes::new();
            let Some((ticket, _version)) = m.join.take() else {
                continue;
            };
            let response = JoinGroupResponse {
                generation_id: self.generation,
                protocol_type: self.protocol_type.clone(),
                protocol_name: Some(chosen.clone()),
                leader: leader.clone(),
                member_id: id.clone(),
                members: if *id == leader {
                    listing.clone()
                } else {
                    Vec::new()
                },
                ..Default::default()
            };
            answers.insert(ticket, AnyResponse::JoinGroup(response));
        }
        self.phase = Phase::Completing;
    }

    /// The first protocol of the leader-to-be (or first member) that every
    /// member offers, as Kafka's vote would settle for two members.
    fn choose_protocol(&self) -> String {
        let first = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .or_else(|| self.members.values().next());
        let Some(first) = first else {
            return String::new();
        };
        first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .find(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(x, _)| x == *n))
            })
            .or_else(|| first.protocols.first().map(|(n, _)| n))
            .cloned()
            .unwrap_or_default()
    }

    /// The leader's assignment arrived: everyone waiting gets theirs.
    pub fn complete_sync(
        &mut self,
        assignments: BTreeMap<String, Bytes>,
        answers: &mut BTreeMap<u64, AnyResponse>,
    ) {
        for (id, m) in self.members.iter_mut() {
            m.assignment = assignments.get(id).cloned().unwrap_or_default();
            if let Some((ticket, version)) = m.sync.take() {
                answers.insert(
                    ticket,
                    self_sync_answer(
                        &m.assignment,
                        self.protocol_type.clone(),
                        self.protocol_name.clone(),
                        version,
                    ),
                );
            }
        }
        self.phase = Phase::Stable;
    }

    pub fn new_member_id(&mut self, client_id: &str) -> String {
        let n = self.next_member;
        self.next_member += 1;
        let prefix = if client_id.is_empty() {
            "member"
        } else {
            client_id
        };
        format!("{prefix}-{n:08}")
    }
}

pub(super) fn self_sync_answer(
    assignment: &Bytes,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    version: i16,
) -> AnyResponse {
    let (protocol_type, protocol_name) = if version >= 5 {
        (protocol_type, protocol_name)
    } else {
        (None, None)
    };
    AnyResponse::SyncGroup(SyncGroupResponse {
        assignment: assignment.clone(),
        protocol_type,
        protocol_name,
        ..Default::default()
    })
}

pub(super) fn join_error(code: i16, member_id: &str, version: i16) -> AnyResponse {
    AnyResponse::JoinGroup(JoinGroupResponse {
        error_code: code,
        generation_id: -1,
        protocol_name: if version >= 7 {
            None
        } else {
            Some(String::new())
        },
        member_id: member_id.to_string(),
        ..Default::default()
    })
}

pub(super) fn sync_error(code: i16, _version: i16) -> AnyResponse {
    AnyResponse::SyncGroup(SyncGroupResponse {
        error_code: code,
        ..Default::default()
    })
}
