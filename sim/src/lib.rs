//! kafkite-sim: a deterministic simulated Kafka cluster.
//!
//! Because kafkite's core does no IO, a whole cluster and its clients can
//! run inside one test on virtual time: every delay, dropped connection,
//! broker crash, leader election and error answer is drawn from one seed,
//! and the same seed replays the same run byte for byte. That is how the
//! invariants below are checked over thousands of runs, where real brokers
//! would show a bug only by luck.
//!
//! - [`Cluster`]: N brokers, sans IO, speaking the Kafka wire protocol
//!   through kafkite's own codec (frames in, frames out), with group and
//!   transaction coordinators.
//! - [`runner`]: drives kafkite's [`Engine`](kafkite::engine::Engine),
//!   one per application (a producer, group consumers), against a
//!   [`Cluster`] through a simulated network with seeded faults, records a
//!   trace, and checks invariants.
//! - [`mod@serve`]: the same cluster on real loopback ports, for any client.
//!
//! One seed, one run:
//!
//! ```
//! use kafkite_sim::runner::{replay_command, Simulation, Trace};
//!
//! let report = Simulation::new(42, Trace::off()).run();
//! assert!(report.passed(), "{:?}; replay: {}", report.violations, replay_command(42));
//! ```
//!
//! The cluster also coordinates transactions (markers, the last stable
//! offset, aborted lists, fencing, timeouts). An exactly-once run pipes
//! the seed's records through consume-transform-produce applications that
//! crash and come back as zombies, and checks that a read_committed
//! consumer reads each output exactly once:
//!
//! ```
//! use kafkite_sim::runner::{Simulation, Trace};
//!
//! let report = Simulation::exactly_once(42, Trace::off(), None).run();
//! assert!(report.passed(), "{:?}", report.violations);
//! assert!(report.transactions.committed > 0);
//! ```

#![warn(missing_docs)]

pub mod cluster;
mod error;
mod rng;
pub mod runner;
pub mod serve;

pub use cluster::{Cluster, ClusterConfig, ConnKey, EndedTransaction, Output};
pub use error::SimError;
pub use rng::SimRng;
pub use serve::{serve, ServedCluster};
