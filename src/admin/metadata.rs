//! Metadata requests an admin operation makes itself: every topic (to list
//! the topics), or a few named topics without creating them.

use std::collections::BTreeSet;

use super::{Phrasing, OPEN};
use crate::protocol::messages::metadata_request::MetadataRequestTopic;
use crate::protocol::messages::{MetadataRequest, MetadataResponse};

/// A Metadata request for every topic. v1+ says "every topic" with a null
/// list; v0 has no null and says it with an empty list.
pub fn list_topics_requests() -> Vec<Phrasing<MetadataRequest>> {
    let all = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    let all_v0 = MetadataRequest {
        topics: Some(Vec::new()),
        ..Default::default()
    };
    vec![Phrasing::new(all, 1, OPEN), Phrasing::new(all_v0, 0, 0)]
}

/// A Metadata request for these topics that does not create them. v4+
/// says so; before v4 the broker's `auto.create.topics.enable` decides,
/// and the request cannot change that. An empty `names` at v0 would mean
/// every topic, which is a superset and still correct.
pub fn topic_metadata_requests<S: AsRef<str>>(names: &[S]) -> Vec<Phrasing<MetadataRequest>> {
    let topics: Vec<MetadataRequestTopic> = names
        .iter()
        .map(|n| MetadataRequestTopic {
            name: Some(n.as_ref().to_string()),
            ..Default::default()
        })
        .collect();
    let no_create = MetadataRequest {
        topics: Some(topics.clone()),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    let legacy = MetadataRequest {
        topics: Some(topics),
        ..Default::default()
    };
    vec![
        Phrasing::new(no_create, 4, OPEN),
        Phrasing::new(legacy, 0, 3),
    ]
}

/// The names of the topics in a Metadata response, internal ones included;
/// topics the broker reports as unknown are left out.
pub fn topic_names(response: &MetadataResponse) -> BTreeSet<String> {
    response
        .topics
        .iter()
        .filter(|t| t.error_code != crate::protocol::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0)
        .filter_map(|t| t.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Message, Reader};
    use bytes::BytesMut;

    fn roundtrip(p: &Phrasing<MetadataRequest>, v: i16) -> MetadataRequest {
        let mut buf = BytesMut::new();
        p.request.encode(&mut buf, v).expect("encodes");
        MetadataRequest::decode(&mut Reader::new(buf.freeze()), v).expect("decodes")
    }

    #[test]
    fn list_topics_asks_for_every_topic_at_every_version() {
        let phrasings = list_topics_requests();
        for v in 0..=MetadataRequest::VERSIONS.max {
            let p = phrasings.iter().find(|p| p.versions.contains(v)).unwrap();
            let sent = roundtrip(p, v);
            let every = match sent.topics {
                None => true,
                Some(t) => v == 0 && t.is_empty(),
            };
            assert!(every, "v{v}");
        }
    }

    #[test]
    fn topic_metadata_never_asks_to_create_where_it_can_say_so() {
        let phrasings = topic_metadata_requests(&["a"]);
        for v in 0..=MetadataRequest::VERSIONS.max {
            let p = phrasings.iter().find(|p| p.versions.contains(v)).unwrap();
            let sent = roundtrip(p, v);
            assert_eq!(sent.topics.map(|t| t.len()), Some(1), "v{v}");
            if v >= 4 {
                assert!(!sent.allow_auto_topic_creation, "v{v}");
            }
        }
    }
}
