//! Creating and deleting topics (CreateTopics, DeleteTopics; Kafka 0.10.1+).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{AdminError, Phrasing, OPEN};
use crate::protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use crate::protocol::messages::delete_topics_request::DeleteTopicState;
use crate::protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
};
use crate::protocol::{ApiKey, ErrorCode};

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// The topic's name.
    pub name: String,
    /// -1 asks for the broker's `num.partitions` (CreateTopics v4+, Kafka 2.4+).
    pub partitions: i32,
    /// -1 asks for the broker's `default.replication.factor` (v4+).
    pub replication_factor: i16,
    /// Topic configs (`cleanup.policy`, `retention.ms`, ...).
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with `partitions` partitions of `replication_factor` replicas
    /// each (-1 for the broker's default) and no topic configs.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor,
            configs: Vec::new(),
        }
    }

    /// Adds the topic config `key` = `value`.
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push((key.into(), value.into()));
        self
    }
}

/// The CreateTopics request for `topics`. Every field it sets exists at
/// every version, so one phrasing fits all; `timeout` is how long the
/// controller may take to create them.
pub fn create_topics_request(topics: &[NewTopic], timeout: Duration) -> CreateTopicsRequest {
    CreateTopicsRequest {
        topics: topics
            .iter()
            .map(|t| CreatableTopic {
                name: t.name.clone(),
                num_partitions: t.partitions,
                replication_factor: t.replication_factor,
                configs: t
                    .configs
                    .iter()
                    .map(|(name, value)| CreatableTopicConfig {
                        name: name.clone(),
                        value: Some(value.clone()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        timeout_ms: millis(timeout),
        ..Default::default()
    }
}

/// Each asked topic's outcome. A topic the response leaves out is a
/// [`AdminError::MissingAnswer`].
pub fn create_topics_outcome<S: AsRef<str>>(
    asked: &[S],
    response: &CreateTopicsResponse,
) -> BTreeMap<String, Result<(), AdminError>> {
    let answers = response.topics.iter().map(|t| {
        let code = ErrorCode(t.error_code);
        (t.name.as_str(), code, t.error_message.clone())
    });
    outcome(ApiKey::CreateTopics, asked, answers)
}

/// The DeleteTopics request for `names`, newest phrasing first: v6 names
/// each topic in a struct (so it can also name a topic by id), v0-5 in a
/// plain list of names.
pub fn delete_topics_requests<S: AsRef<str>>(
    names: &[S],
    timeout: Duration,
) -> Vec<Phrasing<DeleteTopicsRequest>> {
    let timeout_ms = millis(timeout);
    let by_state = DeleteTopicsRequest {
        topics: names
            .iter()
            .map(|n| DeleteTopicState {
                name: Some(n.as_ref().to_string()),
                ..Default::default()
            })
            .collect(),
        timeout_ms,
        ..Default::default()
    };
    let by_name = DeleteTopicsRequest {
        topic_names: names.iter().map(|n| n.as_ref().to_string()).collect(),
        timeout_ms,
        ..Default::default()
    };
    vec![
        Phrasing::new(by_state, 6, OPEN),
        Phrasing::new(by_name, 0, 5),
    ]
}

/// Each asked topic's outcome.
pub fn delete_topics_outcome<S: AsRef<str>>(
    asked: &[S],
    response: &DeleteTopicsResponse,
) -> BTreeMap<String, Result<(), AdminError>> {
    let answers = response.responses.iter().filter_map(|t| {
        let name = t.name.as_deref()?;
        Some((name, ErrorCode(t.error_code), t.error_message.clone()))
    });
    outcome(ApiKey::DeleteTopics, asked, answers)
}

/// Matches per-topic answers to the asked topics.
fn outcome<'a, S: AsRef<str>>(
    api: ApiKey,
    asked: &[S],
    answers: impl Iterator<Item = (&'a str, ErrorCode, Option<String>)>,
) -> BTreeMap<String, Result<(), AdminError>> {
    let mut results: BTreeMap<String, Result<(), AdminError>> = asked
        .iter()
        .map(|t| {
            let topic = t.as_ref().to_string();
            let missing = AdminError::MissingAnswer {
                api,
                what: format!("topic {topic:?}"),
            };
            (topic, Err(missing))
        })
        .collect();
    for (name, code, message) in answers {
        let Some(slot) = results.get_mut(name) else {
            continue;
        };
        *slot = if code.is_ok() {
            Ok(())
        } else {
            Err(AdminError::Topic {
                api,
                topic: name.to_string(),
                code,
                message,
            })
        };
    }
    results
}

/// A timeout in the protocol's i32 milliseconds, saturating.
fn millis(timeout: Duration) -> i32 {
    i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::create_topics_response::CreatableTopicResult;
    use crate::protocol::messages::delete_topics_response::DeletableTopicResult;
    use crate::protocol::Message;
    use bytes::BytesMut;

    #[test]
    fn create_topics_request_encodes_at_every_version() {
        let topics = [NewTopic::new("orders", 3, 1).with_config("retention.ms", "1000")];
        let request = create_topics_request(&topics, Duration::from_secs(5));
        assert_eq!(request.timeout_ms, 5000);
        for v in 0..=CreateTopicsRequest::VERSIONS.max {
            let mut buf = BytesMut::new();
            request.encode(&mut buf, v).expect("encodes");
        }
    }

    #[test]
    fn create_topics_outcome_reports_each_topic() {
        let response = CreateTopicsResponse {
            topics: vec![
                CreatableTopicResult {
                    name: "a".into(),
                    ..Default::default()
                },
                CreatableTopicResult {
                    name: "b".into(),
                    error_code: ErrorCode::NOT_CONTROLLER.0,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let out = create_topics_outcome(&["a", "b", "c"], &response);
        assert_eq!(out["a"], Ok(()));
        let b = out["b"].clone().unwrap_err();
        assert_eq!(b.code(), Some(ErrorCode::NOT_CONTROLLER));
        assert!(b.is_retriable() && b.needs_metadata_refresh());
        assert!(matches!(out["c"], Err(AdminError::MissingAnswer { .. })));
    }

    #[test]
    fn delete_topics_has_a_phrasing_for_every_version() {
        let phrasings = delete_topics_requests(&["x"], Duration::from_secs(1));
        for v in 0..=DeleteTopicsRequest::VERSIONS.max {
            let p = phrasings
                .iter()
                .find(|p| p.versions.contains(v))
                .expect("a phrasing for every version");
            let mut buf = BytesMut::new();
            p.request.encode(&mut buf, v).expect("encodes");
            let decoded =
                DeleteTopicsRequest::decode(&mut crate::protocol::Reader::new(buf.freeze()), v)
                    .expect("decodes");
            let names: Vec<String> = if v >= 6 {
                decoded
                    .topics
                    .iter()
                    .filter_map(|t| t.name.clone())
                    .collect()
            } else {
                decoded.topic_names.clone()
            };
            assert_eq!(names, ["x"], "v{v}");
        }
    }

    #[test]
    fn deleting_a_missing_topic_is_a_final_error() {
        let response = DeleteTopicsResponse {
            responses: vec![DeletableTopicResult {
                name: Some("gone".into()),
                error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
                ..Default::default()
            }],
            ..Default::default()
        };
        let out = delete_topics_outcome(&["gone"], &response);
        let e = out["gone"].clone().unwrap_err();
        assert!(!e.is_retriable());
    }
}
