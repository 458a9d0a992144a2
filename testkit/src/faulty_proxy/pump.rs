//! The forwarding of one direction of one proxied connection, through the
//! faults set at the time of each write.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::faults::{Direction, Faults, Pacer, Step};
use super::frames::FrameTracker;

/// The most read from a socket at once.
const CHUNK: usize = 64 * 1024;

/// The longest a held-back pump sleeps before it looks again whether its
/// connection was cut or the proxy is stopping (each also wakes it).
const POLL: Duration = Duration::from_millis(50);

/// What the proxy's threads and its handle share.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) stopping: AtomicBool,
    pub(crate) connections: AtomicU64,
    faults: Mutex<Faults>,
    /// Notified whenever the faults change, a connection is cut, or the
    /// proxy stops: held-back pumps look again.
    changed: Condvar,
    /// Per [`Direction::index`]: bytes forwarded, writes made, frames
    /// completed.
    pub(crate) bytes: [AtomicU64; 2],
    pub(crate) writes: [AtomicU64; 2],
    pub(crate) frames: [AtomicU64; 2],
    pub(crate) cuts: AtomicU64,
    pub(crate) cuts_mid_frame: AtomicU64,
}

impl Shared {
    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the faults and wakes every held-back pump to see it.
    pub(crate) fn change(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.faults());
        self.changed.notify_all();
    }

    pub(crate) fn wake_all(&self) {
        self.changed.notify_all();
    }
}

/// One proxied connection's two sockets (clones, to shut them down from
/// any thread) and whether it was cut.
pub(crate) struct Link {
    sockets: [TcpStream; 2],
    closed: AtomicBool,
}

impl Link {
    pub(crate) fn new(client: TcpStream, server: TcpStream) -> Link {
        Link {
            sockets: [client, server],
            closed: AtomicBool::new(false),
        }
    }

    /// Closes both sides at once: the client and the broker each see
    /// their connection end, whatever was in flight.
    pub(crate) fn cut(&self) {
        self.closed.store(true, Ordering::SeqCst);
        for s in &self.sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// Forwards `from` to `to` until either ends or the link is cut, asking
/// the faults before each write. Ends by shutting down the write side of
/// `to` and the read side of `from`, so the other direction sees the end
/// too (a cut has shut down everything already).
pub(crate) fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    dir: Direction,
    link: &Link,
    shared: &Shared,
) {
    let mut buf = vec![0u8; CHUNK];
    let mut frames = FrameTracker::default();
    let mut pacer = Pacer::default();
    'reading: loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            let Some((len, cut)) = wait_for_step(dir, data.len(), &mut pacer, link, shared) else {
                break 'reading;
            };
            let (now, rest) = data.split_at(len);
            data = rest;
            if !now.is_empty() {
                // Counted first: a test that sees the bytes arrive then
                // finds them counted.
                let i = dir.index();
                shared.bytes[i].fetch_add(now.len() as u64, Ordering::SeqCst);
                shared.writes[i].fetch_add(1, Ordering::SeqCst);
                shared.frames[i].fetch_add(frames.advance(now), Ordering::SeqCst);
                // TcpStream's flush does nothing, but a write is a send(2):
                // with TCP_NODELAY each one leaves as its own segment.
                if to.write_all(now).and_then(|()| to.flush()).is_err() {
                    break 'reading;
                }
            }
            if cut {
                if frames.is_framed() && !frames.at_boundary() {
                    shared.cuts_mid_frame.fetch_add(1, Ordering::SeqCst);
                }
                shared.cuts.fetch_add(1, Ordering::SeqCst);
                link.cut();
                shared.wake_all();
                break 'reading;
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// The next slice to forward and whether to cut after it, waiting while
/// the faults hold the data back; `None` once the link is cut or the
/// proxy stops.
fn wait_for_step(
    dir: Direction,
    available: usize,
    pacer: &mut Pacer,
    link: &Link,
    shared: &Shared,
) -> Option<(usize, bool)> {
    let mut faults = shared.faults();
    loop {
        if link.is_closed() || shared.stopping.load(Ordering::SeqCst) {
            return None;
        }
        match faults.next_step(dir, available, pacer, Instant::now()) {
            Step::Forward { len, cut } => return Some((len, cut)),
            Step::Wait(wait) => {
                let wait = wait.map_or(POLL, |w| w.min(POLL));
                faults = match shared.changed.wait_timeout(faults, wait) {
                    Ok((guard, _)) => guard,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
        }
    }
}
