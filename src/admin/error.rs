//! Why an admin operation failed, with the topic, partition and API it
//! failed for, and whether trying again can help.

use crate::protocol::{ApiKey, ErrorCode};

/// An admin operation's failure, as the broker reported it or as the
/// client found it (no leader, no answer, an API the broker lacks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// The broker answered with an error for one topic.
    #[error("{} for topic {topic:?} failed: {code}{}", api.name(), detail(message))]
    Topic {
        /// The API that failed.
        api: ApiKey,
        /// The topic the error is for.
        topic: String,
        /// The broker's error code for the topic.
        code: ErrorCode,
        /// The broker's error message, if it sent one.
        message: Option<String>,
    },
    /// The broker answered with an error for one partition.
    #[error("{} for partition {topic}-{partition} failed: {code}", api.name())]
    Partition {
        /// The API that failed.
        api: ApiKey,
        /// The partition's topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The broker's error code for the partition.
        code: ErrorCode,
    },
    /// The broker answered the whole request with an error.
    #[error("{} failed: {code}{}", api.name(), detail(message))]
    Request {
        /// The API that failed.
        api: ApiKey,
        /// The top-level error code in the response.
        code: ErrorCode,
        /// The broker's error message, if it sent one.
        message: Option<String>,
    },
    /// The broker speaks no version of the API (or none this phrasing
    /// allows): it is too old for the operation.
    #[error("broker {broker} does not support {}: {hint}", api.name())]
    UnsupportedVersion {
        /// The API the broker does not support.
        api: ApiKey,
        /// The broker, as the caller named it (e.g. its address).
        broker: String,
        /// Why, e.g. the Kafka release that brought the API.
        hint: &'static str,
    },
    /// The response has no entry for something the request asked about.
    #[error("the {} response has no answer for {what}", api.name())]
    MissingAnswer {
        /// The API whose response lacks the entry.
        api: ApiKey,
        /// The missing entry, e.g. `topic "t"` or `partition t-0`.
        what: String,
    },
    /// The topic is not in the client's cluster metadata (it may not exist,
    /// or the metadata may not have caught up with its creation yet).
    #[error("topic {topic:?} is not in the cluster metadata")]
    UnknownTopic {
        /// The topic's name.
        topic: String,
    },
    /// The partition has no leader in the client's metadata (an election is
    /// under way, or the partition does not exist).
    #[error("partition {topic}-{partition} has no leader in the cluster metadata")]
    NoLeader {
        /// The partition's topic.
        topic: String,
        /// The partition index.
        partition: i32,
    },
}

impl AdminError {
    /// The error for a broker that cannot take any phrasing of `api`, with
    /// the Kafka release that brought the API, so the user knows why.
    pub fn unsupported(api: ApiKey, broker: impl Into<String>) -> AdminError {
        let hint = match api {
            ApiKey::CreateTopics | ApiKey::DeleteTopics => {
                "the API came with Kafka 0.10.1; create or delete topics on the broker itself"
            }
            ApiKey::DescribeCluster => "the API came with Kafka 2.8",
            _ => "no version of the API in common with this client",
        };
        AdminError::UnsupportedVersion {
            api,
            broker: broker.into(),
            hint,
        }
    }

    /// The error code the broker sent, if this is a broker's answer.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            AdminError::Topic { code, .. }
            | AdminError::Partition { code, .. }
            | AdminError::Request { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the same operation may succeed if tried again (after a
    /// metadata refresh when [`AdminError::needs_metadata_refresh`] says so).
    pub fn is_retriable(&self) -> bool {
        match self {
            AdminError::Topic { api, code, .. }
            | AdminError::Partition { api, code, .. }
            | AdminError::Request { api, code, .. } => is_retriable(*api, *code),
            AdminError::UnknownTopic { .. } | AdminError::NoLeader { .. } => true,
            AdminError::UnsupportedVersion { .. } | AdminError::MissingAnswer { .. } => false,
        }
    }

    /// Whether the error means the client's metadata is stale: the
    /// controller or a leader moved, or a new topic is not in it yet.
    pub fn needs_metadata_refresh(&self) -> bool {
        match self {
            AdminError::UnknownTopic { .. } | AdminError::NoLeader { .. } => true,
            other => other
                .code()
                .is_some_and(|c| c.is_stale_metadata() && other.is_retriable()),
        }
    }
}

/// Kafka's retriable flag, less the cases where retrying cannot change the
/// answer for this API.
fn is_retriable(api: ApiKey, code: ErrorCode) -> bool {
    match (api, code) {
        // Deleting a topic that is not there stays a failure.
        (ApiKey::DeleteTopics, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => false,
        _ => code.is_retriable(),
    }
}

fn detail(message: &Option<String>) -> String {
    match message {
        Some(m) if !m.is_empty() => format!(" ({m})"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic_error(api: ApiKey, code: ErrorCode) -> AdminError {
        AdminError::Topic {
            api,
            topic: "t".into(),
            code,
            message: None,
        }
    }

    #[test]
    fn not_controller_is_retried_after_a_metadata_refresh() {
        let e = topic_error(ApiKey::CreateTopics, ErrorCode::NOT_CONTROLLER);
        assert!(e.is_retriable());
        assert!(e.needs_metadata_refresh());
    }

    #[test]
    fn topic_already_exists_is_final() {
        let e = topic_error(ApiKey::CreateTopics, ErrorCode::TOPIC_ALREADY_EXISTS);
        assert!(!e.is_retriable());
        assert!(!e.needs_metadata_refresh());
    }

    #[test]
    fn deleting_an_unknown_topic_is_final_but_listing_its_offsets_is_retried() {
        let delete = topic_error(ApiKey::DeleteTopics, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        assert!(!delete.is_retriable());
        let offsets = AdminError::Partition {
            api: ApiKey::ListOffsets,
            topic: "t".into(),
            partition: 0,
            code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        };
        assert!(offsets.is_retriable());
        assert!(offsets.needs_metadata_refresh());
    }

    #[test]
    fn unsupported_version_names_the_broker_and_the_release_needed() {
        let e = AdminError::unsupported(ApiKey::CreateTopics, "old:9092");
        assert!(!e.is_retriable());
        let text = e.to_string();
        assert!(text.contains("old:9092"), "{text}");
        assert!(text.contains("CreateTopics"), "{text}");
        assert!(text.contains("0.10.1"), "{text}");
    }
}
