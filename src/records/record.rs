//! One record as a consumer sees it, whichever format it came in.
//!
//! Keys, values and headers are `Bytes` slices of the buffer the record was
//! decoded from (the fetch response, or the one decompressed buffer of its
//! batch): decoding a record copies no data and allocates nothing.

use std::fmt;

use bytes::Bytes;

use crate::protocol::{DecodeError, DecodeErrorKind, Reader};

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
    pub offset: i64,
    /// Milliseconds since the epoch; -1 when the format has none (magic 0).
    pub timestamp: i64,
    pub timestamp_type: TimestampType,
    /// `None` is a null key, distinct from an empty one.
    pub key: Option<Bytes>,
    /// `None` is a null value (a tombstone in a compacted topic).
    pub value: Option<Bytes>,
    /// Record headers (KIP-82); always empty for magic 0 and 1.
    pub headers: RecordHeaders,
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

/// One record header. Kafka header keys are strings; Java decodes invalid
/// UTF-8 with replacement characters rather than failing, so the key is
/// kept as bytes and [`RecordHeader::key_str`] says whether it is UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    pub key: Bytes,
    pub value: Option<Bytes>,
}

impl RecordHeader {
    /// The key as a string, if it is valid UTF-8.
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }
}

impl RecordHeaders {
    /// Reads a header count and that many headers, checking their structure
    /// without allocating.
    pub(crate) fn decode(reader: &mut Reader) -> Result<RecordHeaders, DecodeError> {
        let count = reader.read_varint()?;
        let count =
            usize::try_from(count).map_err(|_| DecodeErrorKind::InvalidLength(count.into()))?;
        // Each header takes at least two bytes (two lengths).
        reader.check_length(count as u64)?;
        let all = reader.peek_rest().len();
        let mut probe = reader.clone();
        for _ in 0..count {
            read_header(&mut probe)?;
        }
        let len = all - probe.remaining();
        let raw = reader.read_slice(len)?;
        Ok(RecordHeaders { raw, count })
    }

    /// How many headers the record has.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The headers in wire order.
    pub fn iter(&self) -> RecordHeadersIter {
        RecordHeadersIter {
            reader: Reader::new(self.raw.clone()),
            remaining: self.count,
        }
    }

    /// The value of the last header with this key, as Java's
    /// `Headers.lastHeader` gives it; `Some(None)` for a null value.
    pub fn last(&self, key: &str) -> Option<Option<Bytes>> {
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

impl IntoIterator for &RecordHeaders {
    type Item = RecordHeader;
    type IntoIter = RecordHeadersIter;

    fn into_iter(self) -> RecordHeadersIter {
        self.iter()
    }
}

/// Iterates a record's headers; each is two refcounted slices, no copy.
#[derive(Debug, Clone)]
pub struct RecordHeadersIter {
    reader: Reader,
    remaining: usize,
}

impl Iterator for RecordHeadersIter {
    type Item = RecordHeader;

    fn next(&mut self) -> Option<RecordHeader> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // Checked by `RecordHeaders::decode`, so this cannot fail; stopping
        // is the answer that cannot panic if it ever did.
        read_header(&mut self.reader).ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for RecordHeadersIter {}

fn read_header(reader: &mut Reader) -> Result<RecordHeader, DecodeError> {
    let key = read_varint_bytes(reader)
        .map_err(|error| error.in_field("header key"))?
        .ok_or_else(|| {
            DecodeError::new(DecodeErrorKind::InvalidLength(-1)).in_field("header key")
        })?;
    let value = read_varint_bytes(reader).map_err(|error| error.in_field("header value"))?;
    Ok(RecordHeader { key, value })
}

/// A varint length (-1 for null) and that many bytes, zero-copy: the
/// encoding of record keys, values and header fields in magic 2.
pub(crate) fn read_varint_bytes(reader: &mut Reader) -> Result<Option<Bytes>, DecodeError> {
    let length = reader.read_varint()?;
    match usize::try_from(length) {
        Ok(length) => reader.read_slice(length).map(Some),
        Err(_) if length == -1 => Ok(None),
        Err(_) => Err(DecodeErrorKind::InvalidLength(length.into()).into()),
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::protocol::wire::put_varint;

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

    #[test]
    fn headers_decode_lazily_and_iterate_in_order() {
        let raw = encode(&[(b"a", Some(b"1")), (b"b", None), (b"a", Some(b""))]);
        let mut reader = Reader::new(raw);
        let headers = RecordHeaders::decode(&mut reader).unwrap();
        assert_eq!(reader.remaining(), 0);
        assert_eq!(headers.len(), 3);
        let all: Vec<_> = headers.iter().collect();
        assert_eq!(all[0].key_str(), Some("a"));
        assert_eq!(all[0].value.as_deref(), Some(&b"1"[..]));
        assert_eq!(all[1].value, None);
        assert_eq!(headers.last("a"), Some(Some(Bytes::new())));
        assert_eq!(headers.last("b"), Some(None));
        assert_eq!(headers.last("c"), None);
    }

    #[test]
    fn header_slices_share_the_received_buffer() {
        let raw = encode(&[(b"key", Some(b"value"))]);
        let range = raw.as_ptr_range();
        let headers = RecordHeaders::decode(&mut Reader::new(raw.clone())).unwrap();
        let header = headers.iter().next().unwrap();
        assert!(range.contains(&header.key.as_ptr()));
        assert!(range.contains(&header.value.unwrap().as_ptr()));
    }

    #[test]
    fn malformed_headers_are_rejected_when_the_record_is_decoded() {
        // A null key, a negative count, a count larger than the input, and a
        // header cut short.
        let null_key = Bytes::from_static(&[0x02, 0x01, 0x00]);
        assert!(RecordHeaders::decode(&mut Reader::new(null_key)).is_err());
        let negative = Bytes::from_static(&[0x03]);
        assert!(RecordHeaders::decode(&mut Reader::new(negative)).is_err());
        let huge = Bytes::from_static(&[0xfe, 0xff, 0xff, 0xff, 0x0f]);
        assert!(matches!(
            RecordHeaders::decode(&mut Reader::new(huge))
                .unwrap_err()
                .kind(),
            DecodeErrorKind::LengthExceedsInput { .. }
        ));
        let raw = encode(&[(b"key", Some(b"value"))]);
        for cut in 0..raw.len() {
            assert!(RecordHeaders::decode(&mut Reader::new(raw.slice(..cut))).is_err());
        }
    }

    #[test]
    fn invalid_utf8_keys_are_kept_as_bytes() {
        let raw = encode(&[(b"\xff\xfe", None)]);
        let headers = RecordHeaders::decode(&mut Reader::new(raw)).unwrap();
        let header = headers.iter().next().unwrap();
        assert_eq!(header.key_str(), None);
        assert_eq!(&header.key[..], b"\xff\xfe");
    }
}
