//! The faults a scenario runs its client through, in order, while the
//! client keeps traffic flowing: connections cut mid-frame in each
//! direction, a spell of byte-at-a-time delivery, stalls (one longer than
//! the request timeout, so answers are held past it), and a bandwidth
//! limit. Returns what was injected, for the scenario's report.

use std::time::{Duration, Instant};

use kafkite_testkit::{Direction, FaultyProxy, ProxyStats};

use super::support::{pause, wait_until, PRODUCE_TIMEOUT, REQUEST_TIMEOUT};

/// Cuts made in each direction that left a frame half-forwarded.
pub const MID_FRAME_CUTS_PER_DIRECTION: u64 = 3;

/// After how many more bytes each successive cut fires: small, so a
/// client that only polls (a consumer's fetches, ~100 bytes each) reaches
/// them within seconds, and varied, so cuts land at different places of
/// different frames.
const CUT_AFTER: [u64; 7] = [1_234, 2_987, 741, 3_333, 1_999, 517, 4_321];

/// How long an armed cut may wait for enough traffic to fire.
const CUT_LIMIT: Duration = Duration::from_secs(60);

/// How long the client may reconnect and send again after a cut, before
/// the next fault.
const AFTER_CUT: Duration = Duration::from_millis(400);

/// How long bytes go one at a time in both directions.
const BYTE_AT_A_TIME_FOR: Duration = Duration::from_secs(2);

/// Answers held back this long: past the deadline of every request in
/// flight ([`REQUEST_TIMEOUT`], and a produce's [`PRODUCE_TIMEOUT`] plus
/// the 5 s the producer allows on top), so they time out and the client
/// drops the connection and retries on a new one.
const LONG_STALL: Duration = Duration::from_millis(7_500);
const _: () = assert!(LONG_STALL.as_millis() > REQUEST_TIMEOUT.as_millis());
const _: () = assert!(LONG_STALL.as_millis() > PRODUCE_TIMEOUT.as_millis() + 5_000);

/// Requests held back this long (until resumed), within the timeout.
const SHORT_STALL: Duration = Duration::from_secs(2);

/// The bandwidth limit each way, and for how long.
const LOW_BANDWIDTH: u64 = 8 * 1024;
const LOW_BANDWIDTH_FOR: Duration = Duration::from_secs(3);

/// What [`inject`] did.
#[derive(Debug, Default)]
pub struct Injected {
    pub cuts: u64,
    pub cuts_mid_frame: u64,
    /// Bytes and writes forwarded while byte-at-a-time was on (both ways).
    pub byte_at_a_time_bytes: u64,
    pub byte_at_a_time_writes: u64,
    pub stalls: u64,
    /// Connections the client opened while its answers were held past
    /// their deadlines.
    pub connections_during_long_stall: u64,
    pub bandwidth_limits: u64,
    pub took: Duration,
}

impl std::fmt::Display for Injected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} cuts ({} mid-frame), {} bytes byte-at-a-time in {} writes, {} stalls \
             ({} reconnects in the long one), {} bandwidth limits, in {:.1} s",
            self.cuts,
            self.cuts_mid_frame,
            self.byte_at_a_time_bytes,
            self.byte_at_a_time_writes,
            self.stalls,
            self.connections_during_long_stall,
            self.bandwidth_limits,
            self.took.as_secs_f64()
        )
    }
}

/// Runs the faults on `proxy`; `say` logs each step. The client must keep
/// traffic flowing meanwhile (a cut fires only once bytes pass).
pub async fn inject(proxy: &FaultyProxy, say: &dyn Fn(String)) -> Injected {
    let started = Instant::now();
    let mut injected = Injected::default();

    // Cuts, alternating directions, until each has had its mid-frame cuts
    // (a cut that lands between two frames does not count; it is rare).
    let mut mid_frame = [0u64; 2];
    let mut i = 0;
    while mid_frame.iter().any(|&n| n < MID_FRAME_CUTS_PER_DIRECTION) {
        let dir = Direction::BOTH[i % 2];
        let bytes = CUT_AFTER[i % CUT_AFTER.len()];
        i += 1;
        if mid_frame[dir_index(dir)] >= MID_FRAME_CUTS_PER_DIRECTION {
            continue;
        }
        assert!(i < 40, "cuts keep landing between frames");
        let before = proxy.stats();
        proxy.cut_after(dir, bytes);
        wait_until(
            &format!("a cut {dir:?} after {bytes} bytes"),
            CUT_LIMIT,
            || !proxy.cut_pending(dir),
        )
        .await;
        let after = proxy.stats();
        let mid = after.cuts_mid_frame - before.cuts_mid_frame;
        mid_frame[dir_index(dir)] += mid;
        injected.cuts += after.cuts - before.cuts;
        injected.cuts_mid_frame += mid;
        say(format!(
            "cut {dir:?} after {bytes} more bytes ({})",
            if mid == 1 {
                "mid-frame"
            } else {
                "between frames"
            }
        ));
        pause(AFTER_CUT).await;
    }

    let before = proxy.stats();
    for dir in Direction::BOTH {
        proxy.byte_at_a_time(dir, true);
    }
    say(format!(
        "byte at a time, both ways, for {BYTE_AT_A_TIME_FOR:?}"
    ));
    pause(BYTE_AT_A_TIME_FOR).await;
    for dir in Direction::BOTH {
        proxy.byte_at_a_time(dir, false);
    }
    let (bytes, writes) = both_ways(&before, &proxy.stats());
    injected.byte_at_a_time_bytes = bytes;
    injected.byte_at_a_time_writes = writes;
    say(format!("{bytes} bytes passed in {writes} writes"));

    let connections = proxy.stats().connections;
    say(format!(
        "answers held for {LONG_STALL:?} (past every request's deadline)"
    ));
    proxy.stall(Direction::ToClient, LONG_STALL);
    injected.stalls += 1;
    pause(LONG_STALL + Duration::from_secs(1)).await;

    injected.connections_during_long_stall = proxy.stats().connections - connections;
    say(format!(
        "{} new connections while answers were held",
        injected.connections_during_long_stall
    ));

    say(format!("requests held until resumed, {SHORT_STALL:?}"));
    proxy.stall_until_resumed(Direction::ToBroker);
    injected.stalls += 1;
    pause(SHORT_STALL).await;
    proxy.resume(Direction::ToBroker);

    say(format!(
        "bandwidth {LOW_BANDWIDTH} B/s each way for {LOW_BANDWIDTH_FOR:?}"
    ));
    for dir in Direction::BOTH {
        proxy.bandwidth(dir, LOW_BANDWIDTH);
        injected.bandwidth_limits += 1;
    }
    pause(LOW_BANDWIDTH_FOR).await;
    proxy.clear_faults();
    say("faults cleared".to_string());
    injected.took = started.elapsed();
    injected
}

fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::ToBroker => 0,
        Direction::ToClient => 1,
    }
}

/// Bytes and writes forwarded both ways between two snapshots.
fn both_ways(before: &ProxyStats, after: &ProxyStats) -> (u64, u64) {
    Direction::BOTH
        .iter()
        .fold((0, 0), |(bytes, writes), &dir| {
            let (b, a) = (before.direction(dir), after.direction(dir));
            (bytes + a.bytes - b.bytes, writes + a.writes - b.writes)
        })
}
