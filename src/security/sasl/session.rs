//! [`SaslSession`]: one run of a mechanism on one connection, whatever its
//! framing (SaslAuthenticate requests, or raw tokens on brokers before
//! 1.0): the first message, then a step per message from the broker.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::oauthbearer::{self, OAuthBearerToken};
use super::plain;
use super::scram::{SaltedPasswordCache, ScramClient};
use super::SaslConfig;
use crate::security::AuthError;

/// What to do after a message from the broker.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SaslStep {
    /// Send this message next.
    Send(Vec<u8>),
    /// Authenticated.
    Done,
}

#[derive(Debug)]
pub(crate) enum SaslSession {
    /// PLAIN and OAUTHBEARER: one message, then the broker's verdict.
    OneShot {
        mechanism: &'static str,
    },
    Scram(ScramClient),
}

impl SaslSession {
    /// Starts the mechanism: the session and the first message. `nonce`
    /// is fresh randomness (SCRAM's client nonce); `token` the current
    /// OAUTHBEARER token, which the caller makes sure of first.
    pub fn start(
        config: &SaslConfig,
        nonce: [u8; 32],
        token: Option<&OAuthBearerToken>,
    ) -> Result<(SaslSession, Vec<u8>), AuthError> {
        let mechanism = config.mechanism();
        match config {
            SaslConfig::Plain { username, password } => Ok((
                SaslSession::OneShot { mechanism },
                plain::initial_response(username, password),
            )),
            SaslConfig::Scram { hash, username, .. } => {
                // 24 random bytes as 32 base64 characters: printable, no
                // commas, as the nonce must be.
                let nonce = BASE64.encode(&nonce[..24]);
                let (client, first) = ScramClient::start(*hash, username, nonce);
                Ok((SaslSession::Scram(client), first))
            }
            SaslConfig::OAuthBearer(oauth) => {
                let token = token.ok_or_else(|| AuthError::Token {
                    reason: "none was provided".into(),
                })?;
                let first = oauthbearer::initial_response(token, &oauth.extensions)?;
                Ok((SaslSession::OneShot { mechanism }, first))
            }
        }
    }

    /// Takes a message from the broker.
    pub fn step(
        &mut self,
        server: &[u8],
        config: &SaslConfig,
        cache: &mut SaltedPasswordCache,
    ) -> Result<SaslStep, AuthError> {
        match (self, config) {
            (
                SaslSession::OneShot {
                    mechanism: "OAUTHBEARER",
                },
                _,
            ) => oauthbearer::check_reply(server).map(|()| SaslStep::Done),
            // PLAIN's verdict is the SaslAuthenticate error code (or, on
            // old brokers, an empty token versus a closed connection).
            (SaslSession::OneShot { .. }, _) => Ok(SaslStep::Done),
            (SaslSession::Scram(client), SaslConfig::Scram { password, .. }) => {
                Ok(match client.step(server, password, cache)? {
                    Some(reply) => SaslStep::Send(reply),
                    None => SaslStep::Done,
                })
            }
            (SaslSession::Scram(_), other) => Err(AuthError::Malformed {
                mechanism: other.mechanism(),
                reason: "the mechanism changed during the exchange".into(),
            }),
        }
    }
}
