//! Lists a cluster's topics by driving kafkite's sans-IO core on this
//! thread with blocking sockets (see `by_hand.rs`): no async runtime.
//!
//! `cargo run --example by_hand -- -X bootstrap.servers=HOST:PORT [-X key=value]...`
//! takes librdkafka's property names, so a secured cluster is
//! `-X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512 ...`.
//! Without `bootstrap.servers` it serves kafkite's simulated cluster.

use std::time::Duration;

use kafkite::properties::Properties;
use kafkite_examples::by_hand::list_topics;
use kafkite_examples::ExampleCluster;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut properties = Properties::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let pair = match arg.as_str() {
            "-X" => args.next().ok_or("-X needs key=value")?,
            other => return Err(format!("unexpected argument {other:?}").into()),
        };
        let (key, value) = pair.split_once('=').ok_or("-X needs key=value")?;
        properties.set(key, value);
    }
    // Held to keep a simulated cluster serving.
    let cluster = match properties.get("bootstrap.servers") {
        Some(_) => None,
        None => Some(ExampleCluster::from_env()?),
    };
    if let Some(cluster) = &cluster {
        properties.set("bootstrap.servers", cluster.bootstrap());
    }
    let topics = list_topics(properties.client_config()?, Duration::from_secs(30))?;
    println!("{} topics: {topics:?}", topics.len());
    Ok(())
}
