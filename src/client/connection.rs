//! One connection to one broker: its negotiation state, the bytes waiting to
//! be written, the frames being reassembled from what arrives, and the
//! requests in flight, matched to responses by correlation id.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::error::ConnectionError;
use super::frame_reader::{FrameError, FrameReader};
use super::io::{ConnectionId, RequestId};
use super::spare_buffers::SpareBuffers;
use super::versions::ApiVersionTable;
use crate::protocol::ApiKey;
use crate::security::sasl::SaslSession;
use crate::security::{AuthError, TlsError};

/// Writes at least this long are made in buffers kept for reuse.
const LARGE_WRITE: usize = 64 * 1024;

/// Buffers of large writes kept per connection: a few requests may be in
/// the driver's hands at once.
const MAX_WRITE_BUFFERS: usize = 4;

/// Where a connection is in its life.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ConnState {
    /// TCP connect asked of the driver; gives up at the deadline.
    Connecting { deadline: Instant },
    /// ApiVersions sent at `version` (3, then 0 as the fallback).
    Negotiating { version: i16 },
    /// Versions known; logging in with SASL (see `auth`). Nothing else
    /// goes out until it is done.
    Authenticating,
    /// Versions known; requests flow.
    Ready,
    /// The SASL session is about to end (KIP-368): no new requests; once
    /// those in flight are answered, the connection authenticates again.
    ReauthPending,
}

/// Who is waiting for a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A user request submitted with `Client::send`.
    User(RequestId),
    /// The client's own Metadata request; `all_topics` as asked.
    Metadata { all_topics: bool },
    /// Version negotiation.
    ApiVersions,
    /// The client's own coordinator lookup for a group or transactional id.
    FindCoordinator {
        key: crate::client::coordinator::CoordinatorKey,
    },
    /// SASL: the mechanism asked for (SaslHandshake).
    SaslHandshake,
    /// SASL: a token in a SaslAuthenticate request.
    SaslAuthenticate,
    /// SASL: a raw token, as brokers before 1.0 take them after
    /// SaslHandshake v0; the answer is a raw token too (no header).
    SaslToken,
    /// A user request whose answer nobody waits for any more
    /// (`Client::abandon`): read and dropped when it comes, and a close
    /// does not wait for it.
    Abandoned,
}

/// A request written to the connection and not yet answered.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub correlation_id: i32,
    pub api_key: ApiKey,
    pub version: i16,
    pub purpose: Purpose,
    pub deadline: Instant,
}

/// One broker connection.
#[derive(Debug)]
pub(crate) struct Connection {
    pub id: ConnectionId,
    /// Node id, or -1 while it is a bootstrap connection.
    pub broker: i32,
    pub address: String,
    pub state: ConnState,
    pub versions: ApiVersionTable,
    pub in_flight: VecDeque<InFlight>,
    /// Encoded requests not yet handed to the driver; coalesced into one
    /// write per poll.
    pub outgoing: BytesMut,
    /// Large writes handed to the driver, for `outgoing` to reuse once
    /// written (see [`SpareBuffers`]).
    written: SpareBuffers,
    /// Frames the bytes given to `receive` (a driver that frames on its
    /// own hands complete frames instead).
    frames: FrameReader,
    next_correlation_id: i32,
    pub closing: bool,
    /// The SASL exchange under way, while `Authenticating`.
    pub auth: Option<ConnAuth>,
    /// When to authenticate again, before the broker's session ends.
    pub reauth_at: Option<Instant>,
}

/// A SASL exchange on a connection.
#[derive(Debug)]
pub(crate) struct ConnAuth {
    pub framing: SaslFraming,
    /// The mechanism's state once started (after the handshake, and for
    /// OAUTHBEARER once a token is at hand).
    pub session: Option<SaslSession>,
    /// Waiting for an OAUTHBEARER token before the first message, until
    /// this deadline (the request timeout: a provider that never answers
    /// fails the login rather than hold the connection forever).
    pub awaiting_token: Option<Instant>,
    /// A re-authentication of a connection already in use.
    pub reauth: bool,
}

/// How SASL tokens travel on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SaslFraming {
    /// SaslHandshake at this version is in flight.
    Handshake(i16),
    /// In SaslAuthenticate requests at this version (brokers since 1.0).
    Authenticate(i16),
    /// As raw, size-prefixed tokens (SaslHandshake v0: brokers 0.10.x).
    Raw,
}

/// A complete response frame: correlation id, then the rest of the frame.
pub(crate) struct Frame {
    pub correlation_id: i32,
    /// The frame after the size prefix (header included).
    pub data: Bytes,
}

impl Frame {
    /// The frame `data` (after its size prefix); `None` when it is too
    /// short to hold a correlation id.
    pub fn parse(data: Bytes) -> Option<Frame> {
        let id: [u8; 4] = data.get(..4)?.try_into().ok()?;
        Some(Frame {
            correlation_id: i32::from_be_bytes(id),
            data,
        })
    }
}

impl Connection {
    /// Frames over `max_frame` bytes are errors.
    pub fn new(
        id: ConnectionId,
        broker: i32,
        address: String,
        deadline: Instant,
        max_frame: usize,
    ) -> Self {
        Connection {
            id,
            broker,
            address,
            state: ConnState::Connecting { deadline },
            versions: ApiVersionTable::new(),
            in_flight: VecDeque::new(),
            outgoing: BytesMut::new(),
            written: SpareBuffers::new(MAX_WRITE_BUFFERS),
            frames: FrameReader::new(max_frame),
            next_correlation_id: 1,
            closing: false,
            auth: None,
            reauth_at: None,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.state == ConnState::Ready && !self.closing
    }

    /// Correlation ids count up per connection from 1: deterministic, and
    /// a response must answer the oldest request in flight (Kafka answers
    /// in order on a connection).
    pub fn take_correlation_id(&mut self) -> i32 {
        let id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1).max(1);
        id
    }

    /// `outgoing`, to encode a request into. When it is empty with little
    /// room, a large write's buffer that the driver has written and
    /// dropped since is taken back first: the request is encoded into warm
    /// memory of the size it needs rather than a new buffer grown (and
    /// copied) as it fills.
    pub fn outgoing_buf(&mut self) -> &mut BytesMut {
        if self.outgoing.is_empty() && self.outgoing.capacity() < LARGE_WRITE {
            if let Some(mut buf) = self.written.take(0) {
                buf.clear();
                self.outgoing = buf;
            }
        }
        &mut self.outgoing
    }

    /// The bytes waiting to be written, as one write for the driver. A
    /// large write's buffer is kept for [`outgoing_buf`](Self::outgoing_buf)
    /// to reuse; a small one leaves `outgoing` the rest of its allocation,
    /// as `split` does.
    pub fn take_outgoing(&mut self) -> Bytes {
        if self.outgoing.len() < LARGE_WRITE {
            return self.outgoing.split().freeze();
        }
        let data = std::mem::take(&mut self.outgoing).freeze();
        self.written.keep(data.clone());
        data
    }

    /// Appends received bytes and splits off every complete frame (each
    /// after its size prefix).
    pub fn receive(&mut self, data: &[u8]) -> Result<Vec<Bytes>, ConnectionError> {
        let mut frames = Vec::new();
        self.frames
            .push(data, &mut frames)
            .map_err(|error| self.bad_frame(error))?;
        Ok(frames)
    }

    /// The error for a frame with a bad size prefix. A prefix that is the
    /// start of a TLS record (an alert or a handshake, version 3.x) means
    /// a TLS listener answered a plaintext client: that is said plainly,
    /// as a settings error, rather than as a 350 MB frame.
    pub fn bad_frame(&self, error: FrameError) -> ConnectionError {
        let tls_record = matches!((error.size >> 16) & 0xffff, 0x1503 | 0x1603);
        if tls_record && error.size > 0 {
            return ConnectionError::Authentication {
                address: self.address.clone(),
                error: AuthError::Tls(TlsError::PlaintextToTlsListener),
            };
        }
        ConnectionError::FrameTooLarge {
            address: self.address.clone(),
            size: error.size,
            limit: error.limit,
        }
    }

    /// Whether the next frame is a raw SASL token rather than a response.
    pub fn expects_raw_token(&self) -> bool {
        self.in_flight
            .front()
            .is_some_and(|r| r.purpose == Purpose::SaslToken)
    }

    /// The earliest deadline among the requests in flight, the connect
    /// and a re-authentication.
    pub fn next_deadline(&self) -> Option<Instant> {
        let connect = match self.state {
            ConnState::Connecting { deadline } => Some(deadline),
            ConnState::Ready => self.reauth_at,
            ConnState::Authenticating => self.auth.as_ref().and_then(|a| a.awaiting_token),
            _ => None,
        };
        let requests = self.in_flight.iter().map(|r| r.deadline).min();
        match (connect, requests) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        Connection::new(ConnectionId(1), 1, "h:1".into(), Instant::now(), 1024)
    }

    #[test]
    fn frames_split_across_reads_are_reassembled() {
        let mut c = conn();
        let frame = [0, 0, 0, 6, 0, 0, 0, 9, 0xaa, 0xbb];
        assert!(c.receive(&frame[..3]).unwrap().is_empty());
        assert!(c.receive(&frame[3..7]).unwrap().is_empty());
        let frames = c.receive(&frame[7..]).unwrap();
        assert_eq!(frames.len(), 1);
        let frame = Frame::parse(frames[0].clone()).unwrap();
        assert_eq!(frame.correlation_id, 9);
        assert_eq!(&frame.data[4..], &[0xaa, 0xbb]);
    }

    /// A large write's buffer is encoded into again once the driver has
    /// dropped what it wrote, and not before.
    #[test]
    fn large_write_buffers_are_reused_once_written() {
        let mut c = conn();
        c.outgoing_buf().extend_from_slice(&[1; LARGE_WRITE]);
        let first = c.take_outgoing();
        assert!(c.outgoing.is_empty());
        c.outgoing_buf().extend_from_slice(&[2; LARGE_WRITE]);
        let second = c.take_outgoing();
        assert_ne!(second.as_ptr(), first.as_ptr());
        let first_ptr = first.as_ptr();
        drop(first);
        c.outgoing_buf().extend_from_slice(&[3; LARGE_WRITE]);
        let third = c.take_outgoing();
        assert_eq!(third.as_ptr(), first_ptr);
        assert!(third.iter().all(|&b| b == 3) && third.len() == LARGE_WRITE);
        assert!(
            second.iter().all(|&b| b == 2),
            "an unwritten buffer is left alone"
        );
        // Small writes are split off as before.
        c.outgoing.extend_from_slice(b"small");
        assert_eq!(&c.take_outgoing()[..], b"small");
        assert!(c.outgoing.is_empty());
    }

    #[test]
    fn oversized_and_negative_frames_are_errors() {
        let mut c = conn();
        assert!(matches!(
            c.receive(&[0x7f, 0xff, 0xff, 0xff]),
            Err(ConnectionError::FrameTooLarge { .. })
        ));
        let mut c = conn();
        assert!(c.receive(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }

    /// A TLS alert (what a TLS listener sends a plaintext client) is
    /// reported as what it is.
    #[test]
    fn a_tls_record_is_a_settings_error() {
        let mut c = conn();
        let alert = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a];
        assert!(matches!(
            c.receive(&alert),
            Err(ConnectionError::Authentication {
                error: AuthError::Tls(TlsError::PlaintextToTlsListener),
                ..
            })
        ));
    }
}
