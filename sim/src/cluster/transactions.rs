//! The transaction coordinator (KIP-98, the first protocol): each
//! transactional id's producer id, epoch and open transaction; ending a
//! transaction by writing markers into every partition it touched and
//! settling the offsets it carried; fencing and timeouts.
//!
//! The coordinator's own log is taken as replicated: its state survives
//! the crash of the broker that serves it, and the next broker in line
//! (see `metadata::coordinator_for`) takes over, as a new coordinator
//! loads the transaction log. What it must get right is what Kafka's
//! must: a marker counts once the partition's in-sync replicas have it
//! (one cut by a leader change is written again), and a transaction ends
//! only when every marker counts.

use std::collections::{BTreeMap, BTreeSet};

use kafkite::protocol::ErrorCode;
use kafkite::records::RecordBatchWriter;

use super::partition::{BatchKind, StoredBatch};
use super::Cluster;

/// How long after EndTxn the markers start to go out: Kafka writes
/// PrepareCommit to its log first, so a client may retry in between.
const MARKER_DELAY_MS: u64 = 3;
/// How often markers that cannot go out yet (the partition has no
/// leader, or it stalls) are tried again.
const MARKER_RETRY_MS: u64 = 10;

/// A marker's progress in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MarkerState {
    /// Not in the partition's log (yet, or cut by a leader change).
    Unwritten,
    /// Appended to the leader's log at this offset, not yet replicated.
    Written { offset: i64 },
    /// Replicated (or its topic went away: nothing to mark).
    Counted,
}

/// Where a transactional id's transaction is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TxnPhase {
    /// No transaction open.
    Empty,
    /// Records or offsets added since this moment (ms).
    Ongoing { since_ms: u64 },
    /// Committing or aborting: markers going out from `due_ms` on.
    Ending {
        commit: bool,
        /// Why: "commit", "abort", "fenced" or "timed out".
        reason: &'static str,
        due_ms: u64,
        markers: BTreeMap<(String, i32), MarkerState>,
    },
}

/// One transactional id, as its coordinator keeps it.
#[derive(Debug, Clone)]
pub(super) struct TxnEntry {
    pub producer_id: i64,
    pub epoch: i16,
    pub timeout_ms: u64,
    pub phase: TxnPhase,
    /// Partitions in the open transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// Groups whose offsets the open transaction carries.
    pub groups: BTreeSet<String>,
    /// How the last transaction ended (a retried EndTxn gets its answer
    /// again).
    pub last_ended: Option<bool>,
    /// The epoch was last bumped by an EndTxn of the second protocol: a
    /// retry of it comes with the epoch before.
    pub bumped_by_end: bool,
    /// The broker that last served the id as its coordinator (0: none).
    pub served_by: i32,
}

/// A transaction as it ended: what a test or invariant may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedTransaction {
    /// The transactional id.
    pub transactional_id: String,
    /// The producer id and epoch of its markers.
    pub producer_id: i64,
    /// The epoch the markers carry (bumped when it was fenced or timed
    /// out).
    pub epoch: i16,
    /// Committed (true) or aborted.
    pub committed: bool,
    /// Why: "commit", "abort", "fenced" or "timed out".
    pub reason: &'static str,
    /// Ended by an EndTxn of KIP-890's second protocol (which bumped the
    /// epoch).
    pub second_protocol: bool,
    /// The cluster's clock when its last marker counted, in ms.
    pub at_ms: u64,
}

/// What the transaction coordinator went through: evidence that a run's
/// faults reached it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransactionStats {
    /// A transactional id's requests were served by another broker than
    /// the one before (its coordinator crashed or stalled and moved).
    pub coordinator_moves: u64,
    /// Attempts to write a marker that found no leader able to take it
    /// (a broker crashed or stalled mid-commit); tried every 10 ms.
    pub markers_waited: u64,
}

impl Cluster {
    /// What the transaction coordinator went through so far.
    pub fn transaction_stats(&self) -> TransactionStats {
        self.txn_stats
    }

    /// Notes that `broker` served `id` as its coordinator.
    pub(super) fn note_coordinator(&mut self, id: &str, broker: i32) {
        if let Some(e) = self.transactions.get_mut(id) {
            if e.served_by != 0 && e.served_by != broker {
                self.txn_stats.coordinator_moves += 1;
            }
            e.served_by = broker;
        }
    }

    pub(super) fn new_producer_id(&mut self) -> i64 {
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        id
    }

    /// Every transaction that ended, in the order they did.
    pub fn ended_transactions(&self) -> &[EndedTransaction] {
        &self.ended_txns
    }

    /// Whether the second transaction protocol is served.
    pub(super) fn transaction_v2(&self) -> bool {
        self.versions.transaction_v2()
    }

    /// Checks a transactional batch against its producer's coordinator:
    /// the epoch must be current and the partition in the open
    /// transaction. A Produce of the second protocol (v12+) adds the
    /// partition itself, opening a transaction if none is; while the last
    /// one's markers go out it is told to retry (CONCURRENT_TRANSACTIONS,
    /// which Kafka answers a Produce as NOT_ENOUGH_REPLICAS).
    pub(super) fn verify_transactional(
        &mut self,
        (producer_id, epoch): (i64, i16),
        topic: &str,
        partition: i32,
        version: i16,
    ) -> Result<(), i16> {
        let now = self.now_ms;
        let implicit = version >= 12 && self.transaction_v2();
        let entry = self
            .transactions
            .values_mut()
            .find(|e| e.producer_id == producer_id)
            .ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING.0)?;
        if epoch < entry.epoch {
            return Err(ErrorCode::INVALID_PRODUCER_EPOCH.0);
        }
        if implicit && epoch == entry.epoch {
            match entry.phase {
                TxnPhase::Ending { .. } => return Err(ErrorCode::NOT_ENOUGH_REPLICAS.0),
                TxnPhase::Empty => entry.phase = TxnPhase::Ongoing { since_ms: now },
                TxnPhase::Ongoing { .. } => {}
            }
            entry.partitions.insert((topic.to_string(), partition));
        }
        let added = entry.partitions.contains(&(topic.to_string(), partition));
        if epoch != entry.epoch || !added || !matches!(entry.phase, TxnPhase::Ongoing { .. }) {
            return Err(ErrorCode::INVALID_TXN_STATE.0);
        }
        Ok(())
    }

    /// Starts ending `id`'s open transaction: markers go out from a few
    /// milliseconds on.
    pub(super) fn start_ending(&mut self, id: &str, commit: bool, reason: &'static str) {
        let now = self.now_ms;
        let Some(entry) = self.transactions.get_mut(id) else {
            return;
        };
        let markers = entry
            .partitions
            .iter()
            .map(|tp| (tp.clone(), MarkerState::Unwritten))
            .collect();
        entry.phase = TxnPhase::Ending {
            commit,
            reason,
            due_ms: now + MARKER_DELAY_MS,
            markers,
        };
    }

    /// Aborts open transactions that outlived their timeout, bumping the
    /// epoch so their producer is fenced (as Kafka does), and moves
    /// markers on.
    pub(super) fn transaction_timers(&mut self) {
        let now = self.now_ms;
        let expired: Vec<String> = self
            .transactions
            .iter()
            .filter(|(_, e)| {
                matches!(e.phase, TxnPhase::Ongoing { since_ms } if now >= since_ms + e.timeout_ms)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(entry) = self.transactions.get_mut(&id) {
                entry.epoch = entry.epoch.saturating_add(1);
                entry.bumped_by_end = false;
            }
            self.start_ending(&id, false, "timed out");
        }
        let ending: Vec<String> = self
            .transactions
            .iter()
            .filter(|(_, e)| matches!(e.phase, TxnPhase::Ending { due_ms, .. } if due_ms <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ending {
            self.move_markers(&id);
        }
    }

    /// The next moment `transaction_timers` has work to do.
    pub(super) fn transaction_deadline(&self) -> Option<u64> {
        let now = self.now_ms;
        self.transactions
            .values()
            .filter_map(|e| match &e.phase {
                TxnPhase::Empty => None,
                TxnPhase::Ongoing { since_ms } => Some(since_ms + e.timeout_ms),
                TxnPhase::Ending { due_ms, .. } => Some((*due_ms).max(now + MARKER_RETRY_MS)),
            })
            .min()
    }

    /// Writes the markers that can be written, counts those replicated,
    /// and ends the transaction once every one counts.
    fn move_markers(&mut self, id: &str) {
        let now = self.now_ms;
        let Some(entry) = self.transactions.get(id) else {
            return;
        };
        let TxnPhase::Ending {
            commit,
            reason,
            markers,
            ..
        } = &entry.phase
        else {
            return;
        };
        let (commit, reason, pid, epoch) = (*commit, *reason, entry.producer_id, entry.epoch);
        let mut markers = markers.clone();
        let mut wrote = false;
        // Leaders that can take a marker: up and not stalled.
        let writable: Vec<i32> = self
            .brokers
            .iter()
            .filter(|(_, b)| b.up && !b.stalled)
            .map(|(id, _)| *id)
            .collect();
        for ((topic, index), state) in markers.iter_mut() {
            let Some(p) = self
                .topics
                .get_mut(topic)
                .and_then(|t| t.partitions.get_mut(usize::try_from(*index).ok()?))
            else {
                *state = MarkerState::Counted;
                continue;
            };
            if let MarkerState::Written { offset } = *state {
                let still_there = p.log.iter().any(|b| {
                    b.base_offset == offset
                        && b.producer_id == pid
                        && matches!(b.kind, BatchKind::Marker { .. })
                });
                *state = match (still_there, p.high_watermark > offset) {
                    (false, _) => MarkerState::Unwritten,
                    (true, true) => MarkerState::Counted,
                    (true, false) => MarkerState::Written { offset },
                };
            }
            if *state != MarkerState::Unwritten {
                continue;
            }
            if !writable.contains(&p.leader) {
                self.txn_stats.markers_waited += 1;
                continue;
            }
            let offset = p.log_end_offset();
            let Ok(bytes) = marker_bytes(offset, pid, epoch, p.leader_epoch, commit) else {
                continue;
            };
            p.append(StoredBatch {
                base_offset: offset,
                last_offset: offset,
                bytes,
                producer_id: pid,
                producer_epoch: epoch,
                base_sequence: -1,
                max_timestamp: -1,
                kind: BatchKind::Marker { committed: commit },
            });
            p.advance_high_watermark();
            *state = MarkerState::Written { offset };
            wrote = true;
        }
        if wrote {
            self.schedule_replication();
            self.data_version += 1;
        }
        let done = markers.values().all(|s| *s == MarkerState::Counted);
        if let Some(TxnPhase::Ending { markers: m, .. }) =
            self.transactions.get_mut(id).map(|e| &mut e.phase)
        {
            *m = markers;
        }
        if done {
            self.complete(id, commit, reason, now);
        }
    }

    /// Every marker counts: the offsets the transaction carried become
    /// the groups' committed offsets (or are dropped), and the id is free
    /// for its next transaction.
    fn complete(&mut self, id: &str, commit: bool, reason: &'static str, now: u64) {
        let Some(entry) = self.transactions.get_mut(id) else {
            return;
        };
        let pid = entry.producer_id;
        let epoch = entry.epoch;
        let second_protocol = entry.bumped_by_end;
        let groups = std::mem::take(&mut entry.groups);
        entry.partitions.clear();
        entry.phase = TxnPhase::Empty;
        entry.last_ended = Some(commit);
        for g in groups {
            let Some(group) = self.groups.get_mut(&g) else {
                continue;
            };
            let Some(pending) = group.pending_txn_offsets.remove(&pid) else {
                continue;
            };
            if commit {
                group.offsets.extend(pending);
            }
        }
        self.ended_txns.push(EndedTransaction {
            transactional_id: id.to_string(),
            producer_id: pid,
            epoch,
            committed: commit,
            reason,
            second_protocol,
            at_ms: now,
        });
        self.data_version += 1;
    }
}

/// A control batch holding one marker: key (version 0, type), value
/// (version 0, coordinator epoch 0).
fn marker_bytes(
    offset: i64,
    producer_id: i64,
    epoch: i16,
    leader_epoch: i32,
    commit: bool,
) -> Result<bytes::Bytes, kafkite::records::RecordEncodeError> {
    let kind: i16 = if commit { 1 } else { 0 };
    let mut key = [0u8; 4];
    key[2..].copy_from_slice(&kind.to_be_bytes());
    let value = [0u8; 6];
    let mut writer = RecordBatchWriter::new(offset)
        .producer(producer_id, epoch, -1)
        .transactional(true)
        .control(true)
        .partition_leader_epoch(leader_epoch);
    writer.append(-1, Some(&key), Some(&value), [])?;
    Ok(writer.finish()?.freeze())
}
