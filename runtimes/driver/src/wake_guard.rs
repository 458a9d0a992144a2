//! When to wake a state machine next, guarded against stale deadlines.
//!
//! Defence in depth: every core machine promises that `poll_timeout` never
//! returns a deadline it has already been woken for (their tests check this
//! after every step). Should one appear anyway, the event loop retries
//! after [`STALE_DEADLINE_RETRY`] rather than spinning on it. The loop's
//! client and each producer, fetcher and group consumer slot keep their own
//! last wake and share this rule.

use std::time::{Duration, Instant};

pub(crate) const STALE_DEADLINE_RETRY: Duration = Duration::from_millis(100);

/// The machine's `deadline`, or a retry a little after `last_woken` when the
/// deadline is not after it.
pub(crate) fn next_wake(deadline: Option<Instant>, last_woken: Option<Instant>) -> Option<Instant> {
    let at = deadline?;
    Some(match last_woken {
        Some(last) if at <= last => last + STALE_DEADLINE_RETRY,
        _ => at,
    })
}
