//! The simulated cluster served on loopback, used by the two reference
//! clients: confluent-kafka and the Java client each produce (idempotent,
//! acks=all) and consume with a consumer group, and what they see must be
//! what the simulated brokers hold. A missing Python venv or JVM fails the
//! test loudly.

use std::collections::BTreeSet;
use std::time::Duration;

use kafkite_sim::{serve, ClusterConfig, ServedCluster};
use kafkite_testkit::group_round_trip::{
    confluent_group_round_trip, java_group_round_trip, GroupRoundTrip,
};

const COUNT: usize = 30;
const PARTITIONS: i32 = 3;

fn cluster_with_topic(topic: &str) -> ServedCluster {
    let served = serve(ClusterConfig::new(3)).expect("the simulated cluster listens on loopback");
    served
        .create_topic(topic, PARTITIONS, 3)
        .expect("topic created");
    served
}

/// Every produced record was consumed, and the group committed each
/// partition's log end.
fn check(served: &ServedCluster, topic: &str, group: &str, prefix: &str, trip: &GroupRoundTrip) {
    let produced: BTreeSet<String> = trip.produced.iter().map(|(_, _, v)| v.clone()).collect();
    let expected: BTreeSet<String> = (0..COUNT).map(|i| format!("{prefix}-{i}")).collect();
    assert_eq!(produced, expected, "delivery reports");
    let consumed: BTreeSet<String> = trip.consumed.iter().map(|(_, _, v)| v.clone()).collect();
    assert_eq!(consumed, expected, "records consumed by the group");
    // Offsets the clients saw are the ones the simulated leaders assigned.
    for (p, o, v) in &trip.produced {
        assert!(
            trip.consumed.iter().any(|c| c == &(*p, *o, v.clone())),
            "{v} at {p}@{o} consumed elsewhere"
        );
    }
    let (log_ends, commits) = served.with_cluster(|c| {
        let ends: Vec<(i32, i64)> = c.topics()[topic]
            .partitions
            .iter()
            .enumerate()
            .map(|(i, p)| (i as i32, p.high_watermark))
            .collect();
        let commits: Vec<(i32, i64)> = c
            .accepted_commits()
            .iter()
            .filter(|x| x.group == group)
            .map(|x| (x.partition, x.offset))
            .collect();
        (ends, commits)
    });
    let total: i64 = log_ends.iter().map(|(_, e)| e).sum();
    assert_eq!(total, COUNT as i64, "the log holds each record once");
    for (p, end) in log_ends.iter().filter(|(_, e)| *e > 0) {
        let last = commits
            .iter()
            .rev()
            .find(|(cp, _)| cp == p)
            .map(|(_, o)| *o);
        assert_eq!(
            last,
            Some(*end),
            "partition {p}: the group's last commit is the log end"
        );
        assert!(
            trip.committed.contains(&(*p, *end)),
            "partition {p}: the client reads back its commit: {:?}",
            trip.committed
        );
    }
}

#[test]
fn confluent_kafka_produces_and_consumes_with_a_group_on_the_simulated_cluster() {
    let served = cluster_with_topic("py-orders");
    let trip = confluent_group_round_trip(
        &served.bootstrap(),
        "py-orders",
        "py-group",
        COUNT,
        Duration::from_secs(60),
    )
    .expect("confluent-kafka round trip");
    check(&served, "py-orders", "py-group", "py", &trip);
}

#[test]
fn the_java_client_produces_and_consumes_with_a_group_on_the_simulated_cluster() {
    let served = cluster_with_topic("java-orders");
    let trip = java_group_round_trip(
        &served.bootstrap(),
        "java-orders",
        "java-group",
        COUNT,
        Duration::from_secs(90),
    )
    .expect("Java client round trip");
    check(&served, "java-orders", "java-group", "java", &trip);
}
