//! What arrives on a connection: frames matched to requests, version
//! negotiation, metadata answers, and dropping a connection with every
//! request on it.

use std::time::{Duration, Instant};

use super::*;
use crate::protocol::DecodeError;

impl Client {
    pub(super) fn handle_response(
        &mut self,
        conn: ConnectionId,
        frame: Frame,
        now: Instant,
    ) -> bool {
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
        tracing::trace!(
            conn = conn.0,
            api = ?request.api_key,
            correlation_id = frame.correlation_id,
            "response read"
        );
        let broker = c.broker;
        let address = c.address.clone();
        match request.purpose {
            Purpose::ApiVersions => {
                self.handle_api_versions(conn, request.version, frame, now);
                return self.conns.contains_key(&conn);
            }
            Purpose::SaslHandshake | Purpose::SaslAuthenticate => {
                let answered = (&request.purpose, request.version);
                self.handle_login_answer(conn, answered, &frame, now);
                return self.conns.contains_key(&conn);
            }
            _ => {}
        }
        if request.purpose == Purpose::Abandoned {
            // Not even decoded: nobody reads it.
            return true;
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
                    Purpose::FindCoordinator { key } => {
                        let response = match &body {
                            AnyResponse::FindCoordinator(r) => Some(r),
                            _ => None,
                        };
                        let backoff = self.config.reconnect_backoff;
                        self.coordinators.apply(&key, response, now, backoff);
                    }
                    Purpose::ApiVersions
                    | Purpose::SaslHandshake
                    | Purpose::SaslAuthenticate
                    | Purpose::SaslToken
                    | Purpose::Abandoned => {}
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
    pub(super) fn handle_api_versions(
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
                // An address once taken for 0.8/0.9 answered: it is not.
                if let Some(c) = self.conns.get(&conn) {
                    if let Some(link) = self.links.get_mut(&c.address) {
                        link.legacy = false;
                        link.legacy_recheck_at = None;
                        link.legacy_reprobed = false;
                    }
                }
                self.versions_known(conn, table, now);
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

    pub(super) fn send_api_versions(&mut self, conn: ConnectionId, version: i16, now: Instant) {
        let request = ApiVersionsRequest {
            client_software_name: "kafkite".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.state = ConnState::Negotiating { version };
        }
        let purpose = Purpose::ApiVersions;
        self.write_own_request(conn, ApiKey::ApiVersions, version, &request, purpose, now);
    }

    /// The connection is ready for requests: versions known, logged in.
    pub(super) fn mark_ready(&mut self, conn: ConnectionId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.state = ConnState::Ready;
        tracing::debug!(conn = conn.0, broker = c.broker, "connection ready");
        if let Some(link) = self.links.get_mut(&c.address) {
            link.failures = 0;
            link.retry_at = None;
            link.auth_failure = None;
            if !link.legacy {
                link.api_versions_hangups = 0;
                link.answered_api_versions = true;
            }
        }
        self.events.push_back(Event::BrokerReady {
            broker: c.broker,
            address: c.address.clone(),
        });
    }

    pub(super) fn apply_metadata(
        &mut self,
        response: &crate::protocol::messages::MetadataResponse,
        all_topics: bool,
        now: Instant,
    ) {
        let mut refused = Vec::new();
        let changed = self.metadata.apply(response, all_topics, &mut refused);
        self.events
            .extend(refused.into_iter().map(Event::MetadataRefused));
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
        // Leaderless partitions or retriable topic errors (a topic being
        // created, a leader election): look again soon. A topic that does
        // not exist is not "soon": it waits for the periodic refresh or for
        // a caller's explicit one, instead of asking every 100 ms forever.
        let unsettled = response.topics.iter().any(|t| {
            let code = ErrorCode(t.error_code);
            (code.is_retriable() && code != ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                || t.partitions.iter().any(|p| p.leader_id < 0)
        });
        let next = if unsettled {
            self.config
                .reconnect_backoff
                .max(Duration::from_millis(100))
        } else {
            self.config.metadata_max_age
        };
        // A refresh planned before this answer stands: one asked for while
        // the client's own request was in flight (for a topic that request
        // did not name), or one an answer to a user's request (which may
        // not cover the wanted topics) must not push back.
        let due = now + next;
        self.metadata_due = Some(self.metadata_due.map_or(due, |planned| planned.min(due)));
        if changed {
            self.events.push_back(Event::MetadataUpdated);
        }
    }

    /// Removes a connection, failing what was in flight on it, and backs
    /// off before the next attempt at its address.
    pub(super) fn drop_connection(
        &mut self,
        conn: ConnectionId,
        error: ConnectionError,
        close: bool,
        now: Instant,
    ) {
        let Some(mut c) = self.conns.remove(&conn) else {
            return;
        };
        tracing::debug!(
            conn = conn.0,
            broker = c.broker,
            in_flight = c.in_flight.len(),
            %error,
            "connection dropped"
        );
        if close {
            self.io.push_back(Io::Close { conn });
        }
        for r in c.in_flight.drain(..) {
            self.fail_in_flight(r, RequestError::Disconnected(error.clone()));
        }
        let bootstrap = c.broker < 0;
        if let Some(link) = self.links.get_mut(&c.address) {
            link.conn = None;
            if let ConnectionError::Authentication { error, .. } = &error {
                link.auth_failure = Some(error.clone());
            }
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

    /// A Metadata request of the client's own got no answer: ask again
    /// after a backoff (the next pump schedules it).
    pub(super) fn metadata_lost(&mut self) {
        self.metadata_pending = false;
        self.metadata_retry = true;
    }

    pub(super) fn fail_in_flight(&mut self, request: InFlight, error: RequestError) {
        match request.purpose {
            Purpose::User(id) => self.events.push_back(Event::Response {
                id,
                result: Err(error),
            }),
            Purpose::Metadata { .. } => self.metadata_lost(),
            Purpose::FindCoordinator { key } => self.coordinators.forget(&key),
            Purpose::ApiVersions
            | Purpose::SaslHandshake
            | Purpose::SaslAuthenticate
            | Purpose::SaslToken
            | Purpose::Abandoned => {}
        }
    }

    pub(super) fn fail_queued(&mut self, q: Queued, error: RequestError) {
        match q.payload {
            Payload::User { id, .. } => self.events.push_back(Event::Response {
                id,
                result: Err(error),
            }),
            Payload::Metadata { .. } => self.metadata_lost(),
            // No broker can carry the key (a transactional id before
            // Kafka 0.11): the requests waiting for it fail, not loop.
            Payload::FindCoordinator { key } => match error {
                RequestError::UnsupportedVersion { .. } => self
                    .coordinators
                    .fail(&key, crate::protocol::ErrorCode::UNSUPPORTED_VERSION),
                _ => self.coordinators.forget(&key),
            },
        }
    }
}

pub(super) fn decode_any_response(
    frame: &Frame,
    api_key: ApiKey,
    version: i16,
) -> Result<AnyResponse, DecodeError> {
    let mut r = Reader::new(frame.data.clone());
    ResponseHeader::decode(&mut r, api_key.response_header_version(version))?;
    // Bytes after the body are ignored, as the Java client and librdkafka
    // ignore them: librdkafka's mock cluster, for one, ends its Metadata v12
    // answer with an extra byte.
    AnyResponse::decode(api_key.key(), version, &mut r)
}

pub(super) fn decode_response_as<M: Message>(
    frame: &Frame,
    version: i16,
) -> Result<M, DecodeError> {
    let mut r = Reader::new(frame.data.clone());
    ResponseHeader::decode(&mut r, 0)?;
    let body = M::decode(&mut r, version)?;
    r.expect_end().map_err(|e| e.in_message(M::NAME, version))?;
    Ok(body)
}

/// Exponential backoff with ±20% jitter: `first * 2^(failures-1)`, capped.
pub(super) fn backoff(first: Duration, max: Duration, failures: u32, rng: &mut Rng) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let base = first.saturating_mul(1u32 << exp).min(max);
    let jitter = 0.8 + 0.4 * rng.unit();
    base.mul_f64(jitter).min(max)
}
