//! Kafka's rules for topic names, applied to names that arrive from other
//! clients (group members' subscriptions, a leader's assignments) so that a
//! hostile peer cannot hand kafkite 32 KiB "names" to copy per partition.

/// The longest topic name a broker accepts (`Topic.MAX_NAME_LENGTH`).
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Why a name cannot be a topic's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    /// The name is empty.
    #[error("a topic name cannot be empty")]
    Empty,
    /// The name is `.` or `..`.
    #[error("a topic name cannot be \".\" or \"..\"")]
    Dots,
    /// The name is longer than [`MAX_TOPIC_NAME_LEN`] bytes.
    #[error("a topic name of {len} bytes is longer than {MAX_TOPIC_NAME_LEN}")]
    TooLong {
        /// The name's length in bytes.
        len: usize,
    },
    /// The name holds a byte outside `[a-zA-Z0-9._-]`.
    #[error("a topic name can hold only ASCII letters, digits, '.', '_' and '-' (byte {byte:#04x} at {at})")]
    IllegalCharacter {
        /// The first offending byte.
        byte: u8,
        /// Its byte offset in the name.
        at: usize,
    },
}

/// Checks `name` against the broker's rules: 1 to 249 bytes of
/// `[a-zA-Z0-9._-]`, and neither `.` nor `..`. Every topic a broker holds
/// passes, so a name that fails came from something that is not a broker's
/// topic and can be refused.
pub fn check_topic_name(name: &str) -> Result<(), TopicNameError> {
    if name.is_empty() {
        return Err(TopicNameError::Empty);
    }
    if name == "." || name == ".." {
        return Err(TopicNameError::Dots);
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(TopicNameError::TooLong { len: name.len() });
    }
    match name
        .bytes()
        .enumerate()
        .find(|(_, b)| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')))
    {
        Some((at, byte)) => Err(TopicNameError::IllegalCharacter { byte, at }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_brokers_accept_pass() {
        for name in [
            "a",
            "orders",
            "__consumer_offsets",
            "a.b-c_D9",
            &"x".repeat(249),
        ] {
            assert_eq!(check_topic_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn names_brokers_refuse_fail_with_the_reason() {
        assert_eq!(check_topic_name(""), Err(TopicNameError::Empty));
        assert_eq!(check_topic_name(".."), Err(TopicNameError::Dots));
        assert_eq!(
            check_topic_name(&"x".repeat(250)),
            Err(TopicNameError::TooLong { len: 250 })
        );
        assert_eq!(
            check_topic_name("a b"),
            Err(TopicNameError::IllegalCharacter { byte: b' ', at: 1 })
        );
        assert!(matches!(
            check_topic_name("caf\u{e9}"),
            Err(TopicNameError::IllegalCharacter { at: 3, .. })
        ));
        assert!(check_topic_name("a\u{1b}[31m").is_err());
    }
}
