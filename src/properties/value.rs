//! One property as written ([`Entry`]) and the parsers of its value: a
//! value that does not parse is an error naming the property and what it
//! takes, and showing the value only when it is not a secret.

use std::time::Duration;

use super::keys::Prop;
use super::PropertyError;

/// The largest number any property takes: Kafka's settings are Java
/// `int`s, and many are sent as `int32` on the wire.
const MAX: u64 = i32::MAX as u64;

/// A supported property: which one, the name it was written with, and
/// its value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub prop: Prop,
    pub key: &'a str,
    pub value: &'a str,
}

impl<'a> Entry<'a> {
    /// The value with surrounding whitespace removed.
    pub fn text(&self) -> &'a str {
        self.value.trim()
    }

    /// The value, which must not be empty.
    pub fn non_empty(&self) -> Result<&'a str, PropertyError> {
        match self.text() {
            "" => Err(self.bad("a non-empty value")),
            text => Ok(text),
        }
    }

    /// Milliseconds, at least `min`.
    pub fn millis(&self, min: u64) -> Result<Duration, PropertyError> {
        self.parse_u64(min, "milliseconds")
            .map(Duration::from_millis)
    }

    /// A count or size, at least `min`.
    pub fn number<T: TryFrom<u64>>(&self, min: u64) -> Result<T, PropertyError> {
        let n = self.parse_u64(min, "")?;
        T::try_from(n).map_err(|_| self.bad(range(min, "")))
    }

    /// `true` or `false`, in any case.
    pub fn boolean(&self) -> Result<bool, PropertyError> {
        self.choice(&[("true", true), ("false", false)])
    }

    /// One of `options` (matched in any case), by name.
    pub fn choice<T: Copy>(&self, options: &[(&str, T)]) -> Result<T, PropertyError> {
        let text = self.text();
        options
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|&(_, value)| value)
            .ok_or_else(|| self.bad(one_of(options.iter().map(|(name, _)| *name))))
    }

    /// The value is not what the property takes.
    pub fn bad(&self, expected: impl Into<String>) -> PropertyError {
        PropertyError::BadValue {
            key: self.key.to_string(),
            value: self.shown(),
            expected: expected.into(),
        }
    }

    /// The value names something kafkite does not support.
    pub fn unsupported(&self, reason: &'static str) -> PropertyError {
        PropertyError::UnsupportedValue {
            key: self.key.to_string(),
            value: self.shown(),
            reason,
        }
    }

    /// The property contradicts another, or the others make it meaningless.
    pub fn inconsistent(&self, reason: impl Into<String>) -> PropertyError {
        PropertyError::Inconsistent {
            key: self.key.to_string(),
            reason: reason.into(),
        }
    }

    /// The value, for a message, unless it is a secret.
    fn shown(&self) -> Option<String> {
        (!self.prop.is_secret()).then(|| self.value.to_string())
    }

    fn parse_u64(&self, min: u64, unit: &str) -> Result<u64, PropertyError> {
        self.text()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=MAX).contains(n))
            .ok_or_else(|| self.bad(range(min, unit)))
    }
}

fn range(min: u64, unit: &str) -> String {
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" of {unit}")
    };
    format!("a whole number{unit} from {min} to {MAX}")
}

/// "one of a, b, c".
pub(crate) fn one_of<'n>(names: impl IntoIterator<Item = &'n str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    format!("one of {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(prop: Prop, value: &str) -> Entry<'_> {
        Entry {
            prop,
            key: prop.name(),
            value,
        }
    }

    #[test]
    fn millis_are_whole_non_negative_ints() {
        let linger = |v| entry(Prop::Linger, v).millis(0);
        assert_eq!(linger(" 25 ").unwrap(), Duration::from_millis(25));
        assert_eq!(linger("0").unwrap(), Duration::ZERO);
        for bad in ["-1", "1.5", "5ms", "", "2147483648"] {
            let err = linger(bad).unwrap_err().to_string();
            assert!(err.contains("linger.ms"), "{err}");
            assert!(err.contains("milliseconds from 0 to 2147483647"), "{err}");
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
        assert!(entry(Prop::SessionTimeout, "0").millis(1).is_err());
    }

    #[test]
    fn numbers_fit_their_type() {
        assert_eq!(
            entry(Prop::BatchSize, "16384").number::<usize>(1).unwrap(),
            16384
        );
        assert_eq!(entry(Prop::FetchMinBytes, "0").number::<i32>(0).unwrap(), 0);
        assert!(entry(Prop::BatchSize, "0").number::<usize>(1).is_err());
        assert!(entry(Prop::BatchSize, "lots").number::<usize>(1).is_err());
    }

    #[test]
    fn booleans_and_choices_ignore_case() {
        assert!(entry(Prop::Idempotence, "TRUE").boolean().unwrap());
        assert!(!entry(Prop::Idempotence, "false").boolean().unwrap());
        let err = entry(Prop::Idempotence, "yes").boolean().unwrap_err();
        assert_eq!(
            err.to_string(),
            "enable.idempotence=\"yes\" is invalid: expected one of true, false"
        );
    }

    #[test]
    fn a_secret_value_is_never_in_the_message() {
        let e = entry(Prop::SaslOAuthBearerConfig, "hunter2");
        for err in [e.bad("x"), e.unsupported("y"), e.inconsistent("z")] {
            let text = err.to_string();
            assert!(!text.contains("hunter2"), "{text}");
            assert!(!format!("{err:?}").contains("hunter2"));
            assert!(text.contains("sasl.oauthbearer.config"), "{text}");
        }
    }
}
