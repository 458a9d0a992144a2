//! The one task that owns the core [`Client`]: it feeds it what the sockets,
//! the clock and the sessions bring, and carries out what it asks for.
//!
//! It never polls: each turn it waits for a command, a socket event or the
//! core's next deadline, whichever comes first.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_lite::future;

use kafkite::client::{
    ApiVersionTable, Client, ClientConfig, ClusterMetadata, ConnectionError, ConnectionId, Event,
    Io, RequestError, RequestId, RequestOptions, Response, Target,
};
use kafkite::protocol::{AnyRequest, ApiKey};
use kafkite::security::{OAuthBearerTokens, SaslConfig, TlsConnector};

use kafkite::consumer::{ConsumerEvent, FetchConfig, FetchEvent, GroupConsumerConfig, RecordChunk};
use kafkite::producer::ProducerConfig;

use crate::buffer_gauge::BufferGauge;
use crate::connection::{ConnHandle, NetEvent, TaskContext};
use crate::error::Error;
use crate::fetch_slots::{FetchSlots, FetchStart};
use crate::group_slots::{GroupRequest, GroupSlots, Positions};
use crate::idempotence_off::IdempotenceOff;
use crate::oneshot;
use crate::producer::BatchRecords;
use crate::producer_mailbox::Mailbox;
use crate::producer_slots::{BatchReply, ProducerSlots};
use crate::runtime::Runtime;
use crate::wake_guard;

/// How many queued inputs one turn takes before it writes out what they
/// produced, so a busy socket cannot hold up everything else.
const INPUT_BATCH: usize = 64;

/// How many recent connection errors a bootstrap failure reports.
const BOOTSTRAP_ERRORS_KEPT: usize = 4;

pub(crate) type Reply = async_channel::Sender<Result<Response, RequestError>>;

/// What a session asks of the event loop.
pub(crate) enum Command {
    Send {
        target: Target,
        /// Boxed: requests vary a lot in size, and most commands are small.
        request: Box<AnyRequest>,
        options: RequestOptions,
        reply: Reply,
    },
    /// Keep these topics in the periodic metadata refresh.
    AddTopics(Vec<String>),
    /// The group's coordinator answered NOT_COORDINATOR (or is not
    /// available): look it up again before the next request to it.
    CoordinatorMoved(String),
    Close {
        reply: async_channel::Sender<()>,
    },
    /// Start a producer (see `producer_slots`).
    ProducerOpen {
        producer: u64,
        config: Box<ProducerConfig>,
        gauge: Arc<BufferGauge>,
        mailbox: Arc<Mailbox>,
        idempotence_off: Arc<IdempotenceOff>,
    },
    /// The producer's mailbox has records (see `producer_mailbox`). It
    /// comes along so that records posted to a producer that has closed
    /// since are still answered.
    ProducerMail {
        producer: u64,
        mailbox: Arc<Mailbox>,
    },
    /// Many records in one hand-over, answered together (see
    /// `Producer::send_batch`); their bytes are reserved already.
    ProduceBatch {
        producer: u64,
        records: BatchRecords,
        /// The buffer bytes reserved for them (`estimated_size` each),
        /// given back when the batch is answered.
        reserved: usize,
        reply: BatchReply,
    },
    ProducerFlush {
        producer: u64,
        reply: oneshot::Sender<()>,
    },
    /// Flush, then drop the producer. `None`: its last handle was dropped.
    ProducerClose {
        producer: u64,
        reply: Option<oneshot::Sender<()>>,
    },
    /// Start a fetcher (see `fetch_slots`).
    FetchOpen {
        fetcher: u64,
        config: Box<FetchConfig>,
        starts: Vec<FetchStart>,
        events: async_channel::Sender<FetchEvent>,
    },
    /// The stream is done with one fetched chunk of this partition.
    FetchRelease {
        fetcher: u64,
        topic: String,
        partition: i32,
        /// The emptied chunk, for reuse (or an empty one).
        records: RecordChunk,
    },
    FetchClose {
        fetcher: u64,
    },
    /// Start a group consumer (see `group_slots`).
    GroupOpen {
        consumer: u64,
        config: Box<GroupConsumerConfig>,
        events: async_channel::Sender<ConsumerEvent>,
        positions: Positions,
    },
    Group {
        consumer: u64,
        request: GroupRequest,
    },
}

/// What sessions read without asking the event loop: copies of the core's
/// state, updated after every turn that changed it.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub metadata: ClusterMetadata,
    pub versions: BTreeMap<i32, ApiVersionTable>,
}

pub(crate) struct EventLoop<R: Runtime> {
    runtime: R,
    client: Client,
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
    waiters: HashMap<RequestId, Reply>,
    /// Replies to send once the turn's snapshot is updated, so a caller
    /// that awaited a Metadata response sees the metadata it brought.
    replies: Vec<(Reply, Result<Response, RequestError>)>,
    close_waiters: Vec<async_channel::Sender<()>>,
    snapshot: Arc<Mutex<Snapshot>>,
    snapshot_stale: bool,
    /// The session waiting for the first metadata, and until when.
    bootstrap: Option<(async_channel::Sender<Result<(), Error>>, Instant)>,
    recent_errors: Vec<String>,
    /// A connection was lost this turn (see `drain_outputs`).
    connection_lost: bool,
    /// The `now` of the last `handle_timeout`: a core deadline at or before
    /// it has been acted on already.
    last_timeout: Option<Instant>,
    producers: ProducerSlots,
    fetchers: FetchSlots,
    groups: GroupSlots,
    /// Every session is gone, and the client closes once the producers
    /// have delivered what they were sent.
    close_when_producers_done: bool,
}

impl<R: Runtime> EventLoop<R> {
    pub(crate) fn new(
        runtime: R,
        (config, tls): (ClientConfig, Option<TlsConnector>),
        commands: async_channel::Receiver<Command>,
        snapshot: Arc<Mutex<Snapshot>>,
        bootstrapped: async_channel::Sender<Result<(), Error>>,
    ) -> Self {
        let now = Instant::now();
        let bootstrap_deadline = now + config.request_timeout;
        let (net_tx, net) = async_channel::bounded(INPUT_BATCH);
        let (tasks_alive, tasks_ended) = async_channel::bounded(1);
        let mut client = Client::new(config, now);
        // Real randomness for SASL nonces; the seeded default is for
        // simulations. Without an OS source (never on the platforms the
        // runtimes support), the seeded nonces still differ per nonce.
        let mut entropy = [0u8; 32];
        if getrandom::getrandom(&mut entropy).is_ok() {
            client.seed_entropy(entropy);
        }
        EventLoop {
            runtime,
            client,
            tls,
            commands,
            commands_open: true,
            net,
            net_tx,
            conns: HashMap::new(),
            tasks_alive: Some(tasks_alive),
            tasks_ended,
            waiters: HashMap::new(),
            replies: Vec::new(),
            close_waiters: Vec::new(),
            snapshot,
            snapshot_stale: true,
            bootstrap: Some((bootstrapped, bootstrap_deadline)),
            recent_errors: Vec::new(),
            connection_lost: false,
            last_timeout: None,
            producers: ProducerSlots::default(),
            fetchers: FetchSlots::default(),
            groups: GroupSlots::default(),
            close_when_producers_done: false,
        }
    }

    /// Runs until the core reports `Closed`.
    pub(crate) async fn run(mut self) {
        loop {
            self.drain_outputs();
            if self.client.is_closed() {
                break;
            }
            let wake_at = self.next_wake();
            let woke = self.wait(wake_at).await;
            let now = Instant::now();
            match woke {
                Woke::Net(event) => self.on_net(event, now),
                Woke::Command(Some(command)) => self.on_command(command, now),
                Woke::Command(None) => self.on_sessions_gone(now),
                Woke::Timer => {}
            }
            self.take_ready_inputs(now);
            self.on_time(now);
        }
        self.wait_for_sockets().await;
        for waiter in self.close_waiters.drain(..) {
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
        let limit = Instant::now() + self.client.config().connect_timeout;
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

    /// The next moment to wake without input: the core's next wake or the
    /// bootstrap deadline.
    fn next_wake(&self) -> Option<Instant> {
        let bootstrap = self.bootstrap.as_ref().map(|(_, at)| *at);
        [
            self.core_wake(),
            bootstrap,
            self.producers.next_wake(),
            self.fetchers.next_wake(),
            self.groups.next_wake(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// When to call `handle_timeout` next: the core's deadline, or a retry
    /// a little later when the core still reports a deadline it was already
    /// woken for (see `wake_guard`).
    fn core_wake(&self) -> Option<Instant> {
        wake_guard::next_wake(self.client.poll_timeout(), self.last_timeout)
    }

    fn on_time(&mut self, now: Instant) {
        if self.core_wake().is_some_and(|at| at <= now) {
            self.client.handle_timeout(now);
            self.last_timeout = Some(now);
        }
        self.producers.on_time(&mut self.client, now);
        self.fetchers.on_time(&mut self.client, now);
        self.groups.on_time(&mut self.client, now);
        if let Some((_, deadline)) = &self.bootstrap {
            if now >= *deadline && !self.client.has_metadata() {
                self.fail_bootstrap(now);
            }
        }
    }

    fn on_net(&mut self, event: NetEvent, now: Instant) {
        match event {
            NetEvent::Connected(conn) => self.client.handle_connected(conn, now),
            NetEvent::Frame(conn, frame) => self.client.handle_frame(conn, frame, now),
            NetEvent::Disconnected(conn, reason) => {
                self.conns.remove(&conn);
                self.client.handle_disconnected(conn, &reason, now);
            }
            NetEvent::TlsFailed(conn, error) => {
                self.conns.remove(&conn);
                self.client.handle_tls_failed(conn, error, now);
            }
            NetEvent::OAuthToken(token) => {
                self.client
                    .handle_oauthbearer_token(token, now, std::time::SystemTime::now());
            }
        }
    }

    /// Gets the core an OAUTHBEARER token: made at once for unsecured
    /// tokens, asked of the application's provider in a task of its own
    /// otherwise (a provider may take its time: an HTTP call).
    fn fetch_token(&mut self) {
        let Some(SaslConfig::OAuthBearer(oauth)) = &self.client.config().sasl else {
            return;
        };
        match &oauth.tokens {
            OAuthBearerTokens::Unsecured(unsecured) => {
                let wall_clock = std::time::SystemTime::now();
                let token = unsecured.token_at(wall_clock);
                self.client
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
        match command {
            Command::Send {
                target,
                request,
                options,
                reply,
            } => {
                let id = self.client.send_any(target, *request, options, now);
                self.waiters.insert(id, reply);
            }
            Command::AddTopics(topics) => self.client.add_topics(&topics, now),
            Command::CoordinatorMoved(group) => self.client.coordinator_moved(&group, now),
            Command::Close { reply } => {
                self.close_waiters.push(reply);
                self.client.close(now);
            }
            Command::ProducerOpen {
                producer,
                config,
                gauge,
                mailbox,
                idempotence_off,
            } => self
                .producers
                .open(producer, *config, gauge, mailbox, idempotence_off, now),
            Command::ProducerMail { producer, mailbox } => {
                self.producers
                    .take_mail(&mut self.client, producer, &mailbox, now)
            }
            Command::ProduceBatch {
                producer,
                records,
                reserved,
                reply,
            } => self.producers.produce_batch(
                &mut self.client,
                producer,
                (records, reserved),
                reply,
                now,
            ),
            Command::ProducerFlush { producer, reply } => {
                self.producers.flush(&mut self.client, producer, reply, now)
            }
            Command::ProducerClose { producer, reply } => {
                self.producers.close(&mut self.client, producer, reply, now)
            }
            Command::FetchOpen {
                fetcher,
                config,
                starts,
                events,
            } => self
                .fetchers
                .open(&mut self.client, fetcher, *config, starts, events, now),
            Command::FetchRelease {
                fetcher,
                topic,
                partition,
                records,
            } => self
                .fetchers
                .release(&mut self.client, fetcher, &topic, partition, records, now),
            Command::FetchClose { fetcher } => self.fetchers.close(&mut self.client, fetcher, now),
            Command::GroupOpen {
                consumer,
                config,
                events,
                positions,
            } => self.groups.open(consumer, *config, events, positions),
            Command::Group { consumer, request } => {
                self.groups
                    .request(&mut self.client, consumer, request, now)
            }
        }
    }

    /// Every session was dropped: nobody can use the client any more. It
    /// closes once the producers (whose last handles sent their closes
    /// before the session went) have delivered what they hold.
    fn on_sessions_gone(&mut self, now: Instant) {
        self.commands_open = false;
        if self.producers.is_empty() {
            self.client.close(now);
        } else {
            self.close_when_producers_done = true;
        }
    }

    fn fail_bootstrap(&mut self, now: Instant) {
        let Some((waiter, _)) = self.bootstrap.take() else {
            return;
        };
        let config = self.client.config();
        let error = Error::Bootstrap {
            servers: config.bootstrap_servers.clone(),
            timeout: config.request_timeout,
            last_errors: std::mem::take(&mut self.recent_errors),
        };
        let _ = waiter.try_send(Err(error));
        self.client.close(now);
    }

    /// Carries out the core's IO and routes its events, until it has none.
    fn drain_outputs(&mut self) {
        let now = Instant::now();
        loop {
            while let Some(io) = self.client.poll_io() {
                self.do_io(io);
            }
            let mut progressed = false;
            while let Some(event) = self.client.poll_event() {
                progressed = true;
                if !self.producers.offer(&mut self.client, &event, now)
                    && !self.fetchers.offer(&mut self.client, &event, now)
                    && !self.groups.offer(&mut self.client, &event, now)
                {
                    self.on_event(event);
                }
            }
            progressed |= self.producers.drain_events();
            progressed |= self.fetchers.drain_events();
            progressed |= self.groups.drain_events(&mut self.client, now);
            if self.close_when_producers_done && self.producers.is_empty() {
                self.close_when_producers_done = false;
                self.client.close(now);
                progressed = true;
            }
            if progressed {
                // What the producers did may have queued IO or events.
                continue;
            }
            if !std::mem::take(&mut self.connection_lost) {
                break;
            }
            // As the Java client does on a disconnect: the cluster may have
            // changed (a broker gone, leaders moved), so ask for fresh
            // metadata now rather than at the next periodic refresh.
            self.client.refresh_metadata(Instant::now());
        }
        if self.snapshot_stale {
            self.update_snapshot();
        }
        for (reply, result) in self.replies.drain(..) {
            // The caller may have stopped waiting; that is its choice.
            let _ = reply.try_send(result);
        }
        if self.client.has_metadata() {
            if let Some((waiter, _)) = self.bootstrap.take() {
                let _ = waiter.try_send(Ok(()));
            }
        }
    }

    fn do_io(&mut self, io: Io) {
        match io {
            Io::Connect { conn, host, port } => {
                let Some(alive) = self.tasks_alive.clone() else {
                    return;
                };
                let context = TaskContext {
                    events: self.net_tx.clone(),
                    frames: self.client.frame_reader(),
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

    fn on_event(&mut self, event: Event) {
        if let Event::ConnectionLost {
            error: ConnectionError::Authentication { address, error },
            ..
        } = &event
        {
            // A login refused now is refused again: the session's
            // connect fails at once, not at the bootstrap deadline.
            if let Some((waiter, _)) = self.bootstrap.take() {
                let _ = waiter.try_send(Err(Error::Authentication {
                    address: address.clone(),
                    error: error.clone(),
                }));
                self.client.close(Instant::now());
            }
        }
        match event {
            Event::Response { id, result } => {
                if matches!(&result, Ok(r) if r.api_key == ApiKey::Metadata) {
                    self.snapshot_stale = true;
                }
                if let Some(reply) = self.waiters.remove(&id) {
                    self.replies.push((reply, result));
                }
            }
            Event::MetadataUpdated | Event::BrokerReady { .. } => self.snapshot_stale = true,
            Event::ConnectionLost { error, .. } => {
                self.snapshot_stale = true;
                self.connection_lost = true;
                if self.bootstrap.is_some() {
                    self.note_bootstrap_error(error.to_string());
                }
            }
            Event::OAuthBearerTokenWanted => self.fetch_token(),
            // Kept for a bootstrap that fails: the answer that came may
            // have been refused whole (no usable broker).
            Event::MetadataRefused(refusal) => {
                if self.bootstrap.is_some() {
                    self.note_bootstrap_error(refusal.to_string());
                }
            }
            Event::Closed => {}
        }
    }

    /// Keeps the latest few errors, for a bootstrap that fails to explain.
    fn note_bootstrap_error(&mut self, error: String) {
        if self.recent_errors.len() == BOOTSTRAP_ERRORS_KEPT {
            self.recent_errors.remove(0);
        }
        self.recent_errors.push(error);
    }

    fn update_snapshot(&mut self) {
        let metadata = self.client.metadata().clone();
        let versions = metadata
            .brokers
            .keys()
            .filter_map(|&id| Some((id, self.client.broker_versions(id)?.clone())))
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

enum Woke {
    Net(NetEvent),
    /// `None`: every session is gone.
    Command(Option<Command>),
    Timer,
}
