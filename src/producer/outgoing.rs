//! [`Outgoing`]: what the producer reads of a record it places, whether the
//! record is owned ([`ProducerRecord`]) or borrowed from a
//! [`PackedRecords`](super::PackedRecords) ([`PackedRecord`]).

use std::sync::Arc;

use super::packed_records::PackedRecord;
use super::record::ProducerRecord;
use crate::records::{RecordBatchWriter, RecordEncodeError};

pub(crate) trait Outgoing {
    fn topic(&self) -> &Arc<str>;
    fn partition(&self) -> Option<i32>;
    fn key(&self) -> Option<&[u8]>;
    fn timestamp(&self) -> Option<i64>;
    fn estimated_size(&self) -> usize;
    /// Appends the record to an open batch.
    fn append_to(
        &self,
        writer: &mut RecordBatchWriter,
        timestamp: i64,
    ) -> Result<i64, RecordEncodeError>;
    /// The record owned, to wait for its topic's metadata.
    fn into_owned(self) -> ProducerRecord;
}

impl Outgoing for ProducerRecord {
    fn topic(&self) -> &Arc<str> {
        &self.topic
    }
    fn partition(&self) -> Option<i32> {
        self.partition
    }
    fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }
    fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }
    fn estimated_size(&self) -> usize {
        ProducerRecord::estimated_size(self)
    }
    fn append_to(
        &self,
        writer: &mut RecordBatchWriter,
        timestamp: i64,
    ) -> Result<i64, RecordEncodeError> {
        let headers = self.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref()));
        writer.append(
            timestamp,
            self.key.as_deref(),
            self.value.as_deref(),
            headers,
        )
    }
    fn into_owned(self) -> ProducerRecord {
        self
    }
}

impl Outgoing for PackedRecord<'_> {
    fn topic(&self) -> &Arc<str> {
        PackedRecord::topic(self)
    }
    fn partition(&self) -> Option<i32> {
        PackedRecord::partition(self)
    }
    fn key(&self) -> Option<&[u8]> {
        PackedRecord::key(self)
    }
    fn timestamp(&self) -> Option<i64> {
        PackedRecord::timestamp(self)
    }
    fn estimated_size(&self) -> usize {
        PackedRecord::estimated_size(self)
    }
    fn append_to(
        &self,
        writer: &mut RecordBatchWriter,
        timestamp: i64,
    ) -> Result<i64, RecordEncodeError> {
        writer.append(timestamp, self.key(), self.value(), self.headers())
    }
    fn into_owned(self) -> ProducerRecord {
        self.to_record()
    }
}
