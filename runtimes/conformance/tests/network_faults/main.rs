//! kafkite against real network faults: a loopback proxy the tests
//! control (`kafkite_testkit::FaultyProxy`) between the client and a real
//! Apache Kafka 4.4 that advertises the proxy's address, so that every
//! connection passes it. The proxy cuts connections mid-frame, delivers a
//! byte at a time, stalls and limits bandwidth, as librdkafka's sockem
//! does inside its client; the scenarios check the producer's and the
//! group consumer's promises through it.
//!
//! One broker for the binary (`kafkite_testkit::shared_proxied`); each
//! scenario takes a proxy of its own, so their faults stay apart. One
//! runtime is enough: the driver is shared by all three.

mod group;
mod producer;
mod round_trip;
mod schedule;
mod support;
