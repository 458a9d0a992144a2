//! [`FrameReader`]: cuts a connection's byte stream into response frames,
//! with a large frame read straight into a buffer of its own.
//!
//! A fetch response is megabytes long, and its records live on as slices of
//! the frame. Reading the socket into a small buffer and appending that to
//! a growing one copies every byte received once more (a tenth of a
//! consumer's CPU at full speed), so a frame too large for the small buffer
//! gets a buffer of its own that reads land in directly, sized for exactly
//! that frame so that no read runs into the next one.
//!
//! A frame's buffer cannot be reused while records cut from it are alive,
//! and a fresh multi-megabyte allocation comes as fresh pages, zero-filled
//! by page faults. So the buffers of earlier large frames are kept (at most
//! [`MAX_SPARES`]) and reused, pages warm and bytes initialized, once the
//! application has let go of every record in them (`Bytes::is_unique`).
//!
//! The reader is IO-free: a driver that frames on its own connection task
//! reads into [`read_space`](FrameReader::read_space), reports the bytes
//! with [`filled`](FrameReader::filled) and hands each
//! [`next_frame`](FrameReader::next_frame) to
//! [`Client::handle_frame`](crate::client::Client::handle_frame). The core
//! frames bytes given to `handle_received` with one too.

use bytes::{Bytes, BytesMut};

use super::spare_buffers::SpareBuffers;

/// Bytes of the small buffer: frames that fit are copied out of it, larger
/// ones get a buffer of their own.
const STAGING: usize = 64 * 1024;

/// The most room made beyond the bytes received, for a frame that says it
/// is larger: a bogus size prefix does not reserve hundreds of megabytes at
/// once.
const AHEAD: usize = 16 << 20;

/// Buffers of earlier large frames kept for reuse: a consumer typically
/// holds the records of one or two responses while the next arrives.
const MAX_SPARES: usize = 3;

/// A response's size prefix was out of bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a response frame of {size} bytes (the limit is {limit})")]
pub struct FrameError {
    /// What the prefix said (a response holds at least its correlation id,
    /// so anything under 4 is an error too).
    pub size: i64,
    /// The largest frame accepted, in bytes.
    pub limit: usize,
}

/// Cuts response frames (`INT32` size, then that many bytes) out of the
/// bytes read from one connection.
#[derive(Debug)]
pub struct FrameReader {
    max_frame: usize,
    /// Small frames and the starts of large ones; `staging[start..end]` is
    /// read and not yet cut. Zeroed once, read into ever after.
    staging: Vec<u8>,
    start: usize,
    end: usize,
    /// The large frame being read, if one is.
    large: Option<LargeFrame>,
    /// Whole buffers of earlier large frames, some still backing frames.
    spares: SpareBuffers,
    /// Set by a bad size prefix: the stream cannot be framed any more.
    failed: bool,
}

/// A frame read into its own buffer.
#[derive(Debug)]
struct LargeFrame {
    /// Initialized (zeroed or reused) bytes; the frame, size prefix
    /// included, is `buf[..total]` once `filled == total`.
    buf: BytesMut,
    filled: usize,
    total: usize,
}

impl FrameReader {
    /// Frames of up to `max_frame` bytes after the size prefix are
    /// accepted.
    pub fn new(max_frame: usize) -> FrameReader {
        FrameReader {
            max_frame,
            staging: Vec::new(),
            start: 0,
            end: 0,
            large: None,
            spares: SpareBuffers::new(MAX_SPARES),
            failed: false,
        }
    }

    /// Where the next read goes; never empty once every complete frame has
    /// been taken with [`next_frame`](Self::next_frame). A large frame's
    /// space ends where the frame does.
    pub fn read_space(&mut self) -> &mut [u8] {
        if let Some(large) = &mut self.large {
            if large.filled == large.buf.len() {
                let len = room_for(large.total, large.filled);
                large.buf.resize(len, 0);
            }
            let end = large.total.min(large.buf.len());
            return &mut large.buf[large.filled..end];
        }
        if self.staging.is_empty() {
            self.staging = vec![0; STAGING];
        }
        if self.start > 0 {
            self.staging.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.staging[self.end..]
    }

    /// `n` bytes were read into [`read_space`](Self::read_space).
    pub fn filled(&mut self, n: usize) {
        match &mut self.large {
            Some(large) => large.filled = (large.filled + n).min(large.buf.len()),
            None => self.end = (self.end + n).min(self.staging.len()),
        }
    }

    /// Appends `data` as if read, cutting complete frames into `frames`
    /// as room runs out (and at the end).
    pub fn push(&mut self, mut data: &[u8], frames: &mut Vec<Bytes>) -> Result<(), FrameError> {
        loop {
            while let Some(frame) = self.next_frame() {
                frames.push(frame?);
            }
            if data.is_empty() || self.failed {
                return Ok(());
            }
            let space = self.read_space();
            let n = space.len().min(data.len());
            space[..n].copy_from_slice(&data[..n]);
            self.filled(n);
            data = &data[n..];
        }
    }

    /// The next complete frame (after its size prefix, so starting with
    /// the correlation id), an error once for a bad size prefix, or `None`
    /// until more is read.
    pub fn next_frame(&mut self) -> Option<Result<Bytes, FrameError>> {
        if self.failed {
            return None;
        }
        if let Some(large) = &self.large {
            if large.filled < large.total {
                return None;
            }
            let large = self.large.take()?;
            let whole = large.buf.freeze();
            let frame = whole.slice(4..large.total);
            self.spares.keep(whole);
            return Some(Ok(frame));
        }
        let available = &self.staging[self.start..self.end];
        let prefix: [u8; 4] = available.get(..4)?.try_into().ok()?;
        // Frames too short for a correlation id are passed on: the client
        // decides (a raw SASL token from a broker before 1.0 may be empty).
        let size = i32::from_be_bytes(prefix);
        if size < 0 || size as usize > self.max_frame {
            self.failed = true;
            return Some(Err(FrameError {
                size: i64::from(size),
                limit: self.max_frame,
            }));
        }
        let total = 4 + size as usize;
        if total <= available.len() {
            let frame = Bytes::copy_from_slice(&available[4..total]);
            self.start += total;
            return Some(Ok(frame));
        }
        if total > STAGING {
            let arrived = available.len();
            let mut buf = self.buffer_for(room_for(total, arrived));
            buf[..arrived].copy_from_slice(&self.staging[self.start..self.end]);
            self.start = 0;
            self.end = 0;
            self.large = Some(LargeFrame {
                buf,
                filled: arrived,
                total,
            });
        }
        None
    }

    /// An initialized buffer of at least `len` bytes: a spare nothing else
    /// holds any more, or a new one.
    fn buffer_for(&mut self, len: usize) -> BytesMut {
        self.spares
            .take(len)
            .unwrap_or_else(|| BytesMut::zeroed(len))
    }

    /// Buffers kept for reuse (for tests).
    #[cfg(test)]
    pub(crate) fn spares(&self) -> usize {
        self.spares.len()
    }

    /// The spare buffers' lengths (for tests).
    #[cfg(test)]
    pub(crate) fn spare_lens(&self) -> Vec<usize> {
        self.spares.lens()
    }
}

/// The room to make for a frame of `total` bytes of which `arrived` are
/// in: all of it, but at most [`AHEAD`] (or, past that, as much again as
/// arrived) beyond what arrived, as the size is only the peer's claim.
fn room_for(total: usize, arrived: usize) -> usize {
    let bound = arrived.saturating_add(AHEAD).max(arrived.saturating_mul(2));
    total.min(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(correlation_id: i32, body: usize) -> Vec<u8> {
        let mut bytes = ((4 + body) as i32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&correlation_id.to_be_bytes());
        bytes.resize(8 + body, correlation_id as u8);
        bytes
    }

    /// Reads `data` into the reader `chunk` bytes at a time, as a driver
    /// would, taking frames after each read.
    fn read_in(reader: &mut FrameReader, data: &[u8], chunk: usize) -> Vec<Bytes> {
        let mut frames = Vec::new();
        let mut data = data;
        while !data.is_empty() {
            let space = reader.read_space();
            assert!(!space.is_empty());
            let n = space.len().min(data.len()).min(chunk);
            space[..n].copy_from_slice(&data[..n]);
            reader.filled(n);
            data = &data[n..];
            while let Some(frame) = reader.next_frame() {
                frames.push(frame.unwrap());
            }
        }
        frames
    }

    #[test]
    fn frames_of_every_size_come_out_whole_whatever_the_reads() {
        let sizes = [
            0,
            1,
            100,
            STAGING - 8,
            STAGING - 4,
            STAGING,
            300_000,
            5,
            2 << 20,
        ];
        let mut stream = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            stream.extend(frame(i as i32, size));
        }
        for chunk in [1, 7, 4096, 65_536, 1 << 20, usize::MAX] {
            let mut reader = FrameReader::new(4 << 20);
            let frames = if chunk == 1 {
                // Byte by byte through `push`.
                let mut frames = Vec::new();
                for byte in &stream {
                    reader
                        .push(std::slice::from_ref(byte), &mut frames)
                        .unwrap();
                }
                frames
            } else {
                read_in(&mut reader, &stream, chunk)
            };
            assert_eq!(frames.len(), sizes.len(), "reads of {chunk}");
            for (i, (frame, &size)) in frames.iter().zip(&sizes).enumerate() {
                assert_eq!(frame.len(), 4 + size, "frame {i}, reads of {chunk}");
                assert_eq!(&frame[..4], &(i as i32).to_be_bytes());
                assert!(frame[4..].iter().all(|&b| b == i as u8));
            }
        }
    }

    /// A large frame's reads land in its own buffer: the read space is the
    /// rest of the frame, and the frame is a slice of where it was read.
    #[test]
    fn a_large_frame_is_read_where_it_stays() {
        let mut reader = FrameReader::new(4 << 20);
        let data = frame(7, 1 << 20);
        let mut frames = Vec::new();
        reader.push(&data[..1000], &mut frames).unwrap();
        assert!(frames.is_empty());
        let space = reader.read_space();
        assert_eq!(
            space.len(),
            data.len() - 1000,
            "no read runs past the frame"
        );
        let space_ptr = space.as_ptr();
        space.copy_from_slice(&data[1000..]);
        reader.filled(data.len() - 1000);
        let frame = reader.next_frame().unwrap().unwrap();
        assert_eq!(frame.as_ptr(), space_ptr.wrapping_sub(1000 - 4));
        assert_eq!(&frame[..], &data[4..]);
    }

    /// A large frame's buffer is reused for a later large frame once the
    /// first frame is dropped, and not while it is alive.
    #[test]
    fn large_frame_buffers_are_reused_once_their_frames_are_dropped() {
        let mut reader = FrameReader::new(4 << 20);
        let first = read_in(&mut reader, &frame(1, 1 << 20), usize::MAX).remove(0);
        let first_ptr = first.as_ptr();
        assert_eq!(reader.spares(), 1);

        let second = read_in(&mut reader, &frame(2, 1 << 20), usize::MAX).remove(0);
        assert_ne!(second.as_ptr(), first_ptr);
        assert_eq!(reader.spares(), 2);

        drop(first);
        // A smaller frame fits the spare too.
        let third = read_in(&mut reader, &frame(3, 1 << 19), 4096).remove(0);
        assert_eq!(third.as_ptr(), first_ptr);
        assert!(third[4..].iter().all(|&b| b == 3));
        assert_eq!(third.len(), 4 + (1 << 19));
        assert!(second[4..].iter().all(|&b| b == 2));
        assert_eq!(reader.spares(), 2);
    }

    #[test]
    fn spares_are_bounded_and_the_larger_kept() {
        let mut reader = FrameReader::new(8 << 20);
        let mut held = Vec::new();
        for (i, size) in [1 << 20, 2 << 20, 3 << 20, 4 << 20, 100_000]
            .into_iter()
            .enumerate()
        {
            held.extend(read_in(&mut reader, &frame(i as i32, size), usize::MAX));
        }
        assert_eq!(reader.spares(), MAX_SPARES);
        let kept = reader.spare_lens();
        assert!(kept.iter().all(|&len| len >= 2 << 20), "{kept:?}");
    }

    #[test]
    fn room_made_at_once_is_bounded_by_what_arrived() {
        let mut reader = FrameReader::new(256 << 20);
        let mut frames = Vec::new();
        reader
            .push(&frame(1, 200 << 20)[..1000], &mut frames)
            .unwrap();
        let space = reader.read_space().len();
        assert_eq!(space, AHEAD);
        // Past that, room grows with what arrived.
        assert_eq!(room_for(200 << 20, 40 << 20), 80 << 20);
        assert_eq!(room_for(3 << 20, 1000), 3 << 20);
    }

    #[test]
    fn oversized_and_negative_size_prefixes_are_errors() {
        for prefix in [[0x7f, 0xff, 0xff, 0xff], [0xff; 4], [0x80, 0, 0, 0]] {
            let mut reader = FrameReader::new(1024);
            let mut frames = Vec::new();
            let error = reader.push(&prefix, &mut frames).unwrap_err();
            assert_eq!(error.size, i64::from(i32::from_be_bytes(prefix)));
            assert_eq!(error.limit, 1024);
            // Nothing more comes out of a stream that lost its framing.
            assert!(reader.push(&frame(1, 10), &mut frames).is_ok());
            assert!(frames.is_empty());
        }
    }

    /// Short frames (an empty raw SASL token) come out whole; what they
    /// mean is the client's to judge.
    #[test]
    fn empty_and_short_frames_are_passed_on() {
        let mut reader = FrameReader::new(1024);
        let mut frames = Vec::new();
        reader
            .push(&[0, 0, 0, 0, 0, 0, 0, 2, 7, 8], &mut frames)
            .unwrap();
        assert_eq!(frames, [Bytes::new(), Bytes::from_static(&[7, 8])]);
    }
}
