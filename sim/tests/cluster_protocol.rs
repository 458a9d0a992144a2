//! The simulated brokers at the wire: frames in, frames out, through
//! kafkite's codec. Kafka 0.8.2 behaviour, and the idempotent producer's
//! sequence checks.

use bytes::{Bytes, BytesMut};
use kafkite::protocol::frame::{decode_response, encode_request, RequestContext};
use kafkite::protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafkite::protocol::messages::metadata_request::MetadataRequestTopic;
use kafkite::protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkite::protocol::messages::{
    ApiVersionsRequest, FetchRequest, FetchResponse, JoinGroupRequest, MetadataRequest,
    MetadataResponse, ProduceRequest, ProduceResponse,
};
use kafkite::protocol::{ApiKey, ErrorCode, Request};
use kafkite::records::{Compression, LegacyMessageSetWriter, RecordBatchWriter, RecordSet};
use kafkite_sim::{Cluster, ClusterConfig, ConnKey, Output};

/// Sends one request and returns what the broker did: the decoded answer,
/// or `None` if it closed the connection.
fn call<R: Request>(
    cluster: &mut Cluster,
    conn: ConnKey,
    version: i16,
    body: &R,
) -> Option<R::Response> {
    let mut buf = BytesMut::new();
    let ctx = RequestContext {
        api_key: R::API_KEY,
        api_version: version,
        correlation_id: 7,
        client_id: Some("test"),
    };
    encode_request(&mut buf, &ctx, body).expect("encodes");
    cluster.receive(conn, &buf, 0);
    match cluster.poll_output() {
        Some(Output::Send { data, .. }) => {
            let (header, response) =
                decode_response::<R::Response>(data.slice(4..), R::API_KEY, version)
                    .expect("the answer decodes");
            assert_eq!(header.correlation_id, 7);
            Some(response)
        }
        Some(Output::Close { .. }) => None,
        None => panic!("no answer to {:?} v{version}", R::API_KEY),
    }
}

fn produce(topic: &str, records: Bytes, acks: i16) -> ProduceRequest {
    ProduceRequest {
        acks,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn fetch(topic: &str, offset: i64) -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn a_0_8_2_broker_hangs_up_on_api_versions_and_serves_v0() {
    let mut cluster = Cluster::new(ClusterConfig::new(1).with_legacy_0_8_2(true));
    cluster.create_topic("old", 1, 1).expect("created");
    let conn = cluster.connect(1).expect("up");
    assert!(
        call(&mut cluster, conn, 0, &ApiVersionsRequest::default()).is_none(),
        "hangs up"
    );

    let conn = cluster.connect(1).expect("up");
    let md: MetadataResponse = call(
        &mut cluster,
        conn,
        0,
        &MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some("old".into()),
                ..Default::default()
            }]),
            ..Default::default()
        },
    )
    .expect("metadata v0");
    assert_eq!(md.topics[0].partitions[0].leader_id, 1);

    let mut writer = LegacyMessageSetWriter::new(0, Compression::None, 0).expect("magic 0");
    writer.append(0, Some(b"k"), Some(b"v0")).expect("appends");
    writer.append(0, None, Some(b"v1")).expect("appends");
    let set = writer.finish().expect("finishes").freeze();
    let produced: ProduceResponse =
        call(&mut cluster, conn, 0, &produce("old", set, 1)).expect("produce v0");
    let p = &produced.responses[0].partition_responses[0];
    assert_eq!((p.error_code, p.base_offset), (0, 0));

    let fetched: FetchResponse = call(&mut cluster, conn, 0, &fetch("old", 0)).expect("fetch v0");
    let data = &fetched.responses[0].partitions[0];
    assert_eq!(data.high_watermark, 2);
    let values: Vec<Option<Bytes>> = RecordSet::new(data.records.clone().unwrap_or_default())
        .records()
        .map(|r| r.expect("decodes").value)
        .collect();
    assert_eq!(
        values,
        vec![Some(Bytes::from("v0")), Some(Bytes::from("v1"))]
    );

    // Group membership came with Kafka 0.9: the 0.8.2 broker hangs up.
    assert!(call(&mut cluster, conn, 0, &JoinGroupRequest::default()).is_none());
    assert_eq!(ApiKey::JoinGroup, JoinGroupRequest::API_KEY);
}

fn idempotent_batch(producer_id: i64, sequence: i32, values: &[&str]) -> Bytes {
    let mut writer = RecordBatchWriter::new(0).producer(producer_id, 0, sequence);
    for v in values {
        writer
            .append(0, None, Some(v.as_bytes()), [])
            .expect("appends");
    }
    writer.finish().expect("finishes").freeze()
}

#[test]
fn sequences_are_checked_retries_answer_the_first_offsets_and_gaps_are_refused() {
    let mut cluster = Cluster::new(ClusterConfig::new(1).with_min_insync_replicas(1));
    cluster.create_topic("t", 1, 1).expect("created");
    let conn = cluster.connect(1).expect("up");
    let answer = |cluster: &mut Cluster, batch: Bytes| {
        let r: ProduceResponse = call(cluster, conn, 9, &produce("t", batch, 1)).expect("answered");
        let p = &r.responses[0].partition_responses[0];
        (p.error_code, p.base_offset)
    };
    assert_eq!(
        answer(&mut cluster, idempotent_batch(5, 0, &["a", "b"])),
        (0, 0)
    );
    assert_eq!(answer(&mut cluster, idempotent_batch(5, 2, &["c"])), (0, 2));
    // The same batch again (a retry after a lost answer): not written twice.
    assert_eq!(
        answer(&mut cluster, idempotent_batch(5, 0, &["a", "b"])),
        (0, 0)
    );
    // A gap: sequence 3 was never written.
    assert_eq!(
        answer(&mut cluster, idempotent_batch(5, 4, &["e"])),
        (ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER.0, -1)
    );
    let log_end = cluster.topics()["t"].partitions[0].log_end_offset();
    assert_eq!(log_end, 3);
}
