//! What the client logs at TRACE, captured whole over SASL_SSL logins with
//! every mechanism and records sent and read back on a secured Apache
//! Kafka 4.4: no password, token or record payload in it. A process of
//! its own, as the capture is the process's `tracing` subscriber; on
//! tokio's multi-threaded runtime, so that events from the driver's tasks
//! on other threads are captured too.

#[test]
fn no_secret_or_payload_reaches_the_logs() {
    let kafka = kafkite_testkit::shared_secure();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(
            kafkite_conformance::security::secrets_and_payloads_stay_out_of_the_logs::<
                kafkite_tokio::TokioRuntime,
            >(kafka),
        );
}
