//! [`DeliveredBatch`]: the records of one acknowledged batch, reported as
//! one event.
//!
//! The broker acknowledges a batch, not a record. Reporting each record as
//! an event of its own cost a queued event (and a clone of the topic) per
//! record in the core, only for the driver to take them apart again; one
//! event per batch leaves the per-record work to whoever reads it.

use std::sync::Arc;

use super::batch::BatchEntry;
use super::record::{Delivery, DeliveryId};

/// One acknowledged batch: its records, in the order they were sent, each
/// with its [`Delivery`] (made as it is read).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveredBatch {
    topic: Arc<str>,
    partition: i32,
    /// The first record's offset; -1 when the broker gave none.
    base_offset: i64,
    /// The broker's log-append time for every record, or -1 (then each
    /// record keeps its own timestamp).
    log_append_time: i64,
    records: Vec<BatchEntry>,
}

impl DeliveredBatch {
    pub(crate) fn new(
        topic: Arc<str>,
        partition: i32,
        base_offset: i64,
        log_append_time: i64,
        records: Vec<BatchEntry>,
    ) -> DeliveredBatch {
        DeliveredBatch {
            topic,
            partition,
            base_offset,
            log_append_time,
            records,
        }
    }

    /// The topic the batch was sent to.
    pub fn topic(&self) -> &Arc<str> {
        &self.topic
    }

    /// The partition the batch was written to.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// How many records the batch held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the batch held no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Each record's id and where it landed, in send order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (DeliveryId, Delivery)> + '_ {
        self.records.iter().enumerate().map(|(i, entry)| {
            let offset = match self.base_offset {
                base if base >= 0 => base + i as i64,
                _ => -1,
            };
            let timestamp = match self.log_append_time {
                append if append >= 0 => append,
                _ => entry.timestamp,
            };
            let delivery = Delivery {
                partition: self.partition,
                offset,
                timestamp,
            };
            (entry.id, delivery)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(base_offset: i64, log_append_time: i64) -> DeliveredBatch {
        let records = [(7, 1_000), (8, 990), (11, 1_005)]
            .map(|(id, timestamp)| BatchEntry {
                id: DeliveryId(id),
                timestamp,
            })
            .to_vec();
        DeliveredBatch::new("t".into(), 2, base_offset, log_append_time, records)
    }

    fn summary(batch: &DeliveredBatch) -> Vec<(u64, i32, i64, i64)> {
        batch
            .iter()
            .map(|(id, d)| (id.0, d.partition, d.offset, d.timestamp))
            .collect()
    }

    #[test]
    fn records_get_consecutive_offsets_and_their_own_timestamps() {
        let b = batch(40, -1);
        assert_eq!(b.len(), 3);
        assert_eq!(
            summary(&b),
            [(7, 2, 40, 1_000), (8, 2, 41, 990), (11, 2, 42, 1_005)]
        );
        assert_eq!(&**b.topic(), "t");
    }

    #[test]
    fn log_append_time_and_a_missing_offset_apply_to_every_record() {
        assert_eq!(
            summary(&batch(-1, 5_000)),
            [(7, 2, -1, 5_000), (8, 2, -1, 5_000), (11, 2, -1, 5_000)]
        );
    }
}
