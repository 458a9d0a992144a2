//! One record as a consumer sees it, whichever format it came in.
//!
//! Keys, values and headers are `Bytes` slices of the buffer the record was
//! decoded from (the fetch response, or the one decompressed buffer of its
//! batch): decoding a record copies no data and allocates nothing.

use std::fmt;

use std::ops::Range;

use bytes::Bytes;

use super::cursor::{invalid_length, Cursor};
use crate::protocol::DecodeError;

/// What a record's timestamp means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// Magic 0 messages carry no timestamp; the record's is -1.
    NoTimestamp,
    /// Set by the producer.
    CreateTime,
    /// Set by the broker when it appended the batch
    /// (`message.timestamp.type=LogAppendTime`).
    LogAppendTime,
}

impl TimestampType {
    /// Attribute bit 3 of batches and v1 messages.
    pub(crate) const ATTRIBUTE_BIT: i16 = 0x08;

    pub(crate) fn from_attributes(attributes: i16) -> TimestampType {
        if attributes & Self::ATTRIBUTE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    pub(crate) fn attribute_bits(self) -> i16 {
        match self {
            TimestampType::LogAppendTime => Self::ATTRIBUTE_BIT,
            TimestampType::NoTimestamp | TimestampType::CreateTime => 0,
        }
    }
}

/// A decoded record with its absolute offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's offset in its partition.
    pub offset: i64,
    /// Milliseconds since the epoch; -1 when the format has none (magic 0).
    pub timestamp: i64,
    /// Whether `timestamp` was set by the producer or the broker.
    pub timestamp_type: TimestampType,
    /// `None` is a null key, distinct from an empty one.
    pub key: Option<Bytes>,
    /// `None` is a null value (a tombstone in a compacted topic).
    pub value: Option<Bytes>,
    /// Record headers (KIP-82); always empty for magic 0 and 1.
    pub headers: RecordHeaders,
}

impl Record {
    /// The offset after this record's, which a consumer commits once it is
    /// done with it: `None` at `i64::MAX`, an offset no log holds because
    /// its next offset would not fit (the fetcher refuses such records).
    pub fn next_offset(&self) -> Option<i64> {
        self.offset.checked_add(1)
    }
}

/// The headers of one record, kept as the raw bytes they were received in
/// and decoded as they are iterated. The structure was checked when the
/// record was decoded, so iterating cannot fail.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RecordHeaders {
    /// The encoded headers, after the count.
    raw: Bytes,
    count: usize,
}

/// One record header, borrowed from its record's [`RecordHeaders`].
///
/// Kafka header keys are strings; Java decodes invalid UTF-8 with
/// replacement characters rather than failing, so the key is kept as bytes
/// and [`RecordHeader::key_str`] says whether it is UTF-8. Iterating headers
/// copies nothing and touches no reference count; [`key_bytes`] and
/// [`value_bytes`] give owned `Bytes` (slices of the same buffer) when a
/// header must outlive its record.
///
/// [`key_bytes`]: RecordHeader::key_bytes
/// [`value_bytes`]: RecordHeader::value_bytes
#[derive(Clone, Copy)]
pub struct RecordHeader<'a> {
    /// The header key's bytes (normally UTF-8).
    pub key: &'a [u8],
    /// `None` is a null value, distinct from an empty one.
    pub value: Option<&'a [u8]>,
    /// The buffer `key` and `value` point into.
    raw: &'a Bytes,
}

impl<'a> RecordHeader<'a> {
    /// The key as a string, if it is valid UTF-8.
    pub fn key_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.key).ok()
    }

    /// The key as `Bytes` sharing the received buffer.
    pub fn key_bytes(&self) -> Bytes {
        slice_of(self.raw, self.key)
    }

    /// The value as `Bytes` sharing the received buffer; `None` if null.
    pub fn value_bytes(&self) -> Option<Bytes> {
        self.value.map(|value| slice_of(self.raw, value))
    }
}

/// `part` as a slice of `raw` when it lies inside it (always, unless the
/// caller replaced a header's public field), else a copy: never a panic.
fn slice_of(raw: &Bytes, part: &[u8]) -> Bytes {
    let offset = (part.as_ptr() as usize).wrapping_sub(raw.as_ptr() as usize);
    match offset.checked_add(part.len()) {
        Some(end) if offset <= raw.len() && end <= raw.len() => raw.slice(offset..end),
        _ => Bytes::copy_from_slice(part),
    }
}

impl PartialEq for RecordHeader<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.value == other.value
    }
}

impl Eq for RecordHeader<'_> {}

impl fmt::Debug for RecordHeader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Escaped<'a>(&'a [u8]);
        impl fmt::Debug for Escaped<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "b\"{}\"", self.0.escape_ascii())
            }
        }
        f.debug_struct("RecordHeader")
            .field("key", &Escaped(self.key))
            .field("value", &self.value.map(Escaped))
            .finish()
    }
}

impl RecordHeaders {
    /// Checks the structure of the headers at `cursor` (a count, then that
    /// many key and value fields) without allocating, and returns the count
    /// and where the headers after the count are in the cursor's buffer.
    #[inline]
    pub(crate) fn check(cursor: &mut Cursor) -> Result<(usize, Range<usize>), DecodeError> {
        let count = cursor.read_varint()?;
        let count = usize::try_from(count).map_err(|_| invalid_length(count.into()))?;
        // Each header takes at least two bytes (two lengths).
        cursor.check_length(count as u64)?;
        let start = cursor.position();
        for _ in 0..count {
            check_header(cursor)?;
        }
        Ok((count, start..cursor.position()))
    }

    /// Headers whose structure [`check`](Self::check) accepted.
    #[inline]
    pub(crate) fn from_checked(raw: Bytes, count: usize) -> RecordHeaders {
        RecordHeaders { raw, count }
    }

    /// The encoded headers, after their count.
    pub(crate) fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// How many headers the record has.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the record has no headers.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The headers in wire order.
    pub fn iter(&self) -> RecordHeadersIter<'_> {
        RecordHeadersIter {
            raw: &self.raw,
            pos: 0,
            remaining: self.count,
        }
    }

    /// The value of the last header with this key, as Java's
    /// `Headers.lastHeader` gives it; `Some(None)` for a null value.
    pub fn last(&self, key: &str) -> Option<Option<&[u8]>> {
        self.iter()
            .filter(|header| header.key == key.as_bytes())
            .last()
            .map(|header| header.value)
    }
}

impl fmt::Debug for RecordHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a RecordHeaders {
    type Item = RecordHeader<'a>;
    type IntoIter = RecordHeadersIter<'a>;

    fn into_iter(self) -> RecordHeadersIter<'a> {
        self.iter()
    }
}

/// Iterates a record's headers, borrowing them: no copy, no reference
/// counting.
#[derive(Debug, Clone)]
pub struct RecordHeadersIter<'a> {
    raw: &'a Bytes,
    pos: usize,
    remaining: usize,
}

impl<'a> Iterator for RecordHeadersIter<'a> {
    type Item = RecordHeader<'a>;

    #[inline]
    fn next(&mut self) -> Option<RecordHeader<'a>> {
        if self.remaining == 0 {
            return None;
        }
        let header = self.read_header();
        // Checked by `RecordHeaders::check`, so this cannot fail; stopping
        // is the answer that cannot panic if it ever did.
        self.remaining = if header.is_some() {
            self.remaining - 1
        } else {
            0
        };
        header
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for RecordHeadersIter<'_> {}

/// No headers.
impl Default for RecordHeadersIter<'_> {
    fn default() -> Self {
        static NONE: Bytes = Bytes::new();
        RecordHeadersIter {
            raw: &NONE,
            pos: 0,
            remaining: 0,
        }
    }
}

impl<'a> RecordHeadersIter<'a> {
    /// The `count` headers at `pos` in `raw`, whose structure
    /// [`RecordHeaders::check`] accepted.
    pub(crate) fn at(raw: &'a Bytes, pos: usize, count: usize) -> RecordHeadersIter<'a> {
        RecordHeadersIter {
            raw,
            pos,
            remaining: count,
        }
    }

    #[inline]
    fn read_header(&mut self) -> Option<RecordHeader<'a>> {
        let raw: &'a Bytes = self.raw;
        let mut cursor = Cursor::at(raw, self.pos);
        let key = cursor.read_nullable_bytes().ok()??;
        let value = cursor.read_nullable_bytes().ok()?;
        self.pos = cursor.position();
        Some(RecordHeader {
            key: raw.get(key)?,
            value: match value {
                Some(value) => Some(raw.get(value)?),
                None => None,
            },
            raw,
        })
    }
}

/// One header's key (not null) and value (nullable).
#[inline]
fn check_header(cursor: &mut Cursor) -> Result<(), DecodeError> {
    match cursor.read_nullable_bytes() {
        Ok(Some(_)) => {}
        Ok(None) => return Err(invalid_length(-1).in_field("header key")),
        Err(error) => return Err(error.in_field("header key")),
    }
    cursor
        .read_nullable_bytes()
        .map_err(|error| error.in_field("header value"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::protocol::wire::put_varint;
    use crate::protocol::DecodeErrorKind;

    fn encode(headers: &[(&[u8], Option<&[u8]>)]) -> Bytes {
        let mut buf = BytesMut::new();
        put_varint(&mut buf, headers.len() as i32);
        for (key, value) in headers {
            put_varint(&mut buf, key.len() as i32);
            buf.extend_from_slice(key);
            match value {
                Some(value) => {
                    put_varint(&mut buf, value.len() as i32);
                    buf.extend_from_slice(value);
                }
                None => put_varint(&mut buf, -1),
            }
        }
        buf.freeze()
    }

    /// Checks and keeps headers as a record decoder does; also returns how
    /// much of the input they took.
    fn decode(raw: &Bytes) -> Result<(RecordHeaders, usize), DecodeError> {
        let mut cursor = Cursor::at(raw, 0);
        let (count, range) = RecordHeaders::check(&mut cursor)?;
        Ok((
            RecordHeaders::from_checked(raw.slice(range), count),
            cursor.position(),
        ))
    }

    #[test]
    fn headers_decode_lazily_and_iterate_in_order() {
        let raw = encode(&[(b"a", Some(b"1")), (b"b", None), (b"a", Some(b""))]);
        let (headers, used) = decode(&raw).unwrap();
        assert_eq!(used, raw.len());
        assert_eq!(headers.len(), 3);
        assert_eq!(headers.iter().len(), 3);
        let all: Vec<_> = headers.iter().collect();
        assert_eq!(all[0].key_str(), Some("a"));
        assert_eq!(all[0].value, Some(&b"1"[..]));
        assert_eq!(all[1].value, None);
        assert_eq!(all[1].value_bytes(), None);
        assert_eq!(headers.last("a"), Some(Some(&b""[..])));
        assert_eq!(headers.last("b"), Some(None));
        assert_eq!(headers.last("c"), None);
        assert_eq!(
            format!("{headers:?}"),
            r#"[RecordHeader { key: b"a", value: Some(b"1") }, RecordHeader { key: b"b", value: None }, RecordHeader { key: b"a", value: Some(b"") }]"#
        );
    }

    #[test]
    fn header_slices_share_the_received_buffer() {
        let raw = encode(&[(b"key", Some(b"value"))]);
        let range = raw.as_ptr_range();
        let (headers, _) = decode(&raw).unwrap();
        let header = headers.iter().next().unwrap();
        assert!(range.contains(&header.key.as_ptr()));
        assert!(range.contains(&header.value.unwrap().as_ptr()));
        let key = header.key_bytes();
        let value = header.value_bytes().unwrap();
        assert_eq!((&key[..], &value[..]), (&b"key"[..], &b"value"[..]));
        assert!(range.contains(&key.as_ptr()));
        assert!(range.contains(&value.as_ptr()));
    }

    #[test]
    fn a_replaced_header_field_is_copied_not_a_panic() {
        let raw = encode(&[(b"key", Some(b"value"))]);
        let (headers, _) = decode(&raw).unwrap();
        let mut header = headers.iter().next().unwrap();
        header.key = b"elsewhere";
        header.value = Some(&[]);
        assert_eq!(&header.key_bytes()[..], b"elsewhere");
        assert_eq!(header.value_bytes(), Some(Bytes::new()));
    }

    #[test]
    fn malformed_headers_are_rejected_when_the_record_is_decoded() {
        // A null key, a negative count, a count larger than the input, and a
        // header cut short.
        let null_key = Bytes::from_static(&[0x02, 0x01, 0x00]);
        let err = decode(&null_key).unwrap_err();
        assert_eq!(err.kind(), &DecodeErrorKind::InvalidLength(-1));
        assert_eq!(err.field_path(), "header key");
        let negative = Bytes::from_static(&[0x03]);
        assert!(decode(&negative).is_err());
        let huge = Bytes::from_static(&[0xfe, 0xff, 0xff, 0xff, 0x0f]);
        assert!(matches!(
            decode(&huge).unwrap_err().kind(),
            DecodeErrorKind::LengthExceedsInput { .. }
        ));
        let raw = encode(&[(b"key", Some(b"value"))]);
        for cut in 0..raw.len() {
            assert!(decode(&raw.slice(..cut)).is_err());
        }
    }

    #[test]
    fn iteration_stops_on_headers_that_were_not_checked() {
        // Not reachable through decoding; iterating must still not panic.
        let bad = RecordHeaders::from_checked(Bytes::from_static(&[0x06, b'a']), 2);
        let mut iter = bad.iter();
        assert_eq!(iter.next(), None);
        assert_eq!(iter.len(), 0);
        assert_eq!(bad.last("a"), None);
    }

    #[test]
    fn invalid_utf8_keys_are_kept_as_bytes() {
        let raw = encode(&[(b"\xff\xfe", None)]);
        let (headers, _) = decode(&raw).unwrap();
        let header = headers.iter().next().unwrap();
        assert_eq!(header.key_str(), None);
        assert_eq!(header.key, b"\xff\xfe");
    }
}
