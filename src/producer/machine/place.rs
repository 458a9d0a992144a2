//! Placing one record: its topic's partition count, its partition (an
//! explicit one, the key's murmur2, or sticky), its queue and batch.

use std::sync::Arc;
use std::time::Instant;

use super::ProducerMachine;
use crate::client::Client;
use crate::producer::batch::Batch;
use crate::producer::outgoing::Outgoing;
use crate::producer::partitioner::partition_for_key;
use crate::producer::record::{DeliveryId, ProduceError};

impl ProducerMachine {
    pub(super) fn partition_count(&mut self, client: &Client, topic: &Arc<str>) -> Option<u32> {
        let generation = client.metadata_generation();
        if let Some((last, at, count)) = &self.last_count {
            if Arc::ptr_eq(last, topic) && *at == generation {
                return Some(*count);
            }
        }
        let count = Self::partition_count_in(client, topic)?;
        self.last_count = Some((Arc::clone(topic), generation, count));
        Some(count)
    }

    /// The topic's partition count in the client's metadata, if known.
    pub(super) fn partition_count_in(client: &Client, topic: &str) -> Option<u32> {
        let t = client.metadata().topics.get(topic)?;
        (!t.partitions.is_empty()).then_some(t.partitions.len() as u32)
    }

    pub(super) fn place<R: Outgoing>(
        &mut self,
        id: DeliveryId,
        record: &R,
        timestamp: i64,
        size: usize,
        partitions: u32,
        now: Instant,
    ) -> bool {
        let partition = match (record.partition(), record.key()) {
            (Some(p), _) => {
                if p < 0 || p as u32 >= partitions {
                    self.fail(
                        id,
                        size,
                        ProduceError::UnknownPartition {
                            topic: record.topic().to_string(),
                            partition: p,
                            partitions,
                        },
                        now,
                    );
                    return false;
                }
                p
            }
            (None, Some(key)) => partition_for_key(key, partitions),
            (None, None) => self
                .sticky
                .partition(record.topic(), partitions, &mut self.rng),
        };
        let compression = self.config.compression;
        let batch_size = self.config.batch_size;
        let queue = self.partitions.queue_for(record.topic(), partition);
        let needs_new = match queue.ready.back() {
            Some(b) => !b.is_open() || b.size() + size > batch_size,
            None => true,
        };
        let mut closed_one = false;
        if needs_new {
            if let Some(full) = queue.ready.back().filter(|b| b.is_open()) {
                closed_one = true;
                queue.full_batch_records = full.entries.len();
            }
            let buf = self.buffers.take();
            queue.ready.push_back(Batch::new(
                Arc::clone(record.topic()),
                partition,
                compression,
                buf,
                queue.full_batch_records,
                now,
            ));
        }
        let result = match queue.ready.back_mut() {
            Some(batch) => batch.append(id, record, timestamp, size),
            None => Err(ProduceError::Encode("no batch".into())),
        };
        let full = queue.ready.back().is_some_and(|b| b.size() >= batch_size);
        if let Err(e) = result {
            self.fail(id, size, e, now);
        }
        if closed_one && record.key().is_none() && record.partition().is_none() {
            self.sticky
                .batch_closed(record.topic(), partition, partitions, &mut self.rng);
        }
        // A partition new to the open transaction: AddPartitionsToTxn is
        // due as soon as the records handed over with this one are placed
        // (a deadline of now, served when the call returns), so that it
        // goes out while the batch lingers, with every partition new in
        // that hand-over, rather than at the commit.
        if needs_new {
            if let Some(txn) = self.transactions.as_mut() {
                if txn.is_new_partition(record.topic(), partition) {
                    txn.add_due.get_or_insert(now);
                }
            }
        }
        closed_one || full
    }
}
