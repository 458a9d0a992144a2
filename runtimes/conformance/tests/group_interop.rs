//! Consumer group interop on Apache Kafka 4.4 (issue 6), against the two
//! reference clients: the Java client (kafka-clients 4.4) and
//! confluent-kafka (librdkafka 2.16), each run as a long-lived group member
//! (`kafkite_testkit::group_interop`).
//!
//! - Offsets, both ways: what kafkite commits (`GroupOffsets` and the
//!   envelope `Consumer`) is where the other clients start reading, and
//!   what they commit is where kafkite's envelope `Consumer` and
//!   `GroupConsumer` start, with their metadata fetched back by kafkite.
//! - Membership: two kafkite `GroupConsumer`s and one member of the other
//!   client, all with the classic protocol and the range assignor, split a
//!   6-partition topic two each with no overlap; a kafkite member leaves
//!   and the remaining two take three each; the other client leaves and
//!   the last kafkite member takes all six. After every settled split, a
//!   new record on each partition is read by the member that owns it (and
//!   by no other). Run twice per client: with kafkite a joining alone
//!   first, so kafkite leads (computes the assignment from the other
//!   client's subscription), and with the other client first, leading
//!   until it leaves (kafkite decodes its assignments).
//!
//! One runtime is enough here: the driver is shared by all three.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

use kafkite_smol::{
    Assignor, ClientConfig, Consumer, FetchConfig, GroupConfig, GroupConsumer, GroupConsumerConfig,
    GroupMessage, GroupOffsets, NewTopic, OffsetAndMetadata, OffsetSpec, Producer, ProducerConfig,
    ProducerRecord, Session,
};
use kafkite_testkit::group_interop::{MemberClient, MemberEvent, PeerMember};
use kafkite_testkit::{shared, unique_name, Peer, PeerKind};
use smol::future;
use smol::stream::{Stream, StreamExt};

use kafkite::TopicPartition;

/// The longest one test may take (a loaded 2-core machine: Kafka may take
/// seconds to create a topic, a JVM seconds to start).
const TEST_LIMIT: Duration = Duration::from_secs(240);

/// How long a group may take to settle after a member joins or leaves, and
/// a member to read what it should.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// How long a peer member may take to leave its group and exit.
const LEAVE_LIMIT: Duration = Duration::from_secs(30);

/// Partitions of the membership tests' topic: two each for three members.
const SPLIT_PARTITIONS: i32 = 6;

#[test]
fn java_and_confluent_resume_where_kafkite_committed() {
    let what = "java_and_confluent_resume_where_kafkite_committed";
    let kafka = kafka();
    run(what, async {
        let session = connect(kafka.bootstrap()).await;
        let topic = new_topic(&session, "kafkite-commits", 2).await;
        produce_rounds(&session, &topic, 2, 10).await;
        let name = unique_name("kafkite-commits");
        let group = GroupOffsets::new(session.clone(), name.clone());

        // Partition 0 through GroupOffsets, partition 1 through an
        // envelope: four acked (nothing stored), the fifth committed.
        let offsets = BTreeMap::from([(
            (topic.clone(), 0),
            OffsetAndMetadata::new(2).with_metadata("kafkite-group"),
        )]);
        group
            .commit_offsets(&offsets)
            .await
            .unwrap_or_else(|e| panic!("{what}: commit_offsets: {e}"));
        let consumer = Consumer::new(
            &session,
            group.clone(),
            [(topic.clone(), vec![1])],
            Duration::from_millis(100),
            1,
        );
        let mut envelopes = consumer.consume(Some(5));
        let mut read = Vec::new();
        while let Some(envelope) = next_within(&mut envelopes, what).await {
            let envelope = envelope.unwrap_or_else(|e| panic!("{what}: envelope: {e}"));
            read.push(envelope.offset);
            if envelope.offset == 4 {
                envelope
                    .commit("kafkite-envelope")
                    .await
                    .unwrap_or_else(|e| panic!("{what}: envelope commit: {e}"));
            } else {
                envelope.ack();
            }
        }
        drop(envelopes);
        assert_eq!(read, [0, 1, 2, 3, 4], "{what}: envelopes of partition 1");
        let expected = BTreeMap::from([
            (0, (2, Some("kafkite-group".to_string()))),
            (1, (5, Some("kafkite-envelope".to_string()))),
        ]);
        assert_eq!(
            committed(&group, &topic, 2).await,
            expected,
            "{what}: committed by kafkite"
        );

        // Neither peer commits, so each in turn starts from kafkite's offsets.
        for client in MemberClient::ALL {
            let mut peer = start_peer(client, kafka, &name, &topic);
            let first = first_peer_offsets(&mut peer, &topic, 2);
            leave(peer);
            assert_eq!(
                first,
                BTreeMap::from([(0, 2), (1, 5)]),
                "{what}: the first offsets {client} read"
            );
        }
        session.close().await;
    })
}

#[test]
fn kafkite_resumes_where_java_committed() {
    resumes_where_peer_committed(MemberClient::Java);
}

#[test]
fn kafkite_resumes_where_confluent_committed() {
    resumes_where_peer_committed(MemberClient::Confluent);
}

#[test]
fn two_kafkite_members_and_a_java_member_split_partitions_and_take_over() {
    members_split_partitions_and_take_over(MemberClient::Java, Leader::Kafkite);
}

#[test]
fn two_kafkite_members_and_a_java_leader_split_partitions_and_take_over() {
    members_split_partitions_and_take_over(MemberClient::Java, Leader::Peer);
}

#[test]
fn two_kafkite_members_and_a_confluent_member_split_partitions_and_take_over() {
    members_split_partitions_and_take_over(MemberClient::Confluent, Leader::Kafkite);
}

#[test]
fn two_kafkite_members_and_a_confluent_leader_split_partitions_and_take_over() {
    members_split_partitions_and_take_over(MemberClient::Confluent, Leader::Peer);
}

/// The peer, a group member, commits offsets 3 and 7 with its metadata and
/// leaves; kafkite fetches them with the metadata, and its envelope
/// `Consumer` and a `GroupConsumer` start reading there.
fn resumes_where_peer_committed(client: MemberClient) {
    let what = format!("kafkite_resumes_where_{client}_committed");
    let what = what.as_str();
    let kafka = kafka();
    run(what, async {
        let session = connect(kafka.bootstrap()).await;
        let topic = new_topic(&session, &format!("{client}-commits"), 2).await;
        produce_rounds(&session, &topic, 2, 10).await;
        let name = unique_name(&format!("{client}-commits"));

        let mut peer = start_peer(client, kafka, &name, &topic);
        let both: BTreeSet<TopicPartition> = [(topic.clone(), 0), (topic.clone(), 1)].into();
        let mut owned = BTreeSet::new();
        while owned != both {
            match peer_event(&mut peer, "its assignment") {
                MemberEvent::Assigned(tps) => owned.extend(tps),
                MemberEvent::Revoked(tps) | MemberEvent::Lost(tps) => {
                    for tp in &tps {
                        owned.remove(tp);
                    }
                }
                _ => {}
            }
        }
        let sent = format!("{client}-peer");
        peer.commit(&sent, &[(&topic, 0, 3), (&topic, 1, 7)])
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        loop {
            if let MemberEvent::Committed(offsets) = peer_event(&mut peer, "its commit") {
                let expected = vec![(topic.clone(), 0, 3), (topic.clone(), 1, 7)];
                assert_eq!(offsets, expected, "{what}: {client} says it committed");
                break;
            }
        }
        leave(peer);

        // confluent-kafka-python sends the metadata string with its C
        // terminator (`metadata_size = strlen + 1` in its TopicPartition
        // conversion), so the broker holds a trailing NUL; kafka-clients
        // sends the string as it is. kafkite must fetch the bytes stored.
        let metadata = match client {
            MemberClient::Java => sent,
            MemberClient::Confluent => format!("{sent}\0"),
        };
        let group = GroupOffsets::new(session.clone(), name.clone());
        let expected = BTreeMap::from([
            (0, (3, Some(metadata.clone()))),
            (1, (7, Some(metadata.clone()))),
        ]);
        assert_eq!(
            committed(&group, &topic, 2).await,
            expected,
            "{what}: what kafkite fetches"
        );

        // The envelope consumer only acks: it stores nothing.
        let consumer = Consumer::new(
            &session,
            group.clone(),
            [(topic.clone(), vec![0, 1])],
            Duration::from_millis(100),
            1,
        );
        let mut envelopes = consumer.consume(None);
        let mut first = BTreeMap::new();
        while first.len() < 2 {
            let envelope = next_within(&mut envelopes, what)
                .await
                .unwrap_or_else(|| panic!("{what}: the envelope stream ended"))
                .unwrap_or_else(|e| panic!("{what}: envelope: {e}"));
            first.entry(envelope.partition).or_insert(envelope.offset);
            envelope.ack();
        }
        drop(envelopes);
        let resume_at = BTreeMap::from([(0, 3), (1, 7)]);
        assert_eq!(
            first, resume_at,
            "{what}: where the envelope Consumer starts"
        );

        let member_session = connect(kafka.bootstrap()).await;
        let mut member = KafkiteMember::join("kafkite member", &member_session, &name, &topic);
        let deadline = Instant::now() + SETTLE_LIMIT;
        let mut first = BTreeMap::new();
        while first.len() < 2 {
            assert!(
                Instant::now() < deadline,
                "{what}: the GroupConsumer read {first:?} within {SETTLE_LIMIT:?}"
            );
            member.pump(what).await;
            for &(partition, offset) in &member.view.read {
                first.entry(partition).or_insert(offset);
            }
        }
        member.consumer.close().await;
        assert_eq!(first, resume_at, "{what}: where the GroupConsumer starts");
        for session in [session, member_session] {
            session.close().await;
        }
    })
}

/// Which member joins alone first and so leads the group (computes the
/// assignment: the leader decodes the others' subscriptions, they decode
/// its assignments). It stays the leader until it leaves.
#[derive(Clone, Copy, PartialEq)]
enum Leader {
    /// kafkite a.
    Kafkite,
    /// The reference client's member.
    Peer,
}

/// Two kafkite members and the peer share a 6-partition topic, with the
/// leader joining alone first; then kafkite a leaves, then the peer.
fn members_split_partitions_and_take_over(client: MemberClient, leader: Leader) {
    let role = if leader == Leader::Peer {
        "leader"
    } else {
        "member"
    };
    let what = format!("two_kafkite_members_and_a_{client}_{role}_split_partitions_and_take_over");
    let what = what.as_str();
    let kafka = kafka();
    run(what, async {
        let session = connect(kafka.bootstrap()).await;
        let topic = new_topic(&session, &format!("{client}-split"), SPLIT_PARTITIONS).await;
        let producer = Producer::new(&session, ProducerConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{what}: producer: {e}"));
        let name = unique_name(&format!("{client}-split"));
        // Each kafkite member has a session of its own, as separate
        // processes would.
        let (session_a, session_b) = (
            connect(kafka.bootstrap()).await,
            connect(kafka.bootstrap()).await,
        );
        let peer_side = || PeerSide {
            name: format!("{client} {role}"),
            member: start_peer(client, kafka, &name, &topic),
            view: MemberView::default(),
        };
        let mut group = Group {
            what,
            topic: topic.clone(),
            kafkite: Vec::new(),
            peer: None,
        };
        match leader {
            Leader::Kafkite => {
                let a = KafkiteMember::join("kafkite a", &session_a, &name, &topic);
                group.kafkite.push(a);
                group
                    .settle(SPLIT_PARTITIONS as usize, "kafkite a joins alone")
                    .await;
                group.peer = Some(peer_side());
            }
            Leader::Peer => {
                group.peer = Some(peer_side());
                let alone = format!("the {client} {role} joins alone");
                group.settle(SPLIT_PARTITIONS as usize, &alone).await;
                let a = KafkiteMember::join("kafkite a", &session_a, &name, &topic);
                group.kafkite.push(a);
            }
        }
        let b = KafkiteMember::join("kafkite b", &session_b, &name, &topic);
        group.kafkite.push(b);

        group.settle(2, "three members join").await;
        produce_round(&producer, &topic, SPLIT_PARTITIONS, 0).await;
        group.read_by_owners(0).await;

        let a = group.kafkite.remove(0);
        a.consumer.close().await;
        group.settle(3, "kafkite a left").await;
        produce_round(&producer, &topic, SPLIT_PARTITIONS, 1).await;
        group.read_by_owners(1).await;

        if let Some(peer) = group.peer.take() {
            leave(peer.member);
        }
        group
            .settle(
                SPLIT_PARTITIONS as usize,
                &format!("the {client} {role} left"),
            )
            .await;
        produce_round(&producer, &topic, SPLIT_PARTITIONS, 2).await;
        group.read_by_owners(2).await;

        for member in group.kafkite.drain(..) {
            member.consumer.close().await;
        }
        producer.close().await;
        for session in [session, session_a, session_b] {
            session.close().await;
        }
    })
}

/// The members of one group, as the test sees them.
struct Group<'a> {
    what: &'a str,
    topic: String,
    kafkite: Vec<KafkiteMember>,
    peer: Option<PeerSide>,
}

impl Group<'_> {
    /// Takes what every member has to say until each owns `per_member`
    /// partitions, none owned twice and every one owned. With the eager
    /// range assignor no intermediate generation looks like that; member
    /// views are updated from separate streams, so overlap is judged once
    /// settled (a member that kept a partition would keep the group from
    /// settling, and the message says who owns what).
    async fn settle(&mut self, per_member: usize, phase: &str) {
        let deadline = Instant::now() + SETTLE_LIMIT;
        while !self.settled(per_member) {
            assert!(
                Instant::now() < deadline,
                "{}: after {phase}, the group did not settle to {per_member} partitions each within {SETTLE_LIMIT:?}: {}",
                self.what,
                self.owners()
            );
            self.pump().await;
        }
        eprintln!("{}: after {phase}: {}", self.what, self.owners());
    }

    fn settled(&self, per_member: usize) -> bool {
        let views = self.views();
        let mut union = BTreeSet::new();
        let mut total = 0;
        for (_, view) in &views {
            if view.owned.len() != per_member {
                return false;
            }
            total += view.owned.len();
            union.extend(view.owned.iter().cloned());
        }
        total == union.len() && union == self.all()
    }

    /// Waits until the record at `offset` of every partition has been read
    /// by the member that owns the partition.
    async fn read_by_owners(&mut self, offset: i64) {
        let deadline = Instant::now() + SETTLE_LIMIT;
        loop {
            let missing: Vec<String> = self
                .all()
                .into_iter()
                .filter_map(|tp| {
                    let views = self.views();
                    let Some((owner, view)) = views.iter().find(|(_, v)| v.owned.contains(&tp))
                    else {
                        return Some(format!("nobody owns {}", tp.1));
                    };
                    let read = view.read.contains(&(tp.1, offset));
                    (!read).then(|| format!("{owner}: {}-{offset}", tp.1))
                })
                .collect();
            if missing.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: owners did not read {missing:?} within {SETTLE_LIMIT:?}; {}",
                self.what,
                self.owners()
            );
            self.pump().await;
        }
        // The owner read it, and nobody else did.
        for tp in self.all() {
            let readers: Vec<&str> = self
                .views()
                .into_iter()
                .filter(|(_, v)| v.read.contains(&(tp.1, offset)))
                .map(|(name, _)| name)
                .collect();
            assert_eq!(
                readers.len(),
                1,
                "{}: {}-{offset} read by {readers:?}",
                self.what,
                tp.1
            );
        }
    }

    /// Takes every message each member has ready, or waits a moment when
    /// none has any.
    async fn pump(&mut self) {
        let mut any = false;
        for member in &mut self.kafkite {
            any |= member.drain(self.what).await;
        }
        if let Some(peer) = &mut self.peer {
            while let Some(event) = peer
                .member
                .try_event()
                .unwrap_or_else(|e| panic!("{}: {}: {e}", self.what, peer.name))
            {
                peer.view
                    .apply_peer(event, &format!("{}: {}", self.what, peer.name));
                any = true;
            }
        }
        if !any {
            smol::Timer::after(Duration::from_millis(20)).await;
        }
    }

    fn all(&self) -> BTreeSet<TopicPartition> {
        (0..SPLIT_PARTITIONS)
            .map(|p| (self.topic.clone(), p))
            .collect()
    }

    fn views(&self) -> Vec<(&str, &MemberView)> {
        let mut views: Vec<(&str, &MemberView)> =
            self.kafkite.iter().map(|m| (m.name, &m.view)).collect();
        if let Some(peer) = &self.peer {
            views.push((peer.name.as_str(), &peer.view));
        }
        views
    }

    /// "name owns [0, 1]; ..." for messages.
    fn owners(&self) -> String {
        self.views()
            .iter()
            .map(|(name, view)| {
                let owned: Vec<i32> = view.owned.iter().map(|tp| tp.1).collect();
                format!("{name} owns {owned:?}")
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A kafkite `GroupConsumer` and what it has said.
struct KafkiteMember {
    name: &'static str,
    consumer: GroupConsumer,
    view: MemberView,
}

impl KafkiteMember {
    fn join(name: &'static str, session: &Session, group: &str, topic: &str) -> Self {
        let consumer = GroupConsumer::new(session, member_config(group))
            .unwrap_or_else(|e| panic!("{name}: GroupConsumer::new: {e}"));
        consumer
            .subscribe(&[topic])
            .unwrap_or_else(|e| panic!("{name}: subscribe: {e}"));
        KafkiteMember {
            name,
            consumer,
            view: MemberView::default(),
        }
    }

    /// Takes every message the stream has ready; true if there was one.
    async fn drain(&mut self, what: &str) -> bool {
        let mut any = false;
        while let Some(message) = future::poll_once(self.consumer.next()).await {
            let message = match message {
                Some(Ok(message)) => message,
                Some(Err(e)) => panic!("{what}: {}: {e}", self.name),
                None => panic!("{what}: {}: the stream ended", self.name),
            };
            self.view
                .apply_kafkite(message, &format!("{what}: {}", self.name));
            any = true;
        }
        any
    }

    /// Takes what is ready, or waits a moment.
    async fn pump(&mut self, what: &str) {
        if !self.drain(what).await {
            smol::Timer::after(Duration::from_millis(20)).await;
        }
    }
}

/// A reference client's member and what it has said.
struct PeerSide {
    name: String,
    member: PeerMember,
    view: MemberView,
}

/// One member's view: the partitions it owns and the (partition, offset)
/// records it read.
#[derive(Default)]
struct MemberView {
    owned: BTreeSet<TopicPartition>,
    read: BTreeSet<(i32, i64)>,
}

impl MemberView {
    fn apply_kafkite(&mut self, message: GroupMessage, who: &str) {
        match message {
            GroupMessage::Assigned(tps) => self.assigned(tps),
            GroupMessage::Revoked(tps) => self.revoked(tps),
            GroupMessage::Lost(tps) => self.lost(tps, who),
            GroupMessage::Record(r) => self.record(&r.topic, r.partition, r.offset, who),
        }
    }

    fn apply_peer(&mut self, event: MemberEvent, who: &str) {
        match event {
            MemberEvent::Assigned(tps) => self.assigned(tps),
            MemberEvent::Revoked(tps) => self.revoked(tps),
            MemberEvent::Lost(tps) => self.lost(tps, who),
            MemberEvent::Record {
                topic,
                partition,
                offset,
            } => self.record(&topic, partition, offset, who),
            other => panic!("{who}: unexpected {other:?}"),
        }
    }

    fn assigned(&mut self, tps: Vec<TopicPartition>) {
        self.owned.extend(tps);
    }

    fn revoked(&mut self, tps: Vec<TopicPartition>) {
        for tp in &tps {
            self.owned.remove(tp);
        }
    }

    /// Not expected with 10 s sessions, but not a broken promise either:
    /// said so, and the partitions are gone.
    fn lost(&mut self, tps: Vec<TopicPartition>, who: &str) {
        eprintln!("{who}: lost {tps:?} (its session expired?)");
        self.revoked(tps);
    }

    fn record(&mut self, topic: &str, partition: i32, offset: i64, who: &str) {
        assert!(
            self.owned.contains(&(topic.to_string(), partition)),
            "{who}: read {topic}-{partition} at {offset} without owning it (owns {:?})",
            self.owned
        );
        self.read.insert((partition, offset));
    }
}

/// The lead's settings for members in tests: short timeouts so a member
/// that is gone is noticed quickly, and the range assignor only, as the
/// peers use.
fn member_config(group: &str) -> GroupConsumerConfig {
    let mut config = GroupConsumerConfig::new(group);
    config.group = GroupConfig::new(group)
        .with_session_timeout(Duration::from_secs(10))
        .with_heartbeat_interval(Duration::from_millis(500))
        .with_rebalance_timeout(Duration::from_secs(20))
        .with_assignors(vec![Assignor::Range]);
    config.fetch = FetchConfig {
        max_wait: Duration::from_millis(100),
        ..FetchConfig::default()
    };
    config.auto_commit = Some(Duration::from_millis(500));
    config
}

fn kafka() -> &'static Peer {
    shared(PeerKind::Kafka)
}

/// Runs a test's future on this thread, failing it after [`TEST_LIMIT`].
/// The driver's tasks run on smol's executor threads, so the blocking waits
/// on peer members here do not hold up heartbeats.
fn run<T>(what: &str, test: impl Future<Output = T>) -> T {
    let limit = async {
        smol::Timer::after(TEST_LIMIT).await;
        panic!("{what}: did not finish within {TEST_LIMIT:?}");
    };
    let started = Instant::now();
    let outcome = smol::block_on(future::or(test, limit));
    eprintln!("{what}: passed in {:.1} s", started.elapsed().as_secs_f64());
    outcome
}

async fn connect(bootstrap: &str) -> Session {
    let config = ClientConfig::from_bootstrap(bootstrap)
        .with_client_id("kafkite-group-interop")
        .with_request_timeout(Duration::from_secs(15));
    Session::connect(config)
        .await
        .unwrap_or_else(|e| panic!("connect to {bootstrap}: {e}"))
}

/// A new topic, known to the session's metadata, its leaders serving.
async fn new_topic(session: &Session, prefix: &str, partitions: i32) -> String {
    let topic = unique_name(prefix);
    session
        .create_topics(&[NewTopic::new(&topic, partitions, 1)])
        .await
        .unwrap_or_else(|e| panic!("create {topic}: {e}"));
    let deadline = Instant::now() + SETTLE_LIMIT;
    loop {
        let known = session
            .add_topics(&[&topic])
            .await
            .ok()
            .and_then(|m| m.topics.get(&topic).map(|t| t.partitions.len()));
        if known == Some(partitions as usize) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} not in metadata within {SETTLE_LIMIT:?}"
        );
        smol::Timer::after(Duration::from_millis(100)).await;
    }
    // ListOffsets goes to each leader and is retried until it serves.
    let all: Vec<i32> = (0..partitions).collect();
    session
        .list_offsets(&topic, &all, OffsetSpec::Latest)
        .await
        .unwrap_or_else(|e| panic!("{topic}: leaders serving: {e}"));
    topic
}

/// `rounds` records on each of `partitions` partitions, at offsets
/// `0..rounds`.
async fn produce_rounds(session: &Session, topic: &str, partitions: i32, rounds: i64) {
    let producer = Producer::new(session, ProducerConfig::default())
        .await
        .unwrap_or_else(|e| panic!("producer: {e}"));
    for round in 0..rounds {
        produce_round(&producer, topic, partitions, round).await;
    }
    producer.close().await;
}

/// One record on each partition, which must land at `offset`.
async fn produce_round(producer: &Producer, topic: &str, partitions: i32, offset: i64) {
    let mut deliveries = Vec::new();
    for partition in 0..partitions {
        let record = ProducerRecord::new(topic)
            .partition(partition)
            .value(format!("{partition}-{offset}"));
        let delivery = producer
            .send(record)
            .await
            .unwrap_or_else(|e| panic!("send to {topic}-{partition}: {e}"));
        deliveries.push((partition, delivery));
    }
    producer
        .flush()
        .await
        .unwrap_or_else(|e| panic!("flush: {e}"));
    for (partition, delivery) in deliveries {
        let delivered = delivery
            .await
            .unwrap_or_else(|e| panic!("deliver to {topic}-{partition}: {e}"));
        assert_eq!(
            delivered.offset, offset,
            "{topic}-{partition}: the offset of round {offset}"
        );
    }
}

/// The group's committed (offset, metadata) per partition of `topic`.
async fn committed(
    group: &GroupOffsets,
    topic: &str,
    partitions: i32,
) -> BTreeMap<i32, (i64, Option<String>)> {
    let tps: Vec<TopicPartition> = (0..partitions).map(|p| (topic.to_string(), p)).collect();
    group
        .fetch_offsets(&tps)
        .await
        .unwrap_or_else(|e| panic!("fetch_offsets of {}: {e}", group.name()))
        .into_iter()
        .filter_map(|((_, p), o)| o.map(|o| (p, (o.offset, o.metadata))))
        .collect()
}

/// The next item of a stream, failing the test after [`SETTLE_LIMIT`].
async fn next_within<S: Stream + Unpin>(stream: &mut S, what: &str) -> Option<S::Item> {
    let timeout = async {
        smol::Timer::after(SETTLE_LIMIT).await;
        panic!("{what}: nothing from the stream within {SETTLE_LIMIT:?}");
    };
    future::or(stream.next(), timeout).await
}

fn start_peer(client: MemberClient, kafka: &Peer, group: &str, topic: &str) -> PeerMember {
    PeerMember::start(client, kafka.bootstrap(), group, &[topic])
        .unwrap_or_else(|e| panic!("start a {client} group member: {e}"))
}

/// The peer's next event, failing the test after [`SETTLE_LIMIT`].
fn peer_event(peer: &mut PeerMember, waiting_for: &str) -> MemberEvent {
    let client = peer.client();
    match peer.next_event(SETTLE_LIMIT) {
        Ok(Some(event)) => event,
        Ok(None) => panic!(
            "{client} member: no event within {SETTLE_LIMIT:?} while waiting for {waiting_for}; stderr:\n{}",
            peer.stderr_tail()
        ),
        Err(e) => panic!("{client} member: {e}"),
    }
}

/// The first offset the peer reads on each of `partitions` partitions.
fn first_peer_offsets(peer: &mut PeerMember, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let mut first = BTreeMap::new();
    while first.len() < partitions as usize {
        let waiting_for = format!("records (first offsets so far: {first:?})");
        if let MemberEvent::Record {
            topic: t,
            partition,
            offset,
        } = peer_event(peer, &waiting_for)
        {
            assert_eq!(
                t,
                topic,
                "{} member: a record of another topic",
                peer.client()
            );
            first.entry(partition).or_insert(offset);
        }
    }
    first
}

fn leave(peer: PeerMember) {
    let client = peer.client();
    peer.leave(LEAVE_LIMIT)
        .unwrap_or_else(|e| panic!("{client} member leaves: {e}"));
}
