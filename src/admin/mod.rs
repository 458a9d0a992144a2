//! Admin operations as pure functions: build the request for an intent
//! (create these topics, the latest offsets of these partitions, ...) and
//! turn the typed response into typed results and [`AdminError`]s.
//!
//! Nothing here sends anything or waits: a driver sends the requests through
//! [`crate::client::Client`], feeds the answers back in, and runs the retry
//! loop, asking [`AdminError::is_retriable`] and
//! [`AdminError::needs_metadata_refresh`] what to do next.
//!
//! Some intents must be phrased differently across versions (DeleteTopics
//! names its topics in another field from v6; Metadata v0 cannot say "every
//! topic" with null). Those builders return [`Phrasing`]s, newest first: the
//! driver sends the first one whose version range the broker speaks. The
//! core rejects a phrasing the broker cannot take with
//! `RequestError::UnsupportedVersion` before writing anything, so trying
//! the next one costs no round trip.

mod cluster;
mod error;
mod metadata;
mod offsets;
mod topics;

pub use cluster::{cluster_from_metadata, cluster_metadata_request, ClusterDescription};
pub use cluster::{describe_cluster_outcome, describe_cluster_request};
pub use error::AdminError;
pub use metadata::{list_topics_requests, topic_metadata_requests, topic_names};
pub use offsets::{list_offsets_outcome, list_offsets_requests, OffsetSpec, OffsetsPlan};
pub use topics::{create_topics_outcome, create_topics_request, NewTopic};
pub use topics::{delete_topics_outcome, delete_topics_requests};

use crate::protocol::VersionRange;

/// One way to phrase a request, and the versions at which that phrasing
/// means what the intent says.
#[derive(Debug, Clone, PartialEq)]
pub struct Phrasing<R> {
    /// The request to send.
    pub request: R,
    /// The API versions (inclusive) at which `request` means the intent.
    pub versions: VersionRange,
}

impl<R> Phrasing<R> {
    fn new(request: R, min: i16, max: i16) -> Self {
        Phrasing {
            request,
            versions: VersionRange { min, max },
        }
    }
}

/// Every version up from `min`.
const OPEN: i16 = i16::MAX;
