//! [`PackedRecords`]: many records for one topic, their bytes copied into
//! one buffer as they are added.
//!
//! A [`ProducerRecord`] owns its key and value as `Bytes`, and its topic as
//! a shared name: sending a million of them from one thread to the event
//! loop on another updates reference counts that both threads write, and
//! moves (and drops) a 128-byte struct per record. Packing copies each
//! record's bytes once, on the sender's thread, into a buffer that crosses
//! to the event loop as a whole, where they are copied into their batch.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use super::record::{ProducerRecord, HEADER_OVERHEAD, RECORD_OVERHEAD};

/// Records for one topic, packed into one buffer, for
/// `Producer::send_packed` in the async drivers (or
/// [`ProducerMachine::send_packed`](super::ProducerMachine::send_packed) in the core).
///
/// ```
/// # use kafkite::producer::PackedRecords;
/// let mut records = PackedRecords::new("events");
/// records.push(Some(b"user-1"), Some(b"signed in"));
/// records
///     .push(None, Some(b"tick"))
///     .partition(2)
///     .timestamp(1_700_000_000_000)
///     .header("source", Some(b"clock"));
/// assert_eq!(records.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedRecords {
    topic: Arc<str>,
    /// Every record's key, value and headers' keys and values, in order.
    bytes: Vec<u8>,
    records: Vec<Packed>,
    /// Every record's headers, in order: each its key's length and its
    /// value's (`None`: a null value).
    headers: Vec<(usize, Option<usize>)>,
    /// The sum of the records' `estimated_size`s.
    estimated_size: usize,
    /// The largest record's `estimated_size`.
    largest: usize,
}

/// Where one record's parts are: 48 bytes, written once per record on the
/// sender's thread (with `Option`s for the lengths, partition and
/// timestamp, and its first header kept too, it was 80, as much memory as
/// a 100-byte value's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Packed {
    /// Its bytes in `PackedRecords::bytes`: key, value, then headers.
    start: usize,
    /// The key's and the value's lengths, or [`NULL`].
    key: usize,
    value: usize,
    /// One past its last header in `PackedRecords::headers`; its first is
    /// where the record before it ends (see [`PackedRecords::headers_from`]).
    headers_to: usize,
    /// Valid when `flags` has [`HAS_TIMESTAMP`].
    timestamp: i64,
    /// Valid when `flags` has [`HAS_PARTITION`].
    partition: i32,
    flags: u8,
}

/// The length of a null key or value (no slice is this long).
const NULL: usize = usize::MAX;
const HAS_PARTITION: u8 = 1;
const HAS_TIMESTAMP: u8 = 2;

impl Packed {
    /// The bytes its key and value take in `PackedRecords::bytes` (none
    /// for a null one).
    fn key_len(&self) -> usize {
        stored_len(self.key)
    }

    fn value_len(&self) -> usize {
        stored_len(self.value)
    }
}

fn stored_len(len: usize) -> usize {
    if len == NULL {
        0
    } else {
        len
    }
}

impl PackedRecords {
    /// No records yet, for `topic`.
    pub fn new(topic: impl Into<Arc<str>>) -> Self {
        Self::with_capacity(topic, 0, 0)
    }

    /// Room for `records` records of `bytes` bytes of keys and values in
    /// all, made once.
    pub fn with_capacity(topic: impl Into<Arc<str>>, records: usize, bytes: usize) -> Self {
        PackedRecords {
            topic: topic.into(),
            bytes: Vec::with_capacity(bytes),
            records: Vec::with_capacity(records),
            headers: Vec::new(),
            estimated_size: 0,
            largest: 0,
        }
    }

    /// Adds a record (its bytes copied); the returned handle sets its
    /// partition, timestamp and headers. Without a partition, the key's
    /// murmur2 hash picks one, or the sticky partitioner for no key.
    pub fn push(&mut self, key: Option<&[u8]>, value: Option<&[u8]>) -> PackedRecordMut<'_> {
        let start = self.bytes.len();
        let size = key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len);
        self.bytes.reserve(size);
        if let Some(key) = key {
            self.bytes.extend_from_slice(key);
        }
        if let Some(value) = value {
            self.bytes.extend_from_slice(value);
        }
        self.records.push(Packed {
            start,
            key: key.map_or(NULL, <[u8]>::len),
            value: value.map_or(NULL, <[u8]>::len),
            headers_to: self.headers.len(),
            timestamp: 0,
            partition: 0,
            flags: 0,
        });
        self.estimated_size += size + RECORD_OVERHEAD;
        self.largest = self.largest.max(size + RECORD_OVERHEAD);
        PackedRecordMut {
            records: self,
            size: size + RECORD_OVERHEAD,
        }
    }

    /// The topic every record goes to.
    pub fn topic(&self) -> &Arc<str> {
        &self.topic
    }

    /// Removes every record, keeping the topic and the room made so far:
    /// packing the next batch into it allocates nothing.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.records.clear();
        self.headers.clear();
        self.estimated_size = 0;
        self.largest = 0;
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it holds no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The sum of the records' [`ProducerRecord::estimated_size`]s: what
    /// they count against the producer's buffer.
    pub fn estimated_size(&self) -> usize {
        self.estimated_size
    }

    /// The largest record's [`ProducerRecord::estimated_size`].
    pub fn largest_record_size(&self) -> usize {
        self.largest
    }

    /// The record at `index`, borrowed.
    pub fn get(&self, index: usize) -> Option<PackedRecord<'_>> {
        let packed = *self.records.get(index)?;
        Some(PackedRecord {
            records: self,
            packed,
            headers_from: self.headers_from(index),
        })
    }

    /// Each record, borrowed, in the order they were pushed.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = PackedRecord<'_>> + '_ {
        let mut headers_from = 0;
        self.records.iter().map(move |&packed| {
            let record = PackedRecord {
                records: self,
                packed,
                headers_from,
            };
            headers_from = packed.headers_to;
            record
        })
    }

    /// Where the headers of the record at `index` start: where the record
    /// before it ends.
    fn headers_from(&self, index: usize) -> usize {
        match index.checked_sub(1) {
            Some(before) => self.records.get(before).map_or(0, |p| p.headers_to),
            None => 0,
        }
    }
}

/// The record just pushed, to set more of it.
#[derive(Debug)]
pub struct PackedRecordMut<'a> {
    records: &'a mut PackedRecords,
    /// Its `estimated_size` so far.
    size: usize,
}

impl PackedRecordMut<'_> {
    fn last(&mut self) -> Option<&mut Packed> {
        self.records.records.last_mut()
    }

    /// Sends the record to this partition instead of the partitioner's choice.
    pub fn partition(mut self, partition: i32) -> Self {
        if let Some(last) = self.last() {
            last.partition = partition;
            last.flags |= HAS_PARTITION;
        }
        self
    }

    /// Milliseconds since the Unix epoch; unset, the send time.
    pub fn timestamp(mut self, ms: i64) -> Self {
        if let Some(last) = self.last() {
            last.timestamp = ms;
            last.flags |= HAS_TIMESTAMP;
        }
        self
    }

    /// Adds a header, its key and value copied (`None`: a null value).
    pub fn header(mut self, key: &str, value: Option<&[u8]>) -> Self {
        let records = &mut *self.records;
        records.bytes.extend_from_slice(key.as_bytes());
        if let Some(value) = value {
            records.bytes.extend_from_slice(value);
        }
        records.headers.push((key.len(), value.map(<[u8]>::len)));
        let size = key.len() + value.map_or(0, <[u8]>::len) + HEADER_OVERHEAD;
        records.estimated_size += size;
        self.size += size;
        records.largest = records.largest.max(self.size);
        let end = records.headers.len();
        if let Some(last) = records.records.last_mut() {
            last.headers_to = end;
        }
        self
    }
}

/// One record of a [`PackedRecords`], borrowed.
#[derive(Debug, Clone, Copy)]
pub struct PackedRecord<'a> {
    records: &'a PackedRecords,
    packed: Packed,
    /// Its first header in `PackedRecords::headers`.
    headers_from: usize,
}

impl<'a> PackedRecord<'a> {
    fn slice(&self, range: Range<usize>) -> &'a [u8] {
        // Ranges come from what `push` and `header` wrote.
        self.records.bytes.get(range).unwrap_or_default()
    }

    /// The topic it goes to.
    pub fn topic(&self) -> &'a Arc<str> {
        &self.records.topic
    }

    /// Its partition; `None` leaves the choice to the partitioner.
    pub fn partition(&self) -> Option<i32> {
        (self.packed.flags & HAS_PARTITION != 0).then_some(self.packed.partition)
    }

    /// Its timestamp in milliseconds since the Unix epoch; `None` takes the
    /// send time.
    pub fn timestamp(&self) -> Option<i64> {
        (self.packed.flags & HAS_TIMESTAMP != 0).then_some(self.packed.timestamp)
    }

    /// Its key; `None` is a null key.
    pub fn key(&self) -> Option<&'a [u8]> {
        let start = self.packed.start;
        let len = self.packed.key;
        (len != NULL).then(|| self.slice(start..start + len))
    }

    /// Its value; `None` is a null value (a tombstone).
    pub fn value(&self) -> Option<&'a [u8]> {
        let start = self.packed.start + self.packed.key_len();
        let len = self.packed.value;
        (len != NULL).then(|| self.slice(start..start + len))
    }

    /// Its headers' keys and values, in order.
    pub fn headers(&self) -> PackedHeaders<'a> {
        let from = self.headers_from;
        let to = self.packed.headers_to.max(from);
        PackedHeaders {
            bytes: &self.records.bytes,
            headers: self.records.headers.get(from..to).unwrap_or_default(),
            at: self.packed.start + self.packed.key_len() + self.packed.value_len(),
        }
    }

    /// As [`ProducerRecord::estimated_size`] counts it.
    pub fn estimated_size(&self) -> usize {
        let headers: usize = self
            .headers()
            .map(|(k, v)| k.len() + v.map_or(0, <[u8]>::len) + HEADER_OVERHEAD)
            .sum();
        self.packed.key_len() + self.packed.value_len() + headers + RECORD_OVERHEAD
    }

    /// An owned copy.
    pub fn to_record(&self) -> ProducerRecord {
        ProducerRecord {
            topic: Arc::clone(self.topic()),
            partition: self.partition(),
            key: self.key().map(Bytes::copy_from_slice),
            value: self.value().map(Bytes::copy_from_slice),
            headers: self
                .headers()
                .map(|(k, v)| {
                    let key = String::from(k);
                    (key, v.map(Bytes::copy_from_slice))
                })
                .collect(),
            timestamp: self.timestamp(),
        }
    }
}

/// The headers of a [`PackedRecord`]: each its key and value.
#[derive(Debug, Clone)]
pub struct PackedHeaders<'a> {
    bytes: &'a [u8],
    headers: &'a [(usize, Option<usize>)],
    /// Where the next header's key starts in `bytes`.
    at: usize,
}

impl<'a> Iterator for PackedHeaders<'a> {
    type Item = (&'a str, Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let (&(key_len, value_len), rest) = self.headers.split_first()?;
        self.headers = rest;
        let key_end = self.at + key_len;
        // Written from a `&str` by `header`, so always UTF-8.
        let key = self
            .bytes
            .get(self.at..key_end)
            .and_then(|k| std::str::from_utf8(k).ok())
            .unwrap_or_default();
        self.at = key_end;
        let value = value_len.map(|len| {
            let value = self.bytes.get(self.at..self.at + len).unwrap_or_default();
            self.at += len;
            value
        });
        Some((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_pushed() {
        let mut packed = PackedRecords::new("t");
        packed.push(Some(b"k1"), Some(b"value one"));
        packed
            .push(None, Some(b"v2"))
            .partition(3)
            .timestamp(77)
            .header("h1", Some(b"x"))
            .header("h2", None);
        packed.push(Some(b""), None).header("only", Some(b""));
        packed.push(None, None);
        let owned: Vec<ProducerRecord> = packed.iter().map(|r| r.to_record()).collect();
        let expected = vec![
            ProducerRecord::new("t")
                .key(&b"k1"[..])
                .value(&b"value one"[..]),
            ProducerRecord::new("t")
                .value(&b"v2"[..])
                .partition(3)
                .timestamp(77)
                .header("h1", Some(Bytes::from_static(b"x")))
                .header("h2", None),
            ProducerRecord::new("t")
                .key(&b""[..])
                .header("only", Some(Bytes::new())),
            ProducerRecord::new("t"),
        ];
        assert_eq!(owned, expected);
        assert_eq!(packed.len(), 4);
        let sizes: usize = expected.iter().map(ProducerRecord::estimated_size).sum();
        assert_eq!(packed.estimated_size(), sizes);
        for (record, expected) in packed.iter().zip(&expected) {
            assert_eq!(record.estimated_size(), expected.estimated_size());
        }
        let largest = expected.iter().map(ProducerRecord::estimated_size).max();
        assert_eq!(Some(packed.largest_record_size()), largest);
        assert!(packed.get(4).is_none());
        // Each record by index reads as it does in order (its headers start
        // where the record before it ends).
        for (i, expected) in expected.iter().enumerate() {
            assert_eq!(
                packed.get(i).map(|r| r.to_record()).as_ref(),
                Some(expected)
            );
        }
        assert!(std::mem::size_of::<Packed>() <= 48);
        packed.clear();
        assert!(packed.is_empty() && packed.iter().next().is_none());
        assert_eq!(
            (packed.estimated_size(), packed.largest_record_size()),
            (0, 0)
        );
        packed.push(None, Some(b"again")).header("h", None);
        let again = ProducerRecord::new("t")
            .value(&b"again"[..])
            .header("h", None);
        assert_eq!(packed.get(0).map(|r| r.to_record()), Some(again));
    }
}
