//! The run's trace: one line per thing that happened, stamped with
//! virtual time. Two runs of one seed give the same bytes; the sweep runs
//! without it (formatting costs more than the simulation).

use std::fmt::Write;

/// A trace that is kept or not.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    lines: Option<String>,
}

impl Trace {
    /// A trace that keeps every line.
    pub fn on() -> Self {
        Trace {
            lines: Some(String::new()),
        }
    }

    /// A trace that keeps nothing and formats nothing.
    pub fn off() -> Self {
        Trace { lines: None }
    }

    /// Whether lines are kept.
    pub fn is_on(&self) -> bool {
        self.lines.is_some()
    }

    /// Appends a line; `what` is only formatted when the trace is kept.
    pub fn line(&mut self, now_us: u64, who: &str, what: impl FnOnce() -> String) {
        if let Some(s) = &mut self.lines {
            let _ = writeln!(
                s,
                "{:>6}.{:06} {who}: {}",
                now_us / 1_000_000,
                now_us % 1_000_000,
                what()
            );
        }
    }

    /// The whole trace ("" when off).
    pub fn text(&self) -> &str {
        self.lines.as_deref().unwrap_or("")
    }
}
