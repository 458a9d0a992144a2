//! What the examples share: a cluster to talk to. With `KAFKA_BOOTSTRAP`
//! set, that cluster; without it, kafkite's simulated cluster served on
//! loopback ports, so the examples run on a fresh machine with nothing
//! installed, through the real TCP stack.

pub mod by_hand;

/// The README's code blocks, compiled by `cargo test --doc -p
/// kafkite-examples` (the test command runs every crate's doctests), so
/// a block a newcomer pastes builds as shown.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeCodeBlocks;

use std::time::Duration;

use kafkite_sim::{serve, ClusterConfig, ServedCluster};
use kafkite_smol::{ClientConfig, Error, NewTopic, Session};

/// The topic the Dart package's examples use, and its partitions.
pub const TOPIC: &str = "topicName";
pub const PARTITIONS: i32 = 2;

/// A cluster for the examples; dropping it stops the simulated one.
pub struct ExampleCluster {
    bootstrap: String,
    /// Held to keep the simulated cluster serving.
    simulated: Option<ServedCluster>,
}

impl ExampleCluster {
    /// `KAFKA_BOOTSTRAP` if set, else a 3-broker simulated cluster.
    pub fn from_env() -> Result<Self, kafkite_sim::SimError> {
        match std::env::var("KAFKA_BOOTSTRAP") {
            Ok(bootstrap) if !bootstrap.trim().is_empty() => Ok(ExampleCluster {
                bootstrap,
                simulated: None,
            }),
            _ => {
                let served = serve(ClusterConfig::new(3))?;
                Ok(ExampleCluster {
                    bootstrap: served.bootstrap(),
                    simulated: Some(served),
                })
            }
        }
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    pub fn is_simulated(&self) -> bool {
        self.simulated.is_some()
    }

    /// A session on this cluster, with [`TOPIC`] created if it is missing.
    pub async fn session(&self) -> Result<Session, Error> {
        let config = ClientConfig::from_bootstrap(&self.bootstrap)
            .with_client_id("kafkite-example")
            .with_request_timeout(Duration::from_secs(10));
        let session = Session::connect(config).await?;
        match session
            .create_topics(&[NewTopic::new(TOPIC, PARTITIONS, 1)])
            .await
        {
            Ok(()) => {}
            Err(Error::Admin(e))
                if e.code().is_some_and(|c| c.name() == "TOPIC_ALREADY_EXISTS") => {}
            Err(e) => return Err(e),
        }
        Ok(session)
    }
}
