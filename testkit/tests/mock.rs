//! The mock cluster's control methods, on one mock shared by parallel tests.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{api_versions_v0, connect};
use kafkite_testkit::{
    shared, unique_name, CoordinatorKind, MockOptions, Peer, PeerKind, TestkitError,
    MOCK_TRANSPORT_ERROR,
};

#[test]
fn create_topic_and_friends_answer_ok() {
    let mock = shared(PeerKind::Mock);
    let topic = unique_name("mock-topic");
    mock.ping().expect("ping");
    mock.create_topic(&topic, 3, 2).expect("create_topic");
    mock.set_partition_leader(&topic, 1, 2)
        .expect("set_partition_leader");
    mock.set_partition_follower(&topic, 1, 3)
        .expect("set_partition_follower");
    mock.set_rtt(3, 50).expect("set_rtt");
    mock.set_rtt(3, 0).expect("set_rtt back");
    mock.push_request_errors(0, &[6, MOCK_TRANSPORT_ERROR])
        .expect("push_request_errors");
    mock.clear_request_errors(0).expect("clear_request_errors");
    mock.set_coordinator(CoordinatorKind::Group, &unique_name("g"), 2)
        .expect("set_coordinator");
    mock.set_coordinator(CoordinatorKind::Transaction, "txn-1", 1)
        .expect("txn coordinator");
    mock.set_topic_error(&topic, 0).expect("set_topic_error");
    mock.delete_topic(&topic).expect("delete_topic");
}

#[test]
fn broker_error_stack_counts_down() {
    let mock = shared(PeerKind::Mock);
    // ApiKey 42 (DeleteGroups) is never sent by anything here.
    mock.push_broker_request_errors(1, 42, &[(6, 0), (0, 10)])
        .expect("push");
    assert_eq!(mock.broker_error_count(1, 42).expect("count"), 2);
    assert_eq!(mock.broker_error_count(2, 42).expect("count"), 0);
}

#[test]
fn err_replies_are_errors() {
    let mock = shared(PeerKind::Mock);
    match mock.broker_down(9) {
        Err(TestkitError::MockReply { command, reply }) => {
            assert_eq!(command, "broker_down 9");
            assert!(reply.starts_with("err "), "{reply}");
        }
        other => panic!("broker_down 9 on a 3-broker mock: {other:?}"),
    }
    assert!(mock.mock_command("no_such_command").is_err());
    assert!(matches!(
        mock.create_topic("has space", 1, 1),
        Err(TestkitError::BadArgument { .. })
    ));
    // The protocol is still in step after errors.
    mock.ping().expect("ping after errors");
    assert!(mock
        .mock_command("bootstraps")
        .expect("bootstraps")
        .contains("127.0.0.1:"));
}

/// What the mock does on broker_down (librdkafka 2.16): open connections are
/// closed at once and the port refuses new ones; broker_up reopens the same
/// port. Uses a mock of its own: other tests here share the shared one.
#[test]
fn broker_down_closes_and_refuses_then_up_reopens() {
    let mock = Peer::start_mock(MockOptions::default()).expect("mock peer");
    let addrs = mock.bootstrap_addrs();
    let down = &addrs[1]; // broker id 2
    let mut held = connect(down).expect("connect before broker_down");
    mock.broker_down(2).expect("broker_down");

    let t0 = Instant::now();
    let mut buf = [0u8; 16];
    match held.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("read {n} bytes from a down broker"),
        Err(e) => assert!(
            matches!(e.kind(), std::io::ErrorKind::ConnectionReset),
            "held connection: {e}"
        ),
    }
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "close took {:?}",
        t0.elapsed()
    );

    let err = connect(down).expect_err("connect to a down broker");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    // The other brokers are unaffected.
    api_versions_v0(&addrs[0]).expect("broker 1 while 2 is down");

    mock.broker_up(2).expect("broker_up");
    api_versions_v0(down).expect("broker 2 after broker_up");
}

#[test]
fn concurrent_commands_stay_paired() {
    let mock = shared(PeerKind::Mock);
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                for i in 0..25 {
                    let topic = unique_name(&format!("c{t}"));
                    mock.create_topic(&topic, 1, 1).expect("create_topic");
                    assert_eq!(mock.broker_error_count(3, 43).expect("count"), 0);
                    if i % 5 == 0 {
                        assert!(mock.broker_down(99).is_err());
                    }
                }
            });
        }
    });
}

#[test]
fn killed_mock_reports_gone() {
    let mock = Peer::start_mock(MockOptions {
        brokers: 1,
        rebalance_delay_ms: Some(0),
    })
    .expect("mock peer");
    assert_eq!(mock.bootstrap_addrs().len(), 1);
    mock.kill().expect("kill");
    assert_eq!(mock.pid(), None);
    assert!(matches!(mock.ping(), Err(TestkitError::MockGone { .. })));
}
