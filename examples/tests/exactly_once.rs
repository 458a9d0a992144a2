//! `examples/exactly_once.rs`, the consume-transform-produce pipeline, on
//! Apache Kafka 4.4 (KIP-890's second transaction protocol) and 3.9.1 (the
//! first): killed with SIGKILL (no chance to abort or leave the group)
//! mid-run several times and restarted, it still writes each input
//! record's output exactly once, as the Java client's read_committed
//! consumer (kafka-clients 4.4) reads the output topic.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafkite_smol::{ClientConfig, NewTopic, Producer, ProducerConfig, ProducerRecord, Session};
use kafkite_testkit::release::KafkaRelease;
use kafkite_testkit::{java_read_back_with, shared, unique_name, PeerKind};

/// Input records: each must come out once.
const RECORDS: usize = 4000;
/// Records per transaction: small, so that every instance killed has
/// input left and dies with a transaction open.
const BATCH: &str = "40";
const PARTITIONS: i32 = 3;
/// Instances killed before the one that finishes.
const KILLS: usize = 4;

/// The pipeline's binary, which cargo builds before this test.
fn example_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_exactly_once"))
}

struct Pipeline {
    child: Child,
    /// Lines the instance printed (one per transaction).
    lines: mpsc::Receiver<String>,
}

impl Pipeline {
    fn start(bootstrap: &str, args: &[&str], idle_ms: u64) -> Pipeline {
        let mut child = Command::new(example_binary())
            .args(args)
            .env("KAFKA_BOOTSTRAP", bootstrap)
            .env("EXACTLY_ONCE_IDLE_MS", idle_ms.to_string())
            .env("EXACTLY_ONCE_BATCH", BATCH)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the pipeline");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Pipeline { child, lines }
    }

    /// Waits until the instance has committed `n` transactions; returns
    /// the transaction protocol it said it speaks.
    fn wait_for_commits(&mut self, n: usize, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        let mut commits = 0;
        let mut protocol = String::new();
        while commits < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with("committed") => commits += 1,
                Ok(line) => {
                    if let Some(p) = line.strip_prefix("transaction protocol ") {
                        protocol = p.to_string();
                    }
                }
                Err(e) => panic!("{commits} of {n} commits within {limit:?}: {e}"),
            }
        }
        protocol
    }
}

/// A few milliseconds' worth of jitter, so kills land at different points
/// of a transaction.
fn jitter(round: usize) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as usize);
    Duration::from_millis(((nanos / 1000 + round * 37) % 150) as u64)
}

#[test]
fn killed_and_restarted_on_kafka_4_4_it_writes_each_output_exactly_once() {
    let kafka = shared(PeerKind::Kafka);
    killed_and_restarted(kafka.bootstrap(), "V2");
}

#[test]
fn killed_and_restarted_on_kafka_3_9_1_it_writes_each_output_exactly_once() {
    let kafka = KafkaRelease::start("3.9.1").expect("Kafka 3.9.1");
    killed_and_restarted(kafka.bootstrap(), "V1");
}

/// The pipeline killed `KILLS` times and finished by a last instance;
/// each instance must speak `protocol`.
fn killed_and_restarted(bootstrap: &str, protocol: &str) {
    let (input, output) = (unique_name("eos-in"), unique_name("eos-out"));
    let (group, transactional_id) = (unique_name("eos-group"), unique_name("eos"));
    smol::block_on(async {
        let session = Session::connect(ClientConfig::from_bootstrap(bootstrap))
            .await
            .expect("connect");
        session
            .create_topics(&[
                NewTopic::new(&input, PARTITIONS, 1),
                NewTopic::new(&output, PARTITIONS, 1),
            ])
            .await
            .expect("create topics");
        let producer = Producer::new(&session, ProducerConfig::default())
            .await
            .expect("producer");
        let mut deliveries = Vec::new();
        for i in 0..RECORDS {
            let record = ProducerRecord::new(input.as_str())
                .key(format!("k{i}"))
                .value(format!("in-{i}"));
            deliveries.push(producer.send(record).await.expect("send"));
        }
        for d in deliveries {
            d.await.expect("input acknowledged");
        }
        producer.close().await;
        session.close().await;
    });

    let args = [
        input.as_str(),
        output.as_str(),
        group.as_str(),
        transactional_id.as_str(),
    ];
    for round in 0..KILLS {
        let mut pipeline = Pipeline::start(bootstrap, &args, 600_000);
        let spoken = pipeline.wait_for_commits(2, Duration::from_secs(90));
        assert_eq!(spoken, protocol, "the transaction protocol negotiated");
        std::thread::sleep(jitter(round));
        // SIGKILL: no abort, no LeaveGroup, a transaction likely open.
        pipeline.child.kill().expect("kill -9");
        pipeline.child.wait().expect("reaped");
    }
    let mut last = Pipeline::start(bootstrap, &args, 5_000);
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = last.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the last instance did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "the last instance: {status}");

    let read = java_read_back_with(
        bootstrap,
        &output,
        RECORDS,
        Duration::from_secs(60),
        &[
            ("isolation.level", "read_committed"),
            // One poll takes all that is there: a duplicate past the
            // count would be read too.
            ("max.poll.records", "100000"),
        ],
    )
    .expect("the Java client reads the output");
    let mut values: Vec<String> = read
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    values.sort();
    let mut expected: Vec<String> = (0..RECORDS).map(|i| format!("out:in-{i}")).collect();
    expected.sort();
    let mut duplicates = values.clone();
    duplicates.dedup();
    assert_eq!(
        values.len(),
        duplicates.len(),
        "{} outputs read twice",
        values.len() - duplicates.len()
    );
    assert_eq!(values, expected, "every input's output, once");
}
