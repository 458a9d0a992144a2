//! Kafka's primitive wire types: the hand-written layer the generated
//! messages and the record formats call.
//!
//! Reading works on a [`Reader`] over a `bytes::Bytes`, so byte fields and
//! record data come out as zero-copy slices of the received buffer. Every
//! length prefix is checked against the bytes that remain before anything is
//! allocated: a hostile length is an error, never a large allocation.
//!
//! Writing appends to a `BytesMut` through the free functions at the bottom.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::decode_error::{DecodeError, DecodeErrorKind, EncodeError};

/// A 128-bit Kafka UUID (topic ids, directory ids, member epochs' ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID Kafka uses for "no id".
    pub const ZERO: Uuid = Uuid([0; 16]);
}

impl std::fmt::Display for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A tagged field the decoder did not recognise, kept so that re-encoding a
/// message passes it on unchanged (KIP-482). Messages store these in
/// [`UnknownTaggedFields`]; this is the form its iterator hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTaggedField {
    /// The field's tag number.
    pub tag: u32,
    /// The field's encoded value, without its tag and size varints.
    pub data: Bytes,
}

/// The tagged fields of one struct that the decoder did not recognise, kept
/// as their encoded bytes: each field's tag varint, size varint and data, in
/// wire order, without the section's count.
///
/// A peer can send millions of two-byte unknown fields. Storing them as
/// encoded bytes keeps the cost per struct one `Bytes` whatever their number:
/// when the unknown fields of a section are contiguous (the usual case) this
/// is a zero-copy slice of the received buffer, and when known fields sit
/// between them the unknown runs are copied into one buffer no larger than
/// the section. Fields are parsed only when asked for.
///
/// Two values are equal when their encoded bytes are.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UnknownTaggedFields {
    raw: Bytes,
}

impl UnknownTaggedFields {
    /// Whether there are no unknown fields.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The number of fields; walks the bytes to count them.
    pub fn len(&self) -> usize {
        let mut rest = Reader::new(self.raw.clone());
        let mut count = 0;
        while let Some(size) = next_field_header(&mut rest).map(|(_, size)| size) {
            if rest.skip(size).is_err() {
                break;
            }
            count += 1;
        }
        count
    }

    /// The fields, in the order they were received.
    pub fn iter(&self) -> UnknownTaggedFieldsIter {
        UnknownTaggedFieldsIter {
            rest: Reader::new(self.raw.clone()),
        }
    }

    /// Builds the encoded form of `fields`, sorted by tag as Kafka requires
    /// on the wire (the sort is stable: equal tags keep their order).
    pub fn from_fields(fields: impl IntoIterator<Item = RawTaggedField>) -> Self {
        let mut fields: Vec<RawTaggedField> = fields.into_iter().collect();
        fields.sort_by_key(|field| field.tag);
        let mut raw = BytesMut::new();
        for field in &fields {
            put_tagged_field(&mut raw, field.tag, &field.data);
        }
        UnknownTaggedFields { raw: raw.freeze() }
    }
}

impl FromIterator<RawTaggedField> for UnknownTaggedFields {
    fn from_iter<I: IntoIterator<Item = RawTaggedField>>(fields: I) -> Self {
        Self::from_fields(fields)
    }
}

impl IntoIterator for &UnknownTaggedFields {
    type Item = RawTaggedField;
    type IntoIter = UnknownTaggedFieldsIter;

    fn into_iter(self) -> UnknownTaggedFieldsIter {
        self.iter()
    }
}

/// Lists (tag, data length) pairs: the data of unknown fields means nothing
/// to this build.
impl std::fmt::Debug for UnknownTaggedFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|field| (field.tag, field.data.len())))
            .finish()
    }
}

/// The fields of an [`UnknownTaggedFields`], each data a zero-copy slice.
#[derive(Debug, Clone)]
pub struct UnknownTaggedFieldsIter {
    rest: Reader,
}

impl Iterator for UnknownTaggedFieldsIter {
    type Item = RawTaggedField;

    fn next(&mut self) -> Option<RawTaggedField> {
        // Only this module builds the bytes, so they always parse; should
        // they not, iteration ends rather than panicking.
        let (tag, size) = next_field_header(&mut self.rest)?;
        match self.rest.read_slice(size) {
            Ok(data) => Some(RawTaggedField { tag, data }),
            Err(_) => {
                self.rest = Reader::new(Bytes::new());
                None
            }
        }
    }
}

/// Reads one field's tag and size, or `None` at the end or on bytes that do
/// not parse (after which `r` is left empty).
fn next_field_header(r: &mut Reader) -> Option<(u32, usize)> {
    if r.remaining() == 0 {
        return None;
    }
    let header = read_field_header(r);
    if header.is_err() {
        *r = Reader::new(Bytes::new());
    }
    header.ok()
}

/// A tagged field's tag and data size.
fn read_field_header(r: &mut Reader) -> Result<(u32, usize)> {
    let tag = r.read_unsigned_varint()?;
    let size = r.read_unsigned_varint()? as usize;
    Ok((tag, size))
}

/// Gathers the unknown fields of one tagged section as byte ranges of the
/// section (offsets from its first field).
struct UnknownRuns {
    /// The section's fields, from the first: what the ranges index.
    section: Bytes,
    /// The latest contiguous run of unknown fields.
    run: Option<std::ops::Range<usize>>,
    /// Earlier runs, copied once a known field separated two of them.
    copied: Option<Vec<u8>>,
}

impl UnknownRuns {
    fn new(section: Bytes) -> Self {
        UnknownRuns {
            section,
            run: None,
            copied: None,
        }
    }

    /// Adds the unknown field at `field`. `rest` starts right after it, with
    /// the section's `fields_left` remaining fields at its front.
    fn add(&mut self, field: std::ops::Range<usize>, rest: &Reader, fields_left: u32) {
        match &mut self.run {
            Some(run) if run.end == field.start => run.end = field.end,
            Some(run) => {
                let earlier = &self.section[run.clone()];
                let copied = self.copied.get_or_insert_with(|| {
                    // Room for every byte the unknown fields can still take,
                    // so the copy never grows past the section.
                    let later = fields_len(rest, fields_left);
                    Vec::with_capacity(earlier.len() + field.len() + later)
                });
                copied.extend_from_slice(earlier);
                *run = field;
            }
            None => self.run = Some(field),
        }
    }

    fn finish(self) -> UnknownTaggedFields {
        let last = self.run.map(|run| self.section.slice(run));
        let raw = match (self.copied, last) {
            (None, last) => last.unwrap_or_default(),
            (Some(mut copied), last) => {
                copied.extend_from_slice(last.as_deref().unwrap_or_default());
                copied.shrink_to_fit();
                Bytes::from(copied)
            }
        };
        UnknownTaggedFields { raw }
    }
}

/// The encoded length of the next `fields` tagged fields in `rest` (of as
/// many as parse, should some not).
fn fields_len(rest: &Reader, fields: u32) -> usize {
    let mut r = rest.clone();
    for _ in 0..fields {
        match next_field_header(&mut r) {
            Some((_, size)) if r.skip(size).is_ok() => {}
            _ => break,
        }
    }
    rest.remaining() - r.remaining()
}

type Result<T> = std::result::Result<T, DecodeError>;

/// A cursor over received bytes.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
}

impl Reader {
    /// A reader positioned at the start of `buf`.
    pub fn new(buf: Bytes) -> Self {
        Reader { buf }
    }

    /// Bytes not yet read.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The unread bytes, without consuming them.
    #[inline]
    pub fn peek_rest(&self) -> &[u8] {
        &self.buf
    }

    /// Consumes the reader, giving back what was not read.
    pub fn into_rest(self) -> Bytes {
        self.buf
    }

    #[inline]
    fn need(&self, n: usize) -> Result<()> {
        if self.buf.len() < n {
            return Err(DecodeError::new(DecodeErrorKind::UnexpectedEof {
                needed: n,
                remaining: self.buf.len(),
            }));
        }
        Ok(())
    }

    /// Fails unless the whole input was consumed.
    pub fn expect_end(&self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::new(DecodeErrorKind::TrailingBytes(
                self.buf.len(),
            )))
        }
    }

    /// An INT8.
    #[inline]
    pub fn read_i8(&mut self) -> Result<i8> {
        self.need(1)?;
        Ok(self.buf.get_i8())
    }

    /// A BOOLEAN; any non-zero byte is true.
    #[inline]
    pub fn read_bool(&mut self) -> Result<bool> {
        // Kafka's Java decoder treats any non-zero byte as true.
        Ok(self.read_i8()? != 0)
    }

    /// A big-endian INT16.
    #[inline]
    pub fn read_i16(&mut self) -> Result<i16> {
        self.need(2)?;
        Ok(self.buf.get_i16())
    }

    /// A big-endian UINT16.
    #[inline]
    pub fn read_u16(&mut self) -> Result<u16> {
        self.need(2)?;
        Ok(self.buf.get_u16())
    }

    /// A big-endian INT32.
    #[inline]
    pub fn read_i32(&mut self) -> Result<i32> {
        self.need(4)?;
        Ok(self.buf.get_i32())
    }

    /// A big-endian UINT32.
    #[inline]
    pub fn read_u32(&mut self) -> Result<u32> {
        self.need(4)?;
        Ok(self.buf.get_u32())
    }

    /// A big-endian INT64.
    #[inline]
    pub fn read_i64(&mut self) -> Result<i64> {
        self.need(8)?;
        Ok(self.buf.get_i64())
    }

    /// A big-endian FLOAT64.
    #[inline]
    pub fn read_f64(&mut self) -> Result<f64> {
        self.need(8)?;
        Ok(self.buf.get_f64())
    }

    /// A UUID: 16 raw bytes.
    pub fn read_uuid(&mut self) -> Result<Uuid> {
        self.need(16)?;
        let mut id = [0u8; 16];
        self.buf.copy_to_slice(&mut id);
        Ok(Uuid(id))
    }

    /// An unsigned LEB128 varint of at most 32 bits.
    #[inline]
    pub fn read_unsigned_varint(&mut self) -> Result<u32> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let byte = self.read_i8()? as u8;
            if i == 4 && byte > 0x0f {
                return Err(DecodeErrorKind::VarintOverflow.into());
            }
            value |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeErrorKind::VarintOverflow.into())
    }

    /// An unsigned LEB128 varint of at most 64 bits.
    #[inline]
    pub fn read_unsigned_varlong(&mut self) -> Result<u64> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = self.read_i8()? as u8;
            if i == 9 && byte > 0x01 {
                return Err(DecodeErrorKind::VarintOverflow.into());
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeErrorKind::VarintOverflow.into())
    }

    /// A zig-zag signed varint (record fields).
    #[inline]
    pub fn read_varint(&mut self) -> Result<i32> {
        let raw = self.read_unsigned_varint()?;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// A zig-zag signed varlong (record timestamps and offsets deltas).
    #[inline]
    pub fn read_varlong(&mut self) -> Result<i64> {
        let raw = self.read_unsigned_varlong()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// Takes `len` bytes as a zero-copy slice.
    #[inline]
    pub fn read_slice(&mut self, len: usize) -> Result<Bytes> {
        self.check_length(len as u64)?;
        Ok(self.buf.split_to(len))
    }

    /// Skips `len` bytes.
    pub fn skip(&mut self, len: usize) -> Result<()> {
        self.check_length(len as u64)?;
        self.buf.advance(len);
        Ok(())
    }

    /// Rejects a length prefix larger than what remains.
    #[inline]
    pub fn check_length(&self, length: u64) -> Result<()> {
        if length > self.buf.len() as u64 {
            return Err(DecodeError::new(DecodeErrorKind::LengthExceedsInput {
                length,
                remaining: self.buf.len(),
            }));
        }
        Ok(())
    }

    /// A length prefix of a (possibly nullable, possibly compact) string or
    /// byte array: `None` means null.
    #[inline]
    fn read_length(&mut self, compact: bool, int16: bool) -> Result<Option<usize>> {
        let length: i64 = if compact {
            i64::from(self.read_unsigned_varint()?) - 1
        } else if int16 {
            i64::from(self.read_i16()?)
        } else {
            i64::from(self.read_i32()?)
        };
        if length < 0 {
            if length == -1 {
                return Ok(None);
            }
            return Err(DecodeErrorKind::InvalidLength(length).into());
        }
        self.check_length(length as u64)?;
        Ok(Some(length as usize))
    }

    fn bytes_to_string(bytes: Bytes) -> Result<String> {
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeErrorKind::InvalidUtf8.into())
    }

    /// A nullable string (INT16 length, or compact length when flexible).
    pub fn read_nullable_string(&mut self, compact: bool) -> Result<Option<String>> {
        match self.read_length(compact, true)? {
            None => Ok(None),
            Some(len) => {
                let bytes = self.buf.split_to(len);
                Self::bytes_to_string(bytes).map(Some)
            }
        }
    }

    /// A non-nullable string: null is an error.
    pub fn read_string(&mut self, compact: bool) -> Result<String> {
        self.read_nullable_string(compact)?
            .ok_or_else(|| DecodeErrorKind::InvalidLength(-1).into())
    }

    /// Nullable bytes (INT32 length, or compact length when flexible), as a
    /// zero-copy slice.
    pub fn read_nullable_bytes(&mut self, compact: bool) -> Result<Option<Bytes>> {
        match self.read_length(compact, false)? {
            None => Ok(None),
            Some(len) => Ok(Some(self.buf.split_to(len))),
        }
    }

    /// Non-nullable bytes: null is an error.
    pub fn read_bytes(&mut self, compact: bool) -> Result<Bytes> {
        self.read_nullable_bytes(compact)?
            .ok_or_else(|| DecodeErrorKind::InvalidLength(-1).into())
    }

    /// An array length: `None` means null. Each element takes at least one
    /// byte on the wire, so a count larger than the remaining bytes is
    /// rejected here, before the caller reserves space for it.
    pub fn read_array_length(&mut self, compact: bool) -> Result<Option<usize>> {
        let count: i64 = if compact {
            i64::from(self.read_unsigned_varint()?) - 1
        } else {
            i64::from(self.read_i32()?)
        };
        if count < 0 {
            if count == -1 {
                return Ok(None);
            }
            return Err(DecodeErrorKind::InvalidLength(count).into());
        }
        self.check_length(count as u64)?;
        Ok(Some(count as usize))
    }

    /// The tagged-field section of a flexible struct. Known tags are handed
    /// to `known`, which returns `Ok(true)` when it consumed the field;
    /// everything else is returned raw.
    pub fn read_tagged_fields(
        &mut self,
        mut known: impl FnMut(u32, &mut Reader) -> Result<bool>,
    ) -> Result<UnknownTaggedFields> {
        let count = self.read_unsigned_varint()?;
        // Each tagged field takes at least two bytes (tag and size).
        self.check_length(u64::from(count))?;
        if count == 0 {
            return Ok(UnknownTaggedFields::default());
        }
        let section_len = self.buf.len();
        let mut unknown = UnknownRuns::new(self.buf.clone());
        for index in 1..=count {
            let start = section_len - self.buf.len();
            let (tag, size) = read_field_header(self)?;
            let mut field = Reader::new(self.read_slice(size)?);
            if known(tag, &mut field)? {
                field.expect_end()?;
            } else {
                let end = section_len - self.buf.len();
                unknown.add(start..end, self, count - index);
            }
        }
        Ok(unknown.finish())
    }
}

/// The most elements an array decoder reserves up front. The count was
/// already checked against the remaining bytes; this also bounds the memory
/// reserved for large element types before any element has been read.
const MAX_PREALLOCATED_ELEMENTS: usize = 1024;

/// Reads a non-null array, each element with `element`.
pub fn read_array<T>(
    r: &mut Reader,
    compact: bool,
    element: impl FnMut(&mut Reader) -> Result<T>,
) -> Result<Vec<T>> {
    read_nullable_array(r, compact, element)?
        .ok_or_else(|| DecodeErrorKind::InvalidLength(-1).into())
}

/// Reads a nullable array, each element with `element`.
pub fn read_nullable_array<T>(
    r: &mut Reader,
    compact: bool,
    mut element: impl FnMut(&mut Reader) -> Result<T>,
) -> Result<Option<Vec<T>>> {
    let Some(count) = r.read_array_length(compact)? else {
        return Ok(None);
    };
    let mut items = Vec::with_capacity(count.min(MAX_PREALLOCATED_ELEMENTS));
    for _ in 0..count {
        items.push(element(r)?);
    }
    Ok(Some(items))
}

/// Reads a nullable struct: an INT8 marker (-1 null, otherwise present)
/// followed by the struct.
pub fn read_nullable_struct<T>(
    r: &mut Reader,
    body: impl FnOnce(&mut Reader) -> Result<T>,
) -> Result<Option<T>> {
    if r.read_i8()? < 0 {
        Ok(None)
    } else {
        body(r).map(Some)
    }
}

// ---- writing ----

/// Writes an unsigned LEB128 varint.
#[inline]
pub fn put_unsigned_varint(buf: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

/// Writes an unsigned LEB128 varlong.
#[inline]
pub fn put_unsigned_varlong(buf: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

/// Writes a zig-zag signed varint.
#[inline]
pub fn put_varint(buf: &mut BytesMut, value: i32) {
    put_unsigned_varint(buf, ((value << 1) ^ (value >> 31)) as u32);
}

/// Writes a zig-zag signed varlong.
#[inline]
pub fn put_varlong(buf: &mut BytesMut, value: i64) {
    put_unsigned_varlong(buf, ((value << 1) ^ (value >> 63)) as u64);
}

/// The encoded size of an unsigned varint.
#[inline]
pub fn unsigned_varint_size(value: u32) -> usize {
    match value {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0x0fff_ffff => 4,
        _ => 5,
    }
}

/// The encoded size of a zig-zag varint.
#[inline]
pub fn varint_size(value: i32) -> usize {
    unsigned_varint_size(((value << 1) ^ (value >> 31)) as u32)
}

/// The encoded size of a zig-zag varlong.
#[inline]
pub fn varlong_size(value: i64) -> usize {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Writes a length prefix: `None` is null (-1). Compact lengths are
/// length + 1 as an unsigned varint; classic ones are INT16 or INT32.
#[inline]
pub fn put_length(buf: &mut BytesMut, length: Option<usize>, compact: bool, int16: bool) {
    match (length, compact) {
        (None, true) => put_unsigned_varint(buf, 0),
        (Some(n), true) => put_unsigned_varint(buf, n as u32 + 1),
        (None, false) if int16 => buf.put_i16(-1),
        (None, false) => buf.put_i32(-1),
        (Some(n), false) if int16 => buf.put_i16(n as i16),
        (Some(n), false) => buf.put_i32(n as i32),
    }
}

/// Writes a null string, byte array or array (INT16 -1 for strings).
pub fn put_null(buf: &mut BytesMut, compact: bool, int16: bool) {
    put_length(buf, None, compact, int16);
}

/// Fails when `length` does not fit the length prefix in use.
#[inline]
fn check_encodable(
    length: usize,
    compact: bool,
    int16: bool,
    field: &'static str,
) -> std::result::Result<(), EncodeError> {
    let max = if compact {
        u32::MAX as usize - 1
    } else if int16 {
        i16::MAX as usize
    } else {
        i32::MAX as usize
    };
    if length > max {
        return Err(EncodeError::TooLong { field, length });
    }
    Ok(())
}

/// Writes a non-null string.
#[inline]
pub fn put_string(
    buf: &mut BytesMut,
    value: &str,
    compact: bool,
    field: &'static str,
) -> std::result::Result<(), EncodeError> {
    check_encodable(value.len(), compact, true, field)?;
    put_length(buf, Some(value.len()), compact, true);
    buf.put_slice(value.as_bytes());
    Ok(())
}

/// Writes non-null bytes.
#[inline]
pub fn put_bytes(
    buf: &mut BytesMut,
    value: &[u8],
    compact: bool,
    field: &'static str,
) -> std::result::Result<(), EncodeError> {
    check_encodable(value.len(), compact, false, field)?;
    put_length(buf, Some(value.len()), compact, false);
    buf.put_slice(value);
    Ok(())
}

/// Writes an array's element count (`None` is a null array).
#[inline]
pub fn put_array_length(
    buf: &mut BytesMut,
    length: Option<usize>,
    compact: bool,
    field: &'static str,
) -> std::result::Result<(), EncodeError> {
    if let Some(n) = length {
        check_encodable(n, compact, false, field)?;
    }
    put_length(buf, length, compact, false);
    Ok(())
}

/// Writes a UUID as its 16 raw bytes.
pub fn put_uuid(buf: &mut BytesMut, value: &Uuid) {
    buf.put_slice(&value.0);
}

/// Writes a tagged-field section: the `known` (tag, encoded value) pairs,
/// given in any order, merged with `unknown`. Kafka requires ascending tags;
/// unknown fields keep their order (ascending when the peer followed the
/// protocol) and each known field goes before the first unknown one with a
/// larger tag, as Kafka's own encoder does.
pub fn put_tagged_fields(
    buf: &mut BytesMut,
    mut known: Vec<(u32, Bytes)>,
    unknown: &UnknownTaggedFields,
) {
    known.sort_by_key(|(tag, _)| *tag);
    put_unsigned_varint(buf, (known.len() + unknown.len()) as u32);
    let mut known = known.into_iter().peekable();
    for field in unknown {
        while let Some((tag, data)) = known.next_if(|(tag, _)| *tag <= field.tag) {
            put_tagged_field(buf, tag, &data);
        }
        put_tagged_field(buf, field.tag, &field.data);
    }
    for (tag, data) in known {
        put_tagged_field(buf, tag, &data);
    }
}

/// Writes one tagged field: tag, size, data.
fn put_tagged_field(buf: &mut BytesMut, tag: u32, data: &[u8]) {
    put_unsigned_varint(buf, tag);
    put_unsigned_varint(buf, data.len() as u32);
    buf.put_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_their_limits() {
        for v in [0i32, 1, -1, 63, -64, 64, i32::MAX, i32::MIN] {
            let mut buf = BytesMut::new();
            put_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_size(v));
            assert_eq!(Reader::new(buf.freeze()).read_varint().unwrap(), v);
        }
        for v in [0i64, 1, -1, i64::MAX, i64::MIN, 1 << 40] {
            let mut buf = BytesMut::new();
            put_varlong(&mut buf, v);
            assert_eq!(buf.len(), varlong_size(v));
            assert_eq!(Reader::new(buf.freeze()).read_varlong().unwrap(), v);
        }
    }

    #[test]
    fn overlong_varint_is_an_error() {
        let bytes = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(
            Reader::new(bytes)
                .read_unsigned_varint()
                .unwrap_err()
                .kind(),
            &DecodeErrorKind::VarintOverflow
        );
    }

    #[test]
    fn huge_length_prefixes_are_rejected_before_allocating() {
        // An INT32 array count of 2^31-1 with four bytes behind it.
        let bytes = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        let err = Reader::new(bytes.clone())
            .read_array_length(false)
            .unwrap_err();
        assert!(matches!(
            err.kind(),
            DecodeErrorKind::LengthExceedsInput {
                length: 2147483647,
                remaining: 4
            }
        ));
        let err = Reader::new(bytes).read_nullable_bytes(false).unwrap_err();
        assert!(matches!(
            err.kind(),
            DecodeErrorKind::LengthExceedsInput { .. }
        ));
        // A compact string of u32::MAX - 1 bytes.
        let bytes = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f, b'a']);
        let err = Reader::new(bytes).read_nullable_string(true).unwrap_err();
        assert!(matches!(
            err.kind(),
            DecodeErrorKind::LengthExceedsInput { .. }
        ));
    }

    /// Reads a tagged section, taking tags 2 and 7 as known.
    fn read_section(section: &Bytes) -> (Vec<(u32, Bytes)>, UnknownTaggedFields) {
        let mut known = Vec::new();
        let mut r = Reader::new(section.clone());
        let unknown = r
            .read_tagged_fields(|tag, field| {
                if tag == 2 || tag == 7 {
                    known.push((tag, field.read_slice(field.remaining())?));
                    return Ok(true);
                }
                Ok(false)
            })
            .unwrap();
        r.expect_end().unwrap();
        (known, unknown)
    }

    fn field(tag: u32, data: &'static [u8]) -> RawTaggedField {
        RawTaggedField {
            tag,
            data: Bytes::from_static(data),
        }
    }

    fn points_into(inner: &[u8], outer: &[u8]) -> bool {
        let outer = outer.as_ptr_range();
        inner.as_ptr() >= outer.start && inner.as_ptr_range().end <= outer.end
    }

    #[test]
    fn interleaved_known_and_unknown_fields_re_encode_exactly() {
        #[rustfmt::skip]
        let section = Bytes::from_static(&[
            5,
            1, 1, b'a',
            2, 2, b'b', b'b',
            5, 0,
            7, 1, 0x2a,
            0x90, 0x4e, 3, b'x', b'y', b'z', // tag 10000
        ]);
        let (known, unknown) = read_section(&section);
        assert_eq!(known.len(), 2);
        assert_eq!(unknown.len(), 3);
        assert_eq!(
            unknown.iter().collect::<Vec<_>>(),
            [field(1, b"a"), field(5, b""), field(10_000, b"xyz")]
        );
        // The unknown runs were copied together: no more than the section.
        assert!(unknown.raw.len() < section.len());
        assert!(!points_into(&unknown.raw, &section));

        let mut buf = BytesMut::new();
        put_tagged_fields(&mut buf, known, &unknown);
        assert_eq!(buf, section);
    }

    #[test]
    fn an_all_unknown_section_is_a_slice_of_the_input() {
        let section = Bytes::from(vec![3, 1, 1, b'a', 5, 0, 9, 2, b'b', b'c']);
        let (known, unknown) = read_section(&section);
        assert!(known.is_empty());
        assert_eq!(&unknown.raw[..], &section[1..]);
        assert!(points_into(&unknown.raw, &section));
        let mut buf = BytesMut::new();
        put_tagged_fields(&mut buf, Vec::new(), &unknown);
        assert_eq!(buf, section);
    }

    #[test]
    fn a_hundred_thousand_unknown_tags_are_held_in_one_bytes() {
        use crate::protocol::messages::ApiVersionsResponse;
        use crate::protocol::Message;

        const TAGS: u32 = 100_000;
        let mut body = BytesMut::new();
        body.put_i16(0); // error code
        put_unsigned_varint(&mut body, 1); // no api keys
        body.put_i32(0); // throttle time
        put_unsigned_varint(&mut body, TAGS);
        for tag in 100..100 + TAGS {
            put_tagged_field(&mut body, tag, b"");
        }
        let body = body.freeze();
        let message = ApiVersionsResponse::decode(&mut Reader::new(body.clone()), 3).unwrap();

        // The struct holds one `Bytes` for them, pointing into the input:
        // nothing on the heap grows with the number of tags.
        let unknown = &message.unknown_tagged_fields;
        assert_eq!(
            std::mem::size_of::<UnknownTaggedFields>(),
            std::mem::size_of::<Bytes>()
        );
        assert!(points_into(&unknown.raw, &body));
        assert_eq!(unknown.iter().count(), TAGS as usize);
        assert_eq!(unknown.len(), TAGS as usize);

        let mut again = BytesMut::new();
        message.encode(&mut again, 3).unwrap();
        assert_eq!(again, body);
    }

    #[test]
    fn from_fields_sorts_by_tag_and_debug_lists_tags_and_lengths() {
        let fields = UnknownTaggedFields::from_fields([field(9, b"xy"), field(4, b"")]);
        assert_eq!(format!("{fields:?}"), "[(4, 0), (9, 2)]");
        assert_eq!(
            fields,
            [field(4, b""), field(9, b"xy")].into_iter().collect()
        );
        assert!(UnknownTaggedFields::default().is_empty());
        assert_eq!(UnknownTaggedFields::default().len(), 0);
    }

    #[test]
    fn malformed_raw_bytes_end_iteration_without_panicking() {
        // A size past the end; a whole field, then a tag varint cut short.
        for (raw, whole) in [(&[5, 3, 1][..], 0), (&[5, 0, 0x80][..], 1)] {
            let fields = UnknownTaggedFields {
                raw: Bytes::copy_from_slice(raw),
            };
            assert_eq!(fields.iter().count(), whole, "{raw:?}");
            assert_eq!(fields.len(), whole, "{raw:?}");
        }
    }

    #[test]
    fn null_in_a_non_nullable_string_is_an_error() {
        let bytes = Bytes::from_static(&[0xff, 0xff]);
        assert!(Reader::new(bytes).read_string(false).is_err());
    }
}
