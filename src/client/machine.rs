//! The client state machine: the Dart package's KafkaSession, without IO.
//!
//! It knows the cluster (bootstrap, broker discovery, metadata), keeps one
//! connection per broker with versions negotiated, and routes requests to
//! the broker they belong to. The driver feeds it connection events, bytes
//! and the time, and carries out the [`Io`] it asks for:
//!
//! ```text
//! loop {
//!     while let Some(io) = client.poll_io() { /* connect, write, close */ }
//!     while let Some(event) = client.poll_event() { /* responses, ... */ }
//!     wait for: bytes (handle_received), connect results (handle_connected /
//!               handle_disconnected), commands, or client.poll_timeout()
//!               (then handle_timeout)
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use super::config::ClientConfig;
use super::connection::{ConnState, Connection, Frame, InFlight, Purpose};
use super::coordinator::{Coordinators, Lookup};
use super::error::{ConnectionError, RequestError};
use super::io::{ConnectionId, Event, Io, RequestId, Response, Target};
use super::metadata::ClusterMetadata;
use super::rng::Rng;
use super::versions::ApiVersionTable;
use crate::protocol::frame::{encode_request_with, RequestContext};
use crate::protocol::messages::metadata_request::MetadataRequestTopic;
use crate::protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, ResponseHeader,
};
use crate::protocol::{
    AnyRequest, AnyResponse, ApiKey, ErrorCode, Message, Reader, Request, VersionRange,
};

/// Every version this build can encode.
const ANY_VERSION: VersionRange = VersionRange {
    min: 0,
    max: i16::MAX,
};

/// The IO-free Kafka client core.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    rng: Rng,
    metadata: ClusterMetadata,
    /// When metadata last arrived; `None` before the first answer.
    metadata_updated_at: Option<Instant>,
    /// When to ask for metadata next (periodic, or soon after an error).
    metadata_due: Option<Instant>,
    metadata_pending: bool,
    /// Counts metadata answers applied, changed or not.
    metadata_generation: u64,
    /// Topics whose metadata the user asked for.
    wanted_topics: BTreeSet<String>,
    /// Per broker address: its connection, backoff and legacy flag.
    links: BTreeMap<String, Link>,
    /// The bootstrap address to try next.
    next_bootstrap: usize,
    coordinators: Coordinators,
    conns: BTreeMap<ConnectionId, Connection>,
    next_conn_id: u64,
    next_request_id: u64,
    queue: VecDeque<Queued>,
    io: VecDeque<Io>,
    events: VecDeque<Event>,
    /// Coordinator lookups to queue once the current pass is over.
    lookups_to_start: Vec<String>,
    closing: bool,
    closed: bool,
}

/// What the client knows about one broker address.
#[derive(Debug, Default)]
struct Link {
    /// Node id once metadata names this address; -1 for bootstrap only.
    node: i32,
    conn: Option<ConnectionId>,
    /// Connection failures in a row, for the backoff.
    failures: u32,
    retry_at: Option<Instant>,
    /// The broker closed the connection on ApiVersions: it is Kafka 0.8 or
    /// 0.9, and gets the fallback version table.
    legacy: bool,
}

/// A request waiting for its broker's connection.
#[derive(Debug)]
struct Queued {
    payload: Payload,
    target: Target,
    versions: VersionRange,
    deadline: Instant,
    expect_response: bool,
}

#[derive(Debug)]
enum Payload {
    User {
        id: RequestId,
        request: Box<AnyRequest>,
    },
    /// The client's own Metadata request: `None` is every topic.
    Metadata { topics: Option<Vec<String>> },
    /// The client's own coordinator lookup.
    FindCoordinator { group: String },
}

/// Per-request options for [`Client::send_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestOptions {
    /// The versions the caller can use (defaults to all this build speaks).
    pub versions: VersionRange,
    /// `None` uses the config's request timeout.
    pub timeout: Option<Duration>,
    /// False for requests the broker never answers (Produce with acks=0):
    /// they complete once written.
    pub expect_response: bool,
}

impl Default for RequestOptions {
    fn default() -> Self {
        RequestOptions {
            versions: ANY_VERSION,
            timeout: None,
            expect_response: true,
        }
    }
}

impl Client {
    /// A client that will bootstrap from `config.bootstrap_servers` as soon
    /// as it is polled.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let mut client = Client {
            rng: Rng::new(config.seed),
            config,
            metadata: ClusterMetadata::default(),
            metadata_updated_at: None,
            metadata_due: Some(now),
            metadata_pending: false,
            metadata_generation: 0,
            wanted_topics: BTreeSet::new(),
            links: BTreeMap::new(),
            next_bootstrap: 0,
            coordinators: Coordinators::default(),
            conns: BTreeMap::new(),
            next_conn_id: 1,
            next_request_id: 1,
            queue: VecDeque::new(),
            io: VecDeque::new(),
            events: VecDeque::new(),
            lookups_to_start: Vec::new(),
            closing: false,
            closed: false,
        };
        client.pump(now);
        client
    }

    // ---- inputs ----

    /// The driver connected `conn`.
    pub fn handle_connected(&mut self, conn: ConnectionId, now: Instant) {
        let legacy = {
            let Some(c) = self.conns.get(&conn) else {
                return;
            };
            self.links.get(&c.address).is_some_and(|l| l.legacy)
        };
        if legacy {
            let fallback = self.config.api_version_fallback.clone();
            self.mark_ready(conn, fallback);
        } else {
            self.send_api_versions(conn, 3, now);
        }
        self.pump(now);
    }

    /// Bytes arrived on `conn`.
    pub fn handle_received(&mut self, conn: ConnectionId, data: &[u8], now: Instant) {
        let max = self.config.max_response_size;
        let frames = match self.conns.get_mut(&conn) {
            Some(c) => c.receive(data, max),
            None => return,
        };
        match frames {
            Ok(frames) => {
                for frame in frames {
                    if !self.handle_frame(conn, frame, now) {
                        break;
                    }
                }
            }
            Err(error) => self.drop_connection(conn, error, true, now),
        }
        self.pump(now);
    }

    /// The connection failed or was closed by the peer. `reason` is what the
    /// driver saw.
    pub fn handle_disconnected(&mut self, conn: ConnectionId, reason: &str, now: Instant) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let error = match c.state {
            ConnState::Connecting { .. } => ConnectionError::ConnectFailed {
                address: c.address.clone(),
                reason: reason.to_string(),
            },
            _ => ConnectionError::Closed {
                address: c.address.clone(),
                reason: reason.to_string(),
            },
        };
        // A broker that hangs up on ApiVersions predates it (0.8, 0.9).
        if matches!(c.state, ConnState::Negotiating { .. }) {
            let address = c.address.clone();
            if let Some(link) = self.links.get_mut(&address) {
                link.legacy = true;
            }
        }
        self.drop_connection(conn, error, false, now);
        self.pump(now);
    }

    /// Time passed: expire deadlines, retry what is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut expired = Vec::new();
        for c in self.conns.values() {
            if let ConnState::Connecting { deadline } = c.state {
                if deadline <= now {
                    expired.push((
                        c.id,
                        ConnectionError::ConnectTimeout {
                            address: c.address.clone(),
                        },
                    ));
                    continue;
                }
            }
            if c.in_flight.iter().any(|r| r.deadline <= now) {
                expired.push((
                    c.id,
                    ConnectionError::RequestTimeout {
                        address: c.address.clone(),
                    },
                ));
            }
        }
        for (conn, error) in expired {
            // Requests past their deadline fail as timeouts; the others in
            // flight on the connection fail as disconnected, because Kafka
            // answers in order and nothing more is coming in time.
            let late: VecDeque<InFlight> = match self.conns.get_mut(&conn) {
                Some(c) => {
                    let (late, rest) = c.in_flight.drain(..).partition(|r| r.deadline <= now);
                    c.in_flight = rest;
                    late
                }
                None => VecDeque::new(),
            };
            for r in late {
                self.fail_in_flight(r, RequestError::Timeout);
            }
            self.drop_connection(conn, error, true, now);
        }
        let mut kept = VecDeque::new();
        while let Some(q) = self.queue.pop_front() {
            if q.deadline <= now {
                self.fail_queued(q, RequestError::Timeout);
            } else {
                kept.push_back(q);
            }
        }
        self.queue = kept;
        self.pump(now);
    }

    // ---- commands ----

    /// Sends `request` to `target`; its answer comes as [`Event::Response`].
    pub fn send<R: Request + Into<AnyRequest>>(
        &mut self,
        target: Target,
        request: R,
        now: Instant,
    ) -> RequestId {
        self.send_with(target, request, RequestOptions::default(), now)
    }

    /// Like [`Client::send`], with per-request options.
    pub fn send_with<R: Request + Into<AnyRequest>>(
        &mut self,
        target: Target,
        request: R,
        options: RequestOptions,
        now: Instant,
    ) -> RequestId {
        self.send_any(target, request.into(), options, now)
    }

    /// Sends a request whose type is only known at run time.
    pub fn send_any(
        &mut self,
        target: Target,
        request: AnyRequest,
        options: RequestOptions,
        now: Instant,
    ) -> RequestId {
        let id = RequestId(self.next_request_id);
        self.next_request_id += 1;
        if self.closing {
            self.events.push_back(Event::Response {
                id,
                result: Err(RequestError::Closing),
            });
            return id;
        }
        self.queue.push_back(Queued {
            payload: Payload::User {
                id,
                request: Box::new(request),
            },
            target,
            versions: options.versions,
            deadline: now + options.timeout.unwrap_or(self.config.request_timeout),
            expect_response: options.expect_response,
        });
        self.pump(now);
        id
    }

    /// Asks for fresh metadata of these topics now, and keeps them in the
    /// periodic refresh.
    pub fn add_topics<S: AsRef<str>>(&mut self, topics: &[S], now: Instant) {
        for t in topics {
            self.wanted_topics.insert(t.as_ref().to_string());
        }
        self.refresh_metadata(now);
    }

    /// Asks for a metadata refresh as soon as possible (after errors that
    /// mean the client's view is stale: not leader, unknown topic, ...).
    pub fn refresh_metadata(&mut self, now: Instant) {
        self.metadata_due = Some(self.metadata_due.map_or(now, |d| d.min(now)));
        self.pump(now);
    }

    /// Forgets a group's coordinator, after NOT_COORDINATOR or
    /// COORDINATOR_NOT_AVAILABLE in an answer: the next request to it
    /// looks it up again.
    pub fn coordinator_moved(&mut self, group: &str, now: Instant) {
        self.coordinators.forget(group);
        self.pump(now);
    }

    /// Finishes what is queued and in flight, then closes every connection
    /// and reports [`Event::Closed`]. New requests fail with `Closing`.
    pub fn close(&mut self, now: Instant) {
        self.closing = true;
        self.pump(now);
    }

    // ---- outputs ----

    pub fn poll_io(&mut self) -> Option<Io> {
        if self.io.is_empty() {
            self.flush_outgoing();
        }
        self.io.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next moment `handle_timeout` must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let conns = self.conns.values().filter_map(Connection::next_deadline);
        let queued = self.queue.iter().map(|q| q.deadline);
        // Backoffs matter only while something waits for a connection.
        let waiting = !self.queue.is_empty() || self.metadata_due.is_some();
        let backoffs = self
            .links
            .values()
            .filter(|_| waiting)
            .filter_map(|l| l.retry_at);
        let metadata = if self.closing {
            None
        } else {
            self.metadata_due
        };
        let lookups = self.coordinators.next_retry().filter(|_| waiting);
        conns
            .chain(queued)
            .chain(backoffs)
            .chain(metadata)
            .chain(lookups)
            .min()
    }

    // ---- state for users and tests ----

    pub fn metadata(&self) -> &ClusterMetadata {
        &self.metadata
    }

    /// How many metadata answers have been applied: lets a caller that asked
    /// for a topic tell "not answered yet" from "answered: no such topic".
    pub fn metadata_generation(&self) -> u64 {
        self.metadata_generation
    }

    /// Whether the first metadata has arrived.
    pub fn has_metadata(&self) -> bool {
        self.metadata_updated_at.is_some()
    }

    /// The version table negotiated with a broker, once connected.
    pub fn broker_versions(&self, broker: i32) -> Option<&ApiVersionTable> {
        self.conns
            .values()
            .find(|c| c.broker == broker && c.state == ConnState::Ready)
            .map(|c| &c.versions)
    }

    /// Whether `close()` has finished.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    // ---- internals ----

    fn handle_frame(&mut self, conn: ConnectionId, frame: Frame, now: Instant) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        let expected = c.in_flight.front().map(|r| r.correlation_id);
        if expected != Some(frame.correlation_id) {
            let error = ConnectionError::UnexpectedCorrelationId {
                address: c.address.clone(),
                got: frame.correlation_id,
                expected,
            };
            self.drop_connection(conn, error, true, now);
            return false;
        }
        let Some(request) = c.in_flight.pop_front() else {
            return false;
        };
        let broker = c.broker;
        let address = c.address.clone();
        if request.purpose == Purpose::ApiVersions {
            self.handle_api_versions(conn, request.version, frame, now);
            return self.conns.contains_key(&conn);
        }
        match decode_any_response(&frame, request.api_key, request.version) {
            Ok(body) => {
                match request.purpose.clone() {
                    Purpose::Metadata { all_topics } => {
                        self.metadata_pending = false;
                        if let AnyResponse::Metadata(m) = &body {
                            self.apply_metadata(m, all_topics, now);
                        }
                    }
                    Purpose::User(id) => {
                        // Metadata the user asked for refreshes the cache too.
                        if let AnyResponse::Metadata(m) = &body {
                            self.apply_metadata(m, false, now);
                        }
                        self.events.push_back(Event::Response {
                            id,
                            result: Ok(Response {
                                api_key: request.api_key,
                                version: request.version,
                                broker,
                                body: Some(body),
                            }),
                        });
                    }
                    Purpose::FindCoordinator { group } => {
                        let response = match &body {
                            AnyResponse::FindCoordinator(r) => Some(r),
                            _ => None,
                        };
                        let backoff = self.config.reconnect_backoff;
                        self.coordinators.apply(&group, response, now, backoff);
                    }
                    Purpose::ApiVersions => {}
                }
                true
            }
            Err(error) => {
                let error = ConnectionError::Undecodable {
                    address,
                    api: request.api_key,
                    version: request.version,
                    error,
                };
                self.fail_in_flight(request, RequestError::Disconnected(error.clone()));
                self.drop_connection(conn, error, true, now);
                false
            }
        }
    }

    /// ApiVersions v3 first. On UNSUPPORTED_VERSION, or an answer that does
    /// not decode (librdkafka's mock answers v3 in its own encoding), ask
    /// again with v0, which every broker since 0.10 reads.
    fn handle_api_versions(
        &mut self,
        conn: ConnectionId,
        version: i16,
        frame: Frame,
        now: Instant,
    ) {
        let decoded = decode_response_as::<ApiVersionsResponse>(&frame, version);
        match decoded {
            Ok(r) if r.error_code == 0 => {
                let table = ApiVersionTable::from_response(&r);
                self.mark_ready(conn, table);
            }
            Ok(r) if r.error_code == ErrorCode::UNSUPPORTED_VERSION.0 && version > 0 => {
                self.send_api_versions(conn, 0, now);
            }
            Err(_) if version > 0 => self.send_api_versions(conn, 0, now),
            Ok(r) => {
                let address = self.conns.get(&conn).map(|c| c.address.clone());
                let error = ConnectionError::ApiVersionsRejected {
                    address: address.unwrap_or_default(),
                    code: ErrorCode(r.error_code),
                };
                self.drop_connection(conn, error, true, now);
            }
            Err(error) => {
                let address = self.conns.get(&conn).map(|c| c.address.clone());
                let error = ConnectionError::Undecodable {
                    address: address.unwrap_or_default(),
                    api: ApiKey::ApiVersions,
                    version,
                    error,
                };
                self.drop_connection(conn, error, true, now);
            }
        }
    }

    fn send_api_versions(&mut self, conn: ConnectionId, version: i16, now: Instant) {
        let request = ApiVersionsRequest {
            client_software_name: "kafkite".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        };
        let deadline = now + self.config.request_timeout;
        let client_id = self.config.client_id.clone();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let correlation_id = c.take_correlation_id();
        let ctx = RequestContext {
            api_key: ApiKey::ApiVersions,
            api_version: version,
            correlation_id,
            client_id: Some(&client_id),
        };
        let mark = c.outgoing.len();
        if encode_request_with(&mut c.outgoing, &ctx, |b| request.encode(b, version)).is_err() {
            c.outgoing.truncate(mark);
            return;
        }
        c.state = ConnState::Negotiating { version };
        c.in_flight.push_back(InFlight {
            correlation_id,
            api_key: ApiKey::ApiVersions,
            version,
            purpose: Purpose::ApiVersions,
            deadline,
        });
    }

    fn mark_ready(&mut self, conn: ConnectionId, table: ApiVersionTable) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.versions = table;
        c.state = ConnState::Ready;
        if let Some(link) = self.links.get_mut(&c.address) {
            link.failures = 0;
            link.retry_at = None;
        }
        self.events.push_back(Event::BrokerReady {
            broker: c.broker,
            address: c.address.clone(),
        });
    }

    fn apply_metadata(
        &mut self,
        response: &crate::protocol::messages::MetadataResponse,
        all_topics: bool,
        now: Instant,
    ) {
        let changed = self.metadata.apply(response, all_topics);
        self.metadata_updated_at = Some(now);
        self.metadata_generation += 1;
        // Name each connection and link after the broker at its address, so
        // a bootstrap connection to a broker becomes that broker's.
        for b in self.metadata.brokers.values() {
            let address = b.address();
            self.links.entry(address.clone()).or_default().node = b.node_id;
            for c in self.conns.values_mut() {
                if c.address == address {
                    c.broker = b.node_id;
                }
            }
        }
        // Leaderless partitions or retriable topic errors: look again soon.
        let unsettled = response.topics.iter().any(|t| {
            ErrorCode(t.error_code).is_retriable() || t.partitions.iter().any(|p| p.leader_id < 0)
        });
        let next = if unsettled {
            self.config
                .reconnect_backoff
                .max(Duration::from_millis(100))
        } else {
            self.config.metadata_max_age
        };
        self.metadata_due = Some(now + next);
        if changed {
            self.events.push_back(Event::MetadataUpdated);
        }
    }

    /// Removes a connection, failing what was in flight on it, and backs
    /// off before the next attempt at its address.
    fn drop_connection(
        &mut self,
        conn: ConnectionId,
        error: ConnectionError,
        close: bool,
        now: Instant,
    ) {
        let Some(mut c) = self.conns.remove(&conn) else {
            return;
        };
        if close {
            self.io.push_back(Io::Close { conn });
        }
        for r in c.in_flight.drain(..) {
            self.fail_in_flight(r, RequestError::Disconnected(error.clone()));
        }
        let bootstrap = c.broker < 0;
        if let Some(link) = self.links.get_mut(&c.address) {
            link.conn = None;
            link.failures = link.failures.saturating_add(1);
            let delay = backoff(
                self.config.reconnect_backoff,
                self.config.reconnect_backoff_max,
                link.failures,
                &mut self.rng,
            );
            link.retry_at = Some(now + delay);
        }
        if bootstrap && !self.has_metadata() {
            self.next_bootstrap += 1;
        }
        if !c.closing {
            self.events.push_back(Event::ConnectionLost {
                broker: c.broker,
                error,
            });
        }
    }

    fn fail_in_flight(&mut self, request: InFlight, error: RequestError) {
        match request.purpose {
            Purpose::User(id) => self.events.push_back(Event::Response {
                id,
                result: Err(error),
            }),
            Purpose::Metadata { .. } => self.metadata_pending = false,
            Purpose::FindCoordinator { group } => self.coordinators.forget(&group),
            Purpose::ApiVersions => {}
        }
    }

    fn fail_queued(&mut self, q: Queued, error: RequestError) {
        match q.payload {
            Payload::User { id, .. } => self.events.push_back(Event::Response {
                id,
                result: Err(error),
            }),
            Payload::Metadata { .. } => self.metadata_pending = false,
            Payload::FindCoordinator { group } => self.coordinators.forget(&group),
        }
    }

    /// Moves everything forward that can move: due metadata refreshes,
    /// queued requests onto ready connections, new connections for the
    /// rest, and the close once all is done.
    fn pump(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if !self.closing && !self.metadata_pending && self.metadata_due.is_some_and(|d| d <= now) {
            self.metadata_due = None;
            self.metadata_pending = true;
            let topics = Some(self.wanted_topics.iter().cloned().collect());
            self.queue.push_back(Queued {
                payload: Payload::Metadata { topics },
                target: Target::AnyBroker,
                versions: ANY_VERSION,
                deadline: now + self.config.request_timeout,
                expect_response: true,
            });
        }

        self.dispatch_queue(now);
        if !self.lookups_to_start.is_empty() {
            for group in std::mem::take(&mut self.lookups_to_start) {
                self.queue.push_back(Queued {
                    payload: Payload::FindCoordinator { group },
                    target: Target::AnyBroker,
                    versions: ANY_VERSION,
                    deadline: now + self.config.request_timeout,
                    expect_response: true,
                });
            }
            // The lookups may go out on a ready connection right away.
            self.dispatch_queue(now);
        }

        self.close_idle_bootstrap_connections();
        if self.closing {
            self.finish_close_if_idle();
        }
    }

    /// One pass over the queue: each request whose broker has a ready
    /// connection with room goes out; the rest wait, in order per broker.
    fn dispatch_queue(&mut self, now: Instant) {
        let mut blocked: BTreeSet<String> = BTreeSet::new();
        let mut kept = VecDeque::new();
        while let Some(q) = self.queue.pop_front() {
            let address = match self.resolve(&q.target, now) {
                Ok(Some(address)) => address,
                Ok(None) => {
                    kept.push_back(q);
                    continue;
                }
                Err(error) => {
                    self.fail_queued(q, error);
                    continue;
                }
            };
            if blocked.contains(&address) {
                kept.push_back(q);
                continue;
            }
            match self.connection_for(&address, now) {
                Some(conn) if self.can_send(conn) => self.dispatch(conn, q, now),
                _ => {
                    blocked.insert(address);
                    kept.push_back(q);
                }
            }
        }
        self.queue = kept;
    }

    /// The address a request goes to: `Ok(None)` to wait (no metadata yet).
    fn resolve(&mut self, target: &Target, now: Instant) -> Result<Option<String>, RequestError> {
        match target {
            Target::Broker(id) => match self.metadata.brokers.get(id) {
                Some(b) => Ok(Some(b.address())),
                None if self.has_metadata() => Err(RequestError::UnknownBroker(*id)),
                None => Ok(None),
            },
            Target::Controller => match self.metadata.controller {
                Some(id) => self.resolve(&Target::Broker(id), now),
                None if self.has_metadata() => Err(RequestError::NoTarget),
                None => Ok(None),
            },
            Target::AnyBroker => Ok(self.pick_any_broker()),
            Target::GroupCoordinator(group) => match self.coordinators.get(group).cloned() {
                Some(Lookup::Known(node)) => match self.metadata.brokers.get(&node) {
                    Some(b) => Ok(Some(b.address())),
                    None => Ok(self.coordinators.address(node).cloned()),
                },
                Some(Lookup::Failed(code)) => Err(RequestError::Coordinator(code)),
                Some(Lookup::RetryAt(t)) if t > now => Ok(None),
                Some(Lookup::Pending) => Ok(None),
                Some(Lookup::RetryAt(_)) | None => {
                    self.coordinators.set_pending(group);
                    self.lookups_to_start.push(group.clone());
                    Ok(None)
                }
            },
        }
    }

    /// The least loaded ready connection, else one being set up, else a
    /// random known broker, else the next bootstrap address.
    fn pick_any_broker(&mut self) -> Option<String> {
        let ready = self
            .conns
            .values()
            .filter(|c| c.is_ready())
            .min_by_key(|c| c.in_flight.len())
            .map(|c| c.address.clone());
        if ready.is_some() {
            return ready;
        }
        if let Some(c) = self.conns.values().find(|c| !c.closing) {
            return Some(c.address.clone());
        }
        if !self.metadata.brokers.is_empty() {
            let brokers: Vec<String> = self
                .metadata
                .brokers
                .values()
                .map(|b| b.address())
                .collect();
            let i = self.rng.below(brokers.len() as u64) as usize;
            return brokers.get(i).cloned();
        }
        let n = self.config.bootstrap_servers.len();
        if n == 0 {
            return None;
        }
        self.config
            .bootstrap_servers
            .get(self.next_bootstrap % n)
            .cloned()
    }

    /// The connection to `address`, opening one if there is none and the
    /// backoff allows.
    fn connection_for(&mut self, address: &str, now: Instant) -> Option<ConnectionId> {
        let link = self
            .links
            .entry(address.to_string())
            .or_insert_with(|| Link {
                node: -1,
                ..Link::default()
            });
        if let Some(conn) = link.conn {
            return Some(conn);
        }
        if link.retry_at.is_some_and(|t| t > now) {
            return None;
        }
        let (host, port) = split_host_port(address)?;
        let conn = ConnectionId(self.next_conn_id);
        self.next_conn_id += 1;
        link.conn = Some(conn);
        let broker = link.node;
        self.conns.insert(
            conn,
            Connection::new(
                conn,
                broker,
                address.to_string(),
                now + self.config.connect_timeout,
            ),
        );
        self.io.push_back(Io::Connect { conn, host, port });
        Some(conn)
    }

    fn can_send(&self, conn: ConnectionId) -> bool {
        self.conns.get(&conn).is_some_and(|c| {
            c.is_ready() && c.in_flight.len() < self.config.max_in_flight_per_connection
        })
    }

    /// Encodes a queued request at the best common version and writes it.
    fn dispatch(&mut self, conn: ConnectionId, q: Queued, now: Instant) {
        let client_id = self.config.client_id.clone();
        let allow_auto_create = self.config.allow_auto_topic_creation;
        let Some(c) = self.conns.get_mut(&conn) else {
            self.queue.push_back(q);
            return;
        };
        let api_key = match &q.payload {
            Payload::User { request, .. } => request.api_key(),
            Payload::Metadata { .. } => ApiKey::Metadata,
            Payload::FindCoordinator { .. } => ApiKey::FindCoordinator,
        };
        let Some(version) = c.versions.choose(api_key, q.versions) else {
            let error = RequestError::UnsupportedVersion {
                broker: c.address.clone(),
                api: api_key,
            };
            self.fail_queued(q, error);
            return;
        };
        let correlation_id = c.take_correlation_id();
        let ctx = RequestContext {
            api_key,
            api_version: version,
            correlation_id,
            client_id: Some(&client_id),
        };
        let mark = c.outgoing.len();
        let encoded = match &q.payload {
            Payload::User { request, .. } => {
                encode_request_with(&mut c.outgoing, &ctx, |b| request.encode(b, version))
            }
            Payload::Metadata { topics } => {
                let body = metadata_request(topics.as_deref(), version, allow_auto_create);
                encode_request_with(&mut c.outgoing, &ctx, |b| body.encode(b, version))
            }
            Payload::FindCoordinator { group } => {
                let body = Coordinators::request(group, version);
                encode_request_with(&mut c.outgoing, &ctx, |b| body.encode(b, version))
            }
        };
        if let Err(e) = encoded {
            c.outgoing.truncate(mark);
            self.fail_queued(q, RequestError::Encode(e));
            return;
        }
        let broker = c.broker;
        let purpose = match &q.payload {
            Payload::User { id, .. } => Purpose::User(*id),
            Payload::Metadata { topics } => Purpose::Metadata {
                all_topics: topics.is_none(),
            },
            Payload::FindCoordinator { group } => Purpose::FindCoordinator {
                group: group.clone(),
            },
        };
        if q.expect_response {
            c.in_flight.push_back(InFlight {
                correlation_id,
                api_key,
                version,
                purpose,
                deadline: q.deadline.max(now),
            });
        } else if let Purpose::User(id) = purpose.clone() {
            self.events.push_back(Event::Response {
                id,
                result: Ok(Response {
                    api_key,
                    version,
                    broker,
                    body: None,
                }),
            });
        }
    }

    /// Hands each connection's pending bytes to the driver as one write.
    fn flush_outgoing(&mut self) {
        for c in self.conns.values_mut() {
            if !c.outgoing.is_empty() {
                let data = c.outgoing.split().freeze();
                self.io.push_back(Io::Send { conn: c.id, data });
            }
        }
    }

    /// Once brokers are known, a connection made to a bootstrap address
    /// that is not a broker's advertised address has done its job.
    fn close_idle_bootstrap_connections(&mut self) {
        if self.metadata.brokers.is_empty() {
            return;
        }
        let idle: Vec<ConnectionId> = self
            .conns
            .values()
            .filter(|c| c.broker < 0 && c.in_flight.is_empty() && c.outgoing.is_empty())
            .filter(|c| c.state == ConnState::Ready)
            .map(|c| c.id)
            .collect();
        for conn in idle {
            if let Some(c) = self.conns.remove(&conn) {
                if let Some(link) = self.links.get_mut(&c.address) {
                    link.conn = None;
                }
                self.io.push_back(Io::Close { conn });
            }
        }
    }

    fn finish_close_if_idle(&mut self) {
        let user_queued = self
            .queue
            .iter()
            .any(|q| matches!(q.payload, Payload::User { .. }));
        let busy = self.conns.values().any(|c| {
            c.in_flight
                .iter()
                .any(|r| matches!(r.purpose, Purpose::User(_)))
                || !c.outgoing.is_empty()
        });
        if user_queued || busy {
            return;
        }
        self.queue.clear();
        self.flush_outgoing();
        let conns: Vec<ConnectionId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.conns.remove(&conn);
            self.io.push_back(Io::Close { conn });
        }
        self.closed = true;
        self.events.push_back(Event::Closed);
    }
}

/// The Metadata request for `topics` (`None`: every topic) at `version`.
/// v0 has no way to ask for no topics or for null: an empty list is "all".
fn metadata_request(
    topics: Option<&[String]>,
    version: i16,
    allow_auto_create: bool,
) -> MetadataRequest {
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| MetadataRequestTopic {
                name: Some(n.clone()),
                ..Default::default()
            })
            .collect::<Vec<_>>()
    };
    let topics = match topics {
        None if version == 0 => Some(Vec::new()),
        None => None,
        Some(names) => Some(list(names)),
    };
    MetadataRequest {
        topics,
        // The field exists from v4; older versions always auto-create
        // (if the broker allows it), and a non-default value there would be
        // an encode error.
        allow_auto_topic_creation: if version >= 4 {
            allow_auto_create
        } else {
            true
        },
        ..Default::default()
    }
}

fn decode_any_response(
    frame: &Frame,
    api_key: ApiKey,
    version: i16,
) -> Result<AnyResponse, crate::protocol::DecodeError> {
    let mut r = Reader::new(frame.data.clone());
    ResponseHeader::decode(&mut r, api_key.response_header_version(version))?;
    let body = AnyResponse::decode(api_key.key(), version, &mut r)?;
    r.expect_end()
        .map_err(|e| e.in_message(api_key.name(), version))?;
    Ok(body)
}

fn decode_response_as<M: Message>(
    frame: &Frame,
    version: i16,
) -> Result<M, crate::protocol::DecodeError> {
    let mut r = Reader::new(frame.data.clone());
    ResponseHeader::decode(&mut r, 0)?;
    let body = M::decode(&mut r, version)?;
    r.expect_end().map_err(|e| e.in_message(M::NAME, version))?;
    Ok(body)
}

/// Exponential backoff with ±20% jitter: `first * 2^(failures-1)`, capped.
fn backoff(first: Duration, max: Duration, failures: u32, rng: &mut Rng) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let base = first.saturating_mul(1u32 << exp).min(max);
    let jitter = 0.8 + 0.4 * rng.unit();
    base.mul_f64(jitter).min(max)
}

/// Splits "host:port" (and "[v6]:port").
fn split_host_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port))
}
