//! Secured connections on tokio against a secured Apache Kafka 4.4
//! (see `kafkite_conformance::security_tests!`).

/// A multi-threaded runtime per test, so the driver's tasks (and their TLS
/// work) run beside the test's own future.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}

kafkite_conformance::security_tests!(kafkite_tokio::TokioRuntime, block_on);
