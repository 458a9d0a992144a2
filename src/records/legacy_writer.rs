//! Writing legacy message sets (magic 0 and 1), for brokers older than
//! Kafka 0.11 and for simulating them.
//!
//! Uncompressed, every record is a top-level message with its own offset.
//! Compressed, the records are written as an inner message set which
//! `finish` compresses into the value of one wrapper message, laid out as
//! Java's `MemoryRecordsBuilder` does: in magic 1 the inner offsets are
//! relative (0, 1, ...) and the wrapper carries the absolute offset of the
//! last one; in magic 0 inner offsets are absolute and the broker reassigns
//! them anyway.

use bytes::{BufMut, BytesMut};

use super::compression::Compression;
use super::error::RecordEncodeError;
use super::legacy::{LOG_OVERHEAD, MESSAGE_OVERHEAD_V0, MESSAGE_OVERHEAD_V1};
use super::record::TimestampType;

/// Builds a magic 0 or magic 1 message set.
///
/// ```
/// use kafkite::records::{Compression, LegacyMessageSetWriter};
///
/// let mut writer = LegacyMessageSetWriter::new(1, Compression::Gzip, 0)?;
/// writer.append(1_700_000_000_000, Some(b"key"), Some(b"value"))?;
/// let message_set = writer.finish()?;
/// # Ok::<(), kafkite::records::RecordEncodeError>(())
/// ```
#[derive(Debug)]
pub struct LegacyMessageSetWriter {
    buf: BytesMut,
    start: usize,
    magic: i8,
    compression: Compression,
    timestamp_type: TimestampType,
    base_offset: i64,
    record_count: i64,
    max_timestamp: i64,
}

impl LegacyMessageSetWriter {
    /// A writer of magic 0 or 1 messages whose first record gets
    /// `base_offset`. Zstd is refused: Kafka only has it in magic 2.
    pub fn new(
        magic: i8,
        compression: Compression,
        base_offset: i64,
    ) -> Result<Self, RecordEncodeError> {
        LegacyMessageSetWriter::new_in(BytesMut::new(), magic, compression, base_offset)
    }

    /// A writer that appends after whatever `buf` already holds.
    pub fn new_in(
        buf: BytesMut,
        magic: i8,
        compression: Compression,
        base_offset: i64,
    ) -> Result<Self, RecordEncodeError> {
        if !(0..=1).contains(&magic) {
            return Err(RecordEncodeError::InvalidLegacyMagic(magic));
        }
        if compression == Compression::Zstd {
            return Err(RecordEncodeError::CodecNeedsNewerMagic {
                codec: compression,
                magic,
            });
        }
        Ok(LegacyMessageSetWriter {
            start: buf.len(),
            buf,
            magic,
            compression,
            timestamp_type: if magic == 0 {
                TimestampType::NoTimestamp
            } else {
                TimestampType::CreateTime
            },
            base_offset,
            record_count: 0,
            max_timestamp: -1,
        })
    }

    /// LogAppendTime or CreateTime (the default) for magic 1; ignored for
    /// magic 0, which has no timestamps. With LogAppendTime and
    /// compression, the wrapper's timestamp is the max of the records'.
    pub fn timestamp_type(mut self, timestamp_type: TimestampType) -> Self {
        if self.magic > 0 && timestamp_type != TimestampType::NoTimestamp {
            self.timestamp_type = timestamp_type;
        }
        self
    }

    /// Appends a record at the next offset and returns that offset. In
    /// magic 0 the timestamp is dropped.
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<i64, RecordEncodeError> {
        let offset = self.base_offset.wrapping_add(self.record_count);
        let (entry_offset, attributes) = if self.compression == Compression::None {
            (offset, self.timestamp_type.attribute_bits() as i8)
        } else if self.magic > 0 {
            (self.record_count, 0)
        } else {
            (offset, 0)
        };
        put_message(
            &mut self.buf,
            entry_offset,
            self.magic,
            attributes,
            timestamp,
            key,
            value,
        )?;
        self.max_timestamp = if self.record_count == 0 {
            timestamp
        } else {
            self.max_timestamp.max(timestamp)
        };
        self.record_count += 1;
        Ok(offset)
    }

    /// Records appended so far.
    pub fn record_count(&self) -> usize {
        self.record_count as usize
    }

    /// The message set's size so far, before compression.
    pub fn size_in_bytes(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Completes the message set (compressing it into a wrapper message
    /// if a codec is set) and returns the buffer.
    pub fn finish(mut self) -> Result<BytesMut, RecordEncodeError> {
        if self.record_count == 0 {
            return Err(RecordEncodeError::EmptyBatch);
        }
        if self.compression == Compression::None {
            return Ok(self.buf);
        }
        let mut compressed = BytesMut::with_capacity((self.buf.len() - self.start) / 2 + 64);
        self.compression
            .compress(&self.buf[self.start..], self.magic, &mut compressed)?;
        self.buf.truncate(self.start);
        let last_offset = self.base_offset.wrapping_add(self.record_count - 1);
        let attributes = i16::from(self.compression.id()) | self.timestamp_type.attribute_bits();
        put_message(
            &mut self.buf,
            last_offset,
            self.magic,
            attributes as i8,
            self.max_timestamp,
            None,
            Some(&compressed),
        )?;
        Ok(self.buf)
    }
}

/// Writes one entry: offset, size, then the message with its CRC-32.
fn put_message(
    buf: &mut BytesMut,
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<(), RecordEncodeError> {
    let overhead = if magic == 0 {
        MESSAGE_OVERHEAD_V0
    } else {
        MESSAGE_OVERHEAD_V1
    };
    let size = overhead + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len);
    let size = i32::try_from(size).map_err(|_| RecordEncodeError::TooLong {
        field: "message",
        length: size,
    })?;
    buf.reserve(LOG_OVERHEAD + size as usize);
    buf.put_i64(offset);
    buf.put_i32(size);
    let crc_at = buf.len();
    buf.put_u32(0);
    buf.put_i8(magic);
    buf.put_i8(attributes);
    if magic > 0 {
        buf.put_i64(timestamp);
    }
    // Lengths fit: their sum with the overhead fits an i32.
    for field in [key, value] {
        match field {
            None => buf.put_i32(-1),
            Some(bytes) => {
                buf.put_i32(bytes.len() as i32);
                buf.put_slice(bytes);
            }
        }
    }
    let crc = crc32fast::hash(&buf[crc_at + 4..]);
    buf[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

// The tests write compressed data with most codecs.
#[cfg(all(test, feature = "gzip", feature = "snappy", feature = "lz4"))]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::protocol::DecodeErrorKind;
    use crate::records::legacy::LegacyBatch;
    use crate::records::Record;

    /// Splits a message set into its top-level entries.
    fn entries(set: &Bytes) -> Vec<LegacyBatch> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < set.len() {
            let size = i32::from_be_bytes(set[at + 8..at + 12].try_into().unwrap()) as usize;
            out.push(LegacyBatch::decode(set.slice(at..at + LOG_OVERHEAD + size)).unwrap());
            at += LOG_OVERHEAD + size;
        }
        out
    }

    fn records(set: &Bytes) -> Vec<Record> {
        entries(set)
            .iter()
            .flat_map(|entry| entry.records().unwrap())
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn write(magic: i8, compression: Compression, base_offset: i64) -> Bytes {
        let mut writer = LegacyMessageSetWriter::new(magic, compression, base_offset).unwrap();
        writer.append(10, Some(b"k"), Some(b"v")).unwrap();
        writer.append(30, None, Some(b"")).unwrap();
        writer.append(20, Some(b""), None).unwrap();
        writer.finish().unwrap().freeze()
    }

    #[test]
    fn every_magic_and_codec_round_trips() {
        for magic in [0, 1] {
            for codec in Compression::ALL
                .into_iter()
                .filter(|c| c.is_available() && *c != Compression::Zstd)
            {
                let set = write(magic, codec, 40);
                let entries = entries(&set);
                assert_eq!(
                    entries.len(),
                    if codec == Compression::None { 3 } else { 1 }
                );
                let records = records(&set);
                let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
                assert_eq!(offsets, [40, 41, 42], "magic {magic} {codec}");
                assert_eq!(records[0].key.as_deref(), Some(&b"k"[..]));
                assert_eq!(records[1].key, None);
                assert_eq!(records[1].value.as_deref(), Some(&b""[..]));
                assert_eq!(records[2].value, None);
                let timestamps: Vec<i64> = records.iter().map(|r| r.timestamp).collect();
                if magic == 0 {
                    assert_eq!(timestamps, [-1, -1, -1]);
                    assert!(records
                        .iter()
                        .all(|r| r.timestamp_type == TimestampType::NoTimestamp));
                } else {
                    assert_eq!(timestamps, [10, 30, 20]);
                    assert!(records
                        .iter()
                        .all(|r| r.timestamp_type == TimestampType::CreateTime));
                }
            }
        }
    }

    #[test]
    fn v1_wrapper_carries_the_last_offset_and_inner_offsets_are_relative() {
        let set = write(1, Compression::Gzip, 1_000);
        let wrapper = &entries(&set)[0];
        assert_eq!(wrapper.offset(), 1_002);
        assert_eq!(wrapper.timestamp(), 30);
        let inner = Compression::Gzip
            .decompress(&set[LOG_OVERHEAD + MESSAGE_OVERHEAD_V1..], 1, 1 << 20)
            .unwrap();
        assert_eq!(&inner[..8], &0i64.to_be_bytes());
    }

    #[test]
    fn a_wrapper_with_offset_0_from_a_producer_keeps_inner_offsets() {
        // kafka-python writes compressed v1 wrappers with offset 0; Java
        // then leaves the inner (relative) offsets as they are.
        let set = write(1, Compression::Gzip, 0);
        let mut bytes = BytesMut::from(&set[..]);
        bytes[0..8].copy_from_slice(&0i64.to_be_bytes());
        let offsets: Vec<i64> = records(&bytes.freeze()).iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [0, 1, 2]);
    }

    #[test]
    fn log_append_time_wrapper_overrides_inner_timestamps() {
        let mut writer = LegacyMessageSetWriter::new(1, Compression::Snappy, 0)
            .unwrap()
            .timestamp_type(TimestampType::LogAppendTime);
        writer.append(5, None, Some(b"a")).unwrap();
        writer.append(7, None, Some(b"b")).unwrap();
        for record in records(&writer.finish().unwrap().freeze()) {
            assert_eq!(
                (record.timestamp, record.timestamp_type),
                (7, TimestampType::LogAppendTime)
            );
        }
    }

    #[test]
    fn corrupt_crc_is_a_checksum_mismatch() {
        let set = write(1, Compression::None, 0);
        let mut bytes = set.to_vec();
        bytes[LOG_OVERHEAD + 10] ^= 0x40;
        let size = LOG_OVERHEAD + MESSAGE_OVERHEAD_V1 + 2;
        let err = LegacyBatch::decode(Bytes::from(bytes).slice(..size)).unwrap_err();
        assert!(matches!(
            err.kind(),
            DecodeErrorKind::ChecksumMismatch { .. }
        ));
        assert_eq!(err.message(), Some(("Message", 1)));
    }

    #[test]
    fn nested_compression_is_refused() {
        // A gzip wrapper whose inner message is itself a gzip wrapper.
        let inner = write(1, Compression::Gzip, 0);
        let mut outer = BytesMut::new();
        let mut compressed = BytesMut::new();
        Compression::Gzip
            .compress(&inner, 1, &mut compressed)
            .unwrap();
        put_message(&mut outer, 2, 1, 1, 0, None, Some(&compressed)).unwrap();
        let batch = LegacyBatch::decode(outer.freeze()).unwrap();
        let err = batch.records().unwrap().next().unwrap().unwrap_err();
        assert!(
            matches!(err.kind(), DecodeErrorKind::InvalidValue(_)),
            "{err}"
        );
    }

    #[test]
    fn empty_or_null_wrapper_values_are_errors() {
        let mut compressed = BytesMut::new();
        Compression::Gzip.compress(b"", 1, &mut compressed).unwrap();
        let mut empty = BytesMut::new();
        put_message(&mut empty, 0, 1, 1, 0, None, Some(&compressed)).unwrap();
        assert!(LegacyBatch::decode(empty.freeze())
            .unwrap()
            .records()
            .is_err());
        let mut null = BytesMut::new();
        put_message(&mut null, 0, 1, 1, 0, None, None).unwrap();
        assert!(LegacyBatch::decode(null.freeze())
            .unwrap()
            .records()
            .is_err());
    }

    #[test]
    fn truncated_inner_message_sets_are_errors() {
        let full = write(0, Compression::None, 0);
        for cut in [1, full.len() - 1] {
            let mut compressed = BytesMut::new();
            Compression::Gzip
                .compress(&full[..cut], 0, &mut compressed)
                .unwrap();
            let mut wrapper = BytesMut::new();
            put_message(&mut wrapper, 2, 0, 1, 0, None, Some(&compressed)).unwrap();
            assert!(LegacyBatch::decode(wrapper.freeze())
                .unwrap()
                .records()
                .is_err());
        }
    }

    #[test]
    fn every_truncation_of_an_entry_is_an_error() {
        for codec in [Compression::None, Compression::Gzip] {
            let set = write(1, codec, 0);
            let first = entries(&set)[0].as_bytes().clone();
            for cut in 0..first.len() {
                assert!(LegacyBatch::decode(first.slice(..cut)).is_err());
            }
        }
    }

    #[test]
    fn invalid_configurations_are_refused() {
        assert_eq!(
            LegacyMessageSetWriter::new(2, Compression::None, 0).unwrap_err(),
            RecordEncodeError::InvalidLegacyMagic(2)
        );
        assert!(LegacyMessageSetWriter::new(1, Compression::Zstd, 0).is_err());
        let writer = LegacyMessageSetWriter::new(0, Compression::None, 0).unwrap();
        assert_eq!(writer.finish().unwrap_err(), RecordEncodeError::EmptyBatch);
    }

    #[test]
    fn magic_0_lz4_wrapper_uses_the_broken_header_checksum() {
        let set = write(0, Compression::Lz4, 0);
        let frame = &set[LOG_OVERHEAD + MESSAGE_OVERHEAD_V0..];
        let standard = (twox_hash::XxHash32::oneshot(0, &frame[4..6]) >> 8) as u8;
        let broken = (twox_hash::XxHash32::oneshot(0, &frame[..6]) >> 8) as u8;
        assert_eq!(frame[6], broken);
        assert_ne!(frame[6], standard);
    }
}
