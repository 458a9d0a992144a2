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
    /// The TLS handshake or TLS setup failed.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// SaslHandshake answered UNSUPPORTED_SASL_MECHANISM: the broker does not
    /// enable the configured mechanism.
    #[error("the broker does not enable SASL mechanism {mechanism} (it enables: {})", enabled.join(", "))]
    MechanismNotEnabled {
        /// The mechanism the client asked for.
        mechanism: &'static str,
        /// The mechanisms the broker listed as enabled.
        enabled: Vec<String>,
    },
    /// The broker refused the login (wrong credentials, an invalid token, ...).
    #[error("{mechanism} authentication failed: {message}")]
    Failed {
        /// The mechanism in use.
        mechanism: &'static str,
        /// The broker's error code (SASL_AUTHENTICATION_FAILED, ...); 0 when
        /// the refusal came inside the mechanism's own reply.
        code: i16,
        /// The broker's error message, or the error code's name when it sent none.
        message: String,
    },
    /// The connection closed mid-login; brokers before Kafka 1.0 answer
    /// wrong credentials this way.
    #[error("the broker closed the connection during {mechanism} authentication (brokers before 1.0 answer wrong credentials so)")]
    ClosedDuringAuthentication {
        /// The mechanism in use.
        mechanism: &'static str,
    },
    /// The SCRAM server-final signature did not verify: the broker does not
    /// hold this user's credentials.
    #[error(
        "the broker's SCRAM server signature is wrong: it does not hold this user's credentials"
    )]
    BadServerSignature,
    /// A SASL message from the broker could not be parsed.
    #[error("the broker sent a malformed {mechanism} message: {reason}")]
    Malformed {
        /// The mechanism in use.
        mechanism: &'static str,
        /// What was wrong with the message.
        reason: String,
    },
    /// The broker lists no SaslHandshake API in its ApiVersions answer.
    #[error("the broker does not support SASL (no SaslHandshake in its API versions)")]
    SaslNotSupported,
    /// No usable OAUTHBEARER token: the provider failed or timed out, or an
    /// extension is invalid.
    #[error("no OAUTHBEARER token: {reason}")]
    Token {
        /// Why no token could be sent.
        reason: String,
    },
}
