//! What must hold at the end of every run, whatever the faults were.

use std::collections::{BTreeMap, BTreeSet};

use kafkite::records::RecordSet;

use super::{Consumed, Outcome, ProducerApp, Role, RunReport, Simulation, GROUP, TOPIC};

/// A broken invariant, with what is needed to see why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// An acknowledged record is not in the log (lost in a failover).
    Lost {
        /// The record's index in send order.
        record: usize,
        /// The partition the acknowledgement named.
        partition: i32,
        /// The offset the acknowledgement named.
        offset: i64,
    },
    /// A record is in the log more than once (idempotence failed).
    Duplicated {
        /// The record's index in send order.
        record: usize,
        /// Every offset the record is at.
        offsets: Vec<i64>,
    },
    /// An acknowledged record is not where its acknowledgement said.
    WrongOffset {
        /// The record's index in send order.
        record: usize,
        /// The offset the acknowledgement named.
        acked: i64,
        /// The offset the log has the record at.
        found: i64,
    },
    /// Acknowledged records of a partition are out of send order.
    OutOfOrder {
        /// The partition.
        partition: i32,
        /// The index of the record sent first, at the higher offset.
        first: usize,
        /// The index of the record sent next, at the lower offset.
        second: usize,
    },
    /// An acknowledged record is past the high watermark.
    NotCommitted {
        /// The record's index in send order.
        record: usize,
        /// The offset the log has the record at.
        offset: i64,
        /// The partition's high watermark at the end of the run.
        high_watermark: i64,
    },
    /// An acknowledged record never reached a consumer.
    NotDelivered {
        /// The record's index in send order.
        record: usize,
    },
    /// A group's committed offset moved back.
    CommitWentBack {
        /// The partition of the run's topic.
        partition: i32,
        /// The offset committed before.
        from: i64,
        /// The lower offset committed after it.
        to: i64,
        /// The cluster's clock at the later commit, in milliseconds.
        at_ms: u64,
    },
    /// Two members of one generation owned a partition at once.
    TwoOwners {
        /// The generation both members were stable in.
        generation: i32,
        /// The partition both owned.
        partition: i32,
        /// The two consumers' names.
        members: (String, String),
        /// Virtual time when it was seen, in microseconds.
        at_us: u64,
    },
    /// A member stopped with a fatal error.
    MemberFailed {
        /// The consumer's name.
        member: String,
        /// The group error, as text.
        error: String,
    },
    /// The envelope consumer broke a rule (handed out a record of a
    /// partition it did not own).
    Envelope {
        /// What was broken, as text.
        rule: String,
    },
    /// The group stored an offset no commit resolution asked for (an ack
    /// stored something).
    CommitNotFromEnvelope {
        /// The partition of the run's topic.
        partition: i32,
        /// The offset the group stored.
        offset: i64,
    },
    /// An exactly-once run: an acknowledged input record's output is not
    /// in the output's committed data exactly once, or the read_committed
    /// consumer did not read it at exactly one offset.
    NotExactlyOnce {
        /// The input record's index in send order.
        record: usize,
        /// How many times its output is in committed data.
        in_log: usize,
        /// At how many offsets the read_committed consumer read it.
        by_reader: usize,
    },
    /// An output record is in committed data more than once.
    OutputTwice {
        /// The output value.
        value: String,
        /// Where: (partition, offset).
        offsets: Vec<(i32, i64)>,
    },
    /// The read_committed consumer read a record of an aborted (or
    /// never committed) transaction.
    AbortedRead {
        /// The output partition.
        partition: i32,
        /// The record's offset.
        offset: i64,
    },
    /// The run had not settled when it gave up.
    DidNotSettle {
        /// How many records had an outcome (acknowledged or failed).
        outcomes: usize,
        /// How many records were to be sent.
        records: usize,
    },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

pub(super) fn check(sim: Simulation) -> RunReport {
    let mut violations = Vec::new();
    if let Some(v) = sim.ownership_violation.clone() {
        violations.push(v);
    }
    let mut outcomes = BTreeMap::new();
    let mut delivered: BTreeSet<String> = BTreeSet::new();
    let mut total = 0;
    let mut commit_resolved: BTreeSet<(i32, i64)> = BTreeSet::new();
    for a in &sim.actors {
        match &a.role {
            Role::Producer(p) => {
                outcomes = p.outcomes.clone();
                total = p.total;
            }
            Role::Consumer(c) => {
                delivered.extend(c.delivered.iter().map(|(_, _, v, _)| v.clone()));
                commit_resolved.extend(c.commit_resolved.iter().copied());
                if let Some(rule) = &c.envelope_violation {
                    violations.push(Violation::Envelope { rule: rule.clone() });
                }
                if let Some(e) = &c.fatal {
                    violations.push(Violation::MemberFailed {
                        member: c.name.clone(),
                        error: e.clone(),
                    });
                }
            }
            Role::Transformer(_) | Role::Retired => {}
        }
    }
    if outcomes.len() < total {
        violations.push(Violation::DidNotSettle {
            outcomes: outcomes.len(),
            records: total,
        });
    }
    // The log as the leader holds it: value -> offsets, per partition.
    let mut found: BTreeMap<usize, Vec<(i32, i64)>> = BTreeMap::new();
    let mut high_watermarks = BTreeMap::new();
    if let Some(topic) = sim.cluster.topics().get(TOPIC) {
        for (p, partition) in topic.partitions.iter().enumerate() {
            high_watermarks.insert(p as i32, partition.high_watermark);
            for batch in &partition.log {
                for record in RecordSet::new(batch.bytes.clone()).records().flatten() {
                    let value = record
                        .value
                        .as_ref()
                        .map(|v| String::from_utf8_lossy(v).into_owned());
                    if let Some(index) = value
                        .as_deref()
                        .and_then(|v| v.strip_prefix('r'))
                        .and_then(|n| n.parse::<usize>().ok())
                    {
                        found
                            .entry(index)
                            .or_default()
                            .push((p as i32, record.offset));
                    }
                }
            }
        }
    }
    for (index, places) in &found {
        if places.len() > 1 {
            violations.push(Violation::Duplicated {
                record: *index,
                offsets: places.iter().map(|(_, o)| *o).collect(),
            });
        }
    }
    let mut acked_by_partition: BTreeMap<i32, Vec<(usize, i64)>> = BTreeMap::new();
    for (index, outcome) in &outcomes {
        let Outcome::Acked { partition, offset } = outcome else {
            continue;
        };
        match found.get(index).and_then(|v| v.first()) {
            None => violations.push(Violation::Lost {
                record: *index,
                partition: *partition,
                offset: *offset,
            }),
            Some((_, at)) => {
                if *offset >= 0 && at != offset {
                    violations.push(Violation::WrongOffset {
                        record: *index,
                        acked: *offset,
                        found: *at,
                    });
                }
                let hw = high_watermarks.get(partition).copied().unwrap_or(0);
                if *at >= hw {
                    violations.push(Violation::NotCommitted {
                        record: *index,
                        offset: *at,
                        high_watermark: hw,
                    });
                }
                acked_by_partition
                    .entry(*partition)
                    .or_default()
                    .push((*index, *at));
            }
        }
        // An exactly-once run's consumer reads the outputs: checked below.
        if sim.eos.is_none() && !delivered.contains(&ProducerApp::value(*index)) {
            violations.push(Violation::NotDelivered { record: *index });
        }
    }
    for (partition, mut list) in acked_by_partition {
        list.sort_unstable();
        for w in list.windows(2) {
            if w[1].1 < w[0].1 {
                violations.push(Violation::OutOfOrder {
                    partition,
                    first: w[0].0,
                    second: w[1].0,
                });
            }
        }
    }
    let mut last: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for c in sim.cluster.accepted_commits() {
        if c.group != GROUP {
            continue;
        }
        let key = (c.topic.clone(), c.partition);
        if let Some(prev) = last.get(&key) {
            if c.offset < *prev {
                violations.push(Violation::CommitWentBack {
                    partition: c.partition,
                    from: *prev,
                    to: c.offset,
                    at_ms: c.at_ms,
                });
            }
        }
        last.insert(key, c.offset);
        if !commit_resolved.contains(&(c.partition, c.offset)) {
            violations.push(Violation::CommitNotFromEnvelope {
                partition: c.partition,
                offset: c.offset,
            });
        }
    }
    let mut deliveries: Vec<Consumed> = sim
        .actors
        .iter()
        .filter_map(|a| match &a.role {
            Role::Consumer(c) => Some(c),
            _ => None,
        })
        .flat_map(|c| {
            c.delivered.iter().map(|(p, o, v, t)| Consumed {
                consumer: c.name.clone(),
                partition: *p,
                offset: *o,
                value: v.clone(),
                at_us: *t,
            })
        })
        .collect();
    deliveries.sort_by_key(|d| d.at_us);
    let mut transactions = Default::default();
    if sim.eos.is_some() {
        let (more, counts) = sim.check_exactly_once();
        violations.extend(more);
        transactions = counts;
    }
    let acked = outcomes
        .values()
        .filter(|o| matches!(o, Outcome::Acked { .. }))
        .count();
    RunReport {
        seed: sim.scenario.seed,
        violations,
        trace: sim.trace.text().to_string(),
        virtual_ms: sim.now_us / 1000,
        acked,
        delivered: delivered.len(),
        deliveries,
        steps: sim.steps,
        stale_deadlines: sim.actors.iter().map(|a| a.engine.stale_deadlines()).sum(),
        transactions,
    }
}
