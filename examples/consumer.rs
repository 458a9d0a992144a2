//! The Dart package's consumer example (its ConsumerGroup offsets are
//! kafkite's GroupOffsets), in kafkite:
//!
//! ```text
//! KAFKA_BOOTSTRAP=127.0.0.1:9092 cargo run --example consumer
//! ```
//!
//! Without `KAFKA_BOOTSTRAP` it runs against kafkite's simulated cluster on
//! loopback, after producing a few messages for it to read. Consumes 5
//! messages of partitions 0 and 1 of `topicName` for the group
//! `consumerGroupName`, committing each with metadata.

use std::time::Duration;

use futures_lite::StreamExt;
use kafkite_examples::{ExampleCluster, TOPIC};
use kafkite_smol::{Acks, Consumer, ExplicitProducer, GroupOffsets, Message};

fn main() {
    if let Err(error) = smol::block_on(run()) {
        eprintln!("consumer: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = ExampleCluster::from_env()?;
    let session = cluster.session().await?;
    if cluster.is_simulated() {
        // A fresh simulated cluster is empty: give the consumer something.
        let mut producer =
            ExplicitProducer::new(&session, Acks::Leader, Duration::from_secs(1)).await?;
        for partition in [0, 1] {
            let messages =
                (0..3).map(|i| Message::new(format!("message {i} for partition {partition}")));
            producer.add_messages(TOPIC, partition, messages);
        }
        producer.send().await?;
        producer.close().await;
    }

    let group = GroupOffsets::new(session.clone(), "consumerGroupName");
    // Dart: new Consumer(session, group, topics, 100, 1)
    let consumer = Consumer::new(
        &session,
        group,
        [(TOPIC, vec![0, 1])],
        Duration::from_millis(100),
        1,
    );
    let mut envelopes = consumer.consume(Some(5));
    while let Some(envelope) = envelopes.next().await {
        let envelope = envelope?;
        let value = String::from_utf8_lossy(envelope.value.as_deref().unwrap_or_default());
        println!("Got message: {}, {}", envelope.offset, value);
        envelope.commit("metadata").await?; // this is required
    }
    println!("Done");
    session.close().await; // always close the session when the work is done
    Ok(())
}
