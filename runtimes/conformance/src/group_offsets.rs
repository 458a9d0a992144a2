//! Scenarios for [`GroupOffsets`]: a group's committed offsets read,
//! written and reset through the group's coordinator, on every broker.

use std::collections::BTreeMap;

use kafkite::admin::OffsetSpec;
use kafkite::consumer::OffsetAndMetadata;
use kafkite::protocol::{ApiKey, ErrorCode};
use kafkite_testkit::{run_python, unique_name, CoordinatorKind, Peer, PeerKind};

use super::support::{connect, create_topic, eventually, produce, within, SCENARIO_LIMIT};
use kafkite_driver::{GroupOffsets, Runtime, Session, TopicPartition};

/// A group nobody has committed for has no offset for any partition.
pub async fn fresh_group_has_no_committed_offsets<R: Runtime + Default>(peer: &Peer) {
    let what = format!("{} fresh_group_has_no_committed_offsets", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = new_topic(peer, &session, "group-fresh", &what).await;
        let group = GroupOffsets::new(session.clone(), unique_name("group"));
        let fetched = group
            .fetch_offsets(&partitions(&topic))
            .await
            .unwrap_or_else(|e| panic!("{what}: fetch_offsets: {e}"));
        let expected: BTreeMap<TopicPartition, Option<OffsetAndMetadata>> = partitions(&topic)
            .into_iter()
            .map(|tp| (tp, None))
            .collect();
        assert_eq!(fetched, expected, "{what}: offsets of a fresh group");
        session.close().await;
    })
    .await
}

/// Committed offsets and their metadata are fetched back as committed, and
/// a second commit replaces the first.
pub async fn commits_and_fetches_offsets_with_metadata<R: Runtime + Default>(peer: &Peer) {
    let what = format!("{} commits_and_fetches_offsets", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = new_topic(peer, &session, "group-commit", &what).await;
        let group = GroupOffsets::new(session.clone(), unique_name("group"));
        for (round, (first, second)) in [(5, 7), (12, 2)].into_iter().enumerate() {
            let offsets = BTreeMap::from([
                (
                    (topic.clone(), 0),
                    OffsetAndMetadata::new(first).with_metadata(format!("round {round} p0")),
                ),
                (
                    (topic.clone(), 1),
                    OffsetAndMetadata::new(second).with_metadata(format!("round {round} p1")),
                ),
            ]);
            group
                .commit_offsets(&offsets)
                .await
                .unwrap_or_else(|e| panic!("{what}: commit_offsets round {round}: {e}"));
            let fetched = group
                .fetch_offsets(&partitions(&topic))
                .await
                .unwrap_or_else(|e| panic!("{what}: fetch_offsets round {round}: {e}"));
            let expected = offsets.into_iter().map(|(tp, o)| (tp, Some(o))).collect();
            assert_committed(peer, &fetched, &expected, &format!("{what}: round {round}"));
        }
        session.close().await;
    })
    .await
}

/// Resetting to latest commits the high watermark, and resetting to
/// earliest moves it back to the log start; each is what a fetch returns.
pub async fn resets_offsets_to_earliest_and_latest<R: Runtime + Default>(peer: &Peer) {
    let what = format!("{} resets_offsets_to_earliest_and_latest", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = new_topic(peer, &session, "group-reset", &what).await;
        produce(&session, &topic, 0, &["a", "b", "c"]).await;
        let group = GroupOffsets::new(session.clone(), unique_name("group"));
        // tansu 0.6.0 answers "latest" with the last batch's base offset + 1
        // instead of the high watermark (a known broker bug, TEST-PEERS.md).
        let high_watermark = if peer.kind() == PeerKind::Tansu { 1 } else { 3 };
        for (spec, expected) in [
            (OffsetSpec::Latest, [high_watermark, 0]),
            (OffsetSpec::Earliest, [0, 0]),
        ] {
            let committed = group
                .reset_offsets(&topic, &[0, 1], spec, "reset")
                .await
                .unwrap_or_else(|e| panic!("{what}: reset_offsets {spec:?}: {e}"));
            let offsets: Vec<i64> = committed.values().map(|o| o.offset).collect();
            assert_eq!(offsets, expected, "{what}: committed by reset {spec:?}");
            let fetched = group
                .fetch_offsets(&partitions(&topic))
                .await
                .unwrap_or_else(|e| panic!("{what}: fetch_offsets after {spec:?}: {e}"));
            let committed = committed.into_iter().map(|(tp, o)| (tp, Some(o))).collect();
            assert_committed(peer, &fetched, &committed, &format!("{what}: {spec:?}"));
        }
        session.close().await;
    })
    .await
}

/// On a mock cluster of its own: a coordinator that moves to another
/// broker (the old one answering NOT_COORDINATOR) is looked up again, and
/// one that is loading (COORDINATOR_LOAD_IN_PROGRESS) is asked again after
/// a backoff; the commit and the fetch both succeed.
pub async fn consumer_group_follows_a_moved_and_loading_coordinator<R: Runtime + Default>() {
    let what = "consumer_group_follows_a_moved_and_loading_coordinator";
    let peer =
        Peer::start(PeerKind::Mock).unwrap_or_else(|e| panic!("{what}: start a mock cluster: {e}"));
    within::<R, _>(SCENARIO_LIMIT, what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = new_topic(&peer, &session, "group-moved", what).await;
        let name = unique_name("group");
        let group = GroupOffsets::new(session.clone(), name.clone());
        let commit = |offset: i64| {
            let (group, topic) = (&group, &topic);
            async move {
                let offsets =
                    BTreeMap::from([((topic.clone(), 0), OffsetAndMetadata::new(offset))]);
                group
                    .commit_offsets(&offsets)
                    .await
                    .unwrap_or_else(|e| panic!("{what}: commit {offset}: {e}"));
            }
        };
        let mock = |result: Result<(), kafkite_testkit::TestkitError>| {
            result.unwrap_or_else(|e| panic!("{what}: mock command: {e}"))
        };
        mock(peer.set_coordinator(CoordinatorKind::Group, &name, 1));
        commit(5).await;

        // The client knows broker 1 as the coordinator; it moves to 2. The
        // mock's broker 1 would still take commits, so it is made to say
        // NOT_COORDINATOR to more tries than the commit's time allows: only
        // a client that looks the coordinator up again gets through, and
        // asks broker 1 exactly once.
        const REFUSALS: usize = 40;
        let not_coordinator = (i32::from(ErrorCode::NOT_COORDINATOR.0), 0);
        let commit_key = ApiKey::OffsetCommit.key();
        mock(peer.push_broker_request_errors(1, commit_key, &[not_coordinator; REFUSALS]));
        mock(peer.set_coordinator(CoordinatorKind::Group, &name, 2));
        commit(9).await;
        let left = peer
            .broker_error_count(1, commit_key)
            .unwrap_or_else(|e| panic!("{what}: broker_error_count: {e}"));
        assert_eq!(
            left,
            REFUSALS - 1,
            "{what}: NOT_COORDINATOR answers left on broker 1"
        );

        let loading = i32::from(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.0);
        mock(peer.push_request_errors(ApiKey::OffsetFetch.key(), &[loading, loading]));
        let fetched = group
            .fetch_offsets(&[(topic.clone(), 0)])
            .await
            .unwrap_or_else(|e| panic!("{what}: fetch_offsets: {e}"));
        let offset = fetched.values().flatten().map(|o| o.offset).next();
        assert_eq!(offset, Some(9), "{what}: fetched after the move");
        session.close().await;
    })
    .await
}

/// confluent-kafka's consumer (librdkafka), joining a group kafkite
/// committed for, starts reading at the committed offset; and what it
/// commits is what kafkite fetches. Run on Apache Kafka, the reference.
pub async fn confluent_consumer_resumes_where_the_group_committed<R: Runtime + Default>(
    peer: &Peer,
) {
    let what = format!("{} confluent_consumer_resumes", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = new_topic(peer, &session, "group-interop", &what).await;
        produce(&session, &topic, 0, &["a", "b", "c", "d"]).await;
        let name = unique_name("group");
        let group = GroupOffsets::new(session.clone(), name.clone());
        let offsets = BTreeMap::from([((topic.clone(), 0), OffsetAndMetadata::new(2))]);
        group
            .commit_offsets(&offsets)
            .await
            .unwrap_or_else(|e| panic!("{what}: commit_offsets: {e}"));

        // Blocking, but only this scenario's task waits on it.
        let args = [peer.bootstrap(), topic.as_str(), name.as_str()];
        let out = run_python(RESUME_AND_COMMIT, args)
            .unwrap_or_else(|e| panic!("{what}: confluent consumer: {e}"));
        assert_eq!(
            out.trim(),
            "0 2",
            "{what}: first record confluent-kafka read"
        );

        let fetched = group
            .fetch_offsets(&[(topic.clone(), 0)])
            .await
            .unwrap_or_else(|e| panic!("{what}: fetch_offsets: {e}"));
        let offset = fetched.values().flatten().map(|o| o.offset).next();
        assert_eq!(offset, Some(3), "{what}: offset confluent-kafka committed");
        session.close().await;
    })
    .await
}

/// Joins group argv[3] on topic argv[2], prints "PARTITION OFFSET" of the
/// first record it reads, then commits the offset after it. Without a
/// committed offset it would start at 0 (`auto.offset.reset=earliest`).
const RESUME_AND_COMMIT: &str = r#"
import sys
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic, group = sys.argv[1:4]
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
              "enable.auto.commit": False, "auto.offset.reset": "earliest"})
c.subscribe([topic])
try:
    for _ in range(60):
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            sys.exit(f"consumer error: {m.error()}")
        print(m.partition(), m.offset())
        c.commit(offsets=[TopicPartition(topic, m.partition(), m.offset() + 1)],
                 asynchronous=False)
        break
    else:
        sys.exit("no record within 60 s")
finally:
    c.close()
"#;

/// A new topic with two partitions, known to the session's metadata and
/// served by their leaders. The
/// mock has no CreateTopics: its topics are made through its control API.
async fn new_topic<R: Runtime>(
    peer: &Peer,
    session: &Session<R>,
    prefix: &str,
    what: &str,
) -> String {
    let topic = unique_name(prefix);
    create_topic(session, peer, &topic, 2, what).await;
    eventually(session, &format!("{what}: {topic} known"), || async {
        let metadata = session
            .add_topics(&[&topic])
            .await
            .map_err(|e| e.to_string())?;
        let partitions = metadata.topics.get(&topic).map(|t| t.partitions.len());
        Ok(partitions.filter(|&n| n == 2))
    })
    .await;
    // Kafka may name a leader in metadata a moment before that broker
    // serves the partition (a produce then fails NOT_LEADER_OR_FOLLOWER);
    // ListOffsets goes to the leader and is retried until it does.
    session
        .list_offsets(&topic, &[0, 1], OffsetSpec::Latest)
        .await
        .unwrap_or_else(|e| panic!("{what}: {topic} leaders serving: {e}"));
    topic
}

fn partitions(topic: &str) -> Vec<TopicPartition> {
    vec![(topic.to_string(), 0), (topic.to_string(), 1)]
}

/// The fetched offsets are the committed ones, and so is their metadata
/// where the broker keeps it: tansu 0.6.0 answers every commit's metadata
/// as null (a known broker bug, TEST-PEERS.md).
fn assert_committed(
    peer: &Peer,
    fetched: &BTreeMap<TopicPartition, Option<OffsetAndMetadata>>,
    committed: &BTreeMap<TopicPartition, Option<OffsetAndMetadata>>,
    what: &str,
) {
    let offsets = |m: &BTreeMap<TopicPartition, Option<OffsetAndMetadata>>| {
        m.iter()
            .map(|(tp, o)| (tp.clone(), o.as_ref().map(|o| o.offset)))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(offsets(fetched), offsets(committed), "{what}: offsets");
    if peer.kind() != PeerKind::Tansu {
        let metadata = |m: &BTreeMap<TopicPartition, Option<OffsetAndMetadata>>| {
            m.iter()
                .map(|(tp, o)| (tp.clone(), o.as_ref().and_then(|o| o.metadata.clone())))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(metadata(fetched), metadata(committed), "{what}: metadata");
    }
}
