//! kafkite: a Kafka client whose core is a pure, IO-free state machine.
//!
//! This crate is the sans-IO core:
//! - [`protocol`]: the wire codec, every message at every version;
//! - [`records`]: record batches and legacy message sets, with compression;
//! - [`client::Client`]: the connection machine (connections, version
//!   negotiation, authentication, metadata, requests and their answers);
//! - the state machines that ride on it: [`producer::ProducerMachine`],
//!   [`consumer::FetcherMachine`] and [`consumer::GroupConsumerMachine`];
//! - [`engine::Engine`], which composes the client with any number of those
//!   machines and is what a driver runs.
//!
//! Beside them: [`admin`] request builders, [`properties`] (librdkafka and
//! Java client configuration) and [`security`] (TLS and SASL settings).
//!
//! It never opens a socket, reads a clock or spawns a thread: it takes bytes,
//! connection events and the current time, and returns the IO to do, the
//! next deadline and events. The runtime driver crates do the IO.

#![warn(missing_docs)]

/// A partition of a topic: the topic's name and the partition's index.
/// The one name every layer uses for it.
pub type TopicPartition = (String, i32);

pub mod admin;
pub mod client;
pub mod consumer;
pub mod engine;
#[cfg(test)]
pub(crate) mod memory_probe;
pub mod producer;
pub mod properties;
pub mod protocol;
pub mod records;
pub mod security;
