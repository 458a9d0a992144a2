//! Keeping count of deliveries without awaiting each record: the producer
//! batches only records that are sent before earlier ones are awaited, so
//! delivery futures queue here and are collected as they complete.

use std::collections::VecDeque;

use futures_lite::future::poll_once;
use kafkite_smol::{DeliveryFuture, ProduceError};

use crate::error::CliError;

/// Delivery futures in send order, and what the completed ones said.
#[derive(Debug)]
pub struct Deliveries {
    pending: VecDeque<DeliveryFuture>,
    /// Past this many pending futures, `push` waits for the oldest: their
    /// memory is bounded, while the producer's buffer bounds the records.
    max_pending: usize,
    sent: u64,
    delivered: u64,
    failed: u64,
    first_failure: Option<Box<ProduceError>>,
}

impl Deliveries {
    pub fn new(max_pending: usize) -> Self {
        Deliveries {
            pending: VecDeque::new(),
            max_pending: max_pending.max(1),
            sent: 0,
            delivered: 0,
            failed: 0,
            first_failure: None,
        }
    }

    /// Adds a sent record's delivery; collects those already complete.
    pub async fn push(&mut self, delivery: DeliveryFuture) {
        self.sent += 1;
        self.pending.push_back(delivery);
        loop {
            let over = self.pending.len() > self.max_pending;
            let Some(front) = self.pending.front_mut() else {
                break;
            };
            let outcome = if over {
                Some(front.await)
            } else {
                poll_once(front).await
            };
            match outcome {
                Some(outcome) => {
                    self.pending.pop_front();
                    self.note(outcome);
                }
                None => break,
            }
        }
    }

    /// Records acknowledged so far (a lower bound: completions are seen in
    /// send order).
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Waits for the oldest pending delivery; false when none is pending.
    pub async fn settle_oldest(&mut self) -> bool {
        match self.pending.pop_front() {
            Some(delivery) => {
                let outcome = delivery.await;
                self.note(outcome);
                true
            }
            None => false,
        }
    }

    /// Waits for every delivery; fails if any record was not delivered.
    pub async fn finish(mut self) -> Result<u64, CliError> {
        while let Some(delivery) = self.pending.pop_front() {
            let outcome = delivery.await;
            self.note(outcome);
        }
        match self.first_failure {
            Some(first) => Err(CliError::Delivery {
                failed: self.failed,
                sent: self.sent,
                first,
            }),
            None => Ok(self.delivered),
        }
    }

    fn note<T>(&mut self, outcome: Result<T, ProduceError>) {
        match outcome {
            Ok(_) => self.delivered += 1,
            Err(e) => {
                self.failed += 1;
                self.first_failure.get_or_insert_with(|| Box::new(e));
            }
        }
    }
}
