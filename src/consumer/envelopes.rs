//! Envelopes, without IO: fetched records are handed out one at a time per
//! partition (or in batches), and each must be resolved (committed, acked
//! or cancelled) before that partition hands out its next one.
//!
//! [`EnvelopeQueue`] holds what a [`crate::consumer::FetcherMachine`] delivered
//! and says, as envelopes are resolved, which offsets to commit and when a
//! fetched chunk is used up (so the fetcher may fetch that partition
//! again). The drivers and the simulation share it, so the meaning of
//! commit, ack and cancel is written once.
//!
//! The rules: the offset to commit is the next one to read (the record's
//! offset + 1); an acked record is never handed out again; cancel ends
//! everything and nothing is committed after it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::consumer::FetchedRecords;
use crate::records::Record;

/// A topic and a partition of it.
use crate::TopicPartition;

/// Names one handed-out envelope (or batch) until it is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvelopeToken(pub u64);

/// How an envelope was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Its offset is (being) stored in the group: move on.
    Commit,
    /// Move on without storing anything.
    Ack,
    /// Stop consuming: nothing more is handed out or committed.
    Cancel,
}

/// One record handed out, with the partition it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedEnvelope {
    /// Names this envelope in [`EnvelopeQueue::resolve`].
    pub token: EnvelopeToken,
    /// The topic the record was fetched from.
    pub topic: String,
    /// The partition the record was fetched from.
    pub partition: i32,
    /// The fetched record.
    pub record: Record,
}

/// Records of several partitions handed out together, resolved together.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedBatch {
    /// Names this batch in [`EnvelopeQueue::resolve`].
    pub token: EnvelopeToken,
    /// Per partition, its records in offset order.
    pub partitions: Vec<(TopicPartition, Vec<Record>)>,
}

impl QueuedBatch {
    /// How many records the batch holds, over all its partitions.
    pub fn len(&self) -> usize {
        self.partitions.iter().map(|(_, r)| r.len()).sum()
    }

    /// Whether the batch holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Per partition, the offset a commit stores: one past its last record.
    /// A partition whose last record has no next offset (one at i64::MAX,
    /// which the fetcher never hands out) has nothing to store.
    pub fn commit_offsets(&self) -> BTreeMap<TopicPartition, i64> {
        self.partitions
            .iter()
            .filter_map(|(tp, records)| Some((tp.clone(), records.last()?.next_offset()?)))
            .collect()
    }
}

/// What resolving an envelope asks of the caller.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Chunks used up: call [`crate::consumer::FetcherMachine::release`] for each.
    pub release: Vec<TopicPartition>,
    /// Cancelled: stop the fetcher.
    pub stop: bool,
}

#[derive(Debug, Default)]
struct PartitionQueue {
    /// Fetched chunks not yet fully handed out; the front one is current.
    chunks: VecDeque<VecDeque<Record>>,
    /// Handed out and not yet resolved; while set, nothing more is handed
    /// out for this partition.
    outstanding: Option<EnvelopeToken>,
    /// The outstanding envelope took the last record of its chunk: resolving
    /// it releases that chunk.
    releases_on_resolve: usize,
}

/// Fetched records waiting to be handed out as envelopes.
#[derive(Debug)]
pub struct EnvelopeQueue {
    partitions: BTreeMap<TopicPartition, PartitionQueue>,
    /// Partitions in the order they are served next (round robin), so one
    /// busy partition cannot starve the others.
    turn: VecDeque<TopicPartition>,
    /// Which partitions each outstanding token holds.
    outstanding: BTreeMap<EnvelopeToken, Vec<TopicPartition>>,
    limit: Option<usize>,
    handed_out: usize,
    cancelled: bool,
    next_token: u64,
}

impl EnvelopeQueue {
    /// A queue handing out at most `limit` records in all (`None`: no limit).
    pub fn new(limit: Option<usize>) -> Self {
        EnvelopeQueue {
            partitions: BTreeMap::new(),
            turn: VecDeque::new(),
            outstanding: BTreeMap::new(),
            limit,
            handed_out: 0,
            cancelled: false,
            next_token: 0,
        }
    }

    /// Adds records the fetcher delivered.
    pub fn push(&mut self, fetched: FetchedRecords) {
        if self.cancelled || fetched.records.is_empty() {
            return;
        }
        let tp = (fetched.topic, fetched.partition);
        let queue = self.partitions.entry(tp.clone()).or_default();
        queue
            .chunks
            .push_back(fetched.records.into_iter().collect());
        if !self.turn.contains(&tp) {
            self.turn.push_back(tp);
        }
    }

    /// Drops what is queued for a partition (it was revoked or sought):
    /// returns how many fetched chunks that releases.
    pub fn forget(&mut self, topic: &str, partition: i32) -> usize {
        let tp = (topic.to_string(), partition);
        self.turn.retain(|t| *t != tp);
        match self.partitions.remove(&tp) {
            Some(queue) => queue.chunks.len() + queue.releases_on_resolve,
            None => 0,
        }
    }

    /// Records handed out so far.
    pub fn handed_out(&self) -> usize {
        self.handed_out
    }

    /// Whether it was cancelled ([`EnvelopeQueue::cancel`], or an envelope
    /// resolved with [`Resolution::Cancel`]).
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// The limit is reached, or it was cancelled: nothing more will be
    /// handed out.
    pub fn is_finished(&self) -> bool {
        self.cancelled || self.limit.is_some_and(|limit| self.handed_out >= limit)
    }

    /// Envelopes handed out and not yet resolved.
    pub fn unresolved(&self) -> usize {
        self.outstanding.len()
    }

    /// The next envelope, from the next partition in turn that has a record
    /// and nothing outstanding.
    pub fn next_envelope(&mut self) -> Option<QueuedEnvelope> {
        if self.is_finished() {
            return None;
        }
        for _ in 0..self.turn.len() {
            let tp = self.turn.pop_front()?;
            let Some(queue) = self.partitions.get_mut(&tp) else {
                continue;
            };
            self.turn.push_back(tp.clone());
            if queue.outstanding.is_some() {
                continue;
            }
            let Some(record) = take_front(queue, 1).pop() else {
                continue;
            };
            self.handed_out += 1;
            let token = self.issue(vec![tp.clone()]);
            if let Some(queue) = self.partitions.get_mut(&tp) {
                queue.outstanding = Some(token);
            }
            return Some(QueuedEnvelope {
                token,
                topic: tp.0,
                partition: tp.1,
                record,
            });
        }
        None
    }

    /// Up to `max` records from every partition that has records and
    /// nothing outstanding, as one batch.
    pub fn next_batch(&mut self, max: usize) -> Option<QueuedBatch> {
        let mut room = match self.limit {
            Some(limit) => max.min(limit.saturating_sub(self.handed_out)),
            None => max,
        };
        if self.cancelled || room == 0 {
            return None;
        }
        let mut partitions = Vec::new();
        for _ in 0..self.turn.len() {
            if room == 0 {
                break;
            }
            let Some(tp) = self.turn.pop_front() else {
                break;
            };
            self.turn.push_back(tp.clone());
            let Some(queue) = self.partitions.get_mut(&tp) else {
                continue;
            };
            if queue.outstanding.is_some() {
                continue;
            }
            let records = take_front(queue, room);
            if !records.is_empty() {
                room -= records.len();
                partitions.push((tp, records));
            }
        }
        if partitions.is_empty() {
            return None;
        }
        let token = self.issue(partitions.iter().map(|(tp, _)| tp.clone()).collect());
        for (tp, records) in &partitions {
            if let Some(queue) = self.partitions.get_mut(tp) {
                queue.outstanding = Some(token);
            }
            self.handed_out += records.len();
        }
        Some(QueuedBatch { token, partitions })
    }

    /// Resolves a handed-out envelope or batch. An unknown token (already
    /// resolved, or from before a cancel) changes nothing.
    pub fn resolve(&mut self, token: EnvelopeToken, resolution: Resolution) -> Resolved {
        let mut resolved = Resolved::default();
        let Some(held) = self.outstanding.remove(&token) else {
            return resolved;
        };
        for tp in held {
            if let Some(queue) = self.partitions.get_mut(&tp) {
                queue.outstanding = None;
                for _ in 0..std::mem::take(&mut queue.releases_on_resolve) {
                    resolved.release.push(tp.clone());
                }
            }
        }
        if resolution == Resolution::Cancel {
            self.cancel();
            resolved.stop = true;
            resolved.release.clear();
        }
        resolved
    }

    /// Ends everything: nothing more is handed out, and resolving what is
    /// outstanding changes nothing.
    pub fn cancel(&mut self) {
        self.cancelled = true;
        self.partitions.clear();
        self.turn.clear();
        self.outstanding.clear();
    }

    /// The partitions with records queued or outstanding.
    pub fn active_partitions(&self) -> BTreeSet<TopicPartition> {
        self.partitions
            .iter()
            .filter(|(_, q)| !q.chunks.is_empty() || q.outstanding.is_some())
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    fn issue(&mut self, partitions: Vec<TopicPartition>) -> EnvelopeToken {
        let token = EnvelopeToken(self.next_token);
        self.next_token += 1;
        self.outstanding.insert(token, partitions);
        token
    }
}

/// Takes up to `max` records from the front of a partition's chunks,
/// noting each chunk used up (released once the taker resolves).
fn take_front(queue: &mut PartitionQueue, max: usize) -> Vec<Record> {
    let mut taken = Vec::new();
    while taken.len() < max {
        let Some(chunk) = queue.chunks.front_mut() else {
            break;
        };
        let want = (max - taken.len()).min(chunk.len());
        taken.extend(chunk.drain(..want));
        if chunk.is_empty() {
            queue.chunks.pop_front();
            queue.releases_on_resolve += 1;
        }
    }
    taken
}

#[cfg(test)]
mod tests;
