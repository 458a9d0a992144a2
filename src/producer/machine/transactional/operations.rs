//! What the application calls: init, begin, offsets, commit, abort, and
//! the bookkeeping of the operation it waits for.

use std::time::Instant;

use super::{wrong_state, PendingOffsets, TxnState, Waiting};
use crate::client::Client;
use crate::producer::machine::ProducerMachine;
use crate::producer::record::ProducerEvent;
use crate::producer::transaction::{
    ConsumerGroupMetadata, TransactionError, TransactionOffset, TransactionProtocol,
};

impl ProducerMachine {
    // ---- operations ----

    /// Gets the producer's identity from its transactional id's
    /// coordinator, fencing any older producer with the same id and
    /// finishing (aborting) what it left open. Ends with
    /// [`ProducerEvent::Transaction`] carrying the returned token.
    pub fn init_transactions(&mut self, client: &mut Client, now: Instant) -> u64 {
        let token = self.op_token();
        let waiting = self.waiting(token, "init_transactions", now);
        let Some(txn) = self.transactions.as_mut() else {
            self.finish_op(token, Err(TransactionError::NotTransactional));
            return token;
        };
        match &txn.state {
            TxnState::Uninitialized => {
                txn.state = TxnState::Initializing;
                txn.waiting = Some(waiting);
                self.drive(client, now);
            }
            // Called again after a time-out: wait on.
            TxnState::Initializing => txn.waiting = Some(waiting),
            other => {
                let error = wrong_state("init_transactions", other);
                self.finish_op(token, Err(error));
            }
        }
        token
    }

    /// Opens a transaction: records may be sent from now until it is
    /// committed or aborted.
    pub fn begin_transaction(&mut self) -> Result<(), TransactionError> {
        let txn = self
            .transactions
            .as_mut()
            .ok_or(TransactionError::NotTransactional)?;
        match &txn.state {
            TxnState::Ready => {
                txn.state = TxnState::InTransaction;
                Ok(())
            }
            TxnState::Fatal(e) => Err(e.clone()),
            other => Err(wrong_state("begin_transaction", other)),
        }
    }

    /// Puts `offsets` into the open transaction, committed for `group` if
    /// and when it commits (AddOffsetsToTxn, then TxnOffsetCommit to the
    /// group's coordinator, which checks the member's generation). Ends
    /// with [`ProducerEvent::Transaction`] carrying the returned token.
    pub fn send_offsets_to_transaction(
        &mut self,
        client: &mut Client,
        offsets: Vec<TransactionOffset>,
        group: ConsumerGroupMetadata,
        now: Instant,
    ) -> u64 {
        let token = self.op_token();
        let refusal = match self.transactions.as_ref().map(|t| &t.state) {
            None => Some(TransactionError::NotTransactional),
            Some(TxnState::InTransaction) => None,
            Some(TxnState::Abortable(e) | TxnState::Fatal(e)) => Some(e.clone()),
            Some(other) => Some(wrong_state("send_offsets_to_transaction", other)),
        };
        if let Some(error) = refusal {
            self.finish_op(token, Err(error));
            return token;
        }
        let busy = self
            .transactions
            .as_ref()
            .is_some_and(|t| t.offsets.is_some());
        if busy {
            let error = TransactionError::WrongState {
                operation: "send_offsets_to_transaction",
                state: "still sending the offsets given before",
            };
            self.finish_op(token, Err(error));
            return token;
        }
        if let Some(txn) = self.transactions.as_mut() {
            // Already in, or added by the TxnOffsetCommit itself:
            // TxnOffsetCommit straight away.
            let added = txn.group_added(&group.group_id) || txn.protocol.adds_implicitly();
            txn.offsets = Some(PendingOffsets {
                token,
                group,
                offsets,
                added,
            });
        }
        self.drive(client, now);
        token
    }

    /// Commits the open transaction: sends what is queued, waits for every
    /// record's acknowledgement, then ends the transaction. Ends with
    /// [`ProducerEvent::Transaction`] carrying the returned token; an
    /// abortable error there means the transaction must be aborted.
    pub fn commit_transaction(&mut self, client: &mut Client, now: Instant) -> u64 {
        self.end_transaction(client, true, now)
    }

    /// Aborts the open transaction: records not yet sent fail with
    /// [`ProduceError::TransactionAborted`](crate::producer::ProduceError::TransactionAborted); those written are hidden from
    /// read_committed consumers. Ends with [`ProducerEvent::Transaction`].
    pub fn abort_transaction(&mut self, client: &mut Client, now: Instant) -> u64 {
        self.end_transaction(client, false, now)
    }

    /// Whether the producer is transactional and has not failed for good.
    pub fn transaction_state(&self) -> Option<&'static str> {
        self.transactions.as_ref().map(|t| t.state.name())
    }

    /// The transaction protocol spoken with the coordinator (KIP-890),
    /// chosen when `init_transactions` succeeds; `None` without a
    /// transactional id.
    pub fn transaction_protocol(&self) -> Option<TransactionProtocol> {
        self.transactions.as_ref().map(|t| t.protocol())
    }

    pub(in crate::producer::machine) fn end_transaction(
        &mut self,
        client: &mut Client,
        commit: bool,
        now: Instant,
    ) -> u64 {
        let token = self.op_token();
        let operation = if commit {
            "commit_transaction"
        } else {
            "abort_transaction"
        };
        let Some(txn) = self.transactions.as_mut() else {
            self.finish_op(token, Err(TransactionError::NotTransactional));
            return token;
        };
        let next = match (&txn.state, commit) {
            (TxnState::InTransaction, true) => Ok(TxnState::Committing),
            (TxnState::InTransaction | TxnState::Abortable(_), false) => Ok(TxnState::Aborting),
            // Called again after a time-out: wait on.
            (TxnState::Committing, true) | (TxnState::Aborting, false) => Ok(txn.state.clone()),
            (TxnState::Abortable(e) | TxnState::Fatal(e), _) => Err(e.clone()),
            (other, _) => Err(wrong_state(operation, other)),
        };
        match next {
            Ok(state) => {
                txn.state = state;
                let waiting = Waiting {
                    token,
                    operation,
                    until: now + self.config.max_block,
                };
                if let Some(txn) = self.transactions.as_mut() {
                    txn.waiting = Some(waiting);
                }
                // A commit sends everything queued at once (see
                // `committing`); an abort drops what is not yet sent.
                if !commit {
                    self.drop_unsent(now);
                }
                self.drive(client, now);
            }
            Err(error) => self.finish_op(token, Err(error)),
        }
        token
    }

    // ---- waiting operations ----

    pub(in crate::producer::machine) fn op_token(&mut self) -> u64 {
        match self.transactions.as_mut() {
            Some(txn) => txn.take_token(),
            None => 0,
        }
    }

    fn waiting(&self, token: u64, operation: &'static str, now: Instant) -> Waiting {
        Waiting {
            token,
            operation,
            until: now + self.config.max_block,
        }
    }

    pub(in crate::producer::machine) fn finish_op(
        &mut self,
        token: u64,
        result: Result<(), TransactionError>,
    ) {
        self.events
            .push_back(ProducerEvent::Transaction { token, result });
    }

    pub(in crate::producer::machine) fn finish_waiting(
        &mut self,
        result: Result<(), TransactionError>,
    ) {
        let waiting = self.transactions.as_mut().and_then(|t| t.waiting.take());
        if let Some(w) = waiting {
            self.finish_op(w.token, result);
        }
    }

    /// An operation past `max_block` is answered with `TimedOut`; it goes
    /// on, and calling it again waits for it.
    pub(in crate::producer::machine) fn expire_waiting(&mut self, now: Instant) {
        let late = self
            .transactions
            .as_ref()
            .and_then(|t| t.waiting)
            .filter(|w| w.until <= now);
        if let Some(w) = late {
            if let Some(txn) = self.transactions.as_mut() {
                txn.waiting = None;
            }
            let error = TransactionError::TimedOut {
                operation: w.operation,
            };
            self.finish_op(w.token, Err(error));
        }
    }
}
