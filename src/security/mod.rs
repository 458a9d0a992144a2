//! Secured connections: TLS ([`TlsConfig`]) and SASL ([`SaslConfig`]),
//! the settings a session needs to reach a cluster that encrypts its
//! traffic and asks who is connecting, as every managed Kafka does.
//!
//! TLS sits in the transport, under the core (see [`tls`](self::TlsConnector)):
//! the core never sees ciphertext. SASL is part of the core's connection
//! state machine: after versions are negotiated, a connection
//! authenticates (SaslHandshake, then SaslAuthenticate or, on brokers
//! before 1.0, raw tokens) before any request goes out on it, and
//! re-authenticates before the broker's session lifetime ends (KIP-368).

mod error;
mod nonce;
pub mod sasl;
mod secret;
mod tls;

/// The rustls this build uses, for a driver of the core's own that wraps
/// its sockets with [`TlsConnector::client_connection`].
pub use rustls;

pub use error::AuthError;
pub(crate) use nonce::NonceSource;
pub use sasl::{
    OAuthBearerConfig, OAuthBearerToken, OAuthBearerTokenProvider, OAuthBearerTokens, SaslConfig,
    ScramHash, TokenFuture, UnsecuredJwsConfig,
};
pub use secret::Secret;
pub use tls::{
    ClientIdentity, KeySource, PemSource, TlsConfig, TlsConnector, TlsError, TrustRoots,
};

/// The four ways to reach a listener (`security.protocol`): whether the
/// connection is encrypted, and whether the client logs in with SASL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    /// `PLAINTEXT`: no encryption, no SASL.
    Plaintext,
    /// `SSL`: TLS, no SASL.
    Ssl,
    /// `SASL_PLAINTEXT`: SASL login over an unencrypted connection.
    SaslPlaintext,
    /// `SASL_SSL`: SASL login over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// The name Kafka's configs use: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`,
    /// `SASL_SSL`.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Parses a name, case-insensitively as librdkafka does.
    pub fn parse(name: &str) -> Option<SecurityProtocol> {
        [
            SecurityProtocol::Plaintext,
            SecurityProtocol::Ssl,
            SecurityProtocol::SaslPlaintext,
            SecurityProtocol::SaslSsl,
        ]
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether the connection is wrapped in TLS (`SSL`, `SASL_SSL`).
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether the client logs in with SASL (`SASL_PLAINTEXT`, `SASL_SSL`).
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientConfig;

    /// Every place a secret can sit in a config: none reaches `Debug`.
    #[test]
    fn no_secret_reaches_a_configs_debug() {
        let secrets = [
            "plain-password",
            "scram-password",
            "-----BEGIN PRIVATE KEY-----SECRETKEY",
            "key-password",
        ];
        let tls = TlsConfig::new()
            .client_certificate_pem("-----BEGIN CERTIFICATE-----", secrets[2])
            .key_password(secrets[3]);
        let configs = [
            ClientConfig::new(["b:1"])
                .with_tls(tls)
                .with_sasl(SaslConfig::plain("alice", secrets[0])),
            ClientConfig::new(["b:1"]).with_sasl(SaslConfig::scram_sha_512("alice", secrets[1])),
            ClientConfig::new(["b:1"]).with_sasl(SaslConfig::oauthbearer_unsecured(
                UnsecuredJwsConfig::new("alice"),
            )),
        ];
        for config in configs {
            let debug = format!("{config:?} {config:#?}");
            for secret in secrets {
                assert!(!debug.contains(secret), "{secret} in {debug}");
            }
            assert!(debug.contains("alice"), "the username is not a secret");
        }
        let token = UnsecuredJwsConfig::new("alice").token_at(std::time::SystemTime::UNIX_EPOCH);
        assert!(!format!("{token:?}").contains(token.value.expose()));
    }
}
