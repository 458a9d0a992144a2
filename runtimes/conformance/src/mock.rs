//! Fault scenarios on librdkafka's 3-broker mock cluster: a dead bootstrap
//! address, a broker down and back, a partition leader that moves.

use std::time::Duration;

use kafkite::admin::OffsetSpec;
use kafkite::client::{RequestOptions, Target};
use kafkite::protocol::messages::{MetadataRequest, MetadataResponse};
use kafkite_testkit::{free_port, unique_name, Peer, PeerKind};

use super::support::{connect, eventually, produce, within, SCENARIO_LIMIT};
use kafkite_driver::{Error, Runtime, Session};

/// With a closed port first in the bootstrap list, the session bootstraps
/// from the second address and finds every broker.
pub async fn first_bootstrap_address_dead_second_used<R: Runtime + Default>(peer: &Peer) {
    let what = "first_bootstrap_address_dead_second_used";
    within::<R, _>(SCENARIO_LIMIT, what, async {
        // Bound and released: nothing listens there now.
        let dead = free_port().unwrap_or_else(|e| panic!("{what}: {e}"));
        let bootstrap = format!("127.0.0.1:{dead},{}", peer.bootstrap());
        let session = connect::<R>(&bootstrap).await;
        let brokers = session.metadata().brokers.len();
        assert_eq!(
            brokers,
            peer.bootstrap_addrs().len(),
            "{what}: brokers found"
        );
        session
            .list_topics()
            .await
            .unwrap_or_else(|e| panic!("{what}: list_topics after bootstrap: {e}"));
        session.close().await;
    })
    .await
}

/// A broker taken down fails the requests sent to it; once it is back, the
/// client reconnects (after a metadata refresh names it again) and they
/// succeed again.
pub async fn reconnects_to_a_broker_brought_back<R: Runtime + Default>() {
    let what = "reconnects_to_a_broker_brought_back";
    let peer = start_mock(what);
    within::<R, _>(SCENARIO_LIMIT, what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let broker = *session
            .metadata()
            .brokers
            .keys()
            .last()
            .unwrap_or_else(|| panic!("{what}: no brokers"));
        ask(&session, broker, Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("{what}: broker {broker} before it went down: {e}"));

        peer.broker_down(broker)
            .unwrap_or_else(|e| panic!("{what}: broker_down: {e}"));
        let down = ask(&session, broker, Duration::from_secs(2)).await;
        assert!(
            down.is_err(),
            "{what}: broker {broker} answered while down: {down:?}"
        );

        peer.broker_up(broker)
            .unwrap_or_else(|e| panic!("{what}: broker_up: {e}"));
        // While it was down the client may have refreshed its metadata, in
        // which the mock leaves out brokers that are down: requests to it
        // then fail as UnknownBroker until a refresh names it again.
        let back = format!("{what}: broker {broker} answers again");
        eventually(&session, &back, || async {
            match ask(&session, broker, Duration::from_secs(2)).await {
                Ok(_) => Ok(Some(())),
                Err(e) if e.needs_metadata_refresh() => {
                    session
                        .refresh_metadata()
                        .await
                        .map_err(|e| e.to_string())?;
                    Err(e.to_string())
                }
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
        assert!(
            session.broker_versions(broker).is_some(),
            "{what}: no versions negotiated with broker {broker} after it came back"
        );
        session.close().await;
    })
    .await
}

/// After the mock moves a partition's leader, ListOffsets first reaches the
/// old leader (NOT_LEADER_OR_FOLLOWER), refreshes the metadata and follows
/// the partition to its new leader.
pub async fn follows_a_partition_leader_that_moved<R: Runtime + Default>() {
    let what = "follows_a_partition_leader_that_moved";
    let peer = start_mock(what);
    within::<R, _>(SCENARIO_LIMIT, what, async {
        let session = connect::<R>(peer.bootstrap()).await;
        let topic = unique_name("leader");
        peer.create_topic(&topic, 1, 3)
            .unwrap_or_else(|e| panic!("{what}: create_topic: {e}"));
        produce(&session, &topic, 0, &["a", "b"]).await;
        let before = session
            .list_offsets(&topic, &[0], OffsetSpec::Latest)
            .await
            .unwrap_or_else(|e| panic!("{what}: list_offsets before the move: {e}"));
        assert_eq!(before.get(&0), Some(&2), "{what}: latest before the move");
        let old = session.metadata().leader(&topic, 0).unwrap_or(-1);
        let new = session
            .metadata()
            .brokers
            .keys()
            .copied()
            .find(|&b| b != old)
            .unwrap_or_else(|| panic!("{what}: no second broker"));

        peer.set_partition_leader(&topic, 0, new)
            .unwrap_or_else(|e| panic!("{what}: set_partition_leader: {e}"));
        let after = session
            .list_offsets(&topic, &[0], OffsetSpec::Latest)
            .await
            .unwrap_or_else(|e| panic!("{what}: list_offsets after the move: {e}"));
        assert_eq!(after.get(&0), Some(&2), "{what}: latest after the move");
        assert_eq!(
            session.metadata().leader(&topic, 0),
            Some(new),
            "{what}: the client's metadata names the new leader"
        );
        session.close().await;
    })
    .await
}

fn start_mock(what: &str) -> Peer {
    Peer::start(PeerKind::Mock).unwrap_or_else(|e| panic!("{what}: start a mock cluster: {e}"))
}

/// A small request that only `broker` can answer.
async fn ask<R: Runtime>(
    session: &Session<R>,
    broker: i32,
    timeout: Duration,
) -> Result<MetadataResponse, Error> {
    let options = RequestOptions {
        timeout: Some(timeout),
        ..Default::default()
    };
    let request = MetadataRequest {
        topics: Some(Vec::new()),
        ..Default::default()
    };
    session
        .send_with(Target::Broker(broker), request, options)
        .await
}
