//! Records whose topic's metadata the producer is still waiting for: placed
//! once it arrives, asked for again while the brokers do not know the topic
//! (yet), failed after `max_block`.

use std::time::Instant;

use super::ProducerMachine;
use crate::client::Client;
use crate::producer::record::{DeliveryId, ProduceError, ProducerRecord};

/// Records waiting for their topic's metadata.
#[derive(Debug)]
pub(super) struct AwaitingTopic {
    pub(super) records: Vec<(DeliveryId, ProducerRecord, i64, usize)>,
    /// The client's metadata generation when the topic was asked for.
    pub(super) asked_at_generation: u64,
    pub(super) asked_at: Instant,
    /// An answer did not know the topic (yet: a topic just created takes a
    /// moment to reach every broker): when to ask again.
    pub(super) ask_again_at: Option<Instant>,
}

impl ProducerMachine {
    /// Places records whose topic metadata arrived; fails those whose topic
    /// is still unknown after a newer metadata answer.
    pub(super) fn place_awaiting(&mut self, client: &Client, now: Instant) {
        let topics: Vec<String> = self.awaiting.keys().cloned().collect();
        for topic in topics {
            if let Some(count) = Self::partition_count_in(client, &topic) {
                if let Some(waiting) = self.awaiting.remove(&topic) {
                    for (id, record, ts, size) in waiting.records {
                        self.place(id, &record, ts, size, count, now);
                    }
                }
                continue;
            }
            let known = client.metadata().topics.contains_key(&topic);
            let generation = client.metadata_generation();
            let retry_backoff = self.config.retry_backoff;
            let Some(waiting) = self.awaiting.get_mut(&topic) else {
                continue;
            };
            // Looked at again every backoff while it waits, answered or
            // not: an answer that leaves the metadata as it was (the
            // brokers do not know a topic just created yet) raises no
            // event, and a producer that waited for one would wait until
            // the delivery timeout.
            if waiting.ask_again_at.is_none() {
                waiting.ask_again_at = Some(now + retry_backoff);
            }
            if known || generation <= waiting.asked_at_generation {
                continue;
            }
            // Answered without the topic: as the Java client does for
            // `max.block.ms`, ask again after a backoff until the limit,
            // then fail the records.
            if now < waiting.asked_at + self.config.max_block {
                waiting.asked_at_generation = generation;
                continue;
            }
            if let Some(waiting) = self.awaiting.remove(&topic) {
                for (id, _, _, size) in waiting.records {
                    self.fail(id, size, ProduceError::UnknownTopic(topic.clone()), now);
                }
            }
        }
    }

    /// Asks again for the topics whose backoff after an answer without
    /// them has passed.
    pub(super) fn ask_again_for_topics(&mut self, client: &mut Client, now: Instant) {
        let again: Vec<String> = self
            .awaiting
            .iter_mut()
            .filter(|(_, a)| a.ask_again_at.is_some_and(|t| t <= now))
            .map(|(topic, a)| {
                // The next look comes a backoff later, whatever answers.
                a.ask_again_at = Some(now + self.config.retry_backoff);
                topic.clone()
            })
            .collect();
        if !again.is_empty() {
            client.add_topics(&again, now);
        }
    }
}
