//! Metadata, topic creation and deletion, and FindCoordinator.

use kafkite::protocol::messages::create_topics_response::CreatableTopicResult;
use kafkite::protocol::messages::delete_topics_response::DeletableTopicResult;
use kafkite::protocol::messages::find_coordinator_response::Coordinator;
use kafkite::protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafkite::protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, MetadataRequest, MetadataResponse,
};
use kafkite::protocol::ErrorCode;

use super::{Cluster, Partition, Topic};

/// The cluster id every broker reports.
const CLUSTER_ID: &str = "kafkite-sim";

pub(super) fn create_topic(
    cluster: &mut Cluster,
    name: &str,
    partitions: i32,
    replication_factor: i16,
) -> Result<(), i16> {
    if name.is_empty() || name.len() > 249 {
        return Err(ErrorCode::INVALID_TOPIC_EXCEPTION.0);
    }
    if cluster.topics.contains_key(name) {
        return Err(ErrorCode::TOPIC_ALREADY_EXISTS.0);
    }
    if !(1..=10_000).contains(&partitions) {
        return Err(ErrorCode::INVALID_PARTITIONS.0);
    }
    let brokers = cluster.broker_ids();
    if replication_factor < 1 || replication_factor as usize > brokers.len() {
        return Err(ErrorCode::INVALID_REPLICATION_FACTOR.0);
    }
    let now = cluster.now_ms;
    let id = cluster.new_topic_id();
    let partitions = (0..partitions as usize)
        .map(|p| {
            let replicas = (0..replication_factor as usize)
                .map(|r| brokers[(p + r) % brokers.len()])
                .collect();
            let mut partition = Partition::new(replicas, now);
            // A replica created while its broker is down is not in sync.
            let down: Vec<i32> = partition
                .replicas
                .iter()
                .copied()
                .filter(|b| !cluster.is_up(*b))
                .collect();
            for b in down {
                let alive = |x: i32| cluster.is_up(x);
                partition.broker_down(b, alive);
            }
            partition
        })
        .collect();
    cluster
        .topics
        .insert(name.to_string(), Topic { id, partitions });
    Ok(())
}

pub(super) fn metadata(
    cluster: &mut Cluster,
    request: &MetadataRequest,
    version: i16,
) -> MetadataResponse {
    // v0 has no null list: an empty one means every topic.
    let names: Option<Vec<String>> = match &request.topics {
        None => None,
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(t.iter().filter_map(|t| t.name.clone()).collect()),
    };
    let auto_create =
        cluster.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
    if let (Some(names), true) = (&names, auto_create) {
        let partitions = cluster.config.default_partitions;
        let rf = cluster
            .config
            .default_replication_factor
            .min(cluster.brokers.len() as i16);
        for n in names {
            if !cluster.topics.contains_key(n) {
                let _ = create_topic(cluster, n, partitions, rf);
            }
        }
    }
    let names: Vec<String> = names.unwrap_or_else(|| cluster.topics.keys().cloned().collect());
    let topics = names
        .iter()
        .map(|name| match cluster.topics.get(name) {
            Some(t) => MetadataResponseTopic {
                name: Some(name.clone()),
                topic_id: t.id,
                partitions: t
                    .partitions
                    .iter()
                    .enumerate()
                    .map(|(i, p)| partition_metadata(cluster, i as i32, p))
                    .collect(),
                ..Default::default()
            },
            None => MetadataResponseTopic {
                error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
                name: Some(name.clone()),
                ..Default::default()
            },
        })
        .collect();
    MetadataResponse {
        brokers: brokers(cluster),
        cluster_id: Some(CLUSTER_ID.into()),
        controller_id: cluster.alive_brokers().first().copied().unwrap_or(-1),
        topics,
        ..Default::default()
    }
}

fn brokers(cluster: &Cluster) -> Vec<MetadataResponseBroker> {
    cluster
        .alive_brokers()
        .into_iter()
        .filter_map(|id| {
            let (host, port) = cluster.config.listeners.get(id as usize - 1)?;
            Some(MetadataResponseBroker {
                node_id: id,
                host: host.clone(),
                port: i32::from(*port),
                ..Default::default()
            })
        })
        .collect()
}

fn partition_metadata(cluster: &Cluster, index: i32, p: &Partition) -> MetadataResponsePartition {
    MetadataResponsePartition {
        error_code: if p.leader < 0 {
            ErrorCode::LEADER_NOT_AVAILABLE.0
        } else {
            0
        },
        partition_index: index,
        leader_id: p.leader,
        // Epochs are not reported: clients then skip the epoch validation
        // (OffsetForLeaderEpoch) the simulation does not serve.
        leader_epoch: -1,
        replica_nodes: p.replicas.clone(),
        isr_nodes: p.isr.clone(),
        offline_replicas: p
            .replicas
            .iter()
            .copied()
            .filter(|r| !cluster.is_up(*r))
            .collect(),
        ..Default::default()
    }
}

pub(super) fn create_topics(
    cluster: &mut Cluster,
    request: &CreateTopicsRequest,
) -> CreateTopicsResponse {
    let topics = request
        .topics
        .iter()
        .map(|t| {
            let partitions = if t.num_partitions < 0 {
                cluster.config.default_partitions
            } else {
                t.num_partitions
            };
            let rf = if t.replication_factor < 0 {
                cluster
                    .config
                    .default_replication_factor
                    .min(cluster.brokers.len() as i16)
            } else {
                t.replication_factor
            };
            let result = if request.validate_only {
                Ok(())
            } else {
                create_topic(cluster, &t.name, partitions, rf)
            };
            CreatableTopicResult {
                name: t.name.clone(),
                topic_id: cluster
                    .topics
                    .get(&t.name)
                    .map(|t| t.id)
                    .unwrap_or_default(),
                error_code: result.err().unwrap_or(0),
                num_partitions: partitions,
                replication_factor: rf,
                ..Default::default()
            }
        })
        .collect();
    CreateTopicsResponse {
        topics,
        ..Default::default()
    }
}

pub(super) fn delete_topics(
    cluster: &mut Cluster,
    request: &DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let names: Vec<Option<String>> = if version >= 6 {
        request
            .topics
            .iter()
            .map(|t| {
                t.name.clone().or_else(|| {
                    cluster
                        .topics
                        .iter()
                        .find(|(_, topic)| topic.id == t.topic_id)
                        .map(|(n, _)| n.clone())
                })
            })
            .collect()
    } else {
        request.topic_names.iter().cloned().map(Some).collect()
    };
    let responses = names
        .into_iter()
        .map(|name| {
            let removed = name.as_ref().and_then(|n| cluster.topics.remove(n));
            DeletableTopicResult {
                topic_id: removed.as_ref().map(|t| t.id).unwrap_or_default(),
                name,
                error_code: if removed.is_some() {
                    0
                } else {
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
                },
                ..Default::default()
            }
        })
        .collect();
    DeleteTopicsResponse {
        responses,
        ..Default::default()
    }
}

/// The broker that coordinates `key`: the first alive broker from the
/// key's hash on, so a crash moves it and a restart does not move it back
/// past a live one.
pub(super) fn coordinator_for(cluster: &Cluster, key: &str) -> Option<i32> {
    let ids = cluster.broker_ids();
    if ids.is_empty() {
        return None;
    }
    // FNV-1a: stable across runs and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let start = (h % ids.len() as u64) as usize;
    (0..ids.len())
        .map(|i| ids[(start + i) % ids.len()])
        .find(|id| cluster.is_up(*id))
}

pub(super) fn find_coordinator(
    cluster: &Cluster,
    request: &FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let lookup = |key: &str| -> Coordinator {
        match coordinator_for(cluster, key) {
            Some(id) => {
                let (host, port) = cluster.config.listeners[id as usize - 1].clone();
                Coordinator {
                    key: key.to_string(),
                    node_id: id,
                    host,
                    port: i32::from(port),
                    ..Default::default()
                }
            }
            None => Coordinator {
                key: key.to_string(),
                node_id: -1,
                port: -1,
                error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
                ..Default::default()
            },
        }
    };
    if version >= 4 {
        FindCoordinatorResponse {
            coordinators: request.coordinator_keys.iter().map(|k| lookup(k)).collect(),
            ..Default::default()
        }
    } else {
        let c = lookup(&request.key);
        FindCoordinatorResponse {
            error_code: c.error_code,
            node_id: c.node_id,
            host: c.host,
            port: c.port,
            ..Default::default()
        }
    }
}
