//! How error codes print: Kafka's name and the number, so logs can be
//! searched either way.

use std::fmt;

use super::ErrorCode;

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.0, self.message())
    }
}

impl ErrorCode {
    /// Whether this is NONE (0).
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// Whether the error means the client's metadata is stale: the leader
    /// moved or the topic is not (yet) where the client thinks.
    pub fn is_stale_metadata(self) -> bool {
        matches!(
            self,
            ErrorCode::NOT_LEADER_OR_FOLLOWER
                | ErrorCode::LEADER_NOT_AVAILABLE
                | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                | ErrorCode::FENCED_LEADER_EPOCH
                | ErrorCode::UNKNOWN_LEADER_EPOCH
                | ErrorCode::NOT_CONTROLLER
                | ErrorCode::UNKNOWN_TOPIC_ID
                | ErrorCode::KAFKA_STORAGE_ERROR
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_print_name_and_number() {
        assert_eq!(
            format!("{:?}", ErrorCode::NOT_LEADER_OR_FOLLOWER),
            "NOT_LEADER_OR_FOLLOWER (6)"
        );
        assert!(ErrorCode::NOT_LEADER_OR_FOLLOWER.is_retriable());
        assert!(!ErrorCode::TOPIC_AUTHORIZATION_FAILED.is_retriable());
        assert_eq!(
            format!("{:?}", ErrorCode(9999)),
            "UNKNOWN_ERROR_CODE (9999)"
        );
    }
}
