//! Driving kafkite's sans-IO core by hand, with no async runtime: blocking
//! `std` sockets polled in turn, and TLS through rustls's own sans-IO
//! connection made from the session's [`TlsConnector`] (the same config
//! kafkite's drivers use). The core logs in with SASL itself; the driver
//! only carries bytes, reports what happened to its sockets, answers
//! OAUTHBEARER token requests, and calls the core back at its deadlines.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use kafkite::client::{Client, ClientConfig, ConnectionId, Event, Io, RequestError, Target};
use kafkite::protocol::messages::MetadataRequest;
use kafkite::protocol::AnyResponse;
use kafkite::security::rustls::{ClientConnection, StreamOwned};
use kafkite::security::{OAuthBearerTokens, SaslConfig, TlsConnector, TlsError};

/// Why [`list_topics`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ByHandError {
    #[error("TLS settings: {0}")]
    TlsSettings(#[from] TlsError),
    #[error("the Metadata request failed: {0}")]
    Request(#[from] RequestError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// A socket, plain or with TLS on it.
trait Stream: Read + Write {}
impl Stream for TcpStream {}
impl Stream for StreamOwned<ClientConnection, TcpStream> {}

/// Asks the cluster for its topics, driving the core on this thread.
pub fn list_topics(config: ClientConfig, limit: Duration) -> Result<Vec<String>, ByHandError> {
    // Certificates and keys are read once, for every connection.
    let tls = config.tls.as_ref().map(TlsConnector::new).transpose()?;
    let sasl = config.sasl.clone();
    let started = Instant::now();
    let mut client = Client::new(config, started);
    // SCRAM's nonces from the OS, not from the (replayable) seed.
    let mut entropy = [0u8; 32];
    if getrandom::getrandom(&mut entropy).is_ok() {
        client.seed_entropy(entropy);
    }
    let request = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    let wanted = client.send(Target::AnyBroker, request, started);
    // Each connection's socket, and the host it reached (for TLS errors).
    let mut sockets: BTreeMap<_, (Box<dyn Stream>, String)> = BTreeMap::new();
    let mut buf = vec![0u8; 64 * 1024];
    while started.elapsed() < limit {
        let now = Instant::now();
        while let Some(io) = client.poll_io() {
            match io {
                Io::Connect { conn, host, port } => match connect(&host, port, tls.as_ref()) {
                    Ok(stream) => {
                        sockets.insert(conn, (stream, host));
                        client.handle_connected(conn, now);
                    }
                    Err(e) => report_failure(&mut client, (conn, &host), &e, now),
                },
                Io::Send { conn, data } => {
                    let written = sockets.get_mut(&conn).map(|(s, _)| s.write_all(&data));
                    if let Some(Err(e)) = written {
                        if let Some((_, host)) = sockets.remove(&conn) {
                            report_failure(&mut client, (conn, &host), &e, now);
                        }
                    }
                }
                Io::Close { conn } => {
                    sockets.remove(&conn);
                }
            }
        }
        while let Some(event) = client.poll_event() {
            match event {
                Event::Response { id, result } if id == wanted => {
                    let body = result?.body;
                    let Some(AnyResponse::Metadata(metadata)) = body else {
                        return Ok(Vec::new());
                    };
                    return Ok(metadata.topics.into_iter().filter_map(|t| t.name).collect());
                }
                Event::OAuthBearerTokenWanted => {
                    // Kafka's unsecured tokens here; a real application
                    // asks its identity provider.
                    if let Some(SaslConfig::OAuthBearer(oauth)) = &sasl {
                        if let OAuthBearerTokens::Unsecured(unsecured) = &oauth.tokens {
                            let wall = SystemTime::now();
                            client.handle_oauthbearer_token(
                                Ok(unsecured.token_at(wall)),
                                now,
                                wall,
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        // Each socket has a short read timeout: read what has come.
        let ids: Vec<_> = sockets.keys().copied().collect();
        for conn in ids {
            let Some((stream, _)) = sockets.get_mut(&conn) else {
                continue;
            };
            match stream.read(&mut buf) {
                Ok(0) => {
                    sockets.remove(&conn);
                    client.handle_disconnected(conn, "closed by the broker", Instant::now());
                }
                Ok(n) => client.handle_received(conn, &buf[..n], Instant::now()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => {
                    if let Some((_, host)) = sockets.remove(&conn) {
                        report_failure(&mut client, (conn, &host), &e, Instant::now());
                    }
                }
            }
        }
        if sockets.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let now = Instant::now();
        if client.poll_timeout().is_some_and(|at| at <= now) {
            client.handle_timeout(now);
        }
    }
    Err(ByHandError::Timeout(limit))
}

/// A TCP connection to `host:port`, with TLS on it if configured: the
/// handshake is done here, blocking, so that the short read timeout the
/// polling loop uses never cuts it.
fn connect(host: &str, port: u16, tls: Option<&TlsConnector>) -> std::io::Result<Box<dyn Stream>> {
    let mut tcp = TcpStream::connect((host, port))?;
    tcp.set_nodelay(true)?;
    let stream: Box<dyn Stream> = match tls {
        None => Box::new(tcp.try_clone()?),
        Some(connector) => {
            let mut session = connector
                .client_connection(host)
                .map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, e))?;
            tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
            while session.is_handshaking() {
                session.complete_io(&mut tcp)?;
            }
            Box::new(StreamOwned::new(session, tcp.try_clone()?))
        }
    };
    tcp.set_read_timeout(Some(Duration::from_millis(5)))?;
    Ok(stream)
}

/// A socket error: a TLS failure is the core's to judge (an untrusted
/// certificate is not a reason to retry), anything else is a disconnect.
fn report_failure(
    client: &mut Client,
    (conn, host): (ConnectionId, &str),
    e: &std::io::Error,
    now: Instant,
) {
    match TlsError::from_io(e, host, false) {
        Some(error) => client.handle_tls_failed(conn, error, now),
        None => client.handle_disconnected(conn, &e.to_string(), now),
    }
}
