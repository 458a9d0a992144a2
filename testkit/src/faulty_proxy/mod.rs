//! [`FaultyProxy`]: a loopback TCP proxy between a client and a broker
//! whose network faults the test sets while it runs, per direction (as
//! librdkafka's sockem does inside its client): cut a connection after N
//! more bytes (mid-frame, as a peer or link dying does), deliver a byte at
//! a time, hold data back (for a while, or until resumed), limit the
//! bandwidth. It counts connections, bytes, writes and frames each way,
//! and the cuts it made.
//!
//! A client only stays behind the proxy if the broker sends it back
//! there: Kafka hands out the addresses in its metadata. Put it in front
//! of a listener advertised at the proxy's address, as
//! [`crate::ProxiedKafka`] does, so that every connection (bootstrap,
//! partition leaders, group coordinator) passes it.
//!
//! Plain threads, as [`crate::TcpProxy`]: one accepting, two per
//! connection (one per direction).

mod faults;
mod frames;
mod pump;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use faults::Direction;
use faults::Stall;
use pump::{pump, Link, Shared};

use crate::{Result, TestkitError};

/// How long the proxy waits to connect to its target for a client.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running proxy, and the handle through which a test sets its faults.
/// Every fault is off at the start. Dropping it closes its listener and
/// every proxied connection and joins its threads.
pub struct FaultyProxy {
    addr: String,
    shared: Arc<Shared>,
    conns: Arc<Mutex<Vec<Conn>>>,
    acceptor: Option<JoinHandle<()>>,
}

/// One proxied connection and its two forwarding threads.
struct Conn {
    link: Arc<Link>,
    pumps: [JoinHandle<()>; 2],
}

impl Conn {
    fn finished(&self) -> bool {
        self.pumps.iter().all(JoinHandle::is_finished)
    }
}

/// One direction's counts (see [`ProxyStats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Bytes forwarded.
    pub bytes: u64,
    /// Writes they took (one per byte while
    /// [`FaultyProxy::byte_at_a_time`] is on).
    pub writes: u64,
    /// Kafka frames (4-byte size, then that many bytes) forwarded whole.
    pub frames: u64,
}

/// What the proxy has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Client connections accepted.
    pub connections: u64,
    /// Of those, the ones whose forwarding still runs.
    pub open_connections: u64,
    /// Client to broker.
    pub to_broker: DirectionStats,
    /// Broker to client.
    pub to_client: DirectionStats,
    /// Connections cut by [`FaultyProxy::cut_after`].
    pub cuts: u64,
    /// Of those, the ones cut with part of a frame forwarded: the receiver
    /// got a frame's size prefix or part of its body, never the rest.
    pub cuts_mid_frame: u64,
}

impl ProxyStats {
    /// The counts of `dir`.
    pub fn direction(&self, dir: Direction) -> DirectionStats {
        match dir {
            Direction::ToBroker => self.to_broker,
            Direction::ToClient => self.to_client,
        }
    }
}

impl FaultyProxy {
    /// Listens on `127.0.0.1:<port the OS picks>` and forwards each
    /// accepted connection to `target` (`host:port`). A client whose
    /// target connection fails is closed at once (it still counts).
    pub fn start(target: &str) -> Result<FaultyProxy> {
        FaultyProxy::start_on(0, target)
    }

    /// [`FaultyProxy::start`] on `127.0.0.1:port` (0: a port the OS
    /// picks): for a proxy whose address a broker must advertise before it
    /// starts (see [`crate::free_port`]).
    pub fn start_on(port: u16, target: &str) -> Result<FaultyProxy> {
        let (listener, target) = crate::proxy::bind_for_target("FaultyProxy", port, target)?;
        FaultyProxy::start_on_listener(listener, target)
    }

    /// [`FaultyProxy::start_on`] on a listener already bound (see
    /// [`crate::reserve_port`]).
    pub fn start_on_listener(listener: TcpListener, target: SocketAddr) -> Result<FaultyProxy> {
        let io = |what: String| move |source| TestkitError::Io { what, source };
        let local = listener
            .local_addr()
            .map_err(io("FaultyProxy: local address".into()))?;
        let shared = Arc::new(Shared::default());
        let conns = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (shared, conns) = (Arc::clone(&shared), Arc::clone(&conns));
            std::thread::Builder::new()
                .name(format!("faulty-proxy-{}", local.port()))
                .spawn(move || accept_loop(&listener, target, &shared, &conns))
                .map_err(io("FaultyProxy: spawn the accept thread".into()))?
        };
        Ok(FaultyProxy {
            addr: local.to_string(),
            shared,
            conns,
            acceptor: Some(acceptor),
        })
    }

    /// `127.0.0.1:PORT`, where clients connect.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Arms a cut: after `bytes` more bytes are forwarded `dir`-wards
    /// (counted over every connection), the connection that carried the
    /// last of them is closed on both sides. Byte counts that fall inside
    /// a frame (nearly all of them) cut mid-frame; [`ProxyStats`] says how
    /// many did. One cut per call; a new call replaces an armed one.
    pub fn cut_after(&self, dir: Direction, bytes: u64) {
        self.shared
            .change(|f| f.get_mut(dir).cut_after = Some(bytes));
    }

    /// True while a cut armed `dir`-wards has not happened yet.
    pub fn cut_pending(&self, dir: Direction) -> bool {
        self.shared.faults().get(dir).cut_after.is_some()
    }

    /// Forwards `dir`-wards one byte per write (each its own TCP segment,
    /// the proxy's sockets having TCP_NODELAY), or as read again.
    pub fn byte_at_a_time(&self, dir: Direction, on: bool) {
        self.shared.change(|f| f.get_mut(dir).byte_at_a_time = on);
    }

    /// Holds back every byte bound `dir`-wards for `duration` from now
    /// (reads continue until the proxy's buffer and then TCP's fill, so
    /// the sender sees back pressure); then forwards them in order.
    pub fn stall(&self, dir: Direction, duration: Duration) {
        let until = Instant::now() + duration;
        self.shared
            .change(|f| f.get_mut(dir).stall = Some(Stall::Until(until)));
    }

    /// Holds back every byte bound `dir`-wards until [`FaultyProxy::resume`].
    pub fn stall_until_resumed(&self, dir: Direction) {
        self.shared
            .change(|f| f.get_mut(dir).stall = Some(Stall::UntilResumed));
    }

    /// Ends a stall `dir`-wards: what was held back goes on.
    pub fn resume(&self, dir: Direction) {
        self.shared.change(|f| f.get_mut(dir).stall = None);
    }

    /// Limits each connection's forwarding `dir`-wards to `bytes_per_sec`
    /// (at least 1), paced in slices of 1/50 s worth.
    pub fn bandwidth(&self, dir: Direction, bytes_per_sec: u64) {
        self.shared.change(|f| {
            let faults = f.get_mut(dir);
            faults.bandwidth = Some(bytes_per_sec.max(1));
            faults.bandwidth_generation += 1;
        });
    }

    /// Lifts the bandwidth limit `dir`-wards.
    pub fn unlimited_bandwidth(&self, dir: Direction) {
        self.shared.change(|f| f.get_mut(dir).bandwidth = None);
    }

    /// Lifts every fault in both directions (an armed cut included).
    pub fn clear_faults(&self) {
        self.shared.change(|f| {
            for dir in Direction::BOTH {
                let faults = f.get_mut(dir);
                let generation = faults.bandwidth_generation + 1;
                *faults = Default::default();
                faults.bandwidth_generation = generation;
            }
        });
    }

    /// Cuts every connection proxied so far; the proxy keeps accepting.
    pub fn disconnect_all(&self) {
        for conn in self.conns().iter() {
            conn.link.cut();
        }
        self.shared.wake_all();
    }

    /// The counts so far.
    pub fn stats(&self) -> ProxyStats {
        let s = &self.shared;
        let direction = |dir: Direction| {
            let i = dir.index();
            DirectionStats {
                bytes: s.bytes[i].load(Ordering::SeqCst),
                writes: s.writes[i].load(Ordering::SeqCst),
                frames: s.frames[i].load(Ordering::SeqCst),
            }
        };
        ProxyStats {
            connections: s.connections.load(Ordering::SeqCst),
            open_connections: self.conns().iter().filter(|c| !c.finished()).count() as u64,
            to_broker: direction(Direction::ToBroker),
            to_client: direction(Direction::ToClient),
            cuts: s.cuts.load(Ordering::SeqCst),
            cuts_mid_frame: s.cuts_mid_frame.load(Ordering::SeqCst),
        }
    }

    fn conns(&self) -> MutexGuard<'_, Vec<Conn>> {
        lock_conns(&self.conns)
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake_all();
        // Wakes the blocking accept(); it sees `stopping` and returns. If
        // that connection cannot be made, the thread is left behind rather
        // than waited for forever (it ends with the process).
        let woken = self
            .addr
            .parse::<SocketAddr>()
            .is_ok_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok());
        if let Some(acceptor) = self.acceptor.take() {
            if woken {
                let _ = acceptor.join();
            }
        }
        let conns = std::mem::take(&mut *self.conns());
        for conn in &conns {
            conn.link.cut();
        }
        self.shared.wake_all();
        for conn in conns {
            for pump in conn.pumps {
                let _ = pump.join();
            }
        }
    }
}

impl std::fmt::Debug for FaultyProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyProxy")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish()
    }
}

fn lock_conns(conns: &Mutex<Vec<Conn>>) -> MutexGuard<'_, Vec<Conn>> {
    conns.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(
    listener: &TcpListener,
    target: SocketAddr,
    shared: &Arc<Shared>,
    conns: &Mutex<Vec<Conn>>,
) {
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else {
            // EMFILE and the like: back off rather than spin.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        match proxy_connection(client, target, shared) {
            Ok(conn) => {
                let mut conns = lock_conns(conns);
                // Closed connections need not keep their sockets until the drop.
                conns.retain(|c| !c.finished());
                conns.push(conn);
            }
            Err(e) => eprintln!("kafkite-testkit: FaultyProxy to {target}: {e}"),
        }
    }
}

/// Connects to `target` for `client` and starts the two pumps. On error the
/// client socket is dropped (closed).
fn proxy_connection(
    client: TcpStream,
    target: SocketAddr,
    shared: &Arc<Shared>,
) -> std::io::Result<Conn> {
    let server = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT)?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let link = Arc::new(Link::new(client.try_clone()?, server.try_clone()?));
    let (client_read, server_read) = (client.try_clone()?, server.try_clone()?);
    let spawn = |name: &str, from: TcpStream, to: TcpStream, dir: Direction| {
        let (link, shared) = (Arc::clone(&link), Arc::clone(shared));
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || pump(from, to, dir, &link, &shared))
    };
    let up = spawn("faulty-proxy-up", client_read, server, Direction::ToBroker)?;
    let down = match spawn(
        "faulty-proxy-down",
        server_read,
        client,
        Direction::ToClient,
    ) {
        Ok(down) => down,
        Err(e) => {
            link.cut();
            let _ = up.join();
            return Err(e);
        }
    };
    Ok(Conn {
        link,
        pumps: [up, down],
    })
}

#[cfg(test)]
mod tests;
