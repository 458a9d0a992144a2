//! SASL on a connection: after versions are negotiated, SaslHandshake names
//! the mechanism; its tokens then travel in SaslAuthenticate requests (v1
//! handshake, brokers since 1.0) or raw (v0, brokers 0.10.x). Nothing
//! else goes out before the exchange ends. A broker that gives the
//! session a lifetime (KIP-368) gets a new exchange before it ends, once
//! the requests in flight are answered, so none of them is failed or
//! reordered. OAUTHBEARER tokens are asked of the driver
//! ([`Event::OAuthBearerTokenWanted`]) and refreshed before they expire.

use std::time::{Duration, Instant, SystemTime};

use bytes::{BufMut, Bytes};

use super::*;
use crate::client::connection::{ConnAuth, SaslFraming};
use crate::protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use crate::security::sasl::{SaslSession, SaslStep};
use crate::security::{AuthError, OAuthBearerToken};

/// What the client knows of OAUTHBEARER tokens.
#[derive(Debug, Default)]
pub(super) struct OAuthTokens {
    /// The current token and when it expires.
    token: Option<(OAuthBearerToken, Instant)>,
    /// Asked of the driver, not answered yet.
    requested: bool,
    /// When to ask for the next one.
    refresh_at: Option<Instant>,
}

impl OAuthTokens {
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.refresh_at.filter(|_| !self.requested)
    }

    fn usable(&self, now: Instant) -> Option<&OAuthBearerToken> {
        self.token
            .as_ref()
            .filter(|(_, expires)| *expires > now)
            .map(|(token, _)| token)
    }
}

/// Share of a token's lifetime after which a new one is asked for (the
/// Java client's `sasl.login.refresh.window.factor`).
const TOKEN_REFRESH_AT: f64 = 0.8;

/// A failed token refresh is asked again after this, while the old token
/// lasts.
const TOKEN_RETRY: Duration = Duration::from_secs(10);

impl Client {
    /// Versions are known: log in if SASL is configured, else ready.
    pub(super) fn versions_known(
        &mut self,
        conn: ConnectionId,
        table: ApiVersionTable,
        now: Instant,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.versions = table;
        if self.config.sasl.is_some() {
            self.start_authentication(conn, false, now);
        } else {
            self.mark_ready(conn);
        }
    }

    /// Sends SaslHandshake: the first step of a login or re-login.
    fn start_authentication(&mut self, conn: ConnectionId, reauth: bool, now: Instant) {
        let Some(sasl) = &self.config.sasl else {
            return;
        };
        let mechanism = sasl.mechanism().to_string();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        // Re-authentication needs v1 (KIP-368), as any broker that set a
        // session lifetime speaks.
        let wanted = VersionRange {
            min: if reauth { 1 } else { 0 },
            max: 1,
        };
        let Some(version) = c.versions.choose(ApiKey::SaslHandshake, wanted) else {
            self.fail_authentication(conn, AuthError::SaslNotSupported, now);
            return;
        };
        c.state = ConnState::Authenticating;
        c.reauth_at = None;
        c.auth = Some(ConnAuth {
            framing: SaslFraming::Handshake(version),
            session: None,
            awaiting_token: None,
            reauth,
        });
        let request = SaslHandshakeRequest { mechanism };
        self.write_own_request(
            conn,
            ApiKey::SaslHandshake,
            version,
            &request,
            Purpose::SaslHandshake,
            now,
        );
    }

    /// Encodes one of the client's own requests onto a connection, in
    /// flight with `purpose`. Fails the connection if it cannot be encoded.
    pub(super) fn write_own_request<M: Message>(
        &mut self,
        conn: ConnectionId,
        api_key: ApiKey,
        version: i16,
        body: &M,
        purpose: Purpose,
        now: Instant,
    ) {
        let deadline = now + self.config.request_timeout;
        let client_id = self.config.client_id.clone();
        let Some(c) = self.conns.get_mut(&conn) else {
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
        if encode_request_with(&mut c.outgoing, &ctx, |b| body.encode(b, version)).is_err() {
            c.outgoing.truncate(mark);
            return;
        }
        c.in_flight.push_back(InFlight {
            correlation_id,
            api_key,
            version,
            purpose,
            deadline,
        });
    }

    /// An answer to SaslHandshake or SaslAuthenticate (`purpose` says
    /// which); a refusal or an answer that does not decode fails the
    /// login.
    pub(super) fn handle_login_answer(
        &mut self,
        conn: ConnectionId,
        (purpose, version): (&Purpose, i16),
        frame: &Frame,
        now: Instant,
    ) {
        let handled = match purpose {
            Purpose::SaslHandshake => self.handle_sasl_handshake(conn, version, frame, now),
            _ => self.handle_sasl_authenticate(conn, version, frame, now),
        };
        if let Err(error) = handled {
            self.fail_authentication(conn, error, now);
        }
    }

    /// The answer to SaslHandshake: the mechanism is enabled, and how
    /// tokens travel from here.
    fn handle_sasl_handshake(
        &mut self,
        conn: ConnectionId,
        version: i16,
        frame: &Frame,
        now: Instant,
    ) -> Result<(), AuthError> {
        let mechanism = self.mechanism_name();
        let response: SaslHandshakeResponse =
            decode_login_answer(frame, ApiKey::SaslHandshake, version, mechanism)?;
        if response.error_code != 0 {
            let code = ErrorCode(response.error_code);
            return Err(if code == ErrorCode::UNSUPPORTED_SASL_MECHANISM {
                AuthError::MechanismNotEnabled {
                    mechanism,
                    enabled: response.mechanisms,
                }
            } else {
                AuthError::Failed {
                    mechanism,
                    code: code.0,
                    message: format!("SaslHandshake refused: {code:?}"),
                }
            });
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return Ok(());
        };
        let framing = if version >= 1 {
            let versions = VersionRange { min: 0, max: 2 };
            let version = c
                .versions
                .choose(ApiKey::SaslAuthenticate, versions)
                .ok_or(AuthError::SaslNotSupported)?;
            SaslFraming::Authenticate(version)
        } else {
            SaslFraming::Raw
        };
        if let Some(auth) = &mut c.auth {
            auth.framing = framing;
        }
        self.begin_mechanism(conn, now);
        Ok(())
    }

    /// Starts the mechanism and sends its first message; for OAUTHBEARER,
    /// once a token is at hand.
    fn begin_mechanism(&mut self, conn: ConnectionId, now: Instant) {
        let Some(sasl) = &self.config.sasl else {
            return;
        };
        let oauth = matches!(sasl, crate::security::SaslConfig::OAuthBearer(_));
        let token = self.oauth.usable(now).cloned();
        if oauth && token.is_none() {
            let until = now + self.config.request_timeout;
            if let Some(auth) = self.conns.get_mut(&conn).and_then(|c| c.auth.as_mut()) {
                auth.awaiting_token = Some(until);
            }
            self.want_token();
            return;
        }
        let nonce = self.nonces.next_bytes();
        match SaslSession::start(sasl, nonce, token.as_ref()) {
            Ok((session, first)) => {
                if let Some(auth) = self.conns.get_mut(&conn).and_then(|c| c.auth.as_mut()) {
                    auth.session = Some(session);
                    auth.awaiting_token = None;
                }
                self.send_sasl_message(conn, first, now);
            }
            Err(error) => self.fail_authentication(conn, error, now),
        }
    }

    /// Sends a mechanism's message the way the handshake said.
    fn send_sasl_message(&mut self, conn: ConnectionId, message: Vec<u8>, now: Instant) {
        let framing = self
            .conns
            .get(&conn)
            .and_then(|c| c.auth.as_ref())
            .map(|a| a.framing);
        match framing {
            Some(SaslFraming::Authenticate(version)) => {
                let request = SaslAuthenticateRequest {
                    auth_bytes: Bytes::from(message),
                    ..Default::default()
                };
                self.write_own_request(
                    conn,
                    ApiKey::SaslAuthenticate,
                    version,
                    &request,
                    Purpose::SaslAuthenticate,
                    now,
                );
            }
            Some(SaslFraming::Raw) => {
                let deadline = now + self.config.request_timeout;
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                let Ok(len) = u32::try_from(message.len()) else {
                    return;
                };
                c.outgoing.put_u32(len);
                c.outgoing.extend_from_slice(&message);
                c.in_flight.push_back(InFlight {
                    correlation_id: 0,
                    api_key: ApiKey::SaslAuthenticate,
                    version: -1,
                    purpose: Purpose::SaslToken,
                    deadline,
                });
            }
            Some(SaslFraming::Handshake(_)) | None => {}
        }
    }

    /// A SaslAuthenticate answer: the broker's verdict and its next token.
    fn handle_sasl_authenticate(
        &mut self,
        conn: ConnectionId,
        version: i16,
        frame: &Frame,
        now: Instant,
    ) -> Result<(), AuthError> {
        let mechanism = self.mechanism_name();
        let response: SaslAuthenticateResponse =
            decode_login_answer(frame, ApiKey::SaslAuthenticate, version, mechanism)?;
        if response.error_code != 0 {
            let code = ErrorCode(response.error_code);
            let message = response
                .error_message
                .unwrap_or_else(|| format!("{code:?}"));
            return Err(AuthError::Failed {
                mechanism,
                code: code.0,
                message,
            });
        }
        let lifetime = (version >= 1 && response.session_lifetime_ms > 0)
            .then(|| Duration::from_millis(response.session_lifetime_ms.unsigned_abs()));
        self.step_mechanism(conn, &response.auth_bytes, lifetime, now);
        Ok(())
    }

    /// A raw token from a broker before 1.0.
    pub(super) fn handle_sasl_token(&mut self, conn: ConnectionId, token: Bytes, now: Instant) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.in_flight.pop_front();
        }
        self.step_mechanism(conn, &token, None, now);
    }

    fn step_mechanism(
        &mut self,
        conn: ConnectionId,
        server: &[u8],
        lifetime: Option<Duration>,
        now: Instant,
    ) {
        let Some(sasl) = &self.config.sasl else {
            return;
        };
        let Some(session) = self
            .conns
            .get_mut(&conn)
            .and_then(|c| c.auth.as_mut())
            .and_then(|a| a.session.as_mut())
        else {
            let error = AuthError::Malformed {
                mechanism: sasl.mechanism(),
                reason: "a token before the exchange began".into(),
            };
            self.fail_authentication(conn, error, now);
            return;
        };
        match session.step(server, sasl, &mut self.scram_cache) {
            Ok(SaslStep::Send(message)) => self.send_sasl_message(conn, message, now),
            Ok(SaslStep::Done) => self.authenticated(conn, lifetime, now),
            Err(error) => self.fail_authentication(conn, error, now),
        }
    }

    /// Logged in: the connection is ready (again), with a re-login planned
    /// before the session's lifetime ends, at 85-95% of it as the Java
    /// client does (spread, so a client's connections do not all pause
    /// at once).
    fn authenticated(&mut self, conn: ConnectionId, lifetime: Option<Duration>, now: Instant) {
        let factor = 0.85 + 0.1 * self.rng.unit();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let reauth = c.auth.take().is_some_and(|a| a.reauth);
        c.reauth_at = lifetime.map(|l| now + l.mul_f64(factor));
        if reauth {
            c.state = ConnState::Ready;
        } else {
            self.mark_ready(conn);
        }
    }

    /// The login failed: the connection is dropped with the error, which
    /// the calls waiting for this broker get too (see `dispatch_queue`).
    pub(super) fn fail_authentication(
        &mut self,
        conn: ConnectionId,
        error: AuthError,
        now: Instant,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let error = ConnectionError::Authentication {
            address: c.address.clone(),
            error,
        };
        self.drop_connection(conn, error, true, now);
    }

    /// Ready connections whose session is about to end stop taking
    /// requests; those with nothing left in flight log in again.
    pub(super) fn reauthenticate_due(&mut self, now: Instant) {
        let mut start = Vec::new();
        for c in self.conns.values_mut() {
            if c.state == ConnState::Ready && c.reauth_at.is_some_and(|t| t <= now) {
                c.state = ConnState::ReauthPending;
            }
            if c.state == ConnState::ReauthPending && c.in_flight.is_empty() && !c.closing {
                start.push(c.id);
            }
        }
        for conn in start {
            self.start_authentication(conn, true, now);
        }
    }

    fn mechanism_name(&self) -> &'static str {
        self.config.sasl.as_ref().map_or("SASL", |s| s.mechanism())
    }

    fn want_token(&mut self) {
        if !self.oauth.requested {
            self.oauth.requested = true;
            self.events.push_back(Event::OAuthBearerTokenWanted);
        }
    }

    /// Logins that waited for a token past their deadline fail; the next
    /// login asks the provider again.
    pub(super) fn token_waits_expired(&mut self, now: Instant) {
        let expired: Vec<ConnectionId> = self
            .conns
            .values()
            .filter(|c| {
                c.auth
                    .as_ref()
                    .and_then(|a| a.awaiting_token)
                    .is_some_and(|until| until <= now)
            })
            .map(|c| c.id)
            .collect();
        if expired.is_empty() {
            return;
        }
        self.oauth.requested = false;
        for conn in expired {
            let error = AuthError::Token {
                reason: "the token provider did not answer within the request timeout".into(),
            };
            self.fail_authentication(conn, error, now);
        }
    }

    /// Asks for a new token when the current one is due for refresh.
    pub(super) fn refresh_token_due(&mut self, now: Instant) {
        if self.oauth.refresh_at.is_some_and(|t| t <= now) && !self.oauth.requested {
            self.oauth.refresh_at = None;
            self.want_token();
        }
    }

    /// The answer to [`Event::OAuthBearerTokenWanted`]: a token from the
    /// application's provider, or why there is none. `wall_clock` is the
    /// time now, to tell how long the token lasts (the core reads no
    /// clock). Connections waiting for a token go on with it, or fail with
    /// the reason.
    pub fn handle_oauthbearer_token(
        &mut self,
        token: Result<OAuthBearerToken, String>,
        now: Instant,
        wall_clock: SystemTime,
    ) {
        self.oauth.requested = false;
        let token = token.and_then(|t| match t.expires_at.duration_since(wall_clock) {
            Ok(left) if !left.is_zero() => Ok((t, left)),
            _ => Err("the provider's token has already expired".to_string()),
        });
        let waiting: Vec<ConnectionId> = self
            .conns
            .values()
            .filter(|c| c.auth.as_ref().is_some_and(|a| a.awaiting_token.is_some()))
            .map(|c| c.id)
            .collect();
        match token {
            Ok((token, left)) => {
                self.oauth.token = Some((token, now + left));
                self.oauth.refresh_at = Some(now + left.mul_f64(TOKEN_REFRESH_AT));
                for conn in waiting {
                    self.begin_mechanism(conn, now);
                }
            }
            Err(reason) => {
                // A current token keeps serving while the refresh is tried
                // again; without one, waiting logins fail.
                if let Some((_, expires)) = &self.oauth.token {
                    self.oauth.refresh_at = Some((now + TOKEN_RETRY).min(*expires));
                }
                for conn in waiting {
                    let error = AuthError::Token {
                        reason: reason.clone(),
                    };
                    self.fail_authentication(conn, error, now);
                }
            }
        }
        self.pump(now);
    }

    /// The driver could not secure `conn` with TLS, in the handshake or
    /// after it (a broker refusing the client's certificate says so after
    /// the TLS 1.3 handshake): the connection is gone, and the error
    /// reaches every call waiting for the broker.
    pub fn handle_tls_failed(
        &mut self,
        conn: ConnectionId,
        error: crate::security::TlsError,
        now: Instant,
    ) {
        self.fail_authentication(conn, AuthError::Tls(error), now);
        self.pump(now);
    }

    /// Replaces the seed of the client's nonces (SCRAM's) with 32 bytes of
    /// real randomness. A driver for real brokers calls it once, before
    /// connecting; simulations leave the seeded default.
    pub fn seed_entropy(&mut self, entropy: [u8; 32]) {
        self.nonces.reseed(entropy);
    }
}

/// Decodes an answer to a login request; one that does not decode is a
/// malformed message of the mechanism's exchange.
fn decode_login_answer<M: Message>(
    frame: &Frame,
    api_key: ApiKey,
    version: i16,
    mechanism: &'static str,
) -> Result<M, AuthError> {
    let mut r = Reader::new(frame.data.clone());
    ResponseHeader::decode(&mut r, api_key.response_header_version(version))
        .and_then(|_| M::decode(&mut r, version))
        .map_err(|error| AuthError::Malformed {
            mechanism,
            reason: format!("{} v{version} response: {error}", api_key.name()),
        })
}
