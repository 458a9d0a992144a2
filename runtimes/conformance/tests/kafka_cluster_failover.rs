//! An idempotent, acks=all producer keeps its promises on a real 3-broker
//! Apache Kafka 4.4 cluster (replication factor 3, min.insync.replicas 2)
//! while the broker leading a partition is killed with SIGKILL and started
//! again, twice: every acknowledged record is in the log exactly once, at
//! the offset it was acknowledged with, in send order per partition, and no
//! client call outlives its timeout. Meanwhile a consumer group of two
//! `GroupConsumer`s (a session each, auto-commit every 500 ms) reads the
//! topic through the kills, rebalances and coordinator moves: between them
//! the members deliver every acknowledged record at least once, and the
//! group's committed offsets, read by a watcher with
//! `GroupOffsets::fetch_offsets`, never go backwards.
//!
//! (The Dart envelope `Consumer` ran through this test before the group
//! did: one envelope at a time, it needed up to ~50 s after the producer
//! stopped to catch up, the group under a second. Its failover behaviour is
//! covered against the 3-broker mock in the driver's conformance suite.)

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkite_conformance::member_config;
use kafkite_smol::{
    Acks, ClientConfig, DeliveryFuture, GroupConsumer, GroupMessage, GroupOffsets, NewTopic,
    OffsetSpec, ProduceError, Producer, ProducerConfig, ProducerRecord, Session,
};
use kafkite_testkit::cluster::KafkaCluster;
use kafkite_testkit::{java_read_back, unique_name};
use smol::stream::StreamExt;

const PARTITIONS: i32 = 3;

/// Kill rounds: kill the leader of partition 0, wait, restart it.
const ROUNDS: usize = 2;

/// How long a killed broker stays down: past the controller's broker
/// session timeout (2 s in kafka-cluster.sh), so leadership really moves.
const DOWN_FOR: Duration = Duration::from_secs(5);

/// The producer's `delivery.timeout.ms`: a record is acknowledged or failed
/// within this, whatever the cluster does.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// The group's members, each on a session of its own.
const MEMBERS: [&str; 2] = ["a", "b"];

/// How long the group may take, after the producer is done, to deliver
/// every acknowledged record (the envelope consumer this replaced needed
/// ~50 s for ~23,000 records on 2 loaded cores; a bound, not a wait).
const CATCH_UP: Duration = Duration::from_secs(180);

/// Slack on top of a client timeout before a call counts as hung.
const HANG_SLACK: Duration = Duration::from_secs(30);

#[test]
fn idempotent_producer_loses_and_duplicates_nothing_while_leaders_are_killed() {
    let cluster = KafkaCluster::start().expect("3-broker Kafka cluster");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        kill_leaders_while_producing(&cluster)
    }));
    if let Err(panic) = outcome {
        // The brokers' side of the story, before Drop removes their logs.
        for id in kafkite_testkit::cluster::CLUSTER_BROKERS {
            let log = std::fs::read_to_string(cluster.broker_log(id)).unwrap_or_default();
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| l.contains(" ERROR ") || l.contains(" WARN "))
                .collect();
            eprintln!(
                "broker {id}: last warnings and errors of {}:\n{}",
                cluster.broker_log(id).display(),
                lines[lines.len().saturating_sub(15)..].join("\n")
            );
        }
        std::panic::resume_unwind(panic);
    }
}

fn kill_leaders_while_producing(cluster: &KafkaCluster) {
    let t0 = Instant::now();
    let say = |what: String| eprintln!("[failover +{:6.2} s] {what}", t0.elapsed().as_secs_f64());

    let config = ClientConfig::from_bootstrap(cluster.bootstrap());
    let session = bounded("connect", config.request_timeout, Session::connect(config))
        .expect("connect to the cluster");
    let topic = unique_name("failover");
    bounded(
        "create_topics",
        session.config().request_timeout,
        session.create_topics(&[NewTopic::new(&topic, PARTITIONS, 3)]),
    )
    .expect("create the topic (RF 3)");
    wait_for_leaders(&session, &topic);

    let producer_config = ProducerConfig::default()
        .with_acks(Acks::All)
        .with_idempotence(true)
        .with_delivery_timeout(DELIVERY_TIMEOUT)
        .with_request_timeout(Duration::from_secs(10));
    let producer = bounded(
        "Producer::new",
        DELIVERY_TIMEOUT,
        Producer::new(&session, producer_config),
    )
    .expect("producer");

    // The producer runs on smol's executor threads while this thread kills
    // and restarts brokers.
    let stop = Arc::new(AtomicBool::new(false));
    let sending = smol::spawn(produce_until(
        producer.clone(),
        topic.clone(),
        Arc::clone(&stop),
    ));

    // The group's members, a session each (as separate processes: a
    // broker answers one request per connection at a time and holds a
    // JoinGroup for the whole group), and a watcher of the group's
    // committed offsets, on the executor too.
    let group_id = unique_name("failover-group");
    let consumed = Arc::new(Consumed::default());
    let mut member_sessions = Vec::new();
    let mut consuming = Vec::new();
    for name in MEMBERS {
        let config = ClientConfig::from_bootstrap(cluster.bootstrap());
        let member_session = bounded("connect", config.request_timeout, Session::connect(config))
            .unwrap_or_else(|e| panic!("connect member {name}'s session: {e}"));
        consuming.push(smol::spawn(member_until(
            t0,
            member_session.clone(),
            group_id.clone(),
            topic.clone(),
            name,
            Arc::clone(&consumed),
        )));
        member_sessions.push(member_session);
    }
    let group = GroupOffsets::new(session.clone(), group_id.clone());
    let watching = smol::spawn(watch_commits(
        group.clone(),
        topic.clone(),
        Arc::clone(&consumed),
    ));

    for round in 1..=ROUNDS {
        std::thread::sleep(Duration::from_secs(3));
        let leader = leader_of_partition_0(&session, &topic, round);
        let pid = cluster
            .kill(leader)
            .unwrap_or_else(|e| panic!("round {round}: kill broker {leader}: {e}"));
        say(format!(
            "round {round}: kill -9 broker {leader} (pid {}), leader of {topic}-0",
            pid.map_or("?".to_string(), |p| p.to_string())
        ));
        std::thread::sleep(DOWN_FOR);
        let pid = cluster
            .restart(leader)
            .unwrap_or_else(|e| panic!("round {round}: restart broker {leader}: {e}"));
        say(format!(
            "round {round}: broker {leader} restarted (pid {pid})"
        ));
    }
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::SeqCst);
    let sent = smol::block_on(sending);
    say(format!("stopped sending after {} records", sent.len()));

    // Every delivery resolves within the delivery timeout (plus slack).
    let mut acked: BTreeMap<i32, Vec<(u64, i64)>> = BTreeMap::new();
    let mut failed: Vec<(u64, ProduceError)> = Vec::new();
    for (seq, partition, delivery) in sent {
        match bounded("delivery", DELIVERY_TIMEOUT, delivery) {
            Ok(d) => acked.entry(partition).or_default().push((seq, d.offset)),
            Err(e) => failed.push((seq, e)),
        }
    }
    bounded("close", DELIVERY_TIMEOUT, producer.close());
    let acked_count: usize = acked.values().map(Vec::len).sum();
    say(format!(
        "{acked_count} acknowledged, {} failed{}",
        failed.len(),
        failed
            .first()
            .map_or(String::new(), |(s, e)| format!(" (first: record {s}: {e})"))
    ));
    assert!(acked_count > 0, "nothing was acknowledged");

    // The group catches up with every acknowledged record.
    let wanted: BTreeSet<u64> = acked.values().flatten().map(|(s, _)| *s).collect();
    let caught_up_from = Instant::now();
    let deadline = caught_up_from + CATCH_UP;
    let missing = loop {
        let missing: Vec<u64> = {
            let seen = consumed.lock_seen();
            wanted
                .iter()
                .filter(|s| !seen.contains(s))
                .copied()
                .collect()
        };
        if missing.is_empty() || Instant::now() >= deadline {
            break missing;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    say(format!(
        "the group delivered {} of {} acknowledged records {:.1} s after the producer stopped",
        wanted.len() - missing.len(),
        wanted.len(),
        caught_up_from.elapsed().as_secs_f64()
    ));
    consumed.stop.store(true, Ordering::SeqCst);
    for (name, member) in MEMBERS.iter().zip(consuming) {
        let report = smol::block_on(member);
        say(format!(
            "member {name}: {} records, {} stream errors{}, {} rejoins; \
             assignments: {}",
            report.records,
            report.errors.len(),
            report
                .errors
                .first()
                .map_or(String::new(), |e| format!(" (first: {e})")),
            report.rejoined,
            report.assignments.join(" ")
        ));
    }
    let backwards = smol::block_on(watching);
    let committed = bounded(
        "fetch_offsets",
        group_limit(),
        group.fetch_offsets(
            &(0..PARTITIONS)
                .map(|p| (topic.clone(), p))
                .collect::<Vec<_>>(),
        ),
    )
    .map(|offsets| {
        offsets
            .into_iter()
            .map(|((_, p), o)| (p, o.map(|o| o.offset)))
            .collect::<BTreeMap<_, _>>()
    });
    say(format!(
        "group: {} distinct records delivered; {} commit checks; committed after close: {committed:?}",
        consumed.lock_seen().len(),
        consumed.checks.load(Ordering::SeqCst)
    ));
    for member_session in member_sessions {
        bounded(
            "close a member's session",
            group_limit(),
            member_session.close(),
        );
    }
    assert!(
        missing.is_empty(),
        "the group never delivered {} acknowledged records within {CATCH_UP:?} (first: {:?})",
        missing.len(),
        missing.first()
    );
    assert!(
        backwards.is_empty(),
        "committed offsets went backwards: {backwards:?}"
    );

    // The whole log, read by the Java client.
    let latest = bounded(
        "list_offsets",
        session.config().request_timeout,
        session.list_offsets(&topic, &[0, 1, 2], OffsetSpec::Latest),
    )
    .expect("latest offsets");
    let total: i64 = latest.values().sum();
    let log = java_read_back(
        cluster.bootstrap(),
        &topic,
        usize::try_from(total).expect("a count"),
        Duration::from_secs(60),
    )
    .expect("read the log back with the Java client");
    smol::block_on(session.close());

    // Per partition: the sequence numbers in log order, and where each is.
    let mut in_log: BTreeMap<i32, Vec<(u64, i64)>> = BTreeMap::new();
    let mut where_is: HashMap<u64, Vec<(i32, i64)>> = HashMap::new();
    for record in &log {
        let value = record.value.as_deref().expect("a value");
        let seq = parse_seq(value);
        in_log
            .entry(record.partition)
            .or_default()
            .push((seq, record.offset));
        where_is
            .entry(seq)
            .or_default()
            .push((record.partition, record.offset));
    }
    // Idempotence: nothing at all is written twice, acknowledged or not.
    let duplicated: Vec<_> = where_is.iter().filter(|(_, at)| at.len() > 1).collect();
    assert!(
        duplicated.is_empty(),
        "records written more than once: {duplicated:?}"
    );
    for (partition, records) in &acked {
        for (seq, offset) in records {
            let at = where_is
                .get(seq)
                .unwrap_or_else(|| panic!("acknowledged record {seq} is not in the log"));
            assert_eq!(
                at,
                &vec![(*partition, *offset)],
                "record {seq}: acknowledged at {partition}/{offset}"
            );
        }
        // Send order = log order, for acknowledged records.
        let acked_seqs: Vec<u64> = records.iter().map(|(s, _)| *s).collect();
        let log_seqs: Vec<u64> = in_log
            .get(partition)
            .map(|r| {
                r.iter()
                    .map(|(s, _)| *s)
                    .filter(|s| acked_seqs.contains(s))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            log_seqs, acked_seqs,
            "partition {partition}: acknowledged records in log order vs send order"
        );
        // And sequence numbers only grow along the log (a retried batch
        // never lands after one sent later).
        let all: Vec<u64> = in_log[partition].iter().map(|(s, _)| *s).collect();
        assert!(
            all.windows(2).all(|w| w[0] < w[1]),
            "partition {partition}: log out of send order"
        );
    }
    say(format!(
        "log holds {} records; every acknowledged one once, in order",
        log.len()
    ));
}

/// Sends `p<partition> <seq>` records round-robin over the partitions
/// until `stop`; returns each record's sequence number, partition and
/// delivery. About 250 a second: enough for batches and several in flight,
/// few enough that the group and the brokers share 2 loaded cores. A
/// `send` that waits longer than the delivery timeout (plus slack) for
/// buffer space fails the test.
async fn produce_until(
    producer: Producer,
    topic: String,
    stop: Arc<AtomicBool>,
) -> Vec<(u64, i32, DeliveryFuture)> {
    let mut sent = Vec::new();
    let mut seq: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        for _ in 0..5 {
            let partition = (seq % PARTITIONS as u64) as i32;
            let record = ProducerRecord::new(topic.as_str())
                .partition(partition)
                .value(format!("p{partition} {seq}"));
            let delivery = within("send", DELIVERY_TIMEOUT + HANG_SLACK, producer.send(record))
                .await
                .unwrap_or_else(|e| panic!("send record {seq}: {e}"));
            sent.push((seq, partition, delivery));
            seq += 1;
        }
        smol::Timer::after(Duration::from_millis(20)).await;
    }
    sent
}

/// What the members saw, shared with the test thread.
#[derive(Default)]
struct Consumed {
    /// Sequence numbers delivered at least once, by either member.
    seen: Mutex<BTreeSet<u64>>,
    stop: AtomicBool,
    /// How many times the watcher read the committed offsets.
    checks: std::sync::atomic::AtomicUsize,
}

impl Consumed {
    fn lock_seen(&self) -> std::sync::MutexGuard<'_, BTreeSet<u64>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What one member saw.
#[derive(Default)]
struct MemberReport {
    records: usize,
    /// The stream's errors: an item, not the end (a fetch or group request
    /// fails while brokers are down).
    errors: Vec<String>,
    /// How many times the stream ended and a new member joined in its place.
    rejoined: usize,
    /// `+[partitions]@time` for each assignment, `-[..]@..` for each
    /// revocation, `lost[..]@..` for each loss, in order.
    assignments: Vec<String>,
}

/// A member of `group` reading `topic` until `consumed.stop`, then closing
/// (which commits what it read and leaves the group) within its bound. A
/// stream that ends is replaced by a new member, as a user would.
async fn member_until(
    t0: Instant,
    session: Session,
    group: String,
    topic: String,
    name: &'static str,
    consumed: Arc<Consumed>,
) -> MemberReport {
    let mut report = MemberReport::default();
    // "[0, 1]@12.3s": the partitions, and when (as the test's log lines).
    let partitions = |tps: Vec<(String, i32)>| {
        let partitions: Vec<i32> = tps.into_iter().map(|(_, p)| p).collect();
        format!("{partitions:?}@{:.1}s", t0.elapsed().as_secs_f64())
    };
    'members: loop {
        let mut member = GroupConsumer::new(&session, member_config(&group))
            .unwrap_or_else(|e| panic!("member {name}: GroupConsumer::new: {e}"));
        member
            .subscribe(&[&topic])
            .unwrap_or_else(|e| panic!("member {name}: subscribe: {e}"));
        while !consumed.stop.load(Ordering::SeqCst) {
            let next = async { Some(member.next().await) };
            let tick = async {
                smol::Timer::after(Duration::from_millis(200)).await;
                None
            };
            let Some(item) = smol::future::or(next, tick).await else {
                continue;
            };
            match item {
                None => {
                    report.rejoined += 1;
                    smol::Timer::after(Duration::from_millis(200)).await;
                    continue 'members;
                }
                Some(Err(e)) => report.errors.push(e.to_string()),
                Some(Ok(GroupMessage::Record(record))) => {
                    report.records += 1;
                    let seq = parse_seq(record.value.as_deref().unwrap_or(b""));
                    consumed.lock_seen().insert(seq);
                }
                Some(Ok(GroupMessage::Assigned(tps))) => {
                    report.assignments.push(format!("+{}", partitions(tps)));
                }
                Some(Ok(GroupMessage::Revoked(tps))) => {
                    report.assignments.push(format!("-{}", partitions(tps)));
                }
                Some(Ok(GroupMessage::Lost(tps))) => {
                    report.assignments.push(format!("lost{}", partitions(tps)));
                }
            }
        }
        // Leaving commits and sends LeaveGroup, each bounded by the
        // session's request timeout.
        within("GroupConsumer::close", group_limit() * 2, member.close()).await;
        return report;
    }
}

/// Reads the group's committed offsets twice a second until
/// `consumed.stop`; returns every time one was lower than before. A failed
/// read (the coordinator's broker killed) is retried at the next tick.
async fn watch_commits(group: GroupOffsets, topic: String, consumed: Arc<Consumed>) -> Vec<String> {
    let tps: Vec<(String, i32)> = (0..PARTITIONS).map(|p| (topic.clone(), p)).collect();
    let mut highest: BTreeMap<i32, i64> = BTreeMap::new();
    let mut backwards = Vec::new();
    while !consumed.stop.load(Ordering::SeqCst) {
        let limit = group_limit() + HANG_SLACK;
        if let Ok(fetched) = within("fetch_offsets", limit, group.fetch_offsets(&tps)).await {
            consumed.checks.fetch_add(1, Ordering::SeqCst);
            for ((_, partition), committed) in fetched {
                let Some(committed) = committed else { continue };
                let before = highest.entry(partition).or_insert(committed.offset);
                if committed.offset < *before {
                    backwards.push(format!(
                        "partition {partition}: {} after {}",
                        committed.offset, before
                    ));
                }
                *before = (*before).max(committed.offset);
            }
        }
        smol::Timer::after(Duration::from_millis(500)).await;
    }
    backwards
}

/// The bound on one GroupOffsets call: its own limit is the session's
/// request timeout, retries included.
fn group_limit() -> Duration {
    ClientConfig::from_bootstrap("127.0.0.1:0").request_timeout
}

fn parse_seq(value: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(value);
    text.rsplit(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected value {text:?}"))
}

/// The current leader of `topic`-0. A metadata request can fail while the
/// cluster moves (a broker closing connections as it fences or recovers):
/// retried, as a user would, within the request timeout.
fn leader_of_partition_0(session: &Session, topic: &str, round: usize) -> i32 {
    let limit = session.config().request_timeout;
    let deadline = Instant::now() + limit;
    loop {
        let last = match bounded("refresh_metadata", limit, session.refresh_metadata()) {
            Ok(metadata) => match metadata.leader(topic, 0) {
                Some(leader) => return leader,
                None => "no leader".to_string(),
            },
            Err(e) => e.to_string(),
        };
        assert!(
            Instant::now() < deadline,
            "round {round}: no leader for {topic}-0 within {limit:?} (last: {last})"
        );
        eprintln!("round {round}: leader of {topic}-0: {last}; asking again");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_for_leaders(session: &Session, topic: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metadata = bounded(
            "add_topics",
            session.config().request_timeout,
            session.add_topics(&[topic]),
        )
        .expect("metadata");
        let led = metadata
            .topics
            .get(topic)
            .map_or(0, |t| t.partitions.iter().filter(|p| p.leader >= 0).count());
        if led == PARTITIONS as usize {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{topic}: partitions without leaders after 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `future` to completion on this thread; taking longer than `limit`
/// plus [`HANG_SLACK`] is a hung client call and fails the test.
fn bounded<F: Future>(what: &str, limit: Duration, future: F) -> F::Output {
    smol::block_on(within(what, limit + HANG_SLACK, future))
}

async fn within<F: Future>(what: &str, limit: Duration, future: F) -> F::Output {
    let work = async { Some(future.await) };
    let timer = async {
        smol::Timer::after(limit).await;
        None
    };
    smol::future::or(work, timer)
        .await
        .unwrap_or_else(|| panic!("{what}: no answer within {limit:?} (a hung client call)"))
}
