//! kafkite against real Apache Kafka releases from 0.8.2.2 to 4.4.0.
//!
//! Each selected release (see `kafkite_testkit::release`: by default
//! 0.8.2.2 and 4.4.0; `KAFKA_RELEASES=all cargo test -p kafkite-conformance --test
//! kafka_releases` runs all six, `KAFKA_RELEASES=0.11.0.3,2.8.2` a list) is
//! started in turn, one at a time, and goes through the same scenarios with
//! no per-release client configuration:
//!
//! - the Dart package's producer example (explicit partitions 0 and 1) and
//!   consumer example (five envelopes of a group, each committed with
//!   metadata);
//! - the batching producer with each codec the release supports, read back
//!   by confluent-kafka;
//! - a consumer group's offsets committed with metadata, fetched, reset;
//! - a consumer group of two members (`GroupConsumer`, a session each)
//!   splitting a topic's partitions, one taking all when the other leaves;
//!   on 0.8.2 (no JoinGroup: group membership arrived in 0.9) a typed
//!   error naming JoinGroup instead of a hang;
//! - earliest and latest offsets (the session's and the Dart OffsetMaster's);
//! - topic creation where the release has CreateTopics (0.10.1+), and the
//!   precise refusal where it has not;
//! - the API versions kafkite negotiated, printed and written to
//!   `.cache/compat/<release>.json`; on releases older than ApiVersions,
//!   they must be the Dart package's 0.8.2 set, reached without
//!   configuration.
//!
//! A scenario's failure does not stop the others: the test prints one line
//! per release and scenario ("ok", "ok, broker lacks ..." where kafkite
//! reported the missing feature as it should, or "FAILED"), then fails if
//! any failed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use kafkite::client::RequestError;
use kafkite::consumer::group::GroupError;
use kafkite::producer::Message;
use kafkite::protocol::ApiKey;
use kafkite_conformance::member_config;
use kafkite_smol::{
    Acks, ApiVersionTable, ClientConfig, Compression, Consumer, Error, ExplicitProducer,
    GroupConsumer, GroupMessage, GroupOffsets, NewTopic, OffsetAndMetadata, OffsetMaster,
    OffsetSpec, Producer, ProducerConfig, ProducerRecord, Session,
};
use kafkite_testkit::release::{
    legacy_read_back, predates_api_versions, selected_releases, KafkaRelease,
};
use kafkite_testkit::{repo_root, unique_name, ConsumedRecord};
use smol::stream::StreamExt;

/// No scenario may take longer, whatever the broker does: a hang is a
/// failure, not a stuck CI job.
const SCENARIO_LIMIT: Duration = Duration::from_secs(120);

/// How long the witness client may take to read records back.
const READ_BACK_TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn kafkite_speaks_every_selected_kafka_release() {
    let releases = selected_releases().expect("KAFKA_RELEASES");
    let mut outcomes: Vec<(String, &str, Result<Support, String>)> = Vec::new();
    for version in releases {
        let kafka = match KafkaRelease::start(version) {
            Ok(kafka) => kafka,
            Err(e) => {
                outcomes.push((version.to_string(), "start", Err(e.to_string())));
                continue;
            }
        };
        let release = Release::new(version);
        for (name, scenario) in SCENARIOS {
            let t0 = Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(|| scenario(&kafka, &release)))
                .map_err(|panic| panic_message(&panic));
            eprintln!(
                "kafka {version} {name}: {} ({:.1} s)",
                match &outcome {
                    Ok(support) => support.to_string(),
                    Err(_) => "FAILED".to_string(),
                },
                t0.elapsed().as_secs_f64()
            );
            outcomes.push((version.to_string(), name, outcome));
        }
    }
    let mut summary = String::from("compatibility suite:\n");
    for (version, name, outcome) in &outcomes {
        match outcome {
            Ok(support) => writeln!(summary, "  {version:9} {name:30} {support}"),
            Err(e) => writeln!(summary, "  {version:9} {name:30} FAILED: {e}"),
        }
        .expect("write to a String");
    }
    eprintln!("{summary}");
    assert!(
        outcomes.iter().all(|(_, _, o)| o.is_ok()),
        "some releases failed some scenarios:\n{summary}"
    );
}

type Scenario = fn(&KafkaRelease, &Release) -> Support;

/// What a scenario that passed found the release to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Support {
    Works,
    /// The broker predates the feature, and kafkite said so with a typed
    /// error (that much is checked): the summary's and the README table's
    /// "what the broker lacks".
    BrokerLacks(&'static str),
}

impl std::fmt::Display for Support {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Support::Works => f.write_str("ok"),
            Support::BrokerLacks(what) => write!(f, "ok, broker lacks {what}"),
        }
    }
}

/// In this order: the versions scenario comes last, once the session has
/// spoken every API the others use.
const SCENARIOS: [(&str, Scenario); 8] = [
    ("dart_producer_example", dart_producer_example),
    ("dart_consumer_example", dart_consumer_example),
    ("producer_codecs_read_back", producer_codecs_read_back),
    ("consumer_group_offsets", consumer_group_offsets),
    ("consumer_group_two_members", consumer_group_two_members),
    ("earliest_and_latest_offsets", earliest_and_latest_offsets),
    ("topic_creation", topic_creation),
    ("negotiated_versions", negotiated_versions),
];

/// What a release has, by version number.
struct Release {
    version: &'static str,
    number: (u32, u32, u32),
}

impl Release {
    fn new(version: &'static str) -> Release {
        let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let number = (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        );
        Release { version, number }
    }

    fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        self.number >= (major, minor, patch)
    }

    /// CreateTopics arrived in 0.10.1 (KIP-4).
    fn has_create_topics(&self) -> bool {
        self.at_least(0, 10, 1)
    }

    /// JoinGroup, SyncGroup and Heartbeat arrived in 0.9 (KIP-40's
    /// coordinator-managed groups).
    fn has_group_membership(&self) -> bool {
        self.at_least(0, 9, 0)
    }

    /// zstd arrived in 2.1 (KIP-110); LZ4 is there from 0.8.2.
    fn codecs(&self) -> Vec<Compression> {
        let mut codecs = vec![
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
        ];
        if self.at_least(2, 1, 0) {
            codecs.push(Compression::Zstd);
        }
        codecs
    }
}

// ---- scenarios ----

/// The Dart package's producer example: messages added to partitions 0 and
/// 1, one `send()`, an answer per partition with the first offset of each.
fn dart_producer_example(kafka: &KafkaRelease, release: &Release) -> Support {
    run(kafka, "dart_producer_example", |session| async move {
        let topic = two_partition_topic(&session, release, "dart-producer").await;
        let mut producer = ExplicitProducer::new(&session, Acks::Leader, Duration::from_secs(10))
            .await
            .expect("ExplicitProducer::new");
        producer.add_messages(
            &topic,
            0,
            [Message::new("hello world"), Message::new("foo bar")],
        );
        producer.add_messages(&topic, 1, [Message::new("hello world")]);
        let result = producer.send().await.expect("send");
        assert!(
            !result.has_errors(),
            "per-partition errors: {:?}",
            result.errors
        );
        let offsets = result.offsets.get(&topic).expect("offsets for the topic");
        assert_eq!(offsets, &BTreeMap::from([(0, 0), (1, 0)]), "first offsets");
        // A second send carries only what was added since.
        producer.add_messages(&topic, 1, [Message::new("second")]);
        let second = producer.send().await.expect("second send");
        assert!(
            !second.has_errors(),
            "second send errors: {:?}",
            second.errors
        );
        assert_eq!(second.offsets[&topic], BTreeMap::from([(1, 1)]));
        producer.close().await;
        let records = read_back(kafka, &topic, 4);
        let seen: Vec<(i32, i64, &[u8])> = records
            .iter()
            .map(|r| (r.partition, r.offset, r.value.as_deref().unwrap_or(b"")))
            .collect();
        assert_eq!(
            seen,
            vec![
                (0, 0, &b"hello world"[..]),
                (0, 1, b"foo bar"),
                (1, 0, b"hello world"),
                (1, 1, b"second"),
            ],
            "what confluent-kafka reads back"
        );
    });
    Support::Works
}

/// The Dart package's consumer example: a group's envelopes of partitions
/// 0 and 1, five of them, each committed with metadata; the group then
/// holds, per partition, the offset after the last one committed.
fn dart_consumer_example(kafka: &KafkaRelease, release: &Release) -> Support {
    run(kafka, "dart_consumer_example", |session| async move {
        let topic = two_partition_topic(&session, release, "dart-consumer").await;
        produce_to_both(&session, &topic, 3).await;
        let group = GroupOffsets::new(session.clone(), unique_name("dart-group"));
        let consumer = Consumer::new(
            &session,
            group.clone(),
            [(topic.clone(), vec![0, 1])],
            Duration::from_millis(100),
            1,
        );
        let mut envelopes = consumer.consume(Some(5));
        let mut seen: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        while let Some(envelope) = envelopes.next().await {
            let envelope = envelope.expect("an envelope");
            let record = envelope.record();
            let (partition, offset) = (record.partition, record.offset);
            let value = format!("p{partition} {offset}");
            assert_eq!(
                record.value.as_deref(),
                Some(value.as_bytes()),
                "value at {partition}/{offset}"
            );
            seen.entry(partition).or_default().push(offset);
            envelope.commit("metadata").await.expect("commit");
        }
        assert_eq!(
            seen.values().map(Vec::len).sum::<usize>(),
            5,
            "exactly five envelopes: {seen:?}"
        );
        let tps = [(topic.clone(), 0), (topic.clone(), 1)];
        let committed = group.fetch_offsets(&tps).await.expect("fetch_offsets");
        for (partition, offsets) in &seen {
            let in_order: Vec<i64> = (0..offsets.len() as i64).collect();
            assert_eq!(offsets, &in_order, "partition {partition} in order, once");
            let got = committed[&(topic.clone(), *partition)]
                .clone()
                .expect("a committed offset");
            assert_eq!(got.offset, offsets.len() as i64, "partition {partition}");
            assert_eq!(got.metadata.as_deref(), Some("metadata"));
        }
    });
    Support::Works
}

/// The batching producer with each codec the release supports, with its
/// defaults (idempotence on, which turns itself off where the broker has no
/// InitProducerId): every record acknowledged in order, and read back by
/// confluent-kafka with its key and value.
fn producer_codecs_read_back(kafka: &KafkaRelease, release: &Release) -> Support {
    const RECORDS: i64 = 50;
    for codec in release.codecs() {
        let what = format!("producer_codecs_read_back {codec:?}");
        let topic = run(kafka, &what, |session| async move {
            let topic = two_partition_topic(&session, release, "codec").await;
            let producer =
                Producer::new(&session, ProducerConfig::default().with_compression(codec))
                    .await
                    .expect("Producer::new");
            let mut deliveries = Vec::new();
            for i in 0..RECORDS {
                let record = ProducerRecord::new(topic.as_str())
                    .partition(0)
                    .key(format!("key-{i}"))
                    .value(format!("{codec:?} record {i} {}", "x".repeat(100)));
                deliveries.push(producer.send(record).await.expect("send"));
            }
            producer.flush().await.expect("flush");
            for (i, delivery) in deliveries.into_iter().enumerate() {
                let delivery = delivery.await.expect("delivery");
                assert_eq!(delivery.offset, i as i64, "offset of record {i}");
            }
            producer.close().await;
            topic
        });
        let records = read_back(kafka, &topic, RECORDS as usize);
        for (i, record) in records.iter().enumerate() {
            assert_eq!((record.partition, record.offset), (0, i as i64), "{what}");
            assert_eq!(record.key.as_deref(), Some(format!("key-{i}").as_bytes()));
            let value = format!("{codec:?} record {i} {}", "x".repeat(100));
            assert_eq!(record.value.as_deref(), Some(value.as_bytes()), "{what}");
        }
    }
    Support::Works
}

/// GroupOffsets (the Dart package's ConsumerGroup): offsets committed with metadata come
/// back as committed; a reset to the earliest moves them to 0.
fn consumer_group_offsets(kafka: &KafkaRelease, release: &Release) -> Support {
    run(kafka, "consumer_group_offsets", |session| async move {
        let topic = two_partition_topic(&session, release, "group").await;
        produce_to_both(&session, &topic, 3).await;
        let group = GroupOffsets::new(session.clone(), unique_name("group"));
        let tps = [(topic.clone(), 0), (topic.clone(), 1)];
        let fresh = group
            .fetch_offsets(&tps)
            .await
            .expect("fetch_offsets, fresh");
        assert!(
            fresh.values().all(Option::is_none),
            "a fresh group has no offsets: {fresh:?}"
        );
        let offsets = BTreeMap::from([
            (
                tps[0].clone(),
                OffsetAndMetadata::new(2).with_metadata("dart p0"),
            ),
            (
                tps[1].clone(),
                OffsetAndMetadata::new(3).with_metadata("dart p1"),
            ),
        ]);
        group
            .commit_offsets(&offsets)
            .await
            .expect("commit_offsets");
        let fetched = group.fetch_offsets(&tps).await.expect("fetch_offsets");
        for (tp, committed) in &offsets {
            let got = fetched.get(tp).cloned().flatten().expect("an offset");
            assert_eq!(got.offset, committed.offset, "{tp:?}");
            assert_eq!(got.metadata, committed.metadata, "{tp:?}");
        }
        let reset = group
            .reset_offsets(&topic, &[0, 1], OffsetSpec::Earliest, "reset")
            .await
            .expect("reset_offsets");
        assert!(
            reset.values().all(|o| o.offset == 0),
            "reset to earliest: {reset:?}"
        );
        let fetched = group.fetch_offsets(&tps).await.expect("fetch after reset");
        for tp in &tps {
            let got = fetched.get(tp).cloned().flatten().expect("an offset");
            assert_eq!(got.offset, 0, "{tp:?} after reset");
        }
    });
    Support::Works
}

/// Two `GroupConsumer`s, a session each, in one group on a 4-partition
/// topic: they split the partitions with no overlap and read every record
/// between them; when one closes, the other takes every partition and reads
/// what comes next. Before 0.9 there is no group membership: kafkite must
/// answer with a typed error naming JoinGroup, not wait.
fn consumer_group_two_members(kafka: &KafkaRelease, release: &Release) -> Support {
    if !release.has_group_membership() {
        run(kafka, "consumer_group_two_members", |session| async move {
            let topic = topic_with_partitions(&session, release, "members", 2).await;
            let group = unique_name("members");
            let mut member =
                GroupConsumer::new(&session, member_config(&group)).expect("GroupConsumer::new");
            member.subscribe(&[&topic]).expect("subscribe");
            match next_group_message(&mut member, GROUP_SETTLE_LIMIT).await {
                Err(Error::Group(e))
                    if matches!(
                        *e,
                        GroupError::Request {
                            api: ApiKey::JoinGroup,
                            error: RequestError::UnsupportedVersion { .. },
                            ..
                        }
                    ) =>
                {
                    eprintln!("kafka {}: a group member: {e}", release.version);
                }
                other => panic!("a member on {}: {other:?}", release.version),
            }
            member.close().await;
        });
        return Support::BrokerLacks("group membership");
    }
    run(kafka, "consumer_group_two_members", |session| async move {
        const PARTITIONS: i32 = 4;
        let topic = topic_with_partitions(&session, release, "members", PARTITIONS).await;
        let partitions: Vec<i32> = (0..PARTITIONS).collect();
        produce_to(&session, &topic, &partitions, 0..2).await;
        let all: BTreeSet<(String, i32)> = partitions.iter().map(|&p| (topic.clone(), p)).collect();
        let produced: BTreeSet<(i32, i64)> =
            partitions.iter().flat_map(|&p| [(p, 0), (p, 1)]).collect();

        // A session each, as two processes would have: the broker answers
        // one request per connection at a time and holds a JoinGroup until
        // the whole group has joined.
        let group = unique_name("members");
        let (session_a, session_b) = (connect(kafka).await, connect(kafka).await);
        let mut a = GroupConsumer::new(&session_a, member_config(&group)).expect("member a");
        let mut b = GroupConsumer::new(&session_b, member_config(&group)).expect("member b");
        a.subscribe(&[&topic]).expect("a subscribes");
        b.subscribe(&[&topic]).expect("b subscribes");
        let (mut view_a, mut view_b) = (MemberView::new("a"), MemberView::new("b"));
        let deadline = Instant::now() + GROUP_SETTLE_LIMIT;
        loop {
            let read: BTreeSet<_> = view_a.read.union(&view_b.read).copied().collect();
            let owned: BTreeSet<_> = view_a.owned.union(&view_b.owned).cloned().collect();
            if !view_a.owned.is_empty()
                && !view_b.owned.is_empty()
                && owned == all
                && read.is_superset(&produced)
            {
                break;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let from_a = async { (true, next_group_message(&mut a, remaining).await) };
            let from_b = async { (false, next_group_message(&mut b, remaining).await) };
            match smol::future::or(from_a, from_b).await {
                (true, message) => view_a.apply(message),
                (false, message) => view_b.apply(message),
            }
            let both: Vec<_> = view_a.owned.intersection(&view_b.owned).collect();
            assert!(both.is_empty(), "both members own {both:?}");
        }
        eprintln!(
            "kafka {}: member a owns {:?}, b owns {:?}",
            release.version,
            partitions_of(&view_a.owned),
            partitions_of(&view_b.owned)
        );

        // A leaves (committing what it read): B takes every partition and
        // reads the record that comes next in each.
        a.close().await;
        produce_to(&session, &topic, &partitions, 2..3).await;
        let deadline = Instant::now() + GROUP_SETTLE_LIMIT;
        while !(view_b.owned == all && partitions.iter().all(|&p| view_b.read.contains(&(p, 2)))) {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let message = next_group_message(&mut b, remaining).await;
            view_b.apply(message);
        }
        b.close().await;
        for member_session in [session_a, session_b] {
            member_session.close().await;
        }
    });
    Support::Works
}

/// ListOffsets earliest and latest (the Dart package's OffsetMaster).
fn earliest_and_latest_offsets(kafka: &KafkaRelease, release: &Release) -> Support {
    run(kafka, "earliest_and_latest_offsets", |session| async move {
        let topic = two_partition_topic(&session, release, "offsets").await;
        produce_to_both(&session, &topic, 4).await;
        let earliest = session
            .list_offsets(&topic, &[0, 1], OffsetSpec::Earliest)
            .await
            .expect("earliest");
        let latest = session
            .list_offsets(&topic, &[0, 1], OffsetSpec::Latest)
            .await
            .expect("latest");
        assert_eq!(earliest, BTreeMap::from([(0, 0), (1, 0)]), "earliest");
        assert_eq!(latest, BTreeMap::from([(0, 4), (1, 4)]), "latest");
        let master = OffsetMaster::new(&session);
        let tps = [(topic.clone(), 0), (topic.clone(), 1)];
        let earliest = master
            .fetch_earliest(&tps)
            .await
            .expect("OffsetMaster earliest");
        let latest = master
            .fetch_latest(&tps)
            .await
            .expect("OffsetMaster latest");
        assert!(earliest.values().all(|&o| o == 0), "earliest: {earliest:?}");
        assert!(latest.values().all(|&o| o == 4), "latest: {latest:?}");
    });
    Support::Works
}

/// CreateTopics where the release has it; before 0.10.1 kafkite says the
/// broker lacks the API instead of waiting for a controller.
fn topic_creation(kafka: &KafkaRelease, release: &Release) -> Support {
    run(kafka, "topic_creation", |session| async move {
        let topic = unique_name("created");
        let created = session.create_topics(&[NewTopic::new(&topic, 3, 1)]).await;
        if release.has_create_topics() {
            created.expect("create_topics");
            let metadata = wait_for_leaders(&session, &topic, 3).await;
            assert_eq!(metadata, 3, "partitions of the created topic");
        } else {
            match created {
                Err(Error::Admin(e)) => {
                    let text = e.to_string();
                    assert!(
                        text.contains("CreateTopics"),
                        "the refusal names the API: {text}"
                    );
                }
                other => panic!("create_topics on {}: {other:?}", release.version),
            }
        }
    });
    if release.has_create_topics() {
        Support::Works
    } else {
        Support::BrokerLacks("CreateTopics")
    }
}

/// The versions kafkite uses with the broker, per API: printed, written to
/// `.cache/compat/<release>.json`. A release older than ApiVersions must
/// get the Dart package's 0.8.2 table, with nothing configured.
fn negotiated_versions(kafka: &KafkaRelease, release: &Release) -> Support {
    run(kafka, "negotiated_versions", |session| async move {
        // Talk to the broker itself (not only the bootstrap connection).
        let topic = two_partition_topic(&session, release, "versions").await;
        produce_to_both(&session, &topic, 1).await;
        let metadata = session.metadata();
        let (&node, _) = metadata.brokers.iter().next().expect("a broker");
        let table = session
            .broker_versions(node)
            .expect("versions negotiated with the broker");
        let json = versions_json(release.version, node, &table);
        let dir = repo_root().join(".cache/compat");
        std::fs::create_dir_all(&dir).expect("create .cache/compat");
        let path = dir.join(format!("{}.json", release.version));
        std::fs::write(&path, &json).expect("write the versions");
        eprintln!(
            "kafka {}: versions used (written to {}):\n{json}",
            release.version,
            path.display()
        );
        if predates_api_versions(release.version) {
            let fallback = ApiVersionTable::kafka_0_8_2();
            let got: Vec<_> = table.iter().collect();
            let want: Vec<_> = fallback.iter().collect();
            assert_eq!(got, want, "the 0.8.2 fallback table, unconfigured");
        } else {
            assert!(
                table.get(ApiKey::ApiVersions.key()).is_some(),
                "a broker with ApiVersions advertised it"
            );
        }
    });
    Support::Works
}

// ---- helpers ----

/// Connects a session (default config: nothing release-specific), runs
/// `body` with it within [`SCENARIO_LIMIT`], closes it.
fn run<T, F, Fut>(kafka: &KafkaRelease, what: &str, body: F) -> T
where
    F: FnOnce(Session) -> Fut,
    Fut: Future<Output = T>,
{
    let what = format!("kafka {} {what}", kafka.version());
    smol::block_on(async {
        let work = async {
            let config = ClientConfig::from_bootstrap(kafka.bootstrap());
            let session = Session::connect(config)
                .await
                .unwrap_or_else(|e| panic!("{what}: connect: {e}"));
            let out = body(session.clone()).await;
            session.close().await;
            Some(out)
        };
        let limit = async {
            smol::Timer::after(SCENARIO_LIMIT).await;
            None
        };
        smol::future::or(work, limit).await.unwrap_or_else(|| {
            panic!(
                "{what}: no outcome within {SCENARIO_LIMIT:?} (broker log: {})",
                kafka.log_path().display()
            )
        })
    })
}

/// A new topic with partitions 0 and 1 and leaders for both: created with
/// CreateTopics where the release has it, else auto-created by asking for
/// its metadata (the ZooKeeper-era script sets num.partitions=2).
async fn two_partition_topic(session: &Session, release: &Release, prefix: &str) -> String {
    let topic = unique_name(prefix);
    if release.has_create_topics() {
        session
            .create_topics(&[NewTopic::new(&topic, 2, 1)])
            .await
            .unwrap_or_else(|e| panic!("create_topics {topic}: {e}"));
    }
    let partitions = wait_for_leaders(session, &topic, 2).await;
    assert_eq!(partitions, 2, "partitions of {topic}");
    topic
}

/// Asks for `topic`'s metadata until `want` partitions have a leader;
/// returns how many partitions it has.
async fn wait_for_leaders(session: &Session, topic: &str, want: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metadata = session
            .add_topics(&[topic])
            .await
            .unwrap_or_else(|e| panic!("metadata for {topic}: {e}"));
        if let Some(t) = metadata.topics.get(topic) {
            let led = t.partitions.iter().filter(|p| p.leader >= 0).count();
            if led >= want {
                return t.partitions.len();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{topic}: no leaders for {want} partitions within 30 s: {:?}",
            metadata.topics.get(topic)
        );
        smol::Timer::after(Duration::from_millis(200)).await;
    }
}

/// A topic with `partitions` partitions, led: created where the release
/// has CreateTopics, else auto-created with the broker's two.
async fn topic_with_partitions(
    session: &Session,
    release: &Release,
    prefix: &str,
    partitions: i32,
) -> String {
    if !release.has_create_topics() {
        assert_eq!(partitions, 2, "auto-created topics have two partitions");
        return two_partition_topic(session, release, prefix).await;
    }
    let topic = unique_name(prefix);
    session
        .create_topics(&[NewTopic::new(&topic, partitions, 1)])
        .await
        .unwrap_or_else(|e| panic!("create_topics {topic}: {e}"));
    let count = wait_for_leaders(session, &topic, partitions as usize).await;
    assert_eq!(count, partitions as usize, "partitions of {topic}");
    topic
}

/// Another session to the release (default config), for a group member.
async fn connect(kafka: &KafkaRelease) -> Session {
    Session::connect(ClientConfig::from_bootstrap(kafka.bootstrap()))
        .await
        .unwrap_or_else(|e| panic!("connect a member's session: {e}"))
}

/// How long a group may take to settle after a member joins or leaves
/// (a rebalance waits for every member to rejoin, up to the session
/// timeout for one that left without saying so).
const GROUP_SETTLE_LIMIT: Duration = Duration::from_secs(45);

/// The member's next message or error; no message within `limit` fails
/// the scenario (a hang), as does a stream that ends.
async fn next_group_message(
    member: &mut GroupConsumer,
    limit: Duration,
) -> Result<GroupMessage, Error> {
    let next = async { Some(member.next().await) };
    let timer = async {
        smol::Timer::after(limit).await;
        None
    };
    match smol::future::or(next, timer).await {
        Some(Some(item)) => item,
        Some(None) => panic!("the member's stream ended"),
        None => panic!("the member had nothing to say within {limit:?}"),
    }
}

/// One member's view: the partitions it owns, the records it read.
struct MemberView {
    name: &'static str,
    owned: BTreeSet<(String, i32)>,
    read: BTreeSet<(i32, i64)>,
}

impl MemberView {
    fn new(name: &'static str) -> MemberView {
        MemberView {
            name,
            owned: BTreeSet::new(),
            read: BTreeSet::new(),
        }
    }

    /// Applies a message; an error, or a record of a partition the member
    /// does not own, fails the scenario.
    fn apply(&mut self, message: Result<GroupMessage, Error>) {
        let name = self.name;
        match message.unwrap_or_else(|e| panic!("member {name}: {e}")) {
            GroupMessage::Assigned(tps) => self.owned.extend(tps),
            GroupMessage::Revoked(tps) | GroupMessage::Lost(tps) => {
                for tp in tps {
                    self.owned.remove(&tp);
                }
            }
            GroupMessage::Record(record) => {
                let tp = (record.topic.to_string(), record.partition);
                assert!(
                    self.owned.contains(&tp),
                    "member {name}: a record of {tp:?}, which it does not own"
                );
                self.read.insert((record.partition, record.offset));
            }
        }
    }
}

fn partitions_of(owned: &BTreeSet<(String, i32)>) -> Vec<i32> {
    owned.iter().map(|(_, p)| *p).collect()
}

/// Records `p<partition> <i>` for each `i` of `range` to each partition,
/// acknowledged.
async fn produce_to(
    session: &Session,
    topic: &str,
    partitions: &[i32],
    range: std::ops::Range<usize>,
) {
    let producer = Producer::new(session, ProducerConfig::default())
        .await
        .expect("Producer::new");
    let mut deliveries = Vec::new();
    for &partition in partitions {
        for i in range.clone() {
            let record = ProducerRecord::new(topic)
                .partition(partition)
                .value(format!("p{partition} {i}"));
            deliveries.push(producer.send(record).await.expect("send"));
        }
    }
    for delivery in deliveries {
        delivery.await.expect("delivery");
    }
    producer.close().await;
}

/// `count` records to each of partitions 0 and 1, acknowledged.
async fn produce_to_both(session: &Session, topic: &str, count: usize) {
    produce_to(session, topic, &[0, 1], 0..count).await;
}

/// confluent-kafka reads `topic` back (told the release where it predates
/// ApiVersions).
fn read_back(kafka: &KafkaRelease, topic: &str, count: usize) -> Vec<ConsumedRecord> {
    legacy_read_back(
        kafka.bootstrap(),
        kafka.version(),
        topic,
        count,
        READ_BACK_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("kafka {} read back {topic}: {e}", kafka.version()))
}

/// `{"release": .., "broker": .., "apis": {"Produce": {"broker": [min, max],
/// "kafkite": [min, max], "used": v | null}, ...}}`, one API per line.
fn versions_json(version: &str, node: i32, table: &ApiVersionTable) -> String {
    let any = kafkite::protocol::VersionRange {
        min: 0,
        max: i16::MAX,
    };
    let mut lines = Vec::new();
    for (key, theirs) in table.iter() {
        let Some(api) = ApiKey::from_i16(key) else {
            lines.push(format!(
                "    \"key {key}\": {{\"broker\": [{}, {}], \"kafkite\": null, \"used\": null}}",
                theirs.min, theirs.max
            ));
            continue;
        };
        let ours = api.versions();
        let used = table
            .choose(api, any)
            .map_or("null".to_string(), |v| v.to_string());
        lines.push(format!(
            "    \"{}\": {{\"key\": {key}, \"broker\": [{}, {}], \"kafkite\": [{}, {}], \"used\": {used}}}",
            api.name(),
            theirs.min,
            theirs.max,
            ours.min,
            ours.max
        ));
    }
    format!(
        "{{\n  \"release\": \"{version}\",\n  \"broker\": {node},\n  \"apis\": {{\n{}\n  }}\n}}\n",
        lines.join(",\n")
    )
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "a panic without a message".to_string()
    }
}
