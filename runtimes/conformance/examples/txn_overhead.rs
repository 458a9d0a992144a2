//! What a transaction costs, kafkite beside the Java client (kafka-clients
//! 4.4), on the same Kafka 4.4 broker in the same run: `TXNS` transactions
//! of `PER_TXN` records each, committed one after another, timed from the
//! first `begin` to the last commit. For kafkite the same records are also
//! sent without transactions, flushed at every interval, so the
//! transaction's own share shows.
//!
//! ```text
//! cargo run --release -p kafkite-conformance --example txn_overhead [-- PER_TXN TXNS ROUNDS]
//! ```
//!
//! Defaults: 1,000 records per transaction, 100 transactions, 3 rounds.

use std::time::{Duration, Instant};

use kafkite_smol::{
    ClientConfig, NewTopic, Producer, ProducerConfig, ProducerRecord, Session,
    TransactionalProducer,
};
use kafkite_testkit::{java_transactional_produce, shared, unique_name, PeerKind};

const PARTITIONS: i32 = 3;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let mut next = |default| match args.next() {
        Some(Ok(n)) => n,
        Some(Err(e)) => panic!("arguments are PER_TXN TXNS ROUNDS: {e}"),
        None => default,
    };
    let (per_txn, txns, rounds) = (next(1000), next(100), next(3));
    // KAFKITE_LOG=trace shows each request of each transaction, timed.
    if let Ok(level) = std::env::var("KAFKITE_LOG") {
        let level = level
            .parse()
            .unwrap_or(tracing_subscriber::filter::LevelFilter::DEBUG);
        tracing_subscriber::fmt().with_max_level(level).init();
    }
    let kafka = shared(PeerKind::Kafka);
    println!("{txns} transactions of {per_txn} records, {PARTITIONS} partitions, Kafka 4.4");
    println!("round  java ms/txn  kafkite ms/txn  ratio  kafkite no-txn ms/interval");
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let java_topic = unique_name("txn-bench-java");
        let ours_topic = unique_name("txn-bench-kafkite");
        let plain_topic = unique_name("txn-bench-plain");
        smol::block_on(create(
            kafka.bootstrap(),
            &[&java_topic, &ours_topic, &plain_topic],
        ));
        let java = java_transactional_produce(
            kafka.bootstrap(),
            &java_topic,
            &unique_name("bench-java"),
            (per_txn, txns, 0),
            "j",
        )
        .expect("the Java client's run");
        let sizes = (per_txn, txns);
        let ours = smol::block_on(kafkite_intervals(
            kafka.bootstrap(),
            &ours_topic,
            sizes,
            true,
        ));
        let plain = smol::block_on(kafkite_intervals(
            kafka.bootstrap(),
            &plain_topic,
            sizes,
            false,
        ));
        let per = |d: Duration| d.as_secs_f64() * 1000.0 / txns as f64;
        let ratio = per(ours) / per(java.elapsed);
        ratios.push(ratio);
        println!(
            "{round:>5}  {:>11.2}  {:>14.2}  {ratio:>5.2}  {:>26.2}",
            per(java.elapsed),
            per(ours),
            per(plain)
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "median kafkite/java time per transaction: {:.2}x",
        ratios[ratios.len() / 2]
    );
}

async fn create(bootstrap: &str, topics: &[&str]) {
    let session = Session::connect(ClientConfig::from_bootstrap(bootstrap))
        .await
        .expect("connect");
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| NewTopic::new(*t, PARTITIONS, 1))
        .collect();
    session.create_topics(&new).await.expect("create topics");
    session.close().await;
}

fn record(topic: &str, t: usize, i: usize) -> ProducerRecord {
    ProducerRecord::new(topic)
        .partition((i % PARTITIONS as usize) as i32)
        .value(format!("k-{t}-{i}"))
}

/// `txns` intervals of `per_txn` records: each a transaction, or (not
/// `transactional`) each ended with a flush. The time from the first
/// record to the last interval's end.
async fn kafkite_intervals(
    bootstrap: &str,
    topic: &str,
    (per_txn, txns): (usize, usize),
    transactional: bool,
) -> Duration {
    let session = Session::connect(ClientConfig::from_bootstrap(bootstrap))
        .await
        .expect("connect");
    let txn = match transactional {
        true => {
            let config =
                ProducerConfig::default().with_transactional_id(unique_name("bench-kafkite"));
            let txn = TransactionalProducer::new(&session, config)
                .await
                .expect("init_transactions");
            Some(txn)
        }
        false => None,
    };
    let producer = match &txn {
        Some(txn) => txn.producer().clone(),
        None => Producer::new(&session, ProducerConfig::default())
            .await
            .expect("producer"),
    };
    let start = Instant::now();
    for t in 0..txns {
        if let Some(txn) = &txn {
            txn.begin().await.expect("begin");
        }
        let mut deliveries = Vec::with_capacity(per_txn);
        for i in 0..per_txn {
            deliveries.push(producer.send(record(topic, t, i)).await.expect("send"));
        }
        match &txn {
            Some(txn) => txn.commit().await.expect("commit"),
            None => producer.flush().await.expect("flush"),
        }
        for d in deliveries {
            d.await.expect("delivered");
        }
    }
    let elapsed = start.elapsed();
    producer.close().await;
    session.close().await;
    elapsed
}
