//! Errors of the client core: why a connection was dropped, and why a
//! request did not get a response.

use crate::protocol::{ApiKey, DecodeError, EncodeError, ErrorCode};
use crate::security::AuthError;

/// Why a connection to a broker was closed by the client or lost.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectionError {
    #[error("connect to {address} failed: {reason}")]
    ConnectFailed { address: String, reason: String },
    #[error("connect to {address} timed out")]
    ConnectTimeout { address: String },
    #[error("connection closed by {address}: {reason}")]
    Closed { address: String, reason: String },
    #[error("{address} sent a {size}-byte frame, over the {limit}-byte limit")]
    FrameTooLarge {
        address: String,
        size: i64,
        limit: usize,
    },
    #[error("{address} answered correlation id {got}, expected {expected:?}")]
    UnexpectedCorrelationId {
        address: String,
        got: i32,
        expected: Option<i32>,
    },
    #[error("{address} sent an undecodable {api:?} v{version} response: {error}")]
    Undecodable {
        address: String,
        api: ApiKey,
        version: i16,
        error: DecodeError,
    },
    #[error("{address} rejected ApiVersions: {code:?}")]
    ApiVersionsRejected { address: String, code: ErrorCode },
    #[error("request to {address} timed out")]
    RequestTimeout { address: String },
    /// TLS or SASL failed: not cured by reconnecting with the same
    /// settings.
    #[error("cannot secure or authenticate the connection to {address}: {error}")]
    Authentication { address: String, error: AuthError },
}

/// Why a request has no response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("no response within the request timeout")]
    Timeout,
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
        broker: String,
        api: ApiKey,
        guessed: bool,
    },
    #[error("cannot encode the request: {0}")]
    Encode(#[from] EncodeError),
    #[error("broker {0} is not in the cluster metadata")]
    UnknownBroker(i32),
    #[error("no controller or coordinator is known for the request")]
    NoTarget,
    #[error("the group coordinator lookup was refused: {0:?}")]
    Coordinator(ErrorCode),
    #[error("the client is closing")]
    Closing,
    /// The broker's connection could not be secured or authenticated
    /// (TLS or SASL): retrying with the same settings gets the same.
    #[error("cannot secure or authenticate the connection to {address}: {error}")]
    Authentication { address: String, error: AuthError },
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
