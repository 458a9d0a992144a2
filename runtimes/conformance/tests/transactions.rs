//! Transactions on Apache Kafka 4.4 and 3.9.1 (issue 23), with the second
//! version of the transaction protocol (KIP-890) on 4.4, where the test
//! broker finalizes `transaction.version` 2, and the first on 3.9.1,
//! checked by a witness: the Java client's
//! read_committed consumer (kafka-clients 4.4) reads exactly what kafkite
//! committed, never what it aborted; kafkite's own read_committed fetch
//! agrees; a second producer with the same transactional id fences the
//! first; offsets sent to a transaction are committed with it, and only
//! if it commits.

use std::time::Duration;

use futures_lite::StreamExt;
use kafkite::TopicPartition;
use kafkite_smol::{
    ConsumerGroupMetadata, Error, FetchConfig, FetchStart, Fetcher, GroupOffsets, NewTopic,
    ProducerConfig, ProducerRecord, Session, TransactionOffset, TransactionProtocol,
    TransactionalProducer,
};
use kafkite_testkit::release::KafkaRelease;
use kafkite_testkit::{java_read_back_with, java_transactional_produce};
use kafkite_testkit::{shared, unique_name, PeerKind};

/// The longest one broker's scenarios may take on a loaded 2-core machine.
const LIMIT: Duration = Duration::from_secs(240);

/// How long the Java witness may take to read what it is owed.
const WITNESS_LIMIT: Duration = Duration::from_secs(30);

fn run<T>(what: &str, test: impl std::future::Future<Output = T>) -> T {
    smol::block_on(async {
        let deadline = async {
            smol::Timer::after(LIMIT).await;
            panic!("{what}: did not finish within {LIMIT:?}");
        };
        futures_lite::future::or(test, deadline).await
    })
}

async fn session_with_topic(bootstrap: &str, topic: &str, partitions: i32) -> Session {
    let config = kafkite_smol::ClientConfig::from_bootstrap(bootstrap);
    let session = Session::connect(config).await.expect("connect");
    session
        .create_topics(&[NewTopic::new(topic, partitions, 1)])
        .await
        .expect("create topic");
    session
}

fn transactional(id: &str) -> ProducerConfig {
    ProducerConfig::default()
        .with_transactional_id(id)
        .with_transaction_timeout(Duration::from_secs(30))
}

/// Sends `values` to `topic` (round robin over `partitions`) in the open
/// transaction and waits until the broker has every one: an abort after
/// this hides records that are in the log.
async fn send_acked(
    producer: &TransactionalProducer,
    topic: &str,
    partitions: i32,
    values: &[String],
) {
    let mut deliveries = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let record = ProducerRecord::new(topic)
            .partition(i as i32 % partitions)
            .value(v.clone());
        deliveries.push(producer.send(record).await.expect("send"));
    }
    for d in deliveries {
        d.await.expect("acknowledged");
    }
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// What kafkite's fetcher reads from offset 0 of every partition, up to
/// `count` records, as sorted values.
async fn kafkite_read(
    session: &Session,
    topic: &str,
    partitions: i32,
    count: usize,
    read_committed: bool,
) -> Vec<String> {
    let config = FetchConfig {
        read_committed,
        ..FetchConfig::default()
    };
    let fetcher = Fetcher::new(session, config);
    let starts = (0..partitions)
        .map(|p| FetchStart::new(topic, p, Some(0)))
        .collect();
    let mut stream = fetcher.fetch(starts, Some(count));
    let mut got = Vec::new();
    while let Some(record) = stream.next().await {
        let record = record.expect("fetch");
        let value = record.value.as_deref().unwrap_or_default();
        got.push(String::from_utf8_lossy(value).into_owned());
    }
    got.sort();
    got
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The `transaction.version` each broker reports finalized.
fn finalized_transaction_versions(session: &Session) -> Vec<(i32, Option<i16>)> {
    let brokers = session.metadata().brokers;
    let level = |node| {
        let table = session.broker_versions(node)?;
        table.finalized_feature("transaction.version")
    };
    brokers.keys().map(|node| (*node, level(*node))).collect()
}

async fn the_producer_speaks_the_expected_protocol(bootstrap: &str, expected: TransactionProtocol) {
    let topic = unique_name("txn-protocol");
    let session = session_with_topic(bootstrap, &topic, 1).await;
    let producer = TransactionalProducer::new(&session, transactional(&unique_name("txn")))
        .await
        .expect("init_transactions");
    let finalized = finalized_transaction_versions(&session);
    eprintln!("finalized transaction.version per broker: {finalized:?}");
    assert_eq!(
        producer.protocol(),
        expected,
        "finalized transaction.version per broker: {finalized:?}"
    );
    // Two transactions in a row: under the second protocol the second
    // runs on the epoch the first one's EndTxn returned.
    for round in ["p", "q"] {
        producer.begin().await.expect("begin");
        send_acked(&producer, &topic, 1, &values(round, 3)).await;
        producer.commit().await.expect("commit");
    }
    assert_eq!(producer.protocol(), expected);
    producer.close().await;
    let ours = kafkite_read(&session, &topic, 1, 6, true).await;
    let mut both = values("p", 3);
    both.extend(values("q", 3));
    assert_eq!(ours, sorted(both));
    session.close().await;
}

async fn committed_records_are_read_once_and_aborted_ones_never(bootstrap: &str) {
    let topic = unique_name("txn-visibility");
    let session = session_with_topic(bootstrap, &topic, 2).await;
    let producer = TransactionalProducer::new(&session, transactional(&unique_name("txn")))
        .await
        .expect("init_transactions");

    let (a, b, c) = (values("a", 10), values("b", 10), values("c", 10));
    producer.begin().await.expect("begin a");
    send_acked(&producer, &topic, 2, &a).await;
    producer.commit().await.expect("commit a");

    producer.begin().await.expect("begin b");
    send_acked(&producer, &topic, 2, &b).await;
    producer.abort().await.expect("abort b");

    producer.begin().await.expect("begin c");
    send_acked(&producer, &topic, 2, &c).await;
    producer.commit().await.expect("commit c");

    // A record outside a transaction fails, typed.
    let outside = producer
        .send(ProducerRecord::new(topic.as_str()).partition(0).value("x"))
        .await
        .expect("queued")
        .await;
    assert!(
        matches!(outside, Err(kafkite_smol::ProduceError::Transaction(_))),
        "{outside:?}"
    );
    producer.close().await;

    let committed = sorted(a.iter().chain(c.iter()).cloned().collect());
    let witness = java_read_back_with(
        bootstrap,
        &topic,
        committed.len(),
        WITNESS_LIMIT,
        &[("isolation.level", "read_committed")],
    )
    .expect("the Java client reads the committed records");
    let java: Vec<String> = sorted(
        witness
            .iter()
            .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
            .collect(),
    );
    assert_eq!(java, committed, "the Java read_committed consumer");

    let ours = kafkite_read(&session, &topic, 2, committed.len(), true).await;
    assert_eq!(ours, committed, "kafkite read_committed");
    let everything = sorted(a.iter().chain(&b).chain(&c).cloned().collect());
    let uncommitted = kafkite_read(&session, &topic, 2, everything.len(), false).await;
    assert_eq!(
        uncommitted, everything,
        "read_uncommitted sees the aborted too"
    );
    session.close().await;
}

async fn a_second_producer_with_the_same_id_fences_the_first(bootstrap: &str) {
    let topic = unique_name("txn-fencing");
    let session = session_with_topic(bootstrap, &topic, 1).await;
    let id = unique_name("txn-zombie");
    let zombie = TransactionalProducer::new(&session, transactional(&id))
        .await
        .expect("first init");
    zombie.begin().await.expect("begin");
    send_acked(&zombie, &topic, 1, &values("zombie", 5)).await;

    // The new instance's init aborts the zombie's open transaction.
    let fresh = TransactionalProducer::new(&session, transactional(&id))
        .await
        .expect("second init");
    match zombie.commit().await {
        Err(Error::Transaction(e)) => assert!(e.is_fatal(), "{e}"),
        other => panic!("the fenced producer's commit: {other:?}"),
    }
    let fresh_values = values("fresh", 5);
    fresh.begin().await.expect("begin");
    send_acked(&fresh, &topic, 1, &fresh_values).await;
    fresh.commit().await.expect("commit");
    fresh.close().await;
    zombie.close().await;

    let ours = kafkite_read(&session, &topic, 1, fresh_values.len(), true).await;
    assert_eq!(
        ours,
        sorted(fresh_values),
        "only the new instance's records"
    );
    session.close().await;
}

async fn offsets_sent_to_a_transaction_commit_with_it_and_only_then(bootstrap: &str) {
    let topic = unique_name("txn-offsets-out");
    let session = session_with_topic(bootstrap, &topic, 1).await;
    let group = unique_name("txn-group");
    let producer = TransactionalProducer::new(&session, transactional(&unique_name("txn")))
        .await
        .expect("init_transactions");
    let input: TopicPartition = (topic.clone(), 0);
    let offsets_at = |offset| vec![TransactionOffset::new(topic.as_str(), 0, offset)];
    let metadata = ConsumerGroupMetadata::without_membership(group.as_str());

    producer.begin().await.expect("begin");
    send_acked(&producer, &topic, 1, &values("v", 3)).await;
    producer
        .send_offsets(offsets_at(7), metadata.clone())
        .await
        .expect("offsets into the transaction");
    producer.abort().await.expect("abort");
    let offsets = GroupOffsets::new(session.clone(), group.as_str());
    let after_abort = offsets
        .fetch_offsets(std::slice::from_ref(&input))
        .await
        .expect("fetch offsets");
    assert_eq!(
        after_abort.get(&input).cloned().flatten().map(|o| o.offset),
        None,
        "an aborted transaction commits no offset"
    );

    producer.begin().await.expect("begin");
    send_acked(&producer, &topic, 1, &values("w", 3)).await;
    producer
        .send_offsets(offsets_at(11), metadata)
        .await
        .expect("offsets into the transaction");
    producer.commit().await.expect("commit");
    // EndTxn answers once the coordinator has logged the decision; the
    // markers, the group's among them, are written after. An OffsetFetch
    // that does not ask for stable offsets sees the offset once its marker
    // is in, so it is asked a few times.
    let mut committed = None;
    for _ in 0..50 {
        let after_commit = offsets
            .fetch_offsets(std::slice::from_ref(&input))
            .await
            .expect("fetch offsets");
        committed = after_commit
            .get(&input)
            .cloned()
            .flatten()
            .map(|o| o.offset);
        if committed.is_some() {
            break;
        }
        smol::Timer::after(Duration::from_millis(100)).await;
    }
    assert_eq!(committed, Some(11), "the committed transaction's offset");
    producer.close().await;
    session.close().await;
}

async fn transactions_the_java_client_aborted_are_invisible_to_kafkite(bootstrap: &str) {
    let topic = unique_name("txn-java");
    let session = session_with_topic(bootstrap, &topic, 2).await;
    // Six transactions of 20 records; the 2nd, 4th and 6th aborted
    // once written.
    let java = java_transactional_produce(
        bootstrap,
        &topic,
        &unique_name("java-txn"),
        (20, 6, 2),
        "java",
    )
    .expect("the Java client's transactions");
    assert_eq!((java.committed.len(), java.aborted.len()), (60, 60));
    let committed = sorted(java.committed.clone());
    let ours = kafkite_read(&session, &topic, 2, committed.len(), true).await;
    assert_eq!(ours, committed, "kafkite read_committed");
    let everything = sorted(java.committed.into_iter().chain(java.aborted).collect());
    let all = kafkite_read(&session, &topic, 2, everything.len(), false).await;
    assert_eq!(all, everything, "read_uncommitted reads the aborted too");
    session.close().await;
}

/// The scenarios on `bootstrap`, one after another (a failure names its
/// scenario: each panics with what it checked).
async fn every_scenario(bootstrap: &str, protocol: TransactionProtocol) {
    the_producer_speaks_the_expected_protocol(bootstrap, protocol).await;
    committed_records_are_read_once_and_aborted_ones_never(bootstrap).await;
    a_second_producer_with_the_same_id_fences_the_first(bootstrap).await;
    offsets_sent_to_a_transaction_commit_with_it_and_only_then(bootstrap).await;
    transactions_the_java_client_aborted_are_invisible_to_kafkite(bootstrap).await;
}

#[test]
fn on_kafka_4_4() {
    let kafka = shared(PeerKind::Kafka);
    run(
        "Kafka 4.4",
        every_scenario(kafka.bootstrap(), TransactionProtocol::V2),
    );
}

/// Kafka 3.9.1: before KIP-890's second protocol version could be turned
/// on, so the first is all there is (the fallback).
#[test]
fn on_kafka_3_9_1() {
    let kafka = KafkaRelease::start("3.9.1").expect("Kafka 3.9.1");
    run(
        "Kafka 3.9.1",
        every_scenario(kafka.bootstrap(), TransactionProtocol::V1),
    );
}
