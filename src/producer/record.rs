//! What goes in (a record to send) and what comes out (its delivery).

use std::sync::Arc;

use bytes::Bytes;

use super::delivered_batch::DeliveredBatch;
use crate::client::RequestError;
use crate::protocol::ErrorCode;

/// A record to produce.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProducerRecord {
    /// Shared, so that sending many records to one topic clones a pointer
    /// rather than allocating the name for each (`ProducerRecord::new`
    /// takes a `&str`, a `String` or an `Arc<str>`).
    pub topic: Arc<str>,
    /// `None`: chosen by the key's murmur2 hash, or sticky for no key.
    pub partition: Option<i32>,
    /// The record key; `None` is a null key.
    pub key: Option<Bytes>,
    /// The record value; `None` is a null value (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in order: each a key and a value (`None`: null).
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Milliseconds since the Unix epoch; `None` takes the send time.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic`, with no key, value, headers, partition or
    /// timestamp.
    pub fn new(topic: impl Into<Arc<str>>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            ..Default::default()
        }
    }
    /// Sends it to this partition instead of the partitioner's choice.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }
    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }
    /// Sets the value.
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }
    /// Adds a header (`None`: a null value).
    pub fn header(mut self, key: impl Into<String>, value: Option<Bytes>) -> Self {
        self.headers.push((key.into(), value));
        self
    }
    /// Sets the timestamp, in milliseconds since the Unix epoch.
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }

    /// Bytes the record occupies in a batch, roughly, for the memory bound.
    pub fn estimated_size(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Bytes::len) + HEADER_OVERHEAD)
            .sum();
        self.key.as_ref().map_or(0, Bytes::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + headers
            + RECORD_OVERHEAD
    }
}

/// What `estimated_size` adds per record and per header beyond their
/// bytes (a record's lengths, deltas and attributes; a header's lengths).
pub(crate) const RECORD_OVERHEAD: usize = 24;
pub(crate) const HEADER_OVERHEAD: usize = 4;

/// Names one `send`, so its delivery can be matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryId(pub u64);

/// Where an acknowledged record landed: the partition, the offset and the
/// timestamp, as Java's `RecordMetadata` and librdkafka's delivery report
/// give them. The topic is the one the record was sent to; it is not
/// repeated here, because a delivery is made for every record on the event
/// loop and dropped on the sender's thread, and a shared topic name would
/// cost two reference-count updates per record on a cache line both
/// threads write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The partition the record was written to.
    pub partition: i32,
    /// -1 with acks=0, or when a retry was recognised as a duplicate of a
    /// write whose offset the broker no longer reports.
    pub offset: i64,
    /// The record's timestamp, or the broker's log-append time.
    pub timestamp: i64,
}

/// Why a record was not delivered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProduceError {
    /// The broker answered the record's batch with an error code that is
    /// not retried.
    #[error("topic {topic}: {code:?}")]
    Broker {
        /// The partition's topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The partition's error code in the Produce response.
        code: ErrorCode,
    },
    /// The record was not acknowledged within
    /// [`ProducerConfig::delivery_timeout`](super::ProducerConfig::delivery_timeout).
    #[error("record for {topic}-{partition} not acknowledged within the delivery timeout")]
    DeliveryTimeout {
        /// The record's topic.
        topic: String,
        /// The partition index; -1 when the topic's metadata never came.
        partition: i32,
    },
    /// The brokers did not know the topic within
    /// [`ProducerConfig::max_block`](super::ProducerConfig::max_block).
    #[error("topic {0} does not exist")]
    UnknownTopic(String),
    /// The record names a partition the topic does not have.
    #[error("partition {partition} does not exist in topic {topic} ({partitions} partitions)")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition the record named.
        partition: i32,
        /// How many partitions the topic has.
        partitions: u32,
    },
    /// The record's estimated size is over
    /// [`ProducerConfig::max_request_size`](super::ProducerConfig::max_request_size).
    #[error("record of {size} bytes is larger than max.request.size {limit}")]
    RecordTooLarge {
        /// The record's estimated size, in bytes.
        size: usize,
        /// `max_request_size`, in bytes.
        limit: usize,
    },
    /// Records handed over together need more than the whole buffer
    /// ([`ProducerConfig::buffer_memory`](super::ProducerConfig::buffer_memory)):
    /// they can never fit.
    #[error("records of {size} bytes in one batch exceed the producer's buffer ({limit} bytes)")]
    BatchTooLarge {
        /// Their estimated size, in bytes.
        size: usize,
        /// `buffer_memory`, in bytes.
        limit: usize,
    },
    /// Queueing the record would pass
    /// [`ProducerConfig::buffer_memory`](super::ProducerConfig::buffer_memory).
    #[error("the producer's buffer ({limit} bytes) is full")]
    QueueFull {
        /// `buffer_memory`, in bytes.
        limit: usize,
    },
    /// Boxed: the request error is large, and every record's outcome
    /// (and every producer event) is as large as its largest variant.
    #[error("request failed: {0}")]
    Request(Box<RequestError>),
    /// The batch could not be encoded; the text says why.
    #[error("cannot encode the record: {0}")]
    Encode(String),
    /// The partition's leader takes only message format v0/v1 (Kafka
    /// before 0.11), which has no place for headers: the batch fails
    /// rather than reaching the log without them.
    #[error("the broker stores message format v{magic}, which has no record headers")]
    HeadersUnsupported {
        /// The message format (magic byte) the leader stores: 0 or 1.
        magic: i8,
    },
    /// The producer is closed: the record was not sent.
    #[error("the producer is closed")]
    Closed,
    /// Idempotence was asked for
    /// ([`Idempotence::Required`](super::Idempotence::Required)), or had
    /// been in force, and cannot be had: the record is not sent without it.
    #[error("idempotence cannot be had: {0}")]
    Idempotence(IdempotenceUnavailable),
    /// A transactional producer refused the record (none open, or the
    /// transaction must abort, or the producer is fenced).
    #[error("transaction: {0}")]
    Transaction(super::TransactionError),
    /// The record was still waiting to be sent when its transaction was
    /// aborted: it was never written.
    #[error("the record's transaction was aborted before it was sent")]
    TransactionAborted,
}

/// Why the producer cannot be idempotent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdempotenceUnavailable {
    /// Idempotence needs every in-sync replica's acknowledgement.
    #[error("idempotence needs acks=all")]
    NeedsAcksAll,
    /// The broker has no InitProducerId (Kafka before 0.11).
    #[error("the broker gives no producer ids (Kafka before 0.11)")]
    Unsupported,
    /// The broker answered InitProducerId with an error that retrying does
    /// not cure (CLUSTER_AUTHORIZATION_FAILED: no IdempotentWrite ACL).
    #[error("the broker refused a producer id: {0:?}")]
    Refused(ErrorCode),
}

// A record's outcome is a `Result<Delivery, ProduceError>`, made and moved
// once per record: kept small (checked when compiling).
const _: () = assert!(std::mem::size_of::<ProduceError>() <= 48);

/// What the producer reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ProducerEvent {
    /// The records of one batch were acknowledged: one event per batch
    /// (see [`DeliveredBatch`]).
    Delivered(DeliveredBatch),
    /// A record was not delivered.
    Failed {
        /// The id `send` returned for it.
        id: DeliveryId,
        /// Why it was not delivered.
        error: ProduceError,
    },
    /// `flush()` finished: everything sent before it is delivered or failed.
    Flushed {
        /// The token [`ProducerMachine::flush`](super::ProducerMachine::flush)
        /// returned.
        token: u64,
    },
    /// Idempotence was on by default
    /// ([`Idempotence::Preferred`](super::Idempotence::Preferred)) and cannot
    /// be had: the producer goes on without it, so a retry may write a
    /// record twice. Reported once;
    /// [`ProducerMachine::is_idempotent`](super::ProducerMachine::is_idempotent) says the
    /// same from then on.
    IdempotenceDisabled {
        /// Why idempotence cannot be had.
        reason: IdempotenceUnavailable,
    },
    /// A transactional operation (`init_transactions`,
    /// `send_offsets_to_transaction`, `commit_transaction`,
    /// `abort_transaction`) finished.
    Transaction {
        /// The token the operation returned.
        token: u64,
        /// How it ended.
        result: Result<(), super::TransactionError>,
    },
}
