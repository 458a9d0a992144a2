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
        /// The configured bootstrap servers, `host:port`.
        servers: Vec<String>,
        /// How long bootstrap waited: the config's request timeout.
        timeout: Duration,
        /// The most recent connection errors, oldest first.
        last_errors: Vec<String>,
    },
    /// A bootstrap server refused the connection's TLS or SASL (a wrong
    /// password, an untrusted certificate, ...). Not retriable: the same
    /// settings get the same answer.
    #[error("cannot secure or authenticate the connection to {address}: {error}")]
    Authentication {
        /// The bootstrap server, `host:port`.
        address: String,
        /// What the TLS handshake or SASL exchange reported.
        error: AuthError,
    },
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
        /// The request's API.
        api: ApiKey,
        /// Where the request was to go.
        target: Target,
        /// Why it got no response.
        #[source]
        source: Box<RequestError>,
    },
    /// The response does not have the request's type. The core decodes by
    /// the request's API key, so this means a bug, not a broker quirk.
    #[error("broker {broker} answered {} v{version} with another API's response", api.name())]
    UnexpectedResponse {
        /// The request's API.
        api: ApiKey,
        /// The version the request was sent with.
        version: i16,
        /// The node id of the broker that answered.
        broker: i32,
    },
    /// The request was sent with `expect_response: false`, so there is no
    /// response to return.
    #[error("{} was sent without expecting a response; there is none to return", api.name())]
    NoResponse {
        /// The request's API.
        api: ApiKey,
    },
    /// A record was not delivered (see [`kafkite::producer::ProduceError`]).
    #[error("produce: {0}")]
    Produce(kafkite::producer::ProduceError),
    /// A transactional operation failed ([`kafkite::producer::TransactionError::is_fatal`]
    /// says whether the producer can go on).
    #[error(transparent)]
    Transaction(kafkite::producer::TransactionError),
    /// An admin operation failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// A group's committed offsets could not be stored or read (see
    /// [`crate::GroupOffsets`]). Boxed as `Request` is.
    #[error(transparent)]
    Offset(Box<OffsetError>),
    /// Fetching records failed (a fetcher's or a consumer's stream).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A [`crate::GroupConsumer`]'s membership in its group failed. Boxed
    /// as `Request` is.
    #[error(transparent)]
    Group(Box<GroupError>),
    /// The consumer was cancelled: nothing more is committed.
    #[error("the consumer was cancelled; nothing more is committed")]
    Cancelled,
    /// The session was closed (or its event loop has stopped).
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

/// A record's failure as a session error; a transactional refusal stays
/// a [`Error::Transaction`], so one match tells abort from give up.
impl From<kafkite::producer::ProduceError> for Error {
    fn from(error: kafkite::producer::ProduceError) -> Self {
        match error {
            kafkite::producer::ProduceError::Transaction(e) => Error::Transaction(e),
            other => Error::Produce(other),
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
        Target::TransactionCoordinator(id) => {
            format!("the coordinator of transactional id {id:?}")
        }
    }
}

fn last_errors_text(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!("; last errors: {}", errors.join("; "))
    }
}

impl From<kafkite::engine::BootstrapError> for Error {
    fn from(error: kafkite::engine::BootstrapError) -> Self {
        use kafkite::engine::BootstrapError;
        match error {
            BootstrapError::TimedOut {
                servers,
                timeout,
                last_errors,
            } => Error::Bootstrap {
                servers,
                timeout,
                last_errors,
            },
            BootstrapError::Authentication { address, error } => {
                Error::Authentication { address, error }
            }
        }
    }
}
