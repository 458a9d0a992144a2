//! The simulated cluster: N brokers that read Kafka request frames and
//! write response frames, sans IO and on a clock the caller passes in.
//!
//! ```text
//! let conn = cluster.connect(broker)?;          // a client connected
//! cluster.receive(conn, &bytes, now_ms);         // bytes from the client
//! cluster.tick(now_ms);                          // time passed
//! while let Some(out) = cluster.poll_output() {  // frames to deliver,
//!     /* Output::Send / Output::Close */         // connections to close
//! }
//! ```
//!
//! Requests are decoded and answers encoded with kafkite's own codec.
//! Answers leave a connection in request order, as Kafka's do; an answer
//! that must wait (acks=all until the ISR has the batch, a Fetch until
//! data or `max_wait`, a JoinGroup until the rebalance barrier, a
//! SyncGroup until the leader's assignment) holds back the ones behind it.

mod config;
mod dispatch;
mod fetch;
mod group;
mod group_api;
mod inject;
mod inject_txn;
mod metadata;
mod offsets;
mod partition;
mod produce;
mod transactions;
mod txn_api;
mod versions;

use std::collections::{BTreeMap, VecDeque};

use bytes::{Bytes, BytesMut};
use kafkite::protocol::{AnyResponse, ApiKey, Uuid};

use crate::rng::SimRng;
use crate::SimError;
pub use config::ClusterConfig;
use group::Group;
pub use partition::{BatchKind, Partition, StoredBatch, TxnSpan};
pub use transactions::{EndedTransaction, TransactionStats};
pub use versions::BrokerVersions;

/// A connection to one broker, named by the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey(
    /// The cluster's number for the connection, unique over the run and
    /// counting from 1.
    pub u64,
);

/// What the cluster asks its driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Deliver these bytes (whole response frames) to the client.
    Send {
        /// The connection to deliver on.
        conn: ConnKey,
        /// One whole response frame, size prefix included.
        data: Bytes,
    },
    /// The broker closed the connection.
    Close {
        /// The connection that closed.
        conn: ConnKey,
    },
}

/// An offset commit the coordinator accepted: the record the
/// "committed offsets never go backwards" invariant reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedCommit {
    /// The group the offset was committed for.
    pub group: String,
    /// The committed partition's topic.
    pub topic: String,
    /// The committed partition.
    pub partition: i32,
    /// The committed offset: the next offset the group reads.
    pub offset: i64,
    /// The generation the commit was made under; -1 for a commit from
    /// outside the group (and for OffsetCommit v0, which carries none).
    pub generation: i32,
    /// The cluster's clock when the commit was accepted, in milliseconds.
    pub at_ms: u64,
}

/// A topic: its id and partitions.
#[derive(Debug, Clone)]
pub struct Topic {
    /// The topic id the cluster gave the topic on creation.
    pub id: Uuid,
    /// The partitions, indexed by partition number.
    pub partitions: Vec<Partition>,
}

#[derive(Debug, Clone, Copy, Default)]
struct BrokerState {
    up: bool,
    /// Stalled: accepts bytes but answers nothing and replicates nothing
    /// until resumed (a long GC pause, a full disk).
    stalled: bool,
}

/// An answer in a connection's queue.
#[derive(Debug)]
struct Slot {
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    state: SlotState,
}

#[derive(Debug)]
enum SlotState {
    Ready(Box<AnyResponse>),
    /// Kafka answers ApiVersions it cannot read with a v0 body.
    ReadyAt(Box<AnyResponse>, i16),
    Produce(Box<produce::PendingProduce>),
    Fetch(Box<fetch::PendingFetch>),
    /// Filled in by the group coordinator when its barrier opens.
    Ticket(u64),
}

#[derive(Debug)]
struct Conn {
    broker: i32,
    inbound: BytesMut,
    slots: VecDeque<Slot>,
}

/// The whole simulated cluster.
#[derive(Debug)]
pub struct Cluster {
    config: ClusterConfig,
    versions: BrokerVersions,
    rng: SimRng,
    brokers: BTreeMap<i32, BrokerState>,
    topics: BTreeMap<String, Topic>,
    groups: BTreeMap<String, Group>,
    /// The transaction coordinator's state, by transactional id.
    transactions: BTreeMap<String, transactions::TxnEntry>,
    ended_txns: Vec<EndedTransaction>,
    txn_stats: TransactionStats,
    next_producer_id: i64,
    next_topic_id: u64,
    conns: BTreeMap<ConnKey, Conn>,
    next_conn: u64,
    next_ticket: u64,
    /// Group answers whose barrier opened, by ticket.
    tickets: BTreeMap<u64, AnyResponse>,
    outputs: VecDeque<Output>,
    now_ms: u64,
    replication_due: Option<u64>,
    commits: Vec<AcceptedCommit>,
    injected_errors: u64,
    /// Bumped whenever what a Fetch could see may have changed: a waiting
    /// Fetch is only answered again then (or at its deadline).
    data_version: u64,
}

impl Cluster {
    /// A cluster with every broker up and no topics.
    pub fn new(config: ClusterConfig) -> Self {
        let brokers = (1..=config.listeners.len() as i32)
            .map(|id| {
                (
                    id,
                    BrokerState {
                        up: true,
                        stalled: false,
                    },
                )
            })
            .collect();
        Cluster {
            versions: BrokerVersions::new(config.legacy_0_8_2)
                .with_transaction_v2(config.transaction_version >= 2),
            rng: SimRng::new(config.seed),
            config,
            brokers,
            topics: BTreeMap::new(),
            groups: BTreeMap::new(),
            transactions: BTreeMap::new(),
            ended_txns: Vec::new(),
            txn_stats: TransactionStats::default(),
            next_producer_id: 1000,
            next_topic_id: 1,
            conns: BTreeMap::new(),
            next_conn: 1,
            next_ticket: 1,
            tickets: BTreeMap::new(),
            outputs: VecDeque::new(),
            now_ms: 0,
            replication_due: None,
            commits: Vec::new(),
            injected_errors: 0,
            data_version: 0,
        }
    }

    /// The configuration the cluster was made with.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Broker ids, ascending.
    pub fn broker_ids(&self) -> Vec<i32> {
        self.brokers.keys().copied().collect()
    }

    /// The broker advertised at `host:port`, if any.
    pub fn broker_at(&self, host: &str, port: u16) -> Option<i32> {
        self.config
            .listeners
            .iter()
            .position(|(h, p)| h == host && *p == port)
            .map(|i| i as i32 + 1)
    }

    /// Whether `broker` is running (not crashed); false for an unknown id.
    pub fn is_up(&self, broker: i32) -> bool {
        self.brokers.get(&broker).is_some_and(|b| b.up)
    }

    /// Whether `broker` is stalled by [`Cluster::stall_broker`]: it takes
    /// bytes but answers and replicates nothing.
    pub fn is_stalled(&self, broker: i32) -> bool {
        self.brokers.get(&broker).is_some_and(|b| b.stalled)
    }

    /// The topics, by name.
    pub fn topics(&self) -> &BTreeMap<String, Topic> {
        &self.topics
    }

    /// Every offset commit the coordinator accepted, in order.
    pub fn accepted_commits(&self) -> &[AcceptedCommit] {
        &self.commits
    }

    /// How many requests got an injected error.
    pub fn injected_errors(&self) -> u64 {
        self.injected_errors
    }

    /// The generation of a group and its members' ids, if the group exists.
    pub fn group_generation(&self, group: &str) -> Option<(i32, Vec<String>)> {
        self.groups
            .get(group)
            .map(|g| (g.generation, g.members.keys().cloned().collect()))
    }

    /// Creates a topic (replicas spread round-robin over the brokers).
    pub fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
    ) -> Result<(), i16> {
        metadata::create_topic(self, name, partitions, replication_factor)
    }

    // ---- connections ----

    /// A client connects to `broker`; refused while the broker is down.
    pub fn connect(&mut self, broker: i32) -> Option<ConnKey> {
        if !self.is_up(broker) {
            return None;
        }
        let key = ConnKey(self.next_conn);
        self.next_conn += 1;
        self.conns.insert(
            key,
            Conn {
                broker,
                inbound: BytesMut::new(),
                slots: VecDeque::new(),
            },
        );
        Some(key)
    }

    /// The client closed the connection (or it broke).
    pub fn disconnect(&mut self, conn: ConnKey) {
        if let Some(c) = self.conns.remove(&conn) {
            for slot in c.slots {
                if let SlotState::Ticket(t) = slot.state {
                    self.tickets.remove(&t);
                }
            }
        }
    }

    /// Bytes from the client on `conn`. Whole frames are served at once;
    /// a partial one waits for the rest.
    pub fn receive(&mut self, conn: ConnKey, data: &[u8], now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        self.data_version += 1;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.inbound.extend_from_slice(data);
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            if c.inbound.len() < 4 {
                break;
            }
            let size = i32::from_be_bytes([c.inbound[0], c.inbound[1], c.inbound[2], c.inbound[3]]);
            if !(0..=100 * 1024 * 1024).contains(&size) {
                self.close(conn);
                return;
            }
            let size = size as usize;
            if c.inbound.len() < 4 + size {
                break;
            }
            let mut frame = c.inbound.split_to(4 + size);
            let frame = frame.split_off(4).freeze();
            let broker = c.broker;
            if let Err(e) = self.serve_frame(conn, broker, frame) {
                // Kafka closes a connection whose request it cannot read.
                let _ = e;
                self.close(conn);
                return;
            }
        }
        self.flush();
    }

    /// Advances the clock: replication, group timers, waiting answers.
    pub fn tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        if self.replication_due.is_some_and(|t| t <= self.now_ms) {
            self.replication_due = None;
            self.replicate();
            self.data_version += 1;
        }
        self.group_timers();
        self.transaction_timers();
        self.flush();
    }

    /// The next moment `tick` has work to do.
    /// Deadlines already acted on (an answer held behind a stalled broker
    /// or an earlier answer) are left out: time must move for them.
    pub fn next_deadline(&self) -> Option<u64> {
        let now = self.now_ms;
        let mut next = self.replication_due;
        let mut consider = |t: u64| {
            if t > now {
                next = Some(next.map_or(t, |n: u64| n.min(t)));
            }
        };
        for c in self.conns.values() {
            for s in &c.slots {
                match &s.state {
                    SlotState::Produce(p) => consider(p.deadline_ms),
                    SlotState::Fetch(f) => consider(f.deadline_ms),
                    _ => {}
                }
            }
        }
        for g in self.groups.values() {
            if let Some(t) = g.next_deadline() {
                consider(t);
            }
        }
        if let Some(t) = self.transaction_deadline() {
            consider(t);
        }
        next
    }

    /// The next thing for the driver to do, oldest first; `None` when
    /// there is nothing left.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    // ---- faults ----

    /// Crashes a broker: its connections close, the partitions it led
    /// move to another in-sync replica, and it leaves every ISR.
    pub fn crash_broker(&mut self, broker: i32) -> Result<(), SimError> {
        self.data_version += 1;
        let state = self
            .brokers
            .get_mut(&broker)
            .ok_or(SimError::UnknownBroker(broker))?;
        if !state.up {
            return Ok(());
        }
        state.up = false;
        state.stalled = false;
        let conns: Vec<ConnKey> = self
            .conns
            .iter()
            .filter(|(_, c)| c.broker == broker)
            .map(|(k, _)| *k)
            .collect();
        for c in conns {
            self.close(c);
        }
        let alive: Vec<i32> = self.alive_brokers();
        for t in self.topics.values_mut() {
            for p in &mut t.partitions {
                p.broker_down(broker, |b| alive.contains(&b));
            }
        }
        self.flush();
        Ok(())
    }

    /// Restarts a crashed broker with its log as it was.
    pub fn restart_broker(&mut self, broker: i32) -> Result<(), SimError> {
        self.data_version += 1;
        let state = self
            .brokers
            .get_mut(&broker)
            .ok_or(SimError::UnknownBroker(broker))?;
        if state.up {
            return Ok(());
        }
        state.up = true;
        for t in self.topics.values_mut() {
            for p in &mut t.partitions {
                p.broker_up(broker);
            }
        }
        self.schedule_replication();
        self.flush();
        Ok(())
    }

    /// Stalls (or resumes) a broker: it stops answering and replicating.
    pub fn stall_broker(&mut self, broker: i32, stalled: bool) -> Result<(), SimError> {
        self.data_version += 1;
        let state = self
            .brokers
            .get_mut(&broker)
            .ok_or(SimError::UnknownBroker(broker))?;
        state.stalled = stalled && state.up;
        if !stalled {
            self.schedule_replication();
            self.flush();
        }
        Ok(())
    }

    /// Moves a partition's leadership to another alive in-sync replica, as
    /// a controller's preferred-leader election or a partition
    /// reassignment does. Returns the new leader, if one could be chosen.
    pub fn elect_leader(&mut self, topic: &str, partition: i32, pick: u64) -> Option<i32> {
        self.data_version += 1;
        let alive = self.alive_brokers();
        let p = self
            .topics
            .get_mut(topic)?
            .partitions
            .get_mut(partition as usize)?;
        let candidates: Vec<i32> = p
            .isr
            .iter()
            .copied()
            .filter(|r| *r != p.leader && alive.contains(r))
            .collect();
        if p.leader < 0 || candidates.is_empty() {
            return None;
        }
        let next = candidates[(pick % candidates.len() as u64) as usize];
        p.elect(next);
        Some(next)
    }

    /// Drops one client connection, as a network fault would.
    pub fn drop_connection(&mut self, conn: ConnKey) {
        self.close(conn);
        self.flush();
    }

    /// Open connections and the broker each goes to.
    pub fn connections(&self) -> Vec<(ConnKey, i32)> {
        self.conns.iter().map(|(k, c)| (*k, c.broker)).collect()
    }

    /// Finalizes `transaction.version` 1 or 2 (see
    /// [`ClusterConfig::transaction_version`]); meant before clients
    /// connect, as a cluster's features are set when it is formatted.
    pub fn set_transaction_version(&mut self, version: i16) {
        self.config.transaction_version = version.clamp(1, 2);
        self.versions = self.versions.with_transaction_v2(version >= 2);
    }

    /// Stops injecting errors (to let a run settle).
    pub fn set_injected_error_per_mille(&mut self, per_mille: u32) {
        self.config.injected_error_per_mille = per_mille.min(1000);
    }

    // ---- internals ----

    fn alive_brokers(&self) -> Vec<i32> {
        self.brokers
            .iter()
            .filter(|(_, b)| b.up)
            .map(|(id, _)| *id)
            .collect()
    }

    fn close(&mut self, conn: ConnKey) {
        if self.conns.contains_key(&conn) {
            self.disconnect(conn);
            self.outputs.push_back(Output::Close { conn });
        }
    }

    fn schedule_replication(&mut self) {
        let at = self.now_ms + self.config.replication_delay_ms;
        self.replication_due = Some(self.replication_due.map_or(at, |t| t.min(at)));
    }

    fn replicate(&mut self) {
        let now = self.now_ms;
        let lag = self.config.replica_lag_max_ms;
        let brokers = self.brokers.clone();
        let can_fetch = |b: i32| brokers.get(&b).is_some_and(|s| s.up && !s.stalled);
        let mut behind = false;
        for t in self.topics.values_mut() {
            for p in &mut t.partitions {
                if p.leader >= 0 && !can_fetch(p.leader) {
                    // A stalled leader serves no followers.
                    continue;
                }
                p.replicate(can_fetch, now, lag);
                behind |= p
                    .replicas
                    .iter()
                    .any(|r| *r != p.leader && p.end_of(*r) < p.log_end_offset())
                    || p.isr.len() < p.replicas.len();
            }
        }
        // Followers that could not copy try again; the ISR shrinks on time.
        if behind {
            self.schedule_replication_at(now + lag.clamp(1, 250));
        }
    }

    fn schedule_replication_at(&mut self, at: u64) {
        self.replication_due = Some(self.replication_due.map_or(at, |t| t.min(at)));
    }

    /// Moves every answer that is ready, in order per connection, to the
    /// outputs. Stalled brokers hold theirs.
    fn flush(&mut self) {
        let keys: Vec<ConnKey> = self.conns.keys().copied().collect();
        for key in keys {
            while let Some(broker) = self.conns.get(&key).map(|c| c.broker) {
                if self.is_stalled(broker) {
                    break;
                }
                let Some(answer) = self.try_complete_front(key, broker) else {
                    break;
                };
                let Some(conn) = self.conns.get_mut(&key) else {
                    break;
                };
                let Some(slot) = conn.slots.pop_front() else {
                    break;
                };
                let version = match &answer {
                    (_, Some(v)) => *v,
                    _ => slot.version,
                };
                match dispatch::encode(broker, slot.api, version, slot.correlation_id, &answer.0) {
                    Ok(data) => self.outputs.push_back(Output::Send { conn: key, data }),
                    Err(_) => {
                        self.close(key);
                        break;
                    }
                }
            }
        }
    }

    /// The answer of a connection's first slot, if it is ready now.
    fn try_complete_front(
        &mut self,
        key: ConnKey,
        broker: i32,
    ) -> Option<(AnyResponse, Option<i16>)> {
        let now = self.now_ms;
        let conn = self.conns.get_mut(&key)?;
        let slot = conn.slots.front_mut()?;
        match &mut slot.state {
            SlotState::Ready(_) | SlotState::ReadyAt(..) => {
                let slot = conn.slots.front_mut()?;
                let state = std::mem::replace(&mut slot.state, SlotState::Ticket(0));
                match state {
                    SlotState::Ready(r) => Some((*r, None)),
                    SlotState::ReadyAt(r, v) => Some((*r, Some(v))),
                    _ => None,
                }
            }
            SlotState::Ticket(t) => {
                let t = *t;
                self.tickets.remove(&t).map(|r| (r, None))
            }
            SlotState::Produce(_) => {
                let SlotState::Produce(p) = &mut slot.state else {
                    return None;
                };
                let mut pending = std::mem::take(p);
                let done = produce::try_complete(&self.topics, broker, &mut pending, now);
                if let Some(conn) = self.conns.get_mut(&key) {
                    if let Some(slot) = conn.slots.front_mut() {
                        slot.state = SlotState::Produce(pending);
                    }
                }
                done.map(|r| (AnyResponse::Produce(r), None))
            }
            SlotState::Fetch(f) => {
                let deadline = f.deadline_ms;
                if f.seen_version == self.data_version && deadline > now {
                    return None;
                }
                f.seen_version = self.data_version;
                let version = slot.version;
                let request = std::mem::take(&mut f.request);
                let response = fetch::answer(self, broker, &request, version);
                let has_data = fetch::has_data_or_error(&response);
                if has_data || deadline <= now {
                    return Some((AnyResponse::Fetch(response), None));
                }
                if let Some(SlotState::Fetch(f)) = self
                    .conns
                    .get_mut(&key)
                    .and_then(|c| c.slots.front_mut())
                    .map(|s| &mut s.state)
                {
                    f.request = request;
                }
                None
            }
        }
    }

    fn next_ticket(&mut self) -> u64 {
        let t = self.next_ticket;
        self.next_ticket += 1;
        t
    }

    fn new_topic_id(&mut self) -> Uuid {
        let n = self.next_topic_id;
        self.next_topic_id += 1;
        let mut id = [0u8; 16];
        id[0] = 0x51; // never the zero id, which means "no id"
        id[8..].copy_from_slice(&n.to_be_bytes());
        Uuid(id)
    }
}
