//! The group requests: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, and
//! the coordinator's timers.

use std::collections::BTreeMap;

use kafkite::protocol::messages::leave_group_response::MemberResponse;
use kafkite::protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, LeaveGroupRequest, LeaveGroupResponse,
    SyncGroupRequest,
};
use kafkite::protocol::ErrorCode;

use super::group::{join_error, self_sync_answer, sync_error, Group, Member, Phase};
use super::metadata::coordinator_for;
use super::{Cluster, SlotState};

/// Whether this broker coordinates the group; the error to answer if not.
pub(super) fn check_coordinator(cluster: &Cluster, broker: i32, group: &str) -> Result<(), i16> {
    if group.is_empty() {
        return Err(ErrorCode::INVALID_GROUP_ID.0);
    }
    match coordinator_for(cluster, group) {
        Some(b) if b == broker => Ok(()),
        _ => Err(ErrorCode::NOT_COORDINATOR.0),
    }
}

impl Cluster {
    pub(super) fn group_timers(&mut self) {
        let now = self.now_ms;
        let mut answers = std::mem::take(&mut self.tickets);
        for g in self.groups.values_mut() {
            if g.next_deadline().is_some_and(|t| t <= now) {
                g.on_time(now, &mut answers);
            }
        }
        self.tickets = answers;
    }
}

pub(super) fn join_group(
    cluster: &mut Cluster,
    broker: i32,
    request: JoinGroupRequest,
    version: i16,
) -> SlotState {
    let fail =
        |code: i16| SlotState::Ready(Box::new(join_error(code, &request.member_id, version)));
    if let Err(code) = check_coordinator(cluster, broker, &request.group_id) {
        return fail(code);
    }
    if request.session_timeout_ms <= 0 || request.protocols.is_empty() {
        return fail(if request.protocols.is_empty() {
            ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0
        } else {
            ErrorCode::INVALID_SESSION_TIMEOUT.0
        });
    }
    let now = cluster.now_ms;
    let delay = cluster.config.initial_rebalance_delay_ms;
    let ticket = cluster.next_ticket();
    let mut answers = std::mem::take(&mut cluster.tickets);
    let group = cluster
        .groups
        .entry(request.group_id.clone())
        .or_insert_with(Group::new);
    let result = (|| {
        if let Some(t) = &group.protocol_type {
            if !group.members.is_empty() && *t != request.protocol_type {
                return Err(ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0);
            }
        }
        let member_id = if request.member_id.is_empty() {
            group.new_member_id("member")
        } else if group.members.contains_key(&request.member_id) {
            request.member_id.clone()
        } else {
            return Err(ErrorCode::UNKNOWN_MEMBER_ID.0);
        };
        // Versions before 1 have no rebalance timeout: the session's.
        let rebalance_ms = if version >= 1 {
            request.rebalance_timeout_ms
        } else {
            request.session_timeout_ms
        };
        let member = Member {
            session_timeout_ms: u64::try_from(request.session_timeout_ms).unwrap_or(0),
            rebalance_timeout_ms: u64::try_from(rebalance_ms.max(0)).unwrap_or(0),
            protocols: request
                .protocols
                .iter()
                .map(|p| (p.name.clone(), p.metadata.clone()))
                .collect(),
            group_instance_id: request.group_instance_id.clone(),
            last_heard_ms: now,
            join: Some((ticket, version)),
            sync: None,
            assignment: bytes::Bytes::new(),
        };
        group.protocol_type = Some(request.protocol_type.clone());
        group.members.insert(member_id, member);
        group.prepare_rebalance(now, delay, &mut answers);
        group.try_complete_join(now, &mut answers);
        Ok(())
    })();
    cluster.tickets = answers;
    match result {
        Ok(()) => SlotState::Ticket(ticket),
        Err(code) => fail(code),
    }
}

pub(super) fn sync_group(
    cluster: &mut Cluster,
    broker: i32,
    request: SyncGroupRequest,
    version: i16,
) -> SlotState {
    let fail = |code: i16| SlotState::Ready(Box::new(sync_error(code, version)));
    if let Err(code) = check_coordinator(cluster, broker, &request.group_id) {
        return fail(code);
    }
    let now = cluster.now_ms;
    let ticket = cluster.next_ticket();
    let mut answers = std::mem::take(&mut cluster.tickets);
    let result = (|| {
        let group = cluster
            .groups
            .get_mut(&request.group_id)
            .ok_or(ErrorCode::UNKNOWN_MEMBER_ID.0)?;
        if !group.members.contains_key(&request.member_id) {
            return Err(ErrorCode::UNKNOWN_MEMBER_ID.0);
        }
        if request.generation_id != group.generation {
            return Err(ErrorCode::ILLEGAL_GENERATION.0);
        }
        match group.phase {
            Phase::Preparing { .. } | Phase::Empty => Err(ErrorCode::REBALANCE_IN_PROGRESS.0),
            Phase::Stable => {
                let m = group
                    .members
                    .get_mut(&request.member_id)
                    .ok_or(ErrorCode::UNKNOWN_MEMBER_ID.0)?;
                m.last_heard_ms = now;
                let answer = self_sync_answer(
                    &m.assignment,
                    group.protocol_type.clone(),
                    group.protocol_name.clone(),
                    version,
                );
                answers.insert(ticket, answer);
                Ok(())
            }
            Phase::Completing => {
                if let Some(m) = group.members.get_mut(&request.member_id) {
                    m.last_heard_ms = now;
                    m.sync = Some((ticket, version));
                }
                if group.leader.as_deref() == Some(request.member_id.as_str()) {
                    let assignments: BTreeMap<String, bytes::Bytes> = request
                        .assignments
                        .iter()
                        .map(|a| (a.member_id.clone(), a.assignment.clone()))
                        .collect();
                    group.complete_sync(assignments, &mut answers);
                }
                Ok(())
            }
        }
    })();
    cluster.tickets = answers;
    match result {
        Ok(()) => SlotState::Ticket(ticket),
        Err(code) => fail(code),
    }
}

pub(super) fn heartbeat(
    cluster: &mut Cluster,
    broker: i32,
    request: &HeartbeatRequest,
) -> HeartbeatResponse {
    let code = (|| {
        check_coordinator(cluster, broker, &request.group_id)?;
        let now = cluster.now_ms;
        let group = cluster
            .groups
            .get_mut(&request.group_id)
            .ok_or(ErrorCode::UNKNOWN_MEMBER_ID.0)?;
        let m = group
            .members
            .get_mut(&request.member_id)
            .ok_or(ErrorCode::UNKNOWN_MEMBER_ID.0)?;
        if request.generation_id != group.generation {
            return Err(ErrorCode::ILLEGAL_GENERATION.0);
        }
        m.last_heard_ms = now;
        match group.phase {
            Phase::Preparing { .. } => Err(ErrorCode::REBALANCE_IN_PROGRESS.0),
            _ => Ok(()),
        }
    })();
    HeartbeatResponse {
        error_code: code.err().unwrap_or(0),
        ..Default::default()
    }
}

pub(super) fn leave_group(
    cluster: &mut Cluster,
    broker: i32,
    request: &LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    if let Err(code) = check_coordinator(cluster, broker, &request.group_id) {
        return LeaveGroupResponse {
            error_code: code,
            ..Default::default()
        };
    }
    let ids: Vec<String> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| m.member_id.clone())
            .collect()
    } else {
        vec![request.member_id.clone()]
    };
    let now = cluster.now_ms;
    let mut answers = std::mem::take(&mut cluster.tickets);
    let mut members = Vec::new();
    let mut top = 0;
    if let Some(group) = cluster.groups.get_mut(&request.group_id) {
        for id in &ids {
            let known = group.members.contains_key(id);
            group.remove_member(id, now, &mut answers);
            let code = if known {
                0
            } else {
                ErrorCode::UNKNOWN_MEMBER_ID.0
            };
            if version < 3 {
                top = code;
            }
            members.push(MemberResponse {
                member_id: id.clone(),
                error_code: code,
                ..Default::default()
            });
        }
    } else {
        top = ErrorCode::UNKNOWN_MEMBER_ID.0;
    }
    cluster.tickets = answers;
    LeaveGroupResponse {
        error_code: top,
        members: if version >= 3 { members } else { Vec::new() },
        ..Default::default()
    }
}
