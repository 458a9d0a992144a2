//! The simulated network between client connections and brokers: each
//! direction of a connection delivers in order, after a seeded delay.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafkite::client::ConnectionId;

use crate::cluster::ConnKey;
use crate::rng::SimRng;

/// Something the network will do at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A connect attempt reaches the broker.
    Connect {
        actor: usize,
        conn: ConnectionId,
        broker: i32,
    },
    ToBroker {
        key: ConnKey,
        data: Bytes,
    },
    ToClient {
        actor: usize,
        conn: ConnectionId,
        data: Bytes,
    },
    /// The broker's close reaches the client.
    Closed {
        actor: usize,
        conn: ConnectionId,
    },
    /// A scheduled fault or recovery (by index into the run's list).
    Fault(usize),
    /// An application fault of an exactly-once run (by index).
    AppFault(usize),
    Restart(i32),
    Resume(i32),
    Heal,
}

/// One client connection.
#[derive(Debug, Clone)]
pub struct Link {
    pub key: Option<ConnKey>,
    /// When the last message each way arrives: later ones queue behind.
    pub to_broker_at: u64,
    pub to_client_at: u64,
}

/// Delays, links, and the queue of deliveries in time order.
#[derive(Debug)]
pub struct Network {
    rng: SimRng,
    pub delay_min_us: u64,
    pub delay_max_us: u64,
    pub spike_per_mille: u32,
    pub spike_max_us: u64,
    queue: BTreeMap<(u64, u64), Delivery>,
    seq: u64,
    pub links: BTreeMap<(usize, ConnectionId), Link>,
    pub by_key: BTreeMap<ConnKey, (usize, ConnectionId)>,
}

impl Network {
    pub fn new(
        rng: SimRng,
        delay_min_us: u64,
        delay_max_us: u64,
        spike_per_mille: u32,
        spike_max_us: u64,
    ) -> Self {
        Network {
            rng,
            delay_min_us,
            delay_max_us,
            spike_per_mille,
            spike_max_us,
            queue: BTreeMap::new(),
            seq: 0,
            links: BTreeMap::new(),
            by_key: BTreeMap::new(),
        }
    }

    pub fn delay(&mut self) -> u64 {
        let base = self.rng.range(self.delay_min_us, self.delay_max_us);
        if self.spike_per_mille > 0 && self.rng.chance(self.spike_per_mille) {
            base + self.rng.range(self.delay_max_us, self.spike_max_us)
        } else {
            base
        }
    }

    /// Schedules `what`. Times are rounded up to a whole millisecond, so
    /// messages that arrive close together are handled in one step of
    /// the run (order is kept: rounding up never reorders, and ties go in
    /// scheduling order).
    pub fn at(&mut self, when_us: u64, what: Delivery) {
        let when_us = when_us.div_ceil(1000) * 1000;
        self.seq += 1;
        self.queue.insert((when_us, self.seq), what);
    }

    pub fn next_time(&self) -> Option<u64> {
        self.queue.keys().next().map(|(t, _)| *t)
    }

    /// The next delivery due at or before `now_us`.
    pub fn pop_due(&mut self, now_us: u64) -> Option<Delivery> {
        let (&(t, seq), _) = self.queue.iter().next()?;
        if t > now_us {
            return None;
        }
        self.queue.remove(&(t, seq))
    }

    /// Sends client bytes toward the broker, behind earlier ones.
    pub fn send_to_broker(&mut self, now_us: u64, actor: usize, conn: ConnectionId, data: Bytes) {
        let delay = self.delay();
        let Some(link) = self.links.get_mut(&(actor, conn)) else {
            return;
        };
        let Some(key) = link.key else {
            return;
        };
        let at = (now_us + delay).max(link.to_broker_at);
        link.to_broker_at = at;
        self.at(at, Delivery::ToBroker { key, data });
    }

    /// Sends broker bytes (or its close) toward the client.
    pub fn send_to_client(&mut self, now_us: u64, key: ConnKey, data: Option<Bytes>) {
        let delay = self.delay();
        let Some(&(actor, conn)) = self.by_key.get(&key) else {
            return;
        };
        let Some(link) = self.links.get_mut(&(actor, conn)) else {
            return;
        };
        let at = (now_us + delay).max(link.to_client_at);
        link.to_client_at = at;
        match data {
            Some(data) => self.at(at, Delivery::ToClient { actor, conn, data }),
            None => {
                self.by_key.remove(&key);
                link.key = None;
                self.at(at, Delivery::Closed { actor, conn });
            }
        }
    }
}
