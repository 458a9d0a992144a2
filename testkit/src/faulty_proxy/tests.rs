//! The proxy against small servers of its own: what passes, what is cut
//! where, and that held-back data goes on once released.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use super::*;

/// Generous bound on a socket read: a hang guard, not a timing check.
const HANG_GUARD: Duration = Duration::from_secs(20);

/// A server that echoes every connection; returns its address.
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let Ok(mut back) = conn.try_clone() else {
                return;
            };
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut conn, &mut back);
            });
        }
    });
    addr
}

/// A server that reads each connection to its end and reports how many
/// bytes came; returns its address and the reports.
fn sink_server() -> (String, mpsc::Receiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let _ = conn.read_to_end(&mut got);
                let _ = tx.send(got.len());
            });
        }
    });
    (addr, rx)
}

fn client(proxy: &FaultyProxy) -> TcpStream {
    let c = TcpStream::connect(proxy.addr()).expect("connect to the proxy");
    c.set_read_timeout(Some(HANG_GUARD)).expect("read timeout");
    c
}

/// A frame: 4-byte size, then `len` bytes of `fill`.
fn frame(len: usize, fill: u8) -> Vec<u8> {
    let mut f = (len as i32).to_be_bytes().to_vec();
    f.extend(std::iter::repeat_n(fill, len));
    f
}

fn echoed(c: &mut TcpStream, sent: &[u8]) {
    let mut back = vec![0; sent.len()];
    c.read_exact(&mut back).expect("the echo");
    assert_eq!(back, sent);
}

#[test]
fn without_faults_bytes_and_frames_pass_and_are_counted() {
    let proxy = FaultyProxy::start(&echo_server()).expect("proxy");
    let mut c = client(&proxy);
    let mut sent = frame(10, 1);
    sent.extend(frame(0, 0));
    sent.extend(frame(5000, 2));
    c.write_all(&sent).expect("write");
    echoed(&mut c, &sent);
    let stats = proxy.stats();
    assert_eq!(stats.connections, 1);
    for dir in Direction::BOTH {
        let d = stats.direction(dir);
        assert_eq!((d.bytes, d.frames), (sent.len() as u64, 3), "{dir:?}");
    }
    assert_eq!((stats.cuts, stats.cuts_mid_frame), (0, 0));
}

#[test]
fn a_cut_closes_both_sides_mid_frame_after_exactly_its_bytes() {
    let (target, received) = sink_server();
    let proxy = FaultyProxy::start(&target).expect("proxy");
    proxy.cut_after(Direction::ToBroker, 64);
    assert!(proxy.cut_pending(Direction::ToBroker));
    let mut c = client(&proxy);
    // A whole frame of 14 bytes, then 50 of the next one's 1004.
    let mut sent = frame(10, 1);
    sent.extend(frame(1000, 2));
    let _ = c.write_all(&sent);
    let got = received
        .recv_timeout(HANG_GUARD)
        .expect("the broker's side ended");
    assert_eq!(got, 64);
    // The client's side ends too (EOF or a reset, not a hang).
    assert!(matches!(c.read(&mut [0; 1]), Ok(0) | Err(_)));
    let stats = proxy.stats();
    assert_eq!((stats.cuts, stats.cuts_mid_frame), (1, 1));
    assert!(!proxy.cut_pending(Direction::ToBroker));

    // One cut per call: the next connection passes whole.
    let mut again = client(&proxy);
    again.write_all(&frame(2000, 3)).expect("write");
    again.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let got = received
        .recv_timeout(HANG_GUARD)
        .expect("second connection");
    assert_eq!(got, 2004);
    assert_eq!(proxy.stats().connections, 2);
}

#[test]
fn a_cut_between_frames_is_not_counted_mid_frame() {
    let proxy = FaultyProxy::start(&echo_server()).expect("proxy");
    let mut c = client(&proxy);
    let first = frame(6, 1);
    proxy.cut_after(Direction::ToClient, first.len() as u64);
    c.write_all(&first).expect("write");
    echoed(&mut c, &first);
    assert!(matches!(c.read(&mut [0; 1]), Ok(0) | Err(_)));
    let stats = proxy.stats();
    assert_eq!((stats.cuts, stats.cuts_mid_frame), (1, 0));
}

#[test]
fn byte_at_a_time_writes_every_byte_alone() {
    let proxy = FaultyProxy::start(&echo_server()).expect("proxy");
    proxy.byte_at_a_time(Direction::ToBroker, true);
    let mut c = client(&proxy);
    let sent = frame(300, 7);
    c.write_all(&sent).expect("write");
    echoed(&mut c, &sent);
    let to_broker = proxy.stats().to_broker;
    assert_eq!((to_broker.bytes, to_broker.writes), (304, 304));
    assert_eq!(to_broker.frames, 1);

    proxy.byte_at_a_time(Direction::ToBroker, false);
    c.write_all(&sent).expect("write");
    echoed(&mut c, &sent);
    let to_broker = proxy.stats().to_broker;
    assert_eq!(to_broker.bytes, 608);
    assert!(to_broker.writes < 608, "{to_broker:?}");
}

#[test]
fn a_stall_holds_everything_until_resumed_then_delivers_it_in_order() {
    let proxy = FaultyProxy::start(&echo_server()).expect("proxy");
    proxy.stall_until_resumed(Direction::ToBroker);
    let mut c = client(&proxy);
    let sent: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    c.write_all(&sent).expect("write");
    // However long this takes, nothing may pass while stalled.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(proxy.stats().to_broker.bytes, 0);
    proxy.resume(Direction::ToBroker);
    echoed(&mut c, &sent);
}

#[test]
fn a_timed_stall_ends_by_itself() {
    let proxy = FaultyProxy::start(&echo_server()).expect("proxy");
    proxy.stall(Direction::ToClient, Duration::from_millis(300));
    let mut c = client(&proxy);
    let sent = frame(100, 9);
    c.write_all(&sent).expect("write");
    echoed(&mut c, &sent);
}

#[test]
fn bandwidth_is_paced_in_small_writes_and_everything_arrives() {
    let proxy = FaultyProxy::start(&echo_server()).expect("proxy");
    // 20 KB/s: slices of 400 bytes.
    proxy.bandwidth(Direction::ToClient, 20_000);
    let mut c = client(&proxy);
    let sent: Vec<u8> = (0..=255u8).cycle().take(8_000).collect();
    c.write_all(&sent).expect("write");
    echoed(&mut c, &sent);
    let to_client = proxy.stats().to_client;
    assert_eq!(to_client.bytes, 8_000);
    assert!(to_client.writes >= 20, "{to_client:?}");
    proxy.unlimited_bandwidth(Direction::ToClient);
    c.write_all(&sent).expect("write");
    echoed(&mut c, &sent);
}

#[test]
fn disconnect_all_and_drop_close_every_connection() {
    let proxy = FaultyProxy::start(&echo_server()).expect("proxy");
    let mut first = client(&proxy);
    first.write_all(b"x").expect("write");
    echoed(&mut first, b"x");
    // Even a connection held back by a stall.
    proxy.stall_until_resumed(Direction::ToBroker);
    first.write_all(b"y").expect("write");
    proxy.disconnect_all();
    assert!(matches!(first.read(&mut [0; 1]), Ok(0) | Err(_)));

    proxy.clear_faults();
    let mut second = client(&proxy);
    second.write_all(b"z").expect("write");
    echoed(&mut second, b"z");
    let addr = proxy.addr().to_string();
    drop(proxy);
    assert!(matches!(second.read(&mut [0; 1]), Ok(0) | Err(_)));
    assert!(TcpStream::connect(&addr).is_err(), "still listening");
}
