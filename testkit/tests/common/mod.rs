//! Helpers shared by the testkit's own tests.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// TCP connect to `host:port` (5 s limit).
pub fn connect(addr: &str) -> io::Result<TcpStream> {
    let sa: SocketAddr = addr.parse().expect("bootstrap address is an IP:port");
    let s = TcpStream::connect_timeout(&sa, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

/// Connects and makes an ApiVersions v0 round trip: proves a Kafka speaker
/// listens there, not just an open port. Returns the response size.
pub fn api_versions_v0(addr: &str) -> io::Result<usize> {
    let mut s = connect(addr)?;
    let client_id = b"kafkite-testkit";
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes()); // ApiVersions
    body.extend_from_slice(&0i16.to_be_bytes()); // v0
    body.extend_from_slice(&4242i32.to_be_bytes()); // correlation id
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    s.write_all(&frame)?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let len = i32::from_be_bytes(len) as usize;
    let mut resp = vec![0u8; len];
    s.read_exact(&mut resp)?;
    let corr = i32::from_be_bytes([resp[0], resp[1], resp[2], resp[3]]);
    assert_eq!(corr, 4242, "correlation id echoed by {addr}");
    let error_code = i16::from_be_bytes([resp[4], resp[5]]);
    assert_eq!(error_code, 0, "ApiVersions v0 error code from {addr}");
    Ok(len)
}

/// True if `pid` is a live (non-zombie) process.
pub fn pid_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z") | Some("X"))
}

/// Waits up to `secs` for `pid` to be gone.
pub fn wait_gone(pid: u32, secs: u64) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if !pid_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !pid_alive(pid)
}
