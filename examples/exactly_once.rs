//! Exactly-once consume-transform-produce: records of an input topic are
//! read by a group member, transformed, and written to an output topic in
//! transactions that also commit the input offsets. Killed at any moment
//! and restarted, it neither loses nor repeats an output record, as a
//! read_committed consumer sees the output.
//!
//! ```text
//! KAFKA_BOOTSTRAP=127.0.0.1:9092 cargo run -p kafkite-examples --bin exactly_once -- \
//!     <input topic> <output topic> <group> <transactional id>
//! ```
//!
//! It needs a real Kafka (0.11 or later): the simulated cluster has no
//! transaction coordinator yet. It stops after `EXACTLY_ONCE_IDLE_MS`
//! (default 5000) without input, printing one line per transaction.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_lite::{future, StreamExt};
use kafkite_smol::{
    ClientConfig, ConsumedRecord, Error, GroupConsumer, GroupConsumerConfig, GroupMessage,
    ProducerConfig, ProducerRecord, Session, TransactionOffset, TransactionalProducer,
};

/// Records per transaction, at most, unless `EXACTLY_ONCE_BATCH` says.
const BATCH: usize = 200;
/// How long a transaction waits for more input before committing.
const LINGER: Duration = Duration::from_millis(200);

struct Args {
    bootstrap: String,
    input: String,
    output: String,
    group: String,
    transactional_id: String,
    idle: Duration,
    batch: usize,
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("exactly_once: {usage}");
            std::process::exit(2);
        }
    };
    if let Err(error) = smol::block_on(run(args)) {
        eprintln!("exactly_once: {error}");
        std::process::exit(1);
    }
}

fn parse_args() -> Result<Args, String> {
    let usage =
        "usage: KAFKA_BOOTSTRAP=host:port exactly_once <input> <output> <group> <transactional id>";
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP").map_err(|_| {
        format!("needs a real Kafka (the simulated cluster has no transactions yet); {usage}")
    })?;
    let mut rest = std::env::args().skip(1);
    let mut next = || rest.next().ok_or_else(|| usage.to_string());
    let (input, output, group, transactional_id) = (next()?, next()?, next()?, next()?);
    let idle_ms = std::env::var("EXACTLY_ONCE_IDLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let batch = std::env::var("EXACTLY_ONCE_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BATCH);
    Ok(Args {
        batch,
        bootstrap,
        input,
        output,
        group,
        transactional_id,
        idle: Duration::from_millis(idle_ms),
    })
}

async fn run(args: Args) -> Result<(), Error> {
    // The member and the producer on sessions of their own: a JoinGroup
    // held by the coordinator must not hold up the producer's requests.
    let config = ClientConfig::from_bootstrap(&args.bootstrap);
    let consumer_session = Session::connect(config.clone()).await?;
    let producer_session = Session::connect(config).await?;

    // First the producer: initialising fences an earlier instance with
    // the same transactional id and aborts what it left open, so the
    // offsets the member starts from below are settled.
    let producer = TransactionalProducer::new(
        &producer_session,
        ProducerConfig::default().with_transactional_id(&args.transactional_id),
    )
    .await?;
    // KIP-890's second protocol on brokers that finalized it (Kafka 4.x),
    // the first otherwise.
    println!("transaction protocol {:?}", producer.protocol());

    let mut member_config = GroupConsumerConfig::new(&args.group);
    member_config.auto_commit = None;
    member_config.fetch.read_committed = true;
    // A restarted instance takes its predecessor's place at once (static
    // membership) instead of waiting out its session.
    member_config.group = member_config
        .group
        .with_group_instance_id(format!("{}-member", args.transactional_id))
        .with_session_timeout(Duration::from_secs(10))
        .with_require_stable_offsets(true);
    let mut member = GroupConsumer::new(&consumer_session, member_config)?;
    member.subscribe(&[&args.input])?;

    let mut last_input = Instant::now();
    loop {
        let (batch, revoked) = collect(&mut member, args.batch).await?;
        if !batch.is_empty() {
            last_input = Instant::now();
            transact(&producer, &member, &args.output, &batch).await?;
        }
        if revoked {
            member.revocation_done()?;
        }
        if batch.is_empty() && last_input.elapsed() >= args.idle {
            break;
        }
    }
    producer.close().await;
    member.close().await;
    producer_session.close().await;
    consumer_session.close().await;
    Ok(())
}

/// Reads up to `most` records, for at most [`LINGER`]; true with them
/// when partitions are being revoked (the batch ends there, so its
/// transaction commits before the revocation is done).
async fn collect(
    member: &mut GroupConsumer,
    most: usize,
) -> Result<(Vec<ConsumedRecord>, bool), Error> {
    let mut batch = Vec::new();
    let deadline = Instant::now() + LINGER;
    while batch.len() < most {
        let timeout = async {
            smol::Timer::at(deadline).await;
            None
        };
        match future::or(async { member.next().await }, timeout).await {
            None => break,
            Some(Ok(GroupMessage::Record(record))) => batch.push(record),
            Some(Ok(GroupMessage::Revoked(_))) => return Ok((batch, true)),
            Some(Ok(GroupMessage::Assigned(_) | GroupMessage::Lost(_))) => {}
            Some(Err(error)) => return Err(error),
        }
    }
    Ok((batch, false))
}

/// Writes the batch's outputs and its input offsets in one transaction.
/// An abortable failure aborts it and rewinds the member to the batch's
/// first offsets, so the batch is done again in the next transaction.
async fn transact(
    producer: &TransactionalProducer,
    member: &GroupConsumer,
    output: &str,
    batch: &[ConsumedRecord],
) -> Result<(), Error> {
    let mut first: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for r in batch {
        let tp = (r.topic.to_string(), r.partition);
        first.entry(tp.clone()).or_insert(r.offset);
        next.insert(tp, r.offset + 1);
    }
    let result = async {
        producer.begin().await?;
        let mut deliveries = Vec::new();
        for r in batch {
            let value = format!(
                "out:{}",
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
            );
            let mut record = ProducerRecord::new(output).value(value);
            if let Some(key) = &r.key {
                record = record.key(key.clone());
            }
            deliveries.push(producer.send(record).await?);
        }
        let offsets = next
            .iter()
            .map(|((topic, partition), offset)| {
                TransactionOffset::new(topic.as_str(), *partition, *offset)
            })
            .collect();
        producer
            .send_offsets(offsets, member.group_metadata().await?)
            .await?;
        producer.commit().await?;
        // Every record is acknowledged once the commit succeeded.
        for d in deliveries {
            d.await?;
        }
        Ok::<(), Error>(())
    }
    .await;
    match result {
        Ok(()) => {
            println!("committed {} records, next offsets {next:?}", batch.len());
            Ok(())
        }
        Err(Error::Transaction(e)) if !e.is_fatal() => {
            println!("aborting: {e}");
            producer.abort().await?;
            for ((topic, partition), offset) in first {
                member.seek(&topic, partition, offset)?;
            }
            Ok(())
        }
        Err(error) => Err(error),
    }
}
