//! A partition's queue of batches, and how a record finds its queue.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::producer::batch::Batch;
use crate::producer::topic_key::TopicKey;

pub(super) type TopicPartition = (TopicKey, i32);

#[derive(Debug, Default)]
pub(super) struct PartitionQueue {
    /// Sealed or open batches waiting to be sent, in send order.
    pub(super) ready: VecDeque<Batch>,
    /// Batches of this partition now in flight.
    pub(super) in_flight: usize,
    /// The next sequence number to stamp.
    pub(super) next_sequence: i32,
    /// Broker does not take RecordBatch v2 here: magic to rewrite into.
    pub(super) legacy_magic: Option<i8>,
    /// Records in the last batch closed for being full: what a new batch
    /// makes room for.
    pub(super) full_batch_records: usize,
}

/// The queue of `topic`'s `partition`, made if it is new. `last` is the
/// key of the last record's queue: reused for a run of records of one
/// topic (see [`TopicKey::reuse`]), its pointer comparison ends the lookup.
pub(super) fn queue_for<'a>(
    queues: &'a mut BTreeMap<TopicPartition, PartitionQueue>,
    last: &mut Option<TopicPartition>,
    topic: &Arc<str>,
    partition: i32,
) -> Option<&'a mut PartitionQueue> {
    let last_topic = last.take().map(|(topic, _)| topic);
    let key = (TopicKey::reuse(last_topic, topic), partition);
    if !queues.contains_key(&key) {
        queues.insert(key.clone(), PartitionQueue::default());
    }
    let queue = queues.get_mut(&key);
    *last = Some(key);
    queue
}
