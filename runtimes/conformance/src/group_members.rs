//! Scenarios for [`GroupConsumer`]: members of one group share its
//! partitions without overlap, and take over those of a member that
//! leaves.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_lite::{future, StreamExt};

use kafkite::consumer::group::GroupConfig;
use kafkite::consumer::{FetchConfig, GroupConsumerConfig};
use kafkite_testkit::{unique_name, Peer};

use super::support::{connect, create_topic, produce, within, SCENARIO_LIMIT};
use kafkite_driver::{GroupConsumer, GroupMessage, Runtime, Session, TopicPartition};

/// How long a group may take to settle after a member joins or leaves.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

const PARTITIONS: i32 = 4;

/// The suites' group member: short session (10 s) and heartbeat (500 ms)
/// times, within every release's `group.min.session.timeout.ms` (6 s) and
/// maximum, so a member whose connection died is noticed soon; fetches
/// that wait at most 100 ms; auto-commit every 500 ms.
pub fn member_config(group: &str) -> GroupConsumerConfig {
    let mut config = GroupConsumerConfig::new(group);
    config.group = GroupConfig::new(group)
        .with_session_timeout(Duration::from_secs(10))
        .with_heartbeat_interval(Duration::from_millis(500))
        .with_rebalance_timeout(Duration::from_secs(20));
    config.fetch = FetchConfig {
        max_wait: Duration::from_millis(100),
        ..FetchConfig::default()
    };
    config.auto_commit = Some(Duration::from_millis(500));
    config
}

/// One member's view: what it owns and what it read.
#[derive(Default, Debug)]
pub(crate) struct MemberView {
    pub owned: BTreeSet<TopicPartition>,
    pub read: BTreeSet<(i32, i64)>,
}

impl MemberView {
    pub(crate) fn apply(&mut self, message: GroupMessage, what: &str) {
        match message {
            GroupMessage::Assigned(tps) => self.owned.extend(tps),
            GroupMessage::Revoked(tps) | GroupMessage::Lost(tps) => {
                for tp in tps {
                    self.owned.remove(&tp);
                }
            }
            GroupMessage::Record(record) => {
                assert!(
                    self.owned
                        .contains(&(record.topic.to_string(), record.partition)),
                    "{what}: a record of {}-{} it does not own",
                    record.topic,
                    record.partition
                );
                self.read.insert((record.partition, record.offset));
            }
        }
    }
}

/// Two kafkite members split a 4-partition topic with no overlap and read
/// every record between them; when one leaves, the other takes over all
/// partitions and reads what comes next.
///
/// Not run on librdkafka's mock cluster: it advertises JoinGroup v6+ and
/// SyncGroup v4+ but closes the connection on them, and below those its
/// SyncGroup answers a follower with a null assignment, which the protocol
/// does not allow (the Java client rejects it too).
pub async fn group_members_split_partitions_and_take_over<R: Runtime + Default>(peer: &Peer) {
    let what = format!(
        "{} group_members_split_partitions_and_take_over",
        peer.kind()
    );
    within::<R, _>(SCENARIO_LIMIT * 2, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = unique_name("group-members");
        create_topic(&session, peer, &topic, PARTITIONS, &what).await;
        let all: BTreeSet<TopicPartition> = (0..PARTITIONS).map(|p| (topic.clone(), p)).collect();
        for p in 0..PARTITIONS {
            produce(&session, &topic, p, &["first", "second"]).await;
        }
        let group = unique_name("members");
        // One session each, as separate processes would have: a broker
        // answers one request per connection at a time, and a JoinGroup is
        // held until the whole group has joined, so two members sharing
        // connections would hold up each other's heartbeats.
        let (session_a, session_b) = (
            connect::<R>(peer.bootstrap()).await,
            connect::<R>(peer.bootstrap()).await,
        );
        let mut a = member(&session_a, &group, &topic, &what);
        let mut b = member(&session_b, &group, &topic, &what);
        let (mut view_a, mut view_b) = (MemberView::default(), MemberView::default());

        let produced: BTreeSet<(i32, i64)> =
            (0..PARTITIONS).flat_map(|p| [(p, 0), (p, 1)]).collect();
        let split = |a: &MemberView, b: &MemberView| {
            let union: BTreeSet<_> = a.owned.union(&b.owned).cloned().collect();
            let read: BTreeSet<_> = a.read.union(&b.read).cloned().collect();
            !a.owned.is_empty()
                && !b.owned.is_empty()
                && a.owned.is_disjoint(&b.owned)
                && union == all
                && read.is_superset(&produced)
        };
        let deadline = Instant::now() + SETTLE_LIMIT;
        while !split(&view_a, &view_b) {
            poll_both::<R>(&mut a, &mut view_a, &mut b, &mut view_b, deadline, &what).await;
            assert!(
                view_a.owned.is_disjoint(&view_b.owned),
                "{what}: both own {:?}",
                view_a.owned.intersection(&view_b.owned).collect::<Vec<_>>()
            );
        }

        // A leaves: B takes every partition and reads what comes next.
        a.close().await;
        for p in 0..PARTITIONS {
            produce(&session, &topic, p, &["third"]).await;
        }
        let deadline = Instant::now() + SETTLE_LIMIT;
        while !(view_b.owned == all && (0..PARTITIONS).all(|p| view_b.read.contains(&(p, 2)))) {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let message = next_message::<R>(&mut b, remaining, &what).await;
            view_b.apply(message, &format!("{what}: member b"));
        }
        b.close().await;
        for session in [session, session_a, session_b] {
            session.close().await;
        }
    })
    .await
}

fn member<R: Runtime>(
    session: &Session<R>,
    group: &str,
    topic: &str,
    what: &str,
) -> GroupConsumer<R> {
    let member = GroupConsumer::new(session, member_config(group))
        .unwrap_or_else(|e| panic!("{what}: new member: {e}"));
    member
        .subscribe(&[topic])
        .unwrap_or_else(|e| panic!("{what}: subscribe: {e}"));
    member
}

/// Takes the next message of whichever member has one first.
async fn poll_both<R: Runtime + Default>(
    a: &mut GroupConsumer<R>,
    view_a: &mut MemberView,
    b: &mut GroupConsumer<R>,
    view_b: &mut MemberView,
    deadline: Instant,
    what: &str,
) {
    let runtime = R::default();
    let timeout = async {
        runtime.sleep_until(deadline).await;
        None
    };
    let from_a = async { Some((true, a.next().await)) };
    let from_b = async { Some((false, b.next().await)) };
    let taken = future::or(future::or(from_a, from_b), timeout).await;
    match taken {
        Some((true, Some(Ok(message)))) => view_a.apply(message, &format!("{what}: member a")),
        Some((false, Some(Ok(message)))) => view_b.apply(message, &format!("{what}: member b")),
        Some((first, other)) => {
            let name = if first { "a" } else { "b" };
            panic!("{what}: member {name}: {other:?}")
        }
        None => panic!(
            "{what}: the group did not settle within {SETTLE_LIMIT:?}: a owns {:?}, b owns {:?}, read {:?} / {:?}",
            view_a.owned, view_b.owned, view_a.read, view_b.read
        ),
    }
}

/// The next message of one member, or a failed test after `limit`.
pub(crate) async fn next_message<R: Runtime + Default>(
    member: &mut GroupConsumer<R>,
    limit: Duration,
    what: &str,
) -> GroupMessage {
    let runtime = R::default();
    let timeout = async {
        runtime.sleep_until(Instant::now() + limit).await;
        None
    };
    match future::or(async { Some(member.next().await) }, timeout).await {
        Some(Some(Ok(message))) => message,
        Some(other) => panic!("{what}: {other:?}"),
        None => panic!("{what}: nothing within {limit:?}"),
    }
}

/// Without auto-commit, a member that owns partitions still closes: the
/// revocation that closing starts needs no `revocation_done` from the
/// caller, who has given the consumer up.
pub async fn member_without_auto_commit_closes_while_owning_partitions<R: Runtime + Default>(
    peer: &Peer,
) {
    let what = format!("{} member_without_auto_commit_closes", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = unique_name("close-owning");
        create_topic(&session, peer, &topic, 2, &what).await;
        let mut config = member_config(&unique_name("close-owning"));
        config.auto_commit = None;
        let mut member =
            GroupConsumer::new(&session, config).unwrap_or_else(|e| panic!("{what}: new: {e}"));
        member
            .subscribe(&[&topic])
            .unwrap_or_else(|e| panic!("{what}: subscribe: {e}"));
        loop {
            match next_message::<R>(&mut member, SETTLE_LIMIT, &what).await {
                GroupMessage::Assigned(tps) if !tps.is_empty() => break,
                _ => {}
            }
        }
        let runtime = R::default();
        let limit = Instant::now() + SETTLE_LIMIT;
        let close = async {
            member.close().await;
            Some(())
        };
        let closed = future::or(close, async {
            runtime.sleep_until(limit).await;
            None
        })
        .await;
        assert!(
            closed.is_some(),
            "{what}: close did not finish within {SETTLE_LIMIT:?}"
        );
        session.close().await;
    })
    .await
}

/// The most wake-ups per second an idle member may cost: what its timers
/// and the broker's answers explain (a heartbeat and an auto-commit every
/// 500 ms, a Fetch long poll answered empty every 100 ms), with room to
/// spare. A loop spinning on a deadline would wake thousands of times.
const IDLE_WAKEUPS_PER_SECOND: u64 = 100;

/// With nothing to read, a member's event loop sleeps between its timers
/// and the broker's answers: the engine's deadlines are trusted, and none
/// is ever in the past.
pub async fn an_idle_member_wakes_only_for_its_timers<R: Runtime + Default>(peer: &Peer) {
    let what = format!("{} an_idle_member_wakes_only_for_its_timers", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = unique_name("idle");
        create_topic(&session, peer, &topic, 2, &what).await;
        let mut member = member(&session, &unique_name("idle"), &topic, &what);
        loop {
            match next_message::<R>(&mut member, SETTLE_LIMIT, &what).await {
                GroupMessage::Assigned(tps) if !tps.is_empty() => break,
                _ => {}
            }
        }
        let seconds = 3;
        let before = session.wakeups();
        R::default()
            .sleep_until(Instant::now() + Duration::from_secs(seconds))
            .await;
        let woke = session.wakeups() - before;
        assert!(
            woke > 0 && woke <= IDLE_WAKEUPS_PER_SECOND * seconds,
            "{what}: {woke} wake-ups in {seconds} s of idling"
        );
        member.close().await;
        session.close().await;
    })
    .await
}
