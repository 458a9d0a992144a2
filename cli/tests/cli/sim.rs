//! `kafkite sim` serves kafkite's simulated cluster on loopback: kafkite
//! produces to it, and both kafkite and kcat (librdkafka) read the records
//! back alike.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use kafkite_testkit::{ensure_kcat, kcat};

use super::support::{assert_same, kafkite, run, sorted_lines};

/// Stops the simulated cluster however the test ends.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `kafkite sim ARGS` and returns it with its bootstrap line.
fn start_sim(args: &[&str]) -> (Served, String) {
    let mut all = vec!["sim"];
    all.extend_from_slice(args);
    let mut child = kafkite(&all)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting kafkite sim");
    let stdout = child.stdout.take().expect("piped stdout");
    let served = Served(child);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("kafkite sim printed no bootstrap line");
    (served, line.trim().to_string())
}

#[test]
fn the_simulated_cluster_serves_kafkite_and_kcat() {
    let (_served, bootstrap) = start_sim(&["--brokers", "3", "--topic", "orders:3"]);
    assert_eq!(bootstrap.split(',').count(), 3, "{bootstrap}");
    assert!(bootstrap.starts_with("127.0.0.1:"), "{bootstrap}");

    let shown = run(kafkite(&["-b", &bootstrap, "metadata"]), b"").success();
    let shown = String::from_utf8_lossy(&shown);
    assert!(shown.contains(" 3 brokers:"), "{shown}");
    assert!(
        shown.contains("topic \"orders\" with 3 partitions:"),
        "{shown}"
    );

    let input = b"k1:v1\nk2:v2\nnokey\nk3:v3\n";
    run(
        kafkite(&[
            "-b", &bootstrap, "produce", "-t", "orders", "-K", ":", "-H", "h=1",
        ]),
        input,
    )
    .success();
    let format = r"%p %o %k=%s %h\n";
    let ours = run(
        kafkite(&[
            "-b", &bootstrap, "consume", "-t", "orders", "-e", "-f", format,
        ]),
        b"",
    )
    .success();
    assert_eq!(
        sorted_lines(&ours).len(),
        4,
        "{}",
        String::from_utf8_lossy(&ours)
    );

    ensure_kcat().expect("kcat with librdkafka 2.16");
    let mut cmd = kcat();
    cmd.args([
        "-C", "-b", &bootstrap, "-t", "orders", "-e", "-q", "-f", format,
    ]);
    let theirs = run(cmd, b"").success();
    assert_same(
        &sorted_lines(&ours).concat(),
        &sorted_lines(&theirs).concat(),
    );
}

#[test]
fn a_bad_sim_topic_is_one_line() {
    run(kafkite(&["sim", "--topic", "orders:0"]), b"").one_line_error("orders:0");
    run(kafkite(&["sim", "--brokers", "0"]), b"").one_line_error("--brokers");
}
