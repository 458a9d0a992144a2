//! [`ConsumedRecord`]: one record as the consumers hand it out.

use bytes::Bytes;

use kafkite::records::{Record, RecordHeaders, TimestampType};

/// A record read from a partition. Key, value and headers are slices of
/// the fetched buffer: no copy was made.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumedRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch; -1 for records without one (magic 0).
    pub timestamp: i64,
    pub timestamp_type: TimestampType,
    /// `None` is a null key, distinct from an empty one.
    pub key: Option<Bytes>,
    /// `None` is a null value (a tombstone).
    pub value: Option<Bytes>,
    pub headers: RecordHeaders,
}

impl ConsumedRecord {
    pub(crate) fn new(topic: &str, partition: i32, record: Record) -> Self {
        ConsumedRecord {
            topic: topic.to_string(),
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
