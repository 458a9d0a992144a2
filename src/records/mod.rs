//! Record data: RecordBatch v2, legacy MessageSet v0/v1, and compression.

mod compression;
mod error;
#[cfg(feature = "lz4")]
mod lz4_kafka;
#[cfg(feature = "snappy")]
mod xerial;

pub use compression::{Compression, DEFAULT_DECOMPRESSION_LIMIT};
pub use error::RecordEncodeError;
