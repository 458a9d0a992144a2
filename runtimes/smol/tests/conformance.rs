//! The driver's conformance suite on smol, against Apache Kafka, tansu,
//! noida-db and librdkafka's mock cluster.

/// The driver's tasks run on smol's global executor; the test's future
/// runs here.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    smol::block_on(future)
}

kafkite_conformance::conformance_tests!(kafkite_smol::SmolRuntime, block_on);
