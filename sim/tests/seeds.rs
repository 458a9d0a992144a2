//! The seed sweep: every invariant over many seeds, determinism, and the
//! replay of one seed.
//!
//! `cargo test -p kafkite-sim --test seeds` runs the default sweep
//! (10,000 seeds over two threads); `SIM_SEEDS=N` runs N;
//! `SIM_SEED=S` with the `replay` test replays one seed, and
//! `SIM_TRACE=1` prints its trace.

use std::time::Instant;

use kafkite_sim::runner::{replay_command, sweep, RunReport, Simulation, Trace};

const DEFAULT_SEEDS: u64 = 10_000;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn run(seed: u64, trace: bool) -> RunReport {
    Simulation::new(seed, if trace { Trace::on() } else { Trace::off() }).run()
}

#[test]
fn invariants_hold_over_many_seeds() {
    let seeds = env_u64("SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let first = env_u64("SIM_FIRST_SEED").unwrap_or(1);
    let started = Instant::now();
    // Only what a seed left to look at is kept: its stale deadlines and,
    // if it failed, its report.
    let results = sweep(first..first + seeds, |seed| {
        let report = run(seed, false);
        let stale = report.stale_deadlines;
        (stale, (!report.passed()).then_some(report))
    });
    let mut stale: Vec<(u64, u64)> = Vec::new();
    let mut failures: Vec<RunReport> = Vec::new();
    for (seed, (stale_deadlines, failed)) in results {
        if stale_deadlines > 0 {
            stale.push((seed, stale_deadlines));
        }
        failures.extend(failed);
    }
    stale.sort_unstable();
    failures.sort_by_key(|r| r.seed);
    println!(
        "simulated {seeds} seeds ({first}..{}) in {:.1} s, {} failed, {} with a stale deadline",
        first + seeds,
        started.elapsed().as_secs_f64(),
        failures.len(),
        stale.len()
    );
    for f in failures.iter().take(10) {
        println!("seed {} failed: {:?}", f.seed, f.violations);
        println!("  replay: {}", replay_command(f.seed));
    }
    // Every machine promises never to report a deadline it was woken for
    // (the engine would serve it a millisecond late): held over every seed.
    assert!(
        stale.is_empty(),
        "machines reported deadlines already served: (seed, how many) {:?}",
        &stale[..stale.len().min(10)]
    );
    assert!(
        failures.is_empty(),
        "{} seeds failed; the first: {}",
        failures.len(),
        replay_command(failures[0].seed)
    );
}

#[test]
fn one_seed_gives_byte_identical_traces() {
    for seed in [7, 4242, 987_654_321] {
        let a = run(seed, true);
        let b = run(seed, true);
        assert!(!a.trace.is_empty());
        assert!(a.trace == b.trace, "seed {seed}: traces differ");
    }
}

#[test]
fn replay() {
    let Some(seed) = env_u64("SIM_SEED") else {
        return;
    };
    let report = run(seed, true);
    if env_u64("SIM_TRACE").is_some() {
        println!("{}", report.trace);
    }
    println!(
        "seed {seed}: {} acked, {} delivered, {} ms of virtual time, violations: {:?}",
        report.acked, report.delivered, report.virtual_ms, report.violations
    );
    assert!(
        report.passed(),
        "seed {seed} failed: {:?}",
        report.violations
    );
}
