//! Reading record fields from a borrowed byte slice.
//!
//! The hot path of record decoding: a position into one `&[u8]` (the
//! records section of a batch, or one record's raw headers), so parsing a
//! record touches no reference count. Callers turn the ranges it returns
//! into `Bytes` only for what they keep. Every read checks the input first
//! and fails with the same typed errors as [`Reader`](crate::protocol::Reader).

use std::ops::Range;

use crate::protocol::{DecodeError, DecodeErrorKind};

/// A read position in a byte slice. Positions are absolute indexes into
/// the slice, so the ranges it hands out index the same buffer.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at `pos` in `buf`; a `pos` past the end reads as empty.
    #[inline]
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Cursor<'a> {
        Cursor {
            buf,
            pos: pos.min(buf.len()),
        }
    }

    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// This cursor ends `len` bytes from its position; the caller has
    /// checked that `len` is at most [`remaining`](Self::remaining).
    #[inline]
    pub(crate) fn limit(&self, len: usize) -> Cursor<'a> {
        let end = self.pos.saturating_add(len).min(self.buf.len());
        Cursor {
            buf: &self.buf[..end],
            pos: self.pos,
        }
    }

    /// Fails unless everything was read.
    #[inline]
    pub(crate) fn expect_end(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            trailing => Err(trailing_bytes(trailing)),
        }
    }

    /// Rejects a length larger than what remains, as `Reader` does.
    #[inline]
    pub(crate) fn check_length(&self, length: u64) -> Result<(), DecodeError> {
        let remaining = self.remaining();
        if length > remaining as u64 {
            return Err(length_exceeds_input(length, remaining));
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn read_u8(&mut self) -> Result<u8, DecodeError> {
        match self.buf.get(self.pos) {
            Some(&byte) => {
                self.pos += 1;
                Ok(byte)
            }
            None => Err(unexpected_eof()),
        }
    }

    /// An unsigned LEB128 varint of at most 32 bits.
    #[inline]
    pub(crate) fn read_unsigned_varint(&mut self) -> Result<u32, DecodeError> {
        // Record fields are almost always one or two bytes (lengths below
        // 8 KiB, small deltas): those are read inline. A record's last
        // field (its header count) ends its cursor, so a one-byte varint
        // is taken without looking for a second byte.
        if let Some(&first) = self.buf.get(self.pos) {
            if first < 0x80 {
                self.pos += 1;
                return Ok(u32::from(first));
            }
            if let Some(&second) = self.buf.get(self.pos + 1) {
                if second < 0x80 {
                    self.pos += 2;
                    return Ok(u32::from(first & 0x7f) | u32::from(second) << 7);
                }
            }
        }
        // The slow path takes the position by value, so the cursor can
        // live in registers on the fast path.
        let (value, pos) = read_unsigned_varint_slow(self.buf, self.pos)?;
        self.pos = pos;
        Ok(value)
    }

    /// An unsigned LEB128 varint of at most 64 bits.
    #[inline]
    pub(crate) fn read_unsigned_varlong(&mut self) -> Result<u64, DecodeError> {
        if let Some(&first) = self.buf.get(self.pos) {
            if first < 0x80 {
                self.pos += 1;
                return Ok(u64::from(first));
            }
            if let Some(&second) = self.buf.get(self.pos + 1) {
                if second < 0x80 {
                    self.pos += 2;
                    return Ok(u64::from(first & 0x7f) | u64::from(second) << 7);
                }
            }
        }
        let (value, pos) = read_unsigned_varlong_slow(self.buf, self.pos)?;
        self.pos = pos;
        Ok(value)
    }

    /// A zig-zag signed varint.
    #[inline]
    pub(crate) fn read_varint(&mut self) -> Result<i32, DecodeError> {
        let raw = self.read_unsigned_varint()?;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// A zig-zag signed varlong.
    #[inline]
    pub(crate) fn read_varlong(&mut self) -> Result<i64, DecodeError> {
        let raw = self.read_unsigned_varlong()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// A non-negative varint length, checked against what remains.
    #[inline]
    pub(crate) fn read_length(&mut self) -> Result<usize, DecodeError> {
        let length = self.read_varint()?;
        let length = usize::try_from(length).map_err(|_| invalid_length(length.into()))?;
        self.check_length(length as u64)?;
        Ok(length)
    }

    /// A varint length (-1 for null) and that many bytes: where they are in
    /// the buffer. The encoding of record keys, values and header fields.
    #[inline]
    pub(crate) fn read_nullable_bytes(&mut self) -> Result<Option<Range<usize>>, DecodeError> {
        let length = self.read_varint()?;
        let Ok(length) = usize::try_from(length) else {
            return if length == -1 {
                Ok(None)
            } else {
                Err(invalid_length(length.into()))
            };
        };
        self.check_length(length as u64)?;
        let start = self.pos;
        self.pos += length;
        Ok(Some(start..self.pos))
    }
}

/// Any unsigned varint of at most 32 bits at `pos`, and the position
/// after it.
#[inline(never)]
fn read_unsigned_varint_slow(buf: &[u8], mut pos: usize) -> Result<(u32, usize), DecodeError> {
    let mut value: u32 = 0;
    for i in 0..5 {
        let &byte = buf.get(pos).ok_or_else(unexpected_eof)?;
        pos += 1;
        if i == 4 && byte > 0x0f {
            return Err(varint_overflow());
        }
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, pos));
        }
    }
    Err(varint_overflow())
}

/// Any unsigned varint of at most 64 bits at `pos`, and the position
/// after it.
#[inline(never)]
fn read_unsigned_varlong_slow(buf: &[u8], mut pos: usize) -> Result<(u64, usize), DecodeError> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let &byte = buf.get(pos).ok_or_else(unexpected_eof)?;
        pos += 1;
        if i == 9 && byte > 0x01 {
            return Err(varint_overflow());
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, pos));
        }
    }
    Err(varint_overflow())
}

#[cold]
fn unexpected_eof() -> DecodeError {
    DecodeError::new(DecodeErrorKind::UnexpectedEof {
        needed: 1,
        remaining: 0,
    })
}

#[cold]
fn varint_overflow() -> DecodeError {
    DecodeError::new(DecodeErrorKind::VarintOverflow)
}

#[cold]
pub(crate) fn invalid_length(length: i64) -> DecodeError {
    DecodeError::new(DecodeErrorKind::InvalidLength(length))
}

#[cold]
fn length_exceeds_input(length: u64, remaining: usize) -> DecodeError {
    DecodeError::new(DecodeErrorKind::LengthExceedsInput { length, remaining })
}

#[cold]
fn trailing_bytes(trailing: usize) -> DecodeError {
    DecodeError::new(DecodeErrorKind::TrailingBytes(trailing))
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::protocol::wire::{put_varint, put_varlong};
    use crate::protocol::Reader;

    /// The cursor reads every varint as `Reader` does, errors included.
    #[test]
    fn varints_match_the_reader() {
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for value in [0, 1, -1, 63, -64, 64, 8191, -8192, i32::MAX, i32::MIN] {
            let mut buf = BytesMut::new();
            put_varint(&mut buf, value);
            inputs.push(buf.to_vec());
        }
        for value in [0, 1, -1, i64::MAX, i64::MIN, 1 << 40] {
            let mut buf = BytesMut::new();
            put_varlong(&mut buf, value);
            inputs.push(buf.to_vec());
        }
        // Overlong, truncated and empty.
        inputs.push(vec![0xff; 11]);
        inputs.push(vec![0xff, 0xff, 0xff, 0xff, 0x1f]);
        inputs.push(vec![
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
        ]);
        inputs.push(vec![0x80]);
        inputs.push(vec![]);
        for input in &inputs {
            let mut reader = Reader::new(bytes::Bytes::from(input.clone()));
            let mut cursor = Cursor::at(input, 0);
            assert_eq!(cursor.read_varint(), reader.read_varint(), "{input:?}");
            let mut reader = Reader::new(bytes::Bytes::from(input.clone()));
            let mut cursor = Cursor::at(input, 0);
            let read = cursor.read_varlong();
            assert_eq!(read, reader.read_varlong(), "{input:?}");
            // Where a failed read leaves the cursor does not matter: the
            // record it was in is rejected.
            if read.is_ok() {
                assert_eq!(cursor.remaining(), reader.remaining(), "{input:?}");
            }
        }
    }

    #[test]
    fn nullable_bytes_are_checked_before_use() {
        let input = [0x06, b'a', b'b', b'c', 0x01, 0x04, b'x'];
        let mut cursor = Cursor::at(&input, 0);
        assert_eq!(cursor.read_nullable_bytes().unwrap(), Some(1..4));
        assert_eq!(cursor.read_nullable_bytes().unwrap(), None);
        assert_eq!(
            cursor.read_nullable_bytes().unwrap_err().kind(),
            &DecodeErrorKind::LengthExceedsInput {
                length: 2,
                remaining: 1
            }
        );
        // -2 is neither null nor a length.
        let mut cursor = Cursor::at(&[0x03], 0);
        assert_eq!(
            cursor.read_nullable_bytes().unwrap_err().kind(),
            &DecodeErrorKind::InvalidLength(-2)
        );
        assert_eq!(Cursor::at(&input, 99).remaining(), 0);
    }
}
