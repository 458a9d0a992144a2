//! The traits every generated message implements.

use std::fmt::Debug;

use bytes::BytesMut;

use super::generated::api_key::ApiKey;
use super::{DecodeError, EncodeError, Reader};

/// An inclusive range of API versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// The lowest version in the range.
    pub min: i16,
    /// The highest version in the range (inclusive).
    pub max: i16,
}

impl VersionRange {
    /// Whether `version` lies within `min..=max`.
    pub fn contains(&self, version: i16) -> bool {
        version >= self.min && version <= self.max
    }

    /// The overlap of two ranges, if any: what two peers can both speak.
    pub fn intersect(&self, other: &VersionRange) -> Option<VersionRange> {
        let min = self.min.max(other.min);
        let max = self.max.min(other.max);
        (min <= max).then_some(VersionRange { min, max })
    }
}

/// A message body that can be written and read at any of its versions.
pub trait Message: Sized + Debug + Clone + PartialEq + Default {
    /// The spec's name, e.g. "FetchResponse".
    const NAME: &'static str;
    /// The versions this build can encode and decode.
    const VERSIONS: VersionRange;

    /// Appends the body at `version`. Fails, rather than silently dropping
    /// data, when a field holds a value the version cannot carry.
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError>;

    /// Reads the body at `version`. Byte and record fields stay zero-copy
    /// slices of the reader's buffer.
    fn decode(r: &mut Reader, version: i16) -> Result<Self, DecodeError>;

    /// Whether `version` uses the flexible encoding (KIP-482).
    fn is_flexible(version: i16) -> bool;
}

/// A request, tied to its API key and response type.
pub trait Request: Message {
    /// The API key sent in the request header.
    const API_KEY: ApiKey;
    /// The message type the broker answers this request with.
    type Response: Message;
}
