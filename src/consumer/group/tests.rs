//! Deterministic membership tests against a scripted coordinator, on a
//! hand-moved clock.

use std::collections::BTreeMap;
use std::time::Duration;

use super::protocol::{Assignment, Subscription};
use super::scripted::{tps, Coordinator, Setup};
use super::*;
use crate::consumer::offsets::{OffsetAndMetadata, OffsetError};
use crate::protocol::{ApiKey, ErrorCode};

fn eager() -> GroupConfig {
    GroupConfig::new("g").with_assignors(vec![Assignor::Range])
}

fn cooperative() -> GroupConfig {
    GroupConfig::new("g").with_assignors(vec![Assignor::CooperativeSticky])
}

fn subscription(topics: &[&str], owned: Vec<TopicPartition>) -> Subscription {
    Subscription {
        topics: topics.iter().map(|t| t.to_string()).collect(),
        owned_partitions: owned,
        ..Default::default()
    }
}

/// The partitions of the assignment the leader sent for `member` in its
/// last SyncGroup.
pub(super) fn last_sync_for(s: &Setup, member: &str) -> Vec<TopicPartition> {
    let c = s.c.borrow();
    let sync = c.syncs.last().expect("a SyncGroup");
    let bytes = sync
        .assignments
        .iter()
        .find(|a| a.member_id == member)
        .map(|a| a.assignment.clone())
        .unwrap_or_default();
    Assignment::decode(&bytes).expect("decodes").partitions
}

#[test]
fn a_single_member_joins_leads_and_gets_every_partition() {
    let mut s = Setup::subscribed(eager(), Coordinator::default());
    assert_eq!(
        s.take_events(),
        [GroupEvent::PartitionsAssigned(tps("t", 0..4))]
    );
    assert_eq!(s.m.state(), GroupState::Stable);
    assert!(s.m.is_leader());
    assert_eq!((s.m.member_id(), s.m.generation_id()), ("member-1", 1));
    let c = s.c.borrow();
    let join = &c.joins[0];
    assert_eq!(join.protocol_type, "consumer");
    assert_eq!(join.protocols[0].name, "range");
    let (sub, version) = Subscription::decode(&join.protocols[0].metadata).unwrap();
    assert_eq!((sub.topics, version), (vec!["t".to_string()], 3));
    assert_eq!(join.session_timeout_ms, 45_000);
    assert_eq!(join.rebalance_timeout_ms, 300_000);
}

#[test]
fn a_topic_that_appears_while_the_leader_syncs_starts_a_new_rebalance() {
    // The leader found no metadata for "t", waited, and assigned nothing;
    // the topic's metadata came while SyncGroup was in flight. Stable with
    // nothing, it must rebalance, or the group never reads "t" (found by
    // the whole-client fuzz target: a consumer that stalled silently).
    let coordinator = Coordinator {
        node: 2,
        topics: Vec::new(),
        hold_sync: true,
        ..Coordinator::default()
    };
    let mut s = Setup::subscribed(eager(), coordinator);
    s.advance(Duration::from_secs(40));
    assert_eq!(
        s.c.borrow().syncs.len(),
        1,
        "the leader gave up waiting and synced"
    );
    {
        let mut c = s.c.borrow_mut();
        c.topics = vec![("t".into(), 4)];
        c.hold_sync = false;
    }
    let now = s.h.now;
    s.h.client.refresh_metadata(now);
    s.settle();
    assert!(s.h.client.metadata().topics.contains_key("t"));
    s.h.release_held();
    s.advance(Duration::from_secs(5));
    assert_eq!(s.c.borrow().joins.len(), 2, "a second rebalance");
    assert_eq!(
        s.take_events(),
        [
            GroupEvent::PartitionsAssigned(Vec::new()),
            GroupEvent::PartitionsAssigned(tps("t", 0..4)),
        ]
    );
}

#[test]
fn heartbeats_go_out_every_interval_while_stable() {
    let mut s = Setup::subscribed(eager(), Coordinator::default());
    s.advance(Duration::from_secs(30));
    let beats = s.c.borrow().heartbeats.clone();
    assert_eq!(beats.len(), 10, "{beats:?}");
    assert!(beats
        .iter()
        .all(|&(node, generation)| node == 1 && generation == 1));
    assert_eq!(s.take_events().len(), 1);
}

#[test]
fn a_follower_gets_its_assignment_from_sync_group() {
    let mine = Assignment {
        partitions: tps("t", [1, 3]),
        user_data: None,
    };
    let c = Coordinator {
        leader: Some("leader-0".into()),
        follower_assignment: mine.encode(1).unwrap(),
        ..Default::default()
    };
    let mut s = Setup::subscribed(eager(), c);
    assert!(!s.m.is_leader());
    assert_eq!(
        s.take_events(),
        [GroupEvent::PartitionsAssigned(tps("t", [1, 3]))]
    );
    // A follower sends no assignments.
    assert!(s.c.borrow().syncs[0].assignments.is_empty());
}

#[test]
fn member_id_required_rejoins_with_the_given_id() {
    let c = Coordinator {
        require_member_id: true,
        ..Default::default()
    };
    let mut s = Setup::subscribed(eager(), c);
    let ids: Vec<String> =
        s.c.borrow()
            .joins
            .iter()
            .map(|j| j.member_id.clone())
            .collect();
    assert_eq!(ids, ["", "member-1"]);
    assert_eq!(s.m.member_id(), "member-1");
    assert_eq!(
        s.take_events(),
        [GroupEvent::PartitionsAssigned(tps("t", 0..4))]
    );
}

#[test]
fn rebalance_in_progress_revokes_everything_then_rejoins_when_the_user_is_done() {
    let mut s = Setup::subscribed(eager(), Coordinator::default());
    s.take_events();
    s.c.borrow_mut()
        .fail_next(ApiKey::Heartbeat, ErrorCode::REBALANCE_IN_PROGRESS);
    s.c.borrow_mut().others = vec![("other".into(), subscription(&["t"], vec![]))];
    s.advance(Duration::from_secs(3));
    assert_eq!(
        s.take_events(),
        [GroupEvent::PartitionsRevoked(tps("t", 0..4))]
    );
    assert_eq!(s.m.state(), GroupState::Revoking);
    // Nothing is sent until the user is done: a slow commit stays safe.
    s.advance(Duration::from_secs(2));
    assert_eq!(s.c.borrow().joins.len(), 1);
    s.revocation_done();
    assert_eq!(s.c.borrow().joins.len(), 2);
    assert_eq!(
        s.take_events(),
        [GroupEvent::PartitionsAssigned(tps("t", [0, 1]))]
    );
    assert_eq!(last_sync_for(&s, "other"), tps("t", [2, 3]));
    assert_eq!(s.m.generation_id(), 2);
}

#[test]
fn cooperative_rebalance_revokes_only_the_partitions_that_move() {
    let mut s = Setup::subscribed(cooperative(), Coordinator::default());
    assert_eq!(
        s.take_events(),
        [GroupEvent::PartitionsAssigned(tps("t", 0..4))]
    );
    s.c.borrow_mut()
        .fail_next(ApiKey::Heartbeat, ErrorCode::REBALANCE_IN_PROGRESS);
    s.c.borrow_mut().others = vec![("other".into(), subscription(&["t"], vec![]))];
    s.advance(Duration::from_secs(3));
    // No revocation before rejoining: the member rejoined at once, saying
    // what it owns, and its own assignment held back the two that move.
    let join = s.c.borrow().joins[1].clone();
    let (sub, _) = Subscription::decode(&join.protocols[0].metadata).unwrap();
    assert_eq!(sub.owned_partitions, tps("t", 0..4));
    assert_eq!(sub.generation_id, Some(1));
    assert_eq!(last_sync_for(&s, "other"), tps("t", []));
    assert_eq!(
        s.take_events(),
        [GroupEvent::PartitionsRevoked(tps("t", [2, 3]))]
    );
    s.revocation_done();
    // Then it took up what was added (nothing) and rejoined; the moved
    // partitions now go to the other member.
    // (and heard, from the next rebalance, that nothing changed).
    let nothing = GroupEvent::PartitionsAssigned(vec![]);
    assert_eq!(s.take_events(), [nothing.clone(), nothing]);
    assert_eq!(s.c.borrow().joins.len(), 3);
    assert_eq!(last_sync_for(&s, "other"), tps("t", [2, 3]));
    assert_eq!(s.m.assignment(), tps("t", [0, 1]));
    assert_eq!(s.m.state(), GroupState::Stable);
}

#[test]
fn not_coordinator_mid_heartbeat_finds_the_new_coordinator_and_keeps_the_partitions() {
    let mut s = Setup::subscribed(eager(), Coordinator::default());
    s.take_events();
    s.advance(Duration::from_secs(3));
    s.c.borrow_mut().node = 2;
    s.advance(Duration::from_secs(4));
    let beats = s.c.borrow().heartbeats.clone();
    assert_eq!(beats.first(), Some(&(1, 1)));
    assert_eq!(beats.last(), Some(&(2, 1)), "{beats:?}");
    assert!(s.take_events().is_empty());
    assert_eq!(s.m.state(), GroupState::Stable);
    assert_eq!(s.m.generation_id(), 1);
}

#[test]
fn unknown_member_id_loses_the_partitions_and_rejoins_as_a_new_member() {
    let mut s = Setup::subscribed(eager(), Coordinator::default());
    s.take_events();
    s.c.borrow_mut()
        .fail_next(ApiKey::Heartbeat, ErrorCode::UNKNOWN_MEMBER_ID);
    s.advance(Duration::from_secs(3));
    assert_eq!(
        s.take_events(),
        [
            GroupEvent::PartitionsLost(tps("t", 0..4)),
            GroupEvent::PartitionsAssigned(tps("t", 0..4)),
        ]
    );
    let ids: Vec<String> =
        s.c.borrow()
            .joins
            .iter()
            .map(|j| j.member_id.clone())
            .collect();
    assert_eq!(ids, ["", ""]);
    assert_eq!(s.m.member_id(), "member-2");
}

#[test]
fn a_silent_coordinator_costs_the_partitions_after_the_session_timeout() {
    let config = eager().with_session_timeout(Duration::from_secs(10));
    let mut s = Setup::subscribed(config, Coordinator::default());
    s.take_events();
    s.c.borrow_mut().silent_heartbeats = true;
    s.advance(Duration::from_secs(9));
    assert!(s.take_events().is_empty());
    s.advance(Duration::from_secs(2));
    let events = s.take_events();
    assert_eq!(events[0], GroupEvent::PartitionsLost(tps("t", 0..4)));
    // It rejoined right away (JoinGroup is answered) and got them back.
    assert_eq!(events[1], GroupEvent::PartitionsAssigned(tps("t", 0..4)));
}

#[test]
fn fenced_instance_id_is_fatal() {
    let config = eager().with_group_instance_id("i-1");
    let mut s = Setup::subscribed(config, Coordinator::default());
    s.take_events();
    s.c.borrow_mut()
        .fail_next(ApiKey::Heartbeat, ErrorCode::FENCED_INSTANCE_ID);
    s.advance(Duration::from_secs(3));
    let events = s.take_events();
    assert_eq!(events[0], GroupEvent::PartitionsLost(tps("t", 0..4)));
    let GroupEvent::Error(error) = &events[1] else {
        panic!("{events:?}");
    };
    assert!(error.is_fatal());
    assert!(matches!(
        error,
        GroupError::Refused {
            code: ErrorCode::FENCED_INSTANCE_ID,
            ..
        }
    ));
    assert_eq!(s.m.state(), GroupState::Failed);
    // Nothing more is sent, and no timer is left.
    s.advance(Duration::from_secs(30));
    assert_eq!(s.c.borrow().joins.len(), 1);
    assert_eq!(s.m.poll_timeout(), None);
}

#[test]
fn a_static_member_closes_without_leaving_the_group() {
    let config = eager().with_group_instance_id("i-1");
    let mut s = Setup::subscribed(config, Coordinator::default());
    s.take_events();
    assert_eq!(
        s.c.borrow().joins[0].group_instance_id.as_deref(),
        Some("i-1")
    );
    let now = s.h.now;
    s.m.close(&mut s.h.client, now);
    s.settle();
    assert_eq!(
        s.take_events(),
        [GroupEvent::PartitionsRevoked(tps("t", 0..4))]
    );
    s.revocation_done();
    assert_eq!(s.take_events(), [GroupEvent::Closed]);
    assert!(s.c.borrow().leaves.is_empty());
    assert_eq!(s.m.state(), GroupState::Closed);
    s.advance(Duration::from_secs(10));
    assert!(s.c.borrow().heartbeats.is_empty());
}

#[test]
fn leave_sends_leave_group_for_static_and_dynamic_members() {
    for instance in [None, Some("i-1")] {
        let mut config = eager();
        config.group_instance_id = instance.map(str::to_string);
        let mut s = Setup::subscribed(config, Coordinator::default());
        let now = s.h.now;
        s.m.leave(&mut s.h.client, now);
        s.settle();
        s.revocation_done();
        assert_eq!(s.take_events().last(), Some(&GroupEvent::Closed));
        let c = s.c.borrow();
        let (version, leave) = &c.leaves[0];
        assert_eq!(*version, 5);
        assert_eq!(leave.members[0].member_id, "member-1");
        assert_eq!(leave.members[0].group_instance_id.as_deref(), instance);
    }
}

#[test]
fn leave_group_falls_back_to_the_single_member_form_on_old_brokers() {
    let mut c = Coordinator::default();
    c.max_versions.insert(ApiKey::LeaveGroup, 2);
    let mut s = Setup::subscribed(eager(), c);
    s.take_events();
    let now = s.h.now;
    s.m.close(&mut s.h.client, now);
    s.settle();
    s.revocation_done();
    let events = s.take_events();
    assert_eq!(events[1..], [GroupEvent::Closed]);
    let c = s.c.borrow();
    assert_eq!(c.leaves[0].0, 2);
    assert_eq!(c.leaves[0].1.member_id, "member-1");
}

/// Commits and reads back offsets at a broker whose newest OffsetCommit and
/// OffsetFetch version is `max`.
fn commit_and_fetch_at(max: i16) {
    let mut c = Coordinator::default();
    c.max_versions.insert(ApiKey::OffsetCommit, max);
    c.max_versions.insert(ApiKey::OffsetFetch, max);
    let mut s = Setup::new(GroupConfig::new("g"), c);
    let now = s.h.now;
    let offsets = BTreeMap::from([
        (
            ("t".to_string(), 0),
            OffsetAndMetadata::new(42).with_metadata("kafkite"),
        ),
        (("t".to_string(), 1), OffsetAndMetadata::new(7)),
    ]);
    let commit = s.m.commit(&mut s.h.client, offsets, now);
    s.settle();
    let asked = vec![
        ("t".to_string(), 0),
        ("t".to_string(), 1),
        ("t".to_string(), 2),
    ];
    let fetch = s.m.fetch_committed(&mut s.h.client, asked, now);
    s.settle();
    let events = s.take_events();
    let GroupEvent::Committed { id, results } = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(*id, commit);
    assert!(results.values().all(Result::is_ok), "{results:?}");
    let GroupEvent::CommittedOffsets { id, result } = &events[1] else {
        panic!("{events:?}");
    };
    assert_eq!(*id, fetch);
    let fetched = result.as_ref().expect("fetched");
    let first = OffsetAndMetadata::new(42).with_metadata("kafkite");
    assert_eq!(fetched[&("t".to_string(), 0)], Ok(Some(first)));
    assert_eq!(
        fetched[&("t".to_string(), 1)],
        Ok(Some(OffsetAndMetadata::new(7)))
    );
    assert_eq!(fetched[&("t".to_string(), 2)], Ok(None));
    let c = s.c.borrow();
    assert_eq!(c.commits[0].0, max);
    assert_eq!(c.fetches[0].0, max);
    // Outside group management: generation -1 and no member id.
    assert_eq!(c.commits[0].1.generation_id_or_member_epoch, -1);
}

#[test]
fn offsets_commit_and_fetch_at_v0() {
    commit_and_fetch_at(0);
}

#[test]
fn offsets_commit_and_fetch_at_v2() {
    commit_and_fetch_at(2);
}

#[test]
fn offsets_commit_and_fetch_at_the_newest_version() {
    commit_and_fetch_at(9);
}

#[test]
fn a_member_commits_under_its_generation_and_retries_a_moved_coordinator() {
    let mut s = Setup::subscribed(eager(), Coordinator::default());
    s.take_events();
    s.c.borrow_mut()
        .fail_next(ApiKey::OffsetCommit, ErrorCode::NOT_COORDINATOR);
    s.c.borrow_mut().fail_next(
        ApiKey::OffsetCommit,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
    );
    let now = s.h.now;
    let offsets = BTreeMap::from([(("t".to_string(), 0), OffsetAndMetadata::new(5))]);
    s.m.commit(&mut s.h.client, offsets, now);
    s.advance(Duration::from_secs(1));
    let events = s.take_events();
    let GroupEvent::Committed { results, .. } = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(results[&("t".to_string(), 0)], Ok(()));
    let c = s.c.borrow();
    assert_eq!(c.commits.len(), 3);
    let last = &c.commits[2].1;
    assert_eq!(
        (last.generation_id_or_member_epoch, last.member_id.as_str()),
        (1, "member-1")
    );
}

#[test]
fn an_older_commit_retried_after_a_newer_one_does_not_move_the_group_back() {
    let mut s = Setup::subscribed(eager(), Coordinator::default());
    s.take_events();
    s.c.borrow_mut().fail_next(
        ApiKey::OffsetCommit,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
    );
    let now = s.h.now;
    let tp = ("t".to_string(), 0);
    let older = BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(5))]);
    let newer = BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(7))]);
    s.m.commit(&mut s.h.client, older, now);
    s.m.commit(&mut s.h.client, newer, now);
    s.advance(Duration::from_secs(1));
    let events = s.take_events();
    let committed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            GroupEvent::Committed { results, .. } => Some(results[&tp].clone()),
            _ => None,
        })
        .collect();
    assert_eq!(committed, [Ok(()), Ok(())], "{events:?}");
    let c = s.c.borrow();
    assert_eq!(c.committed[&tp].0, 7, "the newer offset stays");
    assert_eq!(c.commits.len(), 2, "the older one is not sent again");
}

#[test]
fn a_commit_rejected_for_its_generation_is_reported_not_retried() {
    let mut s = Setup::subscribed(eager(), Coordinator::default());
    s.take_events();
    s.c.borrow_mut()
        .fail_next(ApiKey::OffsetCommit, ErrorCode::ILLEGAL_GENERATION);
    let now = s.h.now;
    let offsets = BTreeMap::from([(("t".to_string(), 0), OffsetAndMetadata::new(5))]);
    s.m.commit(&mut s.h.client, offsets, now);
    s.settle();
    let events = s.take_events();
    let GroupEvent::Committed { results, .. } = &events[0] else {
        panic!("{events:?}");
    };
    let error = results[&("t".to_string(), 0)].clone().unwrap_err();
    assert!(matches!(
        error,
        OffsetError::Partition {
            code: ErrorCode::ILLEGAL_GENERATION,
            ..
        }
    ));
    assert_eq!(s.c.borrow().commits.len(), 1);
}

#[test]
fn the_leader_rebalances_when_a_topic_grows() {
    let mut s = Setup::subscribed(cooperative(), Coordinator::default());
    s.take_events();
    s.c.borrow_mut().topics = vec![("t".into(), 6)];
    let now = s.h.now;
    s.h.client.refresh_metadata(now);
    s.settle();
    assert_eq!(s.c.borrow().joins.len(), 2);
    assert_eq!(
        s.take_events(),
        [GroupEvent::PartitionsAssigned(tps("t", [4, 5]))]
    );
    assert_eq!(s.m.assignment(), tps("t", 0..6));
}

#[test]
fn the_leader_waits_for_metadata_of_topics_only_other_members_want() {
    let mut c = Coordinator::default();
    c.topics.push(("u".into(), 2));
    c.others = vec![("other".into(), subscription(&["u"], vec![]))];
    let mut s = Setup::subscribed(eager(), c);
    assert_eq!(
        s.take_events(),
        [GroupEvent::PartitionsAssigned(tps("t", 0..4))]
    );
    assert_eq!(last_sync_for(&s, "other"), tps("u", 0..2));
}

#[test]
fn a_topic_only_another_member_wants_gets_assigned_once_it_exists() {
    let c = Coordinator {
        others: vec![("other".into(), subscription(&["u"], vec![]))],
        ..Default::default()
    };
    let mut s = Setup::subscribed(eager(), c);
    s.advance(Duration::from_secs(1));
    // The leader asked twice, then assigned without "u".
    assert_eq!(
        s.take_events(),
        [GroupEvent::PartitionsAssigned(tps("t", 0..4))]
    );
    assert_eq!(last_sync_for(&s, "other"), tps("u", []));
    s.c.borrow_mut().topics.push(("u".into(), 3));
    let now = s.h.now;
    s.h.client.refresh_metadata(now);
    s.settle();
    s.revocation_done();
    assert_eq!(last_sync_for(&s, "other"), tps("u", 0..3));
    assert_eq!(s.m.assignment(), tps("t", 0..4));
}

#[test]
fn poll_timeout_stays_in_the_future_through_errors_and_rebalances() {
    let mut s = Setup::subscribed(cooperative(), Coordinator::default());
    let codes = [
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::REBALANCE_IN_PROGRESS,
        ErrorCode::ILLEGAL_GENERATION,
    ];
    for code in codes {
        s.c.borrow_mut().fail_next(ApiKey::Heartbeat, code);
        s.c.borrow_mut()
            .fail_next(ApiKey::JoinGroup, ErrorCode::COORDINATOR_NOT_AVAILABLE);
        // Setup::advance checks poll_timeout after every step.
        s.advance(Duration::from_secs(7));
        s.revocation_done();
        assert_eq!(s.m.state(), GroupState::Stable, "after {code:?}");
    }
    let t = s.m.poll_timeout().expect("a heartbeat is due");
    assert!(t > s.h.now && t <= s.h.now + Duration::from_secs(3));
}

#[test]
fn a_kafka_0_9_coordinator_is_joined_at_v0() {
    let mut c = Coordinator::default();
    for api in [
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::FindCoordinator,
    ] {
        c.max_versions.insert(api, 0);
    }
    let mut s = Setup::subscribed(eager(), c);
    assert_eq!(
        s.take_events(),
        [GroupEvent::PartitionsAssigned(tps("t", 0..4))]
    );
    s.advance(Duration::from_secs(3));
    assert_eq!(s.c.borrow().heartbeats.len(), 1);
    let now = s.h.now;
    s.m.leave(&mut s.h.client, now);
    s.settle();
    s.revocation_done();
    let c = s.c.borrow();
    assert_eq!(
        (c.leaves[0].0, c.leaves[0].1.member_id.as_str()),
        (0, "member-1")
    );
}

#[test]
fn a_static_member_on_a_broker_without_static_membership_fails_clearly() {
    let mut c = Coordinator::default();
    c.max_versions.insert(ApiKey::JoinGroup, 4);
    let mut s = Setup::subscribed(eager().with_group_instance_id("i-1"), c);
    let events = s.take_events();
    assert!(
        matches!(
            &events[..],
            [GroupEvent::Error(GroupError::Request {
                api: ApiKey::JoinGroup,
                error: crate::client::RequestError::UnsupportedVersion { .. },
                ..
            })]
        ),
        "{events:?}"
    );
    assert_eq!(s.m.state(), GroupState::Failed);
}
