//! Errors of the client core: why a connection was dropped, and why a
//! request did not get a response.

use crate::protocol::{ApiKey, DecodeError, EncodeError, ErrorCode};
use crate::security::AuthError;

/// Why a connection to a broker was closed by the client or lost.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectionError {
    /// The connection could not be made; `reason` is what the driver saw.
    #[error("connect to {address} failed: {reason}")]
    ConnectFailed {
        /// The broker's `host:port`.
        address: String,
        /// The driver's description of the failure.
        reason: String,
    },
    /// The connection was not made within the connect timeout.
    #[error("connect to {address} timed out")]
    ConnectTimeout {
        /// The broker's `host:port`.
        address: String,
    },
    /// The connection failed or was closed after it was made.
    #[error("connection closed by {address}: {reason}")]
    Closed {
        /// The broker's `host:port`.
        address: String,
        /// What the driver saw, or why the client closed it.
        reason: String,
    },
    /// A response frame's size prefix is above the configured maximum.
    #[error("{address} sent a {size}-byte frame, over the {limit}-byte limit")]
    FrameTooLarge {
        /// The broker's `host:port`.
        address: String,
        /// The size the frame claimed, in bytes.
        size: i64,
        /// The largest response accepted, in bytes.
        limit: usize,
    },
    /// A response's correlation id is not that of the oldest request in
    /// flight (Kafka answers in order on a connection).
    #[error("{address} answered correlation id {got}, expected {expected:?}")]
    UnexpectedCorrelationId {
        /// The broker's `host:port`.
        address: String,
        /// The correlation id in the response.
        got: i32,
        /// The id expected; `None` when no request was in flight.
        expected: Option<i32>,
    },
    /// A response could not be decoded.
    #[error("{address} sent an undecodable {api:?} v{version} response: {error}")]
    Undecodable {
        /// The broker's `host:port`.
        address: String,
        /// The API of the request answered.
        api: ApiKey,
        /// The API version of the request answered.
        version: i16,
        /// What failed to decode.
        error: DecodeError,
    },
    /// The broker answered ApiVersions with an error.
    #[error("{address} rejected ApiVersions: {code:?}")]
    ApiVersionsRejected {
        /// The broker's `host:port`.
        address: String,
        /// The error code in the ApiVersions response.
        code: ErrorCode,
    },
    /// A request on the connection passed its deadline.
    #[error("request to {address} timed out")]
    RequestTimeout {
        /// The broker's `host:port`.
        address: String,
    },
    /// TLS or SASL failed: not cured by reconnecting with the same
    /// settings.
    #[error("cannot secure or authenticate the connection to {address}: {error}")]
    Authentication {
        /// The broker's `host:port`.
        address: String,
        /// What failed.
        error: AuthError,
    },
}

/// Why a request has no response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// No response came within the request timeout.
    #[error("no response within the request timeout")]
    Timeout,
    /// The connection the request was sent on was lost first.
    #[error("the connection was lost before the response: {0}")]
    Disconnected(ConnectionError),
    /// The broker speaks no version of the API in the request's range.
    /// `guessed`: the broker hung up on ApiVersions (twice, and once more
    /// when asked again for this request), so it is taken for Kafka
    /// 0.8/0.9 without its word for it (a network that cuts connections
    /// looks the same); its versions are asked again after a while.
    #[error(
        "broker {broker} speaks no version of {api:?} in the range the request allows{}",
        guessed_note(.guessed)
    )]
    UnsupportedVersion {
        /// The broker's `host:port`.
        broker: String,
        /// The request's API.
        api: ApiKey,
        /// Whether the broker's versions are assumed rather than reported.
        guessed: bool,
    },
    /// The request cannot be encoded at the version chosen.
    #[error("cannot encode the request: {0}")]
    Encode(#[from] EncodeError),
    /// The request targets a node id the cluster metadata does not list.
    #[error("broker {0} is not in the cluster metadata")]
    UnknownBroker(i32),
    /// No controller or coordinator is known to send the request to.
    #[error("no controller or coordinator is known for the request")]
    NoTarget,
    /// FindCoordinator for the request's group answered with this
    /// non-retriable error.
    #[error("the group coordinator lookup was refused: {0:?}")]
    Coordinator(ErrorCode),
    /// The client is shutting down and sends no more requests.
    #[error("the client is closing")]
    Closing,
    /// The broker's connection could not be secured or authenticated
    /// (TLS or SASL): retrying with the same settings gets the same.
    #[error("cannot secure or authenticate the connection to {address}: {error}")]
    Authentication {
        /// The broker's `host:port`.
        address: String,
        /// What failed.
        error: AuthError,
    },
}

impl RequestError {
    /// Whether retrying the same request (after a metadata refresh) may work.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            RequestError::Timeout
                | RequestError::Disconnected(_)
                | RequestError::UnknownBroker(_)
                | RequestError::NoTarget
        )
    }
}

fn guessed_note(guessed: &bool) -> &'static str {
    if *guessed {
        " (its versions are guessed: it hung up on ApiVersions and is taken for Kafka 0.8/0.9; \
         they are asked again later)"
    } else {
        ""
    }
}
