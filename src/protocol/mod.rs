//! The Kafka wire protocol: primitives, generated messages, headers and
//! error codes. Nothing here does IO; everything encodes into `BytesMut` and
//! decodes from `Bytes`.

pub mod decode_error;
pub mod wire;

pub use decode_error::{DecodeError, DecodeErrorKind, EncodeError};
pub use wire::{RawTaggedField, Reader, Uuid};
