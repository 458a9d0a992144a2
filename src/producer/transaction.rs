//! What a transactional producer's operations take and how they fail:
//! the consumer group's identity that offsets are committed under, the
//! offsets themselves, and [`TransactionError`] in the three classes the
//! Java client uses (fatal, abortable, and retried inside the call, which
//! the application never sees).

use crate::client::RequestError;
use crate::protocol::ErrorCode;

/// The consumer group a transaction's offsets are committed for, as the
/// group's coordinator knows the member (KIP-447): a zombie member of an
/// older generation is refused, so its transaction cannot commit offsets
/// another member now owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// The group id.
    pub group_id: String,
    /// The generation the member joined in; -1 for offsets committed
    /// without a membership (a consumer with manual assignment).
    pub generation_id: i32,
    /// The member id the coordinator gave; empty without a membership.
    pub member_id: String,
    /// The static member's instance id (KIP-345), if it has one.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Offsets for `group_id` without a membership: the coordinator does
    /// not check generation or member.
    pub fn without_membership(group_id: impl Into<String>) -> Self {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

/// One partition's offset to commit in a transaction: the offset of the
/// next record to consume (the last one processed, plus one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The next offset to consume.
    pub offset: i64,
    /// The leader epoch of the last record consumed, or -1.
    pub leader_epoch: i32,
    /// Metadata stored with the offset.
    pub metadata: Option<String>,
}

impl TransactionOffset {
    /// `offset` for `topic`-`partition`, without leader epoch or metadata.
    pub fn new(topic: impl Into<String>, partition: i32, offset: i64) -> Self {
        TransactionOffset {
            topic: topic.into(),
            partition,
            offset,
            leader_epoch: -1,
            metadata: None,
        }
    }
}

/// The transaction protocol a transactional producer speaks (KIP-890).
///
/// Which one a producer speaks is chosen with its coordinator at
/// `init_transactions`: the second when the cluster has finalized the
/// `transaction.version` feature at 2 and the brokers speak its request
/// versions, the first otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransactionProtocol {
    /// The first protocol (KIP-98): AddPartitionsToTxn before a
    /// partition's first write, AddOffsetsToTxn before offsets, and one
    /// epoch for the producer's life.
    #[default]
    V1,
    /// The second (KIP-890 part 2): Produce and TxnOffsetCommit add
    /// partitions and groups themselves, and every EndTxn bumps the epoch.
    V2,
}

/// A transactional operation's outcome. [`TransactionError::is_fatal`]
/// says whether the producer can go on: after an abortable error the
/// application aborts the transaction and starts another; after a fatal
/// one only a new producer (and `init_transactions`) can.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransactionError {
    /// The producer was made without a transactional id.
    #[error("the producer has no transactional id")]
    NotTransactional,
    /// The operation does not fit where the producer is: records or
    /// offsets sent outside `begin_transaction`, a commit with none open,
    /// a second `init_transactions`.
    #[error("{operation} is not allowed while the producer is {state}")]
    WrongState {
        /// What was asked.
        operation: &'static str,
        /// Where the producer was.
        state: &'static str,
    },
    /// Another producer with the same transactional id initialised after
    /// this one (or the coordinator aborted this one's transaction at its
    /// timeout and bumped the epoch): this producer can do nothing more.
    /// Fatal.
    #[error("fenced: a newer producer has transactional id {transactional_id:?}")]
    Fenced {
        /// The transactional id.
        transactional_id: String,
    },
    /// The broker refused for a reason no retry or abort fixes
    /// (authorization, an invalid state). Fatal.
    #[error("{operation} refused: {code}")]
    Refused {
        /// The request refused.
        operation: &'static str,
        /// The broker's error.
        code: ErrorCode,
    },
    /// Something in the transaction failed (a record not delivered, the
    /// group refused the offsets): it cannot commit. Abort it; the
    /// producer goes on.
    #[error("the transaction must be aborted: {reason}")]
    Abortable {
        /// What failed.
        reason: String,
    },
    /// The brokers have no transactions (before Kafka 0.11). Fatal.
    #[error("the brokers do not support transactions")]
    Unsupported,
    /// The operation did not finish within `max_block`; it goes on, and
    /// calling it again waits for it.
    #[error("{operation} did not finish in time; it goes on, and may be called again")]
    TimedOut {
        /// The operation.
        operation: &'static str,
    },
    /// The transaction was aborted before the offsets given for it were
    /// committed: they were not.
    #[error("the transaction was aborted before its offsets were committed")]
    Aborted,
    /// A request failed in a way retries do not fix. Fatal.
    #[error("{operation} failed: {error}")]
    Request {
        /// The operation.
        operation: &'static str,
        /// Why.
        error: Box<RequestError>,
    },
}

impl TransactionError {
    /// True when the producer can do nothing more: make a new one.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            TransactionError::Fenced { .. }
                | TransactionError::Refused { .. }
                | TransactionError::Unsupported
                | TransactionError::Request { .. }
        )
    }

    /// True when the transaction must be aborted, after which the
    /// producer goes on.
    pub fn is_abortable(&self) -> bool {
        matches!(self, TransactionError::Abortable { .. })
    }
}
