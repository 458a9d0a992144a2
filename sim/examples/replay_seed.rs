//! Replays one seed of the simulation and prints its trace: what every
//! client and broker did, on virtual time.
//!
//! ```text
//! cargo run -p kafkite-sim --example replay_seed -- 123
//! ```

use kafkite_sim::runner::{Simulation, Trace};

fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let report = Simulation::new(seed, Trace::on()).run();
    println!("{}", report.trace);
    println!(
        "seed {seed}: {} acked, {} delivered, {} ms virtual, {} steps; violations: {:?}",
        report.acked, report.delivered, report.virtual_ms, report.steps, report.violations
    );
}
