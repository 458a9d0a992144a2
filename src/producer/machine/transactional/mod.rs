//! The transactional producer (KIP-98, and KIP-890's second protocol where
//! the cluster has it; see [`protocol`]): a transactional id, an identity
//! from its coordinator that fences older instances, and transactions
//! whose records and consumer offsets become visible to read_committed
//! consumers together, or not at all.
//!
//! ## One coordinator request at a time
//!
//! InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn and EndTxn go to
//! the transactional id's coordinator one after another, as the Java
//! client's queue sends them: each depends on the one before (a partition
//! must be in the transaction before its records are written, and the
//! transaction must hold everything before it ends). Retriable answers
//! (the coordinator loading, moved, or busy finishing the last
//! transaction) are retried after a backoff inside the operation; the
//! application sees only fatal and abortable errors.
//!
//! ## Records wait for their partition (first protocol)
//!
//! A partition's batches are not sent until AddPartitionsToTxn has put the
//! partition in the transaction. Partitions are added in one request for
//! all that are waiting, as they turn up, so a transaction over many
//! partitions costs a few round trips, not one per partition.
//!
//! ## Requests that add themselves (second protocol)
//!
//! Under the second protocol a Produce (v12) puts its partitions in the
//! transaction and a TxnOffsetCommit (v5) its group: neither
//! AddPartitionsToTxn nor AddOffsetsToTxn is sent. A partition counts as
//! in the transaction once a batch of it has gone out, a group once its
//! offsets have, as the Java client counts them, so the transaction is
//! ended (or aborted) whenever the coordinator may have begun it. Every
//! EndTxn (v5) bumps the producer epoch, or moves to a new producer id
//! when the epoch would overflow: the producer adopts what it returns,
//! and each partition's sequence starts again at 0 under it.
//!
//! ## Ending
//!
//! A commit sends everything queued (as a flush does) and waits until every
//! batch is acknowledged; if any failed, the commit fails as abortable. An
//! abort fails the records not yet sent with `TransactionAborted`, waits
//! for the batches in flight (they may be written; the abort marker hides
//! them), then ends the transaction. A transaction that touched nothing
//! ends without a request.
//!
//! Under the first protocol Produce stays at v11, EndTxn at v4 and
//! TxnOffsetCommit at v4: the coordinator takes the protocol from the
//! client's request versions (see [`protocol`]).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::partition_queue::PartitionKey;
use crate::client::RequestId;
use crate::producer::record::ProduceError;
use crate::producer::transaction::{
    ConsumerGroupMetadata, TransactionError, TransactionOffset, TransactionProtocol,
};
use crate::protocol::VersionRange;

mod answers;
mod ending;
mod operations;
mod protocol;
mod requests;

/// Client AddPartitionsToTxn: v4+ is the brokers' own batched form.
const ADD_PARTITIONS_VERSIONS: VersionRange = VersionRange { min: 0, max: 3 };
/// InitProducerId from v3 takes the current id and epoch, to bump the
/// epoch after an abort rather than fence ourselves (KIP-360).
const INIT_WITH_EPOCH: i16 = 3;
/// How soon a request answered CONCURRENT_TRANSACTIONS is first sent
/// again, doubling at each such answer up to
/// [`CONCURRENT_TRANSACTIONS_BACKOFF_MAX`]. The coordinator is writing the
/// last transaction's markers, which on a local broker takes about 2 ms:
/// the first partition of the next transaction, added at once, meets it
/// every time, and a fixed 20 ms (the Java client's) was most of a
/// transaction's time in `txn_overhead`.
const CONCURRENT_TRANSACTIONS_BACKOFF: Duration = Duration::from_millis(2);
const CONCURRENT_TRANSACTIONS_BACKOFF_MAX: Duration = Duration::from_millis(20);

/// Where the transactional producer is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TxnState {
    Uninitialized,
    Initializing,
    Ready,
    InTransaction,
    Committing,
    Aborting,
    /// Something in the transaction failed: only an abort goes on.
    Abortable(TransactionError),
    Fatal(TransactionError),
}

impl TxnState {
    fn name(&self) -> &'static str {
        match self {
            TxnState::Uninitialized => "not initialised",
            TxnState::Initializing => "initialising",
            TxnState::Ready => "ready, with no transaction open",
            TxnState::InTransaction => "in a transaction",
            TxnState::Committing => "committing",
            TxnState::Aborting => "aborting",
            TxnState::Abortable(_) => "in a transaction that must abort",
            TxnState::Fatal(_) => "failed",
        }
    }
}

/// The coordinator request in flight (or waiting for its retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Init,
    AddPartitions,
    AddOffsets,
    CommitOffsets,
    End { commit: bool },
}

/// Offsets on their way into the transaction.
#[derive(Debug)]
struct PendingOffsets {
    token: u64,
    group: ConsumerGroupMetadata,
    offsets: Vec<TransactionOffset>,
    /// The group is in the transaction (AddOffsetsToTxn succeeded), or
    /// joins it with the TxnOffsetCommit itself (second protocol).
    added: bool,
}

/// The operation the application waits for, and until when.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    token: u64,
    operation: &'static str,
    until: Instant,
}

/// The transactional part of a producer's state.
#[derive(Debug)]
pub(super) struct Transactions {
    id: String,
    timeout: Duration,
    state: TxnState,
    /// Chosen at every InitProducerId answer, with no transaction open.
    protocol: TransactionProtocol,
    /// Partitions in the current transaction, per the coordinator.
    added: BTreeSet<PartitionKey>,
    /// Partitions with records, waiting to be added.
    to_add: BTreeSet<PartitionKey>,
    /// A partition new to the transaction got its first batch: drive at
    /// this moment to add it (see `place`).
    pub(super) add_due: Option<Instant>,
    /// Partitions in the AddPartitionsToTxn in flight.
    adding: Vec<PartitionKey>,
    /// Groups whose offsets are in the transaction (AddOffsetsToTxn
    /// answered): the transaction is not empty, and their next offsets go
    /// straight to TxnOffsetCommit.
    groups: BTreeSet<String>,
    offsets: Option<PendingOffsets>,
    in_flight: Option<(RequestId, Step)>,
    retry_at: Option<Instant>,
    /// The init, commit or abort the application waits for.
    waiting: Option<Waiting>,
    /// CONCURRENT_TRANSACTIONS answers in a row, for their backoff.
    concurrent_retries: u32,
    /// After an abort, bump the epoch (a sequence went wrong; KIP-360)
    /// before the next transaction.
    bump_epoch: bool,
    next_token: u64,
}

impl Transactions {
    pub(super) fn new(id: String, timeout: Duration) -> Self {
        Transactions {
            id,
            timeout,
            state: TxnState::Uninitialized,
            protocol: TransactionProtocol::V1,
            added: BTreeSet::new(),
            to_add: BTreeSet::new(),
            adding: Vec::new(),
            add_due: None,
            groups: BTreeSet::new(),
            offsets: None,
            in_flight: None,
            retry_at: None,
            waiting: None,
            concurrent_retries: 0,
            bump_epoch: false,
            next_token: 1,
        }
    }

    fn take_token(&mut self) -> u64 {
        let token = self.next_token;
        self.next_token += 1;
        token
    }

    /// Whether a partition's batches may be sent now.
    pub(super) fn admits(&mut self, partition: &PartitionKey) -> bool {
        // An abort sends nothing more: a batch put back for a retry is
        // dropped with the rest (see `drive_transaction`).
        if self.state == TxnState::Aborting {
            return false;
        }
        if self.added.contains(partition) {
            return true;
        }
        if self.protocol.adds_implicitly() {
            // The Produce adds it (see `sent`). Not once the transaction
            // must abort: nothing new joins it then, as under the first
            // protocol.
            return matches!(self.state, TxnState::InTransaction | TxnState::Committing);
        }
        let asked = self.adding.contains(partition);
        if !asked && matches!(self.state, TxnState::InTransaction | TxnState::Committing) {
            self.to_add.insert(partition.clone());
        }
        false
    }

    /// A batch of `partition` goes out in a Produce: under the second
    /// protocol that puts the partition in the transaction.
    pub(super) fn sent(&mut self, partition: &PartitionKey) {
        if self.protocol.adds_implicitly() && !self.added.contains(partition) {
            self.added.insert(partition.clone());
        }
    }

    /// Whether a batch of `topic`'s `partition` would be the partition's
    /// first in the transaction (neither added nor waiting to be), to be
    /// added by AddPartitionsToTxn: never under the second protocol.
    pub(super) fn is_new_partition(&self, topic: &std::sync::Arc<str>, partition: i32) -> bool {
        if self.protocol.adds_implicitly() {
            return false;
        }
        let key = (
            crate::producer::topic_key::TopicKey(std::sync::Arc::clone(topic)),
            partition,
        );
        !self.added.contains(&key) && !self.to_add.contains(&key) && !self.adding.contains(&key)
    }

    /// Why a new record is refused, if it is.
    pub(super) fn refusal(&self) -> Option<ProduceError> {
        match &self.state {
            TxnState::InTransaction => None,
            TxnState::Abortable(e) | TxnState::Fatal(e) => {
                Some(ProduceError::Transaction(e.clone()))
            }
            other => Some(ProduceError::Transaction(TransactionError::WrongState {
                operation: "sending a record",
                state: other.name(),
            })),
        }
    }

    /// The next moment the transactional part has something to do.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let retry = self.retry_at.filter(|_| self.in_flight.is_none());
        [retry, self.waiting.map(|w| w.until), self.add_due]
            .into_iter()
            .flatten()
            .min()
    }

    /// The transactional id Produce requests carry.
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    /// The protocol spoken with the coordinator.
    pub(super) fn protocol(&self) -> TransactionProtocol {
        self.protocol
    }
}

impl Transactions {
    fn group_added(&self, group: &str) -> bool {
        self.groups.contains(group)
    }
}

impl Step {
    fn operation(self) -> &'static str {
        match self {
            Step::Init => "InitProducerId",
            Step::AddPartitions => "AddPartitionsToTxn",
            Step::AddOffsets => "AddOffsetsToTxn",
            Step::CommitOffsets => "TxnOffsetCommit",
            Step::End { .. } => "EndTxn",
        }
    }
}

fn wrong_state(operation: &'static str, state: &TxnState) -> TransactionError {
    match state {
        TxnState::Fatal(e) => e.clone(),
        other => TransactionError::WrongState {
            operation,
            state: other.name(),
        },
    }
}
