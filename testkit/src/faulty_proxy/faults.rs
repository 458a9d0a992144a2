//! The faults a test sets on a [`super::FaultyProxy`], per direction, and
//! the one decision the forwarding threads ask of them: given some bytes
//! to forward now, how many may go, whether the connection is cut after
//! them, or how long to wait first. Kept free of sockets and clocks (the
//! caller passes `now`) so it is tested on its own.

use std::time::{Duration, Instant};

/// Which way bytes flow through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the broker: requests.
    ToBroker,
    /// From the broker to the client: responses.
    ToClient,
}

impl Direction {
    /// Both directions, for faults on the whole connection.
    pub const BOTH: [Direction; 2] = [Direction::ToBroker, Direction::ToClient];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Data held back until a time, or until the test resumes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stall {
    Until(Instant),
    UntilResumed,
}

/// One direction's faults. All off by default: bytes are forwarded as
/// they are read.
#[derive(Debug, Default)]
pub(crate) struct DirectionFaults {
    pub(crate) stall: Option<Stall>,
    pub(crate) byte_at_a_time: bool,
    /// Bytes per second per connection; `None`: unlimited.
    pub(crate) bandwidth: Option<u64>,
    /// Bytes still forwarded (over all connections) before the connection
    /// that carries the last of them is cut; `None`: no cut armed.
    pub(crate) cut_after: Option<u64>,
    /// Bumped whenever `bandwidth` is set, so pacers start afresh.
    pub(crate) bandwidth_generation: u64,
}

/// Every direction's faults.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    dirs: [DirectionFaults; 2],
}

/// What a forwarding thread does next with the bytes it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Forward this many bytes (at most what it holds; 0 only before a
    /// cut), then cut the connection if `cut`.
    Forward { len: usize, cut: bool },
    /// Forward nothing yet: ask again after this long (`None`: when the
    /// faults change).
    Wait(Option<Duration>),
}

/// A bandwidth limit is paced in slices of this much time's worth of
/// bytes: small enough that the rate is smooth, large enough that a
/// limit of a few MB/s is not one write per byte.
const PACING_SLICES_PER_SECOND: u64 = 50;

/// A connection idle for longer than this does not get to send the
/// bytes it "saved" meanwhile in one burst.
const PACING_IDLE_RESET: Duration = Duration::from_millis(100);

/// One forwarding thread's bandwidth account.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    since: Option<Instant>,
    sent: u64,
    generation: u64,
}

impl Faults {
    pub(crate) fn get_mut(&mut self, dir: Direction) -> &mut DirectionFaults {
        &mut self.dirs[dir.index()]
    }

    pub(crate) fn get(&self, dir: Direction) -> &DirectionFaults {
        &self.dirs[dir.index()]
    }

    /// What to do with `available` (> 0) bytes bound `dir`-wards at `now`.
    /// Takes a [`Step::Forward`]'s bytes off an armed cut's budget and off
    /// `pacer`'s allowance, so the caller must forward exactly `len`.
    pub(crate) fn next_step(
        &mut self,
        dir: Direction,
        available: usize,
        pacer: &mut Pacer,
        now: Instant,
    ) -> Step {
        let faults = &mut self.dirs[dir.index()];
        match faults.stall {
            Some(Stall::UntilResumed) => return Step::Wait(None),
            Some(Stall::Until(until)) if until > now => return Step::Wait(Some(until - now)),
            Some(Stall::Until(_)) => faults.stall = None,
            None => {}
        }
        let mut len = available;
        if faults.byte_at_a_time {
            len = 1;
        }
        if let Some(rate) = faults.bandwidth {
            let rate = rate.max(1);
            if pacer.generation != faults.bandwidth_generation {
                *pacer = Pacer {
                    generation: faults.bandwidth_generation,
                    ..Pacer::default()
                };
            }
            let since = *pacer.since.get_or_insert(now);
            let due = since + paced(pacer.sent, rate);
            if due > now {
                return Step::Wait(Some(due - now));
            }
            if now - due > PACING_IDLE_RESET {
                pacer.since = Some(now);
                pacer.sent = 0;
            }
            let slice = (rate / PACING_SLICES_PER_SECOND).max(1);
            len = len.min(usize::try_from(slice).unwrap_or(usize::MAX));
        }
        let mut cut = false;
        if let Some(left) = faults.cut_after {
            if len as u64 >= left {
                // `left` < `len` <= usize::MAX here.
                len = left as usize;
                cut = true;
                faults.cut_after = None;
            } else {
                faults.cut_after = Some(left - len as u64);
            }
        }
        pacer.sent += len as u64;
        Step::Forward { len, cut }
    }
}

/// How long `bytes` take at `rate` bytes per second (rate > 0).
fn paced(bytes: u64, rate: u64) -> Duration {
    let nanos = u128::from(bytes) * 1_000_000_000 / u128::from(rate);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: Direction = Direction::ToBroker;
    const DOWN: Direction = Direction::ToClient;

    fn forward(len: usize) -> Step {
        Step::Forward { len, cut: false }
    }

    #[test]
    fn without_faults_everything_goes_at_once() {
        let mut f = Faults::default();
        let now = Instant::now();
        assert_eq!(
            f.next_step(UP, 5000, &mut Pacer::default(), now),
            forward(5000)
        );
    }

    #[test]
    fn a_cut_takes_exactly_its_budget_over_several_steps_then_disarms() {
        let mut f = Faults::default();
        let now = Instant::now();
        let mut p = Pacer::default();
        f.get_mut(UP).cut_after = Some(250);
        assert_eq!(f.next_step(UP, 100, &mut p, now), forward(100));
        assert_eq!(f.next_step(DOWN, 900, &mut p, now), forward(900));
        assert_eq!(f.next_step(UP, 100, &mut p, now), forward(100));
        assert_eq!(
            f.next_step(UP, 100, &mut p, now),
            Step::Forward { len: 50, cut: true }
        );
        assert_eq!(f.next_step(UP, 100, &mut p, now), forward(100));
        f.get_mut(DOWN).cut_after = Some(0);
        assert_eq!(
            f.next_step(DOWN, 10, &mut p, now),
            Step::Forward { len: 0, cut: true }
        );
    }

    #[test]
    fn byte_at_a_time_forwards_one_byte_per_step() {
        let mut f = Faults::default();
        f.get_mut(DOWN).byte_at_a_time = true;
        let now = Instant::now();
        let mut p = Pacer::default();
        assert_eq!(f.next_step(DOWN, 70, &mut p, now), forward(1));
        assert_eq!(f.next_step(UP, 70, &mut p, now), forward(70));
    }

    #[test]
    fn a_timed_stall_waits_then_ends_by_itself() {
        let mut f = Faults::default();
        let now = Instant::now();
        let mut p = Pacer::default();
        f.get_mut(UP).stall = Some(Stall::Until(now + Duration::from_secs(2)));
        assert_eq!(
            f.next_step(UP, 10, &mut p, now),
            Step::Wait(Some(Duration::from_secs(2)))
        );
        assert_eq!(f.next_step(DOWN, 10, &mut p, now), forward(10));
        let later = now + Duration::from_secs(2);
        assert_eq!(f.next_step(UP, 10, &mut p, later), forward(10));
        assert_eq!(f.get(UP).stall, None);
    }

    #[test]
    fn a_stall_until_resumed_waits_for_a_change() {
        let mut f = Faults::default();
        f.get_mut(DOWN).stall = Some(Stall::UntilResumed);
        let far = Instant::now() + Duration::from_secs(3600);
        assert_eq!(
            f.next_step(DOWN, 10, &mut Pacer::default(), far),
            Step::Wait(None)
        );
    }

    #[test]
    fn bandwidth_paces_slices_at_the_rate() {
        let mut f = Faults::default();
        f.get_mut(UP).bandwidth = Some(1000);
        f.get_mut(UP).bandwidth_generation = 1;
        let t0 = Instant::now();
        let mut p = Pacer::default();
        // 1000 B/s in slices of 20 bytes: one slice now, the next 20 ms on.
        assert_eq!(f.next_step(UP, 500, &mut p, t0), forward(20));
        assert_eq!(
            f.next_step(UP, 480, &mut p, t0),
            Step::Wait(Some(Duration::from_millis(20)))
        );
        let mut at = t0;
        let mut sent = 20;
        while sent < 500 {
            match f.next_step(UP, 500 - sent, &mut p, at) {
                Step::Forward { len, .. } => sent += len,
                Step::Wait(Some(d)) => at += d,
                Step::Wait(None) => panic!("no stall set"),
            }
        }
        // 500 bytes at 1000 B/s: the last slice leaves 480 ms after the first.
        assert_eq!(at - t0, Duration::from_millis(480));
    }

    #[test]
    fn an_idle_connection_does_not_burst_and_a_new_limit_starts_afresh() {
        let mut f = Faults::default();
        f.get_mut(UP).bandwidth = Some(1000);
        let t0 = Instant::now();
        let mut p = Pacer::default();
        assert_eq!(f.next_step(UP, 20, &mut p, t0), forward(20));
        let later = t0 + Duration::from_secs(10);
        assert_eq!(f.next_step(UP, 500, &mut p, later), forward(20));
        assert!(matches!(
            f.next_step(UP, 480, &mut p, later),
            Step::Wait(Some(_))
        ));
        f.get_mut(UP).bandwidth = Some(1_000_000);
        f.get_mut(UP).bandwidth_generation += 1;
        assert_eq!(f.next_step(UP, 480, &mut p, later), forward(480));
    }

    #[test]
    fn byte_at_a_time_and_a_cut_combine() {
        let mut f = Faults::default();
        f.get_mut(UP).byte_at_a_time = true;
        f.get_mut(UP).cut_after = Some(2);
        let now = Instant::now();
        let mut p = Pacer::default();
        assert_eq!(f.next_step(UP, 9, &mut p, now), forward(1));
        assert_eq!(
            f.next_step(UP, 8, &mut p, now),
            Step::Forward { len: 1, cut: true }
        );
    }
}
