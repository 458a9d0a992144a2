//! The simulation runner: one seed in, one run out.
//!
//! A [`Simulation`] wires kafkite's core — an [`Engine`] per application,
//! running a `Producer` or a `GroupConsumer`, the composition the runtime
//! drivers run — to a [`crate::Cluster`] through a simulated network, on
//! virtual time. The runner only moves bytes, time and faults: routing
//! answers, timers and reconnect policy are the engine's. The seed picks
//! the [`Scenario`]: cluster shape, workload, network delays, and faults
//! (dropped connections, broker crashes and restarts, leader elections,
//! stalled brokers, retriable error answers). After the fault window
//! everything heals, the run settles, and [`invariants`] checks what must
//! hold whatever the faults were.
//!
//! Nothing on the path reads a clock or iterates a hash map: the same
//! seed gives the same [`RunReport::trace`], byte for byte.

mod actors;
mod exactly_once;
pub mod invariants;
mod net;
mod scenario;
mod sweep;
mod trace;
mod transform;

use std::time::{Duration, Instant};

use kafkite::client::{ClientConfig, Event, Io};
use kafkite::consumer::group::GroupConfig;
use kafkite::consumer::{FetchConfig, GroupConsumerConfig, GroupConsumerMachine};
use kafkite::engine::{Engine, EngineEvent, Output};
use kafkite::producer::{Acks, ProducerConfig, ProducerMachine};

pub use actors::{ConsumerApp, Outcome, ProducerApp};
pub use exactly_once::{AppFault, TransactionCounts};
pub use invariants::Violation;
pub use scenario::{Fault, Scenario};
pub use sweep::sweep;
pub use trace::Trace;
pub use transform::{EosBug, TransformApp};

use crate::cluster::{Cluster, ClusterConfig, Output as ClusterOutput};
use crate::rng::SimRng;
use net::{Delivery, Link, Network};

/// The topic every run produces to and consumes from.
pub const TOPIC: &str = "sim-topic";
/// The consumer group of every run.
pub const GROUP: &str = "sim-group";
/// The topic the exactly-once runs' transformers write to.
pub const OUTPUT_TOPIC: &str = "sim-out";
/// Records are stamped from this wall-clock moment on (virtual).
const WALL_CLOCK_START_MS: i64 = 1_700_000_000_000;

/// What an application does.
#[derive(Debug)]
enum Role {
    Producer(Box<ProducerApp>),
    Consumer(Box<ConsumerApp>),
    Transformer(Box<TransformApp>),
    /// A crashed or replaced instance: no longer run.
    Retired,
}

#[derive(Debug)]
struct Actor {
    name: String,
    engine: Engine,
    role: Role,
    /// Frozen (a long pause: a zombie) until this moment, in µs: nothing
    /// reaches it and it does nothing.
    frozen_until_us: Option<u64>,
}

/// One run of one seed.
pub struct Simulation {
    /// What the seed decided: cluster, workload, delays and faults.
    pub scenario: Scenario,
    base: Instant,
    now_us: u64,
    cluster: Cluster,
    net: Network,
    actors: Vec<Actor>,
    trace: Trace,
    /// The fault window is over and everything healed.
    settled: bool,
    /// The first time two members owned one partition.
    ownership_violation: Option<Violation>,
    /// Steps of virtual time taken.
    steps: u64,
    /// The exactly-once run's settings and bookkeeping, if this is one.
    eos: Option<Box<exactly_once::EosRun>>,
}

/// One record as a consumer application got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    /// The consumer's name ("consumer-0", ...).
    pub consumer: String,
    /// The partition of the run's topic the record was read from.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// The record's value as text (`r` and the record's index in send
    /// order, e.g. `r00007`).
    pub value: String,
    /// Virtual time of the delivery, in microseconds.
    pub at_us: u64,
}

/// How a run ended.
#[derive(Debug)]
pub struct RunReport {
    /// The seed that was run.
    pub seed: u64,
    /// Every broken invariant; empty when the run passed.
    pub violations: Vec<Violation>,
    /// The trace, if it was kept.
    pub trace: String,
    /// Virtual time the run took, in ms.
    pub virtual_ms: u64,
    /// How many records the producer saw acknowledged.
    pub acked: usize,
    /// How many distinct records reached a consumer application.
    pub delivered: usize,
    /// Every record handed to a consumer application, in the order the
    /// applications got them, redeliveries included: the stream a user's
    /// own consumer logic would see (see the `consumer_under_faults`
    /// example).
    pub deliveries: Vec<Consumed>,
    /// Steps of virtual time the run took.
    pub steps: u64,
    /// Deadlines a machine reported after being woken for them (each
    /// engine serves such a one a millisecond later instead), summed.
    pub stale_deadlines: u64,
    /// What the transactions of an exactly-once run did.
    pub transactions: TransactionCounts,
}

impl RunReport {
    /// True when no invariant was broken.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// The command that replays `seed` with its trace printed.
pub fn replay_command(seed: u64) -> String {
    format!(
        "SIM_SEED={seed} SIM_TRACE=1 cargo test -p kafkite-sim --test seeds replay -- --nocapture"
    )
}

impl Simulation {
    /// Builds the run of `seed`; `trace` says whether to keep the trace.
    pub fn new(seed: u64, trace: Trace) -> Simulation {
        Self::build(seed, trace, None)
    }

    /// Builds the exactly-once run of `seed`: the seed's producer writes
    /// the input, consume-transform-produce applications turn each input
    /// record into one output record inside transactions, and crash,
    /// restart and come back as zombies; a read_committed consumer reads
    /// the output. `bug` injects a mistake the invariants must catch.
    pub fn exactly_once(seed: u64, trace: Trace, bug: Option<EosBug>) -> Simulation {
        Self::build(seed, trace, Some(bug))
    }

    fn build(seed: u64, trace: Trace, eos: Option<Option<EosBug>>) -> Simulation {
        let scenario = Scenario::from_seed(seed);
        let mut rng = SimRng::new(seed ^ 0x5eed_5eed_5eed_5eed);
        // The core wants an Instant; only differences from it are used, so
        // the real clock's reading never reaches the run.
        let base = Instant::now();
        let config = ClusterConfig::new(scenario.brokers)
            .with_seed(rng.next_u64())
            .with_auto_create_topics(false)
            .with_injected_error_per_mille(scenario.injected_error_per_mille);
        let mut cluster = Cluster::new(config);
        let _ = cluster.create_topic(TOPIC, scenario.partitions, scenario.brokers as i16);
        let net = Network::new(
            rng.fork(),
            scenario.delay_min_us,
            scenario.delay_max_us,
            scenario.spike_per_mille,
            scenario.spike_max_us,
        );
        let client_config = |name: &str, seed: u64| client_config(scenario.brokers, name, seed);
        let mut actors = Vec::new();
        let producer_config = ProducerConfig::default()
            .with_acks(Acks::All)
            .with_idempotence(true)
            .with_linger(Duration::from_millis(rng.range(0, 20)))
            .with_request_timeout(Duration::from_secs(4))
            .with_delivery_timeout(Duration::from_secs(100))
            .with_retry_backoff(Duration::from_millis(50), Duration::from_secs(1));
        let to_send = scenario
            .send_at_ms
            .iter()
            .enumerate()
            .map(|(i, ms)| (i, base + Duration::from_millis(*ms)))
            .collect();
        let mut engine = engine_at(client_config("producer", rng.next_u64()), base);
        let producer = ProducerMachine::new(producer_config, rng.next_u64(), base);
        actors.push(Actor {
            name: "producer".into(),
            role: Role::Producer(Box::new(ProducerApp {
                producer: engine.add_producer(producer, base),
                topic: TOPIC.into(),
                partitions: scenario.partitions,
                to_send,
                ids: Default::default(),
                outcomes: Default::default(),
                total: scenario.records,
            })),
            engine,
            frozen_until_us: None,
        });
        let consumers = if eos.is_some() { 0 } else { scenario.consumers };
        for c in 0..consumers {
            let name = format!("consumer-{c}");
            let mut engine = engine_at(client_config(&name, rng.next_u64()), base);
            let group = group_config(GROUP);
            let fetch = FetchConfig {
                max_wait: Duration::from_millis(500),
                ..FetchConfig::default()
            };
            let config = GroupConsumerConfig {
                group,
                fetch,
                auto_commit: Some(Duration::from_millis(rng.range(200, 1_500))),
            };
            let consumer = engine.add_consumer(GroupConsumerMachine::new(config), base);
            engine.consumer(consumer, base, |c, client| {
                c.subscribe(client, [TOPIC], base)
            });
            actors.push(Actor {
                name: name.clone(),
                engine,
                role: Role::Consumer(Box::new(ConsumerApp::new(name, consumer, rng.range(1, 4)))),
                frozen_until_us: None,
            });
        }
        let mut sim = Simulation {
            scenario,
            base,
            now_us: 0,
            cluster,
            net,
            actors,
            trace,
            settled: false,
            ownership_violation: None,
            steps: 0,
            eos: None,
        };
        if let Some(bug) = eos {
            sim.setup_exactly_once(bug, rng.fork());
        }
        for i in 0..sim.scenario.faults.len() {
            let at = sim.scenario.faults[i].0 * 1000;
            sim.net.at(at, Delivery::Fault(i));
        }
        let heal = sim.scenario.fault_window_ms * 1000;
        sim.net.at(heal, Delivery::Heal);
        sim
    }

    fn now(&self) -> Instant {
        self.base + Duration::from_micros(self.now_us)
    }

    fn to_us(&self, t: Instant) -> u64 {
        let nanos = t.saturating_duration_since(self.base).as_nanos();
        u64::try_from(nanos.div_ceil(1000)).unwrap_or(u64::MAX)
    }

    /// Runs to the end and checks the invariants.
    pub fn run(mut self) -> RunReport {
        let give_up_us = self.scenario.give_up_ms * 1000;
        loop {
            for i in 0..self.actors.len() {
                self.pump(i);
            }
            self.replace_failed_transformers();
            self.drain_cluster();
            if self.settled && self.done() {
                break;
            }
            self.steps += 1;
            // The next thing in the simulated world: a delivery, a
            // cluster deadline, or an application's wake-up.
            let cluster = self.cluster.next_deadline().map(|ms| ms * 1000);
            let mut next = [self.net.next_time(), cluster].into_iter().flatten().min();
            for i in 0..self.actors.len() {
                if let Some(at) = self.actors[i].wake_at(self.base) {
                    let at = self.to_us(at);
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
            let Some(next) = next else {
                break;
            };
            // Time only moves forward; a deadline already due is served at
            // the next microsecond rather than spinning at this one.
            let next = next.max(self.now_us + 1);
            if next > give_up_us {
                self.now_us = give_up_us;
                break;
            }
            self.now_us = next;
            while let Some(d) = self.net.pop_due(self.now_us) {
                self.deliver(d);
            }
            self.cluster.tick(self.now_us / 1000);
            self.drain_cluster();
            let now = self.now();
            for i in 0..self.actors.len() {
                if self.actors[i].wake_at(self.base).is_some_and(|t| t <= now) {
                    self.timeout(i);
                }
            }
            self.check_ownership();
        }
        self.finish()
    }

    /// Whether the run has settled: every record has an outcome and every
    /// acknowledged one (an exactly-once run: its output) reached a
    /// consumer.
    fn done(&self) -> bool {
        // An exactly-once run's consumer reads the outputs ("o" + input).
        let prefix = if self.eos.is_some() { "o" } else { "" };
        let mut acked = std::collections::BTreeSet::new();
        let mut delivered = std::collections::BTreeSet::new();
        for a in &self.actors {
            match &a.role {
                Role::Producer(p) => {
                    if !p.finished() {
                        return false;
                    }
                    for (i, o) in &p.outcomes {
                        if matches!(o, Outcome::Acked { .. }) {
                            acked.insert(format!("{prefix}{}", ProducerApp::value(*i)));
                        }
                    }
                }
                Role::Consumer(c) => {
                    delivered.extend(c.delivered.iter().map(|(_, _, v, _)| v.clone()));
                }
                Role::Transformer(_) | Role::Retired => {}
            }
        }
        acked.is_subset(&delivered)
    }

    fn timeout(&mut self, i: usize) {
        let now = self.now();
        let now_us = self.now_us;
        let wall = WALL_CLOCK_START_MS + (now_us / 1000) as i64;
        let a = &mut self.actors[i];
        if let Some(until) = a.frozen_until_us {
            if until > now_us {
                return;
            }
            a.frozen_until_us = None;
            let name = a.name.clone();
            self.trace
                .line(now_us, &name, || "wakes from its pause".into());
        }
        let a = &mut self.actors[i];
        if matches!(a.role, Role::Retired) {
            return;
        }
        a.engine.handle_timeout(now);
        match &mut a.role {
            Role::Producer(p) => p.send_due(&mut a.engine, (now, wall), &mut self.trace, now_us),
            Role::Transformer(t) => {
                t.on_timeout(&mut a.engine, (now, wall), &mut self.trace, now_us)
            }
            _ => {}
        }
        self.pump(i);
    }

    /// Carries out an actor's outputs until its engine waits: IO to the
    /// network, events to the application.
    fn pump(&mut self, i: usize) {
        let now = self.now();
        let now_us = self.now_us;
        let wall = WALL_CLOCK_START_MS + (now_us / 1000) as i64;
        if self.actors[i].frozen_until_us.is_some() || matches!(self.actors[i].role, Role::Retired)
        {
            return;
        }
        for _ in 0..1_000_000 {
            let a = &mut self.actors[i];
            let event = match a.engine.poll_output() {
                Output::Io(io) => {
                    self.io(i, io);
                    continue;
                }
                Output::Event(event) => event,
                Output::Timeout(_) => return,
            };
            let trace = &mut self.trace;
            match (event, &mut a.role) {
                (EngineEvent::Producer(_, event), Role::Producer(p)) => {
                    p.on_event(event, trace, now_us)
                }
                (EngineEvent::Consumer(_, event), Role::Consumer(c)) => {
                    c.on_event(&mut a.engine, event, now, (trace, now_us))
                }
                (EngineEvent::Consumer(_, event), Role::Transformer(t)) => {
                    t.on_consumer_event(&mut a.engine, event, (now, wall), (trace, now_us))
                }
                (EngineEvent::Producer(_, event), Role::Transformer(t)) => {
                    t.on_producer_event(&mut a.engine, event, (now, wall), (trace, now_us))
                }
                (EngineEvent::Client(Event::ConnectionLost { broker, error }), _) => {
                    trace.line(now_us, &a.name, || {
                        format!("connection to {broker} lost: {error}")
                    });
                }
                _ => {}
            }
        }
    }

    fn io(&mut self, i: usize, io: Io) {
        let now_us = self.now_us;
        match io {
            Io::Connect { conn, host, port } => {
                let broker = self.cluster.broker_at(&host, port).unwrap_or(-1);
                let name = &self.actors[i].name;
                self.trace.line(now_us, name, || {
                    format!("connect {} to {host}:{port}", conn.0)
                });
                let delay = self.net.delay();
                self.net.links.insert(
                    (i, conn),
                    Link {
                        key: None,
                        to_broker_at: 0,
                        to_client_at: 0,
                    },
                );
                self.net.at(
                    now_us + delay,
                    Delivery::Connect {
                        actor: i,
                        conn,
                        broker,
                    },
                );
            }
            Io::Send { conn, data } => self.net.send_to_broker(now_us, i, conn, data),
            Io::Close { conn } => {
                if let Some(link) = self.net.links.remove(&(i, conn)) {
                    if let Some(key) = link.key {
                        self.net.by_key.remove(&key);
                        self.cluster.disconnect(key);
                    }
                }
            }
        }
    }

    fn deliver(&mut self, d: Delivery) {
        let now = self.now();
        let now_us = self.now_us;
        let to_actor = match &d {
            Delivery::Connect { actor, .. }
            | Delivery::ToClient { actor, .. }
            | Delivery::Closed { actor, .. } => Some(*actor),
            _ => None,
        };
        if let Some(until) = to_actor.and_then(|a| self.actors[a].frozen_until_us) {
            // A paused process reads nothing until it wakes.
            self.net.at(until.max(now_us + 1), d);
            return;
        }
        match d {
            Delivery::Connect {
                actor,
                conn,
                broker,
            } => {
                if !self.net.links.contains_key(&(actor, conn)) {
                    return; // the client gave up on it
                }
                match self.cluster.connect(broker) {
                    Some(key) => {
                        if let Some(link) = self.net.links.get_mut(&(actor, conn)) {
                            link.key = Some(key);
                            link.to_broker_at = now_us;
                            link.to_client_at = now_us;
                        }
                        self.net.by_key.insert(key, (actor, conn));
                        self.actors[actor].engine.handle_connected(conn, now);
                    }
                    None => {
                        self.net.links.remove(&(actor, conn));
                        self.actors[actor].engine.handle_disconnected(
                            conn,
                            "connection refused",
                            now,
                        );
                    }
                }
                self.pump(actor);
            }
            Delivery::ToBroker { key, data } => {
                self.cluster.receive(key, &data, now_us / 1000);
                self.drain_cluster();
            }
            Delivery::ToClient { actor, conn, data } => {
                if self.net.links.contains_key(&(actor, conn)) {
                    self.actors[actor].engine.handle_received(conn, &data, now);
                    self.pump(actor);
                }
            }
            Delivery::Closed { actor, conn } => {
                if self.net.links.remove(&(actor, conn)).is_some() {
                    self.actors[actor].engine.handle_disconnected(
                        conn,
                        "closed by the broker",
                        now,
                    );
                    self.pump(actor);
                }
            }
            Delivery::Fault(index) => {
                let fault = self.scenario.faults[index].1.clone();
                self.trace_partitions();
                self.fault(fault);
                self.trace_partitions();
            }
            Delivery::Restart(b) => {
                self.trace
                    .line(now_us, "cluster", || format!("broker {b} restarts"));
                let _ = self.cluster.restart_broker(b);
                self.drain_cluster();
            }
            Delivery::Resume(b) => {
                self.trace
                    .line(now_us, "cluster", || format!("broker {b} resumes"));
                let _ = self.cluster.stall_broker(b, false);
                self.drain_cluster();
                self.trace_partitions();
            }
            Delivery::AppFault(index) => {
                if !self.settled {
                    self.app_fault(index);
                }
            }
            Delivery::Heal => {
                self.trace.line(now_us, "cluster", || {
                    "heal: every broker up, no more faults".into()
                });
                self.settled = true;
                self.cluster.set_injected_error_per_mille(0);
                for b in self.cluster.broker_ids() {
                    let _ = self.cluster.restart_broker(b);
                    let _ = self.cluster.stall_broker(b, false);
                }
                self.drain_cluster();
            }
        }
    }

    fn fault(&mut self, fault: Fault) {
        let now_us = self.now_us;
        if self.settled {
            return;
        }
        match fault {
            Fault::DropConnection { pick } => {
                let conns = self.cluster.connections();
                if !conns.is_empty() {
                    let (key, broker) = conns[(pick % conns.len() as u64) as usize];
                    self.trace.line(now_us, "cluster", || {
                        format!("drop a connection to broker {broker}")
                    });
                    self.cluster.drop_connection(key);
                }
            }
            Fault::CrashBroker { broker, down_ms } => {
                if self.cluster.is_up(broker) {
                    self.trace.line(now_us, "cluster", || {
                        format!("broker {broker} crashes for {down_ms} ms")
                    });
                    let _ = self.cluster.crash_broker(broker);
                    self.net
                        .at(now_us + down_ms * 1000, Delivery::Restart(broker));
                }
            }
            Fault::ElectLeader { partition, pick } => {
                let new = self.cluster.elect_leader(TOPIC, partition, pick);
                if let Some(leader) = new {
                    self.trace.line(now_us, "cluster", || {
                        format!("partition {partition} leader is now {leader}")
                    });
                }
            }
            Fault::StallBroker { broker, for_ms } => {
                if self.cluster.is_up(broker) && !self.cluster.is_stalled(broker) {
                    self.trace.line(now_us, "cluster", || {
                        format!("broker {broker} stalls for {for_ms} ms")
                    });
                    let _ = self.cluster.stall_broker(broker, true);
                    self.net
                        .at(now_us + for_ms * 1000, Delivery::Resume(broker));
                }
            }
        }
        self.drain_cluster();
    }

    /// Traces every partition's leader, ISR, log end, high watermark and
    /// replica ends: after faults, to see what a failover did.
    fn trace_partitions(&mut self) {
        if !self.trace.is_on() {
            return;
        }
        let now_us = self.now_us;
        let lines: Vec<String> = self
            .cluster
            .topics()
            .get(TOPIC)
            .map(|t| {
                t.partitions
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        format!(
                            "partition {i}: leader {} epoch {} isr {:?} end {} hw {} replicas {:?}",
                            p.leader,
                            p.leader_epoch,
                            p.isr,
                            p.log_end_offset(),
                            p.high_watermark,
                            p.replica_end
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        for l in lines {
            self.trace.line(now_us, "cluster", || l);
        }
    }

    fn drain_cluster(&mut self) {
        let now_us = self.now_us;
        while let Some(out) = self.cluster.poll_output() {
            match out {
                ClusterOutput::Send { conn, data } => {
                    self.net.send_to_client(now_us, conn, Some(data))
                }
                ClusterOutput::Close { conn } => self.net.send_to_client(now_us, conn, None),
            }
        }
    }

    /// Once a rebalance completes, no partition has two owners: members
    /// that are stable in the same generation hold disjoint partitions.
    fn check_ownership(&mut self) {
        if self.ownership_violation.is_some() {
            return;
        }
        let mut seen: Vec<(i32, i32, usize)> = Vec::new();
        let mut clash = None;
        for (i, a) in self.actors.iter().enumerate() {
            if let Role::Consumer(c) = &a.role {
                let Some(consumer) = a.engine.consumer_state(c.consumer) else {
                    continue;
                };
                if consumer.state() != kafkite::consumer::group::GroupState::Stable {
                    continue;
                }
                let generation = consumer.generation_id();
                for tp in consumer.assignment() {
                    if let Some(&(_, _, other)) =
                        seen.iter().find(|(g, p, _)| *g == generation && *p == tp.1)
                    {
                        clash = Some(Violation::TwoOwners {
                            generation,
                            partition: tp.1,
                            members: (self.actors[other].name.clone(), a.name.clone()),
                            at_us: self.now_us,
                        });
                    }
                    seen.push((generation, tp.1, i));
                }
            }
        }
        if let Some(v) = clash {
            self.ownership_violation.get_or_insert(v);
        }
    }

    fn finish(self) -> RunReport {
        invariants::check(self)
    }
}

impl Actor {
    /// When the actor next needs the clock: its engine's deadline, or the
    /// producing application's next send.
    fn wake_at(&mut self, base: Instant) -> Option<Instant> {
        if let Some(until) = self.frozen_until_us {
            return Some(base + Duration::from_micros(until));
        }
        let app = match &self.role {
            Role::Producer(p) => p.next_send(),
            Role::Transformer(t) => t.wake_at(),
            Role::Consumer(_) => None,
            Role::Retired => return None,
        };
        [self.engine.poll_timeout(), app]
            .into_iter()
            .flatten()
            .min()
    }
}

/// Every application's client settings: the cluster's brokers, short
/// timeouts and backoffs so faults play out within a run.
fn client_config(brokers: usize, name: &str, seed: u64) -> ClientConfig {
    let bootstrap: Vec<String> = (1..=brokers).map(|b| format!("broker-{b}:9092")).collect();
    ClientConfig::new(bootstrap)
        .with_client_id(name)
        .with_request_timeout(Duration::from_secs(5))
        .with_connect_timeout(Duration::from_secs(2))
        .with_reconnect_backoff(Duration::from_millis(50), Duration::from_secs(1))
        .with_metadata_max_age(Duration::from_secs(10))
        .with_seed(seed)
}

/// Every group member's timing: a session of 6 s, heartbeats every
/// second, rebalances within 10 s.
fn group_config(group: &str) -> GroupConfig {
    GroupConfig::new(group)
        .with_session_timeout(Duration::from_secs(6))
        .with_heartbeat_interval(Duration::from_secs(1))
        .with_rebalance_timeout(Duration::from_secs(10))
        .with_offsets_timeout(Duration::from_secs(30))
}

/// An engine that keeps trying to bootstrap: the run's faults may hold
/// every broker down for longer than a request timeout.
fn engine_at(config: ClientConfig, base: Instant) -> Engine {
    let mut engine = Engine::new(config, base);
    engine.set_bootstrap_deadline(None);
    engine
}
