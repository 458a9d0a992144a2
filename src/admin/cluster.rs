//! The cluster's id, controller and brokers: DescribeCluster (Kafka 2.8+),
//! or the same facts from a Metadata answer for brokers without it.

use super::AdminError;
use crate::client::BrokerAddress;
use crate::protocol::messages::{DescribeClusterRequest, DescribeClusterResponse};
use crate::protocol::messages::{MetadataRequest, MetadataResponse};
use crate::protocol::{ApiKey, ErrorCode};

/// What a cluster says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// The cluster id; `None` when the broker did not report one (Metadata
    /// before v2, or an empty id).
    pub cluster_id: Option<String>,
    /// The controller's node id (with KRaft, a broker the client may send
    /// controller requests to; they are forwarded).
    pub controller: Option<i32>,
    /// Sorted by node id.
    pub brokers: Vec<BrokerAddress>,
}

/// The DescribeCluster request; valid at every version (the endpoint type
/// keeps its default, "brokers").
pub fn describe_cluster_request() -> DescribeClusterRequest {
    DescribeClusterRequest::default()
}

/// The description in a DescribeCluster answer.
pub fn describe_cluster_outcome(
    response: &DescribeClusterResponse,
) -> Result<ClusterDescription, AdminError> {
    let code = ErrorCode(response.error_code);
    if !code.is_ok() {
        return Err(AdminError::Request {
            api: ApiKey::DescribeCluster,
            code,
            message: response.error_message.clone(),
        });
    }
    let brokers = response
        .brokers
        .iter()
        .filter_map(|b| broker(b.broker_id, &b.host, b.port, b.rack.clone()));
    Ok(description(
        Some(response.cluster_id.clone()).filter(|id| !id.is_empty()),
        response.controller_id,
        brokers,
    ))
}

/// A Metadata request that asks for brokers and no topics, for brokers
/// without DescribeCluster. (At v0 an empty list means every topic: more
/// than needed, and still right.)
pub fn cluster_metadata_request() -> MetadataRequest {
    MetadataRequest {
        topics: Some(Vec::new()),
        ..Default::default()
    }
}

/// The description in a Metadata answer.
pub fn cluster_from_metadata(response: &MetadataResponse) -> ClusterDescription {
    let brokers = response
        .brokers
        .iter()
        .filter_map(|b| broker(b.node_id, &b.host, b.port, b.rack.clone()));
    description(response.cluster_id.clone(), response.controller_id, brokers)
}

fn description(
    cluster_id: Option<String>,
    controller: i32,
    brokers: impl Iterator<Item = BrokerAddress>,
) -> ClusterDescription {
    let mut brokers: Vec<BrokerAddress> = brokers.collect();
    brokers.sort_by_key(|b| b.node_id);
    ClusterDescription {
        cluster_id,
        controller: (controller >= 0).then_some(controller),
        brokers,
    }
}

/// A broker entry; one with a port outside u16 is dropped, as the client's
/// metadata cache does.
fn broker(node_id: i32, host: &str, port: i32, rack: Option<String>) -> Option<BrokerAddress> {
    Some(BrokerAddress {
        node_id,
        host: host.to_string(),
        port: u16::try_from(port).ok()?,
        rack,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::describe_cluster_response::DescribeClusterBroker;
    use crate::protocol::messages::metadata_response::MetadataResponseBroker;
    use crate::protocol::Message;
    use bytes::BytesMut;

    #[test]
    fn describe_cluster_lists_brokers_by_node_id() {
        let response = DescribeClusterResponse {
            cluster_id: "c1".into(),
            controller_id: 2,
            brokers: vec![
                DescribeClusterBroker {
                    broker_id: 2,
                    host: "b".into(),
                    port: 9093,
                    ..Default::default()
                },
                DescribeClusterBroker {
                    broker_id: 1,
                    host: "a".into(),
                    port: 9092,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let d = describe_cluster_outcome(&response).unwrap();
        assert_eq!(d.cluster_id.as_deref(), Some("c1"));
        assert_eq!(d.controller, Some(2));
        let ids: Vec<i32> = d.brokers.iter().map(|b| b.node_id).collect();
        assert_eq!(ids, [1, 2]);
    }

    #[test]
    fn a_cluster_error_names_the_api() {
        let response = DescribeClusterResponse {
            error_code: ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0,
            ..Default::default()
        };
        let e = describe_cluster_outcome(&response).unwrap_err();
        assert!(e.to_string().contains("DescribeCluster"), "{e}");
        assert!(!e.is_retriable());
    }

    #[test]
    fn metadata_gives_the_same_facts_and_the_request_encodes_everywhere() {
        let response = MetadataResponse {
            cluster_id: Some("c1".into()),
            controller_id: -1,
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "a".into(),
                port: 9092,
                ..Default::default()
            }],
            ..Default::default()
        };
        let d = cluster_from_metadata(&response);
        assert_eq!(d.controller, None);
        assert_eq!(d.brokers[0].address(), "a:9092");
        for v in 0..=MetadataRequest::VERSIONS.max {
            cluster_metadata_request()
                .encode(&mut BytesMut::new(), v)
                .expect("encodes");
        }
        for v in 0..=DescribeClusterRequest::VERSIONS.max {
            describe_cluster_request()
                .encode(&mut BytesMut::new(), v)
                .expect("encodes");
        }
    }
}
