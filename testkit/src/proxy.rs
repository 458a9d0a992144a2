//! [`TcpProxy`]: a loopback TCP proxy in front of one broker address, so a
//! test can see how many connections a client opened and which Kafka
//! requests it sent (e.g. that a client re-authenticated, or did not
//! reconnect), and can cut every connection at once.
//!
//! Plain threads: one accepting, two per connection (one per direction).
//! Kafka redirects clients to the addresses in its metadata, so only what a
//! client sends to the proxied address itself (its bootstrap connection)
//! goes through the proxy.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{Result, TestkitError};

/// How long the proxy waits to connect to its target for a client.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Kafka's SaslHandshake API key; version 0 is followed by raw SASL tokens.
const SASL_HANDSHAKE: i16 = 17;

/// The most of a SaslHandshake v0 request that is kept to read its mechanism.
const HANDSHAKE_CAPTURE: usize = 1024;

/// A running proxy; dropping it closes its listener and every proxied
/// connection (both sides) and joins its threads.
pub struct TcpProxy {
    addr: String,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// State the proxy threads share with the handle.
#[derive(Default)]
struct Shared {
    stopping: AtomicBool,
    connections: AtomicUsize,
    counts: Mutex<Counts>,
    /// The connections whose pumps may still run.
    conns: Mutex<Vec<Conn>>,
}

/// One proxied connection: clones of its two sockets (to shut them down
/// from outside) and its two pump threads.
struct Conn {
    sockets: [TcpStream; 2],
    pumps: [JoinHandle<()>; 2],
}

impl Conn {
    fn shutdown(&self) {
        for s in &self.sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn finished(&self) -> bool {
        self.pumps.iter().all(JoinHandle::is_finished)
    }
}

#[derive(Default)]
struct Counts {
    requests: BTreeMap<i16, usize>,
    raw_sasl_frames: usize,
}

/// A proxy's two ends: `target` (`host:port`) resolved, and a listener on
/// `127.0.0.1:port` (0: a port the OS picks; fine here, the socket is held
/// from bind to drop). `proxy` names the proxy in errors.
pub(crate) fn bind_for_target(
    proxy: &'static str,
    port: u16,
    target: &str,
) -> Result<(TcpListener, SocketAddr)> {
    let io = |what: String| move |source| TestkitError::Io { what, source };
    let resolved: SocketAddr = target
        .to_socket_addrs()
        .map_err(io(format!("{proxy}: resolve {target}")))?
        .next()
        .ok_or_else(|| TestkitError::BadArgument {
            arg: target.to_string(),
            why: "the proxy's target resolves to no address",
        })?;
    let listener =
        TcpListener::bind(("127.0.0.1", port)).map_err(io(format!("{proxy}: bind port {port}")))?;
    Ok((listener, resolved))
}

impl TcpProxy {
    /// Listens on `127.0.0.1:<port the OS picks>` and forwards each
    /// accepted connection to `target` (`host:port`), a new connection to
    /// it per client connection. A client whose target connection fails is
    /// closed at once (it still counts in [`TcpProxy::connections`]).
    pub fn start(target: &str) -> Result<TcpProxy> {
        TcpProxy::start_on(0, target)
    }

    /// [`TcpProxy::start`] on `127.0.0.1:port` (0: a port the OS picks):
    /// for a proxy whose address a broker must advertise before it starts
    /// (see [`crate::free_port`]).
    pub fn start_on(port: u16, target: &str) -> Result<TcpProxy> {
        let (listener, target) = bind_for_target("TcpProxy", port, target)?;
        TcpProxy::start_on_listener(listener, target)
    }

    /// [`TcpProxy::start_on`] on a listener already bound (see
    /// [`crate::reserve_port`]).
    pub fn start_on_listener(listener: TcpListener, target: SocketAddr) -> Result<TcpProxy> {
        let io = |what: String| move |source| TestkitError::Io { what, source };
        let local = listener
            .local_addr()
            .map_err(io("TcpProxy: local address".into()))?;
        let shared = Arc::new(Shared::default());
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("tcp-proxy-{}", local.port()))
                .spawn(move || accept_loop(&listener, target, &shared))
                .map_err(io("TcpProxy: spawn the accept thread".into()))?
        };
        Ok(TcpProxy {
            addr: local.to_string(),
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// `127.0.0.1:PORT`: give this to the client as its bootstrap.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Client connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Kafka request frames with `api_key` that clients have sent so far
    /// (complete headers seen; the frame's body may still be in flight).
    ///
    /// Counted on plaintext streams only: a connection whose first byte is
    /// a TLS handshake record (0x16) is forwarded but not parsed. After a
    /// SaslHandshake v0 request (the pre-1.0 framing, no SaslAuthenticate),
    /// the raw SASL token frames that follow are not requests: the proxy
    /// reads the mechanism from the handshake and skips one frame for
    /// PLAIN and OAUTHBEARER, two for SCRAM-SHA-* (a failed exchange ends
    /// the connection anyway); after a v0 handshake for any other mechanism
    /// it stops counting on that connection. Those skipped frames are
    /// [`TcpProxy::raw_sasl_frames`].
    pub fn requests(&self, api_key: i16) -> usize {
        self.shared
            .counts()
            .requests
            .get(&api_key)
            .copied()
            .unwrap_or(0)
    }

    /// Every api key seen so far with its count (see [`TcpProxy::requests`]).
    pub fn request_counts(&self) -> BTreeMap<i16, usize> {
        self.shared.counts().requests.clone()
    }

    /// Raw SASL token frames skipped after SaslHandshake v0 requests.
    pub fn raw_sasl_frames(&self) -> usize {
        self.shared.counts().raw_sasl_frames
    }

    /// Cuts every connection proxied so far (both sides shut down); the
    /// proxy keeps accepting new ones. For "the broker went away" tests.
    pub fn disconnect_all(&self) {
        for conn in self.shared.conns().iter() {
            conn.shutdown();
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
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
        let conns = std::mem::take(&mut *self.shared.conns());
        for conn in &conns {
            conn.shutdown();
        }
        for conn in conns {
            for pump in conn.pumps {
                let _ = pump.join();
            }
        }
    }
}

impl std::fmt::Debug for TcpProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpProxy")
            .field("addr", &self.addr)
            .field("connections", &self.connections())
            .finish()
    }
}

impl Shared {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn conns(&self) -> MutexGuard<'_, Vec<Conn>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn accept_loop(listener: &TcpListener, target: SocketAddr, shared: &Arc<Shared>) {
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
        if let Err(e) = proxy_connection(client, target, shared) {
            eprintln!("kafkite-testkit: TcpProxy to {target}: {e}");
        }
    }
}

/// Connects to `target` for `client` and starts the two pumps. On error the
/// client socket is dropped (closed).
fn proxy_connection(client: TcpStream, target: SocketAddr, shared: &Arc<Shared>) -> io::Result<()> {
    let server = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT)?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, server_read) = (client.try_clone()?, server.try_clone()?);
    let sockets = [client.try_clone()?, server.try_clone()?];
    let up = {
        let shared = Arc::clone(shared);
        std::thread::Builder::new()
            .name("tcp-proxy-up".into())
            .spawn(move || {
                let mut frames = FrameCounter::default();
                pump(client_read, server, |bytes| {
                    frames.feed(bytes, &mut shared.counts());
                });
            })?
    };
    let down = std::thread::Builder::new()
        .name("tcp-proxy-down".into())
        .spawn(move || pump(server_read, client, |_| {}))?;
    let mut conns = shared.conns();
    // Closed connections need not keep their sockets until the drop.
    conns.retain(|c| !c.finished());
    conns.push(Conn {
        sockets,
        pumps: [up, down],
    });
    Ok(())
}

/// Copies `from` to `to` until either side ends, showing each chunk to
/// `seen` first; then shuts down the write side of `to` and the read side
/// of `from`, so the other pump sees the end too.
fn pump(mut from: TcpStream, mut to: TcpStream, mut seen: impl FnMut(&[u8])) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        seen(&buf[..n]);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// Splits a client's byte stream into Kafka request frames (4-byte size,
/// then i16 api key, i16 version, ...) and counts them by api key, however
/// the frames are cut into reads.
#[derive(Debug, Default)]
struct FrameCounter {
    state: FrameState,
}

#[derive(Debug)]
enum FrameState {
    /// Collecting size + api key + version (8 bytes).
    Header { buf: [u8; 8], have: usize },
    /// Skipping the rest of a frame.
    Skip { left: u64 },
    /// Keeping (part of) a SaslHandshake v0 body to read its mechanism.
    Handshake { body: Vec<u8>, left: u64 },
    /// `raw_left` raw SASL token frames follow; collecting a size.
    RawSize {
        buf: [u8; 4],
        have: usize,
        raw_left: u8,
    },
    /// Skipping a raw SASL token; `raw_left` more follow it.
    RawSkip { left: u64, raw_left: u8 },
    /// TLS, garbage, or an unknown v0 SASL exchange: not parsed any more.
    Opaque,
}

impl Default for FrameState {
    fn default() -> Self {
        FrameState::Header {
            buf: [0; 8],
            have: 0,
        }
    }
}

impl FrameCounter {
    fn feed(&mut self, mut bytes: &[u8], counts: &mut Counts) {
        while !bytes.is_empty() {
            let state = std::mem::replace(&mut self.state, FrameState::Opaque);
            self.state = match state {
                FrameState::Opaque => return,
                FrameState::Header { mut buf, mut have } => {
                    if have == 0 && bytes[0] == 0x16 {
                        // A TLS handshake record; no Kafka frame is that big.
                        return;
                    }
                    let n = (8 - have).min(bytes.len());
                    buf[have..have + n].copy_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    have += n;
                    if have < 8 {
                        FrameState::Header { buf, have }
                    } else {
                        header_done(buf, counts)
                    }
                }
                FrameState::Skip { left } => {
                    let n = take(&mut bytes, left).len() as u64;
                    if n == left {
                        FrameState::default()
                    } else {
                        FrameState::Skip { left: left - n }
                    }
                }
                FrameState::Handshake { mut body, left } => {
                    let taken = take(&mut bytes, left);
                    let n = taken.len() as u64;
                    let room = HANDSHAKE_CAPTURE.saturating_sub(body.len());
                    body.extend_from_slice(&taken[..taken.len().min(room)]);
                    if n < left {
                        FrameState::Handshake {
                            body,
                            left: left - n,
                        }
                    } else {
                        match raw_frames_after(&body) {
                            Some(0) => FrameState::default(),
                            Some(raw_left) => FrameState::RawSize {
                                buf: [0; 4],
                                have: 0,
                                raw_left,
                            },
                            None => FrameState::Opaque,
                        }
                    }
                }
                FrameState::RawSize {
                    mut buf,
                    mut have,
                    raw_left,
                } => {
                    let n = (4 - have).min(bytes.len());
                    buf[have..have + n].copy_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    have += n;
                    if have < 4 {
                        FrameState::RawSize {
                            buf,
                            have,
                            raw_left,
                        }
                    } else {
                        counts.raw_sasl_frames += 1;
                        match u64::try_from(i32::from_be_bytes(buf)) {
                            Ok(0) if raw_left > 1 => FrameState::RawSize {
                                buf: [0; 4],
                                have: 0,
                                raw_left: raw_left - 1,
                            },
                            Ok(0) => FrameState::default(),
                            Ok(left) => FrameState::RawSkip {
                                left,
                                raw_left: raw_left - 1,
                            },
                            Err(_) => FrameState::Opaque,
                        }
                    }
                }
                FrameState::RawSkip { left, raw_left } => {
                    let n = take(&mut bytes, left).len() as u64;
                    if n < left {
                        FrameState::RawSkip {
                            left: left - n,
                            raw_left,
                        }
                    } else if raw_left > 0 {
                        FrameState::RawSize {
                            buf: [0; 4],
                            have: 0,
                            raw_left,
                        }
                    } else {
                        FrameState::default()
                    }
                }
            };
        }
    }
}

/// Counts a frame whose size, api key and version are in `buf`, and says
/// what follows it.
fn header_done(buf: [u8; 8], counts: &mut Counts) -> FrameState {
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let api_key = i16::from_be_bytes([buf[4], buf[5]]);
    let version = i16::from_be_bytes([buf[6], buf[7]]);
    // Api key and version are 4 of the frame's `size` bytes.
    let Some(left) = u64::try_from(size).ok().and_then(|s| s.checked_sub(4)) else {
        return FrameState::Opaque;
    };
    if api_key < 0 {
        return FrameState::Opaque;
    }
    *counts.requests.entry(api_key).or_insert(0) += 1;
    match (api_key, version, left) {
        (SASL_HANDSHAKE, 0, 0) => FrameState::Opaque,
        (SASL_HANDSHAKE, 0, _) => FrameState::Handshake {
            body: Vec::new(),
            left,
        },
        (_, _, 0) => FrameState::default(),
        _ => FrameState::Skip { left },
    }
}

/// Takes up to `left` bytes off the front of `bytes` and returns them.
fn take<'a>(bytes: &mut &'a [u8], left: u64) -> &'a [u8] {
    let n = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
    let (taken, rest) = bytes.split_at(n);
    *bytes = rest;
    taken
}

/// How many raw SASL token frames a client sends after a SaslHandshake v0
/// request with this body (correlation id, client id, mechanism), or `None`
/// if the mechanism is unknown or the body unreadable.
fn raw_frames_after(body: &[u8]) -> Option<u8> {
    // Request header v1 after api key and version: correlation id (4),
    // client id (i16 length, -1 = null). Then the mechanism (i16 length).
    let rest = body.get(4..)?;
    let client_id_len = i16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
    let rest = rest.get(2 + usize::try_from(client_id_len.max(0)).ok()?..)?;
    let mech_len = usize::try_from(i16::from_be_bytes([*rest.first()?, *rest.get(1)?])).ok()?;
    let mechanism = rest.get(2..2 + mech_len)?;
    match mechanism {
        b"PLAIN" | b"OAUTHBEARER" => Some(1),
        b"SCRAM-SHA-256" | b"SCRAM-SHA-512" => Some(2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request frame: size, api key, version, correlation id, client id
    /// "c", then `body`.
    fn frame(api_key: i16, version: i16, body: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&api_key.to_be_bytes());
        f.extend_from_slice(&version.to_be_bytes());
        f.extend_from_slice(&7i32.to_be_bytes());
        f.extend_from_slice(&1i16.to_be_bytes());
        f.push(b'c');
        f.extend_from_slice(body);
        let mut out = (f.len() as i32).to_be_bytes().to_vec();
        out.extend(f);
        out
    }

    fn handshake_v0(mechanism: &str) -> Vec<u8> {
        let mut body = (mechanism.len() as i16).to_be_bytes().to_vec();
        body.extend_from_slice(mechanism.as_bytes());
        frame(SASL_HANDSHAKE, 0, &body)
    }

    fn raw(token: &[u8]) -> Vec<u8> {
        let mut out = (token.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(token);
        out
    }

    /// Feeds `stream` in pieces of `chunk` bytes; returns the counts.
    fn count(stream: &[u8], chunk: usize) -> Counts {
        let mut counter = FrameCounter::default();
        let mut counts = Counts::default();
        for piece in stream.chunks(chunk) {
            counter.feed(piece, &mut counts);
        }
        counts
    }

    /// A one-connection-at-a-time echo server on a thread; returns its address.
    fn echo_server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let Ok(mut back) = conn.try_clone() else {
                    return;
                };
                std::thread::spawn(move || {
                    let _ = io::copy(&mut conn, &mut back);
                });
            }
        });
        addr
    }

    #[test]
    fn a_proxied_connection_is_forwarded_counted_and_cut() {
        let proxy = TcpProxy::start(&echo_server()).unwrap();
        let mut client = TcpStream::connect(proxy.addr()).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let request = frame(18, 3, &[0; 3]);
        for piece in request.chunks(5) {
            client.write_all(piece).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut echoed = vec![0; request.len()];
        client.read_exact(&mut echoed).unwrap();
        assert_eq!(echoed, request);
        assert_eq!(proxy.connections(), 1);
        assert_eq!(proxy.requests(18), 1);
        assert_eq!(proxy.request_counts(), BTreeMap::from([(18, 1)]));

        proxy.disconnect_all();
        let mut rest = Vec::new();
        // Cut: EOF (or a reset), not a hang.
        let _ = client.read_to_end(&mut rest);
        assert!(rest.is_empty());

        let second = TcpStream::connect(proxy.addr()).unwrap();
        let addr = proxy.addr().to_string();
        drop(proxy);
        let mut second = second;
        second
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert!(matches!(second.read(&mut [0; 1]), Ok(0) | Err(_)));
        assert!(TcpStream::connect(&addr).is_err(), "still listening");
    }

    #[test]
    fn an_unreachable_target_closes_the_client() {
        // A port that was free a moment ago: nothing listens there.
        let free = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = free.local_addr().unwrap().to_string();
        drop(free);
        let proxy = TcpProxy::start(&target).unwrap();
        let mut client = TcpStream::connect(proxy.addr()).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert!(matches!(client.read(&mut [0; 1]), Ok(0) | Err(_)));
        assert_eq!(proxy.connections(), 1);
    }

    #[test]
    fn frames_are_counted_however_they_are_cut() {
        let mut stream = frame(18, 3, &[0; 5]);
        stream.extend(frame(3, 12, &[1; 300]));
        stream.extend(frame(3, 12, &[]));
        for chunk in [1, 2, 7, 8, 9, 64, 10_000] {
            let counts = count(&stream, chunk);
            assert_eq!(
                counts.requests,
                BTreeMap::from([(3, 2), (18, 1)]),
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_tls_stream_is_not_parsed() {
        let mut stream = vec![0x16, 0x03, 0x01, 0x02, 0x00];
        stream.extend(frame(18, 3, &[]));
        assert!(count(&stream, 3).requests.is_empty());
    }

    #[test]
    fn raw_sasl_tokens_after_a_v0_handshake_are_skipped() {
        let mut plain = frame(18, 0, &[]);
        plain.extend(handshake_v0("PLAIN"));
        plain.extend(raw(b"\0alice\0alice-secret"));
        plain.extend(frame(3, 1, &[0xff; 4]));
        for chunk in [1, 3, 1000] {
            let counts = count(&plain, chunk);
            assert_eq!(counts.requests, BTreeMap::from([(3, 1), (17, 1), (18, 1)]));
            assert_eq!(counts.raw_sasl_frames, 1);
        }
        let mut scram = handshake_v0("SCRAM-SHA-256");
        scram.extend(raw(b"n,,n=alice,r=abc"));
        scram.extend(raw(b""));
        scram.extend(frame(0, 3, &[0; 10]));
        let counts = count(&scram, 5);
        assert_eq!(counts.requests, BTreeMap::from([(0, 1), (17, 1)]));
        assert_eq!(counts.raw_sasl_frames, 2);
    }

    #[test]
    fn unknown_v0_mechanisms_and_bad_sizes_stop_the_count() {
        let mut gssapi = handshake_v0("GSSAPI");
        gssapi.extend(raw(b"token"));
        gssapi.extend(frame(3, 1, &[]));
        assert_eq!(count(&gssapi, 4).requests, BTreeMap::from([(17, 1)]));
        let mut bad = (-5i32).to_be_bytes().to_vec();
        bad.extend_from_slice(&[0, 3, 0, 1]);
        bad.extend(frame(3, 1, &[]));
        assert!(count(&bad, 100).requests.is_empty());
    }

    #[test]
    fn the_handshake_v1_is_an_ordinary_request() {
        let mut stream = frame(SASL_HANDSHAKE, 1, &[0, 5, b'P', b'L', b'A', b'I', b'N']);
        stream.extend(frame(36, 2, &[0; 20]));
        stream.extend(frame(3, 12, &[]));
        let counts = count(&stream, 6);
        assert_eq!(counts.requests, BTreeMap::from([(3, 1), (17, 1), (36, 1)]));
        assert_eq!(counts.raw_sasl_frames, 0);
    }
}
