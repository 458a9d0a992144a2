//! Scenarios every broker must pass: bootstrap and discovery, version
//! negotiation, topic administration and offsets.

use std::collections::BTreeSet;

use kafkite::admin::{AdminError, NewTopic, OffsetSpec};
use kafkite::client::{ApiVersionTable, Target};
use kafkite::protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafkite::protocol::{ApiKey, ErrorCode};
use kafkite_testkit::{unique_name, Peer, PeerKind};

use super::support::{connect, create_topic, eventually, produce, within, SCENARIO_LIMIT};
use kafkite_driver::{Error, Runtime};

/// The session bootstraps, finds every broker of the cluster at the
/// addresses it advertises, and DescribeCluster (or its Metadata fallback)
/// tells the same.
pub async fn bootstraps_and_discovers_every_broker<R: Runtime + Default>(peer: &Peer) {
    let what = format!("{} bootstraps_and_discovers_every_broker", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let metadata = session.metadata();
        let found: BTreeSet<String> = metadata.brokers.values().map(|b| b.address()).collect();
        let expected: BTreeSet<String> = peer.bootstrap_addrs().into_iter().collect();
        assert_eq!(found, expected, "{what}: brokers in metadata");

        let cluster = session
            .describe_cluster()
            .await
            .unwrap_or_else(|e| panic!("{what}: describe_cluster: {e}"));
        let described: BTreeSet<String> = cluster.brokers.iter().map(|b| b.address()).collect();
        assert_eq!(described, expected, "{what}: brokers in describe_cluster");
        // librdkafka's mock names controller 0, which is none of its
        // brokers (1..=3): a mock quirk.
        if let (Some(controller), false) = (cluster.controller, peer.kind() == PeerKind::Mock) {
            assert!(
                metadata.brokers.contains_key(&controller),
                "{what}: controller {controller} is not a known broker"
            );
        }
        session.close().await;
    })
    .await
}

/// For each broker, the table the client negotiated is exactly what the
/// broker advertises when asked directly with ApiVersions.
pub async fn negotiated_versions_match_what_each_broker_advertises<R: Runtime + Default>(
    peer: &Peer,
) {
    let what = format!("{} negotiated_versions", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let brokers: Vec<i32> = session.metadata().brokers.keys().copied().collect();
        assert!(!brokers.is_empty(), "{what}: no brokers in metadata");
        for broker in brokers {
            let request = ApiVersionsRequest {
                client_software_name: "kafkite-conformance".into(),
                client_software_version: "0".into(),
                ..Default::default()
            };
            let advertised: ApiVersionsResponse = session
                .send(Target::Broker(broker), request)
                .await
                .unwrap_or_else(|e| panic!("{what}: ApiVersions to broker {broker}: {e}"));
            assert_eq!(advertised.error_code, 0, "{what}: broker {broker}");
            let advertised = ApiVersionTable::from_response(&advertised);
            let negotiated = session
                .broker_versions(broker)
                .unwrap_or_else(|| panic!("{what}: no version table for broker {broker}"));
            eprintln!(
                "{what}: broker {broker} advertises {}",
                table_text(&advertised)
            );
            assert_eq!(negotiated, advertised, "{what}: broker {broker}");
            let used = versions_used(&negotiated, &what, broker);
            eprintln!("{what}: broker {broker} gets {used}");
        }
        session.close().await;
    })
    .await
}

/// Topics are created, listed and deleted; a second create and a second
/// delete fail with the broker's error for that topic, not retried. The
/// mock has neither API: the session must say so clearly, and its topics
/// are made through the mock's own control API instead.
pub async fn creates_lists_and_deletes_topics<R: Runtime + Default>(peer: &Peer) {
    let what = format!("{} creates_lists_and_deletes_topics", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = unique_name("admin");
        let new = [NewTopic::new(topic.clone(), 2, 1)];

        if peer.kind() == PeerKind::Mock {
            let refused = session.create_topics(&new).await;
            assert_unsupported(refused, ApiKey::CreateTopics, &what);
            peer.create_topic(&topic, 2, 1)
                .unwrap_or_else(|e| panic!("{what}: mock create_topic: {e}"));
        } else {
            session
                .create_topics(&new)
                .await
                .unwrap_or_else(|e| panic!("{what}: create_topics: {e}"));
        }
        let listed = |present: bool| {
            let session = &session;
            let topic = &topic;
            move || async move {
                let topics = session.list_topics().await.map_err(|e| e.to_string())?;
                Ok((topics.contains(topic) == present).then_some(()))
            }
        };
        eventually(&session, &format!("{what}: {topic} listed"), listed(true)).await;

        if peer.kind() == PeerKind::Mock {
            let refused = session.delete_topics(&[&topic]).await;
            assert_unsupported(refused, ApiKey::DeleteTopics, &what);
            peer.delete_topic(&topic)
                .unwrap_or_else(|e| panic!("{what}: mock delete_topic: {e}"));
        } else {
            let again = session.create_topics(&new).await;
            let code = admin_code(&again);
            assert_eq!(
                code,
                Some(ErrorCode::TOPIC_ALREADY_EXISTS),
                "{what}: second create gave {again:?}"
            );
            session
                .delete_topics(&[&topic])
                .await
                .unwrap_or_else(|e| panic!("{what}: delete_topics: {e}"));
        }
        eventually(&session, &format!("{what}: {topic} gone"), listed(false)).await;
        session.close().await;
    })
    .await
}

/// Earliest and latest offsets of every partition of a topic, before and
/// after records are produced to one of them.
pub async fn lists_earliest_and_latest_offsets<R: Runtime + Default>(peer: &Peer) {
    let what = format!("{} lists_earliest_and_latest_offsets", peer.kind());
    within::<R, _>(SCENARIO_LIMIT, &what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = unique_name("offsets");
        // Asked for before it exists: unknown, and not auto-created.
        let before = session
            .add_topics(&[&topic])
            .await
            .unwrap_or_else(|e| panic!("{what}: add_topics: {e}"));
        assert!(
            !before.topics.contains_key(&topic),
            "{what}: {topic} known before creation"
        );
        create_topic(&session, peer, &topic, 2, &what).await;
        // A refresh asks for the added topic again, though the cache
        // dropped it as unknown.
        eventually(
            &session,
            &format!("{what}: {topic} in a refresh"),
            || async {
                let metadata = session
                    .refresh_metadata()
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(metadata.topics.get(&topic).map(|t| t.partitions.len()))
            },
        )
        .await;
        let list = |spec| {
            let (session, topic, what) = (&session, &topic, &what);
            async move {
                session
                    .list_offsets(topic, &[0, 1], spec)
                    .await
                    .unwrap_or_else(|e| panic!("{what}: list_offsets {spec:?}: {e}"))
            }
        };
        let empty = list(OffsetSpec::Latest).await;
        assert_eq!(
            empty.into_iter().collect::<Vec<_>>(),
            [(0, 0), (1, 0)],
            "{what}: latest of an empty topic"
        );

        let base = produce(&session, &topic, 0, &["a", "b", "c"]).await;
        assert_eq!(base, 0, "{what}: base offset of the first batch");
        let earliest = list(OffsetSpec::Earliest).await;
        assert_eq!(
            earliest.into_iter().collect::<Vec<_>>(),
            [(0, 0), (1, 0)],
            "{what}: earliest"
        );
        let latest = list(OffsetSpec::Latest).await;
        // tansu 0.6.0 answers "latest" with the last batch's base offset + 1
        // instead of the high watermark (a known broker bug, TEST-PEERS.md).
        let expected_latest = if peer.kind() == PeerKind::Tansu { 1 } else { 3 };
        assert_eq!(
            latest.into_iter().collect::<Vec<_>>(),
            [(0, expected_latest), (1, 0)],
            "{what}: latest after 3 records in one batch"
        );
        session.close().await;
    })
    .await
}

fn assert_unsupported(result: Result<(), Error>, api: ApiKey, what: &str) {
    match result {
        Err(Error::Admin(AdminError::UnsupportedVersion { api: got, .. })) if got == api => {}
        other => panic!(
            "{what}: expected {} to be unsupported, got {other:?}",
            api.name()
        ),
    }
}

fn admin_code(result: &Result<(), Error>) -> Option<ErrorCode> {
    match result {
        Err(Error::Admin(e)) => e.code(),
        _ => None,
    }
}

/// The version the client sends of each API both sides speak, checked to
/// be the highest in common (so never one a broker dropped, as Kafka 4
/// dropped Produce v0-v2), as "Name vN ...".
fn versions_used(table: &ApiVersionTable, what: &str, broker: i32) -> String {
    let mut used = Vec::new();
    for &api in ApiKey::ALL {
        let theirs = table.get(api.key());
        let common = theirs.and_then(|t| api.versions().intersect(&t));
        let chosen = table.choose(api, api.versions());
        assert_eq!(
            chosen,
            common.map(|c| c.max),
            "{what}: broker {broker}: version chosen for {}",
            api.name()
        );
        if let Some(v) = chosen {
            used.push(format!("{} v{v}", api.name()));
        }
    }
    used.join(", ")
}

/// "key:min-max ..." as TEST-PEERS.md writes the tables.
fn table_text(table: &ApiVersionTable) -> String {
    table
        .iter()
        .map(|(key, r)| {
            if r.min == r.max {
                format!("{key}:{}", r.min)
            } else {
                format!("{key}:{}-{}", r.min, r.max)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
