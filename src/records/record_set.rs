//! Walking the `records` field of a Fetch response: any mix of v2 batches
//! and legacy entries, one after another.
//!
//! Every entry starts with an INT64 offset and an INT32 size, and keeps its
//! magic at byte 16, so the set can be cut into entries before knowing their
//! format. A broker fills a fetch up to `max_bytes` and may cut the last
//! entry short; that partial entry is the normal end of the set, not an
//! error (Java's `ByteBufferLogInputStream` does the same). Anything else
//! that does not decode is a typed error.

use bytes::Bytes;

use super::batch::{BatchRecords, RecordBatch};
use super::compression::{Compression, DEFAULT_DECOMPRESSION_LIMIT};
use super::legacy::{LegacyBatch, LegacyRecords, LOG_OVERHEAD, MESSAGE_OVERHEAD_V0};
use super::record::Record;
use crate::protocol::{DecodeError, DecodeErrorKind};

/// Where the magic byte sits in every entry, whatever its format.
const MAGIC_OFFSET: usize = 16;

/// The raw records of one partition in a Fetch response (or a Produce
/// request): zero or more entries of any magic.
///
/// ```
/// # use bytes::Bytes;
/// use kafkite::records::RecordSet;
///
/// # fn consume(records_field: Bytes) -> Result<(), kafkite::protocol::DecodeError> {
/// for record in RecordSet::new(records_field).records() {
///     let record = record?;
///     println!("{} {:?}", record.offset, record.value);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSet {
    bytes: Bytes,
    decompression_limit: usize,
}

impl RecordSet {
    /// A set over the bytes of a `records` field, with the default
    /// decompression limit.
    pub fn new(bytes: Bytes) -> RecordSet {
        RecordSet {
            bytes,
            decompression_limit: DEFAULT_DECOMPRESSION_LIMIT,
        }
    }

    /// Caps the decompressed size of each compressed batch (default
    /// [`DEFAULT_DECOMPRESSION_LIMIT`]).
    pub fn with_decompression_limit(mut self, limit: usize) -> RecordSet {
        self.decompression_limit = limit;
        self
    }

    /// The set's bytes as given.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The batches in order. Ends at the end of the input or at a truncated
    /// final entry; [`Batches::truncated`] tells which.
    pub fn batches(&self) -> Batches {
        Batches {
            rest: self.bytes.clone(),
            decompression_limit: self.decompression_limit,
            state: State::Reading,
        }
    }

    /// Every record of every batch, in order, with absolute offsets.
    ///
    /// Control records (transaction markers) are included, as Java's
    /// `MemoryRecords.records()` includes them; a consumer that shows
    /// records to applications walks [`batches`](Self::batches) and skips
    /// control batches (and aborted transactions) there.
    pub fn records(&self) -> RecordSetRecords {
        RecordSetRecords {
            batches: self.batches(),
            current: None,
        }
    }
}

/// A v2 batch or a legacy entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// A RecordBatch (magic 2).
    V2(RecordBatch),
    /// A legacy message set entry (magic 0 or 1).
    Legacy(LegacyBatch),
}

impl Batch {
    /// The entry's message format version: 0, 1 or 2.
    pub fn magic(&self) -> i8 {
        match self {
            Batch::V2(_) => 2,
            Batch::Legacy(legacy) => legacy.magic(),
        }
    }

    /// The offset of the entry's last record: where a consumer's position
    /// goes after it, less one.
    pub fn last_offset(&self) -> i64 {
        match self {
            Batch::V2(batch) => batch.last_offset(),
            Batch::Legacy(legacy) => legacy.offset(),
        }
    }

    /// The offset after the entry's last: `None` when that is `i64::MAX`,
    /// which no log can hold, as its next offset would not fit.
    pub fn next_offset(&self) -> Option<i64> {
        self.last_offset().checked_add(1)
    }

    /// The codec the entry's records are compressed with.
    pub fn compression(&self) -> Compression {
        match self {
            Batch::V2(batch) => batch.compression(),
            Batch::Legacy(legacy) => legacy.compression(),
        }
    }

    /// Only v2 batches can be control batches.
    pub fn is_control(&self) -> bool {
        matches!(self, Batch::V2(batch) if batch.is_control())
    }

    /// Only v2 batches can be transactional.
    pub fn is_transactional(&self) -> bool {
        matches!(self, Batch::V2(batch) if batch.is_transactional())
    }

    /// The producer id of a v2 batch; -1 for legacy entries.
    pub fn producer_id(&self) -> i64 {
        match self {
            Batch::V2(batch) => batch.producer_id(),
            Batch::Legacy(_) => -1,
        }
    }

    /// The entry as received.
    pub fn as_bytes(&self) -> &Bytes {
        match self {
            Batch::V2(batch) => batch.as_bytes(),
            Batch::Legacy(legacy) => legacy.as_bytes(),
        }
    }

    /// The entry's records, decompressed first if it is compressed.
    pub fn records(&self) -> Result<BatchRecordIter, DecodeError> {
        Ok(match self {
            Batch::V2(batch) => BatchRecordIter::V2(batch.records()?),
            Batch::Legacy(legacy) => BatchRecordIter::Legacy(legacy.records()?),
        })
    }
}

/// The records of a [`Batch`] of either format.
#[derive(Debug, Clone)]
pub enum BatchRecordIter {
    /// The records of a v2 batch.
    V2(BatchRecords),
    /// The records of a legacy entry.
    Legacy(LegacyRecords),
}

impl Iterator for BatchRecordIter {
    type Item = Result<Record, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            BatchRecordIter::V2(records) => records.next(),
            BatchRecordIter::Legacy(records) => records.next(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    /// Ended at a partial entry.
    Truncated,
    /// Ended at an error, already yielded.
    Failed,
}

/// Iterates the entries of a [`RecordSet`]; after an error it yields
/// nothing more.
#[derive(Debug, Clone)]
pub struct Batches {
    rest: Bytes,
    decompression_limit: usize,
    state: State,
}

impl Batches {
    /// Whether iteration ended at an entry the broker cut short. A fetch
    /// that returns only a truncated entry means the next batch is larger
    /// than the fetch's `max_bytes` (brokers before KIP-74).
    pub fn truncated(&self) -> bool {
        self.state == State::Truncated
    }

    /// Bytes not yet consumed: after a truncated end, the partial entry.
    pub fn remaining(&self) -> &Bytes {
        &self.rest
    }

    fn next_entry(&mut self) -> Result<Option<Batch>, DecodeError> {
        if self.rest.len() < LOG_OVERHEAD {
            if !self.rest.is_empty() {
                self.state = State::Truncated;
            }
            return Ok(None);
        }
        let size = i32::from_be_bytes([self.rest[8], self.rest[9], self.rest[10], self.rest[11]]);
        if !matches!(usize::try_from(size), Ok(size) if size >= MESSAGE_OVERHEAD_V0) {
            return Err(
                DecodeError::new(DecodeErrorKind::InvalidLength(size.into())).in_field("size"),
            );
        }
        let entry_len = LOG_OVERHEAD + size as usize;
        if self.rest.len() < entry_len {
            self.state = State::Truncated;
            return Ok(None);
        }
        let entry = self.rest.split_to(entry_len);
        let batch = match entry[MAGIC_OFFSET] {
            0 | 1 => Batch::Legacy(
                LegacyBatch::decode(entry)?.with_decompression_limit(self.decompression_limit),
            ),
            2 => Batch::V2(
                RecordBatch::decode(entry)?.with_decompression_limit(self.decompression_limit),
            ),
            _ => {
                return Err(DecodeError::new(DecodeErrorKind::InvalidValue(
                    "unknown record format magic",
                ))
                .in_field("magic"))
            }
        };
        Ok(Some(batch))
    }
}

impl Iterator for Batches {
    type Item = Result<Batch, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.state != State::Reading {
            return None;
        }
        match self.next_entry() {
            Ok(batch) => batch.map(Ok),
            Err(error) => {
                self.state = State::Failed;
                Some(Err(error.in_field("records")))
            }
        }
    }
}

/// Every record of a [`RecordSet`], batch after batch.
#[derive(Debug, Clone)]
pub struct RecordSetRecords {
    batches: Batches,
    current: Option<BatchRecordIter>,
}

impl RecordSetRecords {
    /// Whether the set ended at a truncated entry (see [`Batches::truncated`]).
    pub fn truncated(&self) -> bool {
        self.batches.truncated()
    }
}

impl Iterator for RecordSetRecords {
    type Item = Result<Record, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(records) = &mut self.current {
                match records.next() {
                    Some(record) => {
                        if record.is_err() {
                            // Stop everything: later offsets are unreliable.
                            self.batches.state = State::Failed;
                            self.current = None;
                        }
                        return Some(record);
                    }
                    None => self.current = None,
                }
            }
            match self.batches.next()? {
                Ok(batch) => match batch.records() {
                    Ok(records) => self.current = Some(records),
                    Err(error) => {
                        self.batches.state = State::Failed;
                        return Some(Err(error));
                    }
                },
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

// The tests write compressed data with most codecs.
#[cfg(all(test, feature = "gzip", feature = "snappy", feature = "lz4"))]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::records::{LegacyMessageSetWriter, RecordBatchWriter};

    /// A set of a magic 0 entry, a magic 1 wrapper and a v2 batch, as a
    /// broker that converted nothing would return across a format upgrade.
    fn mixed() -> Bytes {
        let mut writer = LegacyMessageSetWriter::new(0, Compression::None, 0).unwrap();
        writer.append(0, Some(b"a"), Some(b"0")).unwrap();
        let buf = writer.finish().unwrap();
        let mut writer = LegacyMessageSetWriter::new_in(buf, 1, Compression::Gzip, 1).unwrap();
        writer.append(11, None, Some(b"1")).unwrap();
        writer.append(12, None, Some(b"2")).unwrap();
        let buf = writer.finish().unwrap();
        let mut writer = RecordBatchWriter::new_in(buf, 3);
        writer.append(13, None, Some(b"3"), []).unwrap();
        writer.append(14, None, Some(b"4"), []).unwrap();
        writer.finish().unwrap().freeze()
    }

    #[test]
    fn mixed_formats_are_walked_in_order_with_absolute_offsets() {
        let set = RecordSet::new(mixed());
        let magics: Vec<i8> = set.batches().map(|b| b.unwrap().magic()).collect();
        assert_eq!(magics, [0, 1, 2]);
        let last: Vec<i64> = set.batches().map(|b| b.unwrap().last_offset()).collect();
        assert_eq!(last, [0, 2, 4]);
        let records: Vec<Record> = set.records().collect::<Result<_, _>>().unwrap();
        let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [0, 1, 2, 3, 4]);
        let values: Vec<&[u8]> = records
            .iter()
            .map(|r| r.value.as_deref().unwrap())
            .collect();
        assert_eq!(values, [b"0", b"1", b"2", b"3", b"4"]);
    }

    #[test]
    fn a_truncated_final_entry_is_the_end_not_an_error() {
        let full = mixed();
        let entry_ends: Vec<usize> = {
            let mut at = 0;
            RecordSet::new(full.clone())
                .batches()
                .map(|b| {
                    at += b.unwrap().as_bytes().len();
                    at
                })
                .collect()
        };
        for cut in 0..full.len() {
            let set = RecordSet::new(full.slice(..cut));
            let mut batches = set.batches();
            let complete = batches.by_ref().map(Result::unwrap).count();
            assert_eq!(
                complete,
                entry_ends.iter().filter(|end| **end <= cut).count()
            );
            assert_eq!(
                batches.truncated(),
                !entry_ends.contains(&cut) && cut != 0,
                "cut {cut}"
            );
            assert!(set.records().all(|r| r.is_ok()));
        }
    }

    #[test]
    fn corruption_inside_a_complete_entry_is_an_error_and_ends_iteration() {
        let mut bytes = BytesMut::from(&mixed()[..]);
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let set = RecordSet::new(bytes.freeze());
        let results: Vec<_> = set.batches().collect();
        assert_eq!(results.len(), 3);
        assert!(matches!(
            results[2].as_ref().unwrap_err().kind(),
            DecodeErrorKind::ChecksumMismatch { .. }
        ));
        let records: Vec<_> = set.records().collect();
        assert_eq!(records.len(), 4);
        assert!(records[3].is_err());
    }

    #[test]
    fn sizes_below_the_smallest_message_and_unknown_magics_are_errors() {
        let mut small = vec![0u8; 30];
        small[8..12].copy_from_slice(&13i32.to_be_bytes());
        let err = RecordSet::new(Bytes::from(small))
            .batches()
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), &DecodeErrorKind::InvalidLength(13));
        let mut negative = vec![0u8; 30];
        negative[8..12].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(RecordSet::new(Bytes::from(negative))
            .batches()
            .next()
            .unwrap()
            .is_err());
        let mut magic = vec![0u8; 30];
        magic[8..12].copy_from_slice(&18i32.to_be_bytes());
        magic[16] = 3;
        let err = RecordSet::new(Bytes::from(magic))
            .batches()
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.field_path(), "records.magic");
    }

    #[test]
    fn a_huge_size_at_the_end_is_truncation_without_allocating() {
        let mut bytes = mixed().to_vec();
        bytes.extend_from_slice(&0i64.to_be_bytes());
        bytes.extend_from_slice(&i32::MAX.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 0, 2]);
        let set = RecordSet::new(Bytes::from(bytes));
        assert_eq!(set.records().count(), 5);
        let mut batches = set.batches();
        assert_eq!(batches.by_ref().count(), 3);
        assert!(batches.truncated());
        assert_eq!(batches.remaining().len(), 17);
    }

    #[test]
    fn the_decompression_limit_reaches_every_batch() {
        let set = RecordSet::new(mixed()).with_decompression_limit(10);
        let records: Vec<_> = set.records().collect();
        assert_eq!(records.len(), 2);
        assert!(matches!(
            records[1].as_ref().unwrap_err().kind(),
            DecodeErrorKind::DecompressionLimitExceeded { limit: 10, .. }
        ));
    }

    #[test]
    fn an_empty_set_has_no_batches_and_is_not_truncated() {
        let set = RecordSet::new(Bytes::new());
        let mut batches = set.batches();
        assert!(batches.next().is_none());
        assert!(!batches.truncated());
    }
}
