//! Two independent clients as witnesses: the Java client (kafka-clients
//! 4.4, the reference) and confluent-kafka (librdkafka 2.16). A test
//! produces with kafkite, then asks both what they see, so a bug shared by
//! kafkite's encoder and decoder cannot hide behind a round trip through
//! kafkite alone.
//!
//! - [`java_read_back`] / [`confluent_read_back`]: every record of a topic,
//!   read from the beginning without a consumer group;
//!   [`java_read_back_with`] / [`confluent_read_back_with`] the same with
//!   extra client properties (a secured listener's security settings).
//! - [`java_murmur2_partitions`] / [`librdkafka_murmur2_partitions`]: the
//!   partition each client's default keyed partitioner picks.
//!
//! The Java side is `testkit/java/*.java`, compiled with `javac` at first
//! use against `.cache/kafka-4.4.0/libs` into
//! `.cache/testkit-java/<hash of the sources>/` (so an edited source is
//! recompiled, and concurrent test processes never see a half-written
//! class dir: each compiles into a temp dir and renames it into place). The
//! Python side is `scripts/peers/read_back.py` and
//! `scripts/peers/murmur2_librdkafka.py`, run with the venv's interpreter.
//! A missing `java`, `javac` or venv is an error, never a skip.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::{
    command_line, ensure_python, install, peers_dir, python, repo_root, tail, Result, TestkitError,
};

/// The Kafka release whose client jars the Java tools compile and run against.
const KAFKA_VERSION: &str = "4.4.0";

/// The least time the read-back tools give a topic to show up in metadata
/// (their `TOPIC_LOOKUP_MIN`), before the timeout for records starts.
const TOPIC_LOOKUP_MIN: Duration = Duration::from_secs(30);

/// Beyond its own deadlines, how long a read-back tool may take to start
/// (a JVM with kafka-clients: ~1 s) and close its consumer before it is killed.
const READ_BACK_GRACE: Duration = Duration::from_secs(60);

/// How long a murmur2 tool may run (both take about a second for 10,000 keys).
const MURMUR2_LIMIT: Duration = Duration::from_secs(120);

/// One record as a witness client consumed it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConsumedRecord {
    /// The partition it was read from.
    pub partition: i32,
    /// Its offset in that partition.
    pub offset: i64,
    /// Its timestamp (ms since the epoch; create or log-append time as the
    /// topic says), -1 if the record had none.
    pub timestamp: i64,
    /// The key; `None` for a null key (distinct from an empty one).
    pub key: Option<Vec<u8>>,
    /// The value; `None` for a null value (a tombstone).
    pub value: Option<Vec<u8>>,
    /// The headers in record order: key and value (`None` for a null value).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Reads `count` records of `topic` with kafka-clients 4.4's `KafkaConsumer`
/// (`testkit/java/ReadBack.java`): all partitions assigned, from the
/// beginning, no group. Returns them sorted by partition, then offset (it
/// may return a few more than `count` if the topic holds more).
///
/// Fewer than `count` records within `timeout` is an error whose stderr says
/// how many arrived. The timeout starts once the partitions are assigned:
/// finding the topic first may take up to `max(timeout, 30 s)`, so a slow
/// JVM start or first metadata answer on a loaded machine does not eat it.
pub fn java_read_back(
    bootstrap: &str,
    topic: &str,
    count: usize,
    timeout: Duration,
) -> Result<Vec<ConsumedRecord>> {
    java_read_back_with::<&str, &str>(bootstrap, topic, count, timeout, &[])
}

/// [`java_read_back`] with extra consumer properties, set after the tool's
/// defaults (so they may override them): e.g. `security.protocol=SASL_SSL`,
/// `sasl.mechanism=SCRAM-SHA-512`, `sasl.jaas.config=...`,
/// `ssl.truststore.type=PEM`, `ssl.truststore.location=<ca.pem>`
/// ([`crate::SecureKafka::java_props`] makes them for its listeners).
/// A key that is empty or holds `=` is an error (`KEY=VALUE` is how they
/// reach the tool).
pub fn java_read_back_with<K: AsRef<str>, V: AsRef<str>>(
    bootstrap: &str,
    topic: &str,
    count: usize,
    timeout: Duration,
    props: &[(K, V)],
) -> Result<Vec<ConsumedRecord>> {
    let props = property_args(props)?;
    let mut cmd = java_command("ReadBack")?;
    cmd.arg(bootstrap)
        .arg(topic)
        .arg(count.to_string())
        .arg(timeout.as_millis().to_string())
        .args(props);
    read_back("java_read_back", cmd, timeout)
}

/// The same as [`java_read_back`] with confluent-kafka's (librdkafka 2.16)
/// `Consumer` (`scripts/peers/read_back.py`): all partitions assigned at
/// `OFFSET_BEGINNING`, nothing committed.
pub fn confluent_read_back(
    bootstrap: &str,
    topic: &str,
    count: usize,
    timeout: Duration,
) -> Result<Vec<ConsumedRecord>> {
    confluent_read_back_with::<&str, &str>(bootstrap, topic, count, timeout, &[])
}

/// [`confluent_read_back`] with extra librdkafka properties, set after the
/// tool's defaults: e.g. `security.protocol=SASL_SSL`,
/// `sasl.mechanism=SCRAM-SHA-512`, `sasl.username`, `sasl.password`,
/// `ssl.ca.location=<ca.pem>` ([`crate::SecureKafka::librdkafka_props`]
/// makes them for its listeners). Values are strings, as librdkafka takes
/// them. A key that is empty or holds `=` is an error.
pub fn confluent_read_back_with<K: AsRef<str>, V: AsRef<str>>(
    bootstrap: &str,
    topic: &str,
    count: usize,
    timeout: Duration,
    props: &[(K, V)],
) -> Result<Vec<ConsumedRecord>> {
    let props = property_args(props)?;
    ensure_python()?;
    let mut cmd = Command::new(python());
    cmd.arg(peers_dir().join("read_back.py"))
        .arg(bootstrap)
        .arg(topic)
        .arg(count.to_string())
        .arg(timeout.as_millis().to_string())
        .args(props);
    read_back("confluent_read_back", cmd, timeout)
}

/// The read-back tools' trailing `KEY=VALUE` arguments. They split at the
/// first `=`, so a key must be non-empty and free of `=`; a value may hold
/// anything (a JAAS line does).
fn property_args<K: AsRef<str>, V: AsRef<str>>(props: &[(K, V)]) -> Result<Vec<String>> {
    props
        .iter()
        .map(|(k, v)| {
            let (k, v) = (k.as_ref(), v.as_ref());
            if k.is_empty() || k.contains('=') {
                return Err(TestkitError::BadArgument {
                    arg: k.to_string(),
                    why: "a client property name must be non-empty and hold no '='",
                });
            }
            Ok(format!("{k}={v}"))
        })
        .collect()
}

/// What [`java_transactional_produce`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaTransactions {
    /// Values of the records in committed transactions, in send order.
    pub committed: Vec<String>,
    /// Values of the records in aborted transactions (written, then
    /// aborted), in send order.
    pub aborted: Vec<String>,
    /// The transactions' time, after `initTransactions`.
    pub elapsed: Duration,
}

/// Runs `txns` transactions of `per_txn` records each into `topic` with
/// kafka-clients 4.4's transactional `KafkaProducer`
/// (`testkit/java/TxnProduce.java`); every `abort_every`-th one (0: none)
/// is aborted once its records are acknowledged. Values are
/// `PREFIX-<txn>-<i>`, partitions round robin.
pub fn java_transactional_produce(
    bootstrap: &str,
    topic: &str,
    transactional_id: &str,
    (per_txn, txns, abort_every): (usize, usize, usize),
    prefix: &str,
) -> Result<JavaTransactions> {
    let what = "java_transactional_produce";
    let mut cmd = java_command("TxnProduce")?;
    cmd.arg(bootstrap)
        .arg(topic)
        .arg(transactional_id)
        .arg(per_txn.to_string())
        .arg(txns.to_string())
        .arg(abort_every.to_string())
        .arg(prefix);
    let out = run_tool(what, &mut cmd, None, Duration::from_secs(300))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bad = |why: String| TestkitError::BadToolOutput {
        what: what.to_string(),
        command: command_line(&cmd),
        problem: why,
        stderr: tail(&String::from_utf8_lossy(&out.stderr)),
    };
    let v: Value = serde_json::from_str(stdout.trim()).map_err(|e| bad(e.to_string()))?;
    let strings = |field: &str| -> std::result::Result<Vec<String>, String> {
        v.get(field)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("`{field}` is not an array"))?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("`{field}` holds a non-string"))
            })
            .collect()
    };
    let elapsed_ms = v
        .get("elapsed_ms")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("`elapsed_ms` is not a number".into()))?;
    Ok(JavaTransactions {
        committed: strings("committed").map_err(bad)?,
        aborted: strings("aborted").map_err(bad)?,
        elapsed: Duration::from_millis(elapsed_ms),
    })
}

/// For each key, the partition the Java client picks for partition counts
/// `1..=max_n`: `result[i][n - 1]` is
/// `Utils.toPositive(Utils.murmur2(keys[i])) % n`, computed by kafka-clients
/// 4.4 itself (`testkit/java/Murmur2Partitions.java`).
pub fn java_murmur2_partitions<K: AsRef<[u8]>>(keys: &[K], max_n: u32) -> Result<Vec<Vec<u32>>> {
    let mut cmd = java_command("Murmur2Partitions")?;
    cmd.arg(max_n.to_string());
    murmur2_partitions("java_murmur2_partitions", cmd, keys, max_n)
}

/// The same table as [`java_murmur2_partitions`] from librdkafka 2.16's
/// `partitioner=murmur2_random` (`scripts/peers/murmur2_librdkafka.py`):
/// its `rd_kafka_msg_partitioner_murmur2_random` called through ctypes,
/// after the script has checked on a sample (the first 200 keys, a few
/// partition counts) that a confluent-kafka `Producer` really delivers to
/// those partitions, through a librdkafka mock cluster.
pub fn librdkafka_murmur2_partitions<K: AsRef<[u8]>>(
    keys: &[K],
    max_n: u32,
) -> Result<Vec<Vec<u32>>> {
    ensure_python()?;
    let mut cmd = Command::new(python());
    cmd.arg(peers_dir().join("murmur2_librdkafka.py"))
        .arg(max_n.to_string());
    murmur2_partitions("librdkafka_murmur2_partitions", cmd, keys, max_n)
}

/// Compiles the Java tools if needed (once per process; ~3 s when the
/// sources changed, a hash of two small files otherwise) and returns the
/// class dir. Installs Kafka's jars first if `.cache` lacks them.
pub fn java_tools_dir() -> Result<PathBuf> {
    static DIR: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut dir = DIR.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = dir.as_ref() {
        return Ok(d.clone());
    }
    install("kafka")?;
    let compiled = compile_java_tools()?;
    *dir = Some(compiled.clone());
    Ok(compiled)
}

fn kafka_libs() -> PathBuf {
    repo_root().join(format!(".cache/kafka-{KAFKA_VERSION}/libs"))
}

/// `java -cp CLASSES:LIBS/* MAIN` with the JVM flags kafka.sh uses for its
/// short-lived tools (a faster start; these programs run for seconds).
fn java_command(main: &str) -> Result<Command> {
    let classes = java_tools_dir()?;
    let mut cmd = Command::new("java");
    cmd.arg("-XX:TieredStopAtLevel=1")
        .arg("-XX:+UseSerialGC")
        .arg("-cp")
        .arg(format!(
            "{}:{}/*",
            classes.display(),
            kafka_libs().display()
        ))
        .arg(main);
    Ok(cmd)
}

/// Compiles every `testkit/java/*.java` into `.cache/testkit-java/HASH/`
/// unless that dir exists. The dir appears only by an atomic rename of a
/// complete temp dir, so its existence means it is complete; a process that
/// loses the rename race to another one uses the winner's copy.
fn compile_java_tools() -> Result<PathBuf> {
    let io = |what: String| move |source: std::io::Error| TestkitError::Io { what, source };
    let src_dir = repo_root().join("testkit/java");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&src_dir)
        .map_err(io(format!("list {}", src_dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "java"))
        .collect();
    sources.sort();
    // Content hash, not mtimes: a checkout or an edit changes it, and so
    // does the Kafka release compiled against.
    let mut hash = Fnv64::default();
    hash.write(KAFKA_VERSION.as_bytes());
    for src in &sources {
        let text = std::fs::read(src).map_err(io(format!("read {}", src.display())))?;
        hash.write(src.file_name().map(|n| n.as_encoded_bytes()).unwrap_or(b""));
        hash.write(&text);
    }
    let cache = repo_root().join(".cache/testkit-java");
    let dest = cache.join(format!("{:016x}", hash.0));
    if dest.is_dir() {
        return Ok(dest);
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = cache.join(format!("tmp-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(io(format!("create {}", tmp.display())))?;
    let mut cmd = Command::new("javac");
    cmd.arg("--release")
        .arg("17")
        .arg("-nowarn")
        .arg("-cp")
        .arg(format!("{}/*", kafka_libs().display()))
        .arg("-d")
        .arg(&tmp)
        .args(&sources)
        .stdin(Stdio::null());
    let compiled = run_tool(
        "compile the Java interop tools",
        &mut cmd,
        None,
        MURMUR2_LIMIT,
    );
    if let Err(e) = compiled {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if let Err(source) = std::fs::rename(&tmp, &dest) {
        let _ = std::fs::remove_dir_all(&tmp);
        if !dest.is_dir() {
            return Err(TestkitError::Io {
                what: format!("rename {} to {}", tmp.display(), dest.display()),
                source,
            });
        }
    }
    eprintln!(
        "kafkite-testkit: compiled the Java interop tools into {}",
        dest.display()
    );
    Ok(dest)
}

/// FNV-1a, 64 bit: a hash that stays the same across Rust releases (std's
/// `DefaultHasher` does not promise that), so the class dir is reused.
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        self.0 = (self.0 ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
    }
}

/// Runs a read-back tool and parses its JSON lines.
fn read_back(what: &str, mut cmd: Command, timeout: Duration) -> Result<Vec<ConsumedRecord>> {
    let limit = timeout.max(TOPIC_LOOKUP_MIN) + timeout + READ_BACK_GRACE;
    let out = run_tool(what, &mut cmd, None, limit)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bad = |line: usize, text: &str, why: String| TestkitError::BadToolOutput {
        what: what.to_string(),
        command: command_line(&cmd),
        problem: format!("line {line}: {why}: {:?}", clip(text)),
        stderr: tail(&String::from_utf8_lossy(&out.stderr)),
    };
    let mut records = Vec::new();
    for (i, line) in stdout.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str::<Value>(line)
            .map_err(|e| e.to_string())
            .and_then(|v| consumed_record(&v))
            .map_err(|why| bad(i + 1, line, why))?;
        records.push(record);
    }
    records.sort();
    Ok(records)
}

/// One `{"partition":..,"offset":..,...}` line of a read-back tool.
fn consumed_record(v: &Value) -> std::result::Result<ConsumedRecord, String> {
    let int = |field: &str| {
        v.get(field)
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("`{field}` is not an integer"))
    };
    let partition = int("partition")?;
    let partition =
        i32::try_from(partition).map_err(|_| format!("partition {partition} is out of range"))?;
    let headers = match v.get("headers") {
        Some(Value::Array(hs)) => hs
            .iter()
            .map(|h| match h.as_array().map(Vec::as_slice) {
                Some([Value::String(k), value]) => Ok((k.clone(), nullable_base64(value)?)),
                _ => Err(format!("header {h} is not [key, base64 or null]")),
            })
            .collect::<std::result::Result<Vec<_>, String>>()?,
        _ => return Err("`headers` is not a list".into()),
    };
    Ok(ConsumedRecord {
        partition,
        offset: int("offset")?,
        timestamp: int("timestamp")?,
        key: nullable_base64(v.get("key").unwrap_or(&Value::Null))?,
        value: nullable_base64(v.get("value").unwrap_or(&Value::Null))?,
        headers,
    })
}

fn nullable_base64(v: &Value) -> std::result::Result<Option<Vec<u8>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => base64_decode(s).map(Some),
        other => Err(format!("{other} is neither base64 nor null")),
    }
}

/// Standard base64 with padding (what `java.util.Base64` and Python's
/// `base64.b64encode` write), strict: anything else is an error.
fn base64_decode(s: &str) -> std::result::Result<Vec<u8>, String> {
    fn sextet(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(format!("base64 {s:?} is not a multiple of 4 long"));
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let quads = bytes.len() / 4;
    for (q, quad) in bytes.chunks_exact(4).enumerate() {
        let pad = if q + 1 == quads {
            quad.iter().rev().take_while(|&&c| c == b'=').count()
        } else {
            0
        };
        if pad > 2 {
            return Err(format!("base64 {s:?} has too much padding"));
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            let d = sextet(c).ok_or_else(|| format!("base64 {s:?} has a bad character"))?;
            n = n << 6 | d;
        }
        n <<= 6 * pad as u32;
        let [_, b0, b1, b2] = n.to_be_bytes();
        out.extend_from_slice(&[b0, b1, b2][..3 - pad]);
    }
    Ok(out)
}

/// Runs a murmur2 tool with the keys (hex lines) on stdin and parses its
/// table: exactly one line per key, `max_n` numbers each.
fn murmur2_partitions<K: AsRef<[u8]>>(
    what: &str,
    mut cmd: Command,
    keys: &[K],
    max_n: u32,
) -> Result<Vec<Vec<u32>>> {
    let mut input = String::with_capacity(keys.len() * 40);
    for key in keys {
        for b in key.as_ref() {
            input.push_str(&format!("{b:02x}"));
        }
        input.push('\n');
    }
    let out = run_tool(what, &mut cmd, Some(input.into_bytes()), MURMUR2_LIMIT)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bad = |line: usize, text: &str, why: String| TestkitError::BadToolOutput {
        what: what.to_string(),
        command: command_line(&cmd),
        problem: format!("line {line}: {why}: {:?}", clip(text)),
        stderr: tail(&String::from_utf8_lossy(&out.stderr)),
    };
    let mut table = Vec::with_capacity(keys.len());
    for (i, line) in stdout.lines().enumerate() {
        let row = line
            .split_ascii_whitespace()
            .map(str::parse::<u32>)
            .collect::<std::result::Result<Vec<u32>, _>>()
            .map_err(|e| bad(i + 1, line, format!("not a list of partitions: {e}")))?;
        if row.len() != max_n as usize {
            return Err(bad(
                i + 1,
                line,
                format!("{} partitions, expected {max_n}", row.len()),
            ));
        }
        table.push(row);
    }
    if table.len() != keys.len() {
        return Err(bad(
            table.len() + 1,
            "",
            format!("{} lines for {} keys", table.len(), keys.len()),
        ));
    }
    Ok(table)
}

/// Runs `cmd` with `stdin` fed in (by a thread, so a tool that writes while
/// it reads cannot deadlock us), killing it after `limit`. A spawn failure,
/// a non-zero exit or a kill is an error with the tool's stderr tail.
fn run_tool(
    what: &str,
    cmd: &mut Command,
    stdin: Option<Vec<u8>>,
    limit: Duration,
) -> Result<Output> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| TestkitError::Spawn {
        what: what.to_string(),
        command: command_line(cmd),
        source,
    })?;
    let writer = match (child.stdin.take(), stdin) {
        (Some(mut pipe), Some(bytes)) => Some(std::thread::spawn(move || {
            // A tool that exits early closes the pipe; its exit status says why.
            let _ = pipe.write_all(&bytes);
        })),
        _ => None,
    };
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let waited = wait_or_kill(&mut child, limit);
    if let Some(w) = writer {
        let _ = w.join();
    }
    let (status, killed) = waited.map_err(|source| TestkitError::Io {
        what: format!("{what}: wait for `{}`", command_line(cmd)),
        source,
    })?;
    let output = Output {
        status,
        stdout: joined(stdout),
        stderr: joined(stderr),
    };
    if killed || !output.status.success() {
        let status = if killed {
            format!("killed after the {} s limit", limit.as_secs())
        } else {
            output.status.to_string()
        };
        return Err(TestkitError::CommandFailed {
            what: what.to_string(),
            command: command_line(cmd),
            status,
            stderr: tail(&String::from_utf8_lossy(&output.stderr)),
        });
    }
    Ok(output)
}

/// Waits for `child`, killing it once `limit` has passed; true if killed.
fn wait_or_kill(child: &mut Child, limit: Duration) -> std::io::Result<(ExitStatus, bool)> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, false));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            return Ok((child.wait()?, true));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads a pipe to its end on a thread of its own.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Option<JoinHandle<Vec<u8>>> {
    pipe.map(|mut p| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = p.read_to_end(&mut buf);
            buf
        })
    })
}

fn joined(handle: Option<JoinHandle<Vec<u8>>>) -> Vec<u8> {
    handle.and_then(|h| h.join().ok()).unwrap_or_default()
}

/// A line of tool output, shortened for an error message.
fn clip(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_become_key_value_arguments() {
        let args = property_args(&[("sasl.jaas.config", "a b=\"c\";"), ("x", "")]).unwrap();
        assert_eq!(args, ["sasl.jaas.config=a b=\"c\";", "x="]);
        assert!(property_args(&[("", "v")]).is_err());
        assert!(property_args(&[("a=b", "v")]).is_err());
    }

    #[test]
    fn base64_decodes_what_java_and_python_write() {
        assert_eq!(base64_decode(""), Ok(vec![]));
        assert_eq!(base64_decode("AA=="), Ok(vec![0]));
        assert_eq!(base64_decode("AAE="), Ok(vec![0, 1]));
        assert_eq!(base64_decode("/+7d"), Ok(vec![0xff, 0xee, 0xdd]));
        assert_eq!(base64_decode("aGVsbG8="), Ok(b"hello".to_vec()));
        assert!(base64_decode("aGVsbG8").is_err());
        assert!(base64_decode("a===").is_err());
        assert!(base64_decode("AA==AAAA").is_err());
        assert!(base64_decode("aGV*bG8=").is_err());
    }

    #[test]
    fn a_read_back_line_becomes_a_record() {
        let v: Value = serde_json::from_str(
            r#"{"partition":1,"offset":7,"timestamp":-1,"key":"","value":null,"headers":[["h",null],["i","AQI="]]}"#,
        )
        .unwrap();
        assert_eq!(
            consumed_record(&v),
            Ok(ConsumedRecord {
                partition: 1,
                offset: 7,
                timestamp: -1,
                key: Some(vec![]),
                value: None,
                headers: vec![("h".into(), None), ("i".into(), Some(vec![1, 2]))],
            })
        );
        let no_headers: Value = serde_json::from_str(r#"{"partition":1,"offset":7}"#).unwrap();
        assert!(consumed_record(&no_headers).is_err());
    }
}
