//! Record data: RecordBatch v2, legacy MessageSet v0/v1, and compression.

mod batch;
mod batch_writer;
mod compression;
mod control;
mod error;
mod legacy;
mod legacy_writer;
#[cfg(feature = "lz4")]
mod lz4_kafka;
mod record;
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
