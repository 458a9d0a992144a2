//! Each of the four peers starts, speaks Kafka on every bootstrap address,
//! and is gone (process and data dir) once dropped.

mod common;

use common::{api_versions_v0, wait_gone};
use kafkite_testkit::{Peer, PeerKind};

fn start_check_stop(kind: PeerKind) {
    let peer = Peer::start(kind).unwrap_or_else(|e| panic!("{kind} peer: {e}"));
    assert_eq!(peer.kind(), kind);
    let addrs = peer.bootstrap_addrs();
    assert_eq!(addrs.join(","), peer.bootstrap());
    assert_eq!(addrs.len(), if kind == PeerKind::Mock { 3 } else { 1 });
    for addr in &addrs {
        assert!(
            addr.starts_with("127.0.0.1:"),
            "{kind} binds loopback only: {addr}"
        );
        api_versions_v0(addr).unwrap_or_else(|e| panic!("{kind} at {addr}: {e}"));
    }
    let pid = peer.pid().expect("a running peer has a pid");
    let dir = peer.data_dir().to_path_buf();
    assert!(dir.is_dir());
    drop(peer);
    assert!(wait_gone(pid, 5), "{kind} pid {pid} still alive after drop");
    assert!(
        !dir.exists(),
        "{kind} data dir {} left behind",
        dir.display()
    );
    // The pid being gone proves the stop; the freed ports are not checked,
    // since a peer test running beside this one may be handed them.
}

#[test]
fn kafka_starts_and_stops() {
    start_check_stop(PeerKind::Kafka);
}

#[test]
fn tansu_starts_and_stops() {
    start_check_stop(PeerKind::Tansu);
}

#[test]
fn noida_starts_and_stops() {
    start_check_stop(PeerKind::Noida);
}

#[test]
fn mock_starts_and_stops() {
    start_check_stop(PeerKind::Mock);
}

/// kill() crashes the broker; restart() brings it back on the same port.
fn kill_and_restart(kind: PeerKind) {
    let peer = Peer::start(kind).unwrap_or_else(|e| panic!("{kind} peer: {e}"));
    let addr = peer.bootstrap().to_string();
    let pid = peer.pid().expect("pid");
    peer.kill().expect("kill");
    assert_eq!(peer.pid(), None);
    // The process is gone, so its listener is too. (Connecting to the port
    // proves nothing: the other peer tests run in parallel and one may be
    // handed the freed port at once, which made this test flaky.)
    assert!(wait_gone(pid, 5), "{kind} pid {pid} survived kill");
    peer.restart().expect("restart");
    assert_eq!(peer.bootstrap(), addr);
    assert_ne!(peer.pid(), Some(pid));
    api_versions_v0(&addr).unwrap_or_else(|e| panic!("{kind} after restart: {e}"));
    // A restart of a running peer stops it first.
    peer.restart().expect("restart while running");
    api_versions_v0(&addr).unwrap_or_else(|e| panic!("{kind} after 2nd restart: {e}"));
}

#[test]
fn tansu_kill_and_restart() {
    kill_and_restart(PeerKind::Tansu);
}

#[test]
fn noida_kill_and_restart() {
    kill_and_restart(PeerKind::Noida);
}

#[test]
fn mock_cannot_restart() {
    let mock = Peer::start(PeerKind::Mock).expect("mock peer");
    let err = mock.restart().expect_err("mock restart is unsupported");
    assert!(err.to_string().contains("not supported"), "{err}");
    // Real brokers refuse mock commands with a clear error.
    let noida = Peer::start(PeerKind::Noida).expect("noida peer");
    let err = noida.create_topic("t", 1, 1).expect_err("not a mock");
    assert!(
        err.to_string()
            .contains("noida peer: mock control commands"),
        "{err}"
    );
}
