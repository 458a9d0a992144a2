//! TLS: settings ([`TlsConfig`]), loaded once per session into a
//! [`TlsConnector`] that makes a rustls client connection per broker
//! connection.
//!
//! Where the layer sits: under the core, in the transport. The core speaks
//! plaintext Kafka frames; each connection's bytes are encrypted and
//! decrypted by the task (or thread) that owns its socket, so TLS work on
//! many connections runs in parallel on the runtime's threads instead of
//! queueing on the event loop. rustls's `ClientConnection` is itself
//! sans-IO, so a driver of the core's own wraps its sockets with
//! [`TlsConnector::client_connection`] the same way kafkite's drivers do.

mod config;
mod connector;
mod error;

pub use config::{ClientIdentity, KeySource, PemSource, TlsConfig, TrustRoots};
pub use connector::TlsConnector;
pub use error::TlsError;
