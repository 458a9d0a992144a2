//! kafkite: a Kafka client whose core is a pure, IO-free state machine.
//!
//! This crate is the sans-IO core: wire codec, record formats and (later)
//! the client, producer and consumer state machines. It never opens a socket,
//! reads a clock or spawns a thread; the runtime crates do that.

pub mod admin;
pub mod client;
pub mod consumer;
#[cfg(test)]
pub(crate) mod memory_probe;
pub mod producer;
pub mod properties;
pub mod protocol;
pub mod records;
pub mod security;
