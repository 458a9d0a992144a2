//! The client's SASL login against a broker the input plays: the client is
//! configured for PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER; the
//! harness answers ApiVersions and SaslHandshake (v0: raw tokens follow;
//! v1: SaslAuthenticate at v0-v2), then answers every token with bytes
//! from the input (SCRAM's server-first and server-final, OAUTHBEARER's
//! error document), with error codes, session lifetimes, raw garbage,
//! hang-ups and time passing as the input says.
//!
//! Checked: no panic; nothing but ApiVersions, SaslHandshake and
//! SaslAuthenticate (or raw tokens) goes out on a connection before the
//! core reports it ready; the password never shows in the config's Debug.
#![no_main]

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use bytes::{BufMut, Bytes, BytesMut};
use kafkite::client::{Client, ClientConfig, ConnectionId, Event, Io};
use kafkite::protocol::frame::{decode_request, encode_response};
use kafkite::protocol::messages::api_versions_response::ApiVersion;
use kafkite::protocol::messages::{
    ApiVersionsResponse, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafkite::protocol::{AnyRequest, ApiKey};
use kafkite::security::{SaslConfig, UnsecuredJwsConfig};
use libfuzzer_sys::fuzz_target;

const PASSWORD: &str = "fuzz-password-7f3a";

/// The broker's view of one connection.
#[derive(Default)]
struct Peer {
    /// SaslHandshake v0 was accepted: tokens come raw.
    raw: bool,
    /// The core said the connection is ready.
    ready: bool,
}

/// What the input says the broker does next.
struct Script<'a> {
    data: &'a [u8],
}

impl<'a> Script<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    fn bytes(&mut self) -> &'a [u8] {
        let len = usize::from(self.byte().unwrap_or(0));
        let len = len.min(self.data.len());
        let (taken, rest) = self.data.split_at(len);
        self.data = rest;
        taken
    }
}

fuzz_target!(|data: &[u8]| {
    let mut script = Script { data };
    let Some(setup) = script.byte() else {
        return;
    };
    let sasl = match setup % 4 {
        0 => SaslConfig::plain("alice", PASSWORD),
        1 => SaslConfig::scram_sha_256("alice", PASSWORD),
        2 => SaslConfig::scram_sha_512("alice", PASSWORD),
        _ => SaslConfig::oauthbearer_unsecured(UnsecuredJwsConfig::new("alice")),
    };
    let handshake_max = i16::from(setup >> 2 & 1);
    let authenticate_max = i16::from(setup >> 3) % 3;
    let mut now = Instant::now();
    let config = ClientConfig::new(["b:9092"])
        .with_request_timeout(Duration::from_secs(5))
        .with_seed(u64::from(setup))
        .with_sasl(sasl);
    let mut client = Client::new(config, now);
    let mut peers: BTreeMap<ConnectionId, Peer> = BTreeMap::new();

    for _ in 0..64 {
        // Carry out the core's IO, answering what it sends; the events of
        // each answer are taken before the IO it led to (a connection is
        // known ready before what it sends next is served).
        while let Some(io) = client.poll_io() {
            match io {
                Io::Connect { conn, .. } => {
                    peers.insert(conn, Peer::default());
                    client.handle_connected(conn, now);
                }
                Io::Send { conn, data } => {
                    let Some(peer) = peers.get_mut(&conn) else {
                        continue;
                    };
                    let out = serve(peer, data, &mut script, (handshake_max, authenticate_max));
                    match out {
                        Some(out) => client.handle_received(conn, &out, now),
                        None => {
                            peers.remove(&conn);
                            client.handle_disconnected(conn, "closed", now);
                        }
                    }
                }
                Io::Close { conn } => {
                    peers.remove(&conn);
                }
            }
            take_events(&mut client, &mut peers, &mut script, now);
        }
        take_events(&mut client, &mut peers, &mut script, now);
        // Time passes, as much as the input says.
        let Some(step) = script.byte() else {
            break;
        };
        now += Duration::from_millis(u64::from(step) * 40);
        client.handle_timeout(now);
    }
    // The config is where the password lives (the whole client's Debug
    // would print its read buffers too, which is slow under ASan).
    assert!(
        !format!("{:?}", client.config()).contains(PASSWORD),
        "the password in Debug"
    );
});

/// Takes the core's events: a connection ready (one broker, so every
/// connection of it), a token wanted.
fn take_events(
    client: &mut Client,
    peers: &mut BTreeMap<ConnectionId, Peer>,
    script: &mut Script<'_>,
    now: Instant,
) {
    while let Some(event) = client.poll_event() {
        match event {
            Event::BrokerReady { .. } => {
                for peer in peers.values_mut() {
                    peer.ready = true;
                }
            }
            Event::OAuthBearerTokenWanted => {
                let wall = SystemTime::now();
                let token = match script.byte() {
                    Some(b) if b % 5 == 0 => Err("provider down".to_string()),
                    _ => Ok(UnsecuredJwsConfig::new("alice").token_at(wall)),
                };
                client.handle_oauthbearer_token(token, now, wall);
            }
            _ => {}
        }
    }
}

/// Answers the frames in `data`; `None` hangs up.
fn serve(
    peer: &mut Peer,
    mut data: Bytes,
    script: &mut Script<'_>,
    (handshake_max, authenticate_max): (i16, i16),
) -> Option<BytesMut> {
    let mut out = BytesMut::new();
    while data.len() >= 4 {
        let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if data.len() < 4 + size {
            break;
        }
        let frame = data.slice(4..4 + size);
        data = data.slice(4 + size..);
        if peer.raw && !peer.ready {
            // A raw token: answer with one from the input, or hang up.
            match script.byte()? % 8 {
                0 => return None,
                1 => out.extend_from_slice(script.bytes()),
                _ => {
                    let token = script.bytes();
                    out.put_u32(token.len() as u32);
                    out.extend_from_slice(token);
                }
            }
            continue;
        }
        let (header, request) = decode_request(frame).expect("the client's frames decode");
        let api = request.api_key();
        assert!(
            peer.ready
                || matches!(
                    api,
                    ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
                ),
            "{api:?} sent before the login finished"
        );
        let version = header.request_api_version;
        let id = header.correlation_id;
        let encoded = match request {
            AnyRequest::ApiVersions(_) => {
                let body = ApiVersionsResponse {
                    api_keys: [
                        (ApiKey::ApiVersions, 0, 3),
                        (ApiKey::Metadata, 0, 12),
                        (ApiKey::SaslHandshake, 0, handshake_max),
                        (ApiKey::SaslAuthenticate, 0, authenticate_max),
                    ]
                    .iter()
                    .map(|(k, min, max)| ApiVersion {
                        api_key: k.key(),
                        min_version: *min,
                        max_version: *max,
                        ..Default::default()
                    })
                    .collect(),
                    ..Default::default()
                };
                encode_response(&mut out, api, version, id, &body)
            }
            AnyRequest::SaslHandshake(r) => {
                let refuse = script.byte().unwrap_or(1) % 16 == 0;
                peer.raw = version == 0 && !refuse;
                let body = SaslHandshakeResponse {
                    error_code: if refuse { 33 } else { 0 },
                    mechanisms: vec![r.mechanism],
                };
                encode_response(&mut out, api, version, id, &body)
            }
            AnyRequest::SaslAuthenticate(_) => {
                let choice = script.byte()?;
                if choice % 16 == 0 {
                    return None;
                }
                let body = SaslAuthenticateResponse {
                    error_code: if choice % 16 == 1 { 58 } else { 0 },
                    error_message: (choice % 16 == 1)
                        .then(|| String::from_utf8_lossy(script.bytes()).into_owned()),
                    auth_bytes: Bytes::copy_from_slice(script.bytes()),
                    // A lifetime only where the version carries one (v1+).
                    session_lifetime_ms: if version >= 1 {
                        i64::from(script.byte().unwrap_or(0)) * 100
                            - if choice % 16 == 2 { 1_000 } else { 0 }
                    } else {
                        0
                    },
                    ..Default::default()
                };
                encode_response(&mut out, api, version, id, &body)
            }
            // Once ready: metadata and the like get no answer.
            _ => Ok(()),
        };
        encoded.expect("the harness's answers encode");
    }
    Some(out)
}
