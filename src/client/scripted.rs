//! Scripted brokers for deterministic core tests: they answer the frames
//! the client writes, on a clock the test moves by hand. No sockets, no
//! sleeps. Used by the client's and the producer's tests.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::client::*;
use crate::protocol::frame::{decode_request, encode_response_with};
use crate::protocol::messages::api_versions_response::ApiVersion;
use crate::protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use crate::protocol::messages::{
    ApiVersionsResponse, ListGroupsResponse, MetadataResponse, RequestHeader,
};
use crate::protocol::{AnyRequest, AnyResponse, ApiKey};

/// How a scripted broker answers one request.
pub(crate) enum Reply {
    Respond(AnyResponse),
    /// Write these raw bytes (a whole frame, size prefix included).
    Raw(Vec<u8>),
    /// Hang up.
    Close,
    /// Say nothing.
    Silence,
    /// Answer, but only when the test calls [`Harness::release_held`]: a
    /// request in flight for as long as the test wants. Later answers on
    /// the same connection wait behind it, in order, as a broker's do.
    Later(AnyResponse),
}

pub(crate) type Responder = Box<dyn FnMut(&str, &RequestHeader, &AnyRequest) -> Reply>;

/// The client, a clock, and scripted brokers by address.
pub(crate) struct Harness {
    pub client: Client,
    pub now: Instant,
    /// Connections the driver opened: id -> address.
    pub open: BTreeMap<ConnectionId, String>,
    /// Addresses that refuse connections.
    pub refused: Vec<String>,
    pub responder: Responder,
    /// Every request the brokers saw: (address, api key, version).
    pub seen: Vec<(String, ApiKey, i16)>,
    pub events: Vec<Event>,
    /// Answers held back (`Reply::Later`), per connection in order.
    held: Vec<(ConnectionId, Bytes)>,
}

impl Harness {
    pub fn new(bootstrap: &[&str], responder: Responder) -> Self {
        let now = Instant::now();
        let config = ClientConfig::new(bootstrap.iter().copied())
            .with_request_timeout(Duration::from_secs(5))
            .with_seed(42);
        Harness {
            client: Client::new(config, now),
            now,
            open: BTreeMap::new(),
            refused: Vec::new(),
            responder,
            seen: Vec::new(),
            events: Vec::new(),
            held: Vec::new(),
        }
    }

    /// Carries out IO until nothing moves.
    pub fn run(&mut self) {
        for _ in 0..1000 {
            let Some(io) = self.client.poll_io() else {
                break;
            };
            match io {
                Io::Connect { conn, host, port } => {
                    let address = format!("{host}:{port}");
                    if self.refused.contains(&address) {
                        self.client.handle_disconnected(conn, "refused", self.now);
                    } else {
                        self.open.insert(conn, address);
                        self.client.handle_connected(conn, self.now);
                    }
                }
                Io::Send { conn, data } => self.serve(conn, data),
                Io::Close { conn } => {
                    self.open.remove(&conn);
                }
            }
        }
        while let Some(e) = self.client.poll_event() {
            self.events.push(e);
        }
        // The driver sleeps until this deadline: one already past would
        // make it spin.
        if let Some(deadline) = self.client.poll_timeout() {
            assert!(
                deadline > self.now,
                "poll_timeout is {:?} before now",
                self.now - deadline
            );
        }
    }

    fn serve(&mut self, conn: ConnectionId, data: Bytes) {
        let Some(address) = self.open.get(&conn).cloned() else {
            return;
        };
        for action in answer_frames(&mut self.responder, &address, data, &mut self.seen) {
            match action {
                Action::Answer(bytes) if !self.held.iter().any(|(c, _)| *c == conn) => {
                    self.client.handle_received(conn, &bytes, self.now);
                }
                Action::Answer(bytes) | Action::Hold(bytes) => self.held.push((conn, bytes)),
                Action::Raw(bytes) => self.client.handle_received(conn, &bytes, self.now),
                Action::Close => {
                    self.open.remove(&conn);
                    self.client
                        .handle_disconnected(conn, "closed by peer", self.now);
                }
            }
        }
    }

    /// Hands the client every answer held back, in order, on the
    /// connections still open.
    pub fn release_held(&mut self) {
        for (conn, bytes) in std::mem::take(&mut self.held) {
            if self.open.contains_key(&conn) {
                self.client.handle_received(conn, &bytes, self.now);
            }
        }
        self.run();
    }

    /// Carries out IO and offers the client's events to `machine` until
    /// nothing moves; returns what the machine reported meanwhile. (The
    /// engine does this for real; core tests of one machine use this.)
    pub fn settle<M: crate::engine::Machine>(&mut self, machine: &mut M) -> Vec<M::Output> {
        for _ in 0..500 {
            self.run();
            let events: Vec<Event> = self.events.drain(..).collect();
            if events.is_empty() {
                break;
            }
            for e in events {
                machine.handle_client_event(&mut self.client, &e, self.now);
            }
        }
        std::iter::from_fn(|| machine.poll_output()).collect()
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.client.handle_timeout(self.now);
        self.run();
    }

    pub fn responses(&self) -> Vec<&Result<Response, RequestError>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Response { result, .. } => Some(result),
                _ => None,
            })
            .collect()
    }
}

/// What a scripted broker does about one request frame.
pub(crate) enum Action {
    /// Write this response frame.
    Answer(Bytes),
    /// Hold this response frame until the test releases it.
    Hold(Bytes),
    /// Write these raw bytes.
    Raw(Vec<u8>),
    /// Hang up (the frames after it are not read).
    Close,
}

/// Reads the request frames a client wrote to `address`, notes each in
/// `seen`, and asks `responder` what to do about it.
pub(crate) fn answer_frames(
    responder: &mut Responder,
    address: &str,
    mut data: Bytes,
    seen: &mut Vec<(String, ApiKey, i16)>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    while data.len() >= 4 {
        let size = i32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let frame = data.slice(4..4 + size);
        data = data.slice(4 + size..);
        let (header, request) = decode_request(frame).expect("client frames decode");
        let api = request.api_key();
        let version = header.request_api_version;
        seen.push((address.to_string(), api, version));
        let encode = |body: &AnyResponse| {
            let mut out = BytesMut::new();
            write_response(&mut out, api, version, header.correlation_id, body);
            out.freeze()
        };
        match responder(address, &header, &request) {
            Reply::Respond(body) => actions.push(Action::Answer(encode(&body))),
            Reply::Later(body) => actions.push(Action::Hold(encode(&body))),
            Reply::Raw(bytes) => actions.push(Action::Raw(bytes)),
            Reply::Close => {
                actions.push(Action::Close);
                break;
            }
            Reply::Silence => {}
        }
    }
    actions
}

pub(crate) fn write_response(
    out: &mut BytesMut,
    api: ApiKey,
    version: i16,
    cid: i32,
    body: &AnyResponse,
) {
    encode_response_with(out, api, version, cid, |b| body.encode(b, version)).expect("encodes");
}

pub(crate) fn api_versions(ranges: &[(ApiKey, i16, i16)]) -> AnyResponse {
    AnyResponse::ApiVersions(ApiVersionsResponse {
        api_keys: ranges
            .iter()
            .map(|(k, min, max)| ApiVersion {
                api_key: k.key(),
                min_version: *min,
                max_version: *max,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

pub(crate) fn modern_versions() -> AnyResponse {
    api_versions(&[
        (ApiKey::ApiVersions, 0, 4),
        (ApiKey::Metadata, 0, 12),
        (ApiKey::ListGroups, 0, 5),
        (ApiKey::Produce, 3, 11),
    ])
}

/// Two brokers, ids 1 and 2, on "b1:9092" and "b2:9092"; topic "t" with
/// partition 0 led by `leader`.
pub(crate) fn metadata(leader: i32) -> AnyResponse {
    AnyResponse::Metadata(MetadataResponse {
        brokers: [(1, "b1"), (2, "b2")]
            .iter()
            .map(|(id, host)| MetadataResponseBroker {
                node_id: *id,
                host: host.to_string(),
                port: 9092,
                ..Default::default()
            })
            .collect(),
        controller_id: 1,
        topics: vec![MetadataResponseTopic {
            name: Some("t".into()),
            partitions: vec![MetadataResponsePartition {
                partition_index: 0,
                leader_id: leader,
                replica_nodes: vec![1, 2],
                isr_nodes: vec![1, 2],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// A well-behaved modern cluster.
pub(crate) fn modern_cluster() -> Responder {
    Box::new(|_, _, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Respond(modern_versions()),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(2)),
        AnyRequest::ListGroups(_) => {
            Reply::Respond(AnyResponse::ListGroups(ListGroupsResponse::default()))
        }
        _ => Reply::Silence,
    })
}
