//! OAUTHBEARER (RFC 7628, KIP-255): the client's message carrying a
//! bearer token, the tokens themselves, where they come from, and Kafka's
//! unsecured JWS tokens for development.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use base64::Engine;

use crate::security::{AuthError, Secret};

/// A bearer token and how long it is good for.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthBearerToken {
    /// The token as sent (for a JWT, its compact serialization).
    pub value: Secret,
    /// When it expires: the client asks its provider for a new one before
    /// then (at 80% of its lifetime, as the Java client does) and never
    /// authenticates with an expired one.
    pub expires_at: SystemTime,
    /// Who it names, for messages (never the token itself).
    pub principal: String,
}

impl fmt::Debug for OAuthBearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthBearerToken")
            .field("value", &self.value)
            .field("expires_at", &self.expires_at)
            .field("principal", &self.principal)
            .finish()
    }
}

/// What [`OAuthBearerTokenProvider::token`] returns.
pub type TokenFuture<'a> = Pin<
    Box<
        dyn Future<Output = Result<OAuthBearerToken, Box<dyn std::error::Error + Send + Sync>>>
            + Send
            + 'a,
    >,
>;

/// The application's source of OAUTHBEARER tokens (an identity
/// provider's token endpoint, a file a sidecar refreshes, ...). The
/// client asks for a token when it first needs one and again before each
/// expires; it never asks twice at once.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use kafkite::security::{OAuthBearerToken, OAuthBearerTokenProvider, TokenFuture};
///
/// struct FromEnvironment;
///
/// impl OAuthBearerTokenProvider for FromEnvironment {
///     fn token(&self) -> TokenFuture<'_> {
///         Box::pin(async {
///             let value = std::env::var("KAFKA_TOKEN")?;
///             Ok(OAuthBearerToken {
///                 value: value.into(),
///                 expires_at: SystemTime::now() + Duration::from_secs(300),
///                 principal: "service-a".into(),
///             })
///         })
///     }
/// }
/// ```
pub trait OAuthBearerTokenProvider: Send + Sync + 'static {
    /// Fetches a fresh token; called before the first login and again
    /// before the current token expires.
    fn token(&self) -> TokenFuture<'_>;
}

/// Kafka's unsecured JWS tokens (`alg: none`), which brokers accept with
/// their default, unsecured validator: librdkafka's
/// `enable.sasl.oauthbearer.unsecure.jwt=true` with
/// `sasl.oauthbearer.config=principal=... [scope=a,b] [lifeSeconds=N]
/// [principalClaimName=sub] [scopeClaimName=scope]`. For development and
/// tests only: anyone can make one for any principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsecuredJwsConfig {
    /// The principal the token names (`principal=`).
    pub principal: String,
    /// The claim that holds the principal (`principalClaimName`, default `sub`).
    pub principal_claim: String,
    /// The scopes, sent as a JSON array; none when empty (`scope=`).
    pub scope: Vec<String>,
    /// The claim that holds the scopes (`scopeClaimName`, default `scope`).
    pub scope_claim: String,
    /// How long a token is valid after it is issued (`lifeSeconds`,
    /// default one hour).
    pub lifetime: Duration,
}

impl UnsecuredJwsConfig {
    /// A token for `principal` with the defaults: claim `sub`, no scope,
    /// an hour's lifetime.
    pub fn new(principal: impl Into<String>) -> Self {
        UnsecuredJwsConfig {
            principal: principal.into(),
            principal_claim: "sub".into(),
            scope: Vec::new(),
            scope_claim: "scope".into(),
            lifetime: Duration::from_secs(3600),
        }
    }

    /// A token issued at `now` (wall-clock time, given by the caller: the
    /// core reads no clock).
    pub fn token_at(&self, now: SystemTime) -> OAuthBearerToken {
        let issued = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let expires = issued + self.lifetime;
        let mut claims = format!(
            "{{\"iat\":{},\"exp\":{},{}:{}",
            issued.as_secs(),
            expires.as_secs(),
            json_string(&self.principal_claim),
            json_string(&self.principal)
        );
        if !self.scope.is_empty() {
            let scope: Vec<String> = self.scope.iter().map(|s| json_string(s)).collect();
            claims.push_str(&format!(
                ",{}:[{}]",
                json_string(&self.scope_claim),
                scope.join(",")
            ));
        }
        claims.push('}');
        let value = format!(
            "{}.{}.",
            BASE64URL.encode(br#"{"alg":"none"}"#),
            BASE64URL.encode(claims.as_bytes())
        );
        OAuthBearerToken {
            value: Secret::new(value),
            expires_at: UNIX_EPOCH + expires,
            principal: self.principal.clone(),
        }
    }
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The client's initial response: the GS2 header, the token and the
/// extensions, each key/value pair ended by 0x01 (RFC 7628 3.1).
pub(crate) fn initial_response(
    token: &OAuthBearerToken,
    extensions: &[(String, String)],
) -> Result<Vec<u8>, AuthError> {
    let mut message = format!("n,,\x01auth=Bearer {}\x01", token.value.expose());
    for (key, value) in extensions {
        let key_ok =
            !key.is_empty() && key != "auth" && key.bytes().all(|b| b.is_ascii_alphabetic());
        let value_ok = value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) || b" \t\r\n".contains(&b));
        if !key_ok || !value_ok {
            return Err(AuthError::Token {
                reason: format!("the SASL extension {key:?} has a key or value RFC 7628 forbids"),
            });
        }
        message.push_str(&format!("{key}={value}\x01"));
    }
    message.push('\x01');
    Ok(message.into_bytes())
}

/// The broker's reply to the initial response: nothing on success, an
/// error document (JSON) otherwise.
pub(crate) fn check_reply(reply: &[u8]) -> Result<(), AuthError> {
    if reply.is_empty() {
        return Ok(());
    }
    Err(AuthError::Failed {
        mechanism: "OAUTHBEARER",
        code: 0,
        message: String::from_utf8_lossy(reply).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsecured_tokens_are_kafkas_format() {
        let config = UnsecuredJwsConfig {
            scope: vec!["read".into(), "wr\"ite".into()],
            ..UnsecuredJwsConfig::new("admin")
        };
        let token = config.token_at(UNIX_EPOCH + Duration::from_secs(1_000));
        let parts: Vec<&str> = token.value.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "", "unsigned");
        assert_eq!(BASE64URL.decode(parts[0]).unwrap(), br#"{"alg":"none"}"#);
        let claims = String::from_utf8(BASE64URL.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims,
            r#"{"iat":1000,"exp":4600,"sub":"admin","scope":["read","wr\"ite"]}"#
        );
        assert_eq!(token.expires_at, UNIX_EPOCH + Duration::from_secs(4_600));
        assert!(
            !format!("{token:?}").contains(parts[1]),
            "Debug hides the token"
        );
    }

    #[test]
    fn initial_response_frames_token_and_extensions() {
        let token = OAuthBearerToken {
            value: "abc.def.".into(),
            expires_at: UNIX_EPOCH,
            principal: "p".into(),
        };
        let m = initial_response(&token, &[("traceId".into(), "x1".into())]).unwrap();
        assert_eq!(m, b"n,,\x01auth=Bearer abc.def.\x01traceId=x1\x01\x01");
        assert!(initial_response(&token, &[("auth".into(), "x".into())]).is_err());
        assert!(initial_response(&token, &[("k1".into(), "x".into())]).is_err());
        assert!(initial_response(&token, &[("k".into(), "\x01".into())]).is_err());
        assert!(check_reply(b"").is_ok());
        assert!(matches!(
            check_reply(br#"{"status":"invalid_token"}"#),
            Err(AuthError::Failed { .. })
        ));
    }
}
