//! [`NonceSource`]: unpredictable nonces for SASL (SCRAM's client nonce)
//! without the core drawing randomness itself.
//!
//! The core stays deterministic: its nonces are SHA-256 of a 32-byte key
//! and a counter, and the key is an input. It starts from the config's
//! seed (so simulations replay), and a driver that talks to real brokers
//! replaces it with bytes from the operating system
//! ([`Client::seed_entropy`](crate::client::Client::seed_entropy)).

use std::fmt;

use sha2::{Digest, Sha256};

pub(crate) struct NonceSource {
    key: [u8; 32],
    counter: u64,
}

impl fmt::Debug for NonceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceSource(<redacted>)")
    }
}

impl NonceSource {
    /// A deterministic source from a seed: for simulations and tests.
    pub fn from_seed(seed: u64) -> Self {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(b"kafkite!");
        NonceSource { key, counter: 0 }
    }

    /// Replaces the key with `entropy` (32 bytes from the OS).
    pub fn reseed(&mut self, entropy: [u8; 32]) {
        self.key = entropy;
        self.counter = 0;
    }

    /// 32 fresh bytes.
    pub fn next_bytes(&mut self) -> [u8; 32] {
        self.counter = self.counter.wrapping_add(1);
        let mut hash = Sha256::new();
        hash.update(self.key);
        hash.update(self.counter.to_le_bytes());
        hash.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_differ_and_follow_the_key() {
        let mut a = NonceSource::from_seed(1);
        let mut b = NonceSource::from_seed(1);
        let first = a.next_bytes();
        assert_eq!(first, b.next_bytes(), "same seed, same nonces");
        assert_ne!(first, a.next_bytes(), "each nonce is new");
        b.reseed([7; 32]);
        assert_ne!(a.next_bytes(), b.next_bytes());
    }
}
