//! Producing to explicit partitions: messages are added per topic and
//! partition, and one `send()` produces everything added since the last
//! one and answers per partition with the base offset or the error.
//!
//! This module holds the bookkeeping of one such `send()` on top of the
//! batching [`ProducerMachine`](super::ProducerMachine); the async layer
//! feeds it deliveries. A second `send()` never resends the first one's
//! messages (they leave the pending list when sent), errors are reported
//! per partition, and with acks=0 the send completes once written instead
//! of waiting for an answer that never comes.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::record::{Delivery, DeliveryId, ProduceError, ProducerEvent, ProducerRecord};

/// One message for [`ExplicitSend`]'s API: a record whose topic and
/// partition come from `add_messages`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The record key; `None` is a null key.
    pub key: Option<Bytes>,
    /// The record value; `None` is a null value (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in order: each a key and a value (`None`: null).
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Milliseconds since the Unix epoch; `None` takes the send time.
    pub timestamp: Option<i64>,
}

impl Message {
    /// A message with this value and no key, headers or timestamp.
    pub fn new(value: impl Into<Bytes>) -> Self {
        Message {
            value: Some(value.into()),
            ..Default::default()
        }
    }
    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }
    /// Adds a header (`None`: a null value).
    pub fn header(mut self, key: impl Into<String>, value: Option<Bytes>) -> Self {
        self.headers.push((key.into(), value));
        self
    }
    /// Sets the timestamp, in milliseconds since the Unix epoch.
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }

    /// The record that puts this message on `topic`'s `partition`.
    pub fn into_record(self, topic: &str, partition: i32) -> ProducerRecord {
        ProducerRecord {
            topic: topic.into(),
            partition: Some(partition),
            key: self.key,
            value: self.value,
            headers: self.headers,
            timestamp: self.timestamp,
        }
    }
}

/// Per-partition outcome of one `send()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProduceResult {
    /// topic -> partition -> offset of the first message of this send
    /// there (-1 with acks=0).
    pub offsets: BTreeMap<String, BTreeMap<i32, i64>>,
    /// topic -> partition -> the first error for that partition.
    pub errors: BTreeMap<String, BTreeMap<i32, ProduceError>>,
}

impl ProduceResult {
    /// Whether any partition failed.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// Collects the deliveries of one `send()` into a [`ProduceResult`].
#[derive(Debug, Default)]
pub struct ExplicitSend {
    waiting: BTreeMap<DeliveryId, (String, i32)>,
    result: ProduceResult,
}

impl ExplicitSend {
    /// A send with nothing tracked yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A message of this send was queued with this id.
    pub fn track(&mut self, id: DeliveryId, topic: &str, partition: i32) {
        self.waiting.insert(id, (topic.to_string(), partition));
    }

    /// A message could not even be queued.
    pub fn failed_to_queue(&mut self, topic: &str, partition: i32, error: ProduceError) {
        self.record_error(topic, partition, error);
    }

    /// Offers a producer event; returns true when it belonged to this send.
    pub fn handle(&mut self, event: &ProducerEvent) -> bool {
        match event {
            ProducerEvent::Delivered(batch) => {
                let mut ours = false;
                for (id, delivery) in batch.iter() {
                    ours |= self.handle_one(&id, Ok(&delivery));
                }
                ours
            }
            ProducerEvent::Failed { id, error } => self.handle_one(id, Err(error)),
            ProducerEvent::Flushed { .. }
            | ProducerEvent::IdempotenceDisabled { .. }
            | ProducerEvent::Transaction { .. } => false,
        }
    }

    /// One record's outcome, if the record is this send's.
    fn handle_one(&mut self, id: &DeliveryId, outcome: Result<&Delivery, &ProduceError>) -> bool {
        let Some((topic, partition)) = self.waiting.remove(id) else {
            return false;
        };
        self.add_outcome(&topic, partition, outcome);
        true
    }

    /// Adds one message's outcome directly (for callers that hold each
    /// message's delivery rather than the producer's events).
    pub fn add_outcome(
        &mut self,
        topic: &str,
        partition: i32,
        outcome: Result<&Delivery, &ProduceError>,
    ) {
        match outcome {
            Ok(delivery) => {
                let slot = self
                    .result
                    .offsets
                    .entry(topic.to_string())
                    .or_default()
                    .entry(partition)
                    .or_insert(delivery.offset);
                if delivery.offset >= 0 && (*slot < 0 || delivery.offset < *slot) {
                    *slot = delivery.offset;
                }
            }
            Err(error) => self.record_error(topic, partition, error.clone()),
        }
    }

    fn record_error(&mut self, topic: &str, partition: i32, error: ProduceError) {
        self.result
            .errors
            .entry(topic.to_string())
            .or_default()
            .entry(partition)
            .or_insert(error);
    }

    /// Whether every message has an outcome.
    pub fn is_complete(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The per-partition outcome collected.
    pub fn into_result(self) -> ProduceResult {
        self.result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer::batch::BatchEntry;
    use crate::producer::DeliveredBatch;

    #[test]
    fn base_offsets_and_errors_are_reported_per_partition() {
        let mut send = ExplicitSend::new();
        for (id, partition) in [(1, 0), (2, 0), (3, 1)] {
            send.track(DeliveryId(id), "t", partition);
        }
        let delivered = |id, partition, offset| {
            let record = BatchEntry {
                id: DeliveryId(id),
                timestamp: 0,
            };
            ProducerEvent::Delivered(DeliveredBatch::new(
                "t".into(),
                partition,
                offset,
                -1,
                vec![record],
            ))
        };
        assert!(send.handle(&delivered(2, 0, 11)));
        assert!(send.handle(&delivered(1, 0, 10)));
        assert!(!send.is_complete());
        assert!(send.handle(&ProducerEvent::Failed {
            id: DeliveryId(3),
            error: ProduceError::Closed,
        }));
        assert!(!send.handle(&delivered(9, 0, 1)), "not ours");
        assert!(send.is_complete());
        let result = send.into_result();
        assert_eq!(result.offsets["t"][&0], 10);
        assert!(result.has_errors());
        assert_eq!(result.errors["t"][&1], ProduceError::Closed);
    }
}
