//! The idempotent producer's identity (KIP-98) and how it recovers when a
//! partition's sequence goes wrong (KIP-360, as the Java client does it).
//!
//! ## Recovery: a new epoch, taken up partition by partition
//!
//! The broker keeps, per partition and producer id, the epoch and the last
//! sequences it wrote. When a partition's sequence can no longer go on
//! (the broker forgot the producer: UNKNOWN_PRODUCER_ID; it saw a gap:
//! OUT_OF_ORDER_SEQUENCE_NUMBER; or a batch that used sequence numbers
//! failed, so they may be a gap), the producer bumps its epoch: the broker
//! takes sequence 0 from a higher epoch of the same id. For a producer
//! without a transactional id the broker does not bump epochs itself (its
//! InitProducerId hands out a new id whatever id and epoch it is sent), so
//! the bump is made here, as the Java client's
//! `bumpIdempotentProducerEpoch` makes it, on brokers that implement
//! KIP-360 (InitProducerId v3+, Kafka 2.5+). Against older brokers, and
//! once the epoch reaches `i16::MAX`, a new producer id is asked for
//! instead; either way the new identity starts every partition at 0.
//!
//! ## No batch is given a second number while it may be in the log
//!
//! A partition has at most one batch stamped and not yet resolved: one
//! batch in flight at a time, and a failed one goes back to the front.
//! That batch keeps its producer id, epoch and sequence, whatever happens
//! to the producer's identity meanwhile, until the broker has answered for
//! it: acknowledged (or DUPLICATE_SEQUENCE_NUMBER, an earlier attempt's
//! write), rejected, or it is given up at the delivery timeout. A retry
//! with the same three numbers is what lets the broker drop a second copy;
//! a new number would write one. Only when nothing of a partition is
//! unresolved does its next batch take up the new identity, from
//! sequence 0. So a bump for one partition does not touch the others'
//! batches in flight: they finish under the identity they were sent with.
//!
//! A batch the broker rejected for its sequence (UNKNOWN_PRODUCER_ID or
//! OUT_OF_ORDER_SEQUENCE_NUMBER) is not in the log: had an earlier
//! attempt been written, it would be the partition's latest batch of that
//! producer and the broker would have answered DUPLICATE_SEQUENCE_NUMBER.
//! So that batch, and only that one, is numbered afresh under the new
//! epoch and retried (the Java client retries both errors for an
//! idempotent producer, 3.x and 4.x alike).
//!
//! A batch whose outcome stays unknown (its answers lost, say) until the
//! delivery timeout is failed with `DeliveryTimeout`, as the Java client
//! fails it: it may or may not be in the log, which is what a timeout
//! means. It is never sent again, and its partition goes on under a new
//! epoch, since the broker may or may not have its sequence numbers. A
//! late copy of it still on the way (an attempt the client gave up on) is
//! then refused by the broker (INVALID_PRODUCER_EPOCH) rather than written
//! after what follows; after a new producer id instead (brokers before
//! 2.5, or the last epoch) such a copy could still land, as with the Java
//! client.
//!
//! The same holds for a stamped batch failed for any other reason (a
//! non-retriable error; INVALID_PRODUCER_EPOCH, which means another epoch
//! of this id is ahead, so a new id is taken instead of a bump).

use std::time::Instant;

use super::ProducerMachine;
use crate::client::{Client, RequestError, Target};
use crate::producer::config::{Acks, Idempotence, ProducerConfig};
use crate::producer::record::{IdempotenceUnavailable, ProduceError, ProducerEvent};
use crate::protocol::messages::InitProducerIdRequest;
use crate::protocol::{AnyResponse, ErrorCode};

/// The InitProducerId version from which the broker implements KIP-360
/// (Kafka 2.5): from there the producer bumps its epoch itself.
const KIP_360_INIT_PRODUCER_ID: i16 = 3;

/// Where the producer id stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProducerIdState {
    /// Idempotence is off: by config, or by default where it cannot be had.
    Disabled,
    /// Needs an InitProducerId, from this moment on.
    Needed {
        at: Instant,
    },
    Requesting(crate::client::RequestId),
    Ready {
        id: i64,
        epoch: i16,
    },
    /// Idempotence was asked for, or had been in force, and cannot be had:
    /// every record fails with this.
    Failed(IdempotenceUnavailable),
}

/// What the producer knows of its identity beyond the state.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Identity {
    /// The broker that gave the id implements KIP-360: epochs are bumped
    /// here rather than a new id asked for.
    pub(super) bumps_locally: bool,
    /// An id was had once: losing idempotence later is an error even by
    /// default, since records were sent counting on it.
    pub(super) had_id: bool,
}

impl ProducerIdState {
    /// Where a new producer starts, and the event that says idempotence is
    /// off by default (acks other than all).
    pub(super) fn initial(
        config: &ProducerConfig,
        now: Instant,
    ) -> (ProducerIdState, Option<ProducerEvent>) {
        let reason = IdempotenceUnavailable::NeedsAcksAll;
        if config.transactional_id.is_some() {
            // The identity comes from `init_transactions`.
            return (ProducerIdState::Disabled, None);
        }
        match (config.idempotence, config.acks == Acks::All) {
            (Idempotence::Off, _) => (ProducerIdState::Disabled, None),
            (_, true) => (ProducerIdState::Needed { at: now }, None),
            (Idempotence::Preferred, false) => (
                ProducerIdState::Disabled,
                Some(ProducerEvent::IdempotenceDisabled { reason }),
            ),
            (Idempotence::Required, false) => (ProducerIdState::Failed(reason), None),
        }
    }
}

impl ProducerMachine {
    /// The producer id and epoch fresh batches are stamped with.
    pub(super) fn current_producer(&self) -> Option<(i64, i16)> {
        match self.producer_id {
            ProducerIdState::Ready { id, epoch } => Some((id, epoch)),
            _ => None,
        }
    }

    /// Asks for a producer id when one is due.
    pub(super) fn request_producer_id(&mut self, client: &mut Client, now: Instant) {
        if let ProducerIdState::Needed { at } = self.producer_id {
            if at <= now {
                // No transactional id: the broker hands out a new id and
                // ignores any id and epoch sent, so none is.
                let request = InitProducerIdRequest {
                    transactional_id: None,
                    transaction_timeout_ms: i32::MAX,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                };
                let id = client.send(Target::AnyBroker, request, now);
                self.producer_id = ProducerIdState::Requesting(id);
            }
        }
    }

    pub(super) fn handle_init_producer_id(
        &mut self,
        result: &Result<crate::client::Response, RequestError>,
        now: Instant,
    ) {
        let retry = ProducerIdState::Needed {
            at: now + self.config.retry_backoff,
        };
        tracing::debug!(answer = ?result.as_ref().map(|r| &r.body), "InitProducerId answered");
        let reason = match result {
            Ok(response) => match &response.body {
                Some(AnyResponse::InitProducerId(r)) if r.error_code == 0 => {
                    if r.producer_id < 0 || r.producer_epoch < 0 {
                        // Not an id: ask again rather than stamp with it.
                        self.producer_id = retry;
                        return;
                    }
                    self.producer_id = ProducerIdState::Ready {
                        id: r.producer_id,
                        epoch: r.producer_epoch,
                    };
                    self.identity = Identity {
                        bumps_locally: response.version >= KIP_360_INIT_PRODUCER_ID,
                        had_id: true,
                    };
                    return;
                }
                Some(AnyResponse::InitProducerId(r)) if !ErrorCode(r.error_code).is_retriable() => {
                    IdempotenceUnavailable::Refused(ErrorCode(r.error_code))
                }
                _ => {
                    self.producer_id = retry;
                    return;
                }
            },
            // Kafka before 0.11 has no InitProducerId.
            Err(RequestError::UnsupportedVersion { .. }) => IdempotenceUnavailable::Unsupported,
            Err(_) => {
                self.producer_id = retry;
                return;
            }
        };
        self.idempotence_unavailable(reason);
    }

    /// The broker gives no producer id. By default, before any id, the
    /// producer goes on without idempotence and says so; asked for, or
    /// after records were sent counting on it, records fail instead.
    fn idempotence_unavailable(&mut self, reason: IdempotenceUnavailable) {
        let fallback = self.config.idempotence == Idempotence::Preferred && !self.identity.had_id;
        if fallback {
            self.producer_id = ProducerIdState::Disabled;
            self.events
                .push_back(ProducerEvent::IdempotenceDisabled { reason });
        } else {
            self.producer_id = ProducerIdState::Failed(reason);
        }
    }

    /// A partition's sequence under `stamp` cannot go on: moves the
    /// producer to a new epoch (or id), unless it already left `stamp`
    /// behind. Partitions take it up as their unresolved batch resolves
    /// (see the module documentation).
    pub(super) fn start_new_epoch(&mut self, stamp: (i64, i16), now: Instant) {
        let ProducerIdState::Ready { id, epoch } = self.producer_id else {
            return;
        };
        // A transactional producer's epoch is its coordinator's to bump,
        // after an abort (see `transactional`).
        if self.transactions.is_some() {
            return;
        }
        if (id, epoch) != stamp {
            return;
        }
        self.producer_id = match epoch.checked_add(1) {
            Some(next) if self.identity.bumps_locally => ProducerIdState::Ready { id, epoch: next },
            _ => ProducerIdState::Needed { at: now },
        };
    }

    /// The broker knows a newer epoch of `stamp`'s id than this producer:
    /// a new id, rather than a bump that may still be behind it.
    pub(super) fn start_new_producer_id(&mut self, stamp: (i64, i16), now: Instant) {
        if self.transactions.is_some() {
            return;
        }
        if self.current_producer() == Some(stamp) {
            self.producer_id = ProducerIdState::Needed { at: now };
        }
    }

    /// When idempotence failed for good: fails every batch waiting to be
    /// sent, and returns true. Batches in flight fail as they come back.
    pub(super) fn fail_without_idempotence(&mut self, now: Instant) -> bool {
        let ProducerIdState::Failed(reason) = self.producer_id else {
            return false;
        };
        let mut waiting = Vec::new();
        self.partitions
            .for_each_mut(|queue| waiting.extend(queue.ready.drain(..)));
        for batch in waiting {
            self.fail_batch(batch, ProduceError::Idempotence(reason), now);
        }
        true
    }

    /// A new record's refusal while idempotence failed for good.
    pub(super) fn refusal(&self) -> Option<ProduceError> {
        if let Some(txn) = &self.transactions {
            return txn.refusal();
        }
        match self.producer_id {
            ProducerIdState::Failed(reason) => Some(ProduceError::Idempotence(reason)),
            _ => None,
        }
    }
}
