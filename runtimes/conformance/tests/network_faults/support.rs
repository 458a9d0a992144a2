//! What the network fault scenarios share: sessions through a proxy (and
//! around it), topics, bounded waits, the records' sequence numbers, and
//! reading back what the log holds.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use kafkite_smol::{ClientConfig, FetchConfig, FetchStart, Fetcher, NewTopic, OffsetSpec, Session};
use kafkite_testkit::{shared_proxied, unique_name, FaultyProxy, ProxiedKafka};
use smol::future;
use smol::stream::StreamExt;

/// The longest one scenario may take: a hang guard, far above what a run
/// takes on a loaded 2-core machine.
pub const TEST_LIMIT: Duration = Duration::from_secs(300);

/// The request timeout of sessions behind a proxy: short, so that a stall
/// longer than it makes requests time out (their answers held back), the
/// client drop the connection and retry on a new one.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The producer's request timeout (the broker's produce timeout; the
/// producer waits 5 s more for an answer).
pub const PRODUCE_TIMEOUT: Duration = Duration::from_secs(1);

/// Slack on top of a client timeout before a call counts as hung.
pub const HANG_SLACK: Duration = Duration::from_secs(30);

/// The broker every scenario of this binary shares.
pub fn kafka() -> &'static ProxiedKafka {
    shared_proxied()
}

/// A proxy no other scenario uses.
pub fn own_proxy(what: &str) -> &'static FaultyProxy {
    kafka()
        .take_proxy()
        .unwrap_or_else(|| panic!("{what}: every proxy of the shared broker is taken"))
}

/// Runs a scenario on this thread; taking longer than [`TEST_LIMIT`] fails
/// it. Prints how long it took.
pub fn run<T>(what: &str, scenario: impl Future<Output = T>) -> T {
    let limit = async {
        smol::Timer::after(TEST_LIMIT).await;
        panic!("{what}: did not finish within {TEST_LIMIT:?}");
    };
    let started = Instant::now();
    let outcome = smol::block_on(future::or(scenario, limit));
    eprintln!("{what}: passed in {:.1} s", started.elapsed().as_secs_f64());
    outcome
}

/// `future`, or a failure naming `what` once `limit` passes.
pub async fn within<F: Future>(what: &str, limit: Duration, future: F) -> F::Output {
    let work = async { Some(future.await) };
    let timer = async {
        smol::Timer::after(limit).await;
        None
    };
    future::or(work, timer)
        .await
        .unwrap_or_else(|| panic!("{what}: no answer within {limit:?} (hung)"))
}

pub async fn pause(d: Duration) {
    smol::Timer::after(d).await;
}

/// Polls `done` every 20 ms; failing it if `limit` passes first.
pub async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        pause(Duration::from_millis(20)).await;
    }
}

/// A session on the broker's own listener: no proxy, no faults.
pub async fn direct_session() -> Session {
    let bootstrap = kafka().direct_bootstrap();
    let config = ClientConfig::from_bootstrap(bootstrap).with_client_id("kafkite-direct");
    within("connect directly", HANG_SLACK, Session::connect(config))
        .await
        .unwrap_or_else(|e| panic!("connect to {bootstrap}: {e}"))
}

/// A session bootstrapped at `proxy`, with [`REQUEST_TIMEOUT`]. Checks
/// that the broker sends the client back to the proxy for everything: the
/// only broker address in its metadata is the proxy's.
pub async fn proxied_session(proxy: &FaultyProxy, client_id: &str) -> Session {
    let config = ClientConfig::from_bootstrap(proxy.addr())
        .with_client_id(client_id)
        .with_request_timeout(REQUEST_TIMEOUT)
        .with_reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500));
    let session = within(
        "connect through the proxy",
        HANG_SLACK,
        Session::connect(config),
    )
    .await
    .unwrap_or_else(|e| panic!("connect through {}: {e}", proxy.addr()));
    let addrs: Vec<String> = session
        .metadata()
        .brokers
        .values()
        .map(|b| format!("{}:{}", b.host, b.port))
        .collect();
    assert_eq!(
        addrs,
        vec![proxy.addr().to_string()],
        "the broker must advertise the proxy's address"
    );
    session
}

/// A new topic (replication factor 1), known to `session`'s metadata, its
/// leaders serving.
pub async fn new_topic(session: &Session, prefix: &str, partitions: i32) -> String {
    let topic = unique_name(prefix);
    within(
        "create_topics",
        HANG_SLACK,
        session.create_topics(&[NewTopic::new(&topic, partitions, 1)]),
    )
    .await
    .unwrap_or_else(|e| panic!("create {topic}: {e}"));
    let limit = Duration::from_secs(60);
    let deadline = Instant::now() + limit;
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
            "{topic} not in metadata within {limit:?}"
        );
        pause(Duration::from_millis(100)).await;
    }
    end_offsets(session, &topic, partitions).await;
    topic
}

/// Each partition's log end offset (ListOffsets goes to each leader and
/// is retried until it serves).
pub async fn end_offsets(session: &Session, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let all: Vec<i32> = (0..partitions).collect();
    within(
        "list_offsets",
        HANG_SLACK,
        session.list_offsets(topic, &all, OffsetSpec::Latest),
    )
    .await
    .unwrap_or_else(|e| panic!("latest offsets of {topic}: {e}"))
}

/// A record's value: its sequence number first, then `pad` bytes, so that
/// requests and responses span many bytes (and a cut lands inside one).
pub fn value(seq: u64, pad: usize) -> String {
    format!("{seq} {}", "x".repeat(pad))
}

/// The sequence number of a value made by [`value`].
pub fn seq_of(value: Option<&[u8]>) -> u64 {
    let text = String::from_utf8_lossy(value.unwrap_or(b""));
    text.split(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not one of ours: {text:?}"))
}

/// One record as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub offset: i64,
    pub seq: u64,
    pub key: Option<Vec<u8>>,
}

/// The whole of `topic`, read from offset 0 with a [`Fetcher`] on
/// `session` (a direct one: what the log holds, faults aside), per
/// partition in offset order.
pub async fn read_log(
    session: &Session,
    topic: &str,
    partitions: i32,
) -> BTreeMap<i32, Vec<Logged>> {
    let ends = end_offsets(session, topic, partitions).await;
    let total: i64 = ends.values().sum();
    let total = usize::try_from(total).expect("a record count");
    let mut log: BTreeMap<i32, Vec<Logged>> = (0..partitions).map(|p| (p, Vec::new())).collect();
    if total == 0 {
        return log;
    }
    let fetcher = Fetcher::new(session, FetchConfig::default());
    let starts = (0..partitions)
        .map(|p| FetchStart::new(topic, p, Some(0)))
        .collect();
    let mut records = fetcher.fetch(starts, Some(total));
    let limit = Duration::from_secs(60);
    within("read the log back", limit, async {
        while let Some(record) = records.next().await {
            let record = record.unwrap_or_else(|e| panic!("read {topic} back: {e}"));
            log.entry(record.partition).or_default().push(Logged {
                offset: record.offset,
                seq: seq_of(record.value.as_deref()),
                key: record.key.as_deref().map(<[u8]>::to_vec),
            });
        }
    })
    .await;
    let read: usize = log.values().map(Vec::len).sum();
    assert_eq!(read, total, "{topic}: read back {read} of {total} records");
    log
}
