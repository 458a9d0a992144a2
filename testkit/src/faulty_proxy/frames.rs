//! [`FrameTracker`]: where a forwarded byte stream is relative to Kafka's
//! framing, so that a cut can be reported as mid-frame or not, and frames
//! can be counted, without parsing what they carry.
//!
//! Both directions of a plaintext Kafka connection are frames of a 4-byte
//! big-endian size followed by that many bytes: requests, responses, and
//! the raw SASL tokens of the v0 handshake alike. A TLS stream is not
//! framed that way; its first bytes read as a size no Kafka frame has, and
//! the tracker gives up on it (see [`FrameTracker::is_framed`]).

/// The largest frame size taken as Kafka framing. Kafka's own
/// `socket.request.max.bytes` default is 100 MiB and responses are capped
/// by the client's fetch sizes; a TLS record header (0x16 0x03 ...) reads
/// as ~370 MB.
const MAX_FRAME: u64 = 256 * 1024 * 1024;

/// Position in a stream of size-prefixed frames.
#[derive(Debug, Default)]
pub(crate) struct FrameTracker {
    /// The size prefix collected so far.
    header: [u8; 4],
    have: usize,
    /// Bytes of the current frame's body still to come.
    left: u64,
    /// The stream stopped looking like Kafka framing.
    opaque: bool,
}

impl FrameTracker {
    /// Moves past `bytes`; returns how many frames they completed.
    pub(crate) fn advance(&mut self, mut bytes: &[u8]) -> u64 {
        let mut completed = 0;
        while !bytes.is_empty() && !self.opaque {
            if self.left > 0 {
                let n = usize::try_from(self.left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                bytes = &bytes[n..];
                self.left -= n as u64;
                if self.left == 0 {
                    completed += 1;
                }
                continue;
            }
            let n = (4 - self.have).min(bytes.len());
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have < 4 {
                continue;
            }
            self.have = 0;
            match u64::try_from(i32::from_be_bytes(self.header)) {
                Ok(0) => completed += 1,
                Ok(size) if size <= MAX_FRAME => self.left = size,
                _ => self.opaque = true,
            }
        }
        completed
    }

    /// True between two frames (nothing of the next one seen yet).
    pub(crate) fn at_boundary(&self) -> bool {
        !self.opaque && self.have == 0 && self.left == 0
    }

    /// False once the stream turned out not to be size-prefixed frames.
    pub(crate) fn is_framed(&self) -> bool {
        !self.opaque
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as i32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn frames_are_counted_and_boundaries_found_however_cut() {
        let mut stream = frame(&[1; 10]);
        stream.extend(frame(&[]));
        stream.extend(frame(&[2; 300]));
        let boundaries = [0, 14, 18, stream.len()];
        for chunk in [1, 3, 4, 5, 17, 1000] {
            let mut t = FrameTracker::default();
            let mut total = 0;
            let mut at = 0;
            for piece in stream.chunks(chunk) {
                total += t.advance(piece);
                at += piece.len();
                assert_eq!(
                    t.at_boundary(),
                    boundaries.contains(&at),
                    "chunk {chunk}, at {at}"
                );
            }
            assert_eq!(total, 3, "chunk {chunk}");
        }
    }

    #[test]
    fn inside_a_size_prefix_is_mid_frame() {
        let mut t = FrameTracker::default();
        t.advance(&[0, 0]);
        assert!(!t.at_boundary());
    }

    #[test]
    fn tls_and_negative_sizes_are_not_framing() {
        let mut tls = FrameTracker::default();
        tls.advance(&[0x16, 0x03, 0x01, 0x02, 0x00]);
        assert!(!tls.is_framed() && !tls.at_boundary());
        let mut negative = FrameTracker::default();
        assert_eq!(negative.advance(&(-1i32).to_be_bytes()), 0);
        assert!(!negative.is_framed());
    }
}
