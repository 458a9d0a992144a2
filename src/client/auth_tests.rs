//! SASL on the core's connections, against a scripted broker that speaks
//! both framings (SaslAuthenticate, and raw tokens as brokers 0.10.x take
//! them), checks PLAIN and SCRAM credentials itself and logs everything a
//! connection sends, so a test can see that nothing but the login goes
//! out before the login is done. No sockets, no sleeps.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::{Bytes, BytesMut};
use hmac::{Mac, SimpleHmac};
use sha2::{Digest, Sha512};

use super::scripted::{api_versions, metadata, write_response};
use super::*;
use crate::protocol::frame::decode_request;
use crate::protocol::messages::{
    ListGroupsRequest, ListGroupsResponse, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use crate::protocol::{AnyRequest, AnyResponse, ApiKey, ErrorCode};
use crate::security::{AuthError, OAuthBearerToken, SaslConfig, ScramHash, TlsError};

const SALT: &[u8] = b"salt-of-the-earth";
const ITERATIONS: u32 = 4096;

/// What a connection sent, as the broker saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sent {
    Request(ApiKey, i16),
    /// A raw SASL token (after SaslHandshake v0).
    Token,
}

/// The broker's view of one connection.
#[derive(Default)]
struct Peer {
    authenticated: bool,
    /// SaslHandshake v0 was answered: tokens come raw.
    raw: bool,
    mechanism: Option<String>,
    /// SCRAM: the client-first-bare and server-first of the exchange.
    scram: Option<(String, String)>,
}

struct SaslBroker {
    mechanisms: Vec<&'static str>,
    handshake_max: i16,
    password: &'static str,
    session_lifetime_ms: i64,
    /// Answers to ListGroups are held back until released.
    hold_list_groups: bool,
    /// Sends a forged SCRAM server signature.
    forge_signature: bool,
    peers: BTreeMap<ConnectionId, Peer>,
    held: Vec<(ConnectionId, BytesMut)>,
    log: Vec<(ConnectionId, Sent)>,
}

impl SaslBroker {
    fn new(mechanisms: &[&'static str]) -> Self {
        SaslBroker {
            mechanisms: mechanisms.to_vec(),
            handshake_max: 1,
            password: "alice-secret",
            session_lifetime_ms: 0,
            hold_list_groups: false,
            forge_signature: false,
            peers: BTreeMap::new(),
            held: Vec::new(),
            log: Vec::new(),
        }
    }

    fn versions(&self) -> AnyResponse {
        api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 0, 12),
            (ApiKey::ListGroups, 0, 4),
            (ApiKey::SaslHandshake, 0, self.handshake_max),
            (ApiKey::SaslAuthenticate, 0, 2),
        ])
    }

    /// Every frame in `data`; returns the bytes to send back, or `None` to
    /// hang up.
    fn serve(&mut self, conn: ConnectionId, mut data: Bytes) -> Option<BytesMut> {
        let mut out = BytesMut::new();
        while data.len() >= 4 {
            let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
            let frame = data.slice(4..4 + size);
            data = data.slice(4 + size..);
            let peer = self.peers.entry(conn).or_default();
            if peer.raw && !peer.authenticated {
                self.log.push((conn, Sent::Token));
                let reply = self.token(conn, &frame)?;
                out.extend_from_slice(&(reply.len() as u32).to_be_bytes());
                out.extend_from_slice(&reply);
                continue;
            }
            let (header, request) = decode_request(frame).expect("client frames decode");
            let api = request.api_key();
            let version = header.request_api_version;
            self.log.push((conn, Sent::Request(api, version)));
            let peer = self.peers.entry(conn).or_default();
            let allowed_before_login = matches!(
                api,
                ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
            );
            assert!(
                peer.authenticated || allowed_before_login,
                "{api:?} sent before the login finished"
            );
            let body = match request {
                AnyRequest::ApiVersions(_) => self.versions(),
                AnyRequest::Metadata(_) => metadata(1),
                AnyRequest::ListGroups(_) => {
                    let body = AnyResponse::ListGroups(ListGroupsResponse::default());
                    if self.hold_list_groups {
                        let mut held = BytesMut::new();
                        write_response(&mut held, api, version, header.correlation_id, &body);
                        self.held.push((conn, held));
                        continue;
                    }
                    body
                }
                AnyRequest::SaslHandshake(r) => {
                    let enabled = self.mechanisms.contains(&r.mechanism.as_str());
                    let peer = self.peers.entry(conn).or_default();
                    peer.mechanism = Some(r.mechanism.clone());
                    peer.authenticated = false;
                    peer.raw = enabled && version == 0;
                    AnyResponse::SaslHandshake(SaslHandshakeResponse {
                        error_code: if enabled {
                            0
                        } else {
                            ErrorCode::UNSUPPORTED_SASL_MECHANISM.0
                        },
                        mechanisms: self.mechanisms.iter().map(|m| m.to_string()).collect(),
                    })
                }
                AnyRequest::SaslAuthenticate(r) => {
                    let response = match self.token(conn, &r.auth_bytes) {
                        Some(reply) => SaslAuthenticateResponse {
                            auth_bytes: Bytes::from(reply),
                            session_lifetime_ms: self.session_lifetime_ms,
                            ..Default::default()
                        },
                        None => SaslAuthenticateResponse {
                            error_code: ErrorCode::SASL_AUTHENTICATION_FAILED.0,
                            error_message: Some(
                                "Authentication failed: Invalid username or password".into(),
                            ),
                            ..Default::default()
                        },
                    };
                    AnyResponse::SaslAuthenticate(response)
                }
                other => panic!("unexpected {other:?}"),
            };
            write_response(&mut out, api, version, header.correlation_id, &body);
        }
        Some(out)
    }

    /// The broker's side of a mechanism: the reply to a client token, or
    /// `None` when the login fails.
    fn token(&mut self, conn: ConnectionId, token: &[u8]) -> Option<Vec<u8>> {
        let password = self.password;
        let forge = self.forge_signature;
        let peer = self.peers.entry(conn).or_default();
        let text = String::from_utf8_lossy(token).into_owned();
        match peer.mechanism.as_deref() {
            Some("PLAIN") => {
                let ok = text == format!("\0alice\0{password}");
                peer.authenticated = ok;
                ok.then(Vec::new)
            }
            Some("OAUTHBEARER") => {
                let ok = text.starts_with("n,,\x01auth=Bearer ") && text.ends_with("\x01\x01");
                peer.authenticated = ok;
                ok.then(Vec::new)
            }
            Some("SCRAM-SHA-512") => match peer.scram.take() {
                None => {
                    let bare = text.strip_prefix("n,,")?.to_string();
                    let nonce = bare.split(',').find_map(|a| a.strip_prefix("r="))?;
                    let server_first = format!(
                        "r={nonce}SERVERNONCE,s={},i={ITERATIONS}",
                        BASE64.encode(SALT)
                    );
                    peer.scram = Some((bare, server_first.clone()));
                    Some(server_first.into_bytes())
                }
                Some((bare, server_first)) => {
                    let (without_proof, proof) = text.rsplit_once(",p=")?;
                    let proof = BASE64.decode(proof).ok()?;
                    let auth = format!("{bare},{server_first},{without_proof}");
                    let salted = pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(
                        password.as_bytes(),
                        SALT,
                        ITERATIONS,
                    );
                    let stored_key = Sha512::digest(mac(&salted, b"Client Key"));
                    let signature = mac(&stored_key, auth.as_bytes());
                    let client_key: Vec<u8> =
                        proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
                    if Sha512::digest(&client_key)[..] != stored_key[..] {
                        return None;
                    }
                    peer.authenticated = true;
                    let mut server_signature = mac(&mac(&salted, b"Server Key"), auth.as_bytes());
                    if forge {
                        server_signature[0] ^= 1;
                    }
                    Some(format!("v={}", BASE64.encode(server_signature)).into_bytes())
                }
            },
            _ => None,
        }
    }

    /// What connection `conn` sent, in order.
    fn sent_on(&self, conn: ConnectionId) -> Vec<Sent> {
        self.log
            .iter()
            .filter(|(c, _)| *c == conn)
            .map(|(_, s)| s.clone())
            .collect()
    }
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <SimpleHmac<Sha512> as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// The client, the broker and a hand-moved clock.
struct Run {
    client: Client,
    broker: SaslBroker,
    now: Instant,
    open: BTreeMap<ConnectionId, ()>,
    connects: usize,
    events: Vec<Event>,
}

impl Run {
    fn new(sasl: SaslConfig, broker: SaslBroker) -> Self {
        let now = Instant::now();
        let config = ClientConfig::new(["b1:9092"])
            .with_request_timeout(Duration::from_secs(5))
            .with_seed(7)
            .with_sasl(sasl);
        Run {
            client: Client::new(config, now),
            broker,
            now,
            open: BTreeMap::new(),
            connects: 0,
            events: Vec::new(),
        }
    }

    fn run(&mut self) {
        for _ in 0..1000 {
            let Some(io) = self.client.poll_io() else {
                break;
            };
            match io {
                Io::Connect { conn, .. } => {
                    self.connects += 1;
                    self.open.insert(conn, ());
                    self.client.handle_connected(conn, self.now);
                }
                Io::Send { conn, data } => {
                    if !self.open.contains_key(&conn) {
                        continue;
                    }
                    match self.broker.serve(conn, data) {
                        Some(out) => self.client.handle_received(conn, &out, self.now),
                        None => {
                            self.open.remove(&conn);
                            self.client.handle_disconnected(conn, "closed", self.now);
                        }
                    }
                }
                Io::Close { conn } => {
                    self.open.remove(&conn);
                }
            }
        }
        while let Some(e) = self.client.poll_event() {
            self.events.push(e);
        }
        if let Some(deadline) = self.client.poll_timeout() {
            assert!(deadline > self.now, "poll_timeout in the past");
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.client.handle_timeout(self.now);
        self.run();
    }

    /// Releases held answers.
    fn release(&mut self) {
        for (conn, out) in std::mem::take(&mut self.broker.held) {
            self.client.handle_received(conn, &out, self.now);
        }
        self.run();
    }

    fn first_conn(&self) -> ConnectionId {
        self.broker.log.first().expect("something was sent").0
    }

    fn response(&self, id: RequestId) -> Option<&Result<Response, RequestError>> {
        self.events.iter().find_map(|e| match e {
            Event::Response { id: got, result } if *got == id => Some(result),
            _ => None,
        })
    }

    fn auth_errors(&self) -> Vec<&AuthError> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::ConnectionLost {
                    error: ConnectionError::Authentication { error, .. },
                    ..
                } => Some(error),
                _ => None,
            })
            .collect()
    }
}

use Sent::{Request as Req, Token};

#[test]
fn scram_login_comes_before_any_other_request() {
    let mut run = Run::new(
        SaslConfig::scram_sha_512("alice", "alice-secret"),
        SaslBroker::new(&["PLAIN", "SCRAM-SHA-512"]),
    );
    run.run();
    assert!(run.client.has_metadata(), "{:?}", run.events);
    let conn = run.first_conn();
    assert_eq!(
        run.broker.sent_on(conn),
        [
            Req(ApiKey::ApiVersions, 3),
            Req(ApiKey::SaslHandshake, 1),
            Req(ApiKey::SaslAuthenticate, 2),
            Req(ApiKey::SaslAuthenticate, 2),
            Req(ApiKey::Metadata, 12),
        ]
    );
    assert!(run.auth_errors().is_empty());
}

#[test]
fn brokers_before_1_0_get_raw_tokens() {
    for sasl in [
        SaslConfig::plain("alice", "alice-secret"),
        SaslConfig::scram_sha_512("alice", "alice-secret"),
    ] {
        let mut broker = SaslBroker::new(&["PLAIN", "SCRAM-SHA-512"]);
        broker.handshake_max = 0;
        let scram = matches!(sasl, SaslConfig::Scram { .. });
        let mut run = Run::new(sasl, broker);
        run.run();
        assert!(run.client.has_metadata(), "{:?}", run.events);
        let mut expected = vec![
            Req(ApiKey::ApiVersions, 3),
            Req(ApiKey::SaslHandshake, 0),
            Token,
        ];
        if scram {
            expected.push(Token);
        }
        expected.push(Req(ApiKey::Metadata, 12));
        assert_eq!(run.broker.sent_on(run.first_conn()), expected);
    }
}

#[test]
fn a_wrong_password_fails_waiting_calls_without_a_reconnect_storm() {
    let mut broker = SaslBroker::new(&["PLAIN"]);
    broker.password = "another-password";
    let mut run = Run::new(SaslConfig::plain("alice", "alice-secret"), broker);
    run.run();
    let errors = run.auth_errors();
    assert!(
        matches!(
            errors.first(),
            Some(AuthError::Failed { mechanism: "PLAIN", code: 58, message }) if message.contains("Invalid username")
        ),
        "{errors:?}"
    );
    // A call made now fails at once with the same error, not at its
    // timeout.
    let id = run
        .client
        .send(Target::AnyBroker, ListGroupsRequest::default(), run.now);
    run.run();
    assert!(
        matches!(
            run.response(id),
            Some(Err(RequestError::Authentication {
                error: AuthError::Failed { .. },
                ..
            }))
        ),
        "{:?}",
        run.response(id)
    );
    // Ten seconds of retrying: backed off, a handful of connections.
    for _ in 0..100 {
        run.advance(Duration::from_millis(100));
    }
    assert!(
        (3..=9).contains(&run.connects),
        "{} connections in 10 s",
        run.connects
    );
    assert!(!format!("{:?}", run.events).contains("alice-secret"));
}

#[test]
fn a_hang_up_during_a_raw_login_is_an_authentication_error() {
    let mut broker = SaslBroker::new(&["PLAIN"]);
    broker.handshake_max = 0;
    broker.password = "another-password";
    let mut run = Run::new(SaslConfig::plain("alice", "alice-secret"), broker);
    run.run();
    assert_eq!(
        run.auth_errors().first(),
        Some(&&AuthError::ClosedDuringAuthentication { mechanism: "PLAIN" })
    );
}

#[test]
fn a_mechanism_the_broker_does_not_enable_is_named() {
    let mut run = Run::new(
        SaslConfig::scram_sha_512("alice", "alice-secret"),
        SaslBroker::new(&["PLAIN", "SCRAM-SHA-256"]),
    );
    run.run();
    assert_eq!(
        run.auth_errors().first(),
        Some(&&AuthError::MechanismNotEnabled {
            mechanism: "SCRAM-SHA-512",
            enabled: vec!["PLAIN".into(), "SCRAM-SHA-256".into()],
        })
    );
}

#[test]
fn a_forged_scram_server_signature_is_refused() {
    let mut broker = SaslBroker::new(&["SCRAM-SHA-512"]);
    broker.forge_signature = true;
    let mut run = Run::new(SaslConfig::scram_sha_512("alice", "alice-secret"), broker);
    run.run();
    assert_eq!(
        run.auth_errors().first(),
        Some(&&AuthError::BadServerSignature)
    );
    assert!(!run.client.has_metadata());
}

#[test]
fn reauthentication_waits_for_requests_in_flight_and_keeps_their_order() {
    let mut broker = SaslBroker::new(&["SCRAM-SHA-512"]);
    broker.session_lifetime_ms = 10_000;
    let mut run = Run::new(SaslConfig::scram_sha_512("alice", "alice-secret"), broker);
    run.run();
    let conn = run.first_conn();
    let logins = |run: &Run| {
        run.broker
            .sent_on(conn)
            .iter()
            .filter(|s| **s == Req(ApiKey::SaslHandshake, 1))
            .count()
    };
    assert_eq!(logins(&run), 1);
    // A request in flight, its answer held, as the session nears its end
    // (re-login at 85-95% of the 10 s).
    run.broker.hold_list_groups = true;
    run.advance(Duration::from_millis(8_000));
    let first = run
        .client
        .send(Target::Broker(1), ListGroupsRequest::default(), run.now);
    run.run();
    run.advance(Duration::from_millis(1_600));
    // Due, but the request in flight is not answered: nothing new goes
    // out, not even the login.
    let second = run
        .client
        .send(Target::Broker(1), ListGroupsRequest::default(), run.now);
    run.run();
    assert_eq!(logins(&run), 1, "{:?}", run.broker.sent_on(conn));
    assert_eq!(
        run.broker.sent_on(conn).last(),
        Some(&Req(ApiKey::ListGroups, 4)),
        "the second request waits"
    );
    // The answer comes: then the re-login, then the second request.
    run.broker.hold_list_groups = false;
    run.release();
    assert!(matches!(run.response(first), Some(Ok(_))));
    let sent = run.broker.sent_on(conn);
    let tail: Vec<Sent> = sent[sent.len() - 4..].to_vec();
    assert_eq!(
        tail,
        [
            Req(ApiKey::SaslHandshake, 1),
            Req(ApiKey::SaslAuthenticate, 2),
            Req(ApiKey::SaslAuthenticate, 2),
            Req(ApiKey::ListGroups, 4),
        ]
    );
    assert!(matches!(run.response(second), Some(Ok(_))));
    assert_eq!(run.connects, 1, "the same connection throughout");
    assert!(run.auth_errors().is_empty());
    assert!(!run
        .events
        .iter()
        .any(|e| matches!(e, Event::ConnectionLost { .. })));
}

#[test]
fn oauthbearer_tokens_are_asked_for_and_refreshed_before_they_expire() {
    let config = crate::security::UnsecuredJwsConfig::new("admin");
    let mut run = Run::new(
        SaslConfig::oauthbearer_unsecured(config.clone()),
        SaslBroker::new(&["OAUTHBEARER"]),
    );
    run.run();
    let wanted = |run: &Run| {
        run.events
            .iter()
            .filter(|e| matches!(e, Event::OAuthBearerTokenWanted))
            .count()
    };
    assert_eq!(wanted(&run), 1);
    assert!(!run.client.has_metadata(), "no login without a token");
    // A token valid for 100 s, given at wall-clock time 1000 s.
    let wall = UNIX_EPOCH + Duration::from_secs(1_000);
    let token = OAuthBearerToken {
        expires_at: wall + Duration::from_secs(100),
        ..config.token_at(wall)
    };
    run.client
        .handle_oauthbearer_token(Ok(token), run.now, wall);
    run.run();
    assert!(run.client.has_metadata(), "{:?}", run.events);
    run.advance(Duration::from_secs(79));
    assert_eq!(wanted(&run), 1);
    run.advance(Duration::from_secs(2));
    assert_eq!(wanted(&run), 2, "refreshed at 80% of its life");
    // An expired token is refused before it is used.
    let stale = OAuthBearerToken {
        expires_at: wall,
        ..config.token_at(wall)
    };
    run.client
        .handle_oauthbearer_token(Ok(stale), run.now, wall + Duration::from_secs(5));
    run.run();
    assert!(
        run.auth_errors().is_empty(),
        "the current token still serves"
    );
}

#[test]
fn a_failing_token_provider_fails_the_login() {
    let mut run = Run::new(
        SaslConfig::oauthbearer_unsecured(crate::security::UnsecuredJwsConfig::new("admin")),
        SaslBroker::new(&["OAUTHBEARER"]),
    );
    run.run();
    run.client.handle_oauthbearer_token(
        Err("identity provider down".into()),
        run.now,
        SystemTime::now(),
    );
    run.run();
    assert_eq!(
        run.auth_errors().first(),
        Some(&&AuthError::Token {
            reason: "identity provider down".into()
        })
    );
}

#[test]
fn a_token_provider_that_never_answers_fails_the_login_in_time() {
    let mut run = Run::new(
        SaslConfig::oauthbearer_unsecured(crate::security::UnsecuredJwsConfig::new("admin")),
        SaslBroker::new(&["OAUTHBEARER"]),
    );
    run.run();
    assert!(run.auth_errors().is_empty());
    // The request timeout is 5 s.
    run.advance(Duration::from_secs(6));
    assert_eq!(
        run.auth_errors().first(),
        Some(&&AuthError::Token {
            reason: "the token provider did not answer within the request timeout".into()
        })
    );
    // The next login asks again.
    run.advance(Duration::from_secs(2));
    let wanted = run
        .events
        .iter()
        .filter(|e| matches!(e, Event::OAuthBearerTokenWanted))
        .count();
    assert_eq!(wanted, 2);
}

#[test]
fn a_tls_failure_from_the_driver_is_an_authentication_error() {
    let mut run = Run::new(
        SaslConfig::plain("alice", "alice-secret"),
        SaslBroker::new(&["PLAIN"]),
    );
    let conn = match run.client.poll_io() {
        Some(Io::Connect { conn, .. }) => conn,
        other => panic!("{other:?}"),
    };
    run.client
        .handle_tls_failed(conn, TlsError::UnknownIssuer, run.now);
    run.run();
    assert_eq!(
        run.auth_errors().first(),
        Some(&&AuthError::Tls(TlsError::UnknownIssuer))
    );
}

#[test]
fn without_sasl_no_login_is_attempted() {
    let _ = ScramHash::Sha256;
    let mut broker = SaslBroker::new(&["PLAIN"]);
    // Anything but ApiVersions before a login would trip the broker's
    // check, so pretend every connection is logged in.
    broker.peers.insert(
        ConnectionId(1),
        Peer {
            authenticated: true,
            ..Peer::default()
        },
    );
    let now = Instant::now();
    let mut run = Run {
        client: Client::new(ClientConfig::new(["b1:9092"]), now),
        broker,
        now,
        open: BTreeMap::new(),
        connects: 0,
        events: Vec::new(),
    };
    run.run();
    assert!(run.client.has_metadata());
    assert_eq!(
        run.broker.sent_on(ConnectionId(1)),
        [Req(ApiKey::ApiVersions, 3), Req(ApiKey::Metadata, 12)]
    );
}
