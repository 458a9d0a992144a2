//! The one task that owns the core [`Engine`]: it feeds it what the
//! sockets, the clock and the application's handles bring, and carries out
//! the engine's outputs. Routing, timers, reconnect and bootstrap policy
//! are the engine's; this file is IO.
//!
//! It never polls: each turn it waits for a command, a socket event or the
//! engine's next deadline, whichever comes first.

pub(crate) mod command;
pub(crate) mod connection;
pub(crate) mod handles;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use futures_lite::future;

use kafkite::client::{ClientConfig, ConnectionId, Event, Io};
use kafkite::engine::{Engine, EngineEvent, Output};
use kafkite::protocol::ApiKey;
use kafkite::security::{OAuthBearerTokens, SaslConfig, TlsConnector};

use crate::error::Error;
use crate::event_loop::command::{Command, Snapshot};
use crate::event_loop::connection::{ConnHandle, NetEvent, TaskContext};
use crate::event_loop::handles::Handles;
use crate::runtime::Runtime;

/// How many queued inputs one turn takes before it writes out what they
/// produced, so a busy socket cannot hold up everything else.
const INPUT_BATCH: usize = 64;

pub(crate) struct EventLoop<R: Runtime> {
    runtime: R,
    engine: Engine,
    /// The session's TLS settings, loaded once, for every connection.
    tls: Option<TlsConnector>,
    commands: async_channel::Receiver<Command>,
    /// False once every session is gone: the loop is closing by itself.
    commands_open: bool,
    net: async_channel::Receiver<NetEvent>,
    net_tx: async_channel::Sender<NetEvent>,
    conns: HashMap<ConnectionId, ConnHandle>,
    /// Cloned into every connection task, which holds it while it runs;
    /// `None` once the loop is done starting tasks.
    tasks_alive: Option<async_channel::Sender<()>>,
    tasks_ended: async_channel::Receiver<()>,
    snapshot: Arc<Mutex<Snapshot>>,
    snapshot_stale: bool,
    handles: Handles,
}

impl<R: Runtime> EventLoop<R> {
    pub(crate) fn new(
        runtime: R,
        (config, tls): (ClientConfig, Option<TlsConnector>),
        commands: async_channel::Receiver<Command>,
        snapshot: Arc<Mutex<Snapshot>>,
        bootstrapped: async_channel::Sender<Result<(), Error>>,
    ) -> Self {
        let (net_tx, net) = async_channel::bounded(INPUT_BATCH);
        let (tasks_alive, tasks_ended) = async_channel::bounded(1);
        let mut engine = Engine::new(config, Instant::now());
        // Real randomness for SASL nonces; the seeded default is for
        // simulations. Without an OS source (never on the platforms the
        // runtimes support), the seeded nonces still differ per nonce.
        let mut entropy = [0u8; 32];
        if getrandom::getrandom(&mut entropy).is_ok() {
            engine.seed_entropy(entropy);
        }
        EventLoop {
            runtime,
            engine,
            tls,
            commands,
            commands_open: true,
            net,
            net_tx,
            conns: HashMap::new(),
            tasks_alive: Some(tasks_alive),
            tasks_ended,
            snapshot,
            snapshot_stale: true,
            handles: Handles::new(bootstrapped),
        }
    }

    /// Runs until the engine has closed.
    pub(crate) async fn run(mut self) {
        loop {
            let wake_at = self.drain_outputs();
            if self.engine.is_closed() {
                break;
            }
            let woke = self.wait(wake_at).await;
            let now = Instant::now();
            tracing::trace!(
                woke = woke.name(),
                late_us = wake_at.map(|at| now.saturating_duration_since(at).as_micros() as u64),
                "event loop woke"
            );
            self.handles.groups.sync_positions(&mut self.engine, now);
            match woke {
                Woke::Net(event) => self.on_net(event, now),
                Woke::Command(Some(command)) => self.on_command(command, now),
                Woke::Command(None) => self.on_sessions_gone(now),
                Woke::Timer => self.engine.handle_timeout(now),
            }
            self.take_ready_inputs(now);
            self.handles.groups.close_abandoned(&mut self.engine, now);
        }
        self.wait_for_sockets().await;
        for waiter in self.handles.close_waiters.drain(..) {
            let _ = waiter.try_send(());
        }
    }

    /// Ends every connection task and waits (boundedly) until they have
    /// closed their sockets, so that `close()` returns with them closed.
    async fn wait_for_sockets(&mut self) {
        self.conns.clear();
        self.tasks_alive = None;
        let all_ended = async {
            // Fails once every task has dropped its sender: all ended.
            let _ = self.tasks_ended.recv().await;
        };
        let limit = Instant::now() + self.engine.client().config().connect_timeout;
        future::or(all_ended, self.runtime.sleep_until(limit)).await;
    }

    async fn wait(&self, wake_at: Option<Instant>) -> Woke {
        let net = async {
            match self.net.recv().await {
                Ok(event) => Woke::Net(event),
                // Unreachable: the loop holds a sender.
                Err(_) => future::pending().await,
            }
        };
        let commands = async {
            if self.commands_open {
                Woke::Command(self.commands.recv().await.ok())
            } else {
                future::pending().await
            }
        };
        let timer = async {
            match wake_at {
                Some(at) => {
                    self.runtime.sleep_until(at).await;
                    Woke::Timer
                }
                None => future::pending().await,
            }
        };
        future::or(net, future::or(commands, timer)).await
    }

    /// Takes what else is already waiting, without waiting.
    fn take_ready_inputs(&mut self, now: Instant) {
        for _ in 0..INPUT_BATCH {
            let mut took = false;
            if let Ok(event) = self.net.try_recv() {
                self.on_net(event, now);
                took = true;
            }
            if self.commands_open {
                match self.commands.try_recv() {
                    Ok(command) => {
                        self.on_command(command, now);
                        took = true;
                    }
                    Err(async_channel::TryRecvError::Closed) => self.on_sessions_gone(now),
                    Err(async_channel::TryRecvError::Empty) => {}
                }
            }
            if !took {
                break;
            }
        }
    }

    fn on_net(&mut self, event: NetEvent, now: Instant) {
        match event {
            NetEvent::Connected(conn) => self.engine.handle_connected(conn, now),
            NetEvent::Frame(conn, frame) => self.engine.handle_frame(conn, frame, now),
            NetEvent::Disconnected(conn, reason) => {
                self.conns.remove(&conn);
                self.engine.handle_disconnected(conn, &reason, now);
            }
            NetEvent::TlsFailed(conn, error) => {
                self.conns.remove(&conn);
                self.engine.handle_tls_failed(conn, error, now);
            }
            NetEvent::OAuthToken(token) => {
                self.engine
                    .handle_oauthbearer_token(token, now, SystemTime::now());
            }
        }
    }

    /// Gets the core an OAUTHBEARER token: made at once for unsecured
    /// tokens, asked of the application's provider in a task of its own
    /// otherwise (a provider may take its time: an HTTP call).
    fn fetch_token(&mut self) {
        let Some(SaslConfig::OAuthBearer(oauth)) = &self.engine.client().config().sasl else {
            return;
        };
        match &oauth.tokens {
            OAuthBearerTokens::Unsecured(unsecured) => {
                let wall_clock = SystemTime::now();
                let token = unsecured.token_at(wall_clock);
                self.engine
                    .handle_oauthbearer_token(Ok(token), Instant::now(), wall_clock);
            }
            OAuthBearerTokens::Provider(provider) => {
                let provider = Arc::clone(provider);
                let answer = self.net_tx.clone();
                self.runtime.spawn(async move {
                    let token = provider.token().await.map_err(|e| e.to_string());
                    let _ = answer.send(NetEvent::OAuthToken(token)).await;
                });
            }
        }
    }

    fn on_command(&mut self, command: Command, now: Instant) {
        self.handles.on_command(&mut self.engine, command, now);
    }

    /// Every session was dropped: nobody can use the client any more. It
    /// closes once the producers (whose last handles sent their closes
    /// before the session went) have delivered what they hold.
    fn on_sessions_gone(&mut self, now: Instant) {
        self.commands_open = false;
        self.engine.close_after_producers(now);
    }

    /// Carries out the engine's outputs until it waits; returns when to
    /// wake it next.
    fn drain_outputs(&mut self) -> Option<Instant> {
        // Read once per turn: what the handles do with the events (remove
        // a finished producer, close a consumer) needs no finer clock.
        let now = Instant::now();
        let wake_at = loop {
            match self.engine.poll_output() {
                Output::Io(io) => self.do_io(io),
                Output::Event(event) => self.on_event(event, now),
                Output::Timeout(at) => break at,
            }
        };
        if self.snapshot_stale {
            self.update_snapshot();
        }
        self.snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .wakeups += 1;
        self.handles.finish_turn();
        wake_at
    }

    fn do_io(&mut self, io: Io) {
        match io {
            Io::Connect { conn, host, port } => {
                let Some(alive) = self.tasks_alive.clone() else {
                    return;
                };
                let context = TaskContext {
                    events: self.net_tx.clone(),
                    frames: self.engine.client().frame_reader(),
                    tls: self.tls.clone(),
                    alive,
                };
                let handle = ConnHandle::open(&self.runtime, conn, (host, port), context);
                self.conns.insert(conn, handle);
            }
            Io::Send { conn, data } => {
                if let Some(handle) = self.conns.get(&conn) {
                    handle.write(data);
                }
            }
            Io::Close { conn } => {
                self.conns.remove(&conn);
            }
        }
    }

    fn on_event(&mut self, event: EngineEvent, now: Instant) {
        match &event {
            EngineEvent::Client(Event::OAuthBearerTokenWanted) => self.fetch_token(),
            EngineEvent::Client(
                Event::MetadataUpdated | Event::BrokerReady { .. } | Event::ConnectionLost { .. },
            ) => self.snapshot_stale = true,
            EngineEvent::Client(Event::Response { result: Ok(r), .. })
                if r.api_key == ApiKey::Metadata =>
            {
                self.snapshot_stale = true
            }
            _ => {}
        }
        self.handles.on_event(&mut self.engine, event, now);
    }

    fn update_snapshot(&mut self) {
        let client = self.engine.client();
        let metadata = client.metadata().clone();
        let versions = metadata
            .brokers
            .keys()
            .filter_map(|&id| Some((id, client.broker_versions(id)?.clone())))
            .collect();
        let mut snapshot = self
            .snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        snapshot.metadata = metadata;
        snapshot.versions = versions;
        self.snapshot_stale = false;
    }
}

impl Woke {
    fn name(&self) -> &'static str {
        match self {
            Woke::Net(_) => "net",
            Woke::Command(Some(_)) => "command",
            Woke::Command(None) => "sessions gone",
            Woke::Timer => "timer",
        }
    }
}

enum Woke {
    Net(NetEvent),
    /// `None`: every session is gone.
    Command(Option<Command>),
    Timer,
}
