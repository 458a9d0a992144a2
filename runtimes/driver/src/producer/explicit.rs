//! [`ExplicitProducer`]: messages are added to explicit partitions;
//! `send()` produces everything added since the last `send()` and answers
//! per partition.
//!
//! It rides on the batching [`Producer`], so it gets idempotence, retries
//! with backoff after metadata refreshes, and one Produce request per
//! leader broker for everything added. A second `send()` does not resend
//! the first one's messages, acks=0 does not wait for answers that never
//! come, and errors are returned per partition.

use std::time::Duration;

use kafkite::producer::{Acks, ExplicitSend, Message, ProduceError, ProduceResult, ProducerConfig};

use crate::error::Error;
use crate::producer::{DeliveryFuture, Producer};
use crate::runtime::Runtime;
use crate::session::Session;

/// Produces messages to partitions the caller chooses, in explicit
/// `send()` rounds: each round's outcome is reported per partition.
#[derive(Debug)]
pub struct ExplicitProducer<R: Runtime> {
    producer: Producer<R>,
    pending: Vec<(String, i32, Vec<Message>)>,
}

impl<R: Runtime> ExplicitProducer<R> {
    /// A producer that asks for `acks` and gives the brokers `timeout` to
    /// meet them (the Produce request's timeout).
    pub async fn new(session: &Session<R>, acks: Acks, timeout: Duration) -> Result<Self, Error> {
        let config = ProducerConfig::default()
            .with_acks(acks)
            .with_request_timeout(timeout);
        Self::with_config(session, config).await
    }

    /// With every producer setting at hand (compression, delivery timeout,
    /// idempotence, ...).
    pub async fn with_config(session: &Session<R>, config: ProducerConfig) -> Result<Self, Error> {
        Ok(ExplicitProducer {
            producer: Producer::new(session, config).await?,
            pending: Vec::new(),
        })
    }

    /// Adds messages for `topic`'s `partition` to the next `send()`.
    pub fn add_messages(
        &mut self,
        topic: &str,
        partition: i32,
        messages: impl IntoIterator<Item = Message>,
    ) {
        self.pending
            .push((topic.to_string(), partition, messages.into_iter().collect()));
    }

    /// Produces every message added since the last `send()` and returns,
    /// per partition, the offset of the first of them or the error.
    /// Messages leave the pending list here, whatever the outcome.
    pub async fn send(&mut self) -> Result<ProduceResult, Error> {
        let pending = std::mem::take(&mut self.pending);
        let mut outcome = ExplicitSend::new();
        let mut deliveries: Vec<(String, i32, DeliveryFuture)> = Vec::new();
        for (topic, partition, messages) in pending {
            for message in messages {
                match self
                    .producer
                    .send(message.into_record(&topic, partition))
                    .await
                {
                    Ok(delivery) => deliveries.push((topic.clone(), partition, delivery)),
                    Err(error) => outcome.failed_to_queue(&topic, partition, error),
                }
            }
        }
        self.producer.flush().await?;
        for (topic, partition, delivery) in deliveries {
            let result: Result<_, ProduceError> = delivery.await;
            outcome.add_outcome(&topic, partition, result.as_ref());
        }
        Ok(outcome.into_result())
    }

    /// Messages added and not yet sent.
    pub fn pending_messages(&self) -> usize {
        self.pending.iter().map(|(_, _, m)| m.len()).sum()
    }

    /// Delivers what is in flight and stops the producer.
    pub async fn close(&self) {
        self.producer.close().await
    }
}
