//! Reading legacy message sets: magic 0 (Kafka 0.8-0.9) and magic 1
//! (Kafka 0.10, KIP-32 timestamps).
//!
//! A legacy message set is a sequence of entries: offset (INT64), size
//! (INT32), then a message: CRC-32 (IEEE, of everything after it), magic,
//! attributes, a timestamp in magic 1, and INT32-prefixed key and value.
//! Compression wraps a whole inner message set into the value of one
//! "wrapper" message. Like Java, we treat each top-level message as a
//! batch: a plain message is a batch of one record, a wrapper a batch of
//! its inner messages.

use bytes::Bytes;

use super::compression::{Compression, DEFAULT_DECOMPRESSION_LIMIT};
use super::record::{Record, RecordHeaders, TimestampType};
use crate::protocol::{DecodeError, DecodeErrorKind, Reader};

/// Offset and size before each message.
pub(crate) const LOG_OVERHEAD: usize = 12;
/// CRC, magic, attributes, key and value lengths: the smallest magic 0
/// message. Java rejects any entry whose size is below this.
pub(crate) const MESSAGE_OVERHEAD_V0: usize = 14;
/// Magic 1 adds an INT64 timestamp.
pub(crate) const MESSAGE_OVERHEAD_V1: usize = 22;
/// The CRC covers the message from its magic byte on.
const MAGIC_IN_MESSAGE: usize = 4;

/// One top-level message of a legacy message set, checked but not
/// decompressed: a plain message, or a compressed wrapper of inner ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyBatch {
    message: LegacyMessage,
    compression: Compression,
    bytes: Bytes,
    decompression_limit: usize,
}

/// One decoded legacy message, with its entry's offset.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LegacyMessage {
    offset: i64,
    crc: u32,
    magic: i8,
    attributes: i8,
    /// -1 in magic 0, which has none.
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

impl LegacyMessage {
    fn compression(&self) -> Result<Compression, DecodeError> {
        Compression::from_attributes(self.attributes.into())
            .map_err(|error| error.in_field("attributes"))
    }

    fn timestamp_type(&self) -> TimestampType {
        if self.magic == 0 {
            TimestampType::NoTimestamp
        } else {
            TimestampType::from_attributes(self.attributes.into())
        }
    }
}

impl LegacyBatch {
    /// Decodes one entry from exactly its bytes: checks size, magic and
    /// CRC-32. A wrapper's inner messages are checked as they are iterated.
    pub fn decode(bytes: Bytes) -> Result<LegacyBatch, DecodeError> {
        let decoded = || -> Result<_, DecodeError> {
            let mut reader = Reader::new(bytes.clone());
            let message = decode_entry(&mut reader)?;
            reader.expect_end()?;
            let compression = message.compression()?;
            Ok((message, compression))
        };
        match decoded() {
            Ok((message, compression)) => Ok(LegacyBatch {
                message,
                compression,
                bytes,
                decompression_limit: DEFAULT_DECOMPRESSION_LIMIT,
            }),
            Err(error) => Err(error.in_message("Message", message_magic(&bytes).into())),
        }
    }

    /// The entry's offset: for a wrapper, the offset of its last inner
    /// message.
    pub fn offset(&self) -> i64 {
        self.message.offset
    }

    /// The message format version: 0 or 1.
    pub fn magic(&self) -> i8 {
        self.message.magic
    }

    /// The stored CRC-32 (IEEE) of the message from its magic byte on.
    pub fn crc(&self) -> u32 {
        self.message.crc
    }

    /// The codec the entry's value is compressed with; `None` for a plain
    /// message.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Whether the entry is a compressed wrapper of inner messages.
    pub fn is_compressed(&self) -> bool {
        self.compression() != Compression::None
    }

    /// NoTimestamp for magic 0, else CreateTime or LogAppendTime from the
    /// attributes.
    pub fn timestamp_type(&self) -> TimestampType {
        self.message.timestamp_type()
    }

    /// The message's timestamp: for a v1 wrapper, the max of its inner
    /// messages' (CreateTime) or the broker's append time.
    pub fn timestamp(&self) -> i64 {
        self.message.timestamp
    }

    /// The entry as received.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Caps the size of a wrapper's decompressed inner message set (default
    /// [`DEFAULT_DECOMPRESSION_LIMIT`]).
    pub fn with_decompression_limit(mut self, limit: usize) -> LegacyBatch {
        self.decompression_limit = limit;
        self
    }

    /// The records: the message itself, or a wrapper's inner messages,
    /// decompressed into one buffer.
    pub fn records(&self) -> Result<LegacyRecords, DecodeError> {
        self.wrapped_records()
            .map_err(|error| error.in_message("Message", self.magic().into()))
    }

    fn wrapped_records(&self) -> Result<LegacyRecords, DecodeError> {
        let message = &self.message;
        let codec = self.compression();
        if codec == Compression::None {
            let (timestamp, timestamp_type) = (message.timestamp, message.timestamp_type());
            return Ok(LegacyRecords {
                inner: Inner::Single(Some(Record {
                    offset: message.offset,
                    timestamp,
                    timestamp_type,
                    key: message.key.clone(),
                    value: message.value.clone(),
                    headers: RecordHeaders::default(),
                })),
            });
        }
        let value = message.value.as_ref().ok_or_else(|| {
            DecodeError::new(DecodeErrorKind::InvalidValue(
                "compressed wrapper message has a null value",
            ))
            .in_field("value")
        })?;
        let inner = codec
            .decompress(value, message.magic, self.decompression_limit)
            .map_err(|error| error.in_field("value"))?;
        let last_inner_offset =
            last_entry_offset(&inner).map_err(|error| error.in_field("value"))?;
        // Magic 1 inner offsets are relative (KIP-31): the wrapper carries the
        // absolute offset of the last one. A wrapper straight from a producer
        // carries 0 instead; Java then keeps the inner offsets as they are,
        // and so do we.
        let absolute_base = (message.magic > 0)
            .then(|| message.offset.checked_sub(last_inner_offset))
            .flatten()
            .filter(|base| *base >= 0);
        let log_append_time = (message.magic > 0
            && message.timestamp_type() == TimestampType::LogAppendTime)
            .then_some(message.timestamp);
        Ok(LegacyRecords {
            inner: Inner::Wrapped {
                reader: Reader::new(inner),
                wrapper_magic: message.magic,
                absolute_base,
                log_append_time,
                failed: false,
            },
        })
    }
}

/// Iterates the records of one legacy entry: one for a plain message, the
/// inner messages of a wrapper. Yields an error and stops at a corrupt or
/// nested-compressed inner message.
#[derive(Debug, Clone)]
pub struct LegacyRecords {
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    Single(Option<Record>),
    Wrapped {
        reader: Reader,
        wrapper_magic: i8,
        /// What to add to each inner offset, for magic 1 relative offsets.
        absolute_base: Option<i64>,
        /// The wrapper's timestamp, when it is LogAppendTime: it replaces
        /// every inner message's.
        log_append_time: Option<i64>,
        failed: bool,
    },
}

impl Iterator for LegacyRecords {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Single(record) => record.take().map(Ok),
            Inner::Wrapped {
                reader,
                wrapper_magic,
                absolute_base,
                log_append_time,
                failed,
            } => {
                if *failed || reader.remaining() == 0 {
                    return None;
                }
                let record = inner_record(reader, *absolute_base, *log_append_time);
                if record.is_err() {
                    *failed = true;
                }
                Some(record.map_err(|error| {
                    error
                        .in_field("value")
                        .in_message("Message", (*wrapper_magic).into())
                }))
            }
        }
    }
}

fn inner_record(
    reader: &mut Reader,
    absolute_base: Option<i64>,
    log_append_time: Option<i64>,
) -> Result<Record, DecodeError> {
    let message = decode_entry(reader)?;
    if message.compression()? != Compression::None {
        // Kafka compresses one level only; deeper nesting is corrupt data
        // (and a way to multiply a decompression bomb).
        return Err(DecodeErrorKind::InvalidValue(
            "compressed message nested in a compressed message",
        )
        .into());
    }
    let (timestamp, timestamp_type) = match log_append_time {
        Some(timestamp) => (timestamp, TimestampType::LogAppendTime),
        None => (message.timestamp, message.timestamp_type()),
    };
    let offset = match absolute_base {
        Some(base) => base.checked_add(message.offset).ok_or_else(|| {
            DecodeError::new(DecodeErrorKind::InvalidValue(
                "wrapper offset plus inner offset overflows an INT64",
            ))
            .in_field("offset")
        })?,
        None => message.offset,
    };
    Ok(Record {
        offset,
        timestamp,
        timestamp_type,
        key: message.key,
        value: message.value,
        headers: RecordHeaders::default(),
    })
}

/// Reads one entry (offset, size, message), checking the CRC.
fn decode_entry(reader: &mut Reader) -> Result<LegacyMessage, DecodeError> {
    let offset = reader.read_i64()?;
    let size = reader.read_i32()?;
    if !matches!(usize::try_from(size), Ok(size) if size >= MESSAGE_OVERHEAD_V0) {
        return Err(
            DecodeError::new(DecodeErrorKind::InvalidLength(size.into())).in_field("messageSize"),
        );
    }
    let bytes = reader.read_slice(size as usize)?;
    let mut message = Reader::new(bytes.clone());
    let crc = message.read_u32()?;
    // The CRC first: it covers the magic byte too, and a flipped bit there
    // is corruption like any other.
    let computed = crc32fast::hash(&bytes[MAGIC_IN_MESSAGE..]);
    if crc != computed {
        return Err(DecodeError::new(DecodeErrorKind::ChecksumMismatch {
            stored: crc,
            computed,
        })
        .in_field("crc"));
    }
    let magic = message.read_i8()?;
    if !(0..=1).contains(&magic) {
        return Err(DecodeError::new(DecodeErrorKind::InvalidValue(
            "legacy message magic is not 0 or 1",
        ))
        .in_field("magic"));
    }
    let attributes = message.read_i8()?;
    let timestamp = if magic == 0 { -1 } else { message.read_i64()? };
    let key = message
        .read_nullable_bytes(false)
        .map_err(|error| error.in_field("key"))?;
    let value = message
        .read_nullable_bytes(false)
        .map_err(|error| error.in_field("value"))?;
    message.expect_end()?;
    Ok(LegacyMessage {
        offset,
        crc,
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

/// The offset of the last entry of an inner message set, found by walking
/// the entries' sizes. An empty or truncated inner set is corrupt: the
/// whole of it was compressed at once.
fn last_entry_offset(set: &Bytes) -> Result<i64, DecodeError> {
    let mut reader = Reader::new(set.clone());
    let mut last = None;
    while reader.remaining() > 0 {
        let offset = reader.read_i64()?;
        let size = reader.read_i32()?;
        let size =
            usize::try_from(size).map_err(|_| DecodeErrorKind::InvalidLength(size.into()))?;
        reader.skip(size)?;
        last = Some(offset);
    }
    last.ok_or_else(|| {
        DecodeErrorKind::InvalidValue("compressed wrapper message holds no messages").into()
    })
}

/// The magic byte of an entry, for error messages; -1 if it is too short.
fn message_magic(entry: &[u8]) -> i8 {
    entry
        .get(LOG_OVERHEAD + MAGIC_IN_MESSAGE)
        .map_or(-1, |magic| *magic as i8)
}
