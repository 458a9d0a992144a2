//! What the application's handles and the event loop share: the commands
//! a handle sends, and the copies of the core's state handles read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kafkite::client::{
    ApiVersionTable, ClusterMetadata, RequestError, RequestOptions, Response, Target,
};
use kafkite::consumer::{
    ConsumerEvent, FetchConfig, FetchEvent, GroupConsumerConfig, OffsetAndMetadata, RecordChunk,
};
use kafkite::producer::{
    ConsumerGroupMetadata, PackedRecords, ProducerConfig, ProducerRecord, TransactionOffset,
};
use kafkite::protocol::AnyRequest;
use kafkite::TopicPartition;

use crate::error::Error;
use crate::oneshot;
use crate::producer::batch_waiters::BatchReply;
use crate::producer::buffer_gauge::BufferGauge;
use crate::producer::idempotence_off::IdempotenceOff;
use crate::producer::mailbox::Mailbox;
use crate::producer::slots::TransactionReply;

pub(crate) type Reply = async_channel::Sender<Result<Response, RequestError>>;

/// What a session asks of the event loop.
pub(crate) enum Command {
    Send {
        target: Target,
        /// Boxed: requests vary a lot in size, and most commands are small.
        request: Box<AnyRequest>,
        options: RequestOptions,
        reply: Reply,
    },
    /// Keep these topics in the periodic metadata refresh.
    AddTopics(Vec<String>),
    /// The group's coordinator answered NOT_COORDINATOR (or is not
    /// available): look it up again before the next request to it.
    CoordinatorMoved(String),
    Close {
        reply: async_channel::Sender<()>,
    },
    /// Start a producer (see `producer_slots`).
    ProducerOpen {
        producer: u64,
        config: Box<ProducerConfig>,
        gauge: Arc<BufferGauge>,
        mailbox: Arc<Mailbox>,
        idempotence_off: Arc<IdempotenceOff>,
    },
    /// The producer's mailbox has records (see `producer_mailbox`). It
    /// comes along so that records posted to a producer that has closed
    /// since are still answered.
    ProducerMail {
        producer: u64,
        mailbox: Arc<Mailbox>,
    },
    /// Many records in one hand-over, answered together (see
    /// `Producer::send_batch`); their bytes are reserved already.
    ProduceBatch {
        producer: u64,
        records: BatchRecords,
        /// The buffer bytes reserved for them (`estimated_size` each),
        /// given back when the batch is answered.
        reserved: usize,
        reply: BatchReply,
    },
    ProducerFlush {
        producer: u64,
        reply: oneshot::Sender<()>,
    },
    /// A transactional operation (see `TransactionalProducer`).
    Transaction {
        producer: u64,
        operation: TransactionOp,
        reply: TransactionReply,
    },
    /// Flush, then drop the producer. `None`: its last handle was dropped.
    ProducerClose {
        producer: u64,
        reply: Option<oneshot::Sender<()>>,
    },
    /// Start a fetcher (see `fetch_slots`).
    FetchOpen {
        fetcher: u64,
        config: Box<FetchConfig>,
        starts: Vec<PartitionStart>,
        events: async_channel::Sender<FetchEvent>,
    },
    /// The stream is done with one fetched chunk of this partition.
    FetchRelease {
        fetcher: u64,
        topic: String,
        partition: i32,
        /// The emptied chunk, for reuse (or an empty one).
        records: RecordChunk,
    },
    FetchClose {
        fetcher: u64,
    },
    /// Start a group consumer (see `group_slots`).
    GroupOpen {
        consumer: u64,
        config: Box<GroupConsumerConfig>,
        events: async_channel::Sender<ConsumerEvent>,
        positions: Positions,
    },
    Group {
        consumer: u64,
        request: GroupRequest,
    },
}

/// What sessions read without asking the event loop: copies of the core's
/// state, updated after every turn that changed it.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub metadata: ClusterMetadata,
    pub versions: BTreeMap<i32, ApiVersionTable>,
    /// How many times the event loop woke (see `Session::wakeups`).
    pub wakeups: u64,
}

/// What a `TransactionalProducer` asks of its producer.
pub(crate) enum TransactionOp {
    Init,
    Begin,
    SendOffsets(Vec<TransactionOffset>, ConsumerGroupMetadata),
    Commit,
    Abort,
}

/// The records of one [`Producer::send_batch`] or
/// [`Producer::send_packed`].
#[derive(Debug)]
pub(crate) enum BatchRecords {
    Records(Vec<ProducerRecord>),
    Packed(PackedRecords),
}

impl BatchRecords {
    pub(crate) fn len(&self) -> usize {
        match self {
            BatchRecords::Records(records) => records.len(),
            BatchRecords::Packed(packed) => packed.len(),
        }
    }
}

/// Where a partition starts: an offset, or `None` for the reset policy.
pub(crate) type PartitionStart = (String, i32, Option<i64>);

/// Next offsets to read, per partition, as the application processed them.
pub(crate) type Positions = Arc<Mutex<BTreeMap<TopicPartition, i64>>>;

pub(crate) type CommitReply = oneshot::Sender<Result<(), Error>>;

/// What a handle asks of its consumer.
pub(crate) enum GroupRequest {
    Subscribe(Vec<String>),
    Release(TopicPartition),
    /// `None`: commit the processed positions.
    Commit(
        Option<BTreeMap<TopicPartition, OffsetAndMetadata>>,
        CommitReply,
    ),
    RevocationDone,
    Seek(TopicPartition, i64),
    Pause(TopicPartition),
    Resume(TopicPartition),
    Close(oneshot::Sender<()>),
    /// The member as the group knows it now.
    Metadata(oneshot::Sender<kafkite::producer::ConsumerGroupMetadata>),
}
