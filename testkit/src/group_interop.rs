//! Consumer group members of the two reference clients, kept running beside
//! kafkite's own members: the Java client (kafka-clients 4.4,
//! `testkit/java/GroupMemberPeer.java`) and confluent-kafka (librdkafka
//! 2.16, `scripts/peers/group_member_peer.py`). Each joins a group with the
//! classic protocol and the range assignor, reports every assignment
//! change and every record it reads, commits what it is told to, and leaves
//! when told to (or when its stdin closes, so a test process that dies
//! takes its peers with it).
//!
//! ```no_run
//! use std::time::Duration;
//! use kafkite_testkit::group_interop::{MemberClient, MemberEvent, PeerMember};
//!
//! let mut java = PeerMember::start(MemberClient::Java, "127.0.0.1:9092", "g", &["t"])
//!     .expect("java member");
//! while let Some(event) = java.next_event(Duration::from_secs(30)).expect("java member") {
//!     if let MemberEvent::Assigned(partitions) = event {
//!         println!("java owns {partitions:?}");
//!         break;
//!     }
//! }
//! java.leave(Duration::from_secs(30)).expect("java leaves");
//! ```
//!
//! A tool that cannot start, exits early or prints something unparseable
//! is an error carrying its stderr tail; nothing is skipped.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::interop::java_tools_dir;
use crate::{
    command_line, ensure_python, peers_dir, python, repo_root, tail, Result, TestkitError,
};

/// How long a tool may take to exit once its output has ended.
const EXIT_GRACE: Duration = Duration::from_secs(10);

/// A partition: topic and index.
pub use kafkite::TopicPartition;

/// Which client a [`PeerMember`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberClient {
    /// kafka-clients 4.4's `KafkaConsumer` (`group.protocol=classic`,
    /// `RangeAssignor`).
    Java,
    /// confluent-kafka 2.16's `Consumer` (`group.protocol=classic`,
    /// `partition.assignment.strategy=range`).
    Confluent,
}

impl MemberClient {
    /// Both clients.
    pub const ALL: [MemberClient; 2] = [MemberClient::Java, MemberClient::Confluent];

    /// "java" or "confluent", for messages.
    pub fn name(self) -> &'static str {
        match self {
            MemberClient::Java => "java",
            MemberClient::Confluent => "confluent",
        }
    }
}

impl std::fmt::Display for MemberClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a [`PeerMember`] reports, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberEvent {
    /// The rebalance listener was given these partitions (with the eager
    /// range assignor: the member's whole new assignment).
    Assigned(Vec<TopicPartition>),
    /// The listener was told these are revoked (eager: everything it had).
    Revoked(Vec<TopicPartition>),
    /// The listener was told these were lost (the session expired).
    Lost(Vec<TopicPartition>),
    /// The member read the record at `offset`.
    Record {
        /// Its topic.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
    },
    /// A [`PeerMember::commit`] succeeded: these (topic, partition, offset).
    Committed(Vec<(String, i32, i64)>),
    /// The member left the group and is about to exit.
    Closed,
}

/// A running group member of a reference client. Dropping it kills the
/// process; [`PeerMember::leave`] makes it leave the group properly.
pub struct PeerMember {
    client: MemberClient,
    command: String,
    child: Child,
    stdin: Option<ChildStdin>,
    events: Receiver<std::result::Result<MemberEvent, String>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl PeerMember {
    /// Starts a member of `group` subscribed to `topics`. It joins at once;
    /// its first [`MemberEvent::Assigned`] says the join finished (a JVM
    /// takes a second or two to get there).
    pub fn start(
        client: MemberClient,
        bootstrap: &str,
        group: &str,
        topics: &[&str],
    ) -> Result<PeerMember> {
        let mut cmd = match client {
            MemberClient::Java => {
                let classes = java_tools_dir()?;
                let libs = repo_root().join(".cache/kafka-4.4.0/libs");
                let mut cmd = Command::new("java");
                cmd.arg("-XX:TieredStopAtLevel=1")
                    .arg("-XX:+UseSerialGC")
                    .arg("-Xmx256m")
                    .arg("-cp")
                    .arg(format!("{}:{}/*", classes.display(), libs.display()))
                    .arg("GroupMemberPeer");
                cmd
            }
            MemberClient::Confluent => {
                ensure_python()?;
                let mut cmd = Command::new(python());
                cmd.arg("-u").arg(peers_dir().join("group_member_peer.py"));
                cmd
            }
        };
        cmd.arg(bootstrap).arg(group).args(topics);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let command = command_line(&cmd);
        let mut child = cmd.spawn().map_err(|source| TestkitError::Spawn {
            what: format!("start a {client} group member"),
            command: command.clone(),
            source,
        })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || collect(pipe, &sink));
        }
        let (sender, events) = mpsc::channel();
        if let Some(pipe) = stdout {
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if line.trim().is_empty() {
                        continue;
                    }
                    let parsed = serde_json::from_str::<Value>(&line)
                        .map_err(|e| e.to_string())
                        .and_then(|v| member_event(&v))
                        .map_err(|why| format!("{why}: {line:?}"));
                    if sender.send(parsed).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(PeerMember {
            client,
            command,
            child,
            stdin,
            events,
            stderr,
        })
    }

    /// Which client this is.
    pub fn client(&self) -> MemberClient {
        self.client
    }

    /// The next event if one has arrived, without waiting. A tool that has
    /// exited (after its last event) or printed a bad line is an error.
    pub fn try_event(&mut self) -> Result<Option<MemberEvent>> {
        match self.events.try_recv() {
            Ok(event) => event.map(Some).map_err(|why| self.bad_output(why)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(self.exited_early()),
        }
    }

    /// The next event, waiting up to `limit` for it (`None`: nothing came).
    pub fn next_event(&mut self, limit: Duration) -> Result<Option<MemberEvent>> {
        match self.events.recv_timeout(limit) {
            Ok(event) => event.map(Some).map_err(|why| self.bad_output(why)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(self.exited_early()),
        }
    }

    /// Asks the member to commit `offsets` (topic, partition, next offset to
    /// read) with `metadata`, synchronously within its group generation; a
    /// [`MemberEvent::Committed`] follows once the broker has them. The
    /// metadata may not contain whitespace (it is one word of a command).
    pub fn commit(&mut self, metadata: &str, offsets: &[(&str, i32, i64)]) -> Result<()> {
        if metadata.is_empty() || metadata.contains(char::is_whitespace) {
            return Err(TestkitError::BadArgument {
                arg: metadata.to_string(),
                why: "commit metadata for a peer member must be one word",
            });
        }
        let mut line = format!("commit {metadata}");
        for (topic, partition, offset) in offsets {
            line.push_str(&format!(" {topic} {partition} {offset}"));
        }
        self.send(&line)
    }

    /// Leaves the group: says "leave", waits up to `limit` for the tool to
    /// close its consumer and exit 0, and returns the events it reported
    /// meanwhile (the revocation, [`MemberEvent::Closed`] last). Not
    /// getting there in time, or a bad exit, is an error.
    pub fn leave(mut self, limit: Duration) -> Result<Vec<MemberEvent>> {
        self.send("leave")?;
        drop(self.stdin.take());
        let deadline = Instant::now() + limit;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(event)) => events.push(event),
                Ok(Err(why)) => return Err(self.bad_output(why)),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.failed(format!(
                        "did not leave within {limit:?} (events so far: {events:?})"
                    )))
                }
            }
        }
        let status = self.wait_exit(deadline.max(Instant::now() + EXIT_GRACE));
        match status {
            Some(status) if status.success() => {}
            Some(status) => return Err(self.failed(format!("exited with {status} on leave"))),
            None => return Err(self.failed("did not exit after closing its output".into())),
        }
        if events.last() != Some(&MemberEvent::Closed) {
            return Err(self.failed(format!(
                "exited without reporting that it closed: {events:?}"
            )));
        }
        Ok(events)
    }

    /// The last lines the tool wrote to stderr so far.
    pub fn stderr_tail(&self) -> String {
        let bytes = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        tail(&String::from_utf8_lossy(&bytes))
    }

    fn send(&mut self, line: &str) -> Result<()> {
        let written = match self.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{line}").and_then(|()| stdin.flush()),
            None => Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
        };
        written.map_err(|e| self.failed(format!("could not send {line:?}: {e}")))
    }

    /// The tool's exit status, waiting until `deadline` at most.
    fn wait_exit(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => return None,
            }
        }
    }

    fn exited_early(&mut self) -> TestkitError {
        let status = self.wait_exit(Instant::now() + EXIT_GRACE);
        let status = status.map_or("still running".to_string(), |s| s.to_string());
        self.failed(format!(
            "its output ended before it was told to leave ({status})"
        ))
    }

    fn failed(&self, status: String) -> TestkitError {
        // The stderr thread may still be reading the last words.
        std::thread::sleep(Duration::from_millis(50));
        TestkitError::CommandFailed {
            what: format!("{} group member", self.client),
            command: self.command.clone(),
            status,
            stderr: self.stderr_tail(),
        }
    }

    fn bad_output(&self, problem: String) -> TestkitError {
        TestkitError::BadToolOutput {
            what: format!("{} group member", self.client),
            command: self.command.clone(),
            problem,
            stderr: self.stderr_tail(),
        }
    }
}

impl Drop for PeerMember {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl std::fmt::Debug for PeerMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerMember")
            .field("client", &self.client)
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

/// Appends everything `pipe` yields to `sink` as it comes.
fn collect(mut pipe: impl Read, sink: &Mutex<Vec<u8>>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = pipe.read(&mut buf) {
        if n == 0 {
            break;
        }
        sink.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(&buf[..n]);
    }
}

/// One line of a member tool.
fn member_event(v: &Value) -> std::result::Result<MemberEvent, String> {
    let event = v.get("event").and_then(Value::as_str).ok_or("no `event`")?;
    let partitions = || -> std::result::Result<Vec<TopicPartition>, String> {
        let list = v
            .get("partitions")
            .and_then(Value::as_array)
            .ok_or("`partitions` is not a list")?;
        list.iter()
            .map(|tp| match tp.as_array().map(Vec::as_slice) {
                Some([Value::String(topic), partition]) => Ok((topic.clone(), int32(partition)?)),
                _ => Err(format!("{tp} is not [topic, partition]")),
            })
            .collect()
    };
    Ok(match event {
        "assigned" => MemberEvent::Assigned(partitions()?),
        "revoked" => MemberEvent::Revoked(partitions()?),
        "lost" => MemberEvent::Lost(partitions()?),
        "record" => MemberEvent::Record {
            topic: v
                .get("topic")
                .and_then(Value::as_str)
                .ok_or("`topic` is not a string")?
                .to_string(),
            partition: int32(v.get("partition").unwrap_or(&Value::Null))?,
            offset: v
                .get("offset")
                .and_then(Value::as_i64)
                .ok_or("`offset` is not an integer")?,
        },
        "committed" => {
            let list = v
                .get("offsets")
                .and_then(Value::as_array)
                .ok_or("`offsets` is not a list")?;
            let offsets = list
                .iter()
                .map(|o| match o.as_array().map(Vec::as_slice) {
                    Some([Value::String(topic), partition, Value::Number(offset)]) => {
                        let offset = offset.as_i64().ok_or("offset is not an integer")?;
                        Ok((topic.clone(), int32(partition)?, offset))
                    }
                    _ => Err(format!("{o} is not [topic, partition, offset]")),
                })
                .collect::<std::result::Result<Vec<_>, String>>()?;
            MemberEvent::Committed(offsets)
        }
        "closed" => MemberEvent::Closed,
        other => return Err(format!("unknown event {other:?}")),
    })
}

fn int32(v: &Value) -> std::result::Result<i32, String> {
    v.as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| format!("{v} is not a partition"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> std::result::Result<MemberEvent, String> {
        member_event(&serde_json::from_str(line).unwrap())
    }

    #[test]
    fn member_tool_lines_become_events() {
        assert_eq!(
            parse(r#"{"event":"assigned","partitions":[["t",0],["t",3]]}"#),
            Ok(MemberEvent::Assigned(vec![
                ("t".into(), 0),
                ("t".into(), 3)
            ]))
        );
        assert_eq!(
            parse(r#"{"event":"revoked","partitions":[]}"#),
            Ok(MemberEvent::Revoked(vec![]))
        );
        assert_eq!(
            parse(r#"{"event":"record","topic":"t","partition":2,"offset":9}"#),
            Ok(MemberEvent::Record {
                topic: "t".into(),
                partition: 2,
                offset: 9
            })
        );
        assert_eq!(
            parse(r#"{"event":"committed","offsets":[["t",1,7]]}"#),
            Ok(MemberEvent::Committed(vec![("t".into(), 1, 7)]))
        );
        assert_eq!(parse(r#"{"event":"closed"}"#), Ok(MemberEvent::Closed));
        assert!(parse(r#"{"event":"assigned","partitions":[["t"]]}"#).is_err());
        assert!(parse(r#"{"event":"record","topic":"t","partition":1}"#).is_err());
        assert!(parse(r#"{"event":"joined"}"#).is_err());
    }
}
