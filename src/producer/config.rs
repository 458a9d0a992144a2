//! Producer settings, named after the Java client's and librdkafka's.

use std::time::Duration;

use crate::properties::{Properties, PropertyError};
use crate::records::Compression;

/// How many replicas must have a record before the broker acknowledges it
/// (`acks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// 0: the broker never answers; a record is "delivered" once written to
    /// the socket, with no offset.
    None,
    /// 1: the leader has it.
    Leader,
    /// -1 (`all`): every in-sync replica has it.
    All,
}

impl Acks {
    /// The `acks` field of a Produce request: 0, 1 or -1.
    pub fn to_wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// Settings for the producer state machine.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// `acks`. Default `All` (the Java client's default since 3.0).
    pub acks: Acks,
    /// How long a batch waits for more records (`linger.ms`). Default 5 ms.
    pub linger: Duration,
    /// Target batch size in bytes (`batch.size`). Default 64 KiB: larger
    /// than Java's 16 KiB, which costs throughput for small records.
    pub batch_size: usize,
    /// Largest Produce request (`max.request.size`). Default 1 MiB.
    pub max_request_size: usize,
    /// Bytes of records buffered before `send` waits or `try_send` fails
    /// (`buffer.memory`). Default 32 MiB.
    pub buffer_memory: usize,
    /// `compression.type`. Default none.
    pub compression: Compression,
    /// Time limit on a record from `send` to its acknowledgement, retries
    /// included (`delivery.timeout.ms`). Default 120 s.
    pub delivery_timeout: Duration,
    /// How long the broker may take to replicate (`request.timeout.ms`,
    /// sent as the Produce timeout). Default 30 s.
    pub request_timeout: Duration,
    /// First retry delay (`retry.backoff.ms`). Default 100 ms.
    pub retry_backoff: Duration,
    /// Longest retry delay (`retry.backoff.max.ms`). Default 1 s.
    pub retry_backoff_max: Duration,
    /// Produce requests in flight per broker
    /// (`max.in.flight.requests.per.connection`). Default 5. Each carries
    /// at most one batch per partition, and a partition has one batch in
    /// flight at a time, so order holds even on a broker that does not
    /// check idempotent sequences.
    pub max_in_flight: usize,
    /// How long records wait for their topic's metadata while the brokers
    /// do not know the topic (`max.block.ms`). Default 60 s; then they fail
    /// with `UnknownTopic`.
    pub max_block: Duration,
    /// `enable.idempotence`. Default [`Idempotence::Preferred`]: on
    /// where acks=all and the broker (0.11+) allow it, off otherwise, and
    /// said so with
    /// [`ProducerEvent::IdempotenceDisabled`](super::ProducerEvent::IdempotenceDisabled).
    pub idempotence: Idempotence,
    /// `transactional.id`: set, the producer is transactional (and
    /// idempotent): records go out only inside a transaction. Default
    /// none.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: how long the coordinator lets a
    /// transaction stay open before aborting it. Default 60 s.
    pub transaction_timeout: Duration,
}

/// Whether the producer is idempotent (`enable.idempotence`), and whether
/// that was asked for: the two fail differently when it cannot be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Idempotence {
    /// The default: on where the settings and the broker allow it. Without
    /// acks=all, or against a broker that gives no producer id (before
    /// 0.11, or refusing it), the producer goes on without idempotence
    /// rather than not at all, and reports
    /// [`ProducerEvent::IdempotenceDisabled`](super::ProducerEvent::IdempotenceDisabled)
    /// once, so the fallback is seen.
    #[default]
    Preferred,
    /// Asked for (`enable.idempotence=true`, `with_idempotence(true)`):
    /// records fail with
    /// [`ProduceError::Idempotence`](super::ProduceError::Idempotence)
    /// rather than reach the log without
    /// the guarantee the application asked for.
    Required,
    /// Off (`enable.idempotence=false`).
    Off,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size: 64 * 1024,
            max_request_size: 1024 * 1024,
            buffer_memory: 32 * 1024 * 1024,
            compression: Compression::None,
            delivery_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            max_in_flight: 5,
            max_block: Duration::from_secs(60),
            idempotence: Idempotence::Preferred,
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
        }
    }
}

impl ProducerConfig {
    /// The config librdkafka or Java client properties describe: the
    /// producer scope's (`acks`, `linger.ms`, `compression.type`, ...),
    /// the rest at the defaults (see [`crate::properties`]).
    pub fn from_properties(properties: &Properties) -> Result<Self, PropertyError> {
        properties.producer_config()
    }

    /// Sets [`ProducerConfig::acks`] (`acks`).
    pub fn with_acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }
    /// Sets [`ProducerConfig::linger`] (`linger.ms`).
    pub fn with_linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }
    /// Sets [`ProducerConfig::batch_size`] (`batch.size`, bytes).
    pub fn with_batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes;
        self
    }
    /// Sets [`ProducerConfig::max_request_size`] (`max.request.size`, bytes).
    pub fn with_max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = bytes;
        self
    }
    /// Sets [`ProducerConfig::buffer_memory`] (`buffer.memory`, bytes).
    pub fn with_buffer_memory(mut self, bytes: usize) -> Self {
        self.buffer_memory = bytes;
        self
    }
    /// Sets [`ProducerConfig::compression`] (`compression.type`).
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }
    /// Sets [`ProducerConfig::delivery_timeout`] (`delivery.timeout.ms`).
    pub fn with_delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = timeout;
        self
    }
    /// Sets [`ProducerConfig::request_timeout`] (`request.timeout.ms`).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
    /// Sets the first ([`ProducerConfig::retry_backoff`]) and the longest
    /// ([`ProducerConfig::retry_backoff_max`]) retry delay.
    pub fn with_retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.retry_backoff = first;
        self.retry_backoff_max = max;
        self
    }
    /// Sets [`ProducerConfig::max_in_flight`], clamped to 1..=5.
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.clamp(1, 5);
        self
    }
    /// Sets [`ProducerConfig::max_block`] (`max.block.ms`).
    pub fn with_max_block(mut self, limit: Duration) -> Self {
        self.max_block = limit;
        self
    }
    /// Asks for idempotence (`true`: [`Idempotence::Required`]) or turns
    /// it off; without this call it is [`Idempotence::Preferred`].
    pub fn with_idempotence(mut self, on: bool) -> Self {
        self.idempotence = match on {
            true => Idempotence::Required,
            false => Idempotence::Off,
        };
        self
    }

    /// Makes the producer transactional with `transactional_id` (which
    /// implies idempotence and acks=all).
    pub fn with_transactional_id(mut self, transactional_id: impl Into<String>) -> Self {
        self.transactional_id = Some(transactional_id.into());
        self.idempotence = Idempotence::Required;
        self.acks = Acks::All;
        self
    }

    /// Sets [`ProducerConfig::transaction_timeout`] (`transaction.timeout.ms`).
    pub fn with_transaction_timeout(mut self, timeout: Duration) -> Self {
        self.transaction_timeout = timeout;
        self
    }
}
