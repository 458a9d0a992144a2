//! The simulator's errors: what went wrong serving or running a cluster.

use std::net::SocketAddr;

/// Why the simulated cluster could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A request frame did not decode; the broker closes the connection,
    /// as Kafka does.
    #[error("broker {broker}: request does not decode: {reason}")]
    BadRequest {
        /// The id of the broker that read the frame (0 when no broker
        /// was involved, as for [`crate::ServedCluster::create_topic`]).
        broker: i32,
        /// Why the request was refused.
        reason: String,
    },
    /// A response could not be encoded at the version the client asked for.
    #[error("broker {broker}: cannot encode the {api} v{version} response: {reason}")]
    Encode {
        /// The id of the answering broker.
        broker: i32,
        /// The API's name.
        api: &'static str,
        /// The version the client asked for.
        version: i16,
        /// What the encoder reported.
        reason: String,
    },
    /// Serving on loopback: a listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address that could not be bound.
        address: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Serving on loopback: a socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// The operation that failed, and on what.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A topic the caller named does not exist.
    #[error("topic {0} does not exist")]
    UnknownTopic(String),
    /// A broker id the caller named is not in the cluster.
    #[error("broker {0} is not in the cluster")]
    UnknownBroker(i32),
}
