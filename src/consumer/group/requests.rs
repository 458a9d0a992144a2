//! The group membership requests, each phrased so that it means the same
//! at every version the Client may pick: fields a version lacks are left at
//! their defaults, and a static member's instance id narrows the versions
//! to those that carry it (JoinGroup v5, SyncGroup and Heartbeat v3,
//! LeaveGroup v3: all Kafka 2.3, where static membership began).

use bytes::Bytes;

use super::config::GroupConfig;
use crate::admin::Phrasing;
use crate::protocol::messages::join_group_request::JoinGroupRequestProtocol;
use crate::protocol::messages::leave_group_request::MemberIdentity;
use crate::protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use crate::protocol::messages::{
    HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};
use crate::protocol::VersionRange;

/// The protocol type of every Kafka consumer group.
pub const PROTOCOL_TYPE: &str = "consumer";

/// Who the member is in the group right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity<'a> {
    pub group_id: &'a str,
    pub member_id: &'a str,
    pub generation_id: i32,
    pub group_instance_id: Option<&'a str>,
}

/// JoinGroup offering `protocols` (assignor name, subscription bytes).
pub(crate) fn join_group(
    config: &GroupConfig,
    member_id: &str,
    protocols: Vec<(String, Bytes)>,
    reason: &str,
) -> Phrasing<JoinGroupRequest> {
    let request = JoinGroupRequest {
        group_id: config.group_id.clone(),
        session_timeout_ms: millis(config.session_timeout),
        rebalance_timeout_ms: millis(config.rebalance_timeout),
        member_id: member_id.to_string(),
        group_instance_id: config.group_instance_id.clone(),
        protocol_type: PROTOCOL_TYPE.to_string(),
        protocols: protocols
            .into_iter()
            .map(|(name, metadata)| JoinGroupRequestProtocol {
                name,
                metadata,
                ..Default::default()
            })
            .collect(),
        reason: Some(reason.to_string()),
        ..Default::default()
    };
    phrasing(request, static_min(config, 5))
}

/// SyncGroup; the leader sends every member's assignment, followers none.
pub(crate) fn sync_group(
    id: &Identity<'_>,
    protocol_name: &str,
    assignments: Vec<(String, Bytes)>,
) -> Phrasing<SyncGroupRequest> {
    let request = SyncGroupRequest {
        group_id: id.group_id.to_string(),
        generation_id: id.generation_id,
        member_id: id.member_id.to_string(),
        group_instance_id: id.group_instance_id.map(str::to_string),
        protocol_type: Some(PROTOCOL_TYPE.to_string()),
        protocol_name: Some(protocol_name.to_string()),
        assignments: assignments
            .into_iter()
            .map(|(member_id, assignment)| SyncGroupRequestAssignment {
                member_id,
                assignment,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let min = if id.group_instance_id.is_some() { 3 } else { 0 };
    phrasing(request, min)
}

pub(crate) fn heartbeat(id: &Identity<'_>) -> Phrasing<HeartbeatRequest> {
    let request = HeartbeatRequest {
        group_id: id.group_id.to_string(),
        generation_id: id.generation_id,
        member_id: id.member_id.to_string(),
        group_instance_id: id.group_instance_id.map(str::to_string),
        ..Default::default()
    };
    let min = if id.group_instance_id.is_some() { 3 } else { 0 };
    phrasing(request, min)
}

/// LeaveGroup, newest first: v3+ names members in an array (with the
/// instance id), v0-v2 names the one member.
pub(crate) fn leave_group(id: &Identity<'_>, reason: &str) -> [Phrasing<LeaveGroupRequest>; 2] {
    let members = LeaveGroupRequest {
        group_id: id.group_id.to_string(),
        members: vec![MemberIdentity {
            member_id: id.member_id.to_string(),
            group_instance_id: id.group_instance_id.map(str::to_string),
            reason: Some(reason.to_string()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let single = LeaveGroupRequest {
        group_id: id.group_id.to_string(),
        member_id: id.member_id.to_string(),
        ..Default::default()
    };
    [
        Phrasing {
            request: members,
            versions: VersionRange {
                min: 3,
                max: i16::MAX,
            },
        },
        Phrasing {
            request: single,
            versions: VersionRange { min: 0, max: 2 },
        },
    ]
}

fn static_min(config: &GroupConfig, min: i16) -> i16 {
    if config.group_instance_id.is_some() {
        min
    } else {
        0
    }
}

fn phrasing<R>(request: R, min: i16) -> Phrasing<R> {
    Phrasing {
        request,
        versions: VersionRange { min, max: i16::MAX },
    }
}

/// Milliseconds for an i32 field, saturating.
fn millis(d: std::time::Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Message, Reader};
    use bytes::BytesMut;

    fn encodes<M: Message>(m: &M, versions: VersionRange) {
        for v in versions.min..=versions.max.min(M::VERSIONS.max) {
            let mut buf = BytesMut::new();
            m.encode(&mut buf, v)
                .unwrap_or_else(|e| panic!("{} v{v}: {e}", M::NAME));
            M::decode(&mut Reader::new(buf.freeze()), v).expect("decodes");
        }
    }

    #[test]
    fn every_request_encodes_at_every_version_of_its_range() {
        for instance in [None, Some("i-1")] {
            let mut config = GroupConfig::new("g");
            config.group_instance_id = instance.map(str::to_string);
            let join = join_group(&config, "m", vec![("range".into(), Bytes::new())], "r");
            encodes(&join.request, join.versions);
            let id = Identity {
                group_id: "g",
                member_id: "m",
                generation_id: 3,
                group_instance_id: instance,
            };
            let sync = sync_group(&id, "range", vec![("m".into(), Bytes::new())]);
            encodes(&sync.request, sync.versions);
            let hb = heartbeat(&id);
            encodes(&hb.request, hb.versions);
            for leave in leave_group(&id, "bye") {
                encodes(&leave.request, leave.versions);
            }
            let expected_min = if instance.is_some() { 5 } else { 0 };
            assert_eq!(join.versions.min, expected_min);
        }
    }
}
