//! How a transaction ends: committed, aborted, made abortable by a
//! failure, or the producer fenced for good.

use std::time::Instant;

use super::TxnState;
use crate::client::RequestError;
use crate::producer::machine::ProducerMachine;
use crate::producer::record::ProduceError;
use crate::producer::transaction::TransactionError;
use crate::protocol::ErrorCode;

impl ProducerMachine {
    // ---- state changes ----

    /// A record of the transaction failed, or a request did: the
    /// transaction must abort. A commit waiting fails with the error.
    pub(in crate::producer::machine) fn make_abortable(&mut self, error: TransactionError) {
        let Some(txn) = self.transactions.as_mut() else {
            return;
        };
        let error = match error {
            e @ TransactionError::Abortable { .. } => e,
            other => TransactionError::Abortable {
                reason: other.to_string(),
            },
        };
        match txn.state {
            TxnState::InTransaction | TxnState::Committing => {
                txn.state = TxnState::Abortable(error.clone());
                self.finish_waiting(Err(error));
            }
            // Already aborting or failed: the abort goes on.
            _ => {}
        }
    }

    pub(in crate::producer::machine) fn make_fatal(
        &mut self,
        error: TransactionError,
        now: Instant,
    ) {
        let Some(txn) = self.transactions.as_mut() else {
            return;
        };
        txn.state = TxnState::Fatal(error.clone());
        txn.retry_at = None;
        let offsets = txn.offsets.take().map(|o| o.token);
        if let Some(token) = offsets {
            self.finish_op(token, Err(error.clone()));
        }
        self.finish_waiting(Err(error.clone()));
        let mut waiting = Vec::new();
        self.partitions
            .for_each_mut(|queue| waiting.extend(queue.ready.drain(..)));
        for batch in waiting {
            self.fail_batch(batch, ProduceError::Transaction(error.clone()), now);
        }
    }

    /// A record failed: in a transaction, the transaction must abort
    /// (unless the abort or a fatal error is what failed it). A stamped
    /// batch's sequence numbers are then unaccounted for, so the epoch is
    /// bumped once the transaction is aborted (KIP-360); a fencing answer
    /// is fatal, and so is a Produce version the broker does not speak,
    /// as in the Java client.
    ///
    /// Under the second protocol a Produce also does AddPartitionsToTxn's
    /// job, and answers what that request would have: INVALID_TXN_STATE
    /// or TRANSACTION_ABORTABLE (the partition could not join the
    /// transaction) fall in the abortable class here, and PRODUCER_FENCED
    /// or INVALID_PRODUCER_EPOCH in the fatal one, whichever protocol.
    pub(in crate::producer::machine) fn transaction_record_failed(
        &mut self,
        error: &ProduceError,
        now: Instant,
    ) {
        if self.transactions.is_none()
            || matches!(
                error,
                ProduceError::TransactionAborted | ProduceError::Transaction(_)
            )
        {
            return;
        }
        let fenced = matches!(
            error,
            ProduceError::Broker { code, .. }
                if *code == ErrorCode::PRODUCER_FENCED
                    || *code == ErrorCode::INVALID_PRODUCER_EPOCH
                    || *code == ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        );
        if let ProduceError::Request(e) = error {
            if matches!(**e, RequestError::UnsupportedVersion { .. }) {
                self.make_fatal(TransactionError::Unsupported, now);
                return;
            }
        }
        if fenced {
            let id = self.transactions.as_ref().map(|t| t.id.clone());
            let error = TransactionError::Fenced {
                transactional_id: id.unwrap_or_default(),
            };
            self.make_fatal(error, now);
            return;
        }
        if let Some(txn) = self.transactions.as_mut() {
            txn.bump_epoch = true;
        }
        self.make_abortable(TransactionError::Abortable {
            reason: format!("a record was not delivered: {error}"),
        });
    }

    /// A commit is under way: batches go out without lingering.
    pub(in crate::producer::machine) fn committing(&self) -> bool {
        self.transactions
            .as_ref()
            .is_some_and(|t| t.state == TxnState::Committing)
    }

    /// EndTxn succeeded (or there was nothing to end).
    pub(in crate::producer::machine) fn transaction_ended(&mut self, commit: bool) {
        let Some(txn) = self.transactions.as_mut() else {
            return;
        };
        txn.added.clear();
        txn.to_add.clear();
        txn.groups.clear();
        let abandoned = txn.offsets.take().map(|o| o.token);
        let bump = txn.bump_epoch;
        txn.state = if bump && !commit {
            TxnState::Initializing
        } else {
            TxnState::Ready
        };
        if let Some(token) = abandoned {
            self.finish_op(token, Err(TransactionError::Aborted));
        }
        if bump && !commit {
            // The waiting abort finishes once the bump is through.
            return;
        }
        self.finish_waiting(Ok(()));
    }

    /// Records of the transaction not yet sent: never written.
    pub(in crate::producer::machine) fn drop_unsent(&mut self, now: Instant) {
        let mut unsent = Vec::new();
        self.partitions.for_each_mut(|queue| {
            // A batch put back for a retry was sent before: it may be in
            // the log; it is dropped all the same (the abort hides it).
            unsent.extend(queue.ready.drain(..));
        });
        for batch in unsent {
            self.fail_batch(batch, ProduceError::TransactionAborted, now);
        }
        let topics: Vec<String> = self.awaiting.keys().cloned().collect();
        for topic in topics {
            if let Some(waiting) = self.awaiting.remove(&topic) {
                for (id, _, _, size) in waiting.records {
                    self.fail(id, size, ProduceError::TransactionAborted, now);
                }
            }
        }
        if let Some(txn) = self.transactions.as_mut() {
            txn.to_add.clear();
        }
    }
}
