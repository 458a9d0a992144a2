//! [`TransactionalProducer`]: a producer whose records, and the consumer
//! offsets given with them, become visible to read_committed consumers
//! together when a transaction commits, and never when it aborts.

use std::sync::atomic::{AtomicU8, Ordering};

use kafkite::producer::{
    ConsumerGroupMetadata, ProduceError, ProducerConfig, ProducerRecord, TransactionError,
    TransactionOffset, TransactionProtocol,
};

use crate::error::Error;
use crate::event_loop::command::{Command, TransactionOp};
use crate::oneshot;
use crate::producer::{DeliveryFuture, Producer};
use crate::runtime::Runtime;
use crate::session::Session;

/// A producer with a transactional id (see
/// [`ProducerConfig::with_transactional_id`]).
///
/// [`TransactionalProducer::new`] fences any older producer with the same
/// id (its open transaction is aborted). Then, per transaction:
/// [`begin`](Self::begin), [`send`](Self::send) records,
/// [`send_offsets`](Self::send_offsets) for what was consumed, and
/// [`commit`](Self::commit) or [`abort`](Self::abort). A record sent
/// outside a transaction fails with [`ProduceError::Transaction`].
///
/// Errors say what to do next ([`TransactionError::is_fatal`]): after an
/// abortable one, abort and go on; after a fatal one (fenced), drop this
/// producer.
pub struct TransactionalProducer<R: Runtime> {
    producer: Producer<R>,
    /// The protocol the last answered operation left in force (see
    /// [`Self::protocol`]), as [`protocol_code`].
    protocol: AtomicU8,
}

impl<R: Runtime> std::fmt::Debug for TransactionalProducer<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionalProducer")
            .field("producer", &self.producer)
            .field("protocol", &self.protocol())
            .finish()
    }
}

impl<R: Runtime> TransactionalProducer<R> {
    /// Starts the producer and initialises its transactions: the id's
    /// coordinator fences older producers with the same transactional id
    /// and finishes what they left open.
    pub async fn new(session: &Session<R>, config: ProducerConfig) -> Result<Self, Error> {
        if config.transactional_id.is_none() {
            return Err(Error::Transaction(TransactionError::NotTransactional));
        }
        let producer = Producer::new(session, config).await?;
        let this = TransactionalProducer {
            producer,
            protocol: AtomicU8::new(protocol_code(TransactionProtocol::V1)),
        };
        this.run(TransactionOp::Init).await?;
        Ok(this)
    }

    /// Opens a transaction.
    pub async fn begin(&self) -> Result<(), Error> {
        self.run(TransactionOp::Begin).await
    }

    /// Queues a record in the open transaction (see [`Producer::send`]).
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture, ProduceError> {
        self.producer.send(record).await
    }

    /// Adds consumed offsets to the open transaction: committed for
    /// `group` if, and only if, the transaction commits. `group` comes
    /// from the consumer (`GroupConsumer::group_metadata`), so a member
    /// of an older generation is refused.
    pub async fn send_offsets(
        &self,
        offsets: Vec<TransactionOffset>,
        group: ConsumerGroupMetadata,
    ) -> Result<(), Error> {
        self.run(TransactionOp::SendOffsets(offsets, group)).await
    }

    /// Commits the open transaction once every record in it is
    /// acknowledged.
    pub async fn commit(&self) -> Result<(), Error> {
        self.run(TransactionOp::Commit).await
    }

    /// Aborts the open transaction: records not yet sent fail with
    /// [`ProduceError::TransactionAborted`], and those written stay
    /// invisible to read_committed consumers.
    pub async fn abort(&self) -> Result<(), Error> {
        self.run(TransactionOp::Abort).await
    }

    /// The transaction protocol spoken with the coordinator (KIP-890):
    /// [`TransactionProtocol::V2`] when the cluster has finalized
    /// `transaction.version` 2 (Kafka 4.0+ with it enabled), else
    /// [`TransactionProtocol::V1`]. Chosen by [`Self::new`] (and again
    /// whenever the producer re-initialises after an abort).
    pub fn protocol(&self) -> TransactionProtocol {
        match self.protocol.load(Ordering::Relaxed) {
            2 => TransactionProtocol::V2,
            _ => TransactionProtocol::V1,
        }
    }

    /// The producer underneath, for `send_batch`, `send_packed` and the
    /// buffer's state; its records join the open transaction too.
    pub fn producer(&self) -> &Producer<R> {
        &self.producer
    }

    /// Closes the producer (an open transaction is left to the
    /// coordinator, which aborts it at the transaction timeout or when a
    /// new producer with the same id initialises).
    pub async fn close(&self) {
        self.producer.close().await
    }

    async fn run(&self, operation: TransactionOp) -> Result<(), Error> {
        let (reply, done) = oneshot::channel();
        let inner = &self.producer.inner;
        inner
            .session
            .command(Command::Transaction {
                producer: inner.id,
                operation,
                reply,
            })
            .await?;
        match done.await {
            Some((result, protocol)) => {
                if let Some(protocol) = protocol {
                    self.protocol
                        .store(protocol_code(protocol), Ordering::Relaxed);
                }
                result.map_err(Error::Transaction)
            }
            None => Err(Error::Closed),
        }
    }
}

/// How [`TransactionalProducer::protocol`] is kept in an atomic.
fn protocol_code(protocol: TransactionProtocol) -> u8 {
    match protocol {
        TransactionProtocol::V1 => 1,
        TransactionProtocol::V2 => 2,
    }
}
