//! `shared(Kafka)` starts one broker for the whole test binary, however many
//! tests (running in parallel) ask for it.

mod common;

use common::api_versions_v0;
use kafkite_testkit::{peer_starts, shared, PeerKind};

fn use_shared_kafka() -> u32 {
    let kafka = shared(PeerKind::Kafka);
    assert_eq!(kafka.kind(), PeerKind::Kafka);
    for addr in kafka.bootstrap_addrs() {
        api_versions_v0(&addr).unwrap_or_else(|e| panic!("kafka at {addr}: {e}"));
    }
    assert_eq!(
        peer_starts(PeerKind::Kafka),
        1,
        "shared(Kafka) started more than once"
    );
    kafka.pid().expect("shared kafka is running")
}

#[test]
fn first_user_of_shared_kafka() {
    let pid = use_shared_kafka();
    assert_eq!(Some(pid), shared(PeerKind::Kafka).pid());
}

#[test]
fn second_user_of_shared_kafka() {
    let pid = use_shared_kafka();
    assert!(std::ptr::eq(
        shared(PeerKind::Kafka),
        shared(PeerKind::Kafka)
    ));
    assert_eq!(Some(pid), shared(PeerKind::Kafka).pid());
}
