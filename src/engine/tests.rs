//! The engine against scripted brokers, on a hand-moved clock: answers
//! reach the machine that asked, timers fire only when due, and the
//! bootstrap and reconnect policies hold.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::*;
use crate::client::scripted::{
    answer_frames, api_versions, metadata, modern_cluster, Action, Reply, Responder,
};
use crate::client::{Io, Response};
use crate::producer::tests::scripted_broker::{cluster, value, Log};
use crate::producer::{ProducerConfig, ProducerEvent, ProducerRecord};
use crate::protocol::messages::ListGroupsRequest;
use crate::protocol::{AnyRequest, ApiKey};

/// An engine, its clock, and scripted brokers by address.
struct Rig {
    engine: Engine,
    now: Instant,
    responder: Responder,
    open: BTreeMap<ConnectionId, String>,
    refused: Vec<String>,
    events: Vec<EngineEvent>,
    /// Requests written: (address, API, version), in order.
    seen: Vec<(String, ApiKey, i16)>,
}

impl Rig {
    fn new(responder: Responder) -> Rig {
        Rig::with_config(ClientConfig::new(["b1:9092"]).with_seed(7), responder, &[])
    }

    fn with_config(config: ClientConfig, responder: Responder, refused: &[&str]) -> Rig {
        let now = Instant::now();
        let config = config.with_request_timeout(Duration::from_secs(5));
        let mut rig = Rig {
            engine: Engine::new(config, now),
            now,
            responder,
            open: BTreeMap::new(),
            refused: refused.iter().map(|a| a.to_string()).collect(),
            events: Vec::new(),
            seen: Vec::new(),
        };
        rig.run();
        rig
    }

    /// Carries out outputs until the engine waits; checks it never asks
    /// to be woken in the past.
    fn run(&mut self) {
        for _ in 0..10_000 {
            match self.engine.poll_output() {
                Output::Io(io) => self.io(io),
                Output::Event(event) => self.events.push(event),
                Output::Timeout(at) => {
                    if let Some(at) = at {
                        assert!(at > self.now, "a deadline {:?} in the past", self.now - at);
                    }
                    return;
                }
            }
        }
        panic!("the engine never went quiet");
    }

    fn io(&mut self, io: Io) {
        match io {
            Io::Connect { conn, host, port } => {
                let address = format!("{host}:{port}");
                if self.refused.contains(&address) {
                    self.engine.handle_disconnected(conn, "refused", self.now);
                } else {
                    self.open.insert(conn, address);
                    self.engine.handle_connected(conn, self.now);
                }
            }
            Io::Send { conn, data } => {
                let Some(address) = self.open.get(&conn).cloned() else {
                    return;
                };
                for action in answer_frames(&mut self.responder, &address, data, &mut self.seen) {
                    match action {
                        Action::Answer(bytes) | Action::Hold(bytes) => {
                            self.engine.handle_received(conn, &bytes, self.now)
                        }
                        Action::Raw(bytes) => self.engine.handle_received(conn, &bytes, self.now),
                        Action::Close => {
                            self.open.remove(&conn);
                            self.engine
                                .handle_disconnected(conn, "closed by peer", self.now);
                        }
                    }
                }
            }
            Io::Close { conn } => {
                self.open.remove(&conn);
            }
        }
    }

    /// How many requests of `api` went out.
    fn sent(&self, api: ApiKey) -> usize {
        self.seen.iter().filter(|(_, a, _)| *a == api).count()
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.engine.handle_timeout(self.now);
        self.run();
    }

    fn producer(&mut self, seed: u64) -> ProducerHandle {
        let producer = ProducerMachine::new(ProducerConfig::default(), seed, self.now);
        let handle = self.engine.add_producer(producer, self.now);
        self.run();
        handle
    }

    fn send(&mut self, handle: ProducerHandle, partition: i32, v: usize) {
        let now = self.now;
        let record = ProducerRecord::new("t")
            .partition(partition)
            .value(value(v));
        self.engine
            .producer(handle, now, |p, client| p.send(client, record, now, 0))
            .expect("a live producer")
            .expect("queued");
        self.run();
    }

    /// The offsets delivered to each producer.
    fn delivered(&self) -> BTreeMap<ProducerHandle, Vec<i64>> {
        let mut out: BTreeMap<ProducerHandle, Vec<i64>> = BTreeMap::new();
        for event in &self.events {
            if let EngineEvent::Producer(h, ProducerEvent::Delivered(batch)) = event {
                out.entry(*h)
                    .or_default()
                    .extend(batch.iter().map(|(_, d)| d.offset));
            }
        }
        out
    }
}

#[test]
fn each_answer_reaches_the_producer_that_sent_the_request() {
    let log = Rc::new(RefCell::new(Log {
        partitions: 2,
        ..Log::default()
    }));
    let mut rig = Rig::new(cluster(log.clone(), 9));
    assert!(rig
        .events
        .iter()
        .any(|e| matches!(e, EngineEvent::Bootstrapped)));
    let first = rig.producer(1);
    let second = rig.producer(2);
    rig.send(first, 0, 0);
    rig.send(second, 1, 1);
    rig.send(first, 0, 2);
    rig.advance(Duration::from_millis(10));
    let delivered = rig.delivered();
    assert_eq!(delivered.get(&first), Some(&vec![0, 1]));
    assert_eq!(delivered.get(&second), Some(&vec![0]));
    assert_eq!(log.borrow().values(0), vec![value(0), value(2)]);
    assert_eq!(log.borrow().values(1), vec![value(1)]);
    assert_eq!(rig.engine.routes.len(), 0, "every answered route is gone");
    assert_eq!(rig.engine.stale_deadlines(), 0);
}

#[test]
fn a_timeout_with_nothing_due_does_nothing() {
    let mut rig = Rig::new(modern_cluster());
    let before = rig
        .engine
        .poll_timeout()
        .expect("the periodic metadata refresh");
    let written = rig.seen.len();
    let events = rig.events.len();
    for _ in 0..100 {
        rig.engine.handle_timeout(rig.now);
        rig.run();
    }
    assert_eq!(rig.engine.poll_timeout(), Some(before));
    assert_eq!(rig.seen.len(), written, "no request went out");
    assert_eq!(rig.events.len(), events, "no event came");
}

#[test]
fn an_answer_to_the_applications_own_request_comes_to_it() {
    let mut rig = Rig::new(modern_cluster());
    let now = rig.now;
    let id = rig.engine.send(
        Target::AnyBroker,
        ListGroupsRequest::default().into(),
        RequestOptions::default(),
        now,
    );
    rig.run();
    let answered = rig.events.iter().any(|e| {
        matches!(e, EngineEvent::Client(Event::Response { id: got, result: Ok(Response { .. }) }) if *got == id)
    });
    assert!(answered, "{:?}", rig.events);
}

#[test]
fn a_lost_connection_brings_a_metadata_refresh() {
    let mut rig = Rig::new(modern_cluster());
    let metadata_before = rig.sent(ApiKey::Metadata);
    let conns: Vec<ConnectionId> = rig.open.keys().copied().collect();
    for conn in conns {
        rig.open.remove(&conn);
        rig.engine
            .handle_disconnected(conn, "reset by peer", rig.now);
    }
    rig.run();
    // Reconnecting waits out the backoff.
    rig.advance(Duration::from_secs(2));
    let metadata_after = rig.sent(ApiKey::Metadata);
    assert_eq!(metadata_after, metadata_before + 1, "{:?}", rig.seen);
}

#[test]
fn no_broker_by_the_deadline_fails_the_bootstrap_with_the_errors_seen() {
    let mut rig = Rig::with_config(
        ClientConfig::new(["down:9092"])
            .with_seed(7)
            .with_reconnect_backoff(Duration::from_millis(100), Duration::from_millis(100)),
        modern_cluster(),
        &["down:9092"],
    );
    for _ in 0..60 {
        rig.advance(Duration::from_millis(100));
    }
    let failure = rig.events.iter().find_map(|e| match e {
        EngineEvent::BootstrapFailed(BootstrapError::TimedOut { last_errors, .. }) => {
            Some(last_errors.clone())
        }
        _ => None,
    });
    let errors = failure.expect("the bootstrap failed");
    assert!(!errors.is_empty() && errors.len() <= 4, "{errors:?}");
    assert!(rig.engine.is_closed());
}

#[test]
fn a_removed_fetcher_leaves_no_routes_behind() {
    // A cluster that never answers Fetch: the request stays routed.
    let mut rig = Rig::new(Box::new(|_, _, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Respond(api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 0, 12),
            (ApiKey::Fetch, 4, 12),
        ])),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(2)),
        _ => Reply::Silence,
    }));
    let now = rig.now;
    let fetcher = rig.engine.add_fetcher(
        FetcherMachine::new(crate::consumer::FetchConfig::default()),
        now,
    );
    rig.engine.fetcher(fetcher, now, |f, client| {
        f.assign(client, "t", 0, Some(0), now)
    });
    rig.run();
    assert_eq!(rig.sent(ApiKey::Fetch), 1, "{:?}", rig.seen);
    assert_eq!(rig.engine.routes.len(), 1);
    assert!(rig.engine.remove_fetcher(fetcher, now).is_some());
    assert_eq!(rig.engine.routes.len(), 0);
    assert!(rig.engine.fetcher(fetcher, now, |_, _| ()).is_none());
}
