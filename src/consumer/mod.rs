//! The consumer: fetching with offset resets and back-pressure (see
//! [`FetcherMachine`]). Group membership ([`group`]), the group consumer
//! ([`GroupConsumerMachine`]) and envelopes ([`EnvelopeQueue`]) build on it.

mod envelopes;
mod fetcher;
pub mod group;
mod group_consumer;
mod offsets;
mod record_chunk;

#[cfg(test)]
mod group_consumer_tests;
#[cfg(test)]
mod hostile_fetch_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod truncation_tests;

pub use envelopes::{
    EnvelopeQueue, EnvelopeToken, QueuedBatch, QueuedEnvelope, Resolution, Resolved,
};
pub use fetcher::{
    FetchConfig, FetchError, FetchEvent, FetchedRecords, FetcherMachine, OffsetReset,
};
pub use group_consumer::{ConsumerEvent, GroupConsumerConfig, GroupConsumerMachine};
pub use record_chunk::{RecordChunk, RecordChunkIntoIter, RecordView};

// Consumer groups: committed offsets here, membership in `group`.
pub use offsets::{
    offset_commit_outcome, offset_commit_request, offset_fetch_outcome, offset_fetch_requests,
    reset_offsets, Committer, OffsetAndMetadata, OffsetError,
};
