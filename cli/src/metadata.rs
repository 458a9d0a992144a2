//! `kafkite metadata`: brokers, topics, partitions, leaders and replicas,
//! laid out as `kcat -L` lays them out so the two read alike.

use std::io::Write;

use kafkite_smol::{ClusterMetadata, Session};

use crate::args::{Global, MetadataArgs};
use crate::error::CliError;
use crate::printable::printable;
use crate::session::{topic_partitions, with_session};

pub async fn run(global: &Global, args: MetadataArgs) -> Result<(), CliError> {
    with_session(global, async |session| show(session, args).await).await
}

async fn show(session: &Session, args: MetadataArgs) -> Result<(), CliError> {
    let (scope, names) = match &args.topic {
        Some(topic) => {
            // Reports a missing topic as such, not as an empty listing.
            topic_partitions(session, topic).await?;
            (format!("topic {topic:?}"), vec![topic.clone()])
        }
        None => {
            let names = session
                .list_topics()
                .await
                .map_err(CliError::cluster("listing topics"))?;
            ("all topics".to_string(), names.into_iter().collect())
        }
    };
    let metadata = session
        .add_topics(&names)
        .await
        .map_err(CliError::cluster("reading metadata"))?;
    let mut text = Vec::new();
    render(&metadata, &scope, &names, &mut text);
    std::io::stdout()
        .lock()
        .write_all(&text)
        .map_err(CliError::Stdout)
}

/// The listing of `names` (those of them the metadata has) in `metadata`.
/// Every string the broker chose (cluster id, hosts, racks, topic names)
/// is escaped: topic names by `Debug`, the others by [`printable`].
fn render(metadata: &ClusterMetadata, scope: &str, names: &[String], out: &mut Vec<u8>) {
    let cluster = metadata
        .cluster_id
        .as_deref()
        .map_or("(no id)".into(), printable);
    let _ = writeln!(out, "Metadata for {scope} (cluster {cluster}):");
    let _ = writeln!(out, " {} brokers:", metadata.brokers.len());
    for broker in metadata.brokers.values() {
        let controller = if metadata.controller == Some(broker.node_id) {
            " (controller)"
        } else {
            ""
        };
        let rack = broker
            .rack
            .as_deref()
            .map(|r| format!(" rack {}", printable(r)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  broker {} at {}{rack}{controller}",
            broker.node_id,
            printable(&broker.address())
        );
    }
    let topics: Vec<_> = names
        .iter()
        .filter_map(|n| metadata.topics.get(n))
        .collect();
    let _ = writeln!(out, " {} topics:", topics.len());
    for topic in topics {
        let error = if topic.error.is_ok() {
            String::new()
        } else {
            format!(" error: {:?}", topic.error)
        };
        let _ = writeln!(
            out,
            "  topic {:?} with {} partitions:{error}",
            topic.name,
            topic.partitions.len()
        );
        for p in &topic.partitions {
            let error = if p.error.is_ok() {
                String::new()
            } else {
                format!(", error: {:?}", p.error)
            };
            let _ = writeln!(
                out,
                "    partition {}, leader {}, replicas: {}, isrs: {}{error}",
                p.partition,
                p.leader,
                join(&p.replicas),
                join(&p.isr)
            );
        }
    }
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkite::client::{BrokerAddress, PartitionMetadata, TopicMetadata};
    use kafkite::protocol::{ErrorCode, Uuid};

    fn partition(partition: i32, leader: i32, error: ErrorCode) -> PartitionMetadata {
        PartitionMetadata {
            partition,
            error,
            leader,
            leader_epoch: 0,
            replicas: vec![1, 2],
            isr: vec![1],
        }
    }

    #[test]
    fn the_listing_reads_like_kcat_l() {
        let mut metadata = ClusterMetadata {
            cluster_id: Some("c1".into()),
            controller: Some(2),
            ..ClusterMetadata::default()
        };
        for id in [1, 2] {
            metadata.brokers.insert(
                id,
                BrokerAddress {
                    node_id: id,
                    host: "h".into(),
                    port: 9090 + id as u16,
                    rack: (id == 2).then(|| "r2".into()),
                },
            );
        }
        metadata.topics.insert(
            "t".into(),
            TopicMetadata {
                name: "t".into(),
                error: ErrorCode(0),
                topic_id: Uuid::default(),
                is_internal: false,
                partitions: vec![
                    partition(0, 1, ErrorCode(0)),
                    partition(1, -1, ErrorCode::LEADER_NOT_AVAILABLE),
                ],
            },
        );
        let mut out = Vec::new();
        let names = ["t".to_string(), "gone".to_string()];
        render(&metadata, "all topics", &names, &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "Metadata for all topics (cluster c1):\n \
             2 brokers:\n  \
             broker 1 at h:9091\n  \
             broker 2 at h:9092 rack r2 (controller)\n \
             1 topics:\n  \
             topic \"t\" with 2 partitions:\n    \
             partition 0, leader 1, replicas: 1,2, isrs: 1\n    \
             partition 1, leader -1, replicas: 1,2, isrs: 1, error: LEADER_NOT_AVAILABLE (5)\n"
        );
    }

    #[test]
    fn strings_from_the_broker_are_printed_escaped() {
        let mut metadata = ClusterMetadata {
            cluster_id: Some("c\u{1b}]0;owned\u{7}".into()),
            ..ClusterMetadata::default()
        };
        metadata.brokers.insert(
            1,
            BrokerAddress {
                node_id: 1,
                host: "evil\u{1b}[2J\u{202e}moc.example".into(),
                port: 9092,
                rack: Some("r\r\u{8}".into()),
            },
        );
        let name = "t\u{1b}[31m\u{2066}".to_string();
        metadata.topics.insert(
            name.clone(),
            TopicMetadata {
                name: name.clone(),
                error: ErrorCode(0),
                topic_id: Uuid::default(),
                is_internal: false,
                partitions: vec![],
            },
        );
        let mut out = Vec::new();
        render(&metadata, "all topics", &[name], &mut out);
        let text = String::from_utf8_lossy(&out);
        assert_eq!(
            text,
            "Metadata for all topics (cluster c\\x1b]0;owned\\x07):\n \
             1 brokers:\n  \
             broker 1 at evil\\x1b[2J\\u{202e}moc.example:9092 rack r\\r\\x08\n \
             1 topics:\n  \
             topic \"t\\u{1b}[31m\\u{2066}\" with 0 partitions:\n"
        );
        assert!(!text.contains(['\u{1b}', '\u{7}', '\u{8}', '\r', '\u{202e}', '\u{2066}']));
    }
}
