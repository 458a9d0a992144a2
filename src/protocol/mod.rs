//! The Kafka wire protocol: primitives, generated messages, headers and
//! error codes. Nothing here does IO; everything encodes into `BytesMut` and
//! decodes from `Bytes`.

pub mod decode_error;
mod error_code_display;
pub mod frame;
#[cfg(test)]
mod fuzz_seeds;
// Kafka's JSON specs document most fields, not all: the generator copies
// what they say, and adds nothing of its own.
#[allow(missing_docs)]
mod generated;
pub mod message;
#[cfg(test)]
pub(crate) mod test_support;
pub mod topic_name;
pub mod wire;

pub use decode_error::{DecodeError, DecodeErrorKind, EncodeError};
pub use generated::api_key::{AnyRequest, AnyResponse, ApiKey};
pub use generated::error_code::ErrorCode;
pub use generated::messages;
pub use message::{Message, Request, VersionRange};
pub use topic_name::{check_topic_name, TopicNameError, MAX_TOPIC_NAME_LEN};
pub use wire::{RawTaggedField, Reader, UnknownTaggedFields, Uuid};
