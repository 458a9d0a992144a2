//! Testing your own consumer logic under faults.
//!
//! Kafka delivers at least once: after a crash, a dropped connection or a
//! rebalance, a consumer group hands some records out again. Logic that
//! assumes each record arrives once is wrong, but only under faults, which
//! a test against one real broker rarely shows. Here the simulation runs a
//! few hundred seeds (crashes, elections, stalls, lost connections, each
//! chosen by the seed), and each run's delivery stream, redeliveries
//! included, is fed to two versions of an application's logic: a bank
//! ledger where each record is a deposit.
//!
//! ```text
//! cargo run -p kafkite-sim --example consumer_under_faults
//! ```

use std::collections::{BTreeMap, BTreeSet};

use kafkite_sim::runner::{replay_command, Consumed, Simulation, Trace};

/// The application's logic: apply a deposit.
trait Ledger: Default {
    fn apply(&mut self, record: &Consumed);
    fn balance(&self) -> u64;
}

/// Adds every record it is given.
#[derive(Default)]
struct NaiveLedger {
    balance: u64,
}

impl Ledger for NaiveLedger {
    fn apply(&mut self, record: &Consumed) {
        self.balance += amount(&record.value);
    }
    fn balance(&self) -> u64 {
        self.balance
    }
}

/// Keeps, with its state, the next offset it expects per partition (what
/// a real application would store in the same transaction as the
/// balance), and skips what it has already applied.
#[derive(Default)]
struct OffsetAwareLedger {
    balance: u64,
    next: BTreeMap<i32, i64>,
}

impl Ledger for OffsetAwareLedger {
    fn apply(&mut self, record: &Consumed) {
        let next = self.next.entry(record.partition).or_insert(0);
        if record.offset < *next {
            return; // a redelivery
        }
        *next = record.offset + 1;
        self.balance += amount(&record.value);
    }
    fn balance(&self) -> u64 {
        self.balance
    }
}

/// The deposit a record carries: the simulation's values are "r<index>".
fn amount(value: &str) -> u64 {
    value
        .trim_start_matches('r')
        .parse::<u64>()
        .map_or(0, |n| n + 1)
}

/// Runs the ledger over one seed's delivery stream; `Err` with the replay
/// command when the balance is wrong.
fn check<L: Ledger>(seed: u64) -> Result<(), String> {
    let report = Simulation::new(seed, Trace::off()).run();
    if !report.passed() {
        return Err(format!(
            "the simulation itself failed: {:?}",
            report.violations
        ));
    }
    let mut ledger = L::default();
    for record in &report.deliveries {
        ledger.apply(record);
    }
    let distinct: BTreeSet<&str> = report.deliveries.iter().map(|d| d.value.as_str()).collect();
    let expected: u64 = distinct.iter().map(|v| amount(v)).sum();
    if ledger.balance() == expected {
        Ok(())
    } else {
        Err(format!(
            "balance {} but deposits sum to {expected}; replay: {}",
            ledger.balance(),
            replay_command(seed)
        ))
    }
}

fn main() {
    let seeds = 1..=300u64;
    let naive: Vec<(u64, String)> = seeds
        .clone()
        .filter_map(|s| check::<NaiveLedger>(s).err().map(|e| (s, e)))
        .collect();
    let aware: Vec<(u64, String)> = seeds
        .clone()
        .filter_map(|s| check::<OffsetAwareLedger>(s).err().map(|e| (s, e)))
        .collect();
    println!(
        "naive ledger: wrong in {} of {} seeds",
        naive.len(),
        seeds.clone().count()
    );
    if let Some((seed, why)) = naive.first() {
        println!("  first: seed {seed}: {why}");
    }
    println!("offset-aware ledger: wrong in {} seeds", aware.len());
    for (seed, why) in &aware {
        println!("  seed {seed}: {why}");
    }
}
