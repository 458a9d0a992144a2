//! [`KafkaRelease`]: one Apache Kafka release from 0.8.2.2 to 4.4.0, started
//! by `scripts/peers/kafka-release.sh` (ZooKeeper + broker before 4.0, KRaft
//! from 4.0), for the compatibility suite; and [`legacy_read_back`], a
//! witness client that still speaks to brokers older than ApiVersions.
//!
//! [`KafkaRelease::start_with_sasl_plain`] adds a SASL_PLAINTEXT listener
//! with mechanism PLAIN (users [`crate::ADMIN_USER`] and
//! [`crate::ALICE_USER`], same passwords as [`crate::SecureKafka`]'s) to a
//! ZooKeeper-era release from 0.10.2.2: brokers before 1.0 speak the
//! SaslHandshake v0 framing (raw SASL tokens, no SaslAuthenticate).
//!
//! Which releases a run covers is [`selected_releases`]: the default test run
//! takes [`DEFAULT_RELEASES`]; `KAFKA_RELEASES=all` takes every one of
//! [`RELEASES`], and `KAFKA_RELEASES=0.11.0.3,2.8.2` a list. Releases other
//! than the defaults are downloaded on first use (a few seconds each from
//! Maven Central, then cached in `.cache/kafka-VERSION`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{
    command_line, peers_dir, run, run_python, tail, unique_name, ConsumedRecord, Result,
    TestkitError,
};

/// Every release the script knows, oldest first: the Dart package's broker
/// (0.8.2.2), the first with ApiVersions (0.10.2.2), the first with
/// RecordBatch v2 and idempotence (0.11.0.3), the last two ZooKeeper lines
/// (2.8.2, 3.9.1) and the KRaft-only 4.4.0.
pub const RELEASES: [&str; 6] = ["0.8.2.2", "0.10.2.2", "0.11.0.3", "2.8.2", "3.9.1", "4.4.0"];

/// What the default test run covers: the oldest and the newest (each takes
/// seconds to start, and CI has 2 cores).
pub const DEFAULT_RELEASES: [&str; 2] = ["0.8.2.2", "4.4.0"];

/// The environment variable that picks releases: unset or empty = the
/// defaults, `all` = every release, else a comma-separated list.
pub const RELEASES_ENV: &str = "KAFKA_RELEASES";

/// The releases this run covers (see [`RELEASES_ENV`]). An unknown version
/// in the list is an error, so a typo does not quietly test nothing.
pub fn selected_releases() -> Result<Vec<&'static str>> {
    parse_releases(&std::env::var(RELEASES_ENV).unwrap_or_default())
}

/// [`selected_releases`] for a given value of [`RELEASES_ENV`].
fn parse_releases(value: &str) -> Result<Vec<&'static str>> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(DEFAULT_RELEASES.to_vec());
    }
    if value.eq_ignore_ascii_case("all") {
        return Ok(RELEASES.to_vec());
    }
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            RELEASES
                .iter()
                .copied()
                .find(|known| *known == v)
                .ok_or_else(|| TestkitError::BadArgument {
                    arg: format!("{RELEASES_ENV}={value}"),
                    why: "names a release kafka-release.sh does not know (see testkit::RELEASES)",
                })
        })
        .collect()
}

/// True for releases older than ApiVersions (0.10.0): a client must be told
/// which versions to use (librdkafka's `broker.version.fallback`) or find
/// out the way kafkite does, by the broker closing the connection.
pub fn predates_api_versions(version: &str) -> bool {
    version.starts_with("0.8.") || version.starts_with("0.9.")
}

/// A running Apache Kafka release on a data dir of its own. Dropping it
/// stops the broker (and its ZooKeeper) and removes the data dir.
pub struct KafkaRelease {
    version: &'static str,
    bootstrap: String,
    data_dir: PathBuf,
    log: PathBuf,
    /// The SASL_PLAINTEXT listener, if started with one.
    sasl_plaintext: Option<String>,
    /// The broker's PID; `None` after [`KafkaRelease::kill`].
    pid: Mutex<Option<u32>>,
}

impl KafkaRelease {
    /// Downloads the release if `.cache` lacks it, then starts it on fresh
    /// ports and a fresh data dir. The broker dies with this process
    /// (`PEER_WATCH_PID`). Fails with the script's stderr, which ends with
    /// the broker's log tail; a failed start keeps its data dir for a look.
    pub fn start(version: &'static str) -> Result<KafkaRelease> {
        KafkaRelease::start_inner(version, false)
    }

    /// [`KafkaRelease::start`] with a second listener, SASL_PLAINTEXT with
    /// mechanism PLAIN only ([`KafkaRelease::sasl_plaintext`]), beside
    /// PLAINTEXT (`kafka-release.sh` with `KAFKA_SASL_PLAIN=1`). For
    /// ZooKeeper-era releases from 0.10.2.2 (0.8.2.2 and 4.4.0 are an
    /// error: the first has no SASL PLAIN, the second is
    /// [`crate::SecureKafka`]'s).
    pub fn start_with_sasl_plain(version: &'static str) -> Result<KafkaRelease> {
        KafkaRelease::start_inner(version, true)
    }

    fn start_inner(version: &'static str, sasl_plain: bool) -> Result<KafkaRelease> {
        let t0 = Instant::now();
        let data_dir = new_data_dir(version)?;
        let started = start_script(version, &data_dir, Some(version), sasl_plain)?;
        eprintln!(
            "kafkite-testkit: Apache Kafka {version} at {} (pid {}{}) up in {:.2} s",
            started.bootstrap,
            started.pid,
            started
                .sasl_plaintext
                .as_deref()
                .map(|a| format!(", SASL_PLAINTEXT {a}"))
                .unwrap_or_default(),
            t0.elapsed().as_secs_f64()
        );
        Ok(KafkaRelease {
            version,
            bootstrap: started.bootstrap,
            data_dir,
            log: started.log,
            sasl_plaintext: started.sasl_plaintext,
            pid: Mutex::new(Some(started.pid)),
        })
    }

    /// The release, e.g. `"0.8.2.2"`.
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// `127.0.0.1:PORT`, stable across [`KafkaRelease::restart`].
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The SASL_PLAINTEXT (PLAIN) listener, `127.0.0.1:PORT`, if started by
    /// [`KafkaRelease::start_with_sasl_plain`].
    pub fn sasl_plaintext(&self) -> Option<&str> {
        self.sasl_plaintext.as_deref()
    }

    /// The broker's log, for failure messages.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The broker's PID, `None` while it is killed.
    pub fn pid(&self) -> Option<u32> {
        *self.lock()
    }

    /// Crashes the release: SIGKILL to the broker (and to its ZooKeeper,
    /// which a restart then recovers from its own log).
    pub fn kill(&self) -> Result<()> {
        let mut pid = self.lock();
        run(
            &format!("kill Apache Kafka {}", self.version),
            &mut script(&["kill"], &self.data_dir),
        )?;
        *pid = None;
        Ok(())
    }

    /// Starts a killed (or running: stopped first) release again on the
    /// same port and data. Old ZooKeeper-era brokers wait for their previous
    /// ZooKeeper session to expire first (a few seconds).
    pub fn restart(&self) -> Result<()> {
        let mut pid = self.lock();
        if pid.take().is_some() {
            run(
                &format!("stop Apache Kafka {} for restart", self.version),
                &mut script(&["stop"], &self.data_dir),
            )?;
        }
        let started = start_script(self.version, &self.data_dir, None, false)?;
        *pid = Some(started.pid);
        if started.bootstrap != self.bootstrap || started.sasl_plaintext != self.sasl_plaintext {
            return Err(TestkitError::BadToolOutput {
                what: format!("restart Apache Kafka {}", self.version),
                command: command_line(&script(&["start"], &self.data_dir)),
                problem: format!(
                    "BOOTSTRAP={} (SASL {:?}), was {} (SASL {:?})",
                    started.bootstrap, started.sasl_plaintext, self.bootstrap, self.sasl_plaintext
                ),
                stderr: String::new(),
            });
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<u32>> {
        self.pid.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for KafkaRelease {
    fn drop(&mut self) {
        // The script stops the broker, then ZooKeeper (SIGKILL after its
        // timeouts), and ends their watchdogs.
        let _ = script(&["stop"], &self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = fs::remove_dir_all(&self.data_dir);
    }
}

impl std::fmt::Debug for KafkaRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaRelease")
            .field("version", &self.version)
            .field("bootstrap", &self.bootstrap)
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

/// `kafka-release.sh ACTION DIR [ARGS]`, with `PEER_WATCH_PID` = this process.
fn script(action_and_args: &[&str], dir: &Path) -> Command {
    let mut cmd = Command::new(peers_dir().join("kafka-release.sh"));
    cmd.arg(action_and_args[0])
        .arg(dir)
        .args(&action_and_args[1..])
        .env("PEER_WATCH_PID", std::process::id().to_string())
        .stdin(Stdio::null());
    cmd
}

/// What `kafka-release.sh start` printed.
struct Started {
    bootstrap: String,
    pid: u32,
    log: PathBuf,
    sasl_plaintext: Option<String>,
}

/// Runs `start` and reads its `BOOTSTRAP=`, `PID=`, `LOG=` and
/// `LISTENER_SASL_PLAINTEXT=` lines. With `sasl_plain` (a fresh start
/// only) the script is asked for the SASL listener and must print it.
fn start_script(
    version: &str,
    dir: &Path,
    fresh: Option<&str>,
    sasl_plain: bool,
) -> Result<Started> {
    let mut cmd = match fresh {
        Some(v) => script(&["start", v], dir),
        None => script(&["start"], dir),
    };
    if sasl_plain {
        cmd.env("KAFKA_SASL_PLAIN", "1");
    }
    let what = format!(
        "start Apache Kafka {version} (data dir {} kept)",
        dir.display()
    );
    let out = run(&what, &mut cmd)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let bootstrap = field("BOOTSTRAP=");
    let pid = field("PID=").and_then(|p| p.parse::<u32>().ok());
    let sasl = field("LISTENER_SASL_PLAINTEXT=");
    match (bootstrap, pid) {
        (Some(b), Some(p)) if sasl.is_some() || !sasl_plain => Ok(Started {
            bootstrap: b.to_string(),
            pid: p,
            log: field("LOG=")
                .map(PathBuf::from)
                .unwrap_or_else(|| dir.join("kafka.log")),
            sasl_plaintext: sasl.map(str::to_string),
        }),
        _ => {
            // It may be running all the same: do not leak it.
            let _ = script(&["stop"], dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            Err(TestkitError::BadToolOutput {
                what,
                command: command_line(&cmd),
                problem: if sasl_plain {
                    "no usable BOOTSTRAP=, PID= and LISTENER_SASL_PLAINTEXT= lines".to_string()
                } else {
                    "no usable BOOTSTRAP= and PID= lines".to_string()
                },
                stderr: format!(
                    "stdout: {stdout}\n{}",
                    tail(&String::from_utf8_lossy(&out.stderr))
                ),
            })
        }
    }
}

/// A fresh, canonical data dir under the temp dir, named like the other
/// peers' (`kafkite-testkit-...-PID-...`) so the next test process removes
/// it if this one dies without its `Drop`.
fn new_data_dir(version: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(unique_name(&format!(
        "kafkite-testkit-kafka{}",
        version.replace('.', "")
    )));
    let io = |source| TestkitError::Io {
        what: format!("create data dir {}", dir.display()),
        source,
    };
    fs::create_dir_all(&dir).map_err(io)?;
    fs::canonicalize(&dir).map_err(io)
}

/// Reads `count` records of `topic` with confluent-kafka (librdkafka 2.16)
/// from a broker of release `version`: every partition assigned from the
/// beginning, no group. The shared [`crate::confluent_read_back`] asks the
/// broker for its API versions, which a broker older than 0.10 answers by
/// closing the connection; here librdkafka is told the release instead
/// (`api.version.request=false`, `broker.version.fallback`), as a user of
/// such a broker must. Returns the records sorted by partition and offset;
/// fewer than `count` within `timeout` is an error that says how many came.
pub fn legacy_read_back(
    bootstrap: &str,
    version: &str,
    topic: &str,
    count: usize,
    timeout: Duration,
) -> Result<Vec<ConsumedRecord>> {
    let fallback = if predates_api_versions(version) {
        // librdkafka knows 0.9.0, 0.8.2, 0.8.1 and 0.8.0 by those names.
        version.split('.').take(3).collect::<Vec<_>>().join(".")
    } else {
        String::new()
    };
    let stdout = run_python(
        LEGACY_READ_BACK,
        [
            bootstrap.to_string(),
            topic.to_string(),
            count.to_string(),
            timeout.as_millis().to_string(),
            fallback,
        ],
    )?;
    let mut records = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let record = parse_hex_record(line).ok_or_else(|| TestkitError::BadToolOutput {
            what: "legacy_read_back".to_string(),
            command: "python -c LEGACY_READ_BACK".to_string(),
            problem: format!("unparsable line {line:?}"),
            stderr: String::new(),
        })?;
        records.push(record);
    }
    records.sort();
    Ok(records)
}

/// One record per line: `{"partition","offset","timestamp","key","value"}`,
/// key and value as hex or null. Headers are not read: the brokers this is
/// for predate them.
const LEGACY_READ_BACK: &str = r#"
import json, sys, time
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
bootstrap, topic, count, timeout_ms, fallback = sys.argv[1:6]
count, deadline = int(count), time.monotonic() + int(timeout_ms) / 1000.0
conf = {"bootstrap.servers": bootstrap, "group.id": "kafkite-testkit-legacy-readback",
        "enable.auto.commit": False, "enable.auto.offset.store": False,
        "log_level": 3}
if fallback:
    conf.update({"api.version.request": False, "broker.version.fallback": fallback})
c = Consumer(conf)
parts, last = None, None
while time.monotonic() < deadline and not parts:
    try:
        t = c.list_topics(topic, timeout=2.0).topics.get(topic)
        if t is not None and t.error is None and t.partitions:
            parts = sorted(t.partitions)
        else:
            last = t.error if t is not None else "not in metadata"
    except Exception as e:
        last = e
    if not parts:
        time.sleep(0.2)
if not parts:
    sys.exit(f"legacy read-back: topic {topic} not found at {bootstrap} (last: {last})")
c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
got = 0
hexa = lambda b: None if b is None else b.hex()
while got < count and time.monotonic() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error() is not None:
        if m.error().code() != KafkaError._PARTITION_EOF:
            last = m.error()
        continue
    print(json.dumps({"partition": m.partition(), "offset": m.offset(),
                      "timestamp": m.timestamp()[1], "key": hexa(m.key()),
                      "value": hexa(m.value())}), flush=True)
    got += 1
c.close()
if got < count:
    sys.exit(f"legacy read-back: got {got} of {count} records of {topic} at {bootstrap} (last error: {last})")
"#;

fn parse_hex_record(line: &str) -> Option<ConsumedRecord> {
    let v: Value = serde_json::from_str(line).ok()?;
    let bytes = |field: &str| -> Option<Option<Vec<u8>>> {
        match &v[field] {
            Value::Null => Some(None),
            Value::String(s) => hex(s).map(Some),
            _ => None,
        }
    };
    Some(ConsumedRecord {
        partition: i32::try_from(v["partition"].as_i64()?).ok()?,
        offset: v["offset"].as_i64()?,
        timestamp: v["timestamp"].as_i64()?,
        key: bytes("key")?,
        value: bytes("value")?,
        headers: Vec::new(),
    })
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_selects_the_defaults_all_selects_every_release() {
        assert_eq!(parse_releases("").unwrap(), DEFAULT_RELEASES.to_vec());
        assert_eq!(parse_releases(" ").unwrap(), DEFAULT_RELEASES.to_vec());
        assert_eq!(parse_releases("ALL").unwrap(), RELEASES.to_vec());
    }

    #[test]
    fn a_list_selects_those_releases_and_a_typo_is_an_error() {
        assert_eq!(
            parse_releases("0.11.0.3, 2.8.2").unwrap(),
            vec!["0.11.0.3", "2.8.2"]
        );
        assert!(parse_releases("0.11.0.3,2.8").is_err());
    }

    #[test]
    fn legacy_records_are_decoded_from_hex() {
        let r = parse_hex_record(
            r#"{"partition":1,"offset":7,"timestamp":-1,"key":null,"value":"6869"}"#,
        )
        .unwrap();
        assert_eq!((r.partition, r.offset, r.timestamp), (1, 7, -1));
        assert_eq!((r.key, r.value), (None, Some(b"hi".to_vec())));
        assert!(parse_hex_record(
            r#"{"partition":1,"offset":7,"timestamp":0,"key":"6","value":null}"#
        )
        .is_none());
    }

    #[test]
    fn releases_before_0_10_predate_api_versions() {
        assert!(predates_api_versions("0.8.2.2"));
        assert!(!predates_api_versions("0.10.2.2"));
        assert!(!predates_api_versions("4.4.0"));
    }
}
