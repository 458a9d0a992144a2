//! The Dart package's producer example, in kafkite:
//!
//! ```text
//! KAFKA_BOOTSTRAP=127.0.0.1:9092 cargo run --example producer
//! ```
//!
//! Without `KAFKA_BOOTSTRAP` it runs against kafkite's simulated cluster on
//! loopback. Produces one message to each of partitions 0 and 1 of
//! `topicName` and prints whether any partition failed.

use std::time::Duration;

use kafkite_examples::{ExampleCluster, TOPIC};
use kafkite_smol::{Acks, ExplicitProducer, Message};

fn main() {
    if let Err(error) = smol::block_on(run()) {
        eprintln!("producer: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = ExampleCluster::from_env()?;
    let session = cluster.session().await?;

    // Dart: new Producer(session, 1, 1000)
    let mut producer =
        ExplicitProducer::new(&session, Acks::Leader, Duration::from_secs(1)).await?;
    producer.add_messages(TOPIC, 0, [Message::new("msgForPartition0")]);
    producer.add_messages(TOPIC, 1, [Message::new("msgForPartition1")]);
    let response = producer.send().await?;
    println!("{}", response.has_errors());
    for (partition, offset) in response.offsets.get(TOPIC).into_iter().flatten() {
        println!("partition {partition}: first offset {offset}");
    }

    producer.close().await;
    session.close().await; // always close the session when the work is done
    Ok(())
}
