//! [`ConsumedRecord`]: one record as the consumers hand it out.

use std::sync::Arc;

use bytes::Bytes;

use kafkite::records::{Record, RecordHeaders, TimestampType};

/// A record read from a partition. Key, value and headers are slices of
/// the fetched buffer: no copy was made.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumedRecord {
    /// The topic's name, shared by the records of one fetched chunk: no
    /// allocation per record.
    pub topic: Arc<str>,
    /// The partition the record was read from.
    pub partition: i32,
    /// The record's offset in its partition.
    pub offset: i64,
    /// Milliseconds since the epoch; -1 for records without one (magic 0).
    pub timestamp: i64,
    /// Who set `timestamp`: the producer, the broker on append, or nobody
    /// (magic 0).
    pub timestamp_type: TimestampType,
    /// `None` is a null key, distinct from an empty one.
    pub key: Option<Bytes>,
    /// `None` is a null value (a tombstone).
    pub value: Option<Bytes>,
    /// The record's headers, in the order they were written.
    pub headers: RecordHeaders,
}

impl ConsumedRecord {
    /// The offset after this record's, which committing it stores: `None`
    /// at i64::MAX, an offset no log holds (the fetcher refuses it).
    pub fn next_offset(&self) -> Option<i64> {
        self.offset.checked_add(1)
    }

    pub(crate) fn new(topic: &Arc<str>, partition: i32, record: Record) -> Self {
        ConsumedRecord {
            topic: Arc::clone(topic),
            partition,
            offset: record.offset,
            timestamp: record.timestamp,
            timestamp_type: record.timestamp_type,
            key: record.key,
            value: record.value,
            headers: record.headers,
        }
    }
}
