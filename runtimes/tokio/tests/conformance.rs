//! The driver's conformance suite on tokio, against Apache Kafka, tansu,
//! noida-db and librdkafka's mock cluster.

/// A multi-threaded runtime per test, so the driver's tasks run beside the
/// test's own future.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}

kafkite_conformance::conformance_tests!(kafkite_tokio::TokioRuntime, block_on);
