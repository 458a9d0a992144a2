//! [`RecordChunk`]: one partition's fetched records, kept as compact
//! positions in the buffers they arrived in.
//!
//! A decoded [`Record`] is 128 bytes and holds three `Bytes` (key, value,
//! headers), each a reference count bump on the response buffer. The fetcher
//! runs in the event loop, and the records are usually read on another
//! thread: every record then crossed between cores twice over (two cache
//! lines of record, and the shared reference count bumped on one core and
//! dropped on the other). Here the fetcher checks every record as before
//! but keeps only where its fields are (64 bytes, one cache line, no
//! reference count), and the `Record` is made where it is read.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;

use crate::records::batch::RecordInPlace;
use crate::records::{Record, RecordHeaders, RecordHeadersIter, TimestampType};

/// The records of one partition from one fetch, in offset order. Iterating
/// makes each [`Record`] (its key, value and headers slices of the fetched
/// buffer, as always); the chunk itself holds each buffer once.
#[derive(Clone, Default)]
pub struct RecordChunk {
    /// The records sections (or single fields) that entries point into.
    buffers: Vec<Bytes>,
    entries: Vec<Entry>,
    /// The bytes the chunk holds: its buffers' lengths and its entries,
    /// what the fetcher counts against its budget.
    held: usize,
}

/// Where one record is: each field a span of one of the chunk's buffers
/// (all the same buffer for v2 records; legacy records keep each field as
/// a buffer of its own).
#[derive(Debug, Clone, Copy)]
struct Entry {
    offset: i64,
    timestamp: i64,
    key: Span,
    value: Span,
    headers: Span,
    header_count: u32,
    key_buffer: u32,
    value_buffer: u32,
    headers_buffer: u32,
    timestamp_type: TimestampType,
}

// One cache line per record, half a decoded `Record`: what the hand-over
// between threads saves. Checked when compiling.
const _: () = assert!(std::mem::size_of::<Entry>() <= 64);

const ENTRY_SIZE: usize = std::mem::size_of::<Entry>();

/// A range of a buffer in 32 bits, or null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// `len` of a null field: no field that fits a span is that long.
    const NULL_LEN: u32 = u32::MAX;
    const NULL: Span = Span {
        start: 0,
        len: Span::NULL_LEN,
    };
    const EMPTY: Span = Span { start: 0, len: 0 };

    fn of(range: Range<usize>) -> Span {
        // Callers check the buffer is shorter than `NULL_LEN`, so both fit.
        Span {
            start: range.start as u32,
            len: (range.end - range.start) as u32,
        }
    }

    fn of_nullable(range: Option<Range<usize>>) -> Span {
        range.map_or(Span::NULL, Span::of)
    }

    /// Where the field is in its buffer; none for null (whose buffer index
    /// means nothing).
    fn range(self) -> Option<Range<usize>> {
        if self.len == Span::NULL_LEN {
            return None;
        }
        let start = self.start as usize;
        Some(start..start + self.len as usize)
    }

    // Spans are made from ranges of the buffer they index (checked by the
    // decoder), so both the index and the range are in bounds.

    /// The field's bytes in `buffers[buffer]`; none for null.
    fn bytes(self, buffers: &[Bytes], buffer: u32) -> Option<&[u8]> {
        Some(&buffers[buffer as usize][self.range()?])
    }

    /// The field in `buffers[buffer]`; none for null.
    fn slice(self, buffers: &[Bytes], buffer: u32) -> Option<Bytes> {
        Some(buffers[buffer as usize].slice(self.range()?))
    }
}

impl RecordChunk {
    /// An empty chunk.
    pub fn new() -> RecordChunk {
        RecordChunk::default()
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no records.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first record's offset.
    pub fn first_offset(&self) -> Option<i64> {
        self.entries.first().map(|entry| entry.offset)
    }

    /// The last record's offset.
    pub fn last_offset(&self) -> Option<i64> {
        self.entries.last().map(|entry| entry.offset)
    }

    /// The record at `index` (0 is the first).
    pub fn get(&self, index: usize) -> Option<Record> {
        self.entries
            .get(index)
            .map(|entry| record_of(&self.buffers, entry))
    }

    /// The records, made one by one.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Record> + '_ {
        self.entries
            .iter()
            .map(|entry| record_of(&self.buffers, entry))
    }

    /// The records, borrowed: nothing made, no reference count touched.
    pub fn views(&self) -> impl ExactSizeIterator<Item = RecordView<'_>> + '_ {
        self.views_from(0)
    }

    /// The records from `index` on, borrowed.
    fn views_from(&self, index: usize) -> impl ExactSizeIterator<Item = RecordView<'_>> + '_ {
        let buffers = &self.buffers[..];
        self.entries
            .get(index..)
            .unwrap_or_default()
            .iter()
            .map(move |entry| RecordView { buffers, entry })
    }

    /// The records as decoded [`Record`]s, all made at once.
    pub fn into_records(self) -> Vec<Record> {
        self.iter().collect()
    }

    /// Forgets the records and their buffers, keeping the allocations.
    pub fn clear(&mut self) {
        self.buffers.clear();
        self.entries.clear();
        self.held = 0;
    }

    /// The bytes of records the chunk holds: the (decompressed) sections
    /// and fields it keeps alive, and 64 bytes per record for where each
    /// one is. What [`crate::consumer::FetchConfig::max_buffered_bytes`]
    /// counts.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// What holding `bytes` of section with `records` records in it will
    /// add to [`held_bytes`](Self::held_bytes).
    pub(crate) fn cost_of(bytes: usize, records: usize) -> usize {
        bytes.saturating_add(records.saturating_mul(ENTRY_SIZE))
    }

    /// How many records the chunk has room for without growing.
    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Where the entries are, to tell a reused allocation from a new one.
    #[cfg(test)]
    pub(crate) fn entries_ptr(&self) -> *const u8 {
        self.entries.as_ptr().cast()
    }

    /// The bytes one record takes in a chunk.
    #[cfg(test)]
    pub(crate) const ENTRY_SIZE: usize = ENTRY_SIZE;

    /// Room for `additional` more records.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    /// Adds a records section for [`push_in_place`](Self::push_in_place);
    /// `None` when it is too long for 32-bit spans (then its records go
    /// through [`push`](Self::push)).
    pub(crate) fn add_section(&mut self, section: &Bytes) -> Option<SectionId> {
        let fits = section.len() < Span::NULL_LEN as usize;
        let id = u32::try_from(self.buffers.len()).ok().filter(|_| fits)?;
        self.held += section.len();
        self.buffers.push(section.clone());
        Some(SectionId(id))
    }

    /// Adds a record found at `record` in the section `section`.
    #[inline]
    pub(crate) fn push_in_place(&mut self, section: SectionId, record: RecordInPlace) {
        self.held += ENTRY_SIZE;
        self.entries.push(Entry {
            offset: record.offset,
            timestamp: record.timestamp,
            key: Span::of_nullable(record.key),
            value: Span::of_nullable(record.value),
            headers: Span::of(record.headers),
            // A section's record has fewer headers than it has bytes.
            header_count: record.header_count as u32,
            key_buffer: section.0,
            value_buffer: section.0,
            headers_buffer: section.0,
            timestamp_type: record.timestamp_type,
        });
    }

    /// Adds a decoded record, keeping each of its fields as a buffer of its
    /// own: for legacy message sets, whose records come decoded, and for
    /// sections too long for 32-bit spans.
    pub fn push(&mut self, record: Record) {
        let (key_buffer, key) = self.add_field(record.key);
        let (value_buffer, value) = self.add_field(record.value);
        let header_count = record.headers.len() as u32;
        let (headers_buffer, headers) = if header_count == 0 {
            (0, Span::EMPTY)
        } else {
            self.add_field(Some(record.headers.raw().clone()))
        };
        self.held += ENTRY_SIZE;
        self.entries.push(Entry {
            offset: record.offset,
            timestamp: record.timestamp,
            key,
            value,
            headers,
            header_count,
            key_buffer,
            value_buffer,
            headers_buffer,
            timestamp_type: record.timestamp_type,
        });
    }

    /// `field` as a buffer of its own (none for null), and its span.
    fn add_field(&mut self, field: Option<Bytes>) -> (u32, Span) {
        match field {
            None => (0, Span::NULL),
            Some(bytes) => {
                // Record fields have INT32 lengths.
                let span = Span {
                    start: 0,
                    len: bytes.len() as u32,
                };
                let id = self.buffers.len() as u32;
                self.held += bytes.len();
                self.buffers.push(bytes);
                (id, span)
            }
        }
    }
}

/// One record of a [`RecordChunk`], borrowed from it: key, value and
/// headers are slices of the fetched buffer. Reading a record this way
/// makes nothing and bumps no reference count, which is most of what a
/// [`Record`] costs when records are small; [`to_record`](Self::to_record)
/// makes the owned one when it must outlive the chunk.
#[derive(Clone, Copy)]
pub struct RecordView<'a> {
    buffers: &'a [Bytes],
    entry: &'a Entry,
}

impl<'a> RecordView<'a> {
    /// The record's offset in its partition.
    pub fn offset(&self) -> i64 {
        self.entry.offset
    }

    /// Milliseconds since the Unix epoch; -1 when the format has none
    /// (magic 0).
    pub fn timestamp(&self) -> i64 {
        self.entry.timestamp
    }

    /// Who set the timestamp (producer or broker), or that there is none.
    pub fn timestamp_type(&self) -> TimestampType {
        self.entry.timestamp_type
    }

    /// `None` is a null key, distinct from an empty one.
    pub fn key(&self) -> Option<&'a [u8]> {
        self.entry.key.bytes(self.buffers, self.entry.key_buffer)
    }

    /// `None` is a null value (a tombstone), distinct from an empty one.
    pub fn value(&self) -> Option<&'a [u8]> {
        self.entry
            .value
            .bytes(self.buffers, self.entry.value_buffer)
    }

    /// The headers in wire order, borrowed.
    pub fn headers(&self) -> RecordHeadersIter<'a> {
        let entry = self.entry;
        let count = entry.header_count as usize;
        match self.buffers.get(entry.headers_buffer as usize) {
            Some(buffer) if count > 0 => {
                RecordHeadersIter::at(buffer, entry.headers.start as usize, count)
            }
            _ => RecordHeadersIter::default(),
        }
    }

    /// The record as an owned [`Record`] (its fields slices of the same
    /// buffer, as the chunk's iterators make them).
    pub fn to_record(&self) -> Record {
        record_of(self.buffers, self.entry)
    }
}

impl fmt::Debug for RecordView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_record(), f)
    }
}

/// The owned record `entry` says is in `buffers`.
fn record_of(buffers: &[Bytes], entry: &Entry) -> Record {
    Record {
        offset: entry.offset,
        timestamp: entry.timestamp,
        timestamp_type: entry.timestamp_type,
        key: entry.key.slice(buffers, entry.key_buffer),
        value: entry.value.slice(buffers, entry.value_buffer),
        headers: if entry.header_count == 0 {
            RecordHeaders::default()
        } else {
            RecordHeaders::from_checked(
                entry
                    .headers
                    .slice(buffers, entry.headers_buffer)
                    .unwrap_or_default(),
                entry.header_count as usize,
            )
        },
    }
}

impl FromIterator<Record> for RecordChunk {
    fn from_iter<I: IntoIterator<Item = Record>>(records: I) -> RecordChunk {
        let mut chunk = RecordChunk::new();
        for record in records {
            chunk.push(record);
        }
        chunk
    }
}

/// Equal when they hold the same records, wherever their bytes are.
impl PartialEq for RecordChunk {
    fn eq(&self, other: &RecordChunk) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for RecordChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordChunk")
            .field("len", &self.len())
            .field("first_offset", &self.first_offset())
            .field("last_offset", &self.last_offset())
            .finish()
    }
}

/// The records of a chunk, in order, made as they are taken; gives the
/// emptied chunk back for reuse ([`into_chunk`](Self::into_chunk)).
#[derive(Debug, Default)]
pub struct RecordChunkIntoIter {
    chunk: RecordChunk,
    next: usize,
}

impl RecordChunkIntoIter {
    /// Records not taken yet.
    pub fn remaining(&self) -> usize {
        self.chunk.len() - self.next
    }

    /// The records not taken yet, borrowed.
    pub fn views(&self) -> impl ExactSizeIterator<Item = RecordView<'_>> + '_ {
        self.chunk.views_from(self.next)
    }

    /// The chunk, cleared (its allocations kept), whatever was taken.
    pub fn into_chunk(mut self) -> RecordChunk {
        self.chunk.clear();
        self.chunk
    }
}

impl Iterator for RecordChunkIntoIter {
    type Item = Record;

    #[inline]
    fn next(&mut self) -> Option<Record> {
        let record = self.chunk.get(self.next)?;
        self.next += 1;
        Some(record)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining(), Some(self.remaining()))
    }
}

impl ExactSizeIterator for RecordChunkIntoIter {}

impl IntoIterator for RecordChunk {
    type Item = Record;
    type IntoIter = RecordChunkIntoIter;

    fn into_iter(self) -> RecordChunkIntoIter {
        RecordChunkIntoIter {
            chunk: self,
            next: 0,
        }
    }
}

/// A records section added to a [`RecordChunk`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct SectionId(u32);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{RecordBatch, RecordBatchWriter};

    /// Records with every kind of field: null and empty keys and values,
    /// headers with null and empty values, none.
    fn batch() -> Bytes {
        let mut writer = RecordBatchWriter::new(40);
        writer.append(1_000, Some(b"k1"), Some(b"v1"), []).unwrap();
        writer
            .append(990, None, Some(b""), [("h", Some(&b"x"[..])), ("n", None)])
            .unwrap();
        writer.append(1_005, Some(b""), None, []).unwrap();
        writer
            .append(1_006, Some(b"k4"), Some(b"v4"), [("e", Some(&b""[..]))])
            .unwrap();
        writer.finish().unwrap().freeze()
    }

    fn in_place(bytes: Bytes, from_offset: i64) -> RecordChunk {
        let batch = RecordBatch::decode(bytes).unwrap();
        let mut iter = batch.records().unwrap();
        let mut chunk = RecordChunk::new();
        let section = chunk.add_section(iter.section()).unwrap();
        while let Some(record) = iter.next_in_place() {
            let record = record.unwrap();
            if record.offset >= from_offset {
                chunk.push_in_place(section, record);
            }
        }
        chunk
    }

    /// The batch's records, decoded as a `Record` each.
    fn decoded(bytes: &Bytes) -> Vec<Record> {
        RecordBatch::decode(bytes.clone())
            .unwrap()
            .records()
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn records_in_place_are_the_records_the_batch_decodes_to() {
        let bytes = batch();
        let decoded = decoded(&bytes);
        let chunk = in_place(bytes, 0);
        assert_eq!(chunk.len(), 4);
        assert_eq!(
            (chunk.first_offset(), chunk.last_offset()),
            (Some(40), Some(43))
        );
        assert_eq!(chunk.iter().collect::<Vec<_>>(), decoded);
        assert_eq!(chunk.clone().into_records(), decoded);
        assert_eq!(chunk.into_iter().collect::<Vec<_>>(), decoded);
        // The same records pushed decoded (each field a buffer of its own)
        // come back the same too.
        let pushed: RecordChunk = decoded.iter().cloned().collect();
        assert_eq!(pushed.into_records(), decoded);
    }

    /// A view's fields, compared field by field with the decoded record.
    fn assert_view_is(view: RecordView<'_>, record: &Record) {
        assert_eq!(view.offset(), record.offset);
        assert_eq!(view.timestamp(), record.timestamp);
        assert_eq!(view.timestamp_type(), record.timestamp_type);
        assert_eq!(view.key(), record.key.as_deref());
        assert_eq!(view.value(), record.value.as_deref());
        assert!(view.headers().eq(record.headers.iter()), "{view:?}");
        assert_eq!(view.headers().len(), record.headers.len());
        assert_eq!(&view.to_record(), record);
    }

    #[test]
    fn views_borrow_the_same_records_in_place_and_pushed() {
        let bytes = batch();
        let decoded = decoded(&bytes);
        let pushed: RecordChunk = decoded.iter().cloned().collect();
        for chunk in [in_place(bytes.clone(), 0), pushed] {
            assert_eq!(chunk.views().len(), decoded.len());
            for (view, record) in chunk.views().zip(&decoded) {
                assert_view_is(view, record);
            }
            // Views of what an iterator has not taken yet.
            let mut iter = chunk.into_iter();
            iter.next();
            iter.next();
            assert_eq!(iter.views().len(), 2);
            for (view, record) in iter.views().zip(&decoded[2..]) {
                assert_view_is(view, record);
            }
        }
        // Fields in place are the fetched bytes themselves.
        let chunk = in_place(bytes.clone(), 0);
        let value = chunk.views().next().unwrap().value().unwrap();
        assert!(bytes.as_ptr_range().contains(&value.as_ptr()));
    }

    #[test]
    fn records_before_the_fetch_position_are_left_out() {
        let chunk = in_place(batch(), 42);
        let offsets: Vec<i64> = chunk.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [42, 43]);
        assert_eq!(chunk.get(0).unwrap().value, None);
        assert_eq!(chunk.get(2), None);
    }

    #[test]
    fn fields_are_slices_of_the_fetched_buffer() {
        let bytes = batch();
        let range = bytes.as_ptr_range();
        for record in in_place(bytes, 0).iter() {
            for field in [&record.key, &record.value].into_iter().flatten() {
                assert!(range.contains(&field.as_ptr()) || field.is_empty());
            }
        }
    }

    #[test]
    fn an_emptied_chunk_keeps_its_allocation_and_lets_go_of_the_buffers() {
        let bytes = batch();
        let chunk = in_place(bytes.clone(), 0);
        let entries = chunk.entries_ptr();
        let mut iter = chunk.into_iter();
        assert_eq!(iter.remaining(), 4);
        iter.next();
        assert_eq!(iter.remaining(), 3);
        let chunk = iter.into_chunk();
        assert!(chunk.is_empty());
        assert_eq!(chunk.entries_ptr(), entries);
        assert!(chunk.capacity() >= 4);
        // Only `bytes` holds the buffer now (a `Bytes` is unique only when
        // no other handle to its buffer is left).
        assert!(
            bytes.try_into_mut().is_ok(),
            "the chunk still holds the buffer"
        );
    }
}
