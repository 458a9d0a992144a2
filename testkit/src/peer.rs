//! [`Peer`]: one running broker (or mock cluster), and the per-binary
//! [`shared`] peers.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, TryLockError};
use std::time::{Duration, Instant};

use crate::mock::{MockOptions, MockProcess};
use crate::{
    command_line, install, peers_dir, run, tail, unique_name, PeerKind, Result, TestkitError,
};

/// A running peer on a data dir of its own. Dropping it stops the peer and
/// removes the data dir.
///
/// All methods take `&self` (state is behind a mutex) so that a [`shared`]
/// `&'static Peer` can be used from concurrent tests; in particular the mock
/// control methods are serialised, one command and its reply at a time.
pub struct Peer {
    pub(crate) kind: PeerKind,
    bootstrap: String,
    data_dir: PathBuf,
    pub(crate) log: PathBuf,
    pub(crate) state: Mutex<State>,
}

pub(crate) enum State {
    /// Started through `<kind>.sh`; `pid` is None after [`Peer::kill`].
    Script { pid: Option<u32> },
    /// The mock_cluster.py child and its stdin/stdout.
    Mock(MockProcess),
    /// Shut down (after Drop began, or by the at-exit hook).
    Stopped,
}

/// How many peers of each kind this process has started (see [`peer_starts`]).
static STARTS: [AtomicUsize; 4] = [
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
];

/// How many peers of `kind` this process has started so far (fresh starts,
/// not restarts). Lets a test check that [`shared`] really starts one.
pub fn peer_starts(kind: PeerKind) -> usize {
    STARTS[kind.index()].load(Ordering::SeqCst)
}

impl Peer {
    /// Installs the peer if needed (`install.sh <kind>`; a check of ~0.1 s
    /// when installed, once per process), then starts it on a fresh data dir
    /// under the temp dir. Real brokers are started with `PEER_WATCH_PID` =
    /// this process, so they die with it. `Mock` is a 3-broker mock cluster
    /// (see [`Peer::start_mock`] for options).
    ///
    /// Fails (never skips) with the reason: the script's stderr tail holds
    /// the broker's log tail. A failed start keeps its data dir for a look
    /// (the next test process removes it).
    pub fn start(kind: PeerKind) -> Result<Peer> {
        match kind {
            PeerKind::Mock => Peer::start_mock(MockOptions::default()),
            _ => Peer::start_script(kind),
        }
    }

    /// Starts a librdkafka mock cluster with `options` (broker count, group
    /// rebalance delay).
    pub fn start_mock(options: MockOptions) -> Result<Peer> {
        let t0 = Instant::now();
        install(PeerKind::Mock.name())?;
        let t_install = t0.elapsed();
        let data_dir = new_data_dir(PeerKind::Mock)?;
        let log = data_dir.join("mock.log");
        let (process, bootstrap) = MockProcess::spawn(&options, &data_dir, &log)?;
        STARTS[PeerKind::Mock.index()].fetch_add(1, Ordering::SeqCst);
        eprintln!(
            "kafkite-testkit: mock peer (brokers: {}) at {bootstrap} up in {:.2} s (install check {:.2} s)",
            options.brokers,
            t0.elapsed().as_secs_f64(),
            t_install.as_secs_f64()
        );
        Ok(Peer {
            kind: PeerKind::Mock,
            bootstrap,
            data_dir,
            log,
            state: Mutex::new(State::Mock(process)),
        })
    }

    fn start_script(kind: PeerKind) -> Result<Peer> {
        Peer::start_script_with_env(kind, &[]).map(|(peer, _)| peer)
    }

    /// [`Peer::start`] of a script-started peer with `env` set for its
    /// first start (e.g. `kafka.sh`'s `KAFKA_PROXIED_ADVERTISED`); also
    /// returns the start script's stdout, for the lines only that variant
    /// prints.
    pub(crate) fn start_script_with_env(
        kind: PeerKind,
        env: &[(&str, String)],
    ) -> Result<(Peer, String)> {
        let t0 = Instant::now();
        install(kind.name())?;
        let t_install = t0.elapsed();
        let data_dir = new_data_dir(kind)?;
        let info = start_with_script(kind, &data_dir, env)?;
        STARTS[kind.index()].fetch_add(1, Ordering::SeqCst);
        eprintln!(
            "kafkite-testkit: {kind} peer at {} (pid {}) up in {:.2} s (install check {:.2} s)",
            info.bootstrap,
            info.pid,
            t0.elapsed().as_secs_f64(),
            t_install.as_secs_f64()
        );
        let peer = Peer {
            kind,
            bootstrap: info.bootstrap,
            data_dir,
            log: info.log,
            state: Mutex::new(State::Script {
                pid: Some(info.pid),
            }),
        };
        Ok((peer, info.stdout))
    }

    /// Which peer this is.
    pub fn kind(&self) -> PeerKind {
        self.kind
    }

    /// The bootstrap servers, `host:port[,host:port...]` (one address for the
    /// real brokers, one per broker for the mock). Stable across
    /// [`Peer::restart`].
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// [`Peer::bootstrap`] split into its `host:port` addresses.
    pub fn bootstrap_addrs(&self) -> Vec<String> {
        self.bootstrap
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The peer's data dir (its cwd; holds its log, pid file and data).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The peer's log file (the mock's is its stderr), for failure messages.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The server process's PID, or None after [`Peer::kill`] or shutdown.
    pub fn pid(&self) -> Option<u32> {
        match &*self.lock() {
            State::Script { pid } => *pid,
            State::Mock(m) => m.pid(),
            State::Stopped => None,
        }
    }

    /// Crashes the peer: SIGKILL at once (`<kind>.sh kill`; the mock process
    /// for `Mock`). Its ports and data dir stay, so [`Peer::restart`] can
    /// bring a real broker back. A no-op on a peer that is already down.
    pub fn kill(&self) -> Result<()> {
        let mut st = self.lock();
        match &mut *st {
            State::Script { pid } => {
                let mut cmd = script_command(self.kind, "kill", &self.data_dir);
                run(&format!("kill {} peer", self.kind), &mut cmd)?;
                *pid = None;
                Ok(())
            }
            State::Mock(m) => {
                m.kill();
                Ok(())
            }
            State::Stopped => Ok(()),
        }
    }

    /// Brings the peer back on the same data dir and port(s): stops it first
    /// if it is running (controlled shutdown), then starts it again. Kafka
    /// and noida-db keep their data; tansu's memory storage starts empty.
    /// Kafka takes ~5 s. Not supported for the mock (its ports would change).
    pub fn restart(&self) -> Result<()> {
        let mut st = self.lock();
        let State::Script { pid } = &mut *st else {
            return Err(TestkitError::Unsupported {
                kind: self.kind,
                what: match self.kind {
                    PeerKind::Mock => "restart (the mock's ports change; start a new one)",
                    _ => "restart after shutdown",
                },
            });
        };
        if pid.take().is_some() {
            let mut cmd = script_command(self.kind, "stop", &self.data_dir);
            run(&format!("stop {} peer for restart", self.kind), &mut cmd)?;
        }
        let t0 = Instant::now();
        let info = start_with_script(self.kind, &self.data_dir, &[])?;
        *pid = Some(info.pid);
        eprintln!(
            "kafkite-testkit: {} peer restarted at {} (pid {}) in {:.2} s",
            self.kind,
            info.bootstrap,
            info.pid,
            t0.elapsed().as_secs_f64()
        );
        if info.bootstrap != self.bootstrap {
            return Err(TestkitError::BadStartOutput {
                kind: self.kind,
                command: command_line(&script_command(self.kind, "start", &self.data_dir)),
                missing: "BOOTSTRAP= equal to the first start's",
                stdout: format!("BOOTSTRAP={} (was {})", info.bootstrap, self.bootstrap),
                stderr: String::new(),
            });
        }
        Ok(())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves consistent state
        // behind (each operation replaces it whole), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the peer (stop script, then SIGKILL by PID if it is still
    /// there; `quit` for the mock) and removes its data dir. Idempotent.
    fn shutdown(&self, st: &mut State) {
        match std::mem::replace(st, State::Stopped) {
            State::Stopped => return,
            State::Mock(m) => m.quit(),
            State::Script { pid } => {
                // Also ends the script's watchdog. Output ignored: the
                // fallback below covers a stop script that fails.
                let _ = script_command(self.kind, "stop", &self.data_dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                if let Some(pid) = pid {
                    let what = format!("{} peer", self.kind);
                    kill_if_it_survived(&what, pid, &self.data_dir);
                }
            }
        }
        let _ = fs::remove_dir_all(&self.data_dir);
    }
}

/// Kills `pid` (a peer that should have stopped by its script) if it is
/// still the process its data dir names, and waits for it to go.
pub(crate) fn kill_if_it_survived(what: &str, pid: u32, data_dir: &Path) {
    if pid_is_ours(pid, data_dir) {
        eprintln!("kafkite-testkit: {what} pid {pid} survived its stop script; kill -9");
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
        wait_until(Duration::from_secs(5), || !pid_is_ours(pid, data_dir));
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        let mut taken = std::mem::replace(st, State::Stopped);
        self.shutdown(&mut taken);
    }
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("kind", &self.kind)
            .field("bootstrap", &self.bootstrap)
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

struct StartInfo {
    bootstrap: String,
    pid: u32,
    log: PathBuf,
    stdout: String,
}

/// `scripts/peers/<kind>.sh ACTION DIR` with `PEER_WATCH_PID` = this process.
fn script_command(kind: PeerKind, action: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(peers_dir().join(format!("{}.sh", kind.name())));
    cmd.arg(action)
        .arg(dir)
        .env("PEER_WATCH_PID", std::process::id().to_string())
        .stdin(Stdio::null());
    cmd
}

/// Runs `<kind>.sh start DIR` with `env` and parses its `KEY=VALUE` lines.
/// The script returns once the peer is ready (Kafka: `Kafka Server started`
/// logged).
fn start_with_script(kind: PeerKind, dir: &Path, env: &[(&str, String)]) -> Result<StartInfo> {
    let mut cmd = script_command(kind, "start", dir);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let what = format!("start {kind} peer (data dir {} kept)", dir.display());
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
    match (bootstrap, pid) {
        (Some(bootstrap), Some(pid)) => Ok(StartInfo {
            bootstrap: bootstrap.to_string(),
            pid,
            log: field("LOG=")
                .map(PathBuf::from)
                .unwrap_or_else(|| dir.join(format!("{}.log", kind.name()))),
            stdout: stdout.into_owned(),
        }),
        (b, _) => {
            // It may be running all the same: do not leak it.
            let _ = script_command(kind, "stop", dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            Err(TestkitError::BadStartOutput {
                kind,
                command: command_line(&cmd),
                missing: if b.is_none() {
                    "BOOTSTRAP= line"
                } else {
                    "PID= line"
                },
                stdout: stdout.into_owned(),
                stderr: tail(&String::from_utf8_lossy(&out.stderr)),
            })
        }
    }
}

/// A fresh, canonical data dir under the temp dir (the scripts compare a
/// process's cwd with the resolved path before they signal it).
fn new_data_dir(kind: PeerKind) -> Result<PathBuf> {
    new_named_data_dir(kind.name())
}

/// [`new_data_dir`] named after `name` (no `-` in it: the sweep reads the
/// owner PID as the second `-`-separated field).
pub(crate) fn new_named_data_dir(name: &str) -> Result<PathBuf> {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(sweep_stale_data_dirs);
    let dir = std::env::temp_dir().join(unique_name(&format!("{DATA_DIR_PREFIX}{name}")));
    let io = |source| TestkitError::Io {
        what: format!("create data dir {}", dir.display()),
        source,
    };
    fs::create_dir_all(&dir).map_err(io)?;
    fs::canonicalize(&dir).map_err(io)
}

/// Data dirs are `<tmp>/kafkite-testkit-KIND-PID-N-RAND` (see [`unique_name`]).
const DATA_DIR_PREFIX: &str = "kafkite-testkit-";

/// Removes the data dirs of test processes that are gone: a process killed
/// with SIGKILL cannot remove its own (the watchdog stops its brokers, but
/// not their dirs), and a failed start keeps its dir for a look until the
/// next run. Dirs of live processes, ours or others', are left alone.
fn sweep_stale_data_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DATA_DIR_PREFIX)) else {
            continue;
        };
        let owner = rest.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        let Some(owner) = owner else { continue };
        if owner == std::process::id() || pid_alive(owner) {
            continue;
        }
        // A broker still running there is being stopped by its watchdog,
        // which checks the process's cwd: removing the dir now would stop
        // that check from matching and leak the broker. Next run, then.
        let path = entry.path();
        let server = fs::read_to_string(path.join("pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok());
        let resolved = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if server.is_some_and(|pid| pid_is_ours(pid, &resolved)) {
            continue;
        }
        let _ = fs::remove_dir_all(&path);
    }
}

/// True if `pid` exists and is not a zombie.
fn pid_alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z") | Some("X"))
}

/// True if `pid` is alive (not a zombie) and its cwd is `dir`: the same test
/// the scripts use, so a recycled PID is never killed.
pub(crate) fn pid_is_ours(pid: u32, dir: &Path) -> bool {
    pid_alive(pid) && fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir)
}

/// Polls `done` every 20 ms until it holds or `limit` passes.
pub(crate) fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One lazily started peer per kind per test binary; `Err` is kept too, so
/// a peer that cannot start fails every test that asks, quickly.
static SHARED: [OnceLock<Result<Peer>>; 4] = [
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
];

/// The one peer of `kind` for this test binary, started on first use (other
/// tests asking meanwhile wait for it). For brokers that take seconds to
/// start (Kafka); tests sharing it must use their own topic/group names
/// ([`crate::unique_name`]).
///
/// Panics with the start error if the peer cannot be started (a failing
/// test, never a skipped one). It is stopped at process exit by an `atexit`
/// hook, and by the scripts' `PEER_WATCH_PID` watchdog if the process dies
/// without running it.
pub fn shared(kind: PeerKind) -> &'static Peer {
    match try_shared(kind) {
        Ok(peer) => peer,
        Err(e) => panic!("kafkite-testkit: shared {kind} peer could not be started: {e}"),
    }
}

/// [`shared`] without the panic.
pub fn try_shared(kind: PeerKind) -> std::result::Result<&'static Peer, &'static TestkitError> {
    SHARED[kind.index()]
        .get_or_init(|| {
            register_at_exit();
            Peer::start(kind)
        })
        .as_ref()
}

#[cfg(unix)]
fn register_at_exit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| at_exit(stop_shared_at_exit, "shared peers"));
}

#[cfg(not(unix))]
fn register_at_exit() {}

/// Has `callback` run at process exit (C's `atexit`); `what` names what it
/// stops, for the message if that cannot be arranged. `callback` must not
/// unwind: catch panics inside it.
#[cfg(unix)]
pub(crate) fn at_exit(callback: extern "C" fn(), what: &str) {
    extern "C" {
        fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
    }
    // SAFETY: C's atexit(3) with a plain `extern "C" fn()`, which the
    // caller promises never unwinds. libtest ends with `exit()`, passed or
    // failed, so the hook runs after the last test.
    if unsafe { atexit(callback) } != 0 {
        eprintln!("kafkite-testkit: atexit failed; {what} rely on PEER_WATCH_PID");
    }
}

/// Stops the started shared peers. A peer whose lock is held (a thread still
/// inside a call at exit) is left to the watchdog rather than waited for.
#[cfg(unix)]
extern "C" fn stop_shared_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        for cell in &SHARED {
            let Some(Ok(peer)) = cell.get() else { continue };
            peer.stop_at_exit(&format!("shared {} peer", peer.kind));
        }
    });
}

impl Peer {
    /// Stops the peer from an exit hook, unless its lock is held (a thread
    /// still inside a call at exit): then it is left to the watchdog
    /// rather than waited for.
    pub(crate) fn stop_at_exit(&self, what: &str) {
        let mut st = match self.state.try_lock() {
            Ok(st) => st,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        let t0 = Instant::now();
        self.shutdown(&mut st);
        eprintln!(
            "kafkite-testkit: {what} stopped at exit in {:.2} s",
            t0.elapsed().as_secs_f64()
        );
    }
}
