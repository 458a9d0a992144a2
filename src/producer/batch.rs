//! A producer batch: records for one partition, open while it fills, then
//! sealed into RecordBatch v2 bytes with its producer id and sequence, and
//! kept until the broker acknowledges it (a retry resends the same bytes,
//! which is what lets the broker drop duplicates).

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::outgoing::Outgoing;
use super::record::{DeliveryId, ProduceError};
use crate::records::{
    batch_rewrite, Compression, LegacyMessageSetWriter, RecordBatch, RecordBatchWriter,
};

/// One record's place in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchEntry {
    pub id: DeliveryId,
    pub timestamp: i64,
}

#[derive(Debug)]
pub(crate) struct Batch {
    /// Shared with every delivery of the batch (one allocation per batch).
    pub topic: Arc<str>,
    pub partition: i32,
    pub entries: Vec<BatchEntry>,
    pub created: Instant,
    /// Open: records still go in. `None` once sealed.
    writer: Option<RecordBatchWriter>,
    /// Sealed bytes (magic 2, or legacy after a downgrade).
    pub sealed: Option<Bytes>,
    /// Bytes counted against the buffer limit.
    pub reserved: usize,
    /// -1 without idempotence, or before the first send.
    pub base_sequence: i32,
    pub producer: (i64, i16),
    pub attempts: u32,
    pub retry_at: Option<Instant>,
    /// Set when the broker cannot take RecordBatch v2 (Produce v0-v2).
    pub legacy_magic: Option<i8>,
}

impl Batch {
    /// `buf`: an empty buffer with room for the batch (the batch size), so
    /// that filling the batch does not grow and copy it over and over;
    /// `records`: how many records to make room for.
    pub fn new(
        topic: Arc<str>,
        partition: i32,
        compression: Compression,
        buf: BytesMut,
        records: usize,
        now: Instant,
    ) -> Self {
        Batch {
            topic,
            partition,
            entries: Vec::with_capacity(records),
            created: now,
            writer: Some(RecordBatchWriter::new_in(buf, 0).compression(compression)),
            sealed: None,
            reserved: 0,
            base_sequence: -1,
            producer: (-1, -1),
            attempts: 0,
            retry_at: None,
            legacy_magic: None,
        }
    }

    pub fn is_open(&self) -> bool {
        self.writer.is_some()
    }

    /// Bytes written so far (uncompressed for an open batch).
    pub fn size(&self) -> usize {
        match (&self.writer, &self.sealed) {
            (Some(w), _) => w.size_in_bytes(),
            (None, Some(b)) => b.len(),
            (None, None) => 0,
        }
    }

    /// The delivery id of the last record appended.
    pub fn last_id(&self) -> Option<DeliveryId> {
        self.entries.last().map(|entry| entry.id)
    }

    pub fn record_count(&self) -> i32 {
        self.entries.len() as i32
    }

    /// Appends a record; fails only on encoding limits.
    pub(crate) fn append<R: Outgoing>(
        &mut self,
        id: DeliveryId,
        record: &R,
        timestamp: i64,
        reserved: usize,
    ) -> Result<(), ProduceError> {
        let Some(writer) = self.writer.as_mut() else {
            return Err(ProduceError::Encode("batch already sealed".into()));
        };
        record
            .append_to(writer, timestamp)
            .map_err(|e| ProduceError::Encode(e.to_string()))?;
        self.entries.push(BatchEntry { id, timestamp });
        self.reserved += reserved;
        Ok(())
    }

    /// The batch's sealed buffer, emptied, once nothing else holds it (the
    /// request it went out in has been written and dropped), for a later
    /// batch to fill.
    pub fn into_buffer(self) -> Option<BytesMut> {
        let mut buf = self.sealed?.try_into_mut().ok()?;
        buf.clear();
        Some(buf)
    }

    /// Seals the batch with its producer id, epoch and first sequence, or
    /// restamps a sealed batch whose sequence was reset (the broker refused
    /// it for its sequence, so it is not in the log): only the header
    /// changes, in place, with its CRC.
    pub fn seal(
        &mut self,
        producer: (i64, i16),
        base_sequence: i32,
        transactional: bool,
    ) -> Result<(), ProduceError> {
        let bytes = match (self.writer.take(), self.sealed.take()) {
            // The transactional flag is what makes the broker keep the
            // batch out of read_committed consumers' sight until its
            // transaction commits: without it, an abort hides nothing.
            (Some(writer), _) => writer
                .producer(producer.0, producer.1, base_sequence)
                .transactional(transactional)
                .finish()
                .map_err(|e| ProduceError::Encode(e.to_string()))?,
            (None, Some(sealed)) => {
                let mut bytes = BytesMut::from(&sealed[..]);
                batch_rewrite::set_producer_state(
                    &mut bytes,
                    producer.0,
                    producer.1,
                    base_sequence,
                )
                .map_err(|e| ProduceError::Encode(e.to_string()))?;
                bytes
            }
            (None, None) => return Err(ProduceError::Encode("batch has no records".into())),
        };
        self.sealed = Some(bytes.freeze());
        self.producer = producer;
        self.base_sequence = base_sequence;
        Ok(())
    }

    /// Rewrites a sealed batch as a legacy message set for a broker that
    /// only speaks Produce v0-v2 (magic 0 for v0-v1, 1 for v2). Zstd has no
    /// legacy form, and legacy messages no headers, so such batches fail.
    pub fn downgrade(&mut self, magic: i8) -> Result<(), ProduceError> {
        let Some(v2) = self.sealed.clone() else {
            return Ok(());
        };
        if self.legacy_magic.is_some() {
            return Ok(());
        }
        let batch = RecordBatch::decode(v2).map_err(|e| ProduceError::Encode(e.to_string()))?;
        let mut writer = LegacyMessageSetWriter::new(magic, batch.compression(), 0)
            .map_err(|e| ProduceError::Encode(e.to_string()))?;
        for record in batch
            .records()
            .map_err(|e| ProduceError::Encode(e.to_string()))?
        {
            let record = record.map_err(|e| ProduceError::Encode(e.to_string()))?;
            if !record.headers.is_empty() {
                return Err(ProduceError::HeadersUnsupported { magic });
            }
            writer
                .append(
                    record.timestamp,
                    record.key.as_deref(),
                    record.value.as_deref(),
                )
                .map_err(|e| ProduceError::Encode(e.to_string()))?;
        }
        let bytes = writer
            .finish()
            .map_err(|e| ProduceError::Encode(e.to_string()))?;
        self.sealed = Some(bytes.freeze());
        self.legacy_magic = Some(magic);
        self.base_sequence = -1;
        Ok(())
    }

    /// Forget the sequence, for a batch the broker refused for it
    /// (UNKNOWN_PRODUCER_ID, OUT_OF_ORDER_SEQUENCE_NUMBER): the next send
    /// restamps the header under the producer's new epoch or id. Never
    /// for a batch that may be in the log: see `machine::idempotence`.
    pub fn reset_sequence(&mut self) {
        if self.legacy_magic.is_none() {
            self.base_sequence = -1;
            self.producer = (-1, -1);
        }
    }

    /// Whether the next send must (re)stamp producer id and sequence.
    pub fn needs_stamp(&self, idempotent: bool) -> bool {
        self.sealed.is_none()
            || (idempotent && self.base_sequence < 0 && self.legacy_magic.is_none())
    }
}
