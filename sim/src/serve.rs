//! The simulated cluster on real loopback ports, one per broker, so any
//! Kafka client (the Java client, librdkafka, kcat, kafkite's drivers) can
//! talk to it. Plain `std::net` and threads on the real clock: a thread
//! per listener accepts, a thread per connection reads, and a ticker moves
//! the cluster's time (replication, acks=all waits, fetch long-polls,
//! group sessions). Every thread takes the one lock around the cluster,
//! which is plenty for tests.
//!
//! ```no_run
//! let served = kafkite_sim::serve(kafkite_sim::ClusterConfig::new(3)).expect("listening");
//! served.create_topic("orders", 3, 3).expect("created");
//! println!("bootstrap.servers={}", served.bootstrap());
//! ```

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cluster::{Cluster, ClusterConfig, ConnKey, Output};
use crate::SimError;

/// How often the ticker moves the cluster's clock.
const TICK: Duration = Duration::from_millis(2);
/// How long blocking reads and accepts wait before looking at the stop flag.
const POLL: Duration = Duration::from_millis(20);

struct Shared {
    cluster: Cluster,
    /// The write half of every open connection.
    writers: BTreeMap<ConnKey, TcpStream>,
    started: Instant,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Writes what the cluster produced to the sockets it belongs to.
    fn route(&mut self) {
        while let Some(out) = self.cluster.poll_output() {
            match out {
                Output::Send { conn, data } => {
                    let failed = match self.writers.get_mut(&conn) {
                        Some(w) => w.write_all(&data).is_err(),
                        None => false,
                    };
                    if failed {
                        self.cluster.disconnect(conn);
                        self.writers.remove(&conn);
                    }
                }
                Output::Close { conn } => {
                    if let Some(w) = self.writers.remove(&conn) {
                        let _ = w.shutdown(Shutdown::Both);
                    }
                }
            }
        }
    }
}

/// A cluster being served; dropping it stops every thread and closes
/// every socket.
pub struct ServedCluster {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    addresses: Vec<SocketAddr>,
    threads: Vec<JoinHandle<()>>,
}

/// Serves a cluster shaped by `config` (its listeners are replaced by
/// 127.0.0.1 and a free port per broker).
pub fn serve(config: ClusterConfig) -> Result<ServedCluster, SimError> {
    let brokers = config.listeners.len().max(1);
    let mut listeners = Vec::new();
    let mut addresses = Vec::new();
    for _ in 0..brokers {
        let any: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
        let l = TcpListener::bind(any).map_err(|source| SimError::Bind {
            address: any,
            source,
        })?;
        let address = l.local_addr().map_err(|source| SimError::Io {
            what: "read a listener's address".into(),
            source,
        })?;
        l.set_nonblocking(true).map_err(|source| SimError::Io {
            what: format!("make {address} non-blocking"),
            source,
        })?;
        addresses.push(address);
        listeners.push(l);
    }
    let config = config.with_listeners(
        addresses
            .iter()
            .map(|a| ("127.0.0.1".to_string(), a.port()))
            .collect(),
    );
    let shared = Arc::new(Mutex::new(Shared {
        cluster: Cluster::new(config),
        writers: BTreeMap::new(),
        started: Instant::now(),
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let broker = i as i32 + 1;
        let shared = shared.clone();
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            accept_loop(listener, broker, shared, stop)
        }));
    }
    {
        let shared = shared.clone();
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                let mut s = lock(&shared);
                let now = s.now_ms();
                s.cluster.tick(now);
                s.route();
            }
        }));
    }
    Ok(ServedCluster {
        shared,
        stop,
        addresses,
        threads,
    })
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(
    listener: TcpListener,
    broker: i32,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                let _ = stream.set_read_timeout(Some(POLL));
                let Ok(writer) = stream.try_clone() else {
                    continue;
                };
                let key = {
                    let mut s = lock(&shared);
                    let Some(key) = s.cluster.connect(broker) else {
                        continue; // the broker is down: the socket drops
                    };
                    s.writers.insert(key, writer);
                    key
                };
                let shared = shared.clone();
                let stop = stop.clone();
                std::thread::spawn(move || read_loop(stream, key, shared, stop));
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

fn read_loop(
    mut stream: TcpStream,
    key: ConnKey,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let mut s = lock(&shared);
                if !s.writers.contains_key(&key) {
                    return; // the broker closed it
                }
                let now = s.now_ms();
                s.cluster.receive(key, &buf[..n], now);
                s.route();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if !lock(&shared).writers.contains_key(&key) {
                    return;
                }
            }
            Err(_) => break,
        }
    }
    let mut s = lock(&shared);
    s.cluster.disconnect(key);
    s.writers.remove(&key);
}

impl ServedCluster {
    /// `host:port,host:port,...` of every broker.
    pub fn bootstrap(&self) -> String {
        self.addresses
            .iter()
            .map(|a| format!("127.0.0.1:{}", a.port()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The broker listening at each address, ids 1, 2, ...
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// Creates a topic, as CreateTopics would.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
    ) -> Result<(), SimError> {
        lock(&self.shared)
            .cluster
            .create_topic(name, partitions, replication_factor)
            .map_err(|code| SimError::BadRequest {
                broker: 0,
                reason: format!("cannot create topic {name}: error code {code}"),
            })
    }

    /// Runs `f` on the cluster under the lock: to inject faults (crash a
    /// broker, elect a leader) or to look at logs and groups.
    pub fn with_cluster<T>(&self, f: impl FnOnce(&mut Cluster) -> T) -> T {
        let mut s = lock(&self.shared);
        let out = f(&mut s.cluster);
        s.route();
        out
    }
}

impl Drop for ServedCluster {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        {
            let mut s = lock(&self.shared);
            for (_, w) in std::mem::take(&mut s.writers) {
                let _ = w.shutdown(Shutdown::Both);
            }
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
