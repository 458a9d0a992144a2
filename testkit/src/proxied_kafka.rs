//! [`ProxiedKafka`]: Apache Kafka 4.4 (one KRaft process) with listeners
//! advertised at [`FaultyProxy`]s, so that a client bootstrapped at a proxy
//! makes every connection (bootstrap, partition leader, group
//! coordinator) through it; and [`shared_proxied`], one per test binary.
//!
//! One PLAINTEXT listener per proxy (`kafka.sh`'s
//! `KAFKA_PROXIED_ADVERTISED`): each proxy's faults reach its own clients
//! only, so tests sharing the broker stay apart by taking a proxy each
//! ([`ProxiedKafka::take_proxy`]). The plain PLAINTEXT listener stays
//! direct ([`ProxiedKafka::direct_bootstrap`]), for setting up topics and
//! reading back what reached the log without any fault in the way.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use crate::peer::Peer;
use std::net::ToSocketAddrs;

use crate::{FaultyProxy, PeerKind, Result, TestkitError};

/// How many proxies [`shared_proxied`] has: one per test of a binary that
/// injects faults, with room to spare.
pub const SHARED_PROXIES: usize = 6;

/// A running Kafka 4.4 broker behind its proxies. Dropping it closes the
/// proxies, stops the broker and removes its data dir.
pub struct ProxiedKafka {
    /// Declared before `peer`: dropped (closed) before the broker stops.
    proxies: Vec<FaultyProxy>,
    /// How many proxies [`ProxiedKafka::take_proxy`] has handed out.
    taken: AtomicUsize,
    peer: Peer,
}

impl ProxiedKafka {
    /// Installs Kafka's jars if needed and starts a broker on a fresh data
    /// dir with `proxies` (at least 1) listeners, each advertised at a
    /// proxy of its own, then the proxies (~5 s alone on 2 cores). The
    /// broker dies with this process (`PEER_WATCH_PID`). Fails with the
    /// start script's stderr, which ends with the broker's log tail.
    pub fn start(proxies: usize) -> Result<ProxiedKafka> {
        if proxies == 0 {
            return Err(TestkitError::BadArgument {
                arg: "0".into(),
                why: "ProxiedKafka: at least one proxy",
            });
        }
        let t0 = Instant::now();
        // Held from here on, so that the broker's start script cannot pick
        // one of them for a listener of its own.
        let reserved = (0..proxies)
            .map(|_| crate::reserve_port())
            .collect::<Result<Vec<_>>>()?;
        let advertised: Vec<String> = reserved
            .iter()
            .map(|(_, p)| format!("127.0.0.1:{p}"))
            .collect();
        let (peer, stdout) = Peer::start_script_with_env(
            PeerKind::Kafka,
            &[("KAFKA_PROXIED_ADVERTISED", advertised.join(","))],
        )?;
        let mut started = Vec::with_capacity(proxies);
        for (i, (listener, _)) in reserved.into_iter().enumerate() {
            let key = format!("LISTENER_PROXIED{}=", i + 1);
            let target = stdout
                .lines()
                .find_map(|l| l.strip_prefix(&key))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| TestkitError::BadStartOutput {
                    kind: PeerKind::Kafka,
                    command: "kafka.sh start (KAFKA_PROXIED_ADVERTISED)".into(),
                    missing: "LISTENER_PROXIED<N>= line per proxy",
                    stdout: stdout.clone(),
                    stderr: String::new(),
                })?;
            // On an error `peer` is dropped here, which stops the broker.
            let target = target
                .to_socket_addrs()
                .map_err(|source| TestkitError::Io {
                    what: format!("ProxiedKafka: resolve {target}"),
                    source,
                })?
                .next()
                .ok_or_else(|| TestkitError::BadArgument {
                    arg: target.to_string(),
                    why: "ProxiedKafka: the listener resolves to no address",
                })?;
            started.push(FaultyProxy::start_on_listener(listener, target)?);
        }
        eprintln!(
            "kafkite-testkit: proxied kafka peer (direct {}, {} proxies) up in {:.2} s",
            peer.bootstrap(),
            started.len(),
            t0.elapsed().as_secs_f64()
        );
        Ok(ProxiedKafka {
            proxies: started,
            taken: AtomicUsize::new(0),
            peer,
        })
    }

    /// A proxy no earlier call handed out, or `None` when all are taken:
    /// a test that takes its own cannot disturb another's clients.
    pub fn take_proxy(&self) -> Option<&FaultyProxy> {
        let i = self.taken.fetch_add(1, Ordering::SeqCst);
        self.proxies.get(i)
    }

    /// Every proxy, in listener order (`PROXIED1` first).
    pub fn proxies(&self) -> &[FaultyProxy] {
        &self.proxies
    }

    /// The broker's PLAINTEXT listener, `127.0.0.1:PORT`, which no proxy
    /// stands in front of.
    pub fn direct_bootstrap(&self) -> &str {
        self.peer.bootstrap()
    }

    /// The broker as a [`Peer`] (its PID, log, data dir).
    pub fn peer(&self) -> &Peer {
        &self.peer
    }
}

impl std::fmt::Debug for ProxiedKafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxiedKafka")
            .field("peer", &self.peer)
            .field("proxies", &self.proxies)
            .finish()
    }
}

/// The per-binary instance; `Err` is kept too, so every test that asks
/// fails quickly with the same reason.
static SHARED: OnceLock<Result<ProxiedKafka>> = OnceLock::new();

/// The one [`ProxiedKafka`] of this test binary, with [`SHARED_PROXIES`]
/// proxies, started on first use; each test takes a proxy of its own
/// ([`ProxiedKafka::take_proxy`]) and uses its own topic names. Stopped at
/// exit by an `atexit` hook, or by the watchdog if the process dies
/// without running it. Panics with the start error (a failing test, never
/// a skipped one).
pub fn shared_proxied() -> &'static ProxiedKafka {
    match try_shared_proxied() {
        Ok(kafka) => kafka,
        Err(e) => panic!("kafkite-testkit: shared proxied kafka could not be started: {e}"),
    }
}

/// [`shared_proxied`] without the panic.
pub fn try_shared_proxied() -> std::result::Result<&'static ProxiedKafka, &'static TestkitError> {
    SHARED
        .get_or_init(|| {
            #[cfg(unix)]
            crate::peer::at_exit(stop_shared_at_exit, "the shared proxied kafka");
            ProxiedKafka::start(SHARED_PROXIES)
        })
        .as_ref()
}

#[cfg(unix)]
extern "C" fn stop_shared_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        if let Some(Ok(kafka)) = SHARED.get() {
            for proxy in &kafka.proxies {
                proxy.disconnect_all();
            }
            kafka.peer.stop_at_exit("shared proxied kafka peer");
        }
    });
}
