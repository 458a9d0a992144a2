//! metadata, topics, groups and bench against Apache Kafka: each prints
//! what the cluster holds and exits 0.

use super::support::{kafka, kafkite, kafkite_consume, kcat_produce, new_topic, run};

fn stdout_of(args: &[&str]) -> String {
    let mut all = vec!["-b", kafka()];
    all.extend_from_slice(args);
    String::from_utf8_lossy(&run(kafkite(&all), b"").success()).into_owned()
}

#[test]
fn metadata_lists_the_broker_and_the_topics_partitions() {
    let topic = new_topic("cli-metadata", 3);
    let shown = stdout_of(&["metadata", "-t", &topic]);
    assert!(shown.contains(" 1 brokers:"), "{shown}");
    assert!(shown.contains("(controller)"), "{shown}");
    assert!(
        shown.contains(&format!("topic {topic:?} with 3 partitions:")),
        "{shown}"
    );
    for p in 0..3 {
        assert!(
            shown.contains(&format!("    partition {p}, leader ")),
            "{shown}"
        );
    }
    let all = stdout_of(&["metadata"]);
    assert!(all.contains(&format!("topic {topic:?}")), "{all}");
}

#[test]
fn topics_are_listed_until_deleted() {
    let topic = new_topic("cli-topics", 1);
    assert!(stdout_of(&["topics", "list"]).lines().any(|l| l == topic));
    let deleted = stdout_of(&["topics", "delete", &topic]);
    assert_eq!(deleted, format!("deleted topic {topic:?}\n"));
    run(kafkite(&["-b", kafka(), "topics", "delete", &topic]), b"")
        .one_line_error("UNKNOWN_TOPIC_OR_PARTITION");
}

#[test]
fn a_group_that_committed_is_listed_and_described() {
    let topic = new_topic("cli-groups", 1);
    let group = kafkite_testkit::unique_name("cli-groups");
    kcat_produce(&topic, &[], b"x\n");
    assert_eq!(kafkite_consume(&topic, &["-G", &group]), b"x\n");
    let listed = stdout_of(&["groups", "list"]);
    let row = listed
        .lines()
        .find(|l| l.starts_with(&format!("{group}\t")))
        .unwrap_or_else(|| panic!("{group} not listed: {listed}"));
    assert!(row.contains("Empty") || row.contains('-'), "{row}");
    let described = stdout_of(&["groups", "describe", &group]);
    assert!(
        described.starts_with(&format!("group {group:?}: state Empty")),
        "{described}"
    );
    assert!(described.contains("0 members"), "{described}");
}

#[test]
fn bench_produce_and_consume_report_rates_and_cpu() {
    let produced = stdout_of(&["bench", "produce", "-n", "2000", "-s", "50", "-z", "zstd"]);
    assert!(
        produced.starts_with("produced 2000 records (0.1 MB)"),
        "{produced}"
    );
    assert!(produced.contains("records/s"), "{produced}");
    assert!(produced.contains("CPU seconds"), "{produced}");
    let topic = new_topic("cli-bench", 2);
    let consumed = stdout_of(&[
        "bench", "consume", "-t", &topic, "-n", "3000", "--acks", "1",
    ]);
    let lines: Vec<&str> = consumed.lines().collect();
    assert_eq!(lines.len(), 2, "{consumed}");
    assert!(lines[0].starts_with("produced 3000 records"), "{consumed}");
    assert!(
        lines[1].starts_with("consumed 3000 records (0.3 MB)"),
        "{consumed}"
    );
    // The named topic is kept, holding what the bench filled it with.
    let again = stdout_of(&["bench", "consume", "-t", &topic, "-n", "3000"]);
    assert!(again.starts_with("consumed 3000 records"), "{again}");
}
