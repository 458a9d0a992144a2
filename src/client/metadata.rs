//! The cluster as the client knows it: brokers, controller, topics and
//! partition leaders, from Metadata responses.

use std::collections::BTreeMap;

use crate::protocol::messages::MetadataResponse;
use crate::protocol::{ErrorCode, Uuid};

/// A broker's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    /// The broker's node id.
    pub node_id: i32,
    /// The host name or IP address the broker advertises.
    pub host: String,
    /// The TCP port the broker advertises.
    pub port: u16,
    /// The broker's rack (`broker.rack`), if it reports one.
    pub rack: Option<String>,
}

impl BrokerAddress {
    /// The address as `host:port`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// One partition's replicas and leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// The partition index.
    pub partition: i32,
    /// The broker's error code for the partition (e.g.
    /// LEADER_NOT_AVAILABLE); NONE when all is well.
    pub error: ErrorCode,
    /// -1 when there is no leader.
    pub leader: i32,
    /// -1 when the broker does not report epochs (Metadata v0-v6).
    pub leader_epoch: i32,
    /// The node ids of the partition's replicas.
    pub replicas: Vec<i32>,
    /// The node ids of the in-sync replicas.
    pub isr: Vec<i32>,
}

/// One topic's partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// The topic's name.
    pub name: String,
    /// The broker's error code for the topic; NONE when all is well.
    pub error: ErrorCode,
    /// The topic's id (Metadata v10+, KIP-516); all zeros when not reported.
    pub topic_id: Uuid,
    /// Whether the topic is internal, such as `__consumer_offsets`.
    pub is_internal: bool,
    /// Sorted by partition index.
    pub partitions: Vec<PartitionMetadata>,
}

/// The latest cluster metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterMetadata {
    /// The cluster id (Metadata v2+); kept when a later answer has none.
    pub cluster_id: Option<String>,
    /// The controller's node id; `None` when the answer names none (-1, or
    /// Metadata v0, which has no such field).
    pub controller: Option<i32>,
    /// The brokers, by node id.
    pub brokers: BTreeMap<i32, BrokerAddress>,
    /// The known topics, by name.
    pub topics: BTreeMap<String, TopicMetadata>,
}

impl ClusterMetadata {
    /// The leader of a partition, if known.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        let t = self.topics.get(topic)?;
        let p = t.partitions.iter().find(|p| p.partition == partition)?;
        (p.leader >= 0).then_some(p.leader)
    }

    /// Merges a response. Brokers and controller are replaced; topics in the
    /// response replace their old entries, and when the request asked for
    /// every topic (`all_topics`) topics missing from it are dropped.
    /// Returns whether anything changed.
    ///
    /// What a broker could not mean is not taken: a broker entry without a
    /// usable address or repeating a node id, a topic whose partitions are
    /// not exactly 0..n (its previous entry stays), a partition whose leader
    /// epoch is older than the one known (KIP-320: a lagging broker's view;
    /// the known partition stays). Each refusal but the last, which is
    /// ordinary, is pushed to `refused`.
    pub fn apply(
        &mut self,
        response: &MetadataResponse,
        all_topics: bool,
        refused: &mut Vec<MetadataRefusal>,
    ) -> bool {
        let before = self.clone();
        let mut brokers = BTreeMap::new();
        for b in &response.brokers {
            let port = u16::try_from(b.port).ok().filter(|&port| port > 0);
            let Some(port) = port.filter(|_| !b.host.is_empty()) else {
                refused.push(MetadataRefusal::BrokerAddress {
                    node_id: b.node_id,
                    host: escaped(&b.host),
                    port: b.port,
                });
                continue;
            };
            let address = BrokerAddress {
                node_id: b.node_id,
                host: b.host.clone(),
                port,
                rack: b.rack.clone(),
            };
            match brokers.get(&b.node_id) {
                Some(first) if *first != address => {
                    refused.push(MetadataRefusal::DuplicateBroker { node_id: b.node_id });
                }
                Some(_) => {}
                None => {
                    brokers.insert(b.node_id, address);
                }
            }
        }
        self.brokers = brokers;
        self.controller = (response.controller_id >= 0).then_some(response.controller_id);
        if response.cluster_id.is_some() {
            self.cluster_id = response.cluster_id.clone();
        }
        let mut previous = if all_topics {
            std::mem::take(&mut self.topics)
        } else {
            BTreeMap::new()
        };
        for t in &response.topics {
            let Some(name) = t.name.clone() else { continue };
            let old = previous.remove(&name).or_else(|| self.topics.remove(&name));
            let error = ErrorCode(t.error_code);
            if error == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
                continue;
            }
            let mut partitions: Vec<PartitionMetadata> = t
                .partitions
                .iter()
                .map(|p| PartitionMetadata {
                    partition: p.partition_index,
                    error: ErrorCode(p.error_code),
                    leader: p.leader_id,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.clone(),
                    isr: p.isr_nodes.clone(),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            let contiguous = partitions
                .iter()
                .enumerate()
                .all(|(i, p)| usize::try_from(p.partition) == Ok(i));
            if !contiguous {
                refused.push(MetadataRefusal::Partitions {
                    topic: escaped(&name),
                    indexes: partitions.len(),
                });
                if let Some(old) = old {
                    self.topics.insert(name, old);
                }
                continue;
            }
            if let Some(old) = &old {
                keep_newer_epochs(&mut partitions, &old.partitions);
            }
            self.topics.insert(
                name.clone(),
                TopicMetadata {
                    name,
                    error,
                    topic_id: t.topic_id,
                    is_internal: t.is_internal,
                    partitions,
                },
            );
        }
        *self != before
    }
}

/// KIP-320: a partition whose leader epoch is older than the one already
/// known comes from a broker that has not heard of the latest election;
/// the known partition stays. (-1 is "no epoch": old Metadata versions.)
fn keep_newer_epochs(partitions: &mut [PartitionMetadata], known: &[PartitionMetadata]) {
    for p in partitions.iter_mut() {
        let Some(k) = known.get(p.partition as usize) else {
            continue;
        };
        if k.partition == p.partition && p.leader_epoch >= 0 && p.leader_epoch < k.leader_epoch {
            *p = k.clone();
        }
    }
}

/// The first 64 characters of a broker's string, control characters
/// escaped, for an error message.
fn escaped(text: &str) -> String {
    text.chars().take(64).flat_map(char::escape_debug).collect()
}

/// A part of a Metadata answer that was not taken (see
/// [`ClusterMetadata::apply`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataRefusal {
    /// A broker entry with an empty host or a port outside 1-65535.
    #[error("broker {node_id} has no usable address ({host:?} port {port})")]
    BrokerAddress {
        /// The broker's node id.
        node_id: i32,
        /// The host as sent: at most 64 characters, control characters escaped.
        host: String,
        /// The port as sent.
        port: i32,
    },
    /// A node id listed twice with different addresses; the first is kept.
    #[error("broker {node_id} is listed twice with different addresses; the first is kept")]
    DuplicateBroker {
        /// The repeated node id.
        node_id: i32,
    },
    /// A topic whose partition indexes are not exactly 0 to n - 1; its
    /// previous metadata is kept.
    #[error("topic {topic:?}: its {indexes} partition indexes are not 0 to {indexes} - 1; its previous metadata is kept")]
    Partitions {
        /// The topic's name, shortened and escaped like `host`.
        topic: String,
        /// How many partitions the answer listed.
        indexes: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };

    fn broker(node_id: i32, host: &str, port: i32) -> MetadataResponseBroker {
        MetadataResponseBroker {
            node_id,
            host: host.into(),
            port,
            ..Default::default()
        }
    }

    /// Topic "t" with partitions at these indexes, led by broker 1 at
    /// `epoch`.
    fn topic(indexes: &[i32], epoch: i32) -> MetadataResponseTopic {
        MetadataResponseTopic {
            name: Some("t".into()),
            partitions: indexes
                .iter()
                .map(|&partition_index| MetadataResponsePartition {
                    partition_index,
                    leader_id: 1,
                    leader_epoch: epoch,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn answer(
        brokers: Vec<MetadataResponseBroker>,
        topics: Vec<MetadataResponseTopic>,
    ) -> MetadataResponse {
        MetadataResponse {
            brokers,
            topics,
            ..Default::default()
        }
    }

    fn apply(m: &mut ClusterMetadata, response: &MetadataResponse) -> Vec<MetadataRefusal> {
        let mut refused = Vec::new();
        m.apply(response, false, &mut refused);
        refused
    }

    #[test]
    fn brokers_without_a_usable_address_or_listed_twice_are_not_taken() {
        let mut m = ClusterMetadata::default();
        let refused = apply(
            &mut m,
            &answer(
                vec![
                    broker(1, "a", 9092),
                    broker(2, "", 9092),
                    broker(3, "c", 0),
                    broker(4, "d", 70_000),
                    broker(1, "evil", 9092),
                    broker(5, "e\u{1b}[2J", 9092),
                ],
                vec![],
            ),
        );
        assert_eq!(m.brokers.keys().copied().collect::<Vec<_>>(), [1, 5]);
        assert_eq!(m.brokers[&1].host, "a");
        assert_eq!(
            refused,
            [
                MetadataRefusal::BrokerAddress {
                    node_id: 2,
                    host: String::new(),
                    port: 9092
                },
                MetadataRefusal::BrokerAddress {
                    node_id: 3,
                    host: "c".into(),
                    port: 0
                },
                MetadataRefusal::BrokerAddress {
                    node_id: 4,
                    host: "d".into(),
                    port: 70_000
                },
                MetadataRefusal::DuplicateBroker { node_id: 1 },
            ]
        );
        // The same broker twice, identically, is no contradiction.
        let twice = answer(vec![broker(1, "a", 9092), broker(1, "a", 9092)], vec![]);
        assert_eq!(apply(&mut m, &twice), []);
    }

    #[test]
    fn partitions_with_gaps_or_repeats_keep_the_topics_previous_metadata() {
        let mut m = ClusterMetadata::default();
        assert_eq!(apply(&mut m, &answer(vec![], vec![topic(&[1, 0], 3)])), []);
        assert_eq!(m.topics["t"].partitions.len(), 2);
        for bad in [&[0, 2][..], &[0, 0, 1], &[-1, 0], &[1, 2]] {
            let refused = apply(&mut m, &answer(vec![], vec![topic(bad, 3)]));
            assert_eq!(
                refused,
                [MetadataRefusal::Partitions {
                    topic: "t".into(),
                    indexes: bad.len()
                }],
                "{bad:?}"
            );
            let kept: Vec<i32> = m.topics["t"]
                .partitions
                .iter()
                .map(|p| p.partition)
                .collect();
            assert_eq!(kept, [0, 1], "{bad:?}");
        }
        // A topic first seen with gaps is not taken at all.
        let mut fresh = ClusterMetadata::default();
        apply(&mut fresh, &answer(vec![], vec![topic(&[0, 2], 0)]));
        assert!(!fresh.topics.contains_key("t"));
    }

    #[test]
    fn an_older_leader_epoch_does_not_replace_a_newer_one() {
        let mut m = ClusterMetadata::default();
        apply(&mut m, &answer(vec![], vec![topic(&[0], 5)]));
        let mut stale = topic(&[0], 4);
        stale.partitions[0].leader_id = 2;
        assert!(!m.apply(&answer(vec![], vec![stale]), false, &mut Vec::new()));
        assert_eq!(m.leader("t", 0), Some(1));
        let mut newer = topic(&[0], 6);
        newer.partitions[0].leader_id = 2;
        apply(&mut m, &answer(vec![], vec![newer]));
        assert_eq!(m.leader("t", 0), Some(2));
        // No epoch (Metadata before v7) is taken as it comes.
        apply(&mut m, &answer(vec![], vec![topic(&[0], -1)]));
        assert_eq!(m.leader("t", 0), Some(1));
    }
}
