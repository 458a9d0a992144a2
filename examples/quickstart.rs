//! The quickstart: the Dart package's two examples, end to end.
//!
//! ```text
//! cargo run --example quickstart                                   # simulated cluster
//! KAFKA_BOOTSTRAP=127.0.0.1:9092 cargo run --example quickstart    # your cluster
//! ```
//!
//! With no broker configured it starts kafkite's simulated 3-broker cluster
//! on loopback ports and talks to it through the real TCP stack, so it runs
//! on a fresh machine with nothing else installed. It produces to
//! partitions 0 and 1 of `topicName` (the Dart producer example), then
//! consumes 5 messages with the consumer group `consumerGroupName`,
//! committing each with metadata (the Dart consumer example), and shows
//! what the group committed.

use std::time::Duration;

use futures_lite::StreamExt;
use kafkite_examples::{ExampleCluster, PARTITIONS, TOPIC};
use kafkite_smol::{Acks, Consumer, ExplicitProducer, GroupOffsets, Message};

fn main() {
    if let Err(error) = smol::block_on(run()) {
        eprintln!("quickstart: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = ExampleCluster::from_env()?;
    if cluster.is_simulated() {
        println!(
            "No KAFKA_BOOTSTRAP set: serving kafkite's simulated cluster at {}",
            cluster.bootstrap()
        );
    } else {
        println!("Using the cluster at {}", cluster.bootstrap());
    }
    let session = cluster.session().await?;
    let brokers: Vec<String> = session
        .metadata()
        .brokers
        .values()
        .map(|b| format!("{}:{}", b.host, b.port))
        .collect();
    println!("Discovered brokers: {}", brokers.join(", "));

    println!("\n-- The producer example: messages to partitions 0 and 1 of {TOPIC}");
    let mut producer =
        ExplicitProducer::new(&session, Acks::Leader, Duration::from_secs(1)).await?;
    for round in 0..3 {
        producer.add_messages(
            TOPIC,
            0,
            [Message::new(format!("msgForPartition0 #{round}"))],
        );
        producer.add_messages(
            TOPIC,
            1,
            [Message::new(format!("msgForPartition1 #{round}"))],
        );
        let response = producer.send().await?;
        println!(
            "send #{round}: has errors: {}, first offsets {:?}",
            response.has_errors(),
            response.offsets.get(TOPIC).cloned().unwrap_or_default()
        );
    }
    producer.close().await;

    println!("\n-- The consumer example: 5 messages for group consumerGroupName, each committed");
    let group = GroupOffsets::new(session.clone(), "consumerGroupName");
    let consumer = Consumer::new(
        &session,
        group.clone(),
        [(TOPIC, vec![0, 1])],
        Duration::from_millis(100),
        1,
    );
    let mut envelopes = consumer.consume(Some(5));
    while let Some(envelope) = envelopes.next().await {
        let envelope = envelope?;
        let value =
            String::from_utf8_lossy(envelope.value.as_deref().unwrap_or_default()).into_owned();
        println!(
            "Got message: partition {}, offset {}, {value}",
            envelope.partition, envelope.offset
        );
        envelope.commit("metadata").await?;
    }
    println!("Done");

    let partitions: Vec<(String, i32)> = (0..PARTITIONS).map(|p| (TOPIC.to_string(), p)).collect();
    for ((_, partition), committed) in group.fetch_offsets(&partitions).await? {
        match committed {
            Some(c) => println!(
                "committed for partition {partition}: next offset {} ({:?})",
                c.offset,
                c.metadata.unwrap_or_default()
            ),
            None => println!("committed for partition {partition}: nothing"),
        }
    }
    session.close().await;
    Ok(())
}
