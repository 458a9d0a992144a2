//! Running the `kafkite` binary and kcat, with a time limit so a hang
//! fails the test instead of stalling the run.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use kafkite_testkit::{ensure_kcat, kcat, shared, unique_name, PeerKind};

/// No command here should take longer (Kafka's first metadata included).
const LIMIT: Duration = Duration::from_secs(120);

/// The shared Kafka broker's bootstrap address.
pub fn kafka() -> &'static str {
    shared(PeerKind::Kafka).bootstrap()
}

/// What a finished command left.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Finished {
    /// Asserts a zero exit; returns stdout.
    pub fn success(self) -> Vec<u8> {
        assert!(
            self.status.success(),
            "command failed ({}): stderr: {}",
            self.status,
            self.stderr
        );
        self.stdout
    }

    /// Asserts the failure contract: a non-zero exit, nothing on stdout,
    /// and exactly one line on stderr, `kafkite: ...`, that contains
    /// `needle`. Returns that line.
    pub fn one_line_error(self, needle: &str) -> String {
        assert!(!self.status.success(), "expected a failure: {self:?}");
        assert!(
            self.stdout.is_empty(),
            "stdout: {}",
            String::from_utf8_lossy(&self.stdout)
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr is not one line: {:?}", self.stderr);
        let line = lines[0];
        assert!(line.starts_with("kafkite: "), "{line}");
        assert!(
            line.contains(needle),
            "{line:?} does not mention {needle:?}"
        );
        assert!(!line.contains("panicked"), "{line}");
        line.to_string()
    }
}

/// The kafkite binary, with `$KAFKA_BOOTSTRAP` cleared so each test says
/// which cluster it means.
pub fn kafkite(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kafkite"));
    cmd.args(args).env_remove("KAFKA_BOOTSTRAP");
    cmd
}

/// Runs `cmd` with `stdin`, collecting its output; panics after [`LIMIT`].
pub fn run(mut cmd: Command, stdin: &[u8]) -> Finished {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        // A command that exits early closes its end: not this test's failure.
        let _ = input.write_all(&stdin);
    });
    let mut out = child.stdout.take().expect("piped stdout");
    let reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let mut err = child.stderr.take().expect("piped stderr");
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the command") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} ran longer than {LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    let stdout = reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    Finished {
        status,
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A new topic on the shared Kafka, made with `kafkite topics create`.
pub fn new_topic(prefix: &str, partitions: i32) -> String {
    let topic = unique_name(prefix);
    let partitions = partitions.to_string();
    let cmd = kafkite(&[
        "-b",
        kafka(),
        "topics",
        "create",
        &topic,
        "--partitions",
        &partitions,
        "--replication-factor",
        "1",
    ]);
    let out = run(cmd, b"").success();
    assert!(
        String::from_utf8_lossy(&out).contains(&topic),
        "{}",
        String::from_utf8_lossy(&out)
    );
    topic
}

/// kcat consuming `topic` from the beginning to its end, printing `format`.
pub fn kcat_consume(topic: &str, format: &str) -> Vec<u8> {
    ensure_kcat().expect("kcat with librdkafka 2.16");
    let mut cmd = kcat();
    cmd.args([
        "-C",
        "-b",
        kafka(),
        "-t",
        topic,
        "-o",
        "beginning",
        "-e",
        "-q",
    ])
    .args(["-f", format]);
    run(cmd, b"").success()
}

/// Lines of `bytes`, sorted: for output whose partitions interleave.
pub fn sorted_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    lines.sort();
    lines
}

/// kcat producing `input` (one record per line) to `topic` with `args`.
pub fn kcat_produce(topic: &str, args: &[&str], input: &[u8]) {
    ensure_kcat().expect("kcat with librdkafka 2.16");
    let mut cmd = kcat();
    cmd.args(["-P", "-b", kafka(), "-t", topic]).args(args);
    let finished = run(cmd, input);
    assert!(
        finished.status.success(),
        "kcat -P failed: {}",
        finished.stderr
    );
}

/// `kafkite consume` of `topic` with `args`, to the end (-e).
pub fn kafkite_consume(topic: &str, args: &[&str]) -> Vec<u8> {
    let mut all = vec!["-b", kafka(), "consume", "-t", topic, "-e"];
    all.extend_from_slice(args);
    run(kafkite(&all), b"").success()
}

/// Byte equality, shown as text first so a failure reads well.
#[track_caller]
pub fn assert_same(actual: &[u8], expected: &[u8]) {
    assert_eq!(
        String::from_utf8_lossy(actual),
        String::from_utf8_lossy(expected)
    );
    assert_eq!(actual, expected);
}
