//! A one-line progress bar on stderr, redrawn at most ten times a second,
//! and only when stderr is a terminal: a redirected stderr gets no
//! carriage-return noise.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const REDRAW: Duration = Duration::from_millis(100);
const WIDTH: u64 = 30;

/// Progress towards `total` records.
#[derive(Debug)]
pub struct Progress {
    label: &'static str,
    total: u64,
    start: Instant,
    last_draw: Option<Instant>,
    enabled: bool,
}

impl Progress {
    pub fn new(label: &'static str, total: u64) -> Self {
        Progress {
            label,
            total,
            start: Instant::now(),
            last_draw: None,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    /// Redraws with `done` records finished, if it is time to.
    pub fn update(&mut self, done: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self
            .last_draw
            .is_some_and(|at| now.duration_since(at) < REDRAW)
        {
            return;
        }
        self.last_draw = Some(now);
        let line = bar_line(self.label, done, self.total, now.duration_since(self.start));
        let _ = write!(std::io::stderr().lock(), "\r{line}");
    }

    /// Clears the bar's line.
    pub fn finish(&mut self) {
        if self.enabled && self.last_draw.is_some() {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
        self.last_draw = None;
    }
}

/// `label [#####.....]  45%  450000/1000000  812345 rec/s`.
fn bar_line(label: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let done = done.min(total);
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let percent = (done * 100).checked_div(total).unwrap_or(100);
    let rate = rate(done, elapsed);
    format!(
        "{label} [{}{}] {percent:>3}% {done}/{total} {rate:.0} rec/s",
        "#".repeat(filled as usize),
        ".".repeat((WIDTH - filled) as usize),
    )
}

/// Items per second over `elapsed` (zero when no time has passed).
pub fn rate(items: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        items as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_in_proportion() {
        let line = bar_line("produce", 15, 30, Duration::from_secs(1));
        assert_eq!(
            line,
            format!(
                "produce [{}{}]  50% 15/30 15 rec/s",
                "#".repeat(15),
                ".".repeat(15)
            )
        );
    }

    #[test]
    fn an_empty_run_is_complete_and_never_divides_by_zero() {
        let line = bar_line("consume", 0, 0, Duration::ZERO);
        assert!(line.contains("100% 0/0 0 rec/s"), "{line}");
    }
}
