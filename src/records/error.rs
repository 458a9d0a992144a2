//! The error the record writers return.
//!
//! Decoding record data fails with the crate-wide
//! [`DecodeError`](crate::protocol::DecodeError); writing has failures of
//! its own (a codec that is not compiled in, a value too long for its length
//! prefix), which this enum names so a producer can tell the user what to
//! change.

use super::compression::Compression;

/// Why a record batch or message set could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordEncodeError {
    /// The codec's cargo feature was disabled when kafkite was built.
    #[error("{codec} compression is not compiled in: enable kafkite's `{feature}` cargo feature")]
    CodecNotCompiled {
        /// The codec asked for.
        codec: Compression,
        /// The cargo feature that compiles the codec in.
        feature: &'static str,
    },
    /// The codec does not exist in this message format: Kafka accepts zstd
    /// only in RecordBatch v2 (KIP-110).
    #[error("{codec} compression needs message format v2 (magic 2), not magic {magic}")]
    CodecNeedsNewerMagic {
        /// The codec asked for.
        codec: Compression,
        /// The magic (message format version) being written.
        magic: i8,
    },
    /// The compressor itself failed.
    #[error("{codec} compression failed: {reason}")]
    CompressionFailed {
        /// The codec that failed.
        codec: Compression,
        /// The compressor's error message.
        reason: String,
    },
    /// A key, value, header or the whole batch is longer than its INT32 or
    /// varint length prefix can express.
    #[error("{field} is {length} bytes, more than its length prefix can express")]
    TooLong {
        /// What was too long, e.g. `"record"` or `"record batch"`.
        field: &'static str,
        /// Its length in bytes (a count, for `"record count"`).
        length: usize,
    },
    /// `finish` was called before any record was appended; Kafka rejects
    /// empty batches from producers.
    #[error("a record batch needs at least one record")]
    EmptyBatch,
    /// An explicit offset that does not follow the previous record's, or
    /// that is too far from the batch's base offset for an INT32 delta.
    #[error("offset {offset} cannot follow offset {previous} in a batch based at {base_offset}")]
    OffsetOutOfOrder {
        /// The offset that was refused.
        offset: i64,
        /// The previous record's offset (`base_offset - 1` before the first).
        previous: i64,
        /// The batch's base offset.
        base_offset: i64,
    },
    /// A legacy message set was asked for with a magic other than 0 or 1.
    #[error("legacy message sets have magic 0 or 1, not {0}")]
    InvalidLegacyMagic(i8),
}
