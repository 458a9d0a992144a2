//! The exactly-once sweep: consume-transform-produce applications that
//! crash, restart and come back as zombies, over many seeds, with the
//! seed's cluster faults; the invariant is checked after every run.
//!
//! `cargo test -p kafkite-sim --test exactly_once` runs the default sweep
//! (10,000 seeds over two threads); `SIM_EOS_SEEDS=N` runs N;
//! `SIM_EOS_SEED=S` with the `replay` test replays one seed, and
//! `SIM_TRACE=1` prints its trace.

use std::time::Instant;

use kafkite_sim::runner::{sweep, EosBug, RunReport, Simulation, Trace, TransactionCounts};

const DEFAULT_SEEDS: u64 = 10_000;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn run(seed: u64, trace: bool, bug: Option<EosBug>) -> RunReport {
    let trace = if trace { Trace::on() } else { Trace::off() };
    Simulation::exactly_once(seed, trace, bug).run()
}

fn replay_command(seed: u64) -> String {
    format!(
        "SIM_EOS_SEED={seed} SIM_TRACE=1 cargo test -p kafkite-sim --test exactly_once replay -- --nocapture"
    )
}

fn add(total: &mut TransactionCounts, c: &TransactionCounts) {
    total.committed += c.committed;
    total.aborted += c.aborted;
    total.fenced += c.fenced;
    total.timed_out += c.timed_out;
    total.restarts += c.restarts;
    total.zombies += c.zombies;
    total.second_protocol += c.second_protocol;
    total.coordinator_moves += c.coordinator_moves;
    total.markers_waited += c.markers_waited;
}

#[test]
fn every_input_is_output_exactly_once_over_many_seeds() {
    let seeds = env_u64("SIM_EOS_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let first = env_u64("SIM_FIRST_SEED").unwrap_or(1);
    let started = Instant::now();
    let results = sweep(first..first + seeds, |seed| {
        let report = run(seed, false, None);
        let counts = report.transactions.clone();
        (counts, (!report.passed()).then_some(report))
    });
    let mut failures: Vec<RunReport> = Vec::new();
    let mut counts = TransactionCounts::default();
    for (_, (c, failed)) in results {
        add(&mut counts, &c);
        failures.extend(failed);
    }
    failures.sort_by_key(|r| r.seed);
    println!(
        "simulated {seeds} exactly-once seeds in {:.1} s, {} failed; transactions: {counts:?}",
        started.elapsed().as_secs_f64(),
        failures.len(),
    );
    for f in failures.iter().take(10) {
        println!("seed {} failed: {:?}", f.seed, f.violations);
        println!("  replay: {}", replay_command(f.seed));
    }
    assert!(
        failures.is_empty(),
        "{} seeds failed; the first: {}",
        failures.len(),
        replay_command(failures[0].seed)
    );
    // The sweep reached what it is for: commits under both protocols,
    // fencing of zombies, restarts, coordinator timeouts.
    assert!(counts.committed > seeds, "{counts:?}");
    assert!(counts.second_protocol > 0, "{counts:?}");
    if seeds >= 1_000 {
        assert!(
            counts.fenced > 0 && counts.zombies > 0 && counts.restarts > 0,
            "{counts:?}"
        );
        assert!(counts.timed_out > 0, "{counts:?}");
        assert!(
            counts.coordinator_moves > 0 && counts.markers_waited > 0,
            "{counts:?}"
        );
    }
}

#[test]
fn offsets_committed_outside_the_transaction_are_caught() {
    let caught = (1..=300u64)
        .find(|seed| !run(*seed, false, Some(EosBug::OffsetsOutsideTransaction)).passed());
    assert!(
        caught.is_some(),
        "committing offsets outside the transaction broke no invariant in 300 seeds"
    );
}

#[test]
fn one_seed_gives_byte_identical_traces() {
    for seed in [3, 77] {
        let a = run(seed, true, None);
        let b = run(seed, true, None);
        assert!(!a.trace.is_empty());
        assert!(a.trace == b.trace, "seed {seed}: traces differ");
    }
}

#[test]
fn replay() {
    let Some(seed) = env_u64("SIM_EOS_SEED") else {
        return;
    };
    let report = run(seed, true, None);
    if env_u64("SIM_TRACE").is_some() {
        println!("{}", report.trace);
    }
    println!(
        "seed {seed}: {} acked, {} ms of virtual time, transactions {:?}, violations: {:?}",
        report.acked, report.virtual_ms, report.transactions, report.violations
    );
    assert!(
        report.passed(),
        "seed {seed} failed: {:?}",
        report.violations
    );
}
