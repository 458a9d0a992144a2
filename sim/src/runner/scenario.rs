//! What one seed decides before the run starts: the cluster's shape, the
//! workload, and when each fault strikes.

use crate::rng::SimRng;

/// A fault, at a moment of virtual time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Close one open client connection (the n-th, modulo how many).
    DropConnection {
        /// Random bits; the connection dropped is `pick` modulo the
        /// number of open connections.
        pick: u64,
    },
    /// Crash a broker; it restarts `down_ms` later.
    CrashBroker {
        /// The id of the broker to crash.
        broker: i32,
        /// How long it stays down, in milliseconds of virtual time.
        down_ms: u64,
    },
    /// Move a partition's leadership to another in-sync replica.
    ElectLeader {
        /// The partition of the run's topic.
        partition: i32,
        /// Random bits; the new leader is `pick` modulo the number of
        /// alive in-sync replicas other than the leader.
        pick: u64,
    },
    /// A broker stops answering and replicating for `for_ms`.
    StallBroker {
        /// The id of the broker to stall.
        broker: i32,
        /// How long the stall lasts, in milliseconds of virtual time.
        for_ms: u64,
    },
}

/// Everything a seed decides.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The seed the scenario was drawn from.
    pub seed: u64,
    /// How many brokers the cluster has.
    pub brokers: usize,
    /// Partitions of the run's topic, each replicated on every broker.
    pub partitions: i32,
    /// How many records the producer sends.
    pub records: usize,
    /// How many group consumers read the topic.
    pub consumers: usize,
    /// Records are sent at these moments (ms), one each.
    pub send_at_ms: Vec<u64>,
    /// Faults strike until this moment; then every broker is restarted,
    /// resumed, and errors stop.
    pub fault_window_ms: u64,
    /// The faults, each with the moment (ms) it strikes, in time order.
    pub faults: Vec<(u64, Fault)>,
    /// Network delay per message: usually small, sometimes a spike. This
    /// is the least delay, in microseconds.
    pub delay_min_us: u64,
    /// The largest delay without a spike, in microseconds.
    pub delay_max_us: u64,
    /// How many messages in a thousand get a spike on top of their delay.
    pub spike_per_mille: u32,
    /// The largest extra delay a spike adds, in microseconds.
    pub spike_max_us: u64,
    /// How many requests in a thousand the cluster answers with a
    /// retriable error during the fault window.
    pub injected_error_per_mille: u32,
    /// The run fails if it has not settled by then.
    pub give_up_ms: u64,
}

impl Scenario {
    /// The scenario of `seed`. Kept small on purpose (a few brokers, a
    /// few dozen records), so thousands of seeds run in seconds.
    pub fn from_seed(seed: u64) -> Scenario {
        let mut rng = SimRng::new(seed);
        let brokers = 3;
        let partitions = rng.range(1, 3) as i32;
        let records = rng.range(6, 24) as usize;
        let consumers = rng.range(1, 2) as usize;
        let fault_window_ms = rng.range(3_000, 9_000);
        let mut send_at_ms: Vec<u64> = (0..records).map(|_| rng.below(fault_window_ms)).collect();
        send_at_ms.sort_unstable();
        // Some seeds are calm: they test the happy path and the settle.
        let intensity = rng.below(4);
        let mut faults = Vec::new();
        let count = match intensity {
            0 => 0,
            1 => rng.range(1, 3),
            _ => rng.range(2, 8),
        };
        for _ in 0..count {
            let at = rng.below(fault_window_ms);
            let fault = match rng.below(4) {
                0 => Fault::DropConnection {
                    pick: rng.next_u64(),
                },
                1 => Fault::CrashBroker {
                    broker: rng.range(1, brokers as u64) as i32,
                    down_ms: rng.range(200, 6_000),
                },
                2 => Fault::ElectLeader {
                    partition: rng.below(partitions as u64) as i32,
                    pick: rng.next_u64(),
                },
                _ => Fault::StallBroker {
                    broker: rng.range(1, brokers as u64) as i32,
                    for_ms: rng.range(100, 8_000),
                },
            };
            faults.push((at, fault));
        }
        faults.sort_by_key(|(at, _)| *at);
        let spiky = intensity >= 2;
        Scenario {
            seed,
            brokers,
            partitions,
            records,
            consumers,
            send_at_ms,
            fault_window_ms,
            faults,
            delay_min_us: rng.range(50, 500),
            delay_max_us: rng.range(500, 5_000),
            spike_per_mille: if spiky { rng.range(5, 40) as u32 } else { 0 },
            spike_max_us: rng.range(10_000, 400_000),
            injected_error_per_mille: if intensity >= 2 {
                rng.range(0, 80) as u32
            } else {
                0
            },
            give_up_ms: fault_window_ms + 120_000,
        }
    }
}
