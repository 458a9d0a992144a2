//! `kafkite sim`: kafkite's simulated cluster (kafkite-sim) served on
//! loopback ports, one per broker, for any Kafka client to talk to: a
//! cluster in a second with nothing installed.
//!
//! The first line on stdout is the bootstrap list, printed once every
//! broker listens and the `--topic`s exist, so a script can read it and
//! go; the cluster then runs until the process is stopped.

use std::io::Write;

use kafkite_sim::{serve, ClusterConfig};

use crate::args::SimArgs;
use crate::error::CliError;

/// Replicas of a `--topic` (fewer with fewer brokers), and the in-sync
/// replicas acks=all needs: Kafka's usual production shape, 3 and 2.
const REPLICATION: u16 = 3;
const MIN_INSYNC: u16 = 2;

pub fn run(args: SimArgs) -> Result<(), CliError> {
    let brokers = args.brokers.max(1);
    let config = ClusterConfig::new(usize::from(brokers))
        .with_legacy_0_8_2(args.legacy_0_8_2)
        .with_min_insync_replicas(usize::from(MIN_INSYNC.min(brokers)));
    let served = serve(config).map_err(|e| CliError::Sim(e.to_string()))?;
    let replication = i16::try_from(REPLICATION.min(brokers)).unwrap_or(1);
    for (topic, partitions) in &args.topics {
        served
            .create_topic(topic, *partitions, replication)
            .map_err(|e| CliError::Sim(e.to_string()))?;
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", served.bootstrap())
        .and_then(|()| stdout.flush())
        .map_err(CliError::Stdout)?;
    drop(stdout);
    eprintln!("kafkite: simulated cluster of {brokers} brokers serving; stop with Ctrl-C");
    // The cluster runs on its own threads; this one only keeps the
    // process (and so `served`) alive.
    loop {
        std::thread::park();
    }
}
