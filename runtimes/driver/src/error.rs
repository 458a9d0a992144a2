//! The session's errors: each says which bootstrap servers, broker, API or
//! topic it is about.

use std::time::Duration;

use kafkite::admin::AdminError;
use kafkite::client::{RequestError, Target};
use kafkite::consumer::group::GroupError;
use kafkite::consumer::{FetchError, OffsetError};
use kafkite::protocol::ApiKey;
use kafkite::security::{AuthError, TlsError};

/// Why a session call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// No metadata came from any bootstrap server in time.
    #[error(
        "no cluster metadata from bootstrap servers [{}] within {timeout:?}{}",
        servers.join(", "),
        last_errors_text(last_errors)
    )]
    Bootstrap {
        servers: Vec<String>,
        timeout: Duration,
        /// The most recent connection errors, oldest first.
        last_errors: Vec<String>,
    },
    /// A bootstrap server refused the connection's TLS or SASL (a wrong
    /// password, an untrusted certificate, ...). Not retriable: the same
    /// settings get the same answer.
    #[error("cannot secure or authenticate the connection to {address}: {error}")]
    Authentication { address: String, error: AuthError },
    /// The TLS settings could not be loaded (a CA file that is missing, a
    /// key that does not decrypt): nothing was connected.
    #[error("TLS settings: {0}")]
    TlsSettings(TlsError),
    /// The config names no bootstrap server.
    #[error("no bootstrap servers configured")]
    NoBootstrapServers,
    /// The request got no response. (Boxed: the core's error is large,
    /// and this keeps every `Result<_, Error>` small.)
    #[error("{} request to {} failed: {source}", api.name(), target_text(target))]
    Request {
        api: ApiKey,
        target: Target,
        #[source]
        source: Box<RequestError>,
    },
    /// The response does not have the request's type. The core decodes by
    /// the request's API key, so this means a bug, not a broker quirk.
    #[error("broker {broker} answered {} v{version} with another API's response", api.name())]
    UnexpectedResponse {
        api: ApiKey,
        version: i16,
        broker: i32,
    },
    /// The request was sent with `expect_response: false`, so there is no
    /// response to return.
    #[error("{} was sent without expecting a response; there is none to return", api.name())]
    NoResponse { api: ApiKey },
    /// An admin operation failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// A group's committed offsets could not be stored or read (see
    /// [`crate::ConsumerGroup`]). Boxed as `Request` is.
    #[error(transparent)]
    Offset(Box<OffsetError>),
    /// The session was closed (or its event loop has stopped).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Group(Box<GroupError>),
    /// The consumer was cancelled: nothing more is committed.
    #[error("the consumer was cancelled; nothing more is committed")]
    Cancelled,
    #[error("the session is closed")]
    Closed,
}

impl Error {
    /// Whether the same call may succeed if made again.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Request { source, .. } => source.is_retriable(),
            Error::Admin(e) => e.is_retriable(),
            Error::Offset(e) => e.is_retriable(),
            _ => false,
        }
    }

    /// Whether the broker speaks no version of the request's API that the
    /// request allowed: the broker is too old (or too new) for it.
    pub fn is_unsupported_version(&self) -> bool {
        matches!(self, Error::Request { source, .. } if matches!(**source, RequestError::UnsupportedVersion { .. }))
    }

    /// Whether the call failed because the client's metadata is stale.
    pub fn needs_metadata_refresh(&self) -> bool {
        match self {
            Error::Request { source, .. } => matches!(
                **source,
                RequestError::UnknownBroker(_) | RequestError::NoTarget
            ),
            Error::Admin(e) => e.needs_metadata_refresh(),
            _ => false,
        }
    }
}

impl From<OffsetError> for Error {
    fn from(error: OffsetError) -> Self {
        Error::Offset(Box::new(error))
    }
}

/// How a target reads in a message.
pub(crate) fn target_text(target: &Target) -> String {
    match target {
        Target::AnyBroker => "any broker".into(),
        Target::Broker(id) => format!("broker {id}"),
        Target::Controller => "the controller".into(),
        Target::GroupCoordinator(group) => format!("the coordinator of group {group:?}"),
    }
}

fn last_errors_text(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!("; last errors: {}", errors.join("; "))
    }
}
