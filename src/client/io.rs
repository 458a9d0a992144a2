//! What the core asks of its driver, and what it tells its user.

use bytes::Bytes;

use super::error::{ConnectionError, RequestError};
use super::metadata::MetadataRefusal;
use crate::protocol::{AnyResponse, ApiKey};

/// A connection, named by the core. The driver maps it to a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// A request, named by the core when it is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// IO the driver must do for the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Io {
    /// Open a TCP connection; answer with `handle_connected` or
    /// `handle_disconnected`.
    Connect {
        /// The id the core gives the new connection.
        conn: ConnectionId,
        /// The broker's host name or IP address.
        host: String,
        /// The broker's TCP port.
        port: u16,
    },
    /// Write these bytes, in order, on the connection.
    Send {
        /// The connection to write on.
        conn: ConnectionId,
        /// The bytes to write.
        data: Bytes,
    },
    /// Close the connection; no `handle_disconnected` is expected.
    Close {
        /// The connection to close.
        conn: ConnectionId,
    },
}

/// Which broker a request goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Any broker; the least loaded connected one is preferred.
    AnyBroker,
    /// The broker with this node id.
    Broker(i32),
    /// The cluster's controller, from the latest metadata.
    Controller,
    /// The coordinator of this consumer group, found with FindCoordinator
    /// and remembered until [`crate::client::Client::coordinator_moved`].
    GroupCoordinator(String),
    /// The coordinator of this transactional id, found and remembered the
    /// same way (see [`crate::client::Client::transaction_coordinator_moved`]).
    TransactionCoordinator(String),
}

/// A decoded response and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The API of the request answered.
    pub api_key: ApiKey,
    /// The API version the request was sent at.
    pub version: i16,
    /// The broker's node id (-1 for a bootstrap connection).
    pub broker: i32,
    /// `None` when the request expects no response (Produce with acks=0):
    /// the request completed when it was written.
    pub body: Option<AnyResponse>,
}

/// What the core reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A request submitted with `Client::send` finished.
    Response {
        /// The id `Client::send` returned for the request.
        id: RequestId,
        /// The response, or why there is none.
        result: Result<Response, RequestError>,
    },
    /// The cluster metadata changed (brokers, topics or leaders).
    MetadataUpdated,
    /// Part of a Metadata answer made no sense and was not taken (the
    /// rest was): a broker at an unusable or second address, a topic with
    /// gaps in its partitions.
    MetadataRefused(MetadataRefusal),
    /// A connection is ready: versions negotiated.
    BrokerReady {
        /// The broker's node id (-1 for a bootstrap connection).
        broker: i32,
        /// The broker's `host:port`.
        address: String,
    },
    /// A connection was lost or dropped; the client reconnects on demand.
    ConnectionLost {
        /// The broker's node id (-1 for a bootstrap connection).
        broker: i32,
        /// Why the connection ended.
        error: ConnectionError,
    },
    /// An OAUTHBEARER token is needed (the first, or the next before the
    /// current one expires): ask the configured source and answer with
    /// [`Client::handle_oauthbearer_token`](crate::client::Client::handle_oauthbearer_token).
    /// Not repeated until answered.
    OAuthBearerTokenWanted,
    /// `close()` finished: every connection is closed.
    Closed,
}
