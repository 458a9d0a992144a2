//! A partition's queue of batches, and how a record finds its queue.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::producer::batch::Batch;
use crate::producer::record::DeliveryId;
use crate::producer::topic_key::TopicKey;

/// A partition keyed by the producer's interned topic (cheap to copy and
/// compare, unlike the topic's name).
pub(super) type PartitionKey = (TopicKey, i32);

#[derive(Debug, Default)]
pub(super) struct PartitionQueue {
    /// Sealed or open batches waiting to be sent, in send order.
    pub(super) ready: VecDeque<Batch>,
    /// Batches of this partition now in flight.
    pub(super) in_flight: usize,
    /// The next sequence number to stamp.
    pub(super) next_sequence: i32,
    /// The producer id and epoch `next_sequence` counts under; `None`
    /// before the first stamp. A fresh batch stamped under another (the
    /// epoch was bumped, or a new id came) starts the count again at 0:
    /// the broker takes sequence 0 from a new epoch or id.
    pub(super) producer: Option<(i64, i16)>,
    /// Broker does not take RecordBatch v2 here: magic to rewrite into.
    pub(super) legacy_magic: Option<i8>,
    /// Records in the last batch closed for being full: what a new batch
    /// makes room for.
    pub(super) full_batch_records: usize,
}

/// Every partition's queue, by (topic, partition).
///
/// The queues live in a vector, found through an ordered index: a record
/// going to the same partition as the one before (most of them, with the
/// sticky partitioner or one key) reaches its queue by the position kept
/// from last time, after one pointer comparison, with no lookup at all.
/// Queues are never removed, so positions stay valid.
#[derive(Debug, Default)]
pub(super) struct PartitionQueues {
    /// Position in `queues` by (topic, partition); iterated in this order,
    /// the order requests are built in.
    index: BTreeMap<PartitionKey, usize>,
    queues: Vec<PartitionQueue>,
    /// The last queue a record asked for, and its position.
    last: Option<(PartitionKey, usize)>,
}

impl PartitionQueues {
    /// The queue of `topic`'s `partition`, made if it is new.
    #[inline]
    pub(super) fn queue_for(&mut self, topic: &Arc<str>, partition: i32) -> &mut PartitionQueue {
        let at = match &self.last {
            Some(((key, p), at)) if *p == partition && Arc::ptr_eq(&key.0, topic) => *at,
            _ => self.look_up(topic, partition),
        };
        &mut self.queues[at]
    }

    /// Finds (or adds) a queue by name, and remembers it as the last one.
    /// The key reuses the last one's name when it is the same shared name
    /// (see [`TopicKey::reuse`]).
    fn look_up(&mut self, topic: &Arc<str>, partition: i32) -> usize {
        let last_topic = self.last.take().map(|((topic, _), _)| topic);
        let key = (TopicKey::reuse(last_topic, topic), partition);
        let at = self.position(&key);
        self.last = Some((key, at));
        at
    }

    /// Where `key`'s queue is, made if it is new.
    fn position(&mut self, key: &PartitionKey) -> usize {
        if let Some(&at) = self.index.get(key) {
            return at;
        }
        self.queues.push(PartitionQueue::default());
        let at = self.queues.len() - 1;
        self.index.insert(key.clone(), at);
        at
    }

    /// The open batch whose last record is `after`, if it is still the
    /// newest batch of the queue the last `queue_for` returned.
    #[inline]
    pub(super) fn open_batch_after(&mut self, after: DeliveryId) -> Option<&mut Batch> {
        let at = self.last.as_ref()?.1;
        self.queues
            .get_mut(at)?
            .ready
            .back_mut()
            .filter(|batch| batch.is_open() && batch.last_id() == Some(after))
    }

    pub(super) fn get_mut(&mut self, key: &PartitionKey) -> Option<&mut PartitionQueue> {
        let at = *self.index.get(key)?;
        self.queues.get_mut(at)
    }

    /// The queue of `key`, made if it is new.
    pub(super) fn entry(&mut self, key: PartitionKey) -> &mut PartitionQueue {
        let at = self.position(&key);
        &mut self.queues[at]
    }

    /// Every queue with its key, in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&PartitionKey, &PartitionQueue)> {
        self.index
            .iter()
            .filter_map(|(key, &at)| Some((key, self.queues.get(at)?)))
    }

    /// Every queue, in key order.
    pub(super) fn values(&self) -> impl Iterator<Item = &PartitionQueue> {
        self.iter().map(|(_, queue)| queue)
    }

    /// Calls `f` on every queue, in key order.
    pub(super) fn for_each_mut(&mut self, mut f: impl FnMut(&mut PartitionQueue)) {
        for &at in self.index.values() {
            if let Some(queue) = self.queues.get_mut(at) {
                f(queue);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_is_found_again_by_name_or_by_the_last_position() {
        let mut queues = PartitionQueues::default();
        let a: Arc<str> = "a".into();
        let a_again: Arc<str> = "a".into();
        let b: Arc<str> = "b".into();
        queues.queue_for(&b, 0).in_flight = 1;
        queues.queue_for(&a, 1).in_flight = 2;
        queues.queue_for(&a, 0).in_flight = 3;
        // The same queues, through the last position, another name for the
        // same topic, or the index.
        assert_eq!(queues.queue_for(&a, 0).in_flight, 3);
        assert_eq!(queues.queue_for(&a_again, 1).in_flight, 2);
        assert_eq!(queues.queue_for(&b, 0).in_flight, 1);
        let key = (TopicKey(Arc::clone(&a)), 1);
        assert_eq!(queues.get_mut(&key).map(|q| q.in_flight), Some(2));
        queues.entry((TopicKey("c".into()), 0)).in_flight = 4;
        assert_eq!(queues.queue_for(&"c".into(), 0).in_flight, 4);
        // Key order, not the order they were made in.
        let order: Vec<_> = queues
            .iter()
            .map(|((t, p), q)| (t.as_str().to_string(), *p, q.in_flight))
            .collect();
        assert_eq!(
            order,
            [
                ("a".into(), 0, 3),
                ("a".into(), 1, 2),
                ("b".into(), 0, 1),
                ("c".into(), 0, 4)
            ]
        );
        let mut seen = Vec::new();
        queues.for_each_mut(|q| seen.push(q.in_flight));
        assert_eq!(seen, [3, 2, 1, 4]);
        assert_eq!(queues.values().count(), 4);
    }
}
