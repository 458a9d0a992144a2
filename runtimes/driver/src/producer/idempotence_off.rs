//! Whether a producer went on without idempotence, shared by its handles
//! and the event loop.
//!
//! By default (`Idempotence::Preferred`) a producer whose broker gives no
//! producer id keeps producing without one; the core reports that once
//! (`ProducerEvent::IdempotenceDisabled`), in the event loop, and the
//! application asks on its own thread: so the answer is kept here, set
//! once.

use std::sync::OnceLock;

use kafkite::producer::IdempotenceUnavailable;

#[derive(Debug, Default)]
pub(crate) struct IdempotenceOff(OnceLock<IdempotenceUnavailable>);

impl IdempotenceOff {
    /// Keeps the first reason given (the core reports it once).
    pub(crate) fn set(&self, reason: IdempotenceUnavailable) {
        let _ = self.0.set(reason);
    }

    pub(crate) fn reason(&self) -> Option<IdempotenceUnavailable> {
        self.0.get().copied()
    }
}
