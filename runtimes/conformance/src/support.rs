//! Helpers the scenarios share: a config for tests, bounded waits, and
//! producing a few records (the producer is not the driver's job; this
//! sends one raw Produce request).

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_lite::future;
use kafkite::client::{ClientConfig, RequestOptions, Target};
use kafkite::protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkite::protocol::messages::{ProduceRequest, ProduceResponse};
use kafkite::protocol::{ErrorCode, VersionRange};
use kafkite::records::RecordBatchWriter;

use kafkite::admin::NewTopic;
use kafkite_testkit::{Peer, PeerKind};

use kafkite_driver::{Runtime, Session};

/// The longest any one scenario may take. Generous: Kafka on a loaded
/// 2-core machine can take seconds to create or delete a topic.
pub(crate) const SCENARIO_LIMIT: Duration = Duration::from_secs(90);

/// A config for tests: shorter timeouts and reconnect backoff than the
/// defaults, so a failure shows quickly and a broker brought back is
/// reconnected to quickly.
pub(crate) fn config(bootstrap: &str) -> ClientConfig {
    ClientConfig::from_bootstrap(bootstrap)
        .with_client_id("kafkite-conformance")
        .with_request_timeout(Duration::from_secs(15))
        .with_connect_timeout(Duration::from_secs(5))
        .with_reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
}

/// Connects, or fails the test with the session's error.
pub(crate) async fn connect<R: Runtime + Default>(bootstrap: &str) -> Session<R> {
    match Session::<R>::connect(config(bootstrap)).await {
        Ok(session) => session,
        Err(e) => panic!("connect to {bootstrap}: {e}"),
    }
}

/// Creates `topic` with `partitions` partitions (replication 1): through
/// CreateTopics, or the mock's control API (the mock has no CreateTopics).
pub(crate) async fn create_topic<R: Runtime>(
    session: &Session<R>,
    peer: &Peer,
    topic: &str,
    partitions: i32,
    what: &str,
) {
    if peer.kind() == PeerKind::Mock {
        peer.create_topic(topic, partitions, 1)
            .unwrap_or_else(|e| panic!("{what}: mock create_topic: {e}"));
    } else {
        session
            .create_topics(&[NewTopic::new(topic, partitions, 1)])
            .await
            .unwrap_or_else(|e| panic!("{what}: create_topics: {e}"));
    }
}

/// Milliseconds since the Unix epoch, as producers stamp records.
pub(crate) fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Sends the client's `tracing` events to the test's captured output
/// (printed only if the test fails; threads the test starts, the runtime's
/// workers among them, inherit its capture). `KAFKITE_TEST_LOG` sets the
/// level: `trace` (the default: every request), `debug` (connections and
/// retries; the default) or `off`. The secured suite asks for `trace`
/// (see [`log_every_request_to_test_output`]).
pub(crate) fn log_to_test_output() {
    init_test_log(tracing_subscriber::filter::LevelFilter::DEBUG);
}

/// As [`log_to_test_output`], at `trace` unless `KAFKITE_TEST_LOG` says
/// otherwise: every request and event-loop wake-up, for suites small
/// enough to afford it. The first call in a process sets the level.
pub(crate) fn log_every_request_to_test_output() {
    init_test_log(tracing_subscriber::filter::LevelFilter::TRACE);
}

fn init_test_log(default: tracing_subscriber::filter::LevelFilter) {
    let level = match std::env::var("KAFKITE_TEST_LOG").as_deref() {
        Ok("off") => return,
        Ok("debug") => tracing_subscriber::filter::LevelFilter::DEBUG,
        Ok("trace") => tracing_subscriber::filter::LevelFilter::TRACE,
        _ => default,
    };
    // Fails only when a subscriber is already set: this one, by an
    // earlier test in the process.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_max_level(level)
        .with_thread_names(true)
        .try_init();
}

/// Runs `scenario`, failing the test if it takes longer than `limit`.
pub(crate) async fn within<R: Runtime + Default, T>(
    limit: Duration,
    what: &str,
    scenario: impl Future<Output = T>,
) -> T {
    log_to_test_output();
    let runtime = R::default();
    let deadline = async {
        runtime.sleep_until(Instant::now() + limit).await;
        panic!("{what}: did not finish within {limit:?}");
    };
    future::or(scenario, deadline).await
}

/// Where a scenario has got to, so a scenario that runs out of time says
/// which step it was waiting in (the step that hangs is the bug's first
/// clue; "did not finish" alone is none).
#[derive(Debug, Clone, Default)]
pub(crate) struct Stage(std::sync::Arc<std::sync::Mutex<&'static str>>);

impl Stage {
    /// Marks the step the scenario is now in.
    pub(crate) fn enter(&self, step: &'static str) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = step;
    }

    fn current(&self) -> &'static str {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// As [`within`], naming the step `stage` was in when time ran out.
pub(crate) async fn within_stages<R: Runtime + Default, T>(
    limit: Duration,
    what: &str,
    stage: &Stage,
    scenario: impl Future<Output = T>,
) -> T {
    log_every_request_to_test_output();
    let runtime = R::default();
    let deadline = async {
        runtime.sleep_until(Instant::now() + limit).await;
        panic!(
            "{what}: did not finish within {limit:?}; stuck in: {}",
            stage.current()
        );
    };
    future::or(scenario, deadline).await
}

/// Checks `condition` until it gives a value, backing off between checks,
/// for facts no event announces (a broker's metadata catching up with a
/// topic it just created or deleted). Fails the test after a bounded
/// number of checks, with the last reason.
pub(crate) async fn eventually<R, T, F, Fut>(
    session: &Session<R>,
    what: &str,
    mut condition: F,
) -> T
where
    R: Runtime,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    const TRIES: u32 = 40;
    let mut backoff = Duration::from_millis(25);
    let mut last = String::new();
    for _ in 0..TRIES {
        match condition().await {
            Ok(Some(value)) => return value,
            Ok(None) => last = "not yet".into(),
            Err(e) => last = e,
        }
        session.sleep_until(Instant::now() + backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(500));
    }
    panic!("{what}: still not so after {TRIES} checks (last: {last})");
}

/// The leader of a partition, waiting for the metadata to name one (a new
/// topic's partitions are briefly leaderless).
pub(crate) async fn leader_of<R: Runtime>(
    session: &Session<R>,
    topic: &str,
    partition: i32,
) -> i32 {
    let what = format!("a leader for {topic}-{partition}");
    eventually(session, &what, || async {
        let metadata = session
            .add_topics(&[topic])
            .await
            .map_err(|e| e.to_string())?;
        Ok(metadata.leader(topic, partition))
    })
    .await
}

/// Produces `values` as one record batch to a partition's leader (acks=all)
/// and returns the base offset the broker gave it. Kafka may name a new
/// topic's leader a moment before that broker serves the partition: a
/// retriable answer (NOT_LEADER_OR_FOLLOWER, ...) is tried again with the
/// leader looked up afresh, a bounded number of times.
pub(crate) async fn produce<R: Runtime>(
    session: &Session<R>,
    topic: &str,
    partition: i32,
    values: &[&str],
) -> i64 {
    let what = format!("produce to {topic}-{partition}");
    eventually(session, &what, || async {
        match produce_once(session, topic, partition, values).await? {
            Ok(base_offset) => Ok(Some(base_offset)),
            Err(code) if code.is_retriable() => Err(format!("answered {code}")),
            Err(code) => panic!("{what}: {code}"),
        }
    })
    .await
}

/// Sends `records` through `producer`, then waits for every delivery;
/// any failure fails the test.
pub(crate) async fn send_all<R: Runtime>(
    producer: &kafkite_driver::Producer<R>,
    records: impl IntoIterator<Item = kafkite_driver::ProducerRecord>,
    what: &str,
) {
    let mut deliveries = Vec::new();
    for record in records {
        let delivery = producer
            .send(record)
            .await
            .unwrap_or_else(|e| panic!("{what}: send: {e}"));
        deliveries.push(delivery);
    }
    for delivery in deliveries {
        delivery
            .await
            .unwrap_or_else(|e| panic!("{what}: delivery: {e}"));
    }
}

/// One Produce request: the base offset, or the partition's error code.
async fn produce_once<R: Runtime>(
    session: &Session<R>,
    topic: &str,
    partition: i32,
    values: &[&str],
) -> Result<Result<i64, ErrorCode>, String> {
    let leader = leader_of(session, topic, partition).await;
    let now_ms = wall_clock_ms();
    let mut writer = RecordBatchWriter::new(0);
    for value in values {
        writer
            .append(now_ms, None, Some(value.as_bytes()), [])
            .expect("append a record");
    }
    let batch = writer.finish().expect("finish the batch").freeze();
    let request = ProduceRequest {
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: topic.to_string(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(batch),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    // RecordBatch v2 needs Produce v3+.
    let options = RequestOptions {
        versions: VersionRange {
            min: 3,
            max: i16::MAX,
        },
        ..Default::default()
    };
    let response: ProduceResponse = session
        .send_with(Target::Broker(leader), request, options)
        .await
        .map_err(|e| e.to_string())?;
    let answer = response
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter())
        .find(|p| p.index == partition)
        .ok_or_else(|| "no answer for the partition".to_string())?;
    let code = ErrorCode(answer.error_code);
    Ok(if code.is_ok() {
        Ok(answer.base_offset)
    } else {
        Err(code)
    })
}
