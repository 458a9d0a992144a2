//! `kafkite bench produce|consume`: throughput and CPU cost of kafkite's
//! producer and consumer against a real cluster, reported as records/s,
//! MB/s (values only, 10^6 bytes) and CPU seconds of this process, the
//! figures `shared/TEST-PEERS.md` compares clients by.

mod consume;
mod cpu;
mod produce;
mod progress;
mod summary;

use std::time::{SystemTime, UNIX_EPOCH};

use kafkite_smol::{NewTopic, Session};

use crate::args::{BenchArgs, BenchCommand, Global};
use crate::error::CliError;
use crate::session::{topic_partitions, with_session};

pub async fn run(global: &Global, command: BenchCommand) -> Result<(), CliError> {
    let args = match &command {
        BenchCommand::Produce(args) | BenchCommand::Consume(args) => args.clone(),
    };
    if args.size == 0 {
        return Err(CliError::Invalid("--size must be at least 1 byte".into()));
    }
    with_session(global, async |session| {
        let topic = BenchTopic::prepare(session, &args).await?;
        let outcome = match command {
            BenchCommand::Produce(_) => {
                produce::run(session, &topic.name, &args, &global.properties).await
            }
            BenchCommand::Consume(_) => {
                consume::run(session, &topic, &args, &global.properties).await
            }
        };
        let cleanup = topic.cleanup(session).await;
        outcome.and(cleanup)
    })
    .await
}

/// The topic a bench runs on.
#[derive(Debug)]
pub struct BenchTopic {
    pub name: String,
    /// Named by the bench itself: deleted at the end.
    scratch: bool,
}

impl BenchTopic {
    /// The topic of `-t` (created with the bench's partitions if missing),
    /// or a new scratch topic.
    async fn prepare(session: &Session, args: &BenchArgs) -> Result<BenchTopic, CliError> {
        let (name, scratch) = match &args.topic {
            Some(name) => (name.clone(), false),
            None => (scratch_name(), true),
        };
        if !scratch {
            match topic_partitions(session, &name).await {
                Ok(_) => return Ok(BenchTopic { name, scratch }),
                Err(CliError::UnknownTopic(_)) => {}
                Err(e) => return Err(e),
            }
        }
        session
            .create_topics(&[NewTopic::new(&name, args.partitions, -1)])
            .await
            .map_err(CliError::cluster(format!("creating bench topic {name:?}")))?;
        topic_partitions(session, &name).await?;
        Ok(BenchTopic { name, scratch })
    }

    async fn cleanup(self, session: &Session) -> Result<(), CliError> {
        if !self.scratch {
            return Ok(());
        }
        session
            .delete_topics(&[&self.name])
            .await
            .map_err(CliError::cluster(format!(
                "deleting bench topic {:?}",
                self.name
            )))
    }
}

/// `kafkite-bench-PID-MILLIS`: unique enough for runs on one machine.
fn scratch_name() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("kafkite-bench-{}-{millis}", std::process::id())
}
