//! The cluster as the client knows it: brokers, controller, topics and
//! partition leaders, from Metadata responses.

use std::collections::BTreeMap;

use crate::protocol::messages::MetadataResponse;
use crate::protocol::{ErrorCode, Uuid};

/// A broker's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    pub node_id: i32,
    pub host: String,
    pub port: u16,
    pub rack: Option<String>,
}

impl BrokerAddress {
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// One partition's replicas and leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    pub partition: i32,
    pub error: ErrorCode,
    /// -1 when there is no leader.
    pub leader: i32,
    /// -1 when the broker does not report epochs (Metadata v0-v6).
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// One topic's partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    pub name: String,
    pub error: ErrorCode,
    pub topic_id: Uuid,
    pub is_internal: bool,
    /// Sorted by partition index.
    pub partitions: Vec<PartitionMetadata>,
}

/// The latest cluster metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterMetadata {
    pub cluster_id: Option<String>,
    pub controller: Option<i32>,
    pub brokers: BTreeMap<i32, BrokerAddress>,
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
    pub fn apply(&mut self, response: &MetadataResponse, all_topics: bool) -> bool {
        let before = self.clone();
        self.brokers = response
            .brokers
            .iter()
            .filter_map(|b| {
                let port = u16::try_from(b.port).ok()?;
                Some((
                    b.node_id,
                    BrokerAddress {
                        node_id: b.node_id,
                        host: b.host.clone(),
                        port,
                        rack: b.rack.clone(),
                    },
                ))
            })
            .collect();
        self.controller = (response.controller_id >= 0).then_some(response.controller_id);
        if response.cluster_id.is_some() {
            self.cluster_id = response.cluster_id.clone();
        }
        if all_topics {
            self.topics.clear();
        }
        for t in &response.topics {
            let Some(name) = t.name.clone() else { continue };
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
            let error = ErrorCode(t.error_code);
            if error == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
                self.topics.remove(&name);
                continue;
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
