//! [`Producer`]: the async face of the core's batching, idempotent producer.
//!
//! The producer state machine lives in the session's event loop, beside the
//! client it sends through; a handle only reserves buffer space, hands the
//! record over and returns a [`DeliveryFuture`]. Sending many records and
//! awaiting their deliveries later is what keeps batches full.

pub(crate) mod batch_deliveries;
pub(crate) mod batch_waiters;
pub(crate) mod buffer_gauge;
pub(crate) mod explicit;
pub(crate) mod idempotence_off;
pub(crate) mod mailbox;
pub(crate) mod slots;
pub(crate) mod transactional;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use kafkite::producer::{
    Delivery, IdempotenceUnavailable, PackedRecords, ProduceError, ProducerConfig, ProducerRecord,
};

use crate::error::Error;
use crate::event_loop::command::{BatchRecords, Command};
use crate::oneshot;
use crate::producer::batch_deliveries::BatchDeliveries;
use crate::producer::buffer_gauge::BufferGauge;
use crate::producer::idempotence_off::IdempotenceOff;
use crate::producer::mailbox::Mailbox;
use crate::runtime::Runtime;
use crate::session::Session;

/// A producer on a [`Session`]: `send` records, `flush`, `close`.
///
/// Cheap to clone; the clones share one producer (one producer id, one
/// buffer). When the last clone is dropped without [`Producer::close`], the
/// event loop still delivers what was sent, as `close` would.
pub struct Producer<R: Runtime> {
    inner: Arc<Handle<R>>,
}

struct Handle<R: Runtime> {
    session: Session<R>,
    id: u64,
    gauge: Arc<BufferGauge>,
    mailbox: Arc<Mailbox>,
    idempotence_off: Arc<IdempotenceOff>,
    max_request_size: usize,
}

impl<R: Runtime> Clone for Producer<R> {
    fn clone(&self) -> Self {
        Producer {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<R: Runtime> std::fmt::Debug for Producer<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("id", &self.inner.id)
            .field("buffered_bytes", &self.inner.gauge.used())
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> Producer<R> {
    /// Starts a producer in the session's event loop. With idempotence on
    /// (the default) it asks for a producer id before its first batch.
    pub async fn new(session: &Session<R>, config: ProducerConfig) -> Result<Self, Error> {
        let id = session.next_component_id();
        let gauge = Arc::new(BufferGauge::new(config.buffer_memory));
        let mailbox = Arc::new(Mailbox::new(Arc::clone(&gauge)));
        let max_request_size = config.max_request_size;
        let idempotence_off = Arc::new(IdempotenceOff::default());
        session
            .command(Command::ProducerOpen {
                producer: id,
                config: Box::new(config),
                gauge: Arc::clone(&gauge),
                mailbox: Arc::clone(&mailbox),
                idempotence_off: Arc::clone(&idempotence_off),
            })
            .await?;
        Ok(Producer {
            inner: Arc::new(Handle {
                session: session.clone(),
                id,
                gauge,
                mailbox,
                idempotence_off,
                max_request_size,
            }),
        })
    }

    /// Queues a record, waiting while the buffer is full (the memory
    /// bound, `buffer.memory`). The returned future resolves when the
    /// record is acknowledged or has failed; dropping it does not cancel
    /// the record.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture, ProduceError> {
        let size = self.admissible_size(record.estimated_size())?;
        self.reserve(size).await?;
        self.hand_over(record, size)
    }

    /// Queues many records with one hand-over to the event loop, waiting
    /// while the buffer cannot take all of them. The future resolves, once
    /// every record is acknowledged or has failed, to a [`BatchDeliveries`]:
    /// one outcome per record in `records`' order.
    ///
    /// Records are placed exactly as the same `send`s in a row would be:
    /// this saves the per-record hand-over and waiter (a channel message
    /// and a one-shot each), which is most of the client's own CPU when
    /// records are small. The records' bytes must fit the buffer together:
    /// more than `buffer_memory` fails with
    /// [`ProduceError::BatchTooLarge`] before anything is sent.
    /// For many small records, [`Producer::send_packed`] costs less.
    pub async fn send_batch(
        &self,
        records: Vec<ProducerRecord>,
    ) -> Result<BatchDeliveryFuture, ProduceError> {
        let mut total = 0usize;
        for record in &records {
            total += self.admissible_size(record.estimated_size())?;
        }
        self.submit(BatchRecords::Records(records), total).await
    }

    /// [`Producer::send_batch`] for records packed into one buffer: the
    /// cheapest way to send many small records. Their bytes were copied
    /// once, as they were pushed, on the caller's thread; nothing per
    /// record is shared between that thread and the event loop (no
    /// reference counts, no record structs to move and drop), and they
    /// go from the packed buffer straight into their batches.
    pub async fn send_packed(
        &self,
        records: PackedRecords,
    ) -> Result<BatchDeliveryFuture, ProduceError> {
        self.admissible_size(records.largest_record_size())?;
        let total = records.estimated_size();
        self.submit(BatchRecords::Packed(records), total).await
    }

    /// Reserves `total` bytes for a batch, then hands it to the event loop.
    async fn submit(
        &self,
        records: BatchRecords,
        total: usize,
    ) -> Result<BatchDeliveryFuture, ProduceError> {
        if total > self.inner.gauge.limit() {
            return Err(ProduceError::BatchTooLarge {
                size: total,
                limit: self.inner.gauge.limit(),
            });
        }
        self.reserve(total).await?;
        let count = records.len();
        let (reply, outcomes) = oneshot::channel();
        let command = Command::ProduceBatch {
            producer: self.inner.id,
            records,
            reserved: total,
            reply,
        };
        if self.inner.session.command_now(command).is_err() {
            self.inner.gauge.release(total);
            return Err(ProduceError::Closed);
        }
        Ok(BatchDeliveryFuture { outcomes, count })
    }

    /// Like [`Producer::send`], but fails at once with
    /// [`ProduceError::QueueFull`] instead of waiting for buffer space.
    pub fn try_send(&self, record: ProducerRecord) -> Result<DeliveryFuture, ProduceError> {
        let size = self.admissible_size(record.estimated_size())?;
        if self.inner.gauge.is_closed() {
            return Err(ProduceError::Closed);
        }
        if !self.inner.gauge.try_reserve(size) {
            return Err(ProduceError::QueueFull {
                limit: self.inner.gauge.limit(),
            });
        }
        self.hand_over(record, size)
    }

    /// Sends every batch now (without waiting for linger) and returns when
    /// every record sent before the call is acknowledged or has failed.
    pub async fn flush(&self) -> Result<(), Error> {
        let (reply, done) = oneshot::channel();
        self.inner
            .session
            .command(Command::ProducerFlush {
                producer: self.inner.id,
                reply,
            })
            .await?;
        done.await.ok_or(Error::Closed)
    }

    /// Flushes, then stops the producer: later sends fail with
    /// [`ProduceError::Closed`]. Other clones are closed too.
    pub async fn close(&self) {
        self.inner.gauge.close();
        let (reply, done) = oneshot::channel();
        let command = Command::ProducerClose {
            producer: self.inner.id,
            reply: Some(reply),
        };
        if self.inner.session.command(command).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Bytes of records sent and not yet acknowledged or failed: never more
    /// than the config's `buffer_memory`.
    pub fn buffered_bytes(&self) -> usize {
        self.inner.gauge.used()
    }

    /// Why the producer went on without idempotence, if it did: only with
    /// the default [`Idempotence::Preferred`](kafkite::producer::Idempotence),
    /// where acks is not all or the broker gives no producer id (then a
    /// retry may write a record twice). Asked for, idempotence never turns
    /// off: records fail instead.
    pub fn idempotence_disabled(&self) -> Option<IdempotenceUnavailable> {
        self.inner.idempotence_off.reason()
    }

    /// The session the producer sends through.
    pub fn session(&self) -> &Session<R> {
        &self.inner.session
    }

    /// Takes `bytes` of the buffer, waiting while it is full; fails once
    /// the producer is closed.
    async fn reserve(&self, bytes: usize) -> Result<(), ProduceError> {
        let gauge = &self.inner.gauge;
        loop {
            if gauge.is_closed() {
                return Err(ProduceError::Closed);
            }
            if gauge.try_reserve(bytes) {
                return Ok(());
            }
            let listener = gauge.listen();
            // Room may have come between the try and the listen.
            if gauge.try_reserve(bytes) {
                return Ok(());
            }
            if gauge.is_closed() {
                return Err(ProduceError::Closed);
            }
            listener.await;
        }
    }

    fn admissible_size(&self, size: usize) -> Result<usize, ProduceError> {
        let limit = self.inner.max_request_size.min(self.inner.gauge.limit());
        if size > limit {
            return Err(ProduceError::RecordTooLarge { size, limit });
        }
        Ok(size)
    }

    fn hand_over(
        &self,
        record: ProducerRecord,
        size: usize,
    ) -> Result<DeliveryFuture, ProduceError> {
        let (reply, delivery) = oneshot::channel();
        if self.inner.mailbox.post((record, size, reply)) {
            let command = Command::ProducerMail {
                producer: self.inner.id,
                mailbox: Arc::clone(&self.inner.mailbox),
            };
            if self.inner.session.command_now(command).is_err() {
                // The event loop is gone: nothing posted will be taken.
                self.inner.mailbox.fail_all();
            }
        }
        Ok(DeliveryFuture { delivery })
    }
}

impl<R: Runtime> Drop for Handle<R> {
    fn drop(&mut self) {
        // The last clone is gone: deliver what was sent, then free the slot.
        let _ = self.session.command_now(Command::ProducerClose {
            producer: self.id,
            reply: None,
        });
    }
}

/// Resolves to where a record landed, or why it did not.
#[must_use = "a delivery future tells whether the record was acknowledged"]
pub struct DeliveryFuture {
    delivery: oneshot::Receiver<Result<Delivery, ProduceError>>,
}

impl std::fmt::Debug for DeliveryFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeliveryFuture")
    }
}

impl Future for DeliveryFuture {
    type Output = Result<Delivery, ProduceError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.delivery)
            .poll(cx)
            .map(|outcome| outcome.unwrap_or(Err(ProduceError::Closed)))
    }
}

/// Resolves to the outcome of each record of a [`Producer::send_batch`], in
/// the order they were given.
#[must_use = "a batch delivery future tells whether the records were acknowledged"]
pub struct BatchDeliveryFuture {
    outcomes: oneshot::Receiver<BatchDeliveries>,
    count: usize,
}

impl std::fmt::Debug for BatchDeliveryFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchDeliveryFuture")
            .field("records", &self.count)
            .finish()
    }
}

impl Future for BatchDeliveryFuture {
    type Output = BatchDeliveries;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let count = self.count;
        Pin::new(&mut self.outcomes).poll(cx).map(|outcomes| {
            // The event loop ended without answering: nothing was confirmed.
            outcomes.unwrap_or_else(|| BatchDeliveries::all_failed(count, ProduceError::Closed))
        })
    }
}
