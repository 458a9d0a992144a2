//! The driver's conformance suite on async-std, against Apache Kafka,
//! tansu, noida-db and librdkafka's mock cluster.

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    async_std::task::block_on(future)
}

kafkite_conformance::conformance_tests!(kafkite_async_std::AsyncStdRuntime, block_on);
