//! What a group member reports, and why it can fail.

use std::collections::BTreeMap;

use super::protocol::ConsumerProtocolError;
use super::TopicPartition;
use crate::client::RequestError;
use crate::consumer::offsets::{OffsetAndMetadata, OffsetError};
use crate::protocol::{ApiKey, ErrorCode};

/// Names a [`super::GroupMember::commit`] call in its
/// [`GroupEvent::Committed`] answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitId(pub u64);

/// Names a [`super::GroupMember::fetch_committed`] call in its
/// [`GroupEvent::CommittedOffsets`] answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OffsetFetchId(pub u64);

/// Committed offsets per partition (`None`: nothing committed).
pub type CommittedOffsets =
    BTreeMap<TopicPartition, Result<Option<OffsetAndMetadata>, OffsetError>>;

/// What the member reports, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupEvent {
    /// These partitions are being taken away. Stop fetching them, commit
    /// what was processed, then call
    /// [`super::GroupMember::revocation_done`]: the member waits for that
    /// call before it rejoins (eager), takes up its new partitions
    /// (cooperative), or leaves.
    PartitionsRevoked(Vec<TopicPartition>),
    /// These partitions are now the member's: fetch them from their
    /// committed offsets. Eager: the whole assignment; cooperative: only
    /// the partitions added (possibly none), the others stay.
    PartitionsAssigned(Vec<TopicPartition>),
    /// The member lost these partitions without a chance to commit (it was
    /// fenced: its session expired, or the coordinator no longer knew its
    /// member id or generation). Another member may already own them.
    PartitionsLost(Vec<TopicPartition>),
    /// A commit finished: each partition's result.
    Committed {
        /// The id [`super::GroupMember::commit`] returned.
        id: CommitId,
        /// Per partition: `Ok` once stored, or why it was not.
        results: BTreeMap<TopicPartition, Result<(), OffsetError>>,
    },
    /// A committed-offset fetch finished.
    CommittedOffsets {
        /// The id [`super::GroupMember::fetch_committed`] returned.
        id: OffsetFetchId,
        /// Per partition its committed offset, or the error that failed the
        /// whole fetch.
        result: Result<CommittedOffsets, OffsetError>,
    },
    /// [`super::GroupMember::leave`] or [`super::GroupMember::close`]
    /// finished: the member is out of the group (or, static, just gone).
    Closed,
    /// Something went wrong; see [`GroupError::is_fatal`].
    Error(GroupError),
}

/// Why membership failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GroupError {
    /// The coordinator refused the member for good: FENCED_INSTANCE_ID
    /// (another process runs with this `group.instance.id`),
    /// INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT,
    /// GROUP_AUTHORIZATION_FAILED, GROUP_MAX_SIZE_REACHED, ...
    #[error("group {group:?}: {} failed: {code}", api.name())]
    Refused {
        /// The request the coordinator refused.
        api: ApiKey,
        /// The group id.
        group: String,
        /// The error code it answered with.
        code: ErrorCode,
    },
    /// A request that cannot succeed by retrying: no common version, the
    /// coordinator lookup refused, an encode error.
    #[error("group {group:?}: {} request failed: {error}", api.name())]
    Request {
        /// The request that failed.
        api: ApiKey,
        /// The group id.
        group: String,
        /// Why it failed.
        error: RequestError,
    },
    /// The coordinator picked an assignor this member did not offer.
    #[error(
        "group {group:?}: the coordinator chose assignor {name:?}, which this member does not have"
    )]
    UnknownAssignor {
        /// The group id.
        group: String,
        /// The assignor name the coordinator chose.
        name: String,
    },
    /// A member's subscription (as leader) does not decode: it gets no
    /// partitions this generation.
    #[error("group {group:?}: member {member_id:?} sent an unreadable subscription: {error}")]
    BadSubscription {
        /// The group id.
        group: String,
        /// The member whose subscription does not decode.
        member_id: String,
        /// Why it does not decode.
        error: ConsumerProtocolError,
    },
    /// The assignment from SyncGroup does not decode: the member rejoins.
    #[error("group {group:?}: the assignment does not decode: {error}")]
    BadAssignment {
        /// The group id.
        group: String,
        /// Why it does not decode.
        error: ConsumerProtocolError,
    },
}

impl GroupError {
    /// Whether the member has stopped: it takes no part in the group any
    /// more, and a new member must be made to try again.
    pub fn is_fatal(&self) -> bool {
        match self {
            GroupError::Request {
                error: RequestError::UnsupportedVersion { guessed: true, .. },
                ..
            } => false,
            GroupError::Refused { .. }
            | GroupError::Request { .. }
            | GroupError::UnknownAssignor { .. } => true,
            GroupError::BadSubscription { .. } | GroupError::BadAssignment { .. } => false,
        }
    }
}
