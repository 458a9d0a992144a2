//! Reading RecordBatch v2 (magic 2, Kafka 0.11+, KIP-98).
//!
//! A batch is a 61-byte header followed by its records, compressed as a
//! whole when the batch has a codec. [`RecordBatch::decode`] checks the
//! header and the CRC-32C and keeps the batch's bytes; records are decoded
//! only when [`RecordBatch::records`] is iterated, each as slices of the
//! received buffer (or of the batch's one decompressed buffer).

use std::ops::Range;

use bytes::Bytes;

use super::compression::{Compression, DEFAULT_DECOMPRESSION_LIMIT};
use super::cursor::Cursor;
use super::record::{Record, RecordHeaders, TimestampType};
use crate::protocol::{DecodeError, DecodeErrorKind, Reader};

/// Bytes before the records: base offset (8), batch length (4), partition
/// leader epoch (4), magic (1), crc (4), attributes (2), last offset delta
/// (4), base and max timestamps (16), producer id (8) and epoch (2), base
/// sequence (4), record count (4).
pub const RECORD_BATCH_OVERHEAD: usize = 61;
/// The base offset and batch length precede what the length counts.
pub(crate) const LOG_OVERHEAD: usize = 12;
pub(crate) const CRC_OFFSET: usize = 17;
/// The CRC covers everything from the attributes on: not the base offset or
/// the partition leader epoch, which the broker rewrites.
pub(crate) const ATTRIBUTES_OFFSET: usize = 21;

/// The flags in a batch's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BatchAttributes {
    /// The codec the records section is compressed with (bits 0-2).
    pub compression: Compression,
    /// `true` for LogAppendTime: every record's timestamp is then the
    /// batch's max timestamp.
    pub log_append_time: bool,
    /// Part of a transaction (KIP-98): a consumer reading committed data
    /// must drop it if the transaction aborted.
    pub transactional: bool,
    /// A control batch: its one record is a transaction marker (or a KRaft
    /// control record), never shown to applications.
    pub control: bool,
    /// The log cleaner set the base timestamp to a delete horizon (KIP-534).
    pub delete_horizon: bool,
}

impl BatchAttributes {
    const TRANSACTIONAL: i16 = 0x10;
    const CONTROL: i16 = 0x20;
    const DELETE_HORIZON: i16 = 0x40;

    /// Decodes attributes; unknown codec ids are an error, unused bits are
    /// ignored as Java ignores them.
    pub fn from_raw(raw: i16) -> Result<BatchAttributes, DecodeError> {
        Ok(BatchAttributes {
            compression: Compression::from_attributes(raw)?,
            log_append_time: TimestampType::from_attributes(raw) == TimestampType::LogAppendTime,
            transactional: raw & Self::TRANSACTIONAL != 0,
            control: raw & Self::CONTROL != 0,
            delete_horizon: raw & Self::DELETE_HORIZON != 0,
        })
    }

    /// Encodes the attributes as the INT16 written in the batch header.
    pub fn to_raw(self) -> i16 {
        let mut raw = i16::from(self.compression.id());
        if self.log_append_time {
            raw |= TimestampType::ATTRIBUTE_BIT;
        }
        if self.transactional {
            raw |= Self::TRANSACTIONAL;
        }
        if self.control {
            raw |= Self::CONTROL;
        }
        if self.delete_horizon {
            raw |= Self::DELETE_HORIZON;
        }
        raw
    }

    /// LogAppendTime when `log_append_time` is set, else CreateTime.
    pub fn timestamp_type(self) -> TimestampType {
        if self.log_append_time {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }
}

/// The header of a v2 record batch, field by field as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordBatchHeader {
    /// The offset of the batch's first record.
    pub base_offset: i64,
    /// Bytes after this field: the whole batch is `batch_length + 12`.
    pub batch_length: i32,
    /// The leader epoch of the partition when the broker appended the batch
    /// (KIP-101); producers send -1.
    pub partition_leader_epoch: i32,
    /// The record format version: always 2 here.
    pub magic: i8,
    /// The CRC-32C of everything from `attributes` to the end of the batch.
    pub crc: u32,
    /// The batch's flags: codec, timestamp type, transactional, control.
    pub attributes: BatchAttributes,
    /// The last record's offset minus `base_offset`.
    pub last_offset_delta: i32,
    /// The timestamp in ms that record timestamp deltas count from (normally
    /// the first record's); the delete horizon when `attributes.delete_horizon` is set.
    pub base_timestamp: i64,
    /// The largest record timestamp in ms (the append time for LogAppendTime).
    pub max_timestamp: i64,
    /// -1 when the producer is not idempotent.
    pub producer_id: i64,
    /// The producer's epoch; -1 when the producer is not idempotent.
    pub producer_epoch: i16,
    /// Sequence of the first record; -1 when not idempotent.
    pub base_sequence: i32,
    /// The number of records in the batch.
    pub record_count: i32,
}

/// One v2 record batch whose header and CRC have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    header: RecordBatchHeader,
    /// The whole batch as received, header included.
    bytes: Bytes,
    decompression_limit: usize,
}

impl RecordBatch {
    /// Decodes a batch from exactly its bytes (as a [`RecordSet`] cuts
    /// them): checks magic, length, attributes and the CRC-32C, but decodes
    /// no record yet.
    ///
    /// [`RecordSet`]: super::RecordSet
    pub fn decode(bytes: Bytes) -> Result<RecordBatch, DecodeError> {
        Self::decode_header(&bytes)
            .map(|header| RecordBatch {
                header,
                bytes,
                decompression_limit: DEFAULT_DECOMPRESSION_LIMIT,
            })
            .map_err(|error| error.in_message("RecordBatch", 2))
    }

    fn decode_header(bytes: &Bytes) -> Result<RecordBatchHeader, DecodeError> {
        let mut reader = Reader::new(bytes.clone());
        reader
            .check_length(RECORD_BATCH_OVERHEAD as u64)
            .map_err(|_| {
                DecodeError::new(DecodeErrorKind::UnexpectedEof {
                    needed: RECORD_BATCH_OVERHEAD,
                    remaining: bytes.len(),
                })
            })?;
        let base_offset = reader.read_i64()?;
        let batch_length = reader.read_i32()?;
        let expected = bytes.len() - LOG_OVERHEAD;
        if usize::try_from(batch_length).ok() != Some(expected) {
            return Err(
                DecodeError::new(DecodeErrorKind::InvalidLength(batch_length.into()))
                    .in_field("batchLength"),
            );
        }
        let partition_leader_epoch = reader.read_i32()?;
        let magic = reader.read_i8()?;
        if magic != 2 {
            return Err(DecodeError::new(DecodeErrorKind::InvalidValue(
                "record batch magic is not 2",
            ))
            .in_field("magic"));
        }
        let crc = reader.read_u32()?;
        let computed = super::checksum::crc32c(&bytes[ATTRIBUTES_OFFSET..]);
        if crc != computed {
            return Err(DecodeError::new(DecodeErrorKind::ChecksumMismatch {
                stored: crc,
                computed,
            })
            .in_field("crc"));
        }
        let attributes = BatchAttributes::from_raw(reader.read_i16()?)
            .map_err(|error| error.in_field("attributes"))?;
        let header = RecordBatchHeader {
            base_offset,
            batch_length,
            partition_leader_epoch,
            magic,
            crc,
            attributes,
            last_offset_delta: reader.read_i32()?,
            base_timestamp: reader.read_i64()?,
            max_timestamp: reader.read_i64()?,
            producer_id: reader.read_i64()?,
            producer_epoch: reader.read_i16()?,
            base_sequence: reader.read_i32()?,
            record_count: reader.read_i32()?,
        };
        if header.record_count < 0 {
            return Err(DecodeError::new(DecodeErrorKind::InvalidLength(
                header.record_count.into(),
            ))
            .in_field("recordsCount"));
        }
        // Checked here once so that `last_offset` cannot wrap: a batch
        // whose last offset is not an INT64 holds no readable offsets.
        if header
            .base_offset
            .checked_add(header.last_offset_delta.into())
            .is_none()
        {
            return Err(DecodeError::new(DecodeErrorKind::InvalidValue(
                "base offset plus last offset delta overflows an INT64",
            ))
            .in_field("lastOffsetDelta"));
        }
        Ok(header)
    }

    /// The batch's header.
    pub fn header(&self) -> &RecordBatchHeader {
        &self.header
    }

    /// The whole batch as received, e.g. to forward it unchanged.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The offset of the batch's first record.
    pub fn base_offset(&self) -> i64 {
        self.header.base_offset
    }

    /// The offset of the batch's last record, kept even when compaction
    /// removed that record.
    pub fn last_offset(&self) -> i64 {
        // `decode` refused headers where this overflows: never saturates.
        self.header
            .base_offset
            .saturating_add(self.header.last_offset_delta.into())
    }

    /// Where the next fetch should start after this batch: `None` when the
    /// last offset is `i64::MAX`, which no log can hold (its next offset
    /// would not fit), so the batch is corrupt.
    pub fn next_offset(&self) -> Option<i64> {
        self.last_offset().checked_add(1)
    }

    /// The codec the batch's records are compressed with.
    pub fn compression(&self) -> Compression {
        self.header.attributes.compression
    }

    /// Whether the batch belongs to a transaction (KIP-98).
    pub fn is_transactional(&self) -> bool {
        self.header.attributes.transactional
    }

    /// Whether the batch is a control batch (a transaction marker).
    pub fn is_control(&self) -> bool {
        self.header.attributes.control
    }

    /// The producer id; -1 when the producer is not idempotent.
    pub fn producer_id(&self) -> i64 {
        self.header.producer_id
    }

    /// Caps the size of the decompressed records section (default
    /// [`DEFAULT_DECOMPRESSION_LIMIT`]); [`records`](Self::records) fails
    /// with `DecompressionLimitExceeded` past it.
    pub fn with_decompression_limit(mut self, limit: usize) -> RecordBatch {
        self.decompression_limit = limit;
        self
    }

    /// The records, decompressing them first, into one buffer, if the
    /// batch is compressed.
    pub fn records(&self) -> Result<BatchRecords, DecodeError> {
        let section = self.bytes.slice(RECORD_BATCH_OVERHEAD..);
        let codec = self.compression();
        let records = if codec == Compression::None {
            section
        } else {
            codec
                .decompress(&section, 2, self.decompression_limit)
                .map_err(|error| error.in_field("records").in_message("RecordBatch", 2))?
        };
        let header = &self.header;
        Ok(BatchRecords {
            records,
            pos: 0,
            remaining: header.record_count,
            base_offset: header.base_offset,
            base_timestamp: header.base_timestamp,
            log_append_time: header
                .attributes
                .log_append_time
                .then_some(header.max_timestamp),
            failed: false,
        })
    }
}

/// Iterates the records of one v2 batch, decoding each as it is reached.
///
/// Yields an error (and then stops) if a record is malformed, if the batch
/// holds fewer records than its count, or if bytes remain after the last.
#[derive(Debug, Clone)]
pub struct BatchRecords {
    /// The records section, decompressed.
    records: Bytes,
    /// Where the next record starts in `records`.
    pos: usize,
    remaining: i32,
    base_offset: i64,
    base_timestamp: i64,
    /// The batch's max timestamp, when it is LogAppendTime: Java gives that
    /// to every record and ignores their deltas.
    log_append_time: Option<i64>,
    failed: bool,
}

impl Iterator for BatchRecords {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let parsed = match self.next_in_place()? {
            Ok(parsed) => parsed,
            Err(error) => return Some(Err(error)),
        };
        // Built here, in the caller's slot, rather than moved out of a
        // helper: a record is 16 words.
        Some(Ok(Record {
            offset: parsed.offset,
            timestamp: parsed.timestamp,
            timestamp_type: parsed.timestamp_type,
            key: parsed.key.map(|range| self.records.slice(range)),
            value: parsed.value.map(|range| self.records.slice(range)),
            headers: RecordHeaders::from_checked(
                self.records.slice(parsed.headers),
                parsed.header_count,
            ),
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = if self.failed {
            0
        } else {
            self.remaining as usize
        };
        // One more item when trailing bytes turn into an error.
        (0, Some(remaining + 1))
    }
}

/// One record as positions in its batch's records section
/// ([`BatchRecords::section`]): what [`BatchRecords::next_in_place`] gives
/// when the caller makes its own `Bytes` of the fields, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordInPlace {
    pub offset: i64,
    pub timestamp: i64,
    pub timestamp_type: TimestampType,
    pub key: Option<Range<usize>>,
    pub value: Option<Range<usize>>,
    pub header_count: usize,
    /// The headers after their count.
    pub headers: Range<usize>,
}

/// Where one record's fields are in the records section.
struct ParsedRecord {
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
    header_count: usize,
    /// The headers after their count.
    headers: Range<usize>,
}

impl BatchRecords {
    /// The records section (decompressed) that the ranges of
    /// [`next_in_place`](Self::next_in_place) point into.
    pub(crate) fn section(&self) -> &Bytes {
        &self.records
    }

    /// The next record, checked as [`next`](Iterator::next) checks it, as
    /// positions in [`section`](Self::section): no `Bytes` is made, so no
    /// reference count is touched. The iterator's other items follow as
    /// usual.
    #[inline]
    pub(crate) fn next_in_place(&mut self) -> Option<Result<RecordInPlace, DecodeError>> {
        if self.failed {
            return None;
        }
        if self.remaining == 0 {
            let trailing = self.records.len().saturating_sub(self.pos);
            if trailing == 0 {
                return None;
            }
            self.failed = true;
            let error = DecodeError::new(DecodeErrorKind::TrailingBytes(trailing));
            return Some(Err(error.in_field("records").in_message("RecordBatch", 2)));
        }
        self.remaining -= 1;
        Some(self.parse_in_place())
    }

    #[inline]
    fn parse_in_place(&mut self) -> Result<RecordInPlace, DecodeError> {
        let parsed = self.parse_record().and_then(|parsed| {
            let offset = self
                .base_offset
                .checked_add(parsed.offset_delta.into())
                .ok_or_else(|| {
                    DecodeError::new(DecodeErrorKind::InvalidValue(
                        "base offset plus offset delta overflows an INT64",
                    ))
                    .in_field("offsetDelta")
                })?;
            Ok((offset, parsed))
        });
        match parsed {
            Ok((offset, parsed)) => Ok(RecordInPlace {
                offset,
                timestamp: match self.log_append_time {
                    Some(max_timestamp) => max_timestamp,
                    None => self.base_timestamp.wrapping_add(parsed.timestamp_delta),
                },
                timestamp_type: if self.log_append_time.is_some() {
                    TimestampType::LogAppendTime
                } else {
                    TimestampType::CreateTime
                },
                key: parsed.key,
                value: parsed.value,
                header_count: parsed.header_count,
                headers: parsed.headers,
            }),
            Err(error) => {
                self.failed = true;
                Err(error.in_field("records").in_message("RecordBatch", 2))
            }
        }
    }

    /// Parses and checks the next record on the borrowed records section,
    /// touching no reference count: the caller makes `Bytes` of the key,
    /// the value and the raw headers (none for null or empty fields).
    #[inline]
    fn parse_record(&mut self) -> Result<ParsedRecord, DecodeError> {
        let section: &[u8] = &self.records;
        let mut cursor = Cursor::at(section, self.pos);
        let length = cursor.read_length()?;
        self.pos = cursor.position() + length;
        let mut record = cursor.limit(length);
        let _attributes = record.read_u8()?; // unused by every Kafka so far
        let timestamp_delta = record.read_varlong()?;
        let offset_delta = record.read_varint()?;
        let key = record
            .read_nullable_bytes()
            .map_err(|error| error.in_field("key"))?;
        let value = record
            .read_nullable_bytes()
            .map_err(|error| error.in_field("value"))?;
        let (header_count, headers) =
            RecordHeaders::check(&mut record).map_err(|error| error.in_field("headers"))?;
        // Java rejects a record whose length does not match its fields.
        record.expect_end()?;
        Ok(ParsedRecord {
            timestamp_delta,
            offset_delta,
            key,
            value,
            header_count,
            headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};

    use super::*;
    use crate::records::{
        ControlRecordKey, ControlRecordType, RecordBatchWriter, RecordEncodeError,
    };

    fn sample(compression: Compression) -> Bytes {
        let mut writer = RecordBatchWriter::new(100)
            .compression(compression)
            .producer(7, 3, 42);
        writer.append(1_000, Some(b"k1"), Some(b"v1"), []).unwrap();
        writer
            .append(990, None, Some(b""), [("h", Some(&b"x"[..])), ("n", None)])
            .unwrap();
        writer.append(1_005, Some(b""), None, []).unwrap();
        writer.finish().unwrap().freeze()
    }

    #[test]
    fn written_batch_reads_back_with_header_and_records() {
        for codec in Compression::ALL.into_iter().filter(|c| c.is_available()) {
            let batch = RecordBatch::decode(sample(codec)).unwrap();
            let header = batch.header();
            assert_eq!(header.base_offset, 100);
            assert_eq!(header.magic, 2);
            assert_eq!(header.attributes.compression, codec);
            assert_eq!(header.last_offset_delta, 2);
            assert_eq!(header.base_timestamp, 1_000);
            assert_eq!(header.max_timestamp, 1_005);
            assert_eq!(
                (
                    header.producer_id,
                    header.producer_epoch,
                    header.base_sequence
                ),
                (7, 3, 42)
            );
            assert_eq!(header.partition_leader_epoch, -1);
            assert_eq!(header.record_count, 3);
            assert_eq!(batch.last_offset(), 102);
            let records: Vec<Record> = batch.records().unwrap().collect::<Result<_, _>>().unwrap();
            assert_eq!(records.len(), 3);
            assert_eq!(records[0].offset, 100);
            assert_eq!(records[0].key.as_deref(), Some(&b"k1"[..]));
            assert_eq!(records[1].offset, 101);
            assert_eq!(records[1].timestamp, 990);
            assert_eq!(records[1].key, None);
            assert_eq!(records[1].value.as_deref(), Some(&b""[..]));
            let headers: Vec<_> = records[1].headers.iter().collect();
            assert_eq!(headers.len(), 2);
            assert_eq!(headers[0].key_str(), Some("h"));
            assert_eq!(headers[1].value, None);
            assert_eq!(records[2].key.as_deref(), Some(&b""[..]));
            assert_eq!(records[2].value, None);
            assert!(records
                .iter()
                .all(|r| r.timestamp_type == TimestampType::CreateTime));
        }
    }

    #[test]
    fn uncompressed_keys_and_values_are_slices_of_the_received_buffer() {
        let bytes = sample(Compression::None);
        let range = bytes.as_ptr_range();
        let batch = RecordBatch::decode(bytes).unwrap();
        for record in batch.records().unwrap() {
            let record = record.unwrap();
            for field in [&record.key, &record.value].into_iter().flatten() {
                assert!(range.contains(&field.as_ptr()) || field.is_empty());
            }
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_under_the_crc_is_a_checksum_mismatch() {
        let bytes = sample(Compression::None);
        for at in ATTRIBUTES_OFFSET..bytes.len() {
            let mut corrupt = bytes.to_vec();
            corrupt[at] ^= 0x01;
            let err = RecordBatch::decode(Bytes::from(corrupt)).unwrap_err();
            assert!(
                matches!(err.kind(), DecodeErrorKind::ChecksumMismatch { .. }),
                "byte {at}: {err}"
            );
        }
    }

    #[test]
    fn base_offset_and_leader_epoch_are_outside_the_crc() {
        let mut bytes = BytesMut::from(&sample(Compression::None)[..]);
        bytes[0..8].copy_from_slice(&5_000i64.to_be_bytes());
        bytes[12..16].copy_from_slice(&9i32.to_be_bytes());
        let batch = RecordBatch::decode(bytes.freeze()).unwrap();
        assert_eq!(batch.header().partition_leader_epoch, 9);
        assert_eq!(
            batch.records().unwrap().next().unwrap().unwrap().offset,
            5_000
        );
    }

    #[test]
    #[cfg(feature = "gzip")]
    fn every_truncation_is_an_error_not_a_panic() {
        for codec in [Compression::None, Compression::Gzip] {
            let bytes = sample(codec);
            for cut in 0..bytes.len() {
                assert!(RecordBatch::decode(bytes.slice(..cut)).is_err());
            }
        }
    }

    /// Rewrites a batch's records section and fixes length and CRC, to
    /// test what the CRC cannot catch: a writer that got the records wrong.
    fn with_records(records: &[u8], count: i32) -> Bytes {
        let mut bytes = BytesMut::from(&sample(Compression::None)[..RECORD_BATCH_OVERHEAD]);
        bytes.put_slice(records);
        let length = (bytes.len() - LOG_OVERHEAD) as i32;
        bytes[8..12].copy_from_slice(&length.to_be_bytes());
        bytes[57..61].copy_from_slice(&count.to_be_bytes());
        let crc = crate::records::checksum::crc32c(&bytes[ATTRIBUTES_OFFSET..]);
        bytes[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        bytes.freeze()
    }

    fn first_error(bytes: Bytes) -> DecodeErrorKind {
        let batch = RecordBatch::decode(bytes).unwrap();
        batch
            .records()
            .unwrap()
            .find_map(Result::err)
            .expect("an error")
            .kind()
            .clone()
    }

    #[test]
    fn malformed_records_are_typed_errors() {
        let good = sample(Compression::None);
        let records = &good[RECORD_BATCH_OVERHEAD..];
        // More records claimed than present.
        assert!(matches!(
            first_error(with_records(records, 4)),
            DecodeErrorKind::UnexpectedEof { .. }
        ));
        // Bytes after the last record.
        let mut extra = records.to_vec();
        extra.push(0);
        assert_eq!(
            first_error(with_records(&extra, 3)),
            DecodeErrorKind::TrailingBytes(1)
        );
        // A record length far beyond the batch.
        assert!(matches!(
            first_error(with_records(&[0xfe, 0xff, 0xff, 0xff, 0x07], 1)),
            DecodeErrorKind::LengthExceedsInput { .. }
        ));
        // A record whose length is longer than its fields.
        // Length 7: attributes, two deltas, null key and value, no headers,
        // and one byte too many.
        let padded = [0x0e, 0, 0, 0, 1, 1, 0, 0];
        assert_eq!(
            first_error(with_records(&padded, 1)),
            DecodeErrorKind::TrailingBytes(1)
        );
        // A negative record count.
        let err = RecordBatch::decode(with_records(records, -1)).unwrap_err();
        assert!(matches!(err.kind(), DecodeErrorKind::InvalidLength(-1)));
    }

    #[test]
    fn header_errors_name_the_field() {
        let mut bytes = BytesMut::from(&sample(Compression::None)[..]);
        bytes[8..12].copy_from_slice(&1_000_000i32.to_be_bytes());
        let err = RecordBatch::decode(bytes.clone().freeze()).unwrap_err();
        assert_eq!(err.field_path(), "batchLength");
        assert_eq!(err.message(), Some(("RecordBatch", 2)));
        let mut bytes = BytesMut::from(&sample(Compression::None)[..]);
        bytes[16] = 1; // magic
        assert_eq!(
            RecordBatch::decode(bytes.freeze())
                .unwrap_err()
                .field_path(),
            "magic"
        );
    }

    #[test]
    fn log_append_time_gives_every_record_the_max_timestamp() {
        let mut writer = RecordBatchWriter::new(0).timestamp_type(TimestampType::LogAppendTime);
        writer.append(5, None, Some(b"a"), []).unwrap();
        writer.append(9, None, Some(b"b"), []).unwrap();
        let batch = RecordBatch::decode(writer.finish().unwrap().freeze()).unwrap();
        for record in batch.records().unwrap() {
            let record = record.unwrap();
            assert_eq!(record.timestamp, 9);
            assert_eq!(record.timestamp_type, TimestampType::LogAppendTime);
        }
    }

    #[test]
    fn control_batches_are_identifiable() {
        let mut writer = RecordBatchWriter::new(50)
            .producer(11, 0, -1)
            .transactional(true)
            .control(true);
        writer
            .append(
                1,
                Some(&ControlRecordKey::commit().encode()),
                Some(&[0, 0, 0, 0, 0, 5]),
                [],
            )
            .unwrap();
        let batch = RecordBatch::decode(writer.finish().unwrap().freeze()).unwrap();
        assert!(batch.is_control());
        assert!(batch.is_transactional());
        let record = batch.records().unwrap().next().unwrap().unwrap();
        assert_eq!(
            ControlRecordKey::of(&record).unwrap().record_type,
            ControlRecordType::Commit
        );
    }

    #[test]
    fn explicit_offsets_may_skip_but_not_go_back() {
        let mut writer = RecordBatchWriter::new(10);
        writer.append_at(12, 0, None, None, []).unwrap();
        writer.append_at(20, 0, None, None, []).unwrap();
        assert!(matches!(
            writer.append_at(20, 0, None, None, []),
            Err(RecordEncodeError::OffsetOutOfOrder {
                offset: 20,
                previous: 20,
                ..
            })
        ));
        assert_eq!(writer.append(0, None, None, []).unwrap(), 21);
        let batch = RecordBatch::decode(writer.finish().unwrap().freeze()).unwrap();
        assert_eq!(batch.last_offset(), 21);
        let offsets: Vec<i64> = batch
            .records()
            .unwrap()
            .map(|r| r.unwrap().offset)
            .collect();
        assert_eq!(offsets, [12, 20, 21]);
        let mut writer = RecordBatchWriter::new(10);
        assert!(writer.append_at(9, 0, None, None, []).is_err());
        assert!(writer.append_at(10 + (1 << 31), 0, None, None, []).is_err());
    }

    /// `count` records without keys or values from `base_offset`.
    fn plain(base_offset: i64, count: usize) -> Vec<u8> {
        let mut writer = RecordBatchWriter::new(base_offset);
        for _ in 0..count {
            writer.append(0, None, None, []).unwrap();
        }
        writer.finish().unwrap().to_vec()
    }

    #[test]
    fn a_last_offset_past_i64_max_is_refused() {
        let err = RecordBatch::decode(plain(i64::MAX - 1, 3).into()).unwrap_err();
        assert!(
            matches!(err.kind(), DecodeErrorKind::InvalidValue(_)),
            "{err}"
        );
        assert!(err.to_string().contains("lastOffsetDelta"), "{err}");
    }

    #[test]
    fn a_batch_ending_at_i64_max_has_no_next_offset() {
        let batch = RecordBatch::decode(plain(i64::MAX - 1, 2).into()).unwrap();
        assert_eq!(batch.last_offset(), i64::MAX);
        assert_eq!(batch.next_offset(), None);
        let offsets: Vec<i64> = batch
            .records()
            .unwrap()
            .map(|r| r.unwrap().offset)
            .collect();
        assert_eq!(offsets, [i64::MAX - 1, i64::MAX]);
        let batch = RecordBatch::decode(plain(100, 3).into()).unwrap();
        assert_eq!(batch.next_offset(), Some(103));
    }

    /// A header claiming a last offset below its records' lets a record's
    /// own delta run past i64::MAX: that record is an error, not a wrap to
    /// a negative offset.
    #[test]
    fn a_record_offset_past_i64_max_is_an_error() {
        let mut bytes = plain(0, 2);
        let last_offset_delta_at = CRC_OFFSET + 6;
        bytes[last_offset_delta_at..last_offset_delta_at + 4].copy_from_slice(&0i32.to_be_bytes());
        let crc = crate::records::checksum::crc32c(&bytes[ATTRIBUTES_OFFSET..]);
        bytes[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        crate::records::batch_rewrite::set_base_offset(&mut bytes, i64::MAX).unwrap();
        let batch = RecordBatch::decode(bytes.into()).unwrap();
        assert_eq!(batch.last_offset(), i64::MAX);
        let mut records = batch.records().unwrap();
        assert_eq!(records.next().unwrap().unwrap().offset, i64::MAX);
        let err = records.next().unwrap().unwrap_err();
        assert!(err.to_string().contains("offsetDelta"), "{err}");
        assert!(records.next().is_none());
    }

    #[test]
    fn an_empty_batch_is_refused() {
        assert_eq!(
            RecordBatchWriter::new(0).finish().unwrap_err(),
            RecordEncodeError::EmptyBatch
        );
    }

    #[test]
    fn batches_append_after_what_the_buffer_holds() {
        let first = sample(Compression::None);
        let mut writer = RecordBatchWriter::new_in(BytesMut::from(&first[..]), 103);
        writer.append(1, Some(b"next"), None, []).unwrap();
        let both = writer.finish().unwrap().freeze();
        assert_eq!(&both[..first.len()], &first[..]);
        let second = RecordBatch::decode(both.slice(first.len()..)).unwrap();
        assert_eq!(second.base_offset(), 103);
    }

    #[test]
    fn extreme_timestamps_round_trip() {
        let mut writer = RecordBatchWriter::new(0);
        for timestamp in [i64::MAX, i64::MIN, -1, 0] {
            writer.append(timestamp, None, None, []).unwrap();
        }
        let batch = RecordBatch::decode(writer.finish().unwrap().freeze()).unwrap();
        let timestamps: Vec<i64> = batch
            .records()
            .unwrap()
            .map(|r| r.unwrap().timestamp)
            .collect();
        assert_eq!(timestamps, [i64::MAX, i64::MIN, -1, 0]);
    }

    #[test]
    #[cfg(feature = "gzip")]
    fn decompression_limit_applies_to_the_records_section() {
        let mut writer = RecordBatchWriter::new(0).compression(Compression::Gzip);
        writer.append(0, None, Some(&[7u8; 10_000]), []).unwrap();
        let batch = RecordBatch::decode(writer.finish().unwrap().freeze()).unwrap();
        let err = batch
            .clone()
            .with_decompression_limit(1_000)
            .records()
            .unwrap_err();
        assert!(matches!(
            err.kind(),
            DecodeErrorKind::DecompressionLimitExceeded { limit: 1_000, .. }
        ));
        assert!(batch.with_decompression_limit(20_000).records().is_ok());
    }
}
