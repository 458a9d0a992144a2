//! One connection to one broker: its negotiation state, the bytes waiting to
//! be written, the frames being reassembled from what arrives, and the
//! requests in flight, matched to responses by correlation id.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};

use super::error::ConnectionError;
use super::io::{ConnectionId, RequestId};
use super::read_buffer::ReadBuffer;
use super::versions::ApiVersionTable;
use crate::protocol::ApiKey;

/// Where a connection is in its life.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ConnState {
    /// TCP connect asked of the driver; gives up at the deadline.
    Connecting { deadline: Instant },
    /// ApiVersions sent at `version` (3, then 0 as the fallback).
    Negotiating { version: i16 },
    /// Versions known; requests flow.
    Ready,
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
    /// The client's own coordinator lookup for a group.
    FindCoordinator { group: String },
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
    read_buf: ReadBuffer,
    next_correlation_id: i32,
    pub closing: bool,
}

/// A complete response frame: correlation id, then the rest of the frame.
pub(crate) struct Frame {
    pub correlation_id: i32,
    /// The frame after the size prefix (header included).
    pub data: Bytes,
}

impl Connection {
    pub fn new(id: ConnectionId, broker: i32, address: String, deadline: Instant) -> Self {
        Connection {
            id,
            broker,
            address,
            state: ConnState::Connecting { deadline },
            versions: ApiVersionTable::new(),
            in_flight: VecDeque::new(),
            outgoing: BytesMut::new(),
            read_buf: ReadBuffer::default(),
            next_correlation_id: 1,
            closing: false,
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

    /// Appends received bytes and splits off every complete frame.
    pub fn receive(
        &mut self,
        data: &[u8],
        max_frame: usize,
    ) -> Result<Vec<Frame>, ConnectionError> {
        self.read_buf.buf.extend_from_slice(data);
        self.split_frames(max_frame)
    }

    /// Splits off every complete frame of the read buffer.
    fn split_frames(&mut self, max_frame: usize) -> Result<Vec<Frame>, ConnectionError> {
        let mut frames = Vec::new();
        loop {
            let buf = &mut self.read_buf.buf;
            if buf.len() < 4 {
                break;
            }
            let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            // A response holds at least its correlation id.
            if size < 4 || size as usize > max_frame {
                return Err(ConnectionError::FrameTooLarge {
                    address: self.address.clone(),
                    size: i64::from(size),
                    limit: max_frame,
                });
            }
            let size = size as usize;
            if buf.len() < 4 + size {
                // Room for the rest of the frame at once: the reads still
                // to come are appended without growing (and copying) the
                // buffer again and again.
                self.read_buf.make_room(4 + size);
                break;
            }
            buf.advance(4);
            let data = buf.split_to(size).freeze();
            let correlation_id = i32::from_be_bytes([data[0], data[1], data[2], data[3]]);
            frames.push(Frame {
                correlation_id,
                data,
            });
        }
        if !frames.is_empty() {
            self.read_buf.frames_cut();
        }
        Ok(frames)
    }

    /// The earliest deadline among the requests in flight or the connect.
    pub fn next_deadline(&self) -> Option<Instant> {
        let connect = match self.state {
            ConnState::Connecting { deadline } => Some(deadline),
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
        Connection::new(ConnectionId(1), 1, "h:1".into(), Instant::now())
    }

    #[test]
    fn frames_split_across_reads_are_reassembled() {
        let mut c = conn();
        let frame = [0, 0, 0, 6, 0, 0, 0, 9, 0xaa, 0xbb];
        assert!(c.receive(&frame[..3], 100).unwrap().is_empty());
        assert!(c.receive(&frame[3..7], 100).unwrap().is_empty());
        let frames = c.receive(&frame[7..], 100).unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].correlation_id, 9);
        assert_eq!(&frames[0].data[4..], &[0xaa, 0xbb]);
    }

    /// A large frame's buffer is reused for the next large frame once the
    /// first frame is dropped, and not while it is alive.
    #[test]
    fn large_frame_buffers_are_reused_once_their_frames_are_dropped() {
        fn frame(correlation_id: i32, body: usize) -> Vec<u8> {
            let mut bytes = ((4 + body) as i32).to_be_bytes().to_vec();
            bytes.extend_from_slice(&correlation_id.to_be_bytes());
            bytes.resize(8 + body, correlation_id as u8);
            bytes
        }
        let max = 4 << 20;
        let mut c = conn();
        let first = frame(1, 1 << 20);
        // The first read holds only the frame's start; the buffer is made
        // for the whole frame.
        assert!(c.receive(&first[..1000], max).unwrap().is_empty());
        let first_frame = c.receive(&first[1000..], max).unwrap().remove(0);
        let first_ptr = first_frame.data.as_ptr();
        assert_eq!(c.read_buf.spares(), 1);

        // While the first frame lives, the second gets a new buffer.
        let second = frame(2, 1 << 20);
        assert!(c.receive(&second[..1000], max).unwrap().is_empty());
        let second_frame = c.receive(&second[1000..], max).unwrap().remove(0);
        assert_ne!(second_frame.data.as_ptr(), first_ptr);
        assert_eq!(c.read_buf.spares(), 2);

        // Once it is dropped, the third reuses its allocation.
        drop(first_frame);
        let third = frame(3, 1 << 20);
        assert!(c.receive(&third[..1000], max).unwrap().is_empty());
        let third_frame = c.receive(&third[1000..], max).unwrap().remove(0);
        assert_eq!(third_frame.data.as_ptr(), first_ptr);
        assert_eq!(third_frame.correlation_id, 3);
        assert!(third_frame.data[4..].iter().all(|&b| b == 3));
        assert_eq!(second_frame.data.len(), 4 + (1 << 20));
        assert!(second_frame.data[4..].iter().all(|&b| b == 2));
    }

    #[test]
    fn oversized_and_negative_frames_are_errors() {
        let mut c = conn();
        assert!(matches!(
            c.receive(&[0x7f, 0xff, 0xff, 0xff], 1024),
            Err(ConnectionError::FrameTooLarge { .. })
        ));
        let mut c = conn();
        assert!(c.receive(&[0xff, 0xff, 0xff, 0xff], 1024).is_err());
    }
}
