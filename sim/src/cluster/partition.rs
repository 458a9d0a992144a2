//! One partition: its log on the leader, each replica's log end offset,
//! the in-sync replicas, the high watermark, and the idempotent producers'
//! sequence state.
//!
//! The replicas share one log: a follower's copy is always a prefix of the
//! leader's, so a replica is fully described by its log end offset. When a
//! new leader is elected, the log is cut back to what that leader holds,
//! as Kafka's followers truncate to the new leader's log. Replication copies
//! whole batches, so every log end offset sits on a batch boundary.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

/// How many of a producer's latest batches a partition remembers to spot
/// a retried duplicate (Kafka keeps five, which is why producers may have
/// at most five requests in flight).
pub const REMEMBERED_BATCHES: usize = 5;

/// A batch as stored: its bytes carry the offsets the leader assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBatch {
    /// The offset of the batch's first record.
    pub base_offset: i64,
    /// The offset of the batch's last record.
    pub last_offset: i64,
    /// The batch as Fetch returns it: a v2 record batch, or a legacy
    /// message set (stored uncompressed).
    pub bytes: Bytes,
    /// The idempotent producer's id; -1 for a non-idempotent batch.
    pub producer_id: i64,
    /// The producer's epoch; -1 for a non-idempotent batch.
    pub producer_epoch: i16,
    /// The sequence number of the first record; -1 for a non-idempotent
    /// batch.
    pub base_sequence: i32,
    /// The largest record timestamp in the batch, in milliseconds since
    /// the epoch; -1 when no record has one.
    pub max_timestamp: i64,
    /// What the batch is to transactions: plain data, a transaction's
    /// data, or a coordinator's marker.
    pub kind: BatchKind,
}

/// What a stored batch is to transactions (KIP-98).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchKind {
    /// Records outside any transaction.
    #[default]
    Plain,
    /// Records of the producer's open transaction.
    Transactional,
    /// A transaction marker: the producer's transaction committed (`true`)
    /// or aborted (`false`) at this offset.
    Marker {
        /// Whether the marker commits the transaction.
        committed: bool,
    },
}

/// One transaction's span in a partition: from its first record to its
/// marker. Read-committed consumers read no further than the first span
/// still open (the last stable offset), and drop the records of aborted
/// spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnSpan {
    /// The producer whose transaction it is.
    pub producer_id: i64,
    /// The offset of the transaction's first record in this partition.
    pub first_offset: i64,
    /// The marker's offset and whether it committed; `None` while open.
    pub marker: Option<(i64, bool)>,
}

impl StoredBatch {
    /// How many records (offsets) the batch holds.
    pub fn record_count(&self) -> i64 {
        self.last_offset - self.base_offset + 1
    }

    /// The sequence number of the last record, wrapping past `i32::MAX`
    /// as Kafka does.
    pub fn last_sequence(&self) -> i32 {
        let count = i32::try_from(self.record_count() - 1).unwrap_or(i32::MAX);
        increment_sequence(self.base_sequence, count)
    }
}

/// `sequence + by` as Kafka counts sequences: past `i32::MAX` they wrap to
/// 0, not to negative values (`DefaultRecordBatch.incrementSequence`).
pub fn increment_sequence(sequence: i32, by: i32) -> i32 {
    if sequence > i32::MAX - by {
        by - (i32::MAX - sequence) - 1
    } else {
        sequence + by
    }
}

/// How many sequences `last` is after `first`, across a wrap.
fn sequence_distance(first: i32, last: i32) -> i64 {
    if last >= first {
        i64::from(last) - i64::from(first)
    } else {
        i64::from(i32::MAX) - i64::from(first) + i64::from(last) + 1
    }
}

/// An idempotent producer's state in one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerEntry {
    /// The producer's latest epoch seen in this partition.
    pub epoch: i16,
    /// Its latest batches: (base sequence, last sequence, base offset).
    pub batches: VecDeque<(i32, i32, i64)>,
}

/// What the sequence check says about an incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it.
    Append,
    /// A retry of a batch already in the log at these offsets: answer
    /// success without writing it again (once committed, for acks=all).
    Duplicate { base_offset: i64, last_offset: i64 },
    /// Fails with this error code.
    Reject(i16),
}

/// A partition's replicated state.
#[derive(Debug, Clone)]
pub struct Partition {
    /// Replica broker ids, preferred leader first.
    pub replicas: Vec<i32>,
    /// -1 while no in-sync replica is alive.
    pub leader: i32,
    /// Bumped on every leadership change, going offline included.
    pub leader_epoch: i32,
    /// The in-sync replicas' broker ids.
    pub isr: Vec<i32>,
    /// The leader's log: stored batches in offset order.
    pub log: Vec<StoredBatch>,
    /// The first offset in the log; stays 0, as nothing is ever deleted.
    pub log_start_offset: i64,
    /// Log end offset of each follower (the leader's is the log's end).
    pub replica_end: BTreeMap<i32, i64>,
    /// When each follower last matched the leader's log end.
    pub caught_up_at: BTreeMap<i32, u64>,
    /// The offset up to which every in-sync replica has the log (the
    /// committed end); consumers read below it.
    pub high_watermark: i64,
    /// Idempotent producers' sequence state, by producer id.
    pub producers: BTreeMap<i64, ProducerEntry>,
    /// Transactions' spans, in the order they began.
    pub txns: Vec<TxnSpan>,
}

impl Partition {
    /// An empty partition on `replicas`, led by the first one, every
    /// replica in sync and counted caught up at `now_ms`.
    pub fn new(replicas: Vec<i32>, now_ms: u64) -> Self {
        let leader = replicas.first().copied().unwrap_or(-1);
        Partition {
            isr: replicas.clone(),
            replica_end: replicas.iter().map(|r| (*r, 0)).collect(),
            caught_up_at: replicas.iter().map(|r| (*r, now_ms)).collect(),
            replicas,
            leader,
            leader_epoch: 0,
            log: Vec::new(),
            log_start_offset: 0,
            high_watermark: 0,
            producers: BTreeMap::new(),
            txns: Vec::new(),
        }
    }

    /// The offset the next appended record gets (the leader's log end).
    pub fn log_end_offset(&self) -> i64 {
        self.log
            .last()
            .map_or(self.log_start_offset, |b| b.last_offset + 1)
    }

    /// A replica's log end offset (the leader's is the log's).
    pub fn end_of(&self, replica: i32) -> i64 {
        if replica == self.leader {
            self.log_end_offset()
        } else {
            self.replica_end.get(&replica).copied().unwrap_or(0)
        }
    }

    /// Checks a batch's producer id, epoch and sequence against what this
    /// partition has seen (KIP-98).
    pub fn check_sequence(
        &self,
        pid: i64,
        epoch: i16,
        base_seq: i32,
        last_seq: i32,
    ) -> SequenceCheck {
        if pid < 0 {
            return SequenceCheck::Append;
        }
        let Some(entry) = self.producers.get(&pid) else {
            // Unknown producer: only a fresh sequence may start it, or the
            // log lost its earlier batches and the producer must restart.
            return if base_seq == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::Reject(UNKNOWN_PRODUCER_ID)
            };
        };
        if epoch < entry.epoch {
            return SequenceCheck::Reject(INVALID_PRODUCER_EPOCH);
        }
        if epoch > entry.epoch {
            return if base_seq == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::Reject(OUT_OF_ORDER_SEQUENCE_NUMBER)
            };
        }
        if let Some((_, _, offset)) = entry
            .batches
            .iter()
            .find(|(first, last, _)| *first == base_seq && *last == last_seq)
        {
            return SequenceCheck::Duplicate {
                base_offset: *offset,
                last_offset: *offset + sequence_distance(base_seq, last_seq),
            };
        }
        let last = entry.batches.back().map_or(-1, |(_, last, _)| *last);
        let next = if last < 0 {
            0
        } else {
            increment_sequence(last, 1)
        };
        if base_seq == next {
            SequenceCheck::Append
        } else if base_seq <= last && next != 0 {
            SequenceCheck::Reject(DUPLICATE_SEQUENCE_NUMBER)
        } else {
            SequenceCheck::Reject(OUT_OF_ORDER_SEQUENCE_NUMBER)
        }
    }

    /// Appends a batch whose offsets are already set.
    pub fn append(&mut self, batch: StoredBatch) {
        remember(&mut self.producers, &batch);
        track_transaction(&mut self.txns, &batch);
        self.log.push(batch);
    }

    /// The last stable offset: below it every transaction has its marker
    /// replicated (KIP-98). Read-committed consumers read up to here.
    pub fn last_stable_offset(&self) -> i64 {
        let hw = self.high_watermark;
        self.txns
            .iter()
            .filter(|t| t.marker.is_none_or(|(at, _)| at >= hw))
            .map(|t| t.first_offset)
            .min()
            .map_or(hw, |first| first.min(hw))
    }

    /// The aborted transactions whose records lie in `from..upto`: the
    /// producer id and first offset of each, as a Fetch's aborted list.
    pub fn aborted_between(&self, from: i64, upto: i64) -> Vec<(i64, i64)> {
        self.txns
            .iter()
            .filter_map(|t| match t.marker {
                Some((at, false)) if t.first_offset < upto && at >= from => {
                    Some((t.producer_id, t.first_offset))
                }
                _ => None,
            })
            .collect()
    }

    /// Whether `producer_id` has a transaction open here.
    pub fn has_open_transaction(&self, producer_id: i64) -> bool {
        self.txns
            .iter()
            .any(|t| t.producer_id == producer_id && t.marker.is_none())
    }

    /// Moves followers that are alive and not stalled up to the leader's
    /// log end, grows and shrinks the ISR, and advances the high
    /// watermark. Returns whether anything changed.
    pub fn replicate(
        &mut self,
        can_fetch: impl Fn(i32) -> bool,
        now_ms: u64,
        lag_max_ms: u64,
    ) -> bool {
        if self.leader < 0 {
            return false;
        }
        let end = self.log_end_offset();
        let mut changed = false;
        for &r in &self.replicas {
            if r == self.leader {
                continue;
            }
            if can_fetch(r) {
                let e = self.replica_end.entry(r).or_insert(0);
                if *e != end {
                    *e = end;
                    changed = true;
                }
                self.caught_up_at.insert(r, now_ms);
                if !self.isr.contains(&r) {
                    self.isr.push(r);
                    self.isr.sort_unstable();
                    changed = true;
                }
            }
            // A follower that cannot fetch is not caught up, even with
            // nothing new to copy: Kafka only counts fetches.
        }
        // A follower that has not caught up for too long leaves the ISR.
        let leader = self.leader;
        let before = self.isr.len();
        let caught_up_at = &self.caught_up_at;
        self.isr.retain(|r| {
            *r == leader
                || caught_up_at
                    .get(r)
                    .is_some_and(|t| now_ms.saturating_sub(*t) <= lag_max_ms)
        });
        changed |= before != self.isr.len();
        changed | self.advance_high_watermark()
    }

    /// The high watermark: the least log end offset of the ISR. Never
    /// moves back.
    pub fn advance_high_watermark(&mut self) -> bool {
        let least = self
            .isr
            .iter()
            .map(|r| self.end_of(*r))
            .min()
            .unwrap_or(self.high_watermark);
        if least > self.high_watermark {
            self.high_watermark = least;
            true
        } else {
            false
        }
    }

    /// A broker died: it leaves the ISR (unless it is the last member,
    /// which Kafka keeps so the partition can come back with it) and, if it
    /// led, an alive in-sync replica takes over.
    pub fn broker_down(&mut self, broker: i32, alive: impl Fn(i32) -> bool) {
        if !self.replicas.contains(&broker) {
            return;
        }
        if self.isr.len() > 1 {
            self.isr.retain(|r| *r != broker);
        }
        if self.leader == broker {
            let next = self.isr.iter().copied().find(|r| *r != broker && alive(*r));
            match next {
                Some(n) => self.elect(n),
                None => {
                    // Offline until an in-sync replica returns.
                    self.replica_end.insert(broker, self.log_end_offset());
                    self.leader = -1;
                    self.leader_epoch += 1;
                }
            }
        }
        self.advance_high_watermark();
    }

    /// A broker came back: it leads again if the partition was offline and
    /// it is in the ISR; otherwise it catches up as a follower.
    pub fn broker_up(&mut self, broker: i32) {
        if self.leader < 0 && self.isr.contains(&broker) {
            let end = self.replica_end.get(&broker).copied().unwrap_or(0);
            self.leader = broker;
            self.leader_epoch += 1;
            self.truncate_to(end);
        }
    }

    /// Makes `new_leader` (an in-sync replica) the leader: the log is cut to
    /// its log end, and followers that were ahead cut theirs too.
    pub fn elect(&mut self, new_leader: i32) {
        let old_end = self.log_end_offset();
        let new_end = if new_leader == self.leader {
            old_end
        } else {
            self.replica_end.get(&new_leader).copied().unwrap_or(0)
        };
        if self.leader >= 0 && self.leader != new_leader {
            self.replica_end.insert(self.leader, old_end);
        }
        self.leader = new_leader;
        self.leader_epoch += 1;
        self.truncate_to(new_end);
    }

    fn truncate_to(&mut self, end: i64) {
        if end < self.log_end_offset() {
            self.log.retain(|b| b.last_offset < end);
            // The producers' state is rebuilt from what is left, as a
            // broker rebuilds it from its log after truncation.
            self.producers.clear();
            self.txns.clear();
            for b in &self.log {
                remember(&mut self.producers, b);
                track_transaction(&mut self.txns, b);
            }
        }
        let end = self.log_end_offset();
        for e in self.replica_end.values_mut() {
            *e = (*e).min(end);
        }
        self.high_watermark = self.high_watermark.min(end);
    }

    /// Batches holding offsets from `offset` up to `upto` (the high
    /// watermark, or the last stable offset for read_committed), at most
    /// `max_bytes` (but always the first one, as KIP-74 says).
    pub fn read(&self, offset: i64, upto: i64, max_bytes: usize) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut size = 0usize;
        for b in &self.log {
            if b.last_offset < offset {
                continue;
            }
            if b.last_offset >= upto {
                break;
            }
            if !out.is_empty() && size + b.bytes.len() > max_bytes {
                break;
            }
            size += b.bytes.len();
            out.push(b.bytes.clone());
        }
        out
    }
}

/// Opens a span at a transaction's first record here; closes it at its
/// marker.
fn track_transaction(txns: &mut Vec<TxnSpan>, batch: &StoredBatch) {
    let pid = batch.producer_id;
    let open = txns
        .iter_mut()
        .find(|t| t.producer_id == pid && t.marker.is_none());
    match (batch.kind, open) {
        (BatchKind::Transactional, None) => txns.push(TxnSpan {
            producer_id: pid,
            first_offset: batch.base_offset,
            marker: None,
        }),
        (BatchKind::Marker { committed }, Some(span)) => {
            span.marker = Some((batch.base_offset, committed));
        }
        _ => {}
    }
}

fn remember(producers: &mut BTreeMap<i64, ProducerEntry>, batch: &StoredBatch) {
    if batch.producer_id < 0 {
        return;
    }
    let entry = producers.entry(batch.producer_id).or_default();
    if batch.producer_epoch != entry.epoch {
        entry.epoch = batch.producer_epoch;
        entry.batches.clear();
    }
    if matches!(batch.kind, BatchKind::Marker { .. }) {
        // A marker carries no sequence: it only moves the epoch on (a
        // fenced producer's older epoch is refused from here on).
        return;
    }
    entry.batches.push_back((
        batch.base_sequence,
        batch.last_sequence(),
        batch.base_offset,
    ));
    while entry.batches.len() > REMEMBERED_BATCHES {
        entry.batches.pop_front();
    }
}

const UNKNOWN_PRODUCER_ID: i16 = 59;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const DUPLICATE_SEQUENCE_NUMBER: i16 = 46;

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(base: i64, count: i64, pid: i64, seq: i32) -> StoredBatch {
        StoredBatch {
            base_offset: base,
            last_offset: base + count - 1,
            bytes: Bytes::new(),
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: seq,
            max_timestamp: 0,
            kind: BatchKind::Plain,
        }
    }

    #[test]
    fn sequences_accept_the_next_spot_retries_and_refuse_gaps() {
        let mut p = Partition::new(vec![1, 2, 3], 0);
        assert_eq!(p.check_sequence(7, 0, 0, 1), SequenceCheck::Append);
        p.append(batch(0, 2, 7, 0));
        assert_eq!(
            p.check_sequence(7, 0, 0, 1),
            SequenceCheck::Duplicate {
                base_offset: 0,
                last_offset: 1
            }
        );
        assert_eq!(p.check_sequence(7, 0, 2, 2), SequenceCheck::Append);
        assert_eq!(
            p.check_sequence(7, 0, 5, 5),
            SequenceCheck::Reject(OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        assert_eq!(
            p.check_sequence(8, 0, 3, 3),
            SequenceCheck::Reject(UNKNOWN_PRODUCER_ID)
        );
    }

    #[test]
    fn sequences_wrap_to_zero_as_kafka_counts_them() {
        let mut p = Partition::new(vec![1], 0);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        let wrapped = batch(0, 3, 7, i32::MAX - 1);
        assert_eq!(wrapped.last_sequence(), 0);
        p.append(batch(0, 1, 7, 0));
        p.producers.get_mut(&7).expect("remembered").batches.clear();
        p.producers
            .get_mut(&7)
            .expect("remembered")
            .batches
            .push_back((i32::MAX - 1, i32::MAX, 0));
        assert_eq!(p.check_sequence(7, 0, 0, 4), SequenceCheck::Append);
        assert_eq!(
            p.check_sequence(7, 0, i32::MAX - 1, i32::MAX),
            SequenceCheck::Duplicate {
                base_offset: 0,
                last_offset: 1
            }
        );
        assert_eq!(
            p.check_sequence(7, 0, 3, 4),
            SequenceCheck::Reject(OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
    }

    fn txn_batch(base: i64, count: i64, pid: i64, seq: i32, kind: BatchKind) -> StoredBatch {
        StoredBatch {
            kind,
            ..batch(base, count, pid, seq)
        }
    }

    #[test]
    fn the_last_stable_offset_waits_for_replicated_markers_and_aborts_are_listed() {
        let mut p = Partition::new(vec![1, 2], 0);
        // Producer 7 opens a transaction at 0; producer 8 at 2.
        p.append(txn_batch(0, 2, 7, 0, BatchKind::Transactional));
        p.append(txn_batch(2, 1, 8, 0, BatchKind::Transactional));
        assert!(p.replicate(|_| true, 1, 100));
        assert_eq!(p.high_watermark, 3);
        assert_eq!(p.last_stable_offset(), 0, "7's transaction is open");
        // 7 aborts: its marker at 3 is not replicated yet.
        p.append(txn_batch(
            3,
            1,
            7,
            -1,
            BatchKind::Marker { committed: false },
        ));
        assert_eq!(p.last_stable_offset(), 0);
        p.replicate(|_| true, 2, 100);
        assert_eq!(p.last_stable_offset(), 2, "8's transaction is still open");
        assert_eq!(p.aborted_between(0, 2), vec![(7, 0)]);
        assert!(p.aborted_between(4, 10).is_empty());
        // 8 commits; everything is stable, nothing of 8's is listed.
        p.append(txn_batch(
            4,
            1,
            8,
            -1,
            BatchKind::Marker { committed: true },
        ));
        p.replicate(|_| true, 3, 100);
        assert_eq!(p.last_stable_offset(), p.high_watermark);
        assert_eq!(p.aborted_between(0, 5), vec![(7, 0)]);
        // Reads stop at the bound given.
        assert_eq!(p.read(0, 2, usize::MAX).len(), 1);
    }

    #[test]
    fn a_marker_moves_the_epoch_on_and_a_cut_marker_reopens_the_transaction() {
        let mut p = Partition::new(vec![1, 2], 0);
        p.append(txn_batch(0, 1, 7, 0, BatchKind::Transactional));
        p.replicate(|_| true, 1, 100);
        // The coordinator fenced 7 (epoch 1) and aborted it.
        let mut marker = txn_batch(1, 1, 7, -1, BatchKind::Marker { committed: false });
        marker.producer_epoch = 1;
        p.append(marker);
        assert_eq!(
            p.check_sequence(7, 0, 1, 1),
            SequenceCheck::Reject(INVALID_PRODUCER_EPOCH),
            "the zombie's epoch is refused"
        );
        assert!(!p.has_open_transaction(7));
        // The marker was not replicated and the leader changes: it is cut
        // and the transaction is open again (the coordinator writes it
        // anew).
        p.elect(2);
        assert!(p.has_open_transaction(7));
        assert_eq!(p.last_stable_offset(), 0);
    }

    #[test]
    fn electing_a_lagging_replica_truncates_and_keeps_the_high_watermark() {
        let mut p = Partition::new(vec![1, 2], 0);
        p.append(batch(0, 2, 7, 0));
        assert!(p.replicate(|_| true, 1, 100));
        assert_eq!(p.high_watermark, 2);
        p.append(batch(2, 1, 7, 2));
        p.elect(2);
        assert_eq!(p.log_end_offset(), 2);
        assert_eq!(p.high_watermark, 2);
        // The truncated batch's sequence is free again.
        assert_eq!(p.check_sequence(7, 0, 2, 2), SequenceCheck::Append);
    }
}
