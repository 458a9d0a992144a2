//! The librdkafka mock cluster: `scripts/peers/mock_cluster.py` as a child
//! whose stdin/stdout we keep, and typed methods for its control protocol
//! (one line in, one line `ok [VALUE]` / `err REASON` out).
//!
//! The child is not detached: when this process dies the OS closes its stdin
//! and it destroys the cluster and exits on EOF, so it needs no watchdog.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use crate::peer::{wait_until, State};
use crate::{command_line, file_tail, peers_dir, python, Peer, Result, TestkitError};

/// librdkafka's `RD_KAFKA_RESP_ERR__TRANSPORT` (-195): pushed as a request
/// error, the mock broker drops the connection instead of answering.
pub const MOCK_TRANSPORT_ERROR: i32 = -195;

/// How long the mock may take to print its bootstrap line (it takes ~0.1 s).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one control command may take (they take microseconds).
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Options for [`Peer::start_mock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockOptions {
    /// Number of brokers, ids `1..=brokers` (default 3).
    pub brokers: u32,
    /// `group.initial.rebalance.delay.ms` of the mock's group coordinator;
    /// None keeps librdkafka's default of 3000 ms (classic group joins then
    /// take seconds: tests of groups want a small value).
    pub rebalance_delay_ms: Option<u32>,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            brokers: 3,
            rebalance_delay_ms: None,
        }
    }
}

/// Which coordinator [`Peer::set_coordinator`] moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordinatorKind {
    /// A consumer group's coordinator (key: the group id).
    Group,
    /// A transactional producer's coordinator (key: the transactional id).
    Transaction,
}

/// The running mock_cluster.py.
pub(crate) struct MockProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Lines of its stdout, read by a thread (so a reply can time out).
    lines: Receiver<String>,
    /// Set when the process can no longer be trusted to answer in step.
    broken: Option<String>,
}

impl MockProcess {
    /// Starts mock_cluster.py with `dir` as cwd and stderr to `log`; returns
    /// it with the bootstrap list it printed.
    pub(crate) fn spawn(
        options: &MockOptions,
        dir: &Path,
        log: &Path,
    ) -> Result<(MockProcess, String)> {
        let io = |what: String| move |source: std::io::Error| TestkitError::Io { what, source };
        let stderr = std::fs::File::create(log).map_err(io(format!("create {}", log.display())))?;
        let mut cmd = Command::new(python());
        cmd.arg(peers_dir().join("mock_cluster.py"))
            .arg("--brokers")
            .arg(options.brokers.to_string())
            .arg("--pid-file")
            .arg(dir.join("pid"));
        if let Some(ms) = options.rebalance_delay_ms {
            cmd.arg("--rebalance-delay-ms").arg(ms.to_string());
        }
        cmd.current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd.spawn().map_err(|source| TestkitError::Spawn {
            what: "start mock peer".into(),
            command: command_line(&cmd),
            source,
        })?;
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::Builder::new()
                .name("kafkite-testkit-mock-stdout".into())
                .spawn(move || {
                    for line in BufReader::new(stdout).lines() {
                        let Ok(line) = line else { break };
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                })
                .map_err(io("spawn the mock's stdout reader thread".into()))?;
        }
        let mut process = MockProcess {
            child,
            stdin,
            lines,
            broken: None,
        };
        let first = process.lines.recv_timeout(START_TIMEOUT);
        let bootstrap = match &first {
            Ok(line) => line.strip_prefix("BOOTSTRAP=").map(str::trim),
            Err(_) => None,
        };
        match bootstrap {
            Some(b) if !b.is_empty() => Ok((process, b.to_string())),
            _ => {
                let reason = match first {
                    Ok(line) => format!("expected BOOTSTRAP=..., got {line:?}"),
                    Err(RecvTimeoutError::Timeout) => {
                        format!("no BOOTSTRAP= line within {START_TIMEOUT:?}")
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        "exited before printing BOOTSTRAP=".to_string()
                    }
                };
                process.kill();
                Err(TestkitError::MockGone {
                    command: command_line(&cmd),
                    reason,
                    stderr: file_tail(log),
                })
            }
        }
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.broken.is_none().then(|| self.child.id())
    }

    /// Sends one control line, returns the VALUE of `ok [VALUE]` ("" for a
    /// bare `ok`), or `MockReply` for `err ...`.
    fn call(&mut self, line: &str, log: &Path) -> Result<String> {
        let gone = |reason: String| TestkitError::MockGone {
            command: line.to_string(),
            reason,
            stderr: file_tail(log),
        };
        if let Some(why) = &self.broken {
            return Err(gone(why.clone()));
        }
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(gone("stdin already closed".into()));
        };
        if let Err(e) = writeln!(stdin, "{line}").and_then(|()| stdin.flush()) {
            self.broken = Some(format!("write to its stdin failed: {e} (process exited?)"));
            return Err(gone(format!("write failed: {e}")));
        }
        let reply = match self.lines.recv_timeout(REPLY_TIMEOUT) {
            Ok(reply) => reply,
            Err(e) => {
                let why = match e {
                    RecvTimeoutError::Timeout => format!("no reply within {REPLY_TIMEOUT:?}"),
                    RecvTimeoutError::Disconnected => "the process exited".to_string(),
                };
                self.broken = Some(why.clone());
                return Err(gone(why));
            }
        };
        if reply == "ok" {
            Ok(String::new())
        } else if let Some(value) = reply.strip_prefix("ok ") {
            Ok(value.to_string())
        } else if reply.starts_with("err") {
            Err(TestkitError::MockReply {
                command: line.to_string(),
                reply,
            })
        } else {
            // Replies are no longer paired with commands: stop trusting it.
            let why = format!("unexpected reply {reply:?}");
            self.broken = Some(why.clone());
            Err(gone(why))
        }
    }

    /// `quit`, close stdin, wait up to 5 s, else SIGKILL.
    pub(crate) fn quit(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "quit").and_then(|()| stdin.flush());
        }
        let child = &mut self.child;
        if !wait_until(Duration::from_secs(5), || {
            matches!(child.try_wait(), Ok(Some(_)) | Err(_))
        }) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL (a crash); later commands fail with `MockGone`.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stdin = None;
        self.broken = Some("killed by Peer::kill".into());
    }
}

/// `s` as one token of a control line (no spaces, newlines or empty words).
fn token(s: &str) -> Result<&str> {
    if s.is_empty() || s.chars().any(char::is_whitespace) {
        return Err(TestkitError::BadArgument {
            arg: s.to_string(),
            why: "mock control arguments must be non-empty and contain no whitespace",
        });
    }
    Ok(s)
}

/// Mock cluster control (`PeerKind::Mock` only; other kinds answer
/// `Unsupported`). Broker ids are `1..=brokers`; where noted, `-1` means
/// all brokers. Error codes are Kafka protocol codes (e.g. 6 =
/// NOT_LEADER_OR_FOLLOWER) or librdkafka's negative local codes such as
/// [`MOCK_TRANSPORT_ERROR`]. Each call holds the peer's lock for one
/// command and its reply, so concurrent tests can share one mock.
impl Peer {
    /// Sends a raw control line (see `scripts/peers/mock_cluster.py`) and
    /// returns the VALUE of its `ok [VALUE]` reply; `err ...` is an error.
    pub fn mock_command(&self, line: &str) -> Result<String> {
        if line.contains('\n') || line.trim().is_empty() || line.trim_start().starts_with('#') {
            return Err(TestkitError::BadArgument {
                arg: line.to_string(),
                why: "a control command is one non-empty, non-comment line",
            });
        }
        let mut st = self.lock();
        match &mut *st {
            State::Mock(m) => m.call(line, &self.log),
            _ => Err(TestkitError::Unsupported {
                kind: self.kind,
                what: "mock control commands",
            }),
        }
    }

    /// Checks that the mock process answers.
    pub fn ping(&self) -> Result<()> {
        self.mock_command("ping").map(drop)
    }

    /// Creates a topic (the mock has no CreateTopics API).
    pub fn create_topic(&self, name: &str, partitions: i32, replication: i32) -> Result<()> {
        let name = token(name)?;
        self.mock_command(&format!("topic_create {name} {partitions} {replication}"))
            .map(drop)
    }

    /// Deletes a topic.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        self.mock_command(&format!("topic_delete {}", token(name)?))
            .map(drop)
    }

    /// Makes Metadata (and AddPartitionsToTxn) answer `error_code` for the
    /// topic; 0 clears it.
    pub fn set_topic_error(&self, name: &str, error_code: i32) -> Result<()> {
        self.mock_command(&format!("topic_set_error {} {error_code}", token(name)?))
            .map(drop)
    }

    /// Takes a broker down (`-1`: all): its connections are closed and its
    /// port refuses new ones until [`Peer::broker_up`]. Leaders do not move.
    pub fn broker_down(&self, id: i32) -> Result<()> {
        self.mock_command(&format!("broker_down {id}")).map(drop)
    }

    /// Brings a broker back up on the same port (`-1`: all).
    pub fn broker_up(&self, id: i32) -> Result<()> {
        self.mock_command(&format!("broker_up {id}")).map(drop)
    }

    /// Delays every response of a broker by `ms` (`-1`: all brokers).
    pub fn set_rtt(&self, id: i32, ms: u32) -> Result<()> {
        self.mock_command(&format!("set_rtt {id} {ms}")).map(drop)
    }

    /// Sets a broker's rack (`-1`: all).
    pub fn set_broker_rack(&self, id: i32, rack: &str) -> Result<()> {
        self.mock_command(&format!("broker_set_rack {id} {}", token(rack)?))
            .map(drop)
    }

    /// Removes a broker from the cluster; its partitions move elsewhere.
    pub fn decommission_broker(&self, id: i32) -> Result<()> {
        self.mock_command(&format!("broker_decommission {id}"))
            .map(drop)
    }

    /// Adds a broker with id `id`.
    pub fn add_broker(&self, id: i32) -> Result<()> {
        self.mock_command(&format!("broker_add {id}")).map(drop)
    }

    /// Moves a partition's leadership (`broker` -1: leader-less).
    pub fn set_partition_leader(&self, topic: &str, partition: i32, broker: i32) -> Result<()> {
        let topic = token(topic)?;
        self.mock_command(&format!("partition_leader {topic} {partition} {broker}"))
            .map(drop)
    }

    /// Sets the follower a client fetches from (KIP-392) for a partition.
    pub fn set_partition_follower(&self, topic: &str, partition: i32, broker: i32) -> Result<()> {
        let topic = token(topic)?;
        self.mock_command(&format!("partition_follower {topic} {partition} {broker}"))
            .map(drop)
    }

    /// Sets the follower's low/high watermarks (-1: follow the leader's).
    pub fn set_partition_follower_wmarks(
        &self,
        topic: &str,
        partition: i32,
        lo: i64,
        hi: i64,
    ) -> Result<()> {
        let topic = token(topic)?;
        self.mock_command(&format!(
            "partition_follower_wmarks {topic} {partition} {lo} {hi}"
        ))
        .map(drop)
    }

    /// Makes the next `error_codes.len()` requests with `api_key`, to any
    /// broker, fail with these codes in order.
    pub fn push_request_errors(&self, api_key: i16, error_codes: &[i32]) -> Result<()> {
        if error_codes.is_empty() {
            return Err(TestkitError::BadArgument {
                arg: "[]".into(),
                why: "push_request_errors needs at least one error code",
            });
        }
        let codes: Vec<String> = error_codes.iter().map(i32::to_string).collect();
        self.mock_command(&format!("push_errors {api_key} {}", codes.join(" ")))
            .map(drop)
    }

    /// Drops the cluster-wide pushed errors for `api_key`.
    pub fn clear_request_errors(&self, api_key: i16) -> Result<()> {
        self.mock_command(&format!("clear_errors {api_key}"))
            .map(drop)
    }

    /// Like [`Peer::push_request_errors`] but for one broker, each error
    /// `(code, rtt_ms)` answered after that delay (code 0 = a normal reply,
    /// delayed).
    pub fn push_broker_request_errors(
        &self,
        broker: i32,
        api_key: i16,
        errors: &[(i32, u32)],
    ) -> Result<()> {
        if errors.is_empty() {
            return Err(TestkitError::BadArgument {
                arg: "[]".into(),
                why: "push_broker_request_errors needs at least one error",
            });
        }
        let entries: Vec<String> = errors.iter().map(|(c, rtt)| format!("{c}:{rtt}")).collect();
        self.mock_command(&format!(
            "broker_push_errors {broker} {api_key} {}",
            entries.join(" ")
        ))
        .map(drop)
    }

    /// How many pushed errors for `api_key` are left on a broker's stack
    /// (to check that a client really sent the requests).
    pub fn broker_error_count(&self, broker: i32, api_key: i16) -> Result<usize> {
        let line = format!("broker_error_count {broker} {api_key}");
        let value = self.mock_command(&line)?;
        value.trim().parse().map_err(|_| TestkitError::MockReply {
            command: line,
            reply: format!("ok {value} (not a count)"),
        })
    }

    /// Makes `broker` the coordinator for a group or transactional id.
    pub fn set_coordinator(&self, kind: CoordinatorKind, key: &str, broker: i32) -> Result<()> {
        let kind = match kind {
            CoordinatorKind::Group => "group",
            CoordinatorKind::Transaction => "transaction",
        };
        self.mock_command(&format!("coordinator {kind} {} {broker}", token(key)?))
            .map(drop)
    }

    /// Changes the version range the mock advertises (and accepts) for an
    /// API; `-1, -1` disables it.
    pub fn set_api_version(&self, api_key: i16, min: i16, max: i16) -> Result<()> {
        self.mock_command(&format!("set_apiversion {api_key} {min} {max}"))
            .map(drop)
    }

    /// Sets the group coordinator's initial rebalance delay.
    pub fn set_group_initial_rebalance_delay(&self, ms: u32) -> Result<()> {
        self.mock_command(&format!("group_initial_rebalance_delay {ms}"))
            .map(drop)
    }
}
