//! Group members the leader cannot trust: the subscription metadata in a
//! JoinGroup answer is whatever another member wrote, so what the leader
//! holds while assigning must be bounded by what exists in the cluster,
//! not by what members claim. Peak memory is measured with the counting
//! allocator of the unit tests.

use bytes::{BufMut, Bytes, BytesMut};

use super::protocol::ConsumerProtocolError;
use super::scripted::{tps, Coordinator, Setup};
use super::tests::last_sync_for;
use super::*;
use crate::memory_probe::peak_bytes;
use crate::protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;
use crate::protocol::messages::ConsumerProtocolSubscription;
use crate::protocol::{Message, TopicNameError};

/// Subscription bytes at v1 (topics, user data, owned partitions), built
/// from the wire struct so that nothing checks them on the way out.
fn raw_subscription(topics: &[&str], owned: Vec<(String, Vec<i32>)>) -> Bytes {
    let wire = ConsumerProtocolSubscription {
        topics: topics.iter().map(|t| t.to_string()).collect(),
        owned_partitions: owned
            .into_iter()
            .map(|(topic, partitions)| OwnedTopic { topic, partitions })
            .collect(),
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    buf.put_i16(1);
    wire.encode(&mut buf, 1).expect("encodes");
    buf.freeze()
}

fn range() -> GroupConfig {
    GroupConfig::new("g").with_assignors(vec![Assignor::Range])
}

/// The leader joins with `others_raw` in its group and assigns; returns
/// the setup and the most bytes it held meanwhile.
fn lead_with(others_raw: Vec<(String, Bytes)>, config: GroupConfig) -> (Setup, usize) {
    let coordinator = Coordinator {
        others_raw,
        ..Default::default()
    };
    peak_bytes(|| Setup::subscribed(config, coordinator))
}

/// The reproduction: two members each claim 20,000 partitions of
/// a topic whose name is 32,767 bytes (225 KB of JoinGroup answer, 1.3 GB
/// of leader memory when each claim copied the name). Such a name cannot
/// be a topic: both subscriptions are refused, typed, and the leader
/// assigns the real topic to itself within a few megabytes.
#[test]
fn topic_names_no_broker_allows_are_refused_before_they_are_copied() {
    let name = "x".repeat(i16::MAX as usize);
    let hostile = raw_subscription(&["t"], vec![(name, (0..20_000).collect())]);
    assert!(hostile.len() > 110_000);
    let received = 2 * hostile.len();
    let others = vec![
        ("h1".to_string(), hostile.clone()),
        ("h2".to_string(), hostile),
    ];
    let (mut s, peak) = lead_with(others, range());
    eprintln!("leader peak: {peak} bytes for {received} bytes of subscriptions");
    // The answer is held a few times over (encoded by the scripted
    // coordinator, framed, decoded): a small multiple of it, no more.
    assert!(
        peak < 4 * received,
        "the leader held {peak} bytes at its peak"
    );
    let refused: Vec<String> = s
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            GroupEvent::Error(GroupError::BadSubscription {
                member_id,
                error:
                    ConsumerProtocolError::InvalidTopicName {
                        name,
                        source: TopicNameError::TooLong { len: 32_767 },
                        ..
                    },
                ..
            }) => Some(format!("{member_id}:{}", name.len())),
            _ => None,
        })
        .collect();
    assert_eq!(refused, ["h1:64", "h2:64"]);
    assert_eq!(s.m.assignment(), tps("t", 0..4));
}

/// Valid names, but claims on partitions that do not exist (a topic
/// nobody has, partitions beyond the count) and one partition claimed
/// 20,000 times: the leader keeps none of the former and one of the
/// latter, and still honours the claim with the sticky assignor.
#[test]
fn claims_on_missing_or_repeated_partitions_are_not_kept() {
    let mut owned = vec![("nosuchtopic".to_string(), (0..20_000).collect())];
    owned.push(("t".to_string(), (4..20_004).collect()));
    owned.push(("t".to_string(), vec![3; 20_000]));
    let hostile = raw_subscription(&["t"], owned);
    let config = GroupConfig::new("g").with_assignors(vec![Assignor::CooperativeSticky]);
    let received = hostile.len();
    let (s, peak) = lead_with(vec![("h".to_string(), hostile)], config);
    eprintln!("leader peak: {peak} bytes for {received} bytes of subscription");
    assert!(
        peak < 4 * received,
        "the leader held {peak} bytes at its peak"
    );
    // The hostile member keeps partition 3, the only claim that exists;
    // the leader (member-1) gets the rest.
    let of = |member: &str| last_sync_for(&s, member);
    assert!(of("h").contains(&("t".to_string(), 3)), "{:?}", of("h"));
    assert_eq!(of("h").len() + of("member-1").len(), 4);
}

/// A leader can hand a member partitions of topics it never subscribed
/// to; the member takes up only its own topics.
#[test]
fn a_follower_takes_up_only_partitions_of_its_topics() {
    let assignment = super::protocol::Assignment {
        partitions: vec![
            ("t".to_string(), 1),
            ("other".to_string(), 0),
            ("other".to_string(), 1),
        ],
        user_data: None,
    };
    let coordinator = Coordinator {
        leader: Some("someone-else".into()),
        follower_assignment: assignment.encode(3).expect("encodes"),
        ..Default::default()
    };
    let s = Setup::subscribed(range(), coordinator);
    assert_eq!(s.m.assignment(), tps("t", 1..2));
}
