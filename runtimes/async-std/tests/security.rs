//! Secured connections on async-std against a secured Apache Kafka 4.4
//! (see `kafkite_conformance::security_tests!`).

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    async_std::task::block_on(future)
}

kafkite_conformance::security_tests!(kafkite_async_std::AsyncStdRuntime, block_on);
