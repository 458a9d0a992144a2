//! Round trips through any cluster with a consumer group, by the two
//! reference clients: produce COUNT records (idempotent, acks=all), then
//! consume them all as a group member and commit. kafkite-sim's loopback
//! cluster is checked against them, so the simulation is faithful to real
//! clients too, not only to kafkite.
//!
//! Python: `scripts/peers/sim_group_round_trip.py` with the venv's
//! confluent-kafka. Java: `scripts/peers/SimGroupRoundTrip.java`, run as a
//! single source file against `.cache/kafka-4.4.0/libs` (Java 11+ compiles
//! it in memory). A missing venv or JVM is an error, never a skip.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::{ensure_python, install, peers_dir, python, repo_root, run, Result, TestkitError};

/// What a round trip saw: (partition, offset, value) triples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRoundTrip {
    /// Delivery reports of the producer.
    pub produced: Vec<(i32, i64, String)>,
    /// Records the group member consumed.
    pub consumed: Vec<(i32, i64, String)>,
    /// The group's committed offset per partition at the end.
    pub committed: Vec<(i32, i64)>,
}

/// The round trip with confluent-kafka (librdkafka 2.16).
pub fn confluent_group_round_trip(
    bootstrap: &str,
    topic: &str,
    group: &str,
    count: usize,
    timeout: Duration,
) -> Result<GroupRoundTrip> {
    ensure_python()?;
    let mut cmd = Command::new(python());
    cmd.arg(peers_dir().join("sim_group_round_trip.py"));
    with_args(&mut cmd, bootstrap, topic, group, count, timeout);
    parse("confluent_group_round_trip", &mut cmd)
}

/// The round trip with the Java client (kafka-clients 4.4).
pub fn java_group_round_trip(
    bootstrap: &str,
    topic: &str,
    group: &str,
    count: usize,
    timeout: Duration,
) -> Result<GroupRoundTrip> {
    install("kafka")?;
    let libs: PathBuf = repo_root().join(".cache/kafka-4.4.0/libs");
    let mut cmd = Command::new("java");
    cmd.arg("-XX:TieredStopAtLevel=1")
        .arg("-XX:+UseSerialGC")
        .arg("-cp")
        .arg(format!("{}/*", libs.display()))
        .arg(peers_dir().join("SimGroupRoundTrip.java"));
    with_args(&mut cmd, bootstrap, topic, group, count, timeout);
    parse("java_group_round_trip", &mut cmd)
}

fn with_args(
    cmd: &mut Command,
    bootstrap: &str,
    topic: &str,
    group: &str,
    count: usize,
    timeout: Duration,
) {
    cmd.arg(bootstrap)
        .arg(topic)
        .arg(group)
        .arg(count.to_string())
        .arg(timeout.as_millis().to_string());
}

fn parse(what: &str, cmd: &mut Command) -> Result<GroupRoundTrip> {
    let out = run(what, cmd)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bad = |line: &str| TestkitError::Io {
        what: format!("{what}: unreadable output line {line:?}"),
        source: std::io::Error::from(std::io::ErrorKind::InvalidData),
    };
    let mut trip = GroupRoundTrip::default();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let int = |i: usize| -> Result<i64> {
            fields
                .get(i)
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| bad(line))
        };
        match fields.first() {
            Some(&"P") | Some(&"C") => {
                let record = (
                    int(1)? as i32,
                    int(2)?,
                    fields.get(3).ok_or_else(|| bad(line))?.to_string(),
                );
                if fields[0] == "P" {
                    trip.produced.push(record);
                } else {
                    trip.consumed.push(record);
                }
            }
            Some(&"COMMITTED") => trip.committed.push((int(1)? as i32, int(2)?)),
            _ => {}
        }
    }
    trip.committed.sort_unstable();
    Ok(trip)
}
