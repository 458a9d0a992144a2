//! Real Kafka peers for kafkite's integration tests (dev-only, not published).
//!
//! A thin, synchronous wrapper over `scripts/peers/` (see its README): the
//! scripts know how to install and run each broker; this crate gives Rust
//! tests a typed handle that starts a peer on a fresh data dir, tells the test
//! where it listens and stops it again however the test ends.
//!
//! ```no_run
//! use kafkite_testkit::{shared, unique_name, Peer, PeerKind};
//!
//! // A broker of its own (fast peers: tansu, noida-db, the mock).
//! let peer = Peer::start(PeerKind::Tansu).expect("tansu peer");
//! let _bootstrap: &str = peer.bootstrap();
//!
//! // Kafka takes seconds to start: one per test binary.
//! let kafka = shared(PeerKind::Kafka);
//! let _topic = unique_name("orders");
//! # let _ = kafka;
//! ```
//!
//! Secured brokers: [`SecureKafka`] (or [`shared_secure`]) runs Kafka 4.4
//! with TLS, mutual TLS and SASL listeners (PLAIN, SCRAM, OAUTHBEARER,
//! re-authentication) and test certificates;
//! [`release::KafkaRelease::start_with_sasl_plain`] runs an old release with
//! SASL PLAIN; [`TcpProxy`] sits between a client and a broker and counts
//! connections and requests.
//!
//! Network faults: [`FaultyProxy`] cuts connections mid-frame, delivers a
//! byte at a time, stalls and limits bandwidth, per direction, as the test
//! says while it runs; [`ProxiedKafka`] (or [`shared_proxied`]) runs Kafka
//! 4.4 with listeners advertised at such proxies, so that every connection
//! a client makes passes one.
//!
//! Peers that cannot be started return an error that says why (the script's
//! stderr, which holds the broker's log tail): tests `.expect()` them and fail
//! loudly; nothing here skips a test.
//!
//! Cleanup, in layers: `Drop` stops a [`Peer`] (stop script, then `kill -9`
//! by PID) and removes its data dir; [`shared`] peers, which are never
//! dropped, are stopped by an `atexit` hook; and every broker is started with
//! `PEER_WATCH_PID` = this process, so the scripts' watchdog stops it within
//! about a second if the test process dies without running either. The mock
//! cluster exits on EOF of its stdin, which the OS closes when we die. Data
//! dirs of test processes that died that way are removed by the next test
//! process that starts a peer.

#![warn(missing_docs)]

pub mod cluster;
mod error;
mod faulty_proxy;
pub mod group_interop;
pub mod group_round_trip;
mod interop;
mod mock;
mod peer;
mod proxied_kafka;
mod proxy;
pub mod release;
mod secure;

use std::collections::hash_map::RandomState;
use std::ffi::OsStr;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

pub use error::TestkitError;
pub use faulty_proxy::{Direction, DirectionStats, FaultyProxy, ProxyStats};
pub use interop::{
    confluent_read_back, confluent_read_back_with, java_murmur2_partitions, java_read_back,
    java_read_back_with, java_tools_dir, java_transactional_produce, librdkafka_murmur2_partitions,
    ConsumedRecord, JavaTransactions,
};
pub use mock::{CoordinatorKind, MockOptions, MOCK_TRANSPORT_ERROR};
pub use peer::{peer_starts, shared, try_shared, Peer};
pub use proxied_kafka::{shared_proxied, try_shared_proxied, ProxiedKafka, SHARED_PROXIES};
pub use proxy::TcpProxy;
pub use secure::{
    shared_secure, try_shared_secure, Listener, SecureKafka, ADMIN_PASSWORD, ADMIN_USER,
    ALICE_PASSWORD, ALICE_USER, CLIENT_KEY_PASSWORD, DEFAULT_REAUTH_MS, SASL_MECHANISMS,
};

/// The testkit's result type.
pub type Result<T, E = TestkitError> = std::result::Result<T, E>;

/// Which peer to run. See `shared/TEST-PEERS.md` for what each one supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerKind {
    /// Apache Kafka 4.4.0, KRaft, one combined broker+controller (5-10 s to start).
    Kafka,
    /// tansu 0.6.0 with in-memory storage (~0.1 s to start).
    Tansu,
    /// noida-db 0.2.3, Kafka service only (~0.1 s to start).
    Noida,
    /// librdkafka 2.16's mock cluster, 3 brokers by default, with fault
    /// injection through the mock control methods on [`Peer`].
    Mock,
}

impl PeerKind {
    /// All four kinds.
    pub const ALL: [PeerKind; 4] = [
        PeerKind::Kafka,
        PeerKind::Tansu,
        PeerKind::Noida,
        PeerKind::Mock,
    ];

    /// The name the scripts use: `install.sh <name>`, `<name>.sh start`.
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Kafka => "kafka",
            PeerKind::Tansu => "tansu",
            PeerKind::Noida => "noida",
            PeerKind::Mock => "mock",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for PeerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The repository root (`testkit/..`), where `scripts/` and `.cache/` live.
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.join(".."))
}

/// `scripts/peers/`.
pub fn peers_dir() -> PathBuf {
    repo_root().join("scripts").join("peers")
}

/// The interpreter of the project's venv (`.cache/venv/bin/python`), which
/// has confluent-kafka, kafka-python and the codecs installed. Call
/// [`ensure_python`] first (or use [`run_python`], which does).
pub fn python() -> PathBuf {
    repo_root().join(".cache/venv/bin/python")
}

/// Makes sure `.cache/venv` exists with the pinned packages
/// (`install.sh python`; checked once per process, ~0.1 s when installed).
pub fn ensure_python() -> Result<()> {
    install("python")
}

/// Makes sure `kcat` and `.cache/rdkafka-lib` are installed (`install.sh kcat`).
pub fn ensure_kcat() -> Result<()> {
    install("kcat")
}

/// A `kcat` command that runs on librdkafka 2.16 (Debian's kcat links 2.0.2,
/// which cannot parse tansu's ApiVersions): `LD_LIBRARY_PATH` points at
/// `.cache/rdkafka-lib`. Call [`ensure_kcat`] first.
pub fn kcat() -> Command {
    let lib = repo_root().join(".cache/rdkafka-lib");
    let mut cmd = Command::new("kcat");
    cmd.env("LD_LIBRARY_PATH", lib);
    cmd
}

/// Runs `python -c SCRIPT ARGS...` with the venv's interpreter (installing it
/// if needed) and returns its stdout. A non-zero exit is an error that
/// carries the script's stderr (tail), so a failing interop peer explains
/// itself. In the script, `sys.argv[1:]` are `args`.
pub fn run_python<I, S>(script: &str, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    ensure_python()?;
    let mut cmd = Command::new(python());
    cmd.arg("-c").arg(script).args(args).stdin(Stdio::null());
    let out = run("run_python", &mut cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A name for a topic or group that no other test (in this run or an earlier
/// run against the same long-lived broker) uses: `PREFIX-PID-COUNTER-RAND`,
/// where RAND is 4 base-36 characters from the clock and a per-process
/// random seed. Only `[a-z0-9-]` is added, so it stays a legal topic name.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u128(nanos);
    h.write_u64(n);
    let mut r = h.finish();
    let mut rand = String::with_capacity(4);
    for _ in 0..4 {
        let d = (r % 36) as u32;
        r /= 36;
        rand.push(char::from_digit(d, 36).unwrap_or('x'));
    }
    format!("{prefix}-{}-{n}-{rand}", std::process::id())
}

/// A free port, bound and held: for a proxy whose address a peer must
/// advertise before it starts. Picking a port and binding it only after
/// the peer's start script has run races the script's own picks (a broker
/// listener once took a port chosen for a proxy); a port held from the
/// start cannot be picked by anyone else.
pub fn reserve_port() -> Result<(std::net::TcpListener, u16)> {
    let mut last = None;
    for _ in 0..20 {
        let port = free_port()?;
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(listener) => return Ok((listener, port)),
            Err(source) => last = Some(source),
        }
    }
    Err(TestkitError::Io {
        what: "reserve_port: bind a free port".to_string(),
        source: last.unwrap_or_else(|| std::io::Error::other("no attempt")),
    })
}

/// A TCP port on 127.0.0.1 that is free right now (it could be bound, and
/// was released). Another process may still take it before you bind it;
/// the peer scripts pick their own ports the same way.
///
/// The port is picked at random below the OS's ephemeral range, not by
/// binding port 0: the OS hands those out from the same range that
/// outgoing connections take their local ports from, so any connection
/// made meanwhile (a broker of an earlier test reconnecting in a loop takes
/// hundreds a second) could take it. Below the range only another picker
/// choosing the same port can.
pub fn free_port() -> Result<u16> {
    let (first, end) = port_range_below_ephemeral();
    if end > first {
        let mut random = RandomState::new().build_hasher();
        for attempt in 0u32..200 {
            random.write_u32(attempt);
            let port = first + (random.finish() % u64::from(end - first)) as u16;
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
    }
    let what = || "free_port: bind 127.0.0.1:0".to_string();
    let l = TcpListener::bind("127.0.0.1:0").map_err(|source| TestkitError::Io {
        what: what(),
        source,
    })?;
    let addr = l.local_addr().map_err(|source| TestkitError::Io {
        what: what(),
        source,
    })?;
    Ok(addr.port())
}

/// Ports from 10000 up to the start of the ephemeral range (Linux's
/// `ip_local_port_range`, 32768 when it cannot be read), or an empty range
/// when the ephemeral range starts too low to leave room.
fn port_range_below_ephemeral() -> (u16, u16) {
    const FIRST: u16 = 10_000;
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    if ephemeral_start > FIRST + 1_000 {
        (FIRST, ephemeral_start)
    } else {
        (FIRST, FIRST)
    }
}

/// Runs `scripts/peers/install.sh COMPONENT` once per process (on success).
/// The script is idempotent and holds a lock, so parallel test binaries
/// may call it together; on a fresh machine it downloads the peers (Kafka's
/// jars: ~30 s).
pub(crate) fn install(component: &str) -> Result<()> {
    static DONE: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // Held while installing: concurrent tests of one binary wait for one run.
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if done.iter().any(|c| c == component) {
        return Ok(());
    }
    let mut cmd = Command::new(peers_dir().join("install.sh"));
    cmd.arg(component).stdin(Stdio::null());
    run(&format!("install {component}"), &mut cmd)?;
    done.push(component.to_string());
    Ok(())
}

/// Runs `cmd` to completion; a spawn failure or non-zero exit is an error
/// with the command line and its stderr tail.
pub(crate) fn run(what: &str, cmd: &mut Command) -> Result<Output> {
    let out = cmd.output().map_err(|source| TestkitError::Spawn {
        what: what.to_string(),
        command: command_line(cmd),
        source,
    })?;
    if !out.status.success() {
        return Err(TestkitError::CommandFailed {
            what: what.to_string(),
            command: command_line(cmd),
            status: out.status.to_string(),
            stderr: tail(&String::from_utf8_lossy(&out.stderr)),
        });
    }
    Ok(out)
}

/// `program arg arg...` for messages (long inline scripts are abbreviated).
pub(crate) fn command_line(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        s.push(' ');
        if a.len() > 200 {
            s.push_str(&a[..floor_char_boundary(&a, 200)]);
            s.push_str("...");
        } else {
            s.push_str(&a);
        }
    }
    s
}

/// The last 40 lines (at most ~8 KB) of `text`: enough to see a broker's
/// fatal error without drowning the test output.
pub(crate) fn tail(text: &str) -> String {
    const LINES: usize = 40;
    const BYTES: usize = 8192;
    let lines: Vec<&str> = text.lines().collect();
    let mut t = lines[lines.len().saturating_sub(LINES)..].join("\n");
    if t.len() > BYTES {
        let cut = t.len() - BYTES;
        let cut = (cut..t.len())
            .find(|&i| t.is_char_boundary(i))
            .unwrap_or(t.len());
        t = format!("...{}", &t[cut..]);
    }
    t
}

/// [`tail`] of a file, or a note that it could not be read.
pub(crate) fn file_tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => tail(&String::from_utf8_lossy(&bytes)),
        Err(e) => format!("(could not read {}: {e})", path.display()),
    }
}

/// The largest char boundary of `s` at or below `i` (`str::floor_char_boundary`
/// is newer than this crate's MSRV).
fn floor_char_boundary(s: &str, i: usize) -> usize {
    (0..=i.min(s.len()))
        .rev()
        .find(|&j| s.is_char_boundary(j))
        .unwrap_or(0)
}
