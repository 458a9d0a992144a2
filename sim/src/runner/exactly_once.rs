//! The exactly-once runs: the seed's producer writes the input topic,
//! one or two consume-transform-produce applications (each a
//! transactional id) turn every input record into one output record, and
//! a read_committed consumer reads the output. On top of the seed's
//! cluster faults, applications crash (a new instance starts with the
//! same transactional id) or pause and come back as zombies after their
//! successor has fenced them.
//!
//! The invariant: every acknowledged input record's output is in the
//! output topic's committed data exactly once, the read_committed
//! consumer reads it at exactly one offset, and never reads a record of
//! an aborted transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafkite::client::ClientConfig;
use kafkite::consumer::{FetchConfig, GroupConsumerConfig, GroupConsumerMachine};
use kafkite::producer::{Acks, ProducerConfig, ProducerMachine};
use kafkite::records::RecordSet;

use super::invariants::Violation;
use super::transform::{EosBug, TransformApp};
use super::{engine_at, Actor, ConsumerApp, Outcome, ProducerApp, Role, Simulation};
use super::{OUTPUT_TOPIC, TOPIC};
use crate::cluster::BatchKind;
use crate::rng::SimRng;

/// The transformers' consumer group.
pub const TRANSFORM_GROUP: &str = "sim-eos";
/// The read_committed reader's group.
pub const READER_GROUP: &str = "sim-reader";

/// What happens to an application (not the cluster) at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppFault {
    /// The application's running instance dies (kill -9): a new one
    /// starts with the same transactional id.
    Crash {
        /// Which application.
        app: usize,
    },
    /// The running instance pauses for `for_ms` (a long GC pause, a
    /// partition from the network); a new instance starts at once and
    /// fences it. The old one wakes up a zombie.
    Zombie {
        /// Which application.
        app: usize,
        /// How long it stays paused, in ms.
        for_ms: u64,
    },
}

/// What an exactly-once run's transactions did, summed over instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionCounts {
    /// Transactions that committed.
    pub committed: u64,
    /// Transactions aborted by their producer.
    pub aborted: u64,
    /// Transactions aborted because a new instance fenced the old.
    pub fenced: u64,
    /// Transactions aborted by the coordinator's timeout.
    pub timed_out: u64,
    /// Instances started to replace one that crashed or failed.
    pub restarts: u64,
    /// Instances that paused and came back after being replaced.
    pub zombies: u64,
    /// Transactions ended with KIP-890's second protocol.
    pub second_protocol: u64,
    /// Times a transactional id's coordinator moved to another broker.
    pub coordinator_moves: u64,
    /// Marker writes that found no leader (a broker down mid-commit),
    /// counted per attempt.
    pub markers_waited: u64,
}

/// The exactly-once run's settings and bookkeeping.
#[derive(Debug)]
pub(super) struct EosRun {
    bug: Option<EosBug>,
    rng: SimRng,
    /// Per application: how many instances it has had.
    instances: Vec<usize>,
    /// Per application: the actor index of its running instance.
    running: Vec<Option<usize>>,
    faults: Vec<(u64, AppFault)>,
    txn_timeout: Duration,
    counts: TransactionCounts,
}

impl Simulation {
    /// Adds the output topic, the reader and the transformers, and
    /// schedules the applications' faults.
    pub(super) fn setup_exactly_once(&mut self, bug: Option<EosBug>, mut rng: SimRng) {
        let s = &self.scenario;
        let _ = self
            .cluster
            .create_topic(OUTPUT_TOPIC, s.partitions, s.brokers as i16);
        let transformers = rng.range(1, 2) as usize;
        // Half the seeds run KIP-890's second transaction protocol, as
        // Kafka 4.x clusters do; the others the first.
        let transaction_version = if rng.below(2) == 0 { 1 } else { 2 };
        self.cluster.set_transaction_version(transaction_version);
        let window = s.fault_window_ms;
        let mut faults = Vec::new();
        for _ in 0..rng.range(0, 4) {
            let at = rng.below(window);
            let app = rng.below(transformers as u64) as usize;
            let fault = if rng.below(2) == 0 {
                AppFault::Crash { app }
            } else {
                AppFault::Zombie {
                    app,
                    for_ms: rng.range(500, 15_000),
                }
            };
            faults.push((at, fault));
        }
        faults.sort_by_key(|(at, _)| *at);
        let txn_timeout = Duration::from_millis(rng.range(8_000, 30_000));
        self.eos = Some(Box::new(EosRun {
            bug,
            rng: rng.fork(),
            instances: vec![0; transformers],
            running: vec![None; transformers],
            faults,
            txn_timeout,
            counts: TransactionCounts::default(),
        }));
        for (i, at) in self.app_fault_times().into_iter().enumerate() {
            self.net.at(at * 1000, super::net::Delivery::AppFault(i));
        }
        self.add_reader(&mut rng);
        for app in 0..transformers {
            self.start_transformer(app);
        }
    }

    fn client_config(&self, name: &str, seed: u64) -> ClientConfig {
        super::client_config(self.scenario.brokers, name, seed)
    }

    /// The read_committed consumer of the output topic.
    fn add_reader(&mut self, rng: &mut SimRng) {
        let now = self.now();
        let name = "reader".to_string();
        let mut engine = engine_at(self.client_config(&name, rng.next_u64()), now);
        let group = super::group_config(READER_GROUP);
        let fetch = FetchConfig {
            max_wait: Duration::from_millis(500),
            read_committed: true,
            ..FetchConfig::default()
        };
        let config = GroupConsumerConfig {
            group,
            fetch,
            auto_commit: Some(Duration::from_millis(500)),
        };
        let consumer = engine.add_consumer(GroupConsumerMachine::new(config), now);
        engine.consumer(consumer, now, |c, client| {
            c.subscribe(client, [OUTPUT_TOPIC], now)
        });
        self.actors.push(Actor {
            name: name.clone(),
            engine,
            role: Role::Consumer(Box::new(ConsumerApp::new(name, consumer, 1))),
            frozen_until_us: None,
        });
    }

    /// Starts a new instance of application `app`: a group consumer of
    /// the input and a transactional producer with the application's
    /// transactional id, on one engine.
    fn start_transformer(&mut self, app: usize) {
        let now = self.now();
        let now_us = self.now_us;
        let Some(eos) = self.eos.as_mut() else {
            return;
        };
        let instance = eos.instances[app];
        eos.instances[app] += 1;
        let seed = eos.rng.next_u64();
        let batch = eos.rng.range(1, 8) as usize;
        let linger = Duration::from_millis(eos.rng.range(20, 400));
        let (bug, txn_timeout) = (eos.bug, eos.txn_timeout);
        let name = format!("transformer-{app}#{instance}");
        let mut engine = engine_at(self.client_config(&name, seed), now);
        let producer_config = ProducerConfig::default()
            .with_acks(Acks::All)
            .with_idempotence(true)
            .with_transactional_id(format!("sim-eos-{app}"))
            .with_transaction_timeout(txn_timeout)
            .with_linger(Duration::from_millis(5))
            .with_request_timeout(Duration::from_secs(4))
            .with_delivery_timeout(Duration::from_secs(60))
            .with_retry_backoff(Duration::from_millis(50), Duration::from_secs(1));
        let producer = engine.add_producer(ProducerMachine::new(producer_config, seed, now), now);
        let group = super::group_config(TRANSFORM_GROUP).with_require_stable_offsets(true);
        let fetch = FetchConfig {
            max_wait: Duration::from_millis(500),
            ..FetchConfig::default()
        };
        let config = GroupConsumerConfig {
            group,
            fetch,
            auto_commit: None,
        };
        let consumer = engine.add_consumer(GroupConsumerMachine::new(config), now);
        engine.consumer(consumer, now, |c, client| c.subscribe(client, [TOPIC], now));
        let token = engine
            .producer(producer, now, |p, client| p.init_transactions(client, now))
            .unwrap_or(0);
        let app_state = TransformApp::new(
            name.clone(),
            app,
            (consumer, producer),
            token,
            batch,
            linger,
            bug,
        );
        self.trace.line(now_us, &name, || {
            format!("starts (batch {batch}, linger {linger:?})")
        });
        let index = self.actors.len();
        self.actors.push(Actor {
            name,
            engine,
            role: Role::Transformer(Box::new(app_state)),
            frozen_until_us: None,
        });
        if let Some(eos) = self.eos.as_mut() {
            eos.running[app] = Some(index);
        }
    }

    /// An application fault strikes (by index into the run's list).
    pub(super) fn app_fault(&mut self, index: usize) {
        let now_us = self.now_us;
        let Some((_, fault)) = self.eos.as_ref().and_then(|e| e.faults.get(index).cloned()) else {
            return;
        };
        let app = match fault {
            AppFault::Crash { app } | AppFault::Zombie { app, .. } => app,
        };
        let Some(running) = self.eos.as_ref().and_then(|e| e.running[app]) else {
            return;
        };
        match fault {
            AppFault::Crash { .. } => {
                self.trace
                    .line(now_us, &self.actors[running].name.clone(), || {
                        "crashes".into()
                    });
                self.retire(running);
            }
            AppFault::Zombie { for_ms, .. } => {
                let name = self.actors[running].name.clone();
                self.trace
                    .line(now_us, &name, || format!("pauses for {for_ms} ms"));
                self.actors[running].frozen_until_us = Some(now_us + for_ms * 1000);
                if let Some(eos) = self.eos.as_mut() {
                    eos.counts.zombies += 1;
                }
            }
        }
        if let Some(eos) = self.eos.as_mut() {
            eos.counts.restarts += 1;
        }
        self.start_transformer(app);
    }

    /// The moment each application fault strikes, to schedule.
    fn app_fault_times(&self) -> Vec<u64> {
        self.eos
            .as_ref()
            .map(|e| e.faults.iter().map(|(at, _)| *at).collect())
            .unwrap_or_default()
    }

    /// Stops an instance for good: its connections close and it is never
    /// run again.
    fn retire(&mut self, i: usize) {
        let links: Vec<_> = self
            .net
            .links
            .keys()
            .filter(|(actor, _)| *actor == i)
            .copied()
            .collect();
        for key in links {
            if let Some(link) = self.net.links.remove(&key) {
                if let Some(conn) = link.key {
                    self.net.by_key.remove(&conn);
                    self.cluster.disconnect(conn);
                }
            }
        }
        if let Role::Transformer(t) = &self.actors[i].role {
            if let Some(eos) = self.eos.as_mut() {
                eos.counts.committed += t.committed;
            }
        }
        self.actors[i].role = Role::Retired;
    }

    /// Replaces instances that failed: the running one gets a successor,
    /// a zombie just stops.
    pub(super) fn replace_failed_transformers(&mut self) {
        let failed: Vec<(usize, usize)> = self
            .actors
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match &a.role {
                Role::Transformer(t) if t.failed() => Some((i, t.app)),
                _ => None,
            })
            .collect();
        for (i, app) in failed {
            let running = self.eos.as_ref().and_then(|e| e.running[app]) == Some(i);
            self.retire(i);
            if running {
                if let Some(eos) = self.eos.as_mut() {
                    eos.counts.restarts += 1;
                }
                self.start_transformer(app);
            }
        }
    }

    /// The exactly-once invariants, and the run's transaction counts.
    pub(super) fn check_exactly_once(&self) -> (Vec<Violation>, TransactionCounts) {
        let mut violations = Vec::new();
        let mut counts = self
            .eos
            .as_ref()
            .map(|e| e.counts.clone())
            .unwrap_or_default();
        for a in &self.actors {
            if let Role::Transformer(t) = &a.role {
                counts.committed += t.committed;
            }
        }
        let stats = self.cluster.transaction_stats();
        counts.coordinator_moves = stats.coordinator_moves;
        counts.markers_waited = stats.markers_waited;
        for t in self.cluster.ended_transactions() {
            counts.second_protocol += u64::from(t.second_protocol);
            match (t.committed, t.reason) {
                (true, _) => {}
                (false, "fenced") => counts.fenced += 1,
                (false, "timed out") => counts.timed_out += 1,
                (false, _) => counts.aborted += 1,
            }
        }
        // The output topic's committed data, value -> offsets, and the
        // offsets of aborted records, from the log itself.
        let mut committed: BTreeMap<String, Vec<(i32, i64)>> = BTreeMap::new();
        let mut aborted: BTreeSet<(i32, i64)> = BTreeSet::new();
        if let Some(topic) = self.cluster.topics().get(OUTPUT_TOPIC) {
            for (p, partition) in topic.partitions.iter().enumerate() {
                let p = p as i32;
                let hw = partition.high_watermark;
                for batch in &partition.log {
                    let visible = match batch.kind {
                        BatchKind::Marker { .. } => continue,
                        BatchKind::Plain => batch.last_offset < hw,
                        BatchKind::Transactional => partition
                            .txns
                            .iter()
                            .find(|s| {
                                s.producer_id == batch.producer_id
                                    && s.first_offset <= batch.base_offset
                                    && s.marker.is_none_or(|(at, _)| at > batch.base_offset)
                            })
                            .and_then(|s| s.marker)
                            .is_some_and(|(at, ok)| ok && at < hw),
                    };
                    for record in RecordSet::new(batch.bytes.clone()).records().flatten() {
                        if !visible {
                            aborted.insert((p, record.offset));
                            continue;
                        }
                        let value = record
                            .value
                            .as_ref()
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                            .unwrap_or_default();
                        committed.entry(value).or_default().push((p, record.offset));
                    }
                }
            }
        }
        let mut read: BTreeMap<String, BTreeSet<(i32, i64)>> = BTreeMap::new();
        for a in &self.actors {
            if let Role::Consumer(c) = &a.role {
                for (p, offset, value, _) in &c.delivered {
                    if aborted.contains(&(*p, *offset)) {
                        violations.push(Violation::AbortedRead {
                            partition: *p,
                            offset: *offset,
                        });
                    }
                    read.entry(value.clone()).or_default().insert((*p, *offset));
                }
            }
        }
        let outcomes = self.actors.iter().find_map(|a| match &a.role {
            Role::Producer(p) => Some(&p.outcomes),
            _ => None,
        });
        for (index, outcome) in outcomes.into_iter().flatten() {
            if !matches!(outcome, Outcome::Acked { .. }) {
                continue;
            }
            let output = format!("o{}", ProducerApp::value(*index));
            let in_log = committed.get(&output).map_or(0, Vec::len);
            let by_reader = read.get(&output).map_or(0, BTreeSet::len);
            if in_log != 1 || by_reader != 1 {
                violations.push(Violation::NotExactlyOnce {
                    record: *index,
                    in_log,
                    by_reader,
                });
            }
        }
        // No output at all may be there twice, acknowledged input or not.
        for (value, places) in &committed {
            if places.len() > 1 && !value.is_empty() {
                let known = violations.iter().any(|v| {
                    matches!(v, Violation::NotExactlyOnce { record, .. }
                        if format!("o{}", ProducerApp::value(*record)) == *value)
                });
                if !known {
                    violations.push(Violation::OutputTwice {
                        value: value.clone(),
                        offsets: places.clone(),
                    });
                }
            }
        }
        (violations, counts)
    }
}
