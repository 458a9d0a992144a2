//! [`Secret`]: a password, token or key that never reaches a `Debug`
//! output, an error message or a log line.

use std::fmt;

/// A secret string: a password, a token, a private key's PEM or its
/// password. Its `Debug` prints `Secret(<redacted>)` and it has no
/// `Display`, so a config printed with `{:?}`, an error or a log line
/// cannot show it; the one way to read it is [`Secret::expose`], which
/// names what it does at every use.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the code that must send or use it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl Drop for Secret {
    /// Overwrites the bytes before they are freed, so a secret does not
    /// linger in freed memory (a best effort: copies made by the code that
    /// used it are that code's).
    fn drop(&mut self) {
        // SAFETY-free: write zeros through the String's own API.
        let len = self.0.len();
        self.0.clear();
        self.0.extend(std::iter::repeat_n('\0', len));
        std::hint::black_box(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(
            format!("{:#?}", Some(&s)),
            "Some(\n    Secret(<redacted>),\n)"
        );
        assert_eq!(s.expose(), "hunter2");
    }
}
