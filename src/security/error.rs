//! [`AuthError`]: why a connection could not be secured or authenticated.

use super::tls::TlsError;

/// A failure to secure or authenticate a connection. Not retriable: the
/// same settings get the same answer, so every call waiting for the
/// broker gets it, and the client reconnects only after a backoff.
///
/// Messages never carry a password or token; strings that come from the
/// broker (its error message, its mechanism names) are its own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("the broker does not enable SASL mechanism {mechanism} (it enables: {})", enabled.join(", "))]
    MechanismNotEnabled {
        mechanism: &'static str,
        enabled: Vec<String>,
    },
    #[error("{mechanism} authentication failed: {message}")]
    Failed {
        mechanism: &'static str,
        /// The broker's error code (SASL_AUTHENTICATION_FAILED, ...).
        code: i16,
        message: String,
    },
    #[error("the broker closed the connection during {mechanism} authentication (brokers before 1.0 answer wrong credentials so)")]
    ClosedDuringAuthentication { mechanism: &'static str },
    #[error(
        "the broker's SCRAM server signature is wrong: it does not hold this user's credentials"
    )]
    BadServerSignature,
    #[error("the broker sent a malformed {mechanism} message: {reason}")]
    Malformed {
        mechanism: &'static str,
        reason: String,
    },
    #[error("the broker does not support SASL (no SaslHandshake in its API versions)")]
    SaslNotSupported,
    #[error("no OAUTHBEARER token: {reason}")]
    Token { reason: String },
}
