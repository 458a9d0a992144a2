//! The engine: one IO-free object that runs the connection machine
//! ([`Client`]) and any number of producers, fetchers and group consumers
//! beside it. A driver (a runtime's event loop, the simulator, a test, or
//! a hand-written loop) feeds it socket events and the time, and carries
//! out its [`Output`]s:
//!
//! ```text
//! loop {
//!     match engine.poll_output() {
//!         Output::Io(io) => /* connect, write or close a socket */,
//!         Output::Event(event) => /* hand it to the application */,
//!         Output::Timeout(at) => {
//!             wait for: a socket event (engine.handle_received, ...),
//!                       an application command (engine.producer(...), ...),
//!                       or `at` (engine.handle_timeout)
//!         }
//!     }
//! }
//! ```
//!
//! What the engine decides, so that no driver has to:
//! - every answer goes to the machine that sent the request (by request
//!   id), never offered around; news of the cluster reaches every machine;
//! - one timer table holds every machine's deadline (the connection
//!   machine's is read when asked, once per driver turn), and a timeout
//!   with nothing due does nothing;
//! - a lost connection brings a metadata refresh (as the Java client does:
//!   a broker may be gone, leaders may have moved);
//! - the bootstrap deadline: no metadata in time, or a login refused
//!   during bootstrap, fails the engine with a [`BootstrapError`].

mod bootstrap;
mod machine;
mod output;
mod routes;
mod slots;
mod timers;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use crate::client::{
    Client, ClientConfig, ConnectionError, ConnectionId, Event, FrameError, RequestId,
    RequestOptions, Target,
};
use crate::consumer::{FetcherMachine, GroupConsumerMachine};
use crate::producer::ProducerMachine;
use crate::protocol::AnyRequest;
use crate::security::AuthError;

use bootstrap::Bootstrap;
pub use machine::Machine;
pub use output::{BootstrapError, EngineEvent, Output};
use routes::Routes;
pub use slots::{ConsumerHandle, FetcherHandle, ProducerHandle};
use slots::{Part, Slot};
use timers::Timers;

/// The connection machine and every machine using it, composed.
#[derive(Debug)]
pub struct Engine {
    client: Client,
    parts: BTreeMap<Slot, Part>,
    next_slot: u64,
    routes: Routes,
    timers: Timers,
    /// Machines called into since their outputs were last drained.
    touched: Vec<Slot>,
    events: VecDeque<EngineEvent>,
    /// Until the first metadata arrives (or bootstrapping fails).
    bootstrap: Option<Bootstrap>,
    /// A connection was lost: refresh metadata once things are quiet.
    connection_lost: bool,
    /// Close the client once the last producer is removed.
    close_after_producers: bool,
    /// When the connection machine was last woken by a timeout.
    client_woken: Option<Instant>,
    /// Deadlines it reported after being woken for them.
    client_stale: u64,
    /// Its deadline as last read; `None` once an input may have moved it.
    client_deadline: Option<Option<Instant>>,
}

/// The methods that add, work with and remove one kind of machine.
macro_rules! machine_slots {
    (
        $kind:ident, $machine:ty, $handle:ident,
        $add:ident, $with:ident, $remove:ident, $what:literal
    ) => {
        #[doc = concat!("Runs ", $what, " from now on; the handle names it.")]
        pub fn $add(&mut self, machine: $machine, now: Instant) -> $handle {
            $handle(self.add(Part::$kind(Box::new(machine)), now).0)
        }

        #[doc = concat!("Works with ", $what, " and the client it sends through; `None` if it")]
        /// was removed. The requests it sends meanwhile are answered to it.
        pub fn $with<R>(
            &mut self,
            handle: $handle,
            now: Instant,
            work: impl FnOnce(&mut $machine, &mut Client) -> R,
        ) -> Option<R> {
            let result = self.call(Slot(handle.0), |part, client| match part {
                Part::$kind(machine) => Some(work(machine, client)),
                _ => None,
            });
            self.pump(now);
            result.flatten()
        }

        #[doc = concat!("Stops running ", $what, " and gives it back (it is not closed: its")]
        /// requests in flight are answered to nobody).
        pub fn $remove(&mut self, handle: $handle, now: Instant) -> Option<$machine> {
            match self.remove(Slot(handle.0), now)? {
                Part::$kind(machine) => Some(*machine),
                _ => None,
            }
        }
    };
}

impl Engine {
    machine_slots!(
        Producer,
        ProducerMachine,
        ProducerHandle,
        add_producer,
        producer,
        remove_producer,
        "a producer"
    );
    machine_slots!(
        Fetcher,
        FetcherMachine,
        FetcherHandle,
        add_fetcher,
        fetcher,
        take_fetcher,
        "a fetcher"
    );
    machine_slots!(
        Consumer,
        GroupConsumerMachine,
        ConsumerHandle,
        add_consumer,
        consumer,
        remove_consumer,
        "a group consumer"
    );

    /// Stops a fetcher and abandons its requests in flight: their answers
    /// are dropped unread, and a close does not wait for them.
    pub fn remove_fetcher(
        &mut self,
        handle: FetcherHandle,
        now: Instant,
    ) -> Option<FetcherMachine> {
        self.fetcher(handle, now, |fetcher, client| {
            fetcher.abandon_requests(client, now)
        });
        self.take_fetcher(handle, now)
    }

    /// An engine that bootstraps from `config.bootstrap_servers` at once,
    /// and fails if no metadata arrives within its request timeout.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let bootstrap = Bootstrap::new(Some(now + config.request_timeout));
        let mut engine = Engine {
            client: Client::new(config, now),
            parts: BTreeMap::new(),
            next_slot: 1,
            routes: Routes::default(),
            timers: Timers::default(),
            touched: Vec::new(),
            events: VecDeque::new(),
            bootstrap: Some(bootstrap),
            connection_lost: false,
            close_after_producers: false,
            client_woken: None,
            client_stale: 0,
            client_deadline: None,
        };
        engine.pump(now);
        engine
    }

    /// Moves the bootstrap deadline; `None` keeps trying for ever (as the
    /// Java client does). No effect once bootstrapped.
    pub fn set_bootstrap_deadline(&mut self, deadline: Option<Instant>) {
        if let Some(bootstrap) = &mut self.bootstrap {
            bootstrap.deadline = deadline;
        }
    }

    /// The connection machine, to read its state (metadata, versions).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Seeds SASL nonces with real randomness (see [`Client::seed_entropy`]).
    pub fn seed_entropy(&mut self, entropy: [u8; 32]) {
        self.client.seed_entropy(entropy);
    }

    // ---- socket and clock inputs ----

    /// The driver connected `conn` (see [`Client::handle_connected`]).
    pub fn handle_connected(&mut self, conn: ConnectionId, now: Instant) {
        self.client.handle_connected(conn, now);
        self.pump(now);
    }

    /// Bytes arrived on `conn` (see [`Client::handle_received`]).
    pub fn handle_received(&mut self, conn: ConnectionId, data: &[u8], now: Instant) {
        self.client.handle_received(conn, data, now);
        self.pump(now);
    }

    /// One whole frame, cut by the driver with [`Client::frame_reader`].
    pub fn handle_frame(
        &mut self,
        conn: ConnectionId,
        frame: Result<bytes::Bytes, FrameError>,
        now: Instant,
    ) {
        self.client.handle_frame(conn, frame, now);
        self.pump(now);
    }

    /// `conn` failed or the peer closed it; `reason` is what the driver saw
    /// (see [`Client::handle_disconnected`]).
    pub fn handle_disconnected(&mut self, conn: ConnectionId, reason: &str, now: Instant) {
        self.client.handle_disconnected(conn, reason, now);
        self.pump(now);
    }

    /// The driver could not secure `conn` with TLS (see
    /// [`Client::handle_tls_failed`]).
    pub fn handle_tls_failed(
        &mut self,
        conn: ConnectionId,
        error: crate::security::TlsError,
        now: Instant,
    ) {
        self.client.handle_tls_failed(conn, error, now);
        self.pump(now);
    }

    /// The answer to [`Event::OAuthBearerTokenWanted`].
    pub fn handle_oauthbearer_token(
        &mut self,
        token: Result<crate::security::OAuthBearerToken, String>,
        now: Instant,
        wall_clock: std::time::SystemTime,
    ) {
        self.client.handle_oauthbearer_token(token, now, wall_clock);
        self.pump(now);
    }

    /// Time has reached `now`: serves whatever is due, and nothing else.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.client_deadline().is_some_and(|at| at <= now) {
            self.client.handle_timeout(now);
            self.client_woken = Some(now);
            self.client_deadline = None;
        }
        self.pump(now);
    }

    // ---- application commands ----

    /// Sends a request of the application's own; the answer comes as
    /// [`EngineEvent::Client`] with [`Event::Response`].
    pub fn send(
        &mut self,
        target: Target,
        request: AnyRequest,
        options: RequestOptions,
        now: Instant,
    ) -> RequestId {
        let id = self.client.send_any(target, request, options, now);
        self.pump(now);
        id
    }

    /// Keeps these topics in the periodic metadata refresh.
    pub fn add_topics<S: AsRef<str>>(&mut self, topics: &[S], now: Instant) {
        self.client.add_topics(topics, now);
        self.pump(now);
    }

    /// See [`Client::coordinator_moved`].
    pub fn coordinator_moved(&mut self, group: &str, now: Instant) {
        self.client.coordinator_moved(group, now);
        self.pump(now);
    }

    /// Finishes what is in flight, then closes (see [`Client::close`]).
    pub fn close(&mut self, now: Instant) {
        self.client.close(now);
        self.pump(now);
    }

    /// Closes once the last producer is removed (at once if there is
    /// none): what they were given is delivered first.
    pub fn close_after_producers(&mut self, now: Instant) {
        self.close_after_producers = true;
        self.pump(now);
    }

    /// Whether the client has finished closing (see [`Engine::close`]).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// A producer, to read its state (no pump, unlike
    /// [`Engine::producer`]).
    pub fn producer_state(&self, handle: ProducerHandle) -> Option<&ProducerMachine> {
        match self.parts.get(&Slot(handle.0)) {
            Some(Part::Producer(p)) => Some(p),
            _ => None,
        }
    }

    /// A group consumer, to read its state.
    pub fn consumer_state(&self, handle: ConsumerHandle) -> Option<&GroupConsumerMachine> {
        match self.parts.get(&Slot(handle.0)) {
            Some(Part::Consumer(c)) => Some(c),
            _ => None,
        }
    }

    /// How many deadlines a machine reported after being woken for them
    /// (each served a millisecond later). Zero unless a machine breaks
    /// its contract; the simulator reports it.
    pub fn stale_deadlines(&self) -> u64 {
        self.timers.stale() + self.client_stale
    }

    // ---- outputs ----

    /// The next thing to do: IO first, then events, then the deadline.
    pub fn poll_output(&mut self) -> Output {
        if let Some(io) = self.client.poll_io() {
            return Output::Io(io);
        }
        if let Some(event) = self.events.pop_front() {
            return Output::Event(event);
        }
        Output::Timeout(self.poll_timeout())
    }

    /// The next moment [`Engine::handle_timeout`] is due. A machine's
    /// deadline is never behind the last input's time (what is due then is
    /// served at once); the connection machine's may be, and is served by
    /// the next `handle_timeout`.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let bootstrap = self.bootstrap.as_ref().and_then(|b| b.deadline);
        [self.timers.next(), self.client_deadline(), bootstrap]
            .into_iter()
            .flatten()
            .min()
    }

    /// The connection machine's next deadline, read when asked (once per
    /// driver turn, not after every input: it looks at every connection).
    /// One it was already woken for is pushed back as the timer table
    /// pushes a machine's (see `timers`).
    fn client_deadline(&mut self) -> Option<Instant> {
        if let Some(known) = self.client_deadline {
            return known;
        }
        let deadline = self
            .client
            .poll_timeout()
            .map(|at| match self.client_woken {
                Some(woken) if at <= woken => {
                    self.client_stale += 1;
                    woken + timers::STALE_DEADLINE_RETRY
                }
                _ => at,
            });
        self.client_deadline = Some(deadline);
        deadline
    }

    // ---- internals ----

    fn add(&mut self, part: Part, now: Instant) -> Slot {
        let slot = Slot(self.next_slot);
        self.next_slot += 1;
        self.parts.insert(slot, part);
        self.touched.push(slot);
        self.pump(now);
        slot
    }

    fn remove(&mut self, slot: Slot, now: Instant) -> Option<Part> {
        let part = self.parts.remove(&slot)?;
        self.routes.forget(slot);
        self.timers.remove(slot);
        self.touched.retain(|s| *s != slot);
        self.pump(now);
        Some(part)
    }

    /// Calls into one machine; the requests it sends meanwhile are its.
    fn call<R>(&mut self, slot: Slot, work: impl FnOnce(&mut Part, &mut Client) -> R) -> Option<R> {
        let part = self.parts.get_mut(&slot)?;
        let first = self.client.next_request_id();
        let result = work(part, &mut self.client);
        self.routes
            .claim(first..self.client.next_request_id(), slot);
        if !self.touched.contains(&slot) {
            self.touched.push(slot);
        }
        Some(result)
    }

    /// Routes the client's events and drains the machines' outputs until
    /// nothing moves; then refreshes the deadlines.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            if self
                .bootstrap
                .as_ref()
                .and_then(|b| b.deadline)
                .is_some_and(|at| now >= at && !self.client.has_metadata())
            {
                self.fail_bootstrap_timed_out(now);
            }
            while let Some(event) = self.client.poll_event() {
                moved = true;
                self.dispatch(event, now);
            }
            self.drain_touched();
            if self.close_after_producers && !self.has_producers() {
                self.close_after_producers = false;
                self.client.close(now);
                moved = true;
            }
            // A machine's deadline that is due is served now, so none the
            // engine reports is behind the last input's time.
            moved |= self.serve_due(now);
            if moved {
                continue;
            }
            if !std::mem::take(&mut self.connection_lost) {
                break;
            }
            self.client.refresh_metadata(now);
        }
        // Whatever it did may have moved the client's deadline.
        self.client_deadline = None;
        if self.bootstrap.is_some() && self.client.has_metadata() {
            self.bootstrap = None;
            self.events.push_back(EngineEvent::Bootstrapped);
        }
    }

    /// Calls every machine whose deadline has come; true if any had.
    fn serve_due(&mut self, now: Instant) -> bool {
        let mut served = false;
        while let Some(slot) = self.timers.pop_due(now) {
            served = true;
            tracing::trace!(slot = slot.0, "machine deadline served");
            self.call(slot, |part, client| part.handle_timeout(client, now));
        }
        served
    }

    fn has_producers(&self) -> bool {
        self.parts.values().any(|p| matches!(p, Part::Producer(_)))
    }

    fn dispatch(&mut self, event: Event, now: Instant) {
        if let Event::Response { id, .. } = &event {
            if let Some(slot) = self.routes.take(*id) {
                self.call(slot, |part, client| {
                    part.handle_client_event(client, &event, now)
                });
                return;
            }
            self.events.push_back(EngineEvent::Client(event));
            return;
        }
        // News of the cluster: every machine may act on it.
        let slots: Vec<Slot> = self.parts.keys().copied().collect();
        for slot in slots {
            self.call(slot, |part, client| {
                part.handle_client_event(client, &event, now)
            });
        }
        self.observe(&event, now);
        self.events.push_back(EngineEvent::Client(event));
    }

    /// The engine's own policy on the client's news.
    fn observe(&mut self, event: &Event, now: Instant) {
        match event {
            Event::ConnectionLost { error, .. } => {
                self.connection_lost = true;
                if let ConnectionError::Authentication { address, error } = error {
                    self.fail_bootstrap_refused(address, error, now);
                } else if let Some(bootstrap) = &mut self.bootstrap {
                    bootstrap.note_error(error.to_string());
                }
            }
            // The answer that came may have been refused whole (no usable
            // broker): kept to explain a bootstrap that fails.
            Event::MetadataRefused(refusal) => {
                if let Some(bootstrap) = &mut self.bootstrap {
                    bootstrap.note_error(refusal.to_string());
                }
            }
            _ => {}
        }
    }

    fn fail_bootstrap_refused(&mut self, address: &str, error: &AuthError, now: Instant) {
        if self.bootstrap.take().is_some() {
            self.events.push_back(EngineEvent::BootstrapFailed(
                BootstrapError::Authentication {
                    address: address.to_string(),
                    error: error.clone(),
                },
            ));
            self.client.close(now);
        }
    }

    fn fail_bootstrap_timed_out(&mut self, now: Instant) {
        let Some(bootstrap) = self.bootstrap.take() else {
            return;
        };
        let config = self.client.config();
        let error = BootstrapError::TimedOut {
            servers: config.bootstrap_servers.clone(),
            timeout: config.request_timeout,
            last_errors: bootstrap.into_errors(),
        };
        self.events.push_back(EngineEvent::BootstrapFailed(error));
        self.client.close(now);
    }

    /// Moves the outputs of the machines called into to the event queue,
    /// and reads their deadlines again.
    fn drain_touched(&mut self) {
        while let Some(slot) = self.touched.pop() {
            let Some(part) = self.parts.get_mut(&slot) else {
                continue;
            };
            match part {
                Part::Producer(p) => {
                    let h = ProducerHandle(slot.0);
                    while let Some(e) = Machine::poll_output(&mut **p) {
                        self.events.push_back(EngineEvent::Producer(h, e));
                    }
                }
                Part::Fetcher(f) => {
                    let h = FetcherHandle(slot.0);
                    while let Some(e) = Machine::poll_output(&mut **f) {
                        self.events.push_back(EngineEvent::Fetcher(h, e));
                    }
                }
                Part::Consumer(c) => {
                    let h = ConsumerHandle(slot.0);
                    while let Some(e) = Machine::poll_output(&mut **c) {
                        self.events.push_back(EngineEvent::Consumer(h, e));
                    }
                }
            }
            self.timers.set(slot, part.poll_timeout());
        }
    }
}
