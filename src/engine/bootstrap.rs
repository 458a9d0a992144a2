//! The bootstrap deadline: until the first metadata arrives, the engine
//! keeps the latest connection errors, to explain a bootstrap that fails.

use std::time::Instant;

/// How many recent connection errors a bootstrap failure reports.
const ERRORS_KEPT: usize = 4;

#[derive(Debug)]
pub(crate) struct Bootstrap {
    /// `None`: keep trying.
    pub(crate) deadline: Option<Instant>,
    recent_errors: Vec<String>,
}

impl Bootstrap {
    pub(crate) fn new(deadline: Option<Instant>) -> Self {
        Bootstrap {
            deadline,
            recent_errors: Vec::new(),
        }
    }

    /// Keeps the latest few errors.
    pub(crate) fn note_error(&mut self, error: String) {
        if self.recent_errors.len() == ERRORS_KEPT {
            self.recent_errors.remove(0);
        }
        self.recent_errors.push(error);
    }

    pub(crate) fn into_errors(self) -> Vec<String> {
        self.recent_errors
    }
}
