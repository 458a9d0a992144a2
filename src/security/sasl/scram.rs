//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), client side:
//! client-first, server-first, client-final with the proof, and the
//! server's signature checked, so a broker that does not hold the user's
//! credentials is found out.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::digest::core_api::BlockSizeUser;
use hmac::digest::{Digest, KeyInit};
use hmac::{Mac, SimpleHmac};
use sha2::{Sha256, Sha512};

use crate::security::{AuthError, Secret};

/// Iterations a broker may ask for. Kafka's floor is 4096 (RFC 7677's
/// advice, and the Java client's check); the ceiling bounds the CPU a
/// hostile broker can make the client spend (each iteration is an HMAC,
/// done on the event loop): Kafka itself stores at most 16384.
const ITERATIONS: std::ops::RangeInclusive<u32> = 4096..=100_000;

/// The hash of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramHash {
    /// SHA-256: SCRAM-SHA-256.
    Sha256,
    /// SHA-512: SCRAM-SHA-512.
    Sha512,
}

impl ScramHash {
    /// The mechanism's SASL name, e.g. `SCRAM-SHA-256`.
    pub fn mechanism(self) -> &'static str {
        match self {
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }
}

/// The last salted password computed, by salt and iterations: every
/// connection of a session logs in as the same user, so the PBKDF2 work
/// (thousands of HMACs) is done once, not per broker and re-login.
#[derive(Default)]
pub(crate) struct SaltedPasswordCache {
    entry: Option<(ScramHash, Vec<u8>, u32, Vec<u8>)>,
}

impl fmt::Debug for SaltedPasswordCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SaltedPasswordCache(<redacted>)")
    }
}

impl SaltedPasswordCache {
    fn get(&mut self, hash: ScramHash, password: &Secret, salt: &[u8], iterations: u32) -> Vec<u8> {
        if let Some((h, s, i, salted)) = &self.entry {
            if *h == hash && s == salt && *i == iterations {
                return salted.clone();
            }
        }
        // Hi() of RFC 5802: PBKDF2 with the mechanism's HMAC, one block.
        let password = password.expose().as_bytes();
        let salted = match hash {
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations).to_vec()
            }
            ScramHash::Sha512 => {
                pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password, salt, iterations).to_vec()
            }
        };
        self.entry = Some((hash, salt.to_vec(), iterations, salted.clone()));
        salted
    }
}

/// Where the exchange is.
enum State {
    /// client-first sent.
    First {
        client_first_bare: String,
    },
    /// client-final sent; the server's signature to expect.
    Final {
        server_signature: Vec<u8>,
    },
    Done,
}

/// One SCRAM exchange.
pub(crate) struct ScramClient {
    hash: ScramHash,
    nonce: String,
    state: State,
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// Starts an exchange; returns it and the client-first message.
    /// `nonce` is printable ASCII without commas (base64 of random bytes).
    pub fn start(hash: ScramHash, username: &str, nonce: String) -> (ScramClient, Vec<u8>) {
        let client_first_bare = format!("n={},r={}", sasl_name(username), nonce);
        let message = format!("n,,{client_first_bare}").into_bytes();
        let client = ScramClient {
            hash,
            nonce,
            state: State::First { client_first_bare },
        };
        (client, message)
    }

    /// Takes the server's message; returns the client's next one, or
    /// `None` once the server is verified and the exchange is done.
    pub fn step(
        &mut self,
        server: &[u8],
        password: &Secret,
        cache: &mut SaltedPasswordCache,
    ) -> Result<Option<Vec<u8>>, AuthError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::First { client_first_bare } => {
                let (reply, server_signature) =
                    self.client_final(&client_first_bare, server, password, cache)?;
                self.state = State::Final { server_signature };
                Ok(Some(reply))
            }
            State::Final { server_signature } => {
                self.verify_server_final(server, &server_signature)?;
                Ok(None)
            }
            State::Done => Err(self.malformed("a message after the exchange ended")),
        }
    }

    #[cfg(test)]
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn malformed(&self, reason: impl Into<String>) -> AuthError {
        AuthError::Malformed {
            mechanism: self.hash.mechanism(),
            reason: reason.into(),
        }
    }

    /// client-final for server-first, and the server signature to expect.
    fn client_final(
        &self,
        client_first_bare: &str,
        server_first: &[u8],
        password: &Secret,
        cache: &mut SaltedPasswordCache,
    ) -> Result<(Vec<u8>, Vec<u8>), AuthError> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| self.malformed("server-first is not UTF-8"))?;
        if let Some(error) = server_first.strip_prefix("e=") {
            return Err(AuthError::Failed {
                mechanism: self.hash.mechanism(),
                code: 0,
                message: error.to_string(),
            });
        }
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attribute in server_first.split(',') {
            match attribute.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(v),
                Some(("i", v)) => iterations = Some(v),
                Some(("m", _)) => return Err(self.malformed("a mandatory extension (m=)")),
                _ => {}
            }
        }
        let nonce = nonce.ok_or_else(|| self.malformed("server-first has no nonce"))?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(self.malformed("the server nonce does not extend the client's"));
        }
        let salt = BASE64
            .decode(salt.ok_or_else(|| self.malformed("server-first has no salt"))?)
            .map_err(|_| self.malformed("the salt is not base64"))?;
        let iterations: u32 = iterations
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| self.malformed("server-first has no iteration count"))?;
        if !ITERATIONS.contains(&iterations) {
            return Err(self.malformed(format!(
                "{iterations} iterations, outside {}..={}",
                ITERATIONS.start(),
                ITERATIONS.end()
            )));
        }
        let salted = cache.get(self.hash, password, &salt, iterations);
        // c=biws: base64 of the GS2 header "n,," (no channel binding).
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let (proof, server_signature) = match self.hash {
            ScramHash::Sha256 => proof_and_signature::<Sha256>(&salted, auth_message.as_bytes()),
            ScramHash::Sha512 => proof_and_signature::<Sha512>(&salted, auth_message.as_bytes()),
        };
        let reply = format!("{without_proof},p={}", BASE64.encode(proof));
        Ok((reply.into_bytes(), server_signature))
    }

    fn verify_server_final(&self, server_final: &[u8], expected: &[u8]) -> Result<(), AuthError> {
        let text = std::str::from_utf8(server_final)
            .map_err(|_| self.malformed("server-final is not UTF-8"))?;
        if let Some(error) = text.strip_prefix("e=") {
            return Err(AuthError::Failed {
                mechanism: self.hash.mechanism(),
                code: 0,
                message: error.to_string(),
            });
        }
        let signature = text
            .split(',')
            .find_map(|a| a.strip_prefix("v="))
            .ok_or_else(|| self.malformed("server-final has no signature"))?;
        let signature = BASE64
            .decode(signature)
            .map_err(|_| self.malformed("the server signature is not base64"))?;
        if !constant_time_eq(&signature, expected) {
            return Err(AuthError::BadServerSignature);
        }
        Ok(())
    }
}

/// A username as SCRAM writes it: `=` and `,` escaped (RFC 5802 5.1).
fn sasl_name(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

fn hmac<D: Digest + BlockSizeUser>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <SimpleHmac<D> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// ClientProof and ServerSignature for an AuthMessage.
fn proof_and_signature<D: Digest + BlockSizeUser>(
    salted: &[u8],
    auth_message: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let client_key = hmac::<D>(salted, b"Client Key");
    let stored_key = D::digest(&client_key);
    let client_signature = hmac::<D>(&stored_key, auth_message);
    let proof = client_key
        .iter()
        .zip(&client_signature)
        .map(|(k, s)| k ^ s)
        .collect();
    let server_key = hmac::<D>(salted, b"Server Key");
    (proof, hmac::<D>(&server_key, auth_message))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example, byte for byte.
    #[test]
    fn rfc_7677_example() {
        let password = Secret::new("pencil");
        let mut cache = SaltedPasswordCache::default();
        let (mut client, first) =
            ScramClient::start(ScramHash::Sha256, "user", "rOprNGfwEbeRWgbNEkqO".into());
        assert_eq!(first, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = client
            .step(server_first, &password, &mut cache)
            .unwrap()
            .unwrap();
        assert_eq!(
            String::from_utf8(fin).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        let server_final = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
        assert_eq!(client.step(server_final, &password, &mut cache), Ok(None));
        assert!(client.is_done());
    }

    #[test]
    fn a_wrong_server_signature_is_an_error() {
        let password = Secret::new("pencil");
        let mut cache = SaltedPasswordCache::default();
        let (mut client, _) =
            ScramClient::start(ScramHash::Sha256, "user", "rOprNGfwEbeRWgbNEkqO".into());
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        client.step(server_first, &password, &mut cache).unwrap();
        let forged = b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
        assert_eq!(
            client.step(forged, &password, &mut cache),
            Err(AuthError::BadServerSignature)
        );
    }

    #[test]
    fn hostile_server_first_messages_are_refused() {
        let password = Secret::new("pencil");
        for bad in [
            &b"r=OTHERNONCE123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"[..],
            b"r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            b"r=abcdef,s=!!!,i=4096",
            b"r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4000000000",
            b"r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=12",
            b"r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==",
            b"m=ext,r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            b"\xff\xfe",
        ] {
            let mut cache = SaltedPasswordCache::default();
            let (mut client, _) = ScramClient::start(ScramHash::Sha512, "u", "abc".into());
            assert!(
                matches!(
                    client.step(bad, &password, &mut cache),
                    Err(AuthError::Malformed { .. })
                ),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn usernames_are_escaped() {
        let (_, first) = ScramClient::start(ScramHash::Sha512, "a=b,c", "n".into());
        assert_eq!(first, b"n,,n=a=3Db=2Cc,r=n");
    }

    #[test]
    fn the_salted_password_is_computed_once_per_salt() {
        let password = Secret::new("pw");
        let mut cache = SaltedPasswordCache::default();
        let a = cache.get(ScramHash::Sha512, &password, b"salt", 4096);
        assert_eq!(a.len(), 64);
        assert_eq!(cache.get(ScramHash::Sha512, &password, b"salt", 4096), a);
        assert_ne!(cache.get(ScramHash::Sha512, &password, b"salt2", 4096), a);
    }
}
