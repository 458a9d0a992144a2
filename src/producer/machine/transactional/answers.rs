//! The coordinator's answers, and what each error code means for the
//! operation: done, retried inside it, abortable, or fatal.

use std::sync::Arc;
use std::time::Instant;

use super::{Step, TxnState, CONCURRENT_TRANSACTIONS_BACKOFF, CONCURRENT_TRANSACTIONS_BACKOFF_MAX};
use crate::client::{Client, RequestError, RequestId, Response};
use crate::producer::machine::idempotence::ProducerIdState;
use crate::producer::machine::partition_queue::PartitionKey;
use crate::producer::machine::ProducerMachine;
use crate::producer::transaction::{TransactionError, TransactionProtocol};
use crate::protocol::{AnyResponse, ErrorCode};

impl ProducerMachine {
    // ---- answers ----

    /// Takes the answer to a transactional request; false if `id` is none.
    pub(in crate::producer::machine) fn handle_transaction_answer(
        &mut self,
        client: &mut Client,
        id: RequestId,
        result: &Result<Response, RequestError>,
        now: Instant,
    ) -> bool {
        let Some(txn) = self.transactions.as_mut() else {
            return false;
        };
        let step = match txn.in_flight {
            Some((pending, step)) if pending == id => step,
            _ => return false,
        };
        txn.in_flight = None;
        let outcome = match result {
            Ok(response) => match (step, &response.body) {
                (Step::Init, Some(AnyResponse::InitProducerId(r))) => {
                    let coordinator = client.broker_versions(response.broker);
                    let protocol = TransactionProtocol::negotiate(coordinator);
                    self.init_answered(r.error_code, (r.producer_id, r.producer_epoch), protocol)
                }
                (Step::AddPartitions, Some(AnyResponse::AddPartitionsToTxn(r))) => {
                    let codes: Vec<(PartitionKey, ErrorCode)> = r
                        .results_by_topic_v3_and_below
                        .iter()
                        .flat_map(|t| {
                            t.results_by_partition.iter().map(move |p| {
                                let key = (topic_key(&t.name), p.partition_index);
                                (key, ErrorCode(p.partition_error_code))
                            })
                        })
                        .collect();
                    self.partitions_answered(codes)
                }
                (Step::AddOffsets, Some(AnyResponse::AddOffsetsToTxn(r))) => {
                    self.group_added_answered(ErrorCode(r.error_code))
                }
                (Step::CommitOffsets, Some(AnyResponse::TxnOffsetCommit(r))) => {
                    let code = r
                        .topics
                        .iter()
                        .flat_map(|t| t.partitions.iter())
                        .map(|p| ErrorCode(p.error_code))
                        .find(|c| !c.is_ok())
                        .unwrap_or(ErrorCode::NONE);
                    self.offsets_committed_answered(code, client, now)
                }
                (Step::End { commit }, Some(AnyResponse::EndTxn(r))) => {
                    let next = (r.producer_id, r.producer_epoch);
                    self.end_answered(ErrorCode(r.error_code), commit, next)
                }
                _ => Outcome::Retry { moved: false },
            },
            Err(RequestError::UnsupportedVersion { .. }) => {
                Outcome::Fatal(TransactionError::Unsupported)
            }
            Err(RequestError::Coordinator(code)) => classify(*code, step),
            // Lost on the way (timeout, connection): the coordinator may
            // have moved.
            Err(e) if e.is_retriable() => Outcome::Retry { moved: true },
            Err(e) => Outcome::Fatal(TransactionError::Request {
                operation: step.operation(),
                error: Box::new(e.clone()),
            }),
        };
        self.apply_outcome(client, step, outcome, now);
        true
    }

    fn init_answered(
        &mut self,
        code: i16,
        (id, epoch): (i64, i16),
        protocol: TransactionProtocol,
    ) -> Outcome {
        let code = ErrorCode(code);
        if !code.is_ok() {
            return classify(code, Step::Init);
        }
        if id < 0 || epoch < 0 {
            return Outcome::Retry { moved: false };
        }
        self.producer_id = ProducerIdState::Ready { id, epoch };
        self.identity.had_id = true;
        if let Some(txn) = self.transactions.as_mut() {
            txn.bump_epoch = false;
            if txn.protocol != protocol {
                tracing::debug!(transactional_id = %txn.id, ?protocol, "transaction protocol");
            }
            txn.protocol = protocol;
        }
        Outcome::Done
    }

    fn partitions_answered(&mut self, codes: Vec<(PartitionKey, ErrorCode)>) -> Outcome {
        let Some(txn) = self.transactions.as_mut() else {
            return Outcome::Done;
        };
        let adding = std::mem::take(&mut txn.adding);
        let worst = codes
            .iter()
            .map(|(_, c)| *c)
            .filter(|c| !c.is_ok() && *c != ErrorCode::OPERATION_NOT_ATTEMPTED)
            .map(|c| classify(c, Step::AddPartitions))
            .max_by_key(Outcome::severity);
        match worst {
            None => {
                txn.added.extend(adding);
                Outcome::Done
            }
            Some(outcome) => {
                // Nothing was added: every partition asks again.
                txn.to_add.extend(adding);
                outcome
            }
        }
    }

    fn group_added_answered(&mut self, code: ErrorCode) -> Outcome {
        if !code.is_ok() {
            return classify(code, Step::AddOffsets);
        }
        if let Some(txn) = self.transactions.as_mut() {
            if let Some(o) = txn.offsets.as_mut() {
                o.added = true;
                txn.groups.insert(o.group.group_id.clone());
            }
        }
        Outcome::Done
    }

    fn offsets_committed_answered(
        &mut self,
        code: ErrorCode,
        client: &mut Client,
        now: Instant,
    ) -> Outcome {
        if code == ErrorCode::NOT_COORDINATOR || code == ErrorCode::COORDINATOR_NOT_AVAILABLE {
            if let Some(o) = self.transactions.as_ref().and_then(|t| t.offsets.as_ref()) {
                client.coordinator_moved(&o.group.group_id.clone(), now);
            }
            return Outcome::Retry { moved: false };
        }
        if !code.is_ok() {
            return classify(code, Step::CommitOffsets);
        }
        let token = self
            .transactions
            .as_mut()
            .and_then(|t| t.offsets.take())
            .map(|o| o.token);
        if let Some(token) = token {
            self.finish_op(token, Ok(()));
        }
        Outcome::Done
    }

    /// `(id, epoch)`: what EndTxn v5+ returns, -1s before.
    fn end_answered(&mut self, code: ErrorCode, commit: bool, (id, epoch): (i64, i16)) -> Outcome {
        if !code.is_ok() {
            return classify(code, Step::End { commit });
        }
        if id >= 0 && epoch >= 0 {
            // The second protocol bumped the epoch (or, at its overflow,
            // gave a new id): batches of the next transaction carry it,
            // each partition's sequence from 0 (see `send_to_broker`). A
            // sequence gone wrong in this transaction is behind it too,
            // so no InitProducerId bump is needed.
            self.producer_id = ProducerIdState::Ready { id, epoch };
            if let Some(txn) = self.transactions.as_mut() {
                txn.bump_epoch = false;
            }
        }
        self.transaction_ended(commit);
        Outcome::Done
    }

    fn apply_outcome(&mut self, client: &mut Client, step: Step, outcome: Outcome, now: Instant) {
        tracing::debug!(step = ?step, outcome = ?outcome, "transaction request answered");
        let backoff = self.config.retry_backoff;
        let Some(txn) = self.transactions.as_mut() else {
            return;
        };
        if outcome != Outcome::RetrySoon {
            txn.concurrent_retries = 0;
        }
        match outcome {
            Outcome::Done => {
                if step == Step::Init && txn.state == TxnState::Initializing {
                    txn.state = TxnState::Ready;
                    self.finish_waiting(Ok(()));
                }
            }
            Outcome::Retry { moved } => {
                if moved {
                    client.transaction_coordinator_moved(&txn.id.clone(), now);
                }
                txn.retry_at = Some(now + backoff);
            }
            Outcome::RetrySoon => {
                let doubled = CONCURRENT_TRANSACTIONS_BACKOFF
                    .saturating_mul(1 << txn.concurrent_retries.min(8))
                    .min(CONCURRENT_TRANSACTIONS_BACKOFF_MAX);
                txn.concurrent_retries += 1;
                txn.retry_at = Some(now + doubled);
            }
            Outcome::Abortable(error) => {
                if step == Step::CommitOffsets || step == Step::AddOffsets {
                    let token = txn.offsets.take().map(|o| o.token);
                    if let Some(token) = token {
                        self.finish_op(token, Err(error.clone()));
                    }
                }
                self.make_abortable(error);
            }
            Outcome::Fatal(TransactionError::Fenced { .. }) => {
                let transactional_id = txn.id.clone();
                self.make_fatal(TransactionError::Fenced { transactional_id }, now);
            }
            Outcome::Fatal(error) => self.make_fatal(error, now),
        }
    }
}

/// What an answer means for the step that sent it.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Done,
    /// Again after the retry backoff; `moved`: look the coordinator up.
    Retry {
        moved: bool,
    },
    /// Again shortly: the coordinator is finishing the last transaction.
    RetrySoon,
    Abortable(TransactionError),
    Fatal(TransactionError),
}

impl Outcome {
    pub(in crate::producer::machine) fn severity(&self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::RetrySoon => 1,
            Outcome::Retry { .. } => 2,
            Outcome::Abortable(_) => 3,
            Outcome::Fatal(_) => 4,
        }
    }
}

/// The Java client's classes for a coordinator's error code.
fn classify(code: ErrorCode, step: Step) -> Outcome {
    match code {
        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
            Outcome::Retry { moved: true }
        }
        ErrorCode::CONCURRENT_TRANSACTIONS => Outcome::RetrySoon,
        ErrorCode::PRODUCER_FENCED
        | ErrorCode::INVALID_PRODUCER_EPOCH
        | ErrorCode::TRANSACTION_COORDINATOR_FENCED => Outcome::Fatal(TransactionError::Fenced {
            transactional_id: String::new(),
        }),
        // The group refused the offsets (a zombie of an older generation),
        // or a topic is not ours to write: abort and go on.
        ErrorCode::UNKNOWN_MEMBER_ID
        | ErrorCode::ILLEGAL_GENERATION
        | ErrorCode::FENCED_INSTANCE_ID
        | ErrorCode::TOPIC_AUTHORIZATION_FAILED
        | ErrorCode::GROUP_AUTHORIZATION_FAILED
        | ErrorCode::TRANSACTION_ABORTABLE
        | ErrorCode::INVALID_PRODUCER_ID_MAPPING => {
            Outcome::Abortable(TransactionError::Abortable {
                reason: format!("{} answered {code}", step.operation()),
            })
        }
        code if code.is_retriable() => Outcome::Retry { moved: false },
        code => Outcome::Fatal(TransactionError::Refused {
            operation: step.operation(),
            code,
        }),
    }
}

fn topic_key(name: &str) -> crate::producer::topic_key::TopicKey {
    crate::producer::topic_key::TopicKey(Arc::from(name))
}
