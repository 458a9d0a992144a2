//! The embedded "consumer" protocol: what a member tells the group about
//! itself in JoinGroup (its [`Subscription`]) and what the leader hands each
//! member through SyncGroup (its [`Assignment`]).
//!
//! Both are Kafka "data" types, opaque bytes to the broker, written as an
//! i16 version followed by the body at that version, so that kafkite shares
//! a group with the Java client and librdkafka. Newer versions only append
//! fields, so a version above the newest this build knows is read at the
//! newest (the Java client does the same) and the rest ignored.

use bytes::{BufMut, Bytes, BytesMut};

use super::TopicPartition;
use crate::protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use crate::protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;
use crate::protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use crate::protocol::{
    check_topic_name, DecodeError, EncodeError, Message, Reader, TopicNameError,
};

/// The subscription version kafkite writes: v3, with owned partitions (for
/// cooperative rebalancing), the generation they were owned in, and the rack.
pub const SUBSCRIPTION_VERSION: i16 = 3;

/// Why the bytes of a subscription or an assignment could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConsumerProtocolError {
    /// Shorter than the two-byte version prefix.
    #[error("consumer protocol {what} is too short for its version prefix ({len} bytes)")]
    Truncated {
        /// What was being read: "subscription" or "assignment".
        what: &'static str,
        /// How many bytes there were.
        len: usize,
    },
    /// The version prefix is negative.
    #[error("consumer protocol {what} has a negative version {version}")]
    InvalidVersion {
        /// What was being read: "subscription" or "assignment".
        what: &'static str,
        /// The version read.
        version: i16,
    },
    /// The body does not decode at the version its prefix gives.
    #[error("consumer protocol {what} does not decode: {source}")]
    Decode {
        /// What was being read: "subscription" or "assignment".
        what: &'static str,
        /// The decode error.
        source: DecodeError,
    },
    /// A topic name no broker would hold: refused before it is copied into
    /// one entry per partition. `name` is its first 64 bytes, escaped.
    #[error("consumer protocol {what} names a topic {name} that cannot exist: {source}")]
    InvalidTopicName {
        /// What was being read: "subscription" or "assignment".
        what: &'static str,
        /// The name's first 64 bytes, escaped.
        name: String,
        /// Why no broker would hold a topic of that name.
        source: TopicNameError,
    },
    /// The subscription or assignment could not be encoded.
    #[error("consumer protocol {what} does not encode: {source}")]
    Encode {
        /// What was being written: "subscription" or "assignment".
        what: &'static str,
        /// The encode error.
        source: EncodeError,
    },
}

/// Partitions as the consumer protocol carries them: per topic, the
/// partition indexes.
pub type GroupedPartitions = Vec<(String, Vec<i32>)>;

/// What a member asks of the group: the topics it wants and, from v1, the
/// partitions it owns now (cooperative rebalancing keeps them in place).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subscription {
    /// Topic names, as the member subscribed to them.
    pub topics: Vec<String>,
    /// Opaque to Kafka; assignors may use it.
    pub user_data: Option<Bytes>,
    /// Partitions the member owns, sorted (v1+; empty before).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation in which it owned them (v2+; `None` when older or
    /// unknown). The sticky assignor trusts the newest generation's claims.
    pub generation_id: Option<i32>,
    /// The member's rack, `client.rack` (v3+).
    pub rack_id: Option<String>,
}

impl Subscription {
    /// The bytes for JoinGroup's protocol metadata, at `version` (clamped
    /// to 0..=3: an older version drops the fields it has no place for).
    pub fn encode(&self, version: i16) -> Result<Bytes, ConsumerProtocolError> {
        let version = version.clamp(0, ConsumerProtocolSubscription::VERSIONS.max);
        let wire = ConsumerProtocolSubscription {
            topics: self.topics.clone(),
            user_data: self.user_data.clone(),
            owned_partitions: if version >= 1 {
                group_by_topic(&self.owned_partitions)
                    .into_iter()
                    .map(|(topic, partitions)| OwnedTopic { topic, partitions })
                    .collect()
            } else {
                Vec::new()
            },
            generation_id: if version >= 2 {
                self.generation_id.unwrap_or(-1)
            } else {
                -1
            },
            rack_id: if version >= 3 {
                self.rack_id.clone()
            } else {
                None
            },
        };
        with_version(version, |buf| wire.encode(buf, version)).map_err(|source| {
            ConsumerProtocolError::Encode {
                what: "subscription",
                source,
            }
        })
    }

    /// Reads a member's metadata from a JoinGroup answer. Returns the
    /// subscription and the version it was written at.
    pub fn decode(bytes: &Bytes) -> Result<(Subscription, i16), ConsumerProtocolError> {
        let (mut subscription, owned, version) = Subscription::decode_grouped(bytes)?;
        subscription.owned_partitions = flatten(owned, |_, _| true);
        Ok((subscription, version))
    }

    /// Reads a member's metadata, leaving its owned partitions grouped by
    /// topic as on the wire (`owned_partitions` is empty): the leader
    /// flattens them only once it knows which of them exist, so that a
    /// member claiming 20,000 partitions of a made-up topic costs the bytes
    /// it sent, not 20,000 copies of the name. Topic names are checked
    /// against Kafka's rules.
    pub fn decode_grouped(
        bytes: &Bytes,
    ) -> Result<(Subscription, GroupedPartitions, i16), ConsumerProtocolError> {
        let what = "subscription";
        let (mut r, version) = open(bytes, what)?;
        let read_at = version.min(ConsumerProtocolSubscription::VERSIONS.max);
        let wire = ConsumerProtocolSubscription::decode(&mut r, read_at)
            .map_err(|source| ConsumerProtocolError::Decode { what, source })?;
        for topic in &wire.topics {
            check_name(what, topic)?;
        }
        let mut owned = Vec::with_capacity(wire.owned_partitions.len());
        for t in wire.owned_partitions {
            check_name(what, &t.topic)?;
            owned.push((t.topic, t.partitions));
        }
        let subscription = Subscription {
            topics: wire.topics,
            user_data: wire.user_data,
            owned_partitions: Vec::new(),
            generation_id: (wire.generation_id >= 0).then_some(wire.generation_id),
            rack_id: wire.rack_id,
        };
        Ok((subscription, owned, version))
    }
}

/// Per-topic partition lists made into sorted, distinct (topic, partition)
/// pairs, keeping only those `keep` accepts. Each kept pair is checked
/// against the ones already kept before its name is copied, so the result
/// never holds a partition twice whatever the input repeats.
pub fn flatten(
    grouped: GroupedPartitions,
    mut keep: impl FnMut(&str, i32) -> bool,
) -> Vec<TopicPartition> {
    let mut out = std::collections::BTreeSet::new();
    for (mut topic, partitions) in grouped {
        for partition in partitions {
            let key = (topic, partition);
            if !out.contains(&key) && keep(&key.0, partition) {
                out.insert(key.clone());
            }
            topic = key.0;
        }
    }
    out.into_iter().collect()
}

/// What the leader gives one member: its partitions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assignment {
    /// Sorted by topic, then partition.
    pub partitions: Vec<TopicPartition>,
    /// Opaque to Kafka; assignors may use it.
    pub user_data: Option<Bytes>,
}

impl Assignment {
    /// The bytes for SyncGroup, at `version` (clamped to 0..=3; all four
    /// versions have the same fields).
    pub fn encode(&self, version: i16) -> Result<Bytes, ConsumerProtocolError> {
        let version = version.clamp(0, ConsumerProtocolAssignment::VERSIONS.max);
        let wire = ConsumerProtocolAssignment {
            assigned_partitions: group_by_topic(&self.partitions)
                .into_iter()
                .map(|(topic, partitions)| AssignedTopic { topic, partitions })
                .collect(),
            user_data: self.user_data.clone(),
        };
        with_version(version, |buf| wire.encode(buf, version)).map_err(|source| {
            ConsumerProtocolError::Encode {
                what: "assignment",
                source,
            }
        })
    }

    /// Reads a SyncGroup assignment. Empty bytes are an empty assignment:
    /// the coordinator sends nothing to a member the leader left out.
    pub fn decode(bytes: &Bytes) -> Result<Assignment, ConsumerProtocolError> {
        Assignment::decode_keeping(bytes, |_, _| true)
    }

    /// [`Assignment::decode`] keeping only the partitions `keep` accepts: a
    /// member takes up only partitions of topics it subscribed to, so a
    /// leader naming others cannot make it hold (or fetch) them.
    pub fn decode_keeping(
        bytes: &Bytes,
        keep: impl FnMut(&str, i32) -> bool,
    ) -> Result<Assignment, ConsumerProtocolError> {
        let what = "assignment";
        if bytes.is_empty() {
            return Ok(Assignment::default());
        }
        let (mut r, version) = open(bytes, what)?;
        let read_at = version.min(ConsumerProtocolAssignment::VERSIONS.max);
        let wire = ConsumerProtocolAssignment::decode(&mut r, read_at)
            .map_err(|source| ConsumerProtocolError::Decode { what, source })?;
        let mut grouped = Vec::with_capacity(wire.assigned_partitions.len());
        for t in wire.assigned_partitions {
            check_name(what, &t.topic)?;
            grouped.push((t.topic, t.partitions));
        }
        Ok(Assignment {
            partitions: flatten(grouped, keep),
            user_data: wire.user_data,
        })
    }
}

/// Refuses a name no broker would hold, naming its start escaped.
fn check_name(what: &'static str, topic: &str) -> Result<(), ConsumerProtocolError> {
    check_topic_name(topic).map_err(|source| ConsumerProtocolError::InvalidTopicName {
        what,
        name: topic
            .chars()
            .take(64)
            .flat_map(char::escape_debug)
            .collect(),
        source,
    })
}

/// Reads the version prefix; the reader is left at the body.
fn open(bytes: &Bytes, what: &'static str) -> Result<(Reader, i16), ConsumerProtocolError> {
    let mut r = Reader::new(bytes.clone());
    let version = r.read_i16().map_err(|_| ConsumerProtocolError::Truncated {
        what,
        len: bytes.len(),
    })?;
    if version < 0 {
        return Err(ConsumerProtocolError::InvalidVersion { what, version });
    }
    Ok((r, version))
}

fn with_version(
    version: i16,
    body: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    body(&mut buf)?;
    Ok(buf.freeze())
}

/// Partitions grouped per topic, topics and partitions in order.
fn group_by_topic(partitions: &[TopicPartition]) -> Vec<(String, Vec<i32>)> {
    let mut sorted: Vec<&TopicPartition> = partitions.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut out: Vec<(String, Vec<i32>)> = Vec::new();
    for (topic, partition) in sorted {
        match out.last_mut() {
            Some((t, ps)) if t == topic => ps.push(*partition),
            _ => out.push((topic.clone(), vec![*partition])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::{quickcheck, TestResult};

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        (topic.to_string(), partition)
    }

    fn full_subscription() -> Subscription {
        Subscription {
            topics: vec!["a".into(), "b".into()],
            user_data: Some(Bytes::from_static(b"ud")),
            owned_partitions: vec![tp("a", 0), tp("a", 2), tp("b", 1)],
            generation_id: Some(7),
            rack_id: Some("rack-1".into()),
        }
    }

    #[test]
    fn a_subscription_round_trips_at_every_version_keeping_what_the_version_has() {
        let s = full_subscription();
        for version in 0..=3 {
            let bytes = s.encode(version).expect("encodes");
            assert_eq!(&bytes[..2], &version.to_be_bytes());
            let (back, read_version) = Subscription::decode(&bytes).expect("decodes");
            assert_eq!(read_version, version);
            assert_eq!(back.topics, s.topics);
            assert_eq!(back.user_data, s.user_data);
            let owned = if version >= 1 {
                s.owned_partitions.clone()
            } else {
                vec![]
            };
            assert_eq!(back.owned_partitions, owned);
            assert_eq!(back.generation_id, (version >= 2).then_some(7));
            let rack = (version >= 3).then(|| "rack-1".to_string());
            assert_eq!(back.rack_id, rack);
        }
    }

    /// The bytes the Java client writes for a v0 subscription to topic "t"
    /// with no user data: version 0, one topic, null user data.
    #[test]
    fn a_v0_subscription_is_the_java_clients_layout() {
        let s = Subscription {
            topics: vec!["t".into()],
            ..Default::default()
        };
        let bytes = s.encode(0).unwrap();
        assert_eq!(
            &bytes[..],
            &[0, 0, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn a_newer_version_is_read_as_the_newest_known_ignoring_appended_fields() {
        let mut bytes = BytesMut::from(&full_subscription().encode(3).unwrap()[..]);
        bytes[0..2].copy_from_slice(&9i16.to_be_bytes());
        bytes.extend_from_slice(b"future fields");
        let (back, version) = Subscription::decode(&bytes.freeze()).unwrap();
        assert_eq!(version, 9);
        assert_eq!(back, full_subscription());
    }

    #[test]
    fn an_assignment_round_trips_and_empty_bytes_are_an_empty_assignment() {
        let a = Assignment {
            partitions: vec![tp("x", 0), tp("x", 1), tp("y", 4)],
            user_data: None,
        };
        for version in 0..=3 {
            assert_eq!(
                Assignment::decode(&a.encode(version).unwrap()),
                Ok(a.clone())
            );
        }
        assert_eq!(Assignment::decode(&Bytes::new()), Ok(Assignment::default()));
    }

    #[test]
    fn broken_bytes_are_typed_errors() {
        let one = Bytes::from_static(&[0]);
        assert!(matches!(
            Subscription::decode(&one),
            Err(ConsumerProtocolError::Truncated { len: 1, .. })
        ));
        let negative = Bytes::from_static(&[0xff, 0xfe, 0, 0]);
        assert!(matches!(
            Assignment::decode(&negative),
            Err(ConsumerProtocolError::InvalidVersion { version: -2, .. })
        ));
        // A topic count far beyond the bytes that follow.
        let hostile = Bytes::from_static(&[0, 1, 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            Subscription::decode(&hostile),
            Err(ConsumerProtocolError::Decode { .. })
        ));
    }

    quickcheck! {
        fn decoding_arbitrary_bytes_never_panics(data: Vec<u8>) -> TestResult {
            let bytes = Bytes::from(data);
            let _ = Subscription::decode(&bytes);
            let _ = Assignment::decode(&bytes);
            TestResult::passed()
        }

        fn decoding_any_prefix_of_a_valid_subscription_never_panics(cut: usize) -> bool {
            let bytes = full_subscription().encode(3).unwrap();
            let cut = cut % (bytes.len() + 1);
            let prefix = bytes.slice(..cut);
            cut == bytes.len() || Subscription::decode(&prefix).is_err()
        }
    }
}
