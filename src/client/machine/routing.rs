//! Where requests go: resolving targets to brokers, opening connections
//! on demand, and encoding each request at the best common version.

use std::time::Instant;

use super::*;

impl Client {
    /// One pass over the queue: each request whose broker has a ready
    /// connection with room goes out; the rest wait, in order per broker.
    pub(super) fn dispatch_queue(&mut self, now: Instant) {
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
            if let Some(error) = self.auth_failure_at(&address, now) {
                self.fail_queued(q, RequestError::Authentication { address, error });
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

    /// The TLS or SASL failure of the last connection to `address`, while
    /// its backoff lasts and no new connection is being tried.
    fn auth_failure_at(&self, address: &str, now: Instant) -> Option<AuthError> {
        let link = self.links.get(address)?;
        let backing_off = link.conn.is_none() && link.retry_at.is_some_and(|t| t > now);
        link.auth_failure.clone().filter(|_| backing_off)
    }

    /// The address a request goes to: `Ok(None)` to wait (no metadata yet).
    pub(super) fn resolve(
        &mut self,
        target: &Target,
        now: Instant,
    ) -> Result<Option<String>, RequestError> {
        match target {
            Target::Broker(id) => match self.metadata.brokers.get(id) {
                Some(b) => Ok(Some(b.address())),
                None if self.has_metadata() => Err(RequestError::UnknownBroker(*id)),
                None => Ok(None),
            },
            // KRaft clusters report a controller id that may be no broker a
            // client can reach (librdkafka's mock reports 0); any broker
            // forwards controller requests since Kafka 2.8 (KIP-590).
            Target::Controller => match self.metadata.controller {
                Some(id) if self.metadata.brokers.contains_key(&id) => {
                    self.resolve(&Target::Broker(id), now)
                }
                _ if self.has_metadata() => Ok(self.pick_any_broker()),
                _ => Ok(None),
            },
            Target::AnyBroker => Ok(self.pick_any_broker()),
            Target::GroupCoordinator(group) => {
                self.resolve_coordinator(CoordinatorKey::Group(group.clone()), now)
            }
            Target::TransactionCoordinator(id) => {
                self.resolve_coordinator(CoordinatorKey::Transaction(id.clone()), now)
            }
        }
    }

    /// The coordinator's address, or `Ok(None)` while it is looked up.
    fn resolve_coordinator(
        &mut self,
        key: CoordinatorKey,
        now: Instant,
    ) -> Result<Option<String>, RequestError> {
        {
            match self.coordinators.get(&key).cloned() {
                Some(Lookup::Known(node)) => match self.metadata.brokers.get(&node) {
                    Some(b) => Ok(Some(b.address())),
                    None => Ok(self.coordinators.address(node).cloned()),
                },
                Some(Lookup::Failed(code)) => Err(RequestError::Coordinator(code)),
                Some(Lookup::RetryAt(t)) if t > now => Ok(None),
                Some(Lookup::Pending) => Ok(None),
                Some(Lookup::RetryAt(_)) | None => {
                    self.coordinators.set_pending(&key);
                    self.lookups_to_start.push(key);
                    Ok(None)
                }
            }
        }
    }

    /// The least loaded ready connection, else one being set up, else a
    /// random known broker, else the next bootstrap address.
    pub(super) fn pick_any_broker(&mut self) -> Option<String> {
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
    pub(super) fn connection_for(&mut self, address: &str, now: Instant) -> Option<ConnectionId> {
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
                self.config.max_response_size,
            ),
        );
        tracing::debug!(conn = conn.0, broker, address, "connecting");
        self.io.push_back(Io::Connect { conn, host, port });
        Some(conn)
    }

    /// A request needs an API that Kafka 0.8.2 lacks, on a connection whose
    /// versions were not asked but guessed (its address hung up on
    /// ApiVersions twice: an old broker, or a network that cut two
    /// connections at that moment). The guess is not proof enough to fail
    /// the request: the connection is closed so that the next one asks
    /// again. If that one hangs up too, the guess stands and such requests
    /// fail (`UnsupportedVersion` with `guessed`) until its recheck is due,
    /// when the next
    /// one asks once more. Returns whether it closed the connection.
    fn reprobe_legacy(&mut self, conn: ConnectionId, now: Instant) -> bool {
        let Some(c) = self.conns.get(&conn) else {
            return false;
        };
        let Some(link) = self.links.get_mut(&c.address) else {
            return false;
        };
        // Asked again once per guess, and again whenever the guess's
        // recheck is due (a connection that stays open never reaches the
        // recheck made on connecting).
        let recheck_due = link.legacy_recheck_at.is_some_and(|at| now >= at);
        if !link.legacy || (link.legacy_reprobed && !recheck_due) {
            return false;
        }
        link.legacy_reprobed = true;
        link.legacy_recheck_at = Some(now);
        let error = ConnectionError::Closed {
            address: c.address.clone(),
            reason: "taken for Kafka 0.8/0.9 after hanging up on ApiVersions, \
                     but a request needs a newer API: asking its versions again"
                .to_string(),
        };
        self.drop_connection(conn, error, true, now);
        true
    }

    pub(super) fn can_send(&self, conn: ConnectionId) -> bool {
        self.conns.get(&conn).is_some_and(|c| {
            c.is_ready() && c.in_flight.len() < self.config.max_in_flight_per_connection
        })
    }

    /// Encodes a queued request at the best common version and writes it.
    pub(super) fn dispatch(&mut self, conn: ConnectionId, q: Queued, now: Instant) {
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
            if self.reprobe_legacy(conn, now) {
                // Asked again on the next connection; the request waits.
                self.queue.push_back(q);
                return;
            }
            let Some(c) = self.conns.get(&conn) else {
                return;
            };
            let guessed = self.links.get(&c.address).is_some_and(|l| l.legacy);
            let error = RequestError::UnsupportedVersion {
                broker: c.address.clone(),
                api: api_key,
                guessed,
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
                encode_request_with(c.outgoing_buf(), &ctx, |b| request.encode(b, version))
            }
            Payload::Metadata { topics } => {
                let body = metadata_request(topics.as_deref(), version, allow_auto_create);
                encode_request_with(&mut c.outgoing, &ctx, |b| body.encode(b, version))
            }
            Payload::FindCoordinator { key } => {
                let body = Coordinators::request(key, version);
                encode_request_with(&mut c.outgoing, &ctx, |b| body.encode(b, version))
            }
        };
        if let Err(e) = encoded {
            c.outgoing.truncate(mark);
            self.fail_queued(q, RequestError::Encode(e));
            return;
        }
        let broker = c.broker;
        tracing::trace!(
            conn = conn.0,
            broker,
            api = ?api_key,
            version,
            correlation_id,
            "request written"
        );
        let purpose = match &q.payload {
            Payload::User { id, .. } => Purpose::User(*id),
            Payload::Metadata { topics } => Purpose::Metadata {
                all_topics: topics.is_none(),
            },
            Payload::FindCoordinator { key } => Purpose::FindCoordinator { key: key.clone() },
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
    pub(super) fn flush_outgoing(&mut self) {
        for c in self.conns.values_mut() {
            if !c.outgoing.is_empty() {
                let data = c.take_outgoing();
                self.io.push_back(Io::Send { conn: c.id, data });
            }
        }
    }
}

/// The Metadata request for `topics` (`None`: every topic) at `version`.
/// v0 has no way to ask for no topics or for null: an empty list is "all".
pub(super) fn metadata_request(
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

/// Splits "host:port" (and "[v6]:port").
pub(super) fn split_host_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port))
}
