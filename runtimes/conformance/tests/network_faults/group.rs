//! A group consumer (`GroupConsumer`, auto-commit plus explicit commits)
//! reading a topic being written to, through cuts, byte-at-a-time
//! delivery, stalls and a bandwidth limit: after the faults it has seen
//! every record at least once; the group's committed offsets, watched
//! from outside, never go backwards; everything below what it committed
//! when it closed was seen; and a new member starting from those
//! committed offsets reads all the rest, so nothing is lost.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kafkite_smol::{
    DeliveryFuture, GroupConsumer, GroupConsumerConfig, GroupMessage, GroupOffsets, Producer,
    ProducerConfig, ProducerRecord, Session,
};
use kafkite_testkit::unique_name;
use smol::stream::StreamExt;

use super::schedule;
use super::support::{
    direct_session, end_offsets, new_topic, own_proxy, pause, proxied_session, read_log, run,
    value, wait_until, within, HANG_SLACK, REQUEST_TIMEOUT,
};

const PARTITIONS: i32 = 3;

/// Bytes of padding per value.
const PAD: usize = 60;

/// How long the group may take to assign, and a member to read what it
/// should: bounds, not waits.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// A member commits explicitly after this many records (auto-commit runs
/// too, every 500 ms).
const COMMIT_EVERY: u64 = 200;

/// (partition, offset)
type Position = (i32, i64);

#[test]
fn group_consumer_sees_everything_and_commits_never_go_back() {
    let what = "group_consumer_through_network_faults";
    let proxy = own_proxy(what);
    run(what, async {
        let t0 = Instant::now();
        let say = |line: String| eprintln!("[{what} +{:6.2} s] {line}", t0.elapsed().as_secs_f64());
        let direct = direct_session().await;
        let topic = new_topic(&direct, "net-faults-group", PARTITIONS).await;
        let group_id = unique_name("net-faults-group");

        let producing = Arc::new(AtomicBool::new(true));
        let producer = within(
            "Producer::new",
            HANG_SLACK,
            Producer::new(&direct, ProducerConfig::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("{what}: Producer::new: {e}"));
        let sending = smol::spawn(produce_while(
            producer.clone(),
            topic.clone(),
            Arc::clone(&producing),
        ));
        let watching = Arc::new(AtomicBool::new(true));
        let watcher = smol::spawn(watch_commits(
            GroupOffsets::new(direct.clone(), group_id.clone()),
            topic.clone(),
            Arc::clone(&watching),
        ));

        // The first member, behind the faulty proxy.
        let first = Arc::new(Member::default());
        let first_session = proxied_session(proxy, "kafkite-faulty-member").await;
        let first_task = smol::spawn(consume_until_stopped(
            first_session.clone(),
            group_id.clone(),
            topic.clone(),
            Arc::clone(&first),
        ));
        wait_until(
            "the first member's assignment and records",
            SETTLE_LIMIT,
            || first.seen().len() >= 100,
        )
        .await;
        say(format!(
            "first member reading; {} records so far",
            first.seen().len()
        ));

        let injected = schedule::inject(proxy, &say).await;
        say(format!("injected: {injected}"));

        // After the faults: every record written so far is seen.
        let written = end_offsets(&direct, &topic, PARTITIONS).await;
        wait_until("the first member to catch up", SETTLE_LIMIT, || {
            let seen = first.seen();
            written
                .iter()
                .all(|(&p, &end)| (0..end).all(|o| seen.contains(&(p, o))))
        })
        .await;
        let caught_up: i64 = written.values().sum();
        say(format!(
            "first member saw all {caught_up} records written by then"
        ));

        // It closes (committing what it processed) while records keep
        // coming; then the producer stops.
        first.stop.store(true, Ordering::SeqCst);
        within("the first member to close", HANG_SLACK * 2, first_task).await;
        first_session.close().await;
        let proxy_stats = proxy.stats();
        pause(Duration::from_secs(1)).await;
        producing.store(false, Ordering::SeqCst);
        let sent = sending.await;
        let mut acked: BTreeSet<Position> = BTreeSet::new();
        for (seq, delivery) in sent {
            let d = within("a delivery", HANG_SLACK, delivery)
                .await
                .unwrap_or_else(|e| panic!("{what}: record {seq} (no faults on this path): {e}"));
            acked.insert((d.partition, d.offset));
        }
        within("close the producer", HANG_SLACK, producer.close()).await;

        let committed = committed_offsets(&direct, &group_id, &topic).await;
        let log = read_log(&direct, &topic, PARTITIONS).await;
        let in_log: BTreeSet<Position> = log
            .iter()
            .flat_map(|(&p, records)| records.iter().map(move |r| (p, r.offset)))
            .collect();
        let ends: BTreeMap<i32, i64> = log
            .iter()
            .map(|(&p, records)| (p, records.last().map_or(0, |r| r.offset + 1)))
            .collect();
        let errors = first.errors().clone();
        say(format!(
            "first member: {} records ({} distinct), {} explicit commits ({} failed), \
             {} stream errors{}, {} rejoins; committed at close: {committed:?}; log ends: {ends:?}",
            first.records.load(Ordering::SeqCst),
            first.seen().len(),
            first.commits.load(Ordering::SeqCst),
            first.failed_commits.load(Ordering::SeqCst),
            errors.len(),
            errors
                .first()
                .map_or(String::new(), |e| format!(" (first: {e})")),
            first.rejoins.load(Ordering::SeqCst),
        ));

        // Nothing committed that was not seen: a restart from the
        // committed offsets skips nothing.
        let seen_first = first.seen().clone();
        for (&partition, &offset) in &committed {
            assert!(
                offset <= ends[&partition],
                "{what}: partition {partition} committed {offset} past its end"
            );
            let unseen: Vec<i64> = (0..offset)
                .filter(|o| !seen_first.contains(&(partition, *o)))
                .collect();
            assert!(
                unseen.is_empty(),
                "{what}: partition {partition} committed {offset} but offsets {:?} were never seen",
                &unseen[..unseen.len().min(10)]
            );
        }

        // A new member, from the committed offsets: it reads the rest.
        let second = Arc::new(Member::default());
        let second_session = proxied_session(proxy, "kafkite-second-member").await;
        let second_task = smol::spawn(consume_until_stopped(
            second_session.clone(),
            group_id.clone(),
            topic.clone(),
            Arc::clone(&second),
        ));
        let rest: BTreeSet<Position> = in_log
            .iter()
            .filter(|(p, o)| *o >= committed.get(p).copied().unwrap_or(0))
            .copied()
            .collect();
        wait_until("the second member to read the rest", SETTLE_LIMIT, || {
            let seen = second.seen();
            rest.iter().all(|at| seen.contains(at))
        })
        .await;
        second.stop.store(true, Ordering::SeqCst);
        within("the second member to close", HANG_SLACK * 2, second_task).await;
        second_session.close().await;
        let seen_second = second.seen().clone();
        let starts: BTreeMap<i32, i64> = (0..PARTITIONS)
            .filter_map(|p| {
                let first_seen = seen_second.range((p, 0)..(p, i64::MAX)).next()?;
                Some((p, first_seen.1))
            })
            .collect();
        for (&partition, &start) in &starts {
            assert_eq!(
                Some(&start),
                committed.get(&partition),
                "{what}: the second member started partition {partition} at {start}, \
                 not at the committed offset"
            );
        }
        watching.store(false, Ordering::SeqCst);
        let (backwards, checks) = watcher.await;
        let final_commits = committed_offsets(&direct, &group_id, &topic).await;
        direct.close().await;

        let union: BTreeSet<Position> = seen_first.union(&seen_second).copied().collect();
        let lost: Vec<&Position> = in_log.difference(&union).collect();
        let acked_lost = acked.iter().filter(|at| !union.contains(at)).count();
        let both = seen_first.intersection(&seen_second).count();
        say(format!(
            "log {} records, acknowledged {}; first member saw {}, second {} (from {starts:?}), \
             seen by both {both}; lost={}, acknowledged lost={acked_lost}; {checks} commit checks, \
             backwards={}; final commits {final_commits:?}; proxy: {} connections, \
             {} bytes to the broker, {} to the client",
            in_log.len(),
            acked.len(),
            seen_first.len(),
            seen_second.len(),
            lost.len(),
            backwards.len(),
            proxy_stats.connections,
            proxy_stats.to_broker.bytes,
            proxy_stats.to_client.bytes,
        ));
        assert!(
            lost.is_empty(),
            "{what}: never seen: {:?}",
            &lost[..lost.len().min(10)]
        );
        assert_eq!(acked_lost, 0, "{what}");
        assert!(
            backwards.is_empty(),
            "{what}: committed offsets went back: {backwards:?}"
        );
        assert!(
            checks > 0,
            "{what}: the commit watcher never read the offsets"
        );
        assert_eq!(
            final_commits, ends,
            "{what}: the second member's final commit"
        );
        assert!(
            injected.cuts_mid_frame >= 2 * schedule::MID_FRAME_CUTS_PER_DIRECTION,
            "{what}: {injected}"
        );
        assert!(
            injected.connections_during_long_stall > 0,
            "{what}: answers held past their deadline did not make the member reconnect"
        );
    })
}

/// What one member saw, shared with the test.
#[derive(Default)]
struct Member {
    seen: Mutex<BTreeSet<Position>>,
    records: AtomicU64,
    commits: AtomicU64,
    failed_commits: AtomicU64,
    rejoins: AtomicU64,
    errors: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Member {
    fn seen(&self) -> MutexGuard<'_, BTreeSet<Position>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn errors(&self) -> MutexGuard<'_, Vec<String>> {
        self.errors.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Short session and heartbeat times, so a member whose connection died
/// is noticed soon; fetches that wait at most 100 ms, so there is always
/// traffic to cut; auto-commit every 500 ms.
fn member_config(group: &str) -> GroupConsumerConfig {
    let mut config = kafkite_conformance::member_config(group);
    config.group = config.group.with_session_timeout(Duration::from_secs(15));
    config
}

/// A member of `group` reading `topic` until `member.stop`, committing
/// explicitly every [`COMMIT_EVERY`] records, then closing (which commits
/// what it processed and leaves). A stream that ends is replaced by a new
/// member, as a user would (and counted).
async fn consume_until_stopped(
    session: Session,
    group: String,
    topic: String,
    member: Arc<Member>,
) {
    'members: loop {
        let mut consumer = GroupConsumer::new(&session, member_config(&group))
            .unwrap_or_else(|e| panic!("GroupConsumer::new: {e}"));
        consumer
            .subscribe(&[&topic])
            .unwrap_or_else(|e| panic!("subscribe: {e}"));
        while !member.stop.load(Ordering::SeqCst) {
            let next = async { Some(consumer.next().await) };
            let tick = async {
                pause(Duration::from_millis(100)).await;
                None
            };
            let Some(item) = smol::future::or(next, tick).await else {
                continue;
            };
            match item {
                None => {
                    member.rejoins.fetch_add(1, Ordering::SeqCst);
                    pause(Duration::from_millis(200)).await;
                    continue 'members;
                }
                Some(Err(e)) => member.errors().push(e.to_string()),
                Some(Ok(GroupMessage::Record(record))) => {
                    member.seen().insert((record.partition, record.offset));
                    let n = member.records.fetch_add(1, Ordering::SeqCst) + 1;
                    if n.is_multiple_of(COMMIT_EVERY) {
                        let limit = REQUEST_TIMEOUT * 4 + HANG_SLACK;
                        let outcome =
                            within("commit_consumed", limit, consumer.commit_consumed()).await;
                        member.commits.fetch_add(1, Ordering::SeqCst);
                        if outcome.is_err() {
                            member.failed_commits.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
                Some(Ok(_)) => {}
            }
        }
        within("GroupConsumer::close", HANG_SLACK * 2, consumer.close()).await;
        return;
    }
}

/// Sends records round-robin over the partitions, ~125 a second, while
/// `producing`; returns each one's sequence number and delivery.
async fn produce_while(
    producer: Producer,
    topic: String,
    producing: Arc<AtomicBool>,
) -> Vec<(u64, DeliveryFuture)> {
    let mut sent = Vec::new();
    let mut seq = 0u64;
    while producing.load(Ordering::SeqCst) {
        for _ in 0..5 {
            let record = ProducerRecord::new(topic.as_str())
                .partition((seq % PARTITIONS as u64) as i32)
                .value(value(seq, PAD));
            let delivery = within("send", HANG_SLACK, producer.send(record))
                .await
                .unwrap_or_else(|e| panic!("send record {seq}: {e}"));
            sent.push((seq, delivery));
            seq += 1;
        }
        pause(Duration::from_millis(40)).await;
    }
    sent
}

/// Reads the group's committed offsets every 250 ms while `watching`;
/// returns every time one was lower than before, and how many reads
/// succeeded.
async fn watch_commits(
    group: GroupOffsets,
    topic: String,
    watching: Arc<AtomicBool>,
) -> (Vec<String>, u64) {
    let tps: Vec<(String, i32)> = (0..PARTITIONS).map(|p| (topic.clone(), p)).collect();
    let mut highest: BTreeMap<i32, i64> = BTreeMap::new();
    let mut backwards = Vec::new();
    let mut checks = 0;
    while watching.load(Ordering::SeqCst) {
        if let Ok(fetched) = within("fetch_offsets", HANG_SLACK, group.fetch_offsets(&tps)).await {
            checks += 1;
            for ((_, partition), committed) in fetched {
                let Some(committed) = committed else { continue };
                let before = highest.entry(partition).or_insert(committed.offset);
                if committed.offset < *before {
                    backwards.push(format!(
                        "partition {partition}: {} after {before}",
                        committed.offset
                    ));
                }
                *before = (*before).max(committed.offset);
            }
        }
        pause(Duration::from_millis(250)).await;
    }
    (backwards, checks)
}

/// The group's committed offset per partition (partitions without one
/// left out).
async fn committed_offsets(session: &Session, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    let tps: Vec<(String, i32)> = (0..PARTITIONS).map(|p| (topic.to_string(), p)).collect();
    let group = GroupOffsets::new(session.clone(), group.to_string());
    within("fetch_offsets", HANG_SLACK, group.fetch_offsets(&tps))
        .await
        .unwrap_or_else(|e| panic!("committed offsets of {topic}: {e}"))
        .into_iter()
        .filter_map(|((_, p), o)| Some((p, o?.offset)))
        .collect()
}
