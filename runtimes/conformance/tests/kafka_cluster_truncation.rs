//! A real log truncation on a 3-broker Apache Kafka 4.4 cluster, and
//! kafkite's explicit-offset [`Fetcher`] detecting it (KIP-320).
//!
//! A one-partition topic with two replicas, A (the leader) and B,
//! `min.insync.replicas=1` and `unclean.leader.election.enable=true`:
//!
//! 1. records `0..KEPT` go to both replicas (acks=all, ISR {A, B});
//! 2. B is killed; once the controller has fenced it and shrunk the ISR to
//!    {A}, records `KEPT..READ` go to A alone (still acks=all: the ISR is
//!    just A), and the high watermark covers them;
//! 3. the consumer reads `0..READ` from A, so its last fetched epoch is A's;
//! 4. A is killed and B started again. A new 4.4 cluster runs with
//!    eligible leader replicas (KIP-966, `eligible.leader.replicas.version`
//!    1): fencing A empties the ISR and puts A in the ELR; B is in
//!    neither, so only the topic's unclean election elects B, when it
//!    registers again: leader in a new epoch with a log that ends at
//!    `KEPT`. It takes `NEW` new records at `KEPT..`. (With ELR on, the
//!    controller still falls back to an unclean election when no ISR or
//!    ELR member is alive; no feature needs turning off.)
//!    `KEPT + NEW > READ`: B's log reaches past the consumer's
//!    position. A consumer that sent no last fetched epoch would, by when
//!    it first asks B, either take OFFSET_OUT_OF_RANGE and reset to the
//!    earliest offset (reading everything again, the loss unreported) or
//!    read on at `READ` and silently skip B's records `KEPT..READ` (a
//!    fetcher started at `READ` shows the latter at the end);
//! 5. the consumer, fetching on from `READ`, must report
//!    `LogTruncated { lost_from: KEPT, lost_to: READ, resumed_at: KEPT }`
//!    and then hand out B's records from `KEPT` on.

use std::future::Future;
use std::time::{Duration, Instant};

use kafkite_smol::{
    Acks, ClientConfig, Error, FetchConfig, FetchError, FetchStart, Fetcher, NewTopic, Producer,
    ProducerConfig, ProducerRecord, Session,
};
use kafkite_testkit::cluster::{KafkaCluster, CLUSTER_BROKERS};
use kafkite_testkit::unique_name;
use smol::stream::StreamExt;

/// Records both replicas have.
const KEPT: i64 = 10;
/// Where the consumer stands when A dies: `KEPT..READ` are on A alone.
const READ: i64 = 15;
/// Records the unclean leader takes: its log then ends past `READ`.
const NEW: i64 = 10;

/// The bound on any one wait for the cluster (ISR shrink, an election):
/// generous, as 2 loaded cores run four JVMs. A hang guard, not a timing
/// assertion.
const CLUSTER_LIMIT: Duration = Duration::from_secs(90);

#[test]
fn consumer_reports_a_log_truncated_by_an_unclean_leader_election() {
    let cluster = KafkaCluster::start().expect("3-broker Kafka cluster");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        truncate_under_a_consumer(&cluster)
    }));
    if let Err(panic) = outcome {
        // The brokers' side of the story, before Drop removes their logs.
        for id in CLUSTER_BROKERS {
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
        let controller = cluster.data_dir().join("controller").join("kafka.log");
        let log = std::fs::read_to_string(&controller).unwrap_or_default();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("election") || l.contains(" WARN ") || l.contains(" ERROR "))
            .collect();
        eprintln!(
            "controller: last elections, warnings and errors of {}:\n{}",
            controller.display(),
            lines[lines.len().saturating_sub(15)..].join("\n")
        );
        std::panic::resume_unwind(panic);
    }
}

fn truncate_under_a_consumer(cluster: &KafkaCluster) {
    let t0 = Instant::now();
    let say = |what: String| eprintln!("[truncation +{:6.2} s] {what}", t0.elapsed().as_secs_f64());

    let config = ClientConfig::from_bootstrap(cluster.bootstrap());
    let limit = config.request_timeout;
    let session = bounded("connect", limit, Session::connect(config)).expect("connect");
    let topic = unique_name("truncation");
    bounded(
        "create_topics",
        limit,
        session.create_topics(&[NewTopic::new(&topic, 1, 2)
            .with_config("min.insync.replicas", "1")
            .with_config("unclean.leader.election.enable", "true")]),
    )
    .expect("create the topic (1 partition, RF 2)");
    bounded("add_topics", limit, session.add_topics(&[&topic])).expect("metadata");
    let state = wait_for(
        &session,
        &topic,
        "a leader and both replicas in the ISR",
        |p| p.leader >= 0 && p.replicas.len() == 2 && p.isr.len() == 2,
    );
    let a = state.leader;
    let a_epoch = state.leader_epoch;
    let b = state
        .replicas
        .iter()
        .copied()
        .find(|&r| r != a)
        .expect("a second replica");
    say(format!("{topic}-0: {state}; A = {a}, B = {b}"));

    // 1. Records both replicas have.
    produce(&session, &topic, "kept", 0..KEPT);
    say(format!("records 0..{KEPT} acknowledged by A and B"));

    // 2. B crashes; A alone takes more.
    cluster.kill(b).expect("kill B");
    let state = wait_for(&session, &topic, "B out of the ISR", |p| {
        p.leader == a && p.isr == [a]
    });
    say(format!("killed B ({b}); {state}"));
    produce(&session, &topic, "only on A", KEPT..READ);
    say(format!("records {KEPT}..{READ} acknowledged by A alone"));

    // 3. The consumer reads everything A has.
    let fetcher = Fetcher::new(
        &session,
        FetchConfig {
            max_wait: Duration::from_millis(200),
            ..FetchConfig::default()
        },
    );
    let mut stream = fetcher.fetch(vec![FetchStart::new(&topic, 0, Some(0))], None);
    for offset in 0..READ {
        let record = bounded("read from A", CLUSTER_LIMIT, stream.next())
            .expect("the stream goes on")
            .unwrap_or_else(|e| panic!("reading offset {offset} from A: {e}"));
        assert_eq!(record.offset, offset);
        let want = if offset < KEPT {
            format!("kept {offset}")
        } else {
            format!("only on A {offset}")
        };
        assert_eq!(value_of(record.value.as_deref()), want, "offset {offset}");
    }
    say(format!("the consumer read 0..{READ} from A"));

    // 4. A crashes; B comes back and is elected uncleanly.
    cluster.kill(a).expect("kill A");
    let state = wait_for(&session, &topic, "A fenced", |p| p.leader != a);
    say(format!("killed A ({a}); {state}"));
    cluster.restart(b).expect("restart B");
    let state = wait_for(&session, &topic, "B elected", |p| p.leader == b);
    say(format!("restarted B; {state}"));
    assert_eq!(state.isr, [b], "the unclean leader starts a new ISR");
    assert!(
        state.leader_epoch > a_epoch,
        "B leads in a later epoch than A's {a_epoch}: {state}"
    );
    // What the controller says it did, for the log (not asserted: the
    // wording is Kafka's to change).
    for line in controller_lines(
        cluster,
        &[
            "setting feature eligible.leader.replicas.version",
            "using an unclean election",
        ],
    ) {
        say(format!("controller: {line}"));
    }
    produce(&session, &topic, "new leader", KEPT..KEPT + NEW);
    say(format!(
        "records {KEPT}..{} acknowledged by B, the unclean leader",
        KEPT + NEW
    ));

    // 5. The consumer notices, and reads B's log from the divergence.
    let mut transient = Vec::new();
    let truncated = loop {
        let item =
            bounded("fetch on from B", CLUSTER_LIMIT, stream.next()).expect("the stream goes on");
        match item {
            Err(Error::Fetch(truncated @ FetchError::LogTruncated { .. })) => break truncated,
            // A fetch request that failed (A's connection dying) and was
            // not retriable is reported; the fetcher tries again after a
            // backoff. Nothing else may come before the truncation.
            Err(Error::Fetch(FetchError::Request(e))) => transient.push(e.to_string()),
            Err(e) => panic!("expected LogTruncated, got the error {e}"),
            Ok(record) => panic!(
                "expected LogTruncated, got the record at {} ({:?})",
                record.offset,
                value_of(record.value.as_deref())
            ),
        }
    };
    say(format!(
        "the consumer reported: {truncated} (after {} transient errors{})",
        transient.len(),
        transient
            .first()
            .map_or(String::new(), |e| format!(", first: {e}"))
    ));
    assert_eq!(
        truncated,
        FetchError::LogTruncated {
            topic: topic.clone(),
            partition: 0,
            lost_from: KEPT,
            lost_to: READ,
            resumed_at: Some(KEPT),
        }
    );
    for offset in KEPT..KEPT + NEW {
        let record = bounded("read from B", CLUSTER_LIMIT, stream.next())
            .expect("the stream goes on")
            .unwrap_or_else(|e| panic!("reading offset {offset} from B: {e}"));
        assert_eq!(record.offset, offset);
        assert_eq!(
            value_of(record.value.as_deref()),
            format!("new leader {offset}"),
            "offset {offset}"
        );
    }
    say(format!("the consumer read B's {KEPT}..{}", KEPT + NEW));
    drop(stream);

    // Without a last fetched epoch (a fetcher started at READ, as after a
    // seek) nothing tells the offsets apart: B's record at READ comes
    // without a word. The epoch is what detected the loss.
    let mut blind = fetcher.fetch(vec![FetchStart::new(&topic, 0, Some(READ))], Some(1));
    let record = bounded("read at READ from B", CLUSTER_LIMIT, blind.next())
        .expect("a record")
        .unwrap_or_else(|e| panic!("reading offset {READ} from B without an epoch: {e}"));
    assert_eq!(record.offset, READ);
    assert_eq!(
        value_of(record.value.as_deref()),
        format!("new leader {READ}")
    );
    drop(blind);
    bounded("close", limit, session.close());
}

/// Sends `"{prefix} {offset}"` for each offset in `offsets` with acks=all,
/// on a producer of its own (a fresh producer id: the unclean leader knows
/// nothing of the earlier ones' sequences), and checks that each landed at
/// that offset.
fn produce(session: &Session, topic: &str, prefix: &str, offsets: std::ops::Range<i64>) {
    let config = ProducerConfig::default()
        .with_acks(Acks::All)
        .with_delivery_timeout(CLUSTER_LIMIT)
        .with_request_timeout(Duration::from_secs(10));
    let producer = bounded(
        "Producer::new",
        CLUSTER_LIMIT,
        Producer::new(session, config),
    )
    .expect("producer");
    let mut deliveries = Vec::new();
    for offset in offsets {
        let record = ProducerRecord::new(topic)
            .partition(0)
            .value(format!("{prefix} {offset}"));
        let delivery = bounded("send", CLUSTER_LIMIT, producer.send(record))
            .unwrap_or_else(|e| panic!("send {prefix} {offset}: {e}"));
        deliveries.push((offset, delivery));
    }
    for (offset, delivery) in deliveries {
        let delivery = bounded("delivery", CLUSTER_LIMIT, delivery)
            .unwrap_or_else(|e| panic!("deliver {prefix} {offset}: {e}"));
        assert_eq!(delivery.offset, offset, "{prefix} {offset}");
    }
    bounded("Producer::close", CLUSTER_LIMIT, producer.close());
}

/// What the metadata says of partition 0, for the log.
struct PartitionState {
    leader: i32,
    leader_epoch: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
}

impl std::fmt::Display for PartitionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "leader {} (epoch {}), replicas {:?}, ISR {:?}",
            self.leader, self.leader_epoch, self.replicas, self.isr
        )
    }
}

/// Refreshes the metadata until partition 0 of `topic` is as `wanted`
/// says, within [`CLUSTER_LIMIT`]. A metadata request may fail while
/// brokers die and start: asked again.
fn wait_for(
    session: &Session,
    topic: &str,
    what: &str,
    wanted: impl Fn(&PartitionState) -> bool,
) -> PartitionState {
    let deadline = Instant::now() + CLUSTER_LIMIT;
    loop {
        let last = match bounded(
            "refresh_metadata",
            session.config().request_timeout,
            session.refresh_metadata(),
        ) {
            Ok(metadata) => {
                match metadata
                    .topics
                    .get(topic)
                    .and_then(|t| t.partitions.iter().find(|p| p.partition == 0))
                {
                    Some(p) => {
                        let state = PartitionState {
                            leader: p.leader,
                            leader_epoch: p.leader_epoch,
                            replicas: p.replicas.clone(),
                            isr: p.isr.clone(),
                        };
                        if wanted(&state) {
                            return state;
                        }
                        state.to_string()
                    }
                    None => format!("no metadata for {topic}-0"),
                }
            }
            Err(e) => e.to_string(),
        };
        assert!(
            Instant::now() < deadline,
            "{topic}-0: not {what} within {CLUSTER_LIMIT:?} (last: {last})"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The controller's log lines that contain any of `needles`.
fn controller_lines(cluster: &KafkaCluster, needles: &[&str]) -> Vec<String> {
    let log = cluster.data_dir().join("controller").join("kafka.log");
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| needles.iter().any(|n| l.contains(n)))
        .map(str::to_string)
        .collect()
}

fn value_of(value: Option<&[u8]>) -> String {
    String::from_utf8_lossy(value.unwrap_or_default()).into_owned()
}

/// Runs `future` to completion on this thread; taking longer than `limit`
/// plus slack is a hung client call and fails the test.
fn bounded<F: Future>(what: &str, limit: Duration, future: F) -> F::Output {
    let limit = limit + Duration::from_secs(30);
    smol::block_on(async {
        let work = async { Some(future.await) };
        let timer = async {
            smol::Timer::after(limit).await;
            None
        };
        smol::future::or(work, timer)
            .await
            .unwrap_or_else(|| panic!("{what}: no answer within {limit:?} (a hung client call)"))
    })
}
