//! SASL: who the client is ([`SaslConfig`]), and the client side of each
//! mechanism (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER) as small state
//! machines the connection steps through.

mod oauthbearer;
mod plain;
mod scram;
mod session;

use std::fmt;
use std::sync::Arc;

use super::Secret;

pub use oauthbearer::{
    OAuthBearerToken, OAuthBearerTokenProvider, TokenFuture, UnsecuredJwsConfig,
};
pub(crate) use scram::SaltedPasswordCache;
pub use scram::ScramHash;
pub(crate) use session::{SaslSession, SaslStep};

/// How the client logs in (`sasl.mechanism` and its credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslConfig {
    /// PLAIN: the username and password as they are. Only over TLS does
    /// that keep the password from the network.
    Plain {
        /// The SASL username.
        username: String,
        /// The user's password.
        password: Secret,
    },
    /// SCRAM-SHA-256 or SCRAM-SHA-512 (RFC 5802, RFC 7677): the password
    /// never crosses the network, and the broker proves it knows the
    /// user's credentials too.
    Scram {
        /// SHA-256 or SHA-512.
        hash: ScramHash,
        /// The SASL username.
        username: String,
        /// The user's password.
        password: Secret,
    },
    /// OAUTHBEARER (RFC 7628): a bearer token from a provider.
    OAuthBearer(OAuthBearerConfig),
}

impl SaslConfig {
    /// PLAIN with `username` and `password`.
    pub fn plain(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        SaslConfig::Plain {
            username: username.into(),
            password: password.into(),
        }
    }

    /// SCRAM-SHA-256 with `username` and `password`.
    pub fn scram_sha_256(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        SaslConfig::Scram {
            hash: ScramHash::Sha256,
            username: username.into(),
            password: password.into(),
        }
    }

    /// SCRAM-SHA-512 with `username` and `password`.
    pub fn scram_sha_512(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        SaslConfig::Scram {
            hash: ScramHash::Sha512,
            username: username.into(),
            password: password.into(),
        }
    }

    /// OAUTHBEARER with tokens from `provider`, asked again before each
    /// token expires.
    pub fn oauthbearer(provider: Arc<dyn OAuthBearerTokenProvider>) -> Self {
        SaslConfig::OAuthBearer(OAuthBearerConfig {
            tokens: OAuthBearerTokens::Provider(provider),
            extensions: Vec::new(),
        })
    }

    /// OAUTHBEARER with Kafka's unsecured JWS tokens, made by the client
    /// itself: for development and tests against brokers that accept
    /// them, never for production.
    pub fn oauthbearer_unsecured(config: UnsecuredJwsConfig) -> Self {
        SaslConfig::OAuthBearer(OAuthBearerConfig {
            tokens: OAuthBearerTokens::Unsecured(config),
            extensions: Vec::new(),
        })
    }

    /// The mechanism's name as SaslHandshake sends it.
    pub fn mechanism(&self) -> &'static str {
        match self {
            SaslConfig::Plain { .. } => "PLAIN",
            SaslConfig::Scram { hash, .. } => hash.mechanism(),
            SaslConfig::OAuthBearer(_) => "OAUTHBEARER",
        }
    }
}

/// OAUTHBEARER's settings: where tokens come from, and the SASL
/// extensions sent with each (`sasl.oauthbearer.extensions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthBearerConfig {
    /// Where tokens come from.
    pub tokens: OAuthBearerTokens,
    /// Key/value pairs sent beside the token (RFC 7628 section 3.1): keys
    /// of letters only, values of printable ASCII.
    pub extensions: Vec<(String, String)>,
}

/// Where OAUTHBEARER tokens come from.
#[derive(Clone)]
pub enum OAuthBearerTokens {
    /// Kafka's unsecured JWS tokens, made by the client.
    Unsecured(UnsecuredJwsConfig),
    /// The application's provider.
    Provider(Arc<dyn OAuthBearerTokenProvider>),
}

impl PartialEq for OAuthBearerTokens {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (OAuthBearerTokens::Unsecured(a), OAuthBearerTokens::Unsecured(b)) => a == b,
            (OAuthBearerTokens::Provider(a), OAuthBearerTokens::Provider(b)) => {
                std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
            }
            _ => false,
        }
    }
}

impl Eq for OAuthBearerTokens {}

impl fmt::Debug for OAuthBearerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OAuthBearerTokens::Unsecured(config) => {
                f.debug_tuple("Unsecured").field(config).finish()
            }
            OAuthBearerTokens::Provider(_) => f.write_str("Provider(..)"),
        }
    }
}
