//! `consume -G` is a group member: two `kafkite consume -G` processes in
//! one group split a multi-partition topic, and no record is printed twice
//! (neither what the first printed before the second joined, nor what
//! comes while both run).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use super::support::{kafka, kafkite, kcat_produce, new_topic, run};

/// How long the test waits for lines or for the group to settle.
const LIMIT: Duration = Duration::from_secs(90);
const PARTITIONS: i32 = 4;
const PER_PARTITION: usize = 5;

/// Kills the consumer however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `kafkite consume -G` printing `partition:offset:value` lines, read
/// into a channel.
fn member(topic: &str, group: &str) -> (Running, Receiver<String>) {
    let mut child = kafkite(&[
        "-b",
        kafka(),
        "consume",
        "-t",
        topic,
        "-G",
        group,
        "-f",
        r"%p:%o:%s\n",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("starting kafkite consume -G");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, printed) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    (Running(child), printed)
}

/// Every partition gets `PER_PARTITION` records named after `round`.
fn produce_round(topic: &str, round: &str) -> Vec<String> {
    let mut expected = Vec::new();
    for p in 0..PARTITIONS {
        let values: String = (0..PER_PARTITION)
            .map(|i| format!("{round}-{p}-{i}\n"))
            .collect();
        kcat_produce(topic, &["-p", &p.to_string()], values.as_bytes());
        expected.extend(values.lines().map(str::to_string));
    }
    expected
}

/// Takes what each member printed until every value in `expected` was
/// seen (or the limit passes); lines keyed by member.
fn collect(members: &[&Receiver<String>], expected: &[String], seen: &mut Vec<(usize, String)>) {
    let deadline = Instant::now() + LIMIT;
    let done = |seen: &Vec<(usize, String)>| {
        expected
            .iter()
            .all(|v| seen.iter().any(|(_, line)| value_of(line) == v))
    };
    while !done(seen) && Instant::now() < deadline {
        let mut got = false;
        for (i, lines) in members.iter().enumerate() {
            match lines.try_recv() {
                Ok(line) => {
                    seen.push((i, line));
                    got = true;
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => panic!("member {i} exited: {seen:?}"),
            }
        }
        if !got {
            thread::sleep(Duration::from_millis(20));
        }
    }
    assert!(done(seen), "not every record was printed: {seen:?}");
}

fn value_of(line: &str) -> &str {
    line.splitn(3, ':').nth(2).unwrap_or("")
}

/// Waits until the group is stable with two members that each hold
/// partitions.
fn wait_for_two_members(group: &str) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let out = run(kafkite(&["-b", kafka(), "groups", "describe", group]), b"").success();
        let text = String::from_utf8_lossy(&out).into_owned();
        let assigned = text
            .lines()
            .filter(|l| l.trim_start().starts_with("assigned: ") && !l.ends_with("nothing"))
            .count();
        if text.contains("state Stable") && text.contains("2 members") && assigned == 2 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the group did not settle with two members: {text}"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn two_group_members_split_a_topic_and_print_no_record_twice() {
    let topic = new_topic("cli-group-members", PARTITIONS);
    let group = kafkite_testkit::unique_name("cli-group-members");
    let first = produce_round(&topic, "before");

    // The first member alone: every partition, every record.
    let (_a, lines_a) = member(&topic, &group);
    let mut seen = Vec::new();
    collect(&[&lines_a], &first, &mut seen);

    // The second joins: the group splits the partitions between them.
    let (_b, lines_b) = member(&topic, &group);
    wait_for_two_members(&group);
    let second = produce_round(&topic, "while-both");
    collect(&[&lines_a, &lines_b], &second, &mut seen);

    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, line) in &seen {
        *times.entry(line.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = times.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "printed more than once: {twice:?}");
    // Both members printed records of the second round, each from its own
    // partitions.
    let mut partitions: [Vec<String>; 2] = Default::default();
    for (member, line) in &seen {
        if value_of(line).starts_with("while-both") {
            partitions[*member].push(line.split(':').next().unwrap_or("").to_string());
        }
    }
    for (member, printed) in partitions.iter().enumerate() {
        assert!(!printed.is_empty(), "member {member} printed nothing");
    }
    assert!(
        partitions[0].iter().all(|p| !partitions[1].contains(p)),
        "both members printed from one partition: {seen:?}"
    );
}
