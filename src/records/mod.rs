//! Record data: RecordBatch v2, legacy MessageSet v0/v1, and compression.
//!
//! Reading starts from the raw `records` field of a Fetch response:
//! [`RecordSet`] cuts it into entries of any format ([`Batch::V2`] for
//! magic 2, [`Batch::Legacy`] for magic 0 and 1), stops quietly at a final
//! entry the broker truncated, and yields [`Record`]s with absolute
//! offsets. Records are decoded lazily; keys, values and headers are
//! `Bytes` slices of the received buffer, or of the one buffer a compressed
//! batch decompresses into.
//!
//! Writing is [`RecordBatchWriter`] (magic 2) and
//! [`LegacyMessageSetWriter`] (magic 0 and 1), each appending into one
//! `BytesMut`; [`batch_rewrite`] edits a finished v2 batch's header in place
//! (base offset, leader epoch, producer state, LogAppendTime).
//!
//! Every decoder checks lengths against the input before allocating, never
//! panics on input, and caps decompression at a configurable size
//! ([`DEFAULT_DECOMPRESSION_LIMIT`]).

pub(crate) mod batch;
pub mod batch_rewrite;
mod batch_writer;
mod checksum;
mod compression;
mod control;
mod cursor;
mod error;
mod legacy;
mod legacy_writer;
#[cfg(feature = "lz4")]
mod lz4_kafka;
mod record;
mod record_set;
#[cfg(feature = "snappy")]
mod xerial;

pub use batch::{
    BatchAttributes, BatchRecords, RecordBatch, RecordBatchHeader, RECORD_BATCH_OVERHEAD,
};
pub use batch_writer::RecordBatchWriter;
pub use compression::{Compression, DEFAULT_DECOMPRESSION_LIMIT};
pub use control::{ControlRecordKey, ControlRecordType};
pub use error::RecordEncodeError;
pub use legacy::{LegacyBatch, LegacyRecords};
pub use legacy_writer::LegacyMessageSetWriter;
pub use record::{Record, RecordHeader, RecordHeaders, RecordHeadersIter, TimestampType};
pub use record_set::{Batch, BatchRecordIter, Batches, RecordSet, RecordSetRecords};
