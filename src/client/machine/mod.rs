//! The client state machine: a session with a Kafka cluster, without IO.
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

mod auth;
mod receive;
mod routing;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use super::config::ClientConfig;
use super::connection::{ConnState, Connection, Frame, InFlight, Purpose};
use super::coordinator::{CoordinatorKey, Coordinators, Lookup};
use super::error::{ConnectionError, RequestError};
use super::frame_reader::{FrameError, FrameReader};
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
use crate::security::sasl::SaltedPasswordCache;
use crate::security::{AuthError, NonceSource};

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
    /// The last Metadata request was lost; schedule another.
    metadata_retry: bool,
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
    lookups_to_start: Vec<CoordinatorKey>,
    closing: bool,
    closed: bool,
    /// OAUTHBEARER tokens: the current one, and when to ask for the next.
    oauth: auth::OAuthTokens,
    /// SCRAM's client nonces.
    nonces: NonceSource,
    /// SCRAM's salted password, computed once per session.
    scram_cache: SaltedPasswordCache,
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
    /// When a legacy address is asked for its versions again: an upgraded
    /// broker (or one that merely hung up twice) must not be held to
    /// Kafka 0.8.2's versions for the client's life.
    legacy_recheck_at: Option<Instant>,
    /// A request needing an API 0.8.2 lacks already had the guess asked
    /// again (see `Client::reprobe_legacy`); until the broker answers
    /// ApiVersions or the next recheck, the guess stands.
    legacy_reprobed: bool,
    /// Connections in a row closed while negotiating versions. One is not
    /// proof of an old broker (a modern one may crash or restart at that
    /// moment, and the fallback table has no group APIs); two are.
    api_versions_hangups: u32,
    /// The broker has answered ApiVersions: it is not a 0.8/0.9 broker,
    /// however its connections end later (brokers do not downgrade).
    answered_api_versions: bool,
    /// The last connection failed TLS or SASL: until the backoff ends,
    /// requests for this address fail with it at once instead of waiting
    /// (a login that failed fails again with the same settings).
    auth_failure: Option<AuthError>,
}

/// Hang-ups on ApiVersions in a row that make a broker legacy.
const LEGACY_AFTER_HANGUPS: u32 = 2;

/// How long an address taken for Kafka 0.8/0.9 keeps the fallback versions
/// before a new connection asks for its versions again.
const LEGACY_RECHECK_AFTER: Duration = Duration::from_secs(300);

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
    FindCoordinator { key: CoordinatorKey },
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
        let config_seed = config.seed;
        let mut client = Client {
            rng: Rng::new(config.seed),
            config,
            metadata: ClusterMetadata::default(),
            metadata_updated_at: None,
            metadata_due: Some(now),
            metadata_pending: false,
            metadata_retry: false,
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
            oauth: auth::OAuthTokens::default(),
            nonces: NonceSource::from_seed(config_seed),
            scram_cache: SaltedPasswordCache::default(),
        };
        client.pump(now);
        client
    }

    // ---- inputs ----

    /// The driver connected `conn`.
    pub fn handle_connected(&mut self, conn: ConnectionId, now: Instant) {
        tracing::debug!(conn = conn.0, "connected");
        let legacy = {
            let Some(c) = self.conns.get(&conn) else {
                return;
            };
            self.links
                .get(&c.address)
                .is_some_and(|l| l.legacy && l.legacy_recheck_at.is_some_and(|at| now < at))
        };
        if legacy {
            let fallback = self.config.api_version_fallback.clone();
            self.versions_known(conn, fallback, now);
        } else {
            self.send_api_versions(conn, 3, now);
        }
        self.pump(now);
    }

    /// Bytes arrived on `conn`.
    pub fn handle_received(&mut self, conn: ConnectionId, data: &[u8], now: Instant) {
        let frames = match self.conns.get_mut(&conn) {
            Some(c) => c.receive(data),
            None => return,
        };
        self.handle_frames(conn, frames, now);
    }

    /// A [`FrameReader`] for a connection, for a driver that cuts frames
    /// on its own (off the event loop's thread, reading large frames
    /// straight into their own buffers) and hands them to
    /// [`handle_frame`](Self::handle_frame) instead of giving bytes to
    /// [`handle_received`](Self::handle_received). One per connection,
    /// made when the driver connects it.
    pub fn frame_reader(&self) -> FrameReader {
        FrameReader::new(self.config.max_response_size)
    }

    /// A complete response frame arrived on `conn`, cut by its
    /// [`FrameReader`]: the frame after its size prefix, or the reader's
    /// error, which drops the connection. A driver uses either this or
    /// [`handle_received`](Self::handle_received) for a connection, not
    /// both.
    pub fn handle_frame(
        &mut self,
        conn: ConnectionId,
        frame: Result<bytes::Bytes, FrameError>,
        now: Instant,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let frames = match frame {
            Ok(data) => Ok(vec![data]),
            Err(error) => Err(c.bad_frame(error)),
        };
        self.handle_frames(conn, frames, now);
    }

    fn handle_frames(
        &mut self,
        conn: ConnectionId,
        frames: Result<Vec<bytes::Bytes>, ConnectionError>,
        now: Instant,
    ) {
        match frames {
            Ok(frames) => {
                for data in frames {
                    if !self.handle_frame_data(conn, data, now) {
                        break;
                    }
                }
            }
            Err(error) => self.drop_connection(conn, error, true, now),
        }
        self.pump(now);
    }

    /// One frame (after its size prefix): a raw SASL token where one is
    /// expected, else a response. False once the connection is gone.
    fn handle_frame_data(&mut self, conn: ConnectionId, data: bytes::Bytes, now: Instant) -> bool {
        let Some(c) = self.conns.get(&conn) else {
            return false;
        };
        if c.expects_raw_token() {
            self.handle_sasl_token(conn, data, now);
            return self.conns.contains_key(&conn);
        }
        let len = data.len();
        match Frame::parse(data) {
            Some(frame) => self.handle_response(conn, frame, now),
            None => {
                let error = c.bad_frame(FrameError {
                    size: len as i64,
                    limit: self.config.max_response_size,
                });
                self.drop_connection(conn, error, true, now);
                false
            }
        }
    }

    /// The connection failed or was closed by the peer. `reason` is what the
    /// driver saw.
    pub fn handle_disconnected(&mut self, conn: ConnectionId, reason: &str, now: Instant) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        // Brokers before 1.0 answer wrong credentials by hanging up on
        // the raw token exchange.
        let raw_login = c.auth.as_ref().is_some_and(|a| {
            a.framing == super::connection::SaslFraming::Raw && a.session.is_some()
        });
        let error = match c.state {
            ConnState::Connecting { .. } => ConnectionError::ConnectFailed {
                address: c.address.clone(),
                reason: reason.to_string(),
            },
            ConnState::Authenticating if raw_login => ConnectionError::Authentication {
                address: c.address.clone(),
                error: AuthError::ClosedDuringAuthentication {
                    mechanism: self.config.sasl.as_ref().map_or("SASL", |s| s.mechanism()),
                },
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
                link.api_versions_hangups += 1;
                link.legacy = !link.answered_api_versions
                    && link.api_versions_hangups >= LEGACY_AFTER_HANGUPS;
                if link.legacy {
                    link.legacy_recheck_at = Some(now + LEGACY_RECHECK_AFTER);
                }
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
                tracing::debug!(target = ?q.target, "queued request timed out");
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
        self.coordinators
            .forget(&CoordinatorKey::Group(group.to_string()));
        self.pump(now);
    }

    /// Forgets a transactional id's coordinator, after NOT_COORDINATOR or
    /// COORDINATOR_NOT_AVAILABLE in an answer from it.
    pub fn transaction_coordinator_moved(&mut self, transactional_id: &str, now: Instant) {
        self.coordinators
            .forget(&CoordinatorKey::Transaction(transactional_id.to_string()));
        self.pump(now);
    }

    /// Gives up on a request: its answer will not be reported. Queued, it
    /// is never sent; in flight, its answer is read and dropped, and a
    /// close does not wait for it (a long-polling Fetch nobody will read
    /// would otherwise hold the close for its whole max wait). Unknown or
    /// finished ids are ignored.
    pub fn abandon(&mut self, id: RequestId, now: Instant) {
        self.queue
            .retain(|q| !matches!(&q.payload, Payload::User { id: queued, .. } if *queued == id));
        for c in self.conns.values_mut() {
            for request in c.in_flight.iter_mut() {
                if request.purpose == Purpose::User(id) {
                    request.purpose = Purpose::Abandoned;
                }
            }
        }
        self.pump(now);
    }

    /// Finishes what is queued and in flight, then closes every connection
    /// and reports [`Event::Closed`]. New requests fail with `Closing`.
    pub fn close(&mut self, now: Instant) {
        self.closing = true;
        self.pump(now);
    }

    // ---- outputs ----

    /// The next IO the driver must carry out, if any.
    pub fn poll_io(&mut self) -> Option<Io> {
        if self.io.is_empty() {
            self.flush_outgoing();
        }
        self.io.pop_front()
    }

    /// The next event to report to the user, if any.
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
        // A refresh in flight has its own deadline; its due time is spent.
        let metadata = if self.closing || self.metadata_pending {
            None
        } else {
            self.metadata_due
        };
        let lookups = self.coordinators.next_retry().filter(|_| waiting);
        let token = self.oauth.next_deadline().filter(|_| !self.closing);
        conns
            .chain(queued)
            .chain(backoffs)
            .chain(metadata)
            .chain(lookups)
            .chain(token)
            .min()
    }

    // ---- state for users and tests ----

    /// The cluster metadata as last applied.
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

    /// The id the next request will get: ids are issued in order, so the
    /// engine knows which machine sent which request.
    pub(crate) fn next_request_id(&self) -> u64 {
        self.next_request_id
    }

    /// Whether `close()` has finished.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The settings the client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    // ---- internals ----
    /// Moves everything forward that can move: due metadata refreshes,
    /// queued requests onto ready connections, new connections for the
    /// rest, and the close once all is done.
    fn pump(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.token_waits_expired(now);
        self.refresh_token_due(now);
        self.reauthenticate_due(now);
        if self.metadata_retry && !self.metadata_pending {
            self.metadata_retry = false;
            let retry = now + self.config.reconnect_backoff;
            self.metadata_due = Some(self.metadata_due.map_or(retry, |d| d.min(retry)));
        }
        if !self.closing && !self.metadata_pending && self.metadata_due.is_some_and(|d| d <= now) {
            self.metadata_due = None;
            self.metadata_pending = true;
            let topics = Some(self.wanted_topics.iter().cloned().collect());
            self.enqueue_own(Payload::Metadata { topics }, now);
        }

        self.dispatch_queue(now);
        if !self.lookups_to_start.is_empty() {
            for key in std::mem::take(&mut self.lookups_to_start) {
                let versions = key.versions();
                self.enqueue_own(Payload::FindCoordinator { key }, now);
                if let Some(queued) = self.queue.back_mut() {
                    queued.versions = versions;
                }
            }
            // The lookups may go out on a ready connection right away.
            self.dispatch_queue(now);
        }

        self.forget_passed_deadlines(now);
        self.close_idle_bootstrap_connections();
        if self.closing {
            self.finish_close_if_idle();
        }
    }

    /// Once brokers are known, a connection made to a bootstrap address
    /// that is not a broker's advertised address has done its job.
    /// Queues one of the client's own requests (metadata, coordinator
    /// lookups): any broker will do.
    fn enqueue_own(&mut self, payload: Payload, now: Instant) {
        self.queue.push_back(Queued {
            payload,
            target: Target::AnyBroker,
            versions: ANY_VERSION,
            deadline: now + self.config.request_timeout,
            expect_response: true,
        });
    }

    /// Deadlines that have passed and were acted on are dropped, so that
    /// `poll_timeout` never hands the driver a moment already past (which
    /// would make it spin).
    fn forget_passed_deadlines(&mut self, now: Instant) {
        for link in self.links.values_mut() {
            if link.retry_at.is_some_and(|t| t <= now) {
                link.retry_at = None;
            }
        }
        self.coordinators.forget_passed_retries(now);
    }

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
