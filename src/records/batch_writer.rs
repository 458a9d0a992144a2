//! Writing RecordBatch v2.
//!
//! Records are encoded straight into one `BytesMut`: the size of each record
//! is computed first (it is a varint prefix), then its fields are written in
//! place, so appending a record allocates nothing beyond the buffer's own
//! growth. [`RecordBatchWriter::finish`] compresses the records section when
//! a codec is set and fills in the header: length, last offset delta, max
//! timestamp and the CRC-32C.

use bytes::buf::UninitSlice;
use bytes::{BufMut, BytesMut};

use super::batch::{
    BatchAttributes, ATTRIBUTES_OFFSET, CRC_OFFSET, LOG_OVERHEAD, RECORD_BATCH_OVERHEAD,
};
use super::compression::Compression;
use super::error::RecordEncodeError;
use super::record::TimestampType;

/// Builds one v2 record batch.
///
/// ```
/// use kafkite::records::{Compression, RecordBatchWriter};
///
/// let mut writer = RecordBatchWriter::new(0).compression(Compression::Lz4);
/// writer.append(1_700_000_000_000, Some(b"key"), Some(b"value"), [])?;
/// writer.append(1_700_000_000_001, None, Some(b"v2"), [("trace-id", Some(&b"42"[..]))])?;
/// let batch = writer.finish()?;
/// # Ok::<(), kafkite::records::RecordEncodeError>(())
/// ```
#[derive(Debug)]
pub struct RecordBatchWriter {
    buf: BytesMut,
    /// Where this batch starts in `buf`: a produce request can carry
    /// several batches written one after the other into one buffer.
    start: usize,
    base_offset: i64,
    partition_leader_epoch: i32,
    attributes: BatchAttributes,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    /// The first record's timestamp; deltas are relative to it.
    base_timestamp: i64,
    max_timestamp: i64,
    /// `None` until the first record.
    last_offset_delta: Option<i32>,
    record_count: i32,
}

impl RecordBatchWriter {
    /// A writer of a batch whose first record gets `base_offset`. Producers
    /// use 0: the broker assigns real offsets.
    pub fn new(base_offset: i64) -> RecordBatchWriter {
        RecordBatchWriter::new_in(BytesMut::new(), base_offset)
    }

    /// A writer that appends its batch after whatever `buf` already holds.
    pub fn new_in(mut buf: BytesMut, base_offset: i64) -> RecordBatchWriter {
        let start = buf.len();
        buf.resize(start + RECORD_BATCH_OVERHEAD, 0);
        RecordBatchWriter {
            buf,
            start,
            base_offset,
            // Java's producer leaves these for the broker to set.
            partition_leader_epoch: -1,
            attributes: BatchAttributes::default(),
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            base_timestamp: -1,
            max_timestamp: -1,
            last_offset_delta: None,
            record_count: 0,
        }
    }

    /// The codec for the records section (`compression.type`; default none).
    pub fn compression(mut self, compression: Compression) -> RecordBatchWriter {
        self.attributes.compression = compression;
        self
    }

    /// The idempotent producer's id, epoch and the sequence of the first
    /// record (KIP-98; default -1, -1, -1: not idempotent).
    pub fn producer(
        mut self,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> RecordBatchWriter {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch as part of a transaction.
    pub fn transactional(mut self, transactional: bool) -> RecordBatchWriter {
        self.attributes.transactional = transactional;
        self
    }

    /// Marks the batch as a control batch (transaction markers are written
    /// by brokers; this is for simulated brokers and tests).
    pub fn control(mut self, control: bool) -> RecordBatchWriter {
        self.attributes.control = control;
        self
    }

    /// LogAppendTime or CreateTime (default); a broker sets LogAppendTime
    /// with the append time as the max timestamp.
    pub fn timestamp_type(mut self, timestamp_type: TimestampType) -> RecordBatchWriter {
        self.attributes.log_append_time = timestamp_type == TimestampType::LogAppendTime;
        self
    }

    /// The partition leader epoch (default -1; brokers set it, KIP-101).
    pub fn partition_leader_epoch(mut self, epoch: i32) -> RecordBatchWriter {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Appends a record at the offset after the previous one and returns
    /// that offset.
    ///
    /// `headers` is any cloneable iterator of (key, value) pairs, so owned
    /// headers need no temporary vector: pass `[]` for none, or e.g.
    /// `owned.iter().map(|(k, v)| (k.as_str(), v.as_deref()))`.
    #[inline]
    pub fn append<'h, H>(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: H,
    ) -> Result<i64, RecordEncodeError>
    where
        H: IntoIterator<Item = (&'h str, Option<&'h [u8]>)>,
        H::IntoIter: Clone,
    {
        let offset_delta = match self.last_offset_delta {
            None => 0,
            Some(last) => last
                .checked_add(1)
                .ok_or(RecordEncodeError::OffsetOutOfOrder {
                    offset: self
                        .base_offset
                        .wrapping_add(i64::from(last))
                        .wrapping_add(1),
                    previous: self.base_offset.wrapping_add(i64::from(last)),
                    base_offset: self.base_offset,
                })?,
        };
        self.append_delta(offset_delta, timestamp, key, value, headers)?;
        Ok(self.base_offset.wrapping_add(i64::from(offset_delta)))
    }

    /// Appends a record at an explicit offset, which must be after the
    /// previous record's: gaps are allowed, as in a compacted log.
    pub fn append_at<'h, H>(
        &mut self,
        offset: i64,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: H,
    ) -> Result<(), RecordEncodeError>
    where
        H: IntoIterator<Item = (&'h str, Option<&'h [u8]>)>,
        H::IntoIter: Clone,
    {
        let previous = self.last_offset_delta.map(i64::from);
        let delta = offset
            .checked_sub(self.base_offset)
            .and_then(|delta| i32::try_from(delta).ok())
            .filter(|delta| {
                *delta >= 0 && !matches!(previous, Some(previous) if i64::from(*delta) <= previous)
            });
        let Some(delta) = delta else {
            return Err(RecordEncodeError::OffsetOutOfOrder {
                offset,
                previous: previous.map_or(self.base_offset.wrapping_sub(1), |p| {
                    self.base_offset.wrapping_add(p)
                }),
                base_offset: self.base_offset,
            });
        };
        self.append_delta(delta, timestamp, key, value, headers)
    }

    #[inline]
    fn append_delta<'h, H>(
        &mut self,
        offset_delta: i32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: H,
    ) -> Result<(), RecordEncodeError>
    where
        H: IntoIterator<Item = (&'h str, Option<&'h [u8]>)>,
        H::IntoIter: Clone,
    {
        if self.record_count == i32::MAX {
            return Err(RecordEncodeError::TooLong {
                field: "record count",
                length: self.record_count as usize + 1,
            });
        }
        let base_timestamp = if self.last_offset_delta.is_none() {
            timestamp
        } else {
            self.base_timestamp
        };
        // Java subtracts without overflow checks; wrapping here and adding
        // with wrapping on read round-trips every i64.
        let timestamp_delta = timestamp.wrapping_sub(base_timestamp);
        let headers = headers.into_iter();

        // The record's length comes first, as a varint, but is known only
        // once the record is written. Rather than size every field exactly
        // first (a bit scan per varint), bound it with the widest varints,
        // leave room for the length that the bound needs, write the record
        // after that room and then its length into it. The body moves back
        // only when its length needs a shorter varint than the bound's:
        // where the two straddle 64 bytes or 8 KiB.
        let mut header_count = 0usize;
        let mut headers_bound = 0usize;
        for (header_key, header_value) in headers.clone() {
            header_count += 1;
            headers_bound = headers_bound
                .saturating_add(2 * MAX_VARINT)
                .saturating_add(header_key.len())
                .saturating_add(header_value.map_or(0, <[u8]>::len));
        }
        let body_bound = (1 + MAX_VARLONG + 4 * MAX_VARINT)
            .saturating_add(key.map_or(0, <[u8]>::len))
            .saturating_add(value.map_or(0, <[u8]>::len))
            .saturating_add(headers_bound);
        let body_bound = match i32::try_from(body_bound) {
            Ok(bound) => bound,
            // Within a few bytes per field of 2 GiB: size it exactly, which
            // also says which field is too long when one is.
            Err(_) => exact_body_size(timestamp_delta, offset_delta, key, value, headers.clone())?,
        };
        // Fits an INT32, as does every part of the record.
        let header_count = header_count as i32;
        let room = zigzag_size(zigzag32(body_bound));
        let body_bound = body_bound as usize;

        // Write it through one slice of the buffer's spare capacity,
        // reserved once: one capacity check per record, none per byte, and
        // no zeroing first.
        let start = self.buf.len();
        self.buf.reserve(room + body_bound);
        let spare = &mut self.buf.chunk_mut()[..room + body_bound];
        let mut out = SliceWriter {
            out: spare,
            pos: room,
        };
        out.put_u8(0); // record attributes: unused
        out.put_zigzag(zigzag64(timestamp_delta));
        out.put_zigzag(zigzag32(offset_delta));
        out.put_bytes(key);
        out.put_bytes(value);
        out.put_zigzag(zigzag32(header_count));
        for (header_key, header_value) in headers {
            out.put_bytes(Some(header_key.as_bytes()));
            out.put_bytes(header_value);
        }
        let written = out.pos;
        let body_len = written - room;
        debug_assert!(body_len <= body_bound);
        // At most the bound, so an INT32 whose varint fits the room.
        let length = zigzag32(body_len as i32);
        let length_size = zigzag_size(length);
        out.pos = 0;
        out.put_zigzag(length);
        while out.pos < room {
            out.put_u8(0); // the gap, closed below
        }
        // SAFETY: `SliceWriter` counts in `pos` only bytes it has written
        // (every write is bounds-checked against the reserved slice): it
        // wrote `room..written` first, then `0..room`, so the first
        // `written` bytes after `len` are initialized.
        unsafe { self.buf.advance_mut(written) };
        if length_size < room {
            let body = start + room..start + written;
            self.buf.copy_within(body, start + length_size);
            self.buf.truncate(start + length_size + body_len);
        }

        if self.last_offset_delta.is_none() {
            self.base_timestamp = timestamp;
            self.max_timestamp = timestamp;
        }
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self.last_offset_delta = Some(offset_delta);
        self.record_count += 1;
        Ok(())
    }

    /// Records appended so far.
    pub fn record_count(&self) -> usize {
        self.record_count as usize
    }

    /// The batch's size so far, before compression.
    pub fn size_in_bytes(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Completes the batch and returns the buffer, which holds whatever it
    /// held before followed by this batch.
    pub fn finish(mut self) -> Result<BytesMut, RecordEncodeError> {
        let Some(last_offset_delta) = self.last_offset_delta else {
            return Err(RecordEncodeError::EmptyBatch);
        };
        let start = self.start;
        let records_at = start + RECORD_BATCH_OVERHEAD;
        let codec = self.attributes.compression;
        if codec != Compression::None {
            let mut compressed = BytesMut::with_capacity((self.buf.len() - records_at) / 2 + 64);
            codec.compress(&self.buf[records_at..], 2, &mut compressed)?;
            self.buf.truncate(records_at);
            self.buf.extend_from_slice(&compressed);
        }
        let batch_length = self.buf.len() - start - LOG_OVERHEAD;
        let batch_length = i32::try_from(batch_length).map_err(|_| RecordEncodeError::TooLong {
            field: "record batch",
            length: batch_length,
        })?;

        let mut header = &mut self.buf[start..records_at];
        header.put_i64(self.base_offset);
        header.put_i32(batch_length);
        header.put_i32(self.partition_leader_epoch);
        header.put_i8(2); // magic
        header.put_u32(0); // crc, below
        header.put_i16(self.attributes.to_raw());
        header.put_i32(last_offset_delta);
        header.put_i64(self.base_timestamp);
        header.put_i64(self.max_timestamp);
        header.put_i64(self.producer_id);
        header.put_i16(self.producer_epoch);
        header.put_i32(self.base_sequence);
        header.put_i32(self.record_count);

        let crc = super::checksum::crc32c(&self.buf[start + ATTRIBUTES_OFFSET..]);
        self.buf[start + CRC_OFFSET..start + CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        Ok(self.buf)
    }
}

/// The most bytes a varint (32 bits) and a varlong (64) take.
const MAX_VARINT: usize = 5;
const MAX_VARLONG: usize = 10;

/// A record body's exact size, for records whose bound is over 2 GiB: an
/// error naming the field when it does not fit an INT32.
#[cold]
fn exact_body_size<'h>(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: impl Iterator<Item = (&'h str, Option<&'h [u8]>)> + Clone,
) -> Result<i32, RecordEncodeError> {
    // Sums saturate, and one check of the total covers every field (a
    // field longer than an INT32 makes the record longer too); which field
    // it was is worked out only then.
    let mut header_count = 0usize;
    let mut headers_size = 0usize;
    for (header_key, header_value) in headers.clone() {
        header_count += 1;
        headers_size = headers_size
            .saturating_add(field_size(Some(header_key.as_bytes())))
            .saturating_add(field_size(header_value));
    }
    let body_size = (1
        + zigzag_size(zigzag64(timestamp_delta))
        + zigzag_size(zigzag32(offset_delta))
        + zigzag_size((header_count as u64) << 1))
    .saturating_add(field_size(key))
    .saturating_add(field_size(value))
    .saturating_add(headers_size);
    i32::try_from(body_size).map_err(|_| too_long(key, value, headers, body_size))
}

/// Encoded size of nullable bytes with a varint length, saturating.
#[inline]
fn field_size(bytes: Option<&[u8]>) -> usize {
    match bytes {
        None => 1,
        Some(bytes) => zigzag_size((bytes.len() as u64) << 1).saturating_add(bytes.len()),
    }
}

/// Which part of a record too long to write is too long, checked in the
/// order the fields are sized: each header's key and value, the header
/// count, the key, the value, and else the record as a whole.
#[cold]
fn too_long<'h>(
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: impl Iterator<Item = (&'h str, Option<&'h [u8]>)>,
    body_size: usize,
) -> RecordEncodeError {
    let first_too_long = |fields: &[(&'static str, Option<usize>)]| {
        fields.iter().find_map(|&(field, length)| {
            length
                .filter(|length| i32::try_from(*length).is_err())
                .map(|length| RecordEncodeError::TooLong { field, length })
        })
    };
    let mut header_count = 0usize;
    for (header_key, header_value) in headers {
        header_count += 1;
        let header = [
            ("header key", Some(header_key.len())),
            ("header value", header_value.map(<[u8]>::len)),
        ];
        if let Some(error) = first_too_long(&header) {
            return error;
        }
    }
    first_too_long(&[
        ("header count", Some(header_count)),
        ("key", key.map(<[u8]>::len)),
        ("value", value.map(<[u8]>::len)),
    ])
    .unwrap_or(RecordEncodeError::TooLong {
        field: "record",
        length: body_size,
    })
}

/// Zig-zag encoding: small magnitudes of either sign become small numbers.
#[inline]
fn zigzag32(value: i32) -> u64 {
    u64::from(((value << 1) ^ (value >> 31)) as u32)
}

#[inline]
fn zigzag64(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// The size of an unsigned LEB128 varint: one byte per 7 significant bits.
#[inline]
fn zigzag_size(raw: u64) -> usize {
    let bits = 64 - (raw | 1).leading_zeros() as usize;
    (bits * 9 + 64) / 64
}

/// Writes a record into spare capacity reserved for it. Sizes were computed
/// by [`field_size`] and [`zigzag_size`] from the same values; every write
/// is still bounds-checked (a mistake would panic, never write elsewhere),
/// and `pos` counts exactly the bytes written from the start of `out`.
struct SliceWriter<'a> {
    out: &'a mut UninitSlice,
    pos: usize,
}

impl SliceWriter<'_> {
    #[inline(always)]
    fn put_u8(&mut self, byte: u8) {
        self.out.write_byte(self.pos, byte);
        self.pos += 1;
    }

    /// An unsigned LEB128 varint (of an already zig-zagged value). One and
    /// two bytes (lengths below 8 KiB, deltas within ±8191) are written
    /// without a loop.
    #[inline(always)]
    fn put_zigzag(&mut self, raw: u64) {
        if raw < 0x80 {
            self.put_u8(raw as u8);
        } else if raw < 0x4000 {
            self.put_u8((raw as u8) | 0x80);
            self.put_u8((raw >> 7) as u8);
        } else {
            // By value, so the writer can stay in registers on the fast path.
            self.pos = put_zigzag_long(self.out, self.pos, raw);
        }
    }

    /// Nullable bytes with a varint length.
    #[inline(always)]
    fn put_bytes(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            None => self.put_u8(1), // -1, zig-zagged
            Some(bytes) => {
                self.put_zigzag((bytes.len() as u64) << 1);
                let end = self.pos + bytes.len();
                let out = &mut self.out[self.pos..end];
                // Keys, header keys, ids and small values (8 to 128 bytes)
                // are copied as two overlapping fixed-size moves, which
                // compile to a few vector loads and stores, instead of a
                // call to memcpy; larger fields go to memcpy.
                match bytes.len() {
                    8..=16 => copy_overlapping::<8>(bytes, out),
                    17..=32 => copy_overlapping::<16>(bytes, out),
                    33..=64 => copy_overlapping::<32>(bytes, out),
                    65..=128 => copy_overlapping::<64>(bytes, out),
                    _ => out.copy_from_slice(bytes),
                }
                self.pos = end;
            }
        }
    }
}

/// Copies `from` (between `N` and `2 * N` bytes long) into `to` (as long)
/// as its first `N` bytes and its last `N` bytes, which overlap in the
/// middle: two fixed-size moves for any length in that range.
#[inline(always)]
fn copy_overlapping<const N: usize>(from: &[u8], to: &mut UninitSlice) {
    let len = from.len();
    debug_assert!((N..=2 * N).contains(&len) && to.len() == len);
    // Both ranges are N bytes long, which the compiler sees, so each copy
    // is a fixed-size move.
    to[..N].copy_from_slice(&from[..N]);
    to[len - N..].copy_from_slice(&from[len - N..]);
}

/// A varint of three bytes or more at `pos`; returns the position after it.
#[inline(never)]
fn put_zigzag_long(out: &mut UninitSlice, mut pos: usize, mut raw: u64) -> usize {
    while raw >= 0x80 {
        out.write_byte(pos, (raw as u8) | 0x80);
        pos += 1;
        raw >>= 7;
    }
    out.write_byte(pos, raw as u8);
    pos + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::wire::{put_varlong, varlong_size};

    #[test]
    fn every_short_length_round_trips() {
        // Covers the 8..=16-byte copy and the one-, two- and three-byte
        // varint paths of lengths and deltas.
        let data: Vec<u8> = (0..=255u8).cycle().take(20_000).collect();
        let lengths: Vec<usize> = (0..=40)
            .chain([63, 64, 127, 128, 8191, 8192, 20_000])
            .collect();
        let mut writer = RecordBatchWriter::new(0);
        for (i, &len) in lengths.iter().enumerate() {
            let field = &data[i..][..len.min(data.len() - i)];
            let timestamp = [0, -1, 63, 64, -8192, 8192, 1 << 40][i % 7];
            let header = String::from_utf8(vec![b'h'; len.min(20)]).unwrap();
            writer
                .append(
                    timestamp,
                    Some(field),
                    Some(&field[..field.len() / 2]),
                    [(header.as_str(), Some(field))],
                )
                .unwrap();
        }
        let batch = crate::records::RecordBatch::decode(writer.finish().unwrap().freeze()).unwrap();
        let records: Vec<_> = batch.records().unwrap().map(Result::unwrap).collect();
        assert_eq!(records.len(), lengths.len());
        for (i, (record, &len)) in records.iter().zip(&lengths).enumerate() {
            let field = &data[i..][..len.min(data.len() - i)];
            assert_eq!(record.key.as_deref(), Some(field), "record {i}");
            assert_eq!(record.value.as_deref(), Some(&field[..field.len() / 2]));
            let header = record.headers.iter().next().unwrap();
            assert_eq!(header.key.len(), len.min(20));
            assert_eq!(header.value, Some(field));
        }
    }

    #[test]
    fn records_are_packed_where_the_length_needs_fewer_bytes_than_its_bound() {
        // Bodies just under 64 bytes and 8 KiB have a bound (widest varints)
        // whose length varint is a byte longer: the body is moved back over
        // the spare byte, leaving no gap.
        use crate::protocol::wire::varint_size;
        let data = vec![7u8; 9000];
        let mut writer = RecordBatchWriter::new(0);
        let mut expected = 0;
        let mut sizes = Vec::new();
        for len in (40..70).chain(8150..8200) {
            let value = &data[..len];
            let before = writer.size_in_bytes();
            writer.append(5, None, Some(value), []).unwrap();
            // attributes, timestamp delta, offset delta, null key, value,
            // header count
            let body = 1
                + varlong_size(0) // every timestamp is 5
                + varint_size(sizes.len() as i32)
                + 1
                + varint_size(len as i32)
                + len
                + 1;
            let record = varint_size(body as i32) + body;
            assert_eq!(writer.size_in_bytes() - before, record, "value of {len}");
            expected += record;
            sizes.push(len);
        }
        let batch = writer.finish().unwrap();
        assert_eq!(
            batch.len(),
            crate::records::batch::RECORD_BATCH_OVERHEAD + expected
        );
        let batch = crate::records::RecordBatch::decode(batch.freeze()).unwrap();
        let lengths: Vec<usize> = batch
            .records()
            .unwrap()
            .map(|r| r.unwrap().value.unwrap().len())
            .collect();
        assert_eq!(lengths, sizes);
    }

    #[test]
    fn a_record_too_long_names_the_record_when_no_field_is() {
        // Fields over 2 GiB cannot be made in a test; the fallback can.
        let headers = [("h", Some(&b"v"[..]))];
        assert_eq!(
            too_long(Some(b"k"), None, headers.into_iter(), 1 << 31),
            RecordEncodeError::TooLong {
                field: "record",
                length: 1 << 31
            }
        );
        assert_eq!(field_size(None), 1);
        assert_eq!(field_size(Some(&[0; 64])), 66);
    }

    #[test]
    fn varint_sizes_and_bytes_match_the_wire_module() {
        let mut values = vec![0i64, 1, -1, i64::MAX, i64::MIN];
        for shift in 0..64 {
            let power = 1i64 << shift;
            values.extend([power, power.wrapping_sub(1), power.wrapping_neg()]);
        }
        for value in values {
            let mut expected = bytes::BytesMut::new();
            put_varlong(&mut expected, value);
            assert_eq!(zigzag_size(zigzag64(value)), varlong_size(value), "{value}");
            let mut out = [0u8; 10];
            let mut writer = SliceWriter {
                out: UninitSlice::new(&mut out),
                pos: 0,
            };
            writer.put_zigzag(zigzag64(value));
            let written = writer.pos;
            assert_eq!(&out[..written], &expected[..], "{value}");
            if let Ok(value) = i32::try_from(value) {
                assert_eq!(zigzag32(value), zigzag64(value.into()), "{value}");
            }
        }
    }
}
