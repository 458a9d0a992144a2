//! Consumer groups, sans IO: the embedded consumer protocol, the partition
//! assignors, and the membership state machine ([`GroupMember`]).
//!
//! A consumer that joins a group drives a [`GroupMember`] next to its
//! [`crate::consumer::FetcherMachine`]: on [`GroupEvent::PartitionsAssigned`] it
//! reads the committed offsets ([`GroupMember::fetch_committed`]) and
//! assigns the partitions to the fetcher; on
//! [`GroupEvent::PartitionsRevoked`] it unassigns them, commits, and calls
//! [`GroupMember::revocation_done`]; on [`GroupEvent::PartitionsLost`] it
//! unassigns them without committing.

pub mod assignor;
mod close;
mod commits;
mod config;
mod event;
mod heartbeat;
mod member;
pub mod protocol;
mod rebalance;
mod requests;

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
pub(crate) mod scripted;
#[cfg(test)]
mod tests;

pub use assignor::{Assignor, RebalanceProtocol};
pub use config::GroupConfig;
pub use event::{CommitId, CommittedOffsets, GroupError, GroupEvent, OffsetFetchId};
pub use member::{GroupMember, GroupState};
pub use requests::PROTOCOL_TYPE;

/// A topic and one of its partitions.
pub use crate::TopicPartition;
