//! `consume -G` stores its position while it waits: a group member left
//! running after the records it printed has committed them (under its
//! generation, with the CLI's metadata), without exiting and without a
//! newer record arriving.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use kafkite_smol::{ClientConfig, GroupOffsets, Session};

use super::support::{kafka, kafkite, kcat_produce, new_topic};

/// How long the test waits for a line or a commit before failing.
const LIMIT: Duration = Duration::from_secs(60);

/// Kills the consumer however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_waiting_group_consumer_has_committed_what_it_printed() {
    let topic = new_topic("cli-group-idle", 1);
    let group = kafkite_testkit::unique_name("cli-group-idle");
    kcat_produce(&topic, &[], b"a\nb\nc\n");

    let mut child = kafkite(&["-b", kafka(), "consume", "-t", &topic, "-G", &group])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting kafkite consume");
    let stdout = child.stdout.take().expect("piped stdout");
    let _running = Running(child);
    let (lines, printed) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    for expected in ["a", "b", "c"] {
        let line = printed
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("kafkite consume printed no {expected:?}"))
            .expect("reading stdout");
        assert_eq!(line, expected);
    }

    // The consumer is waiting for more; its commit lands meanwhile.
    let committed = smol::block_on(async {
        let session = Session::connect(ClientConfig::from_bootstrap(kafka()))
            .await
            .expect("session");
        let group = GroupOffsets::new(session.clone(), &group);
        let partition = (topic.clone(), 0);
        let deadline = Instant::now() + LIMIT;
        let committed = loop {
            let offsets = group
                .fetch_offsets(std::slice::from_ref(&partition))
                .await
                .expect("fetching the group's offsets");
            let offset = offsets.get(&partition).cloned().flatten();
            if offset.as_ref().is_some_and(|o| o.offset == 3) || Instant::now() > deadline {
                break offset;
            }
            smol::Timer::after(Duration::from_millis(100)).await;
        };
        session.close().await;
        committed
    });
    let committed = committed.expect("the waiting consumer committed nothing");
    assert_eq!(committed.offset, 3);
    assert_eq!(committed.metadata.as_deref(), Some("kafkite-cli"));
}
