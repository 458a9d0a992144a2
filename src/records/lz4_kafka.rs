//! LZ4 the way Kafka frames it, including the Kafka 0.8/0.9 header bug.
//!
//! Kafka writes the standard LZ4 frame format with independent 64 KiB
//! blocks, no content size and no checksums (`KafkaLZ4BlockOutputStream`).
//! Before KIP-57 (Kafka 0.10) its frame descriptor checksum (the HC byte) was
//! computed over the 4 magic bytes as well as the descriptor, which no
//! standard LZ4 reader accepts. Kafka kept the bug for magic 0 messages:
//! it writes the broken checksum for them and does not check it when reading
//! them. We do the same: [`break_header_checksum`] after compressing magic 0
//! data, and [`corrected_header`] to put a valid checksum in front of the
//! decoder when reading magic 0 data (which accepts both kinds).

use std::io::{self, Read, Write};

use bytes::{BufMut, BytesMut};

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};
use twox_hash::XxHash32;

const FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
/// FLG bit that says an 8-byte content size follows BD.
const FLG_CONTENT_SIZE: u8 = 0x08;
/// FLG bit that says a 4-byte dictionary id follows.
const FLG_DICT_ID: u8 = 0x01;
/// Magic, FLG, BD, content size, dictionary id, HC.
const MAX_HEADER_LEN: usize = 4 + 2 + 8 + 4 + 1;

/// Appends one LZ4 frame of `input` to `out`, laid out as Java's
/// `KafkaLZ4BlockOutputStream` writes it; for magic 0 with its broken
/// header checksum.
pub(super) fn compress(input: &[u8], magic: i8, out: &mut BytesMut) -> io::Result<()> {
    let start = out.len();
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Independent)
        .content_size(None)
        .block_checksums(false)
        .content_checksum(false);
    let mut encoder = FrameEncoder::with_frame_info(info, (&mut *out).writer());
    encoder.write_all(input)?;
    encoder.finish().map_err(io::Error::other)?;
    if magic == 0 {
        break_header_checksum(&mut out[start..]);
    }
    Ok(())
}

/// A reader of the decompressed bytes of `frame`. For magic 0 the header
/// checksum is recomputed first, whatever the writer put there.
pub(super) fn decoder<'a>(frame: &'a [u8], magic: i8) -> FrameDecoder<impl Read + 'a> {
    let (header, header_len) = match corrected_header(frame) {
        Some((header, len)) if magic == 0 => (header, len),
        _ => ([0; MAX_HEADER_LEN], 0),
    };
    FrameDecoder::new(HeaderThenRest {
        header,
        header_pos: 0,
        header_len,
        rest: &frame[header_len..],
    })
}

/// Overwrites the HC byte of a frame with the pre-KIP-57 value: xxHash32 of
/// magic and descriptor, where the standard hashes only the descriptor.
pub(super) fn break_header_checksum(frame: &mut [u8]) {
    if let Some(hc_at) = header_checksum_position(frame) {
        frame[hc_at] = header_checksum(&frame[..hc_at]);
    }
}

/// A copy of the frame's header with a standard HC byte, and its length;
/// `None` when `frame` does not start with a complete LZ4 frame header (the
/// decoder then reports the problem on the original bytes).
pub(super) fn corrected_header(frame: &[u8]) -> Option<([u8; MAX_HEADER_LEN], usize)> {
    let hc_at = header_checksum_position(frame)?;
    let mut header = [0u8; MAX_HEADER_LEN];
    header[..=hc_at].copy_from_slice(&frame[..=hc_at]);
    header[hc_at] = header_checksum(&frame[FRAME_MAGIC.len()..hc_at]);
    Some((header, hc_at + 1))
}

/// Where the HC byte is, from the FLG flags; `None` for a frame too short
/// to hold its header or without LZ4's magic number.
fn header_checksum_position(frame: &[u8]) -> Option<usize> {
    if frame.get(..4)? != FRAME_MAGIC {
        return None;
    }
    let flg = *frame.get(4)?;
    let mut hc_at = 6;
    if flg & FLG_CONTENT_SIZE != 0 {
        hc_at += 8;
    }
    if flg & FLG_DICT_ID != 0 {
        hc_at += 4;
    }
    (hc_at < frame.len()).then_some(hc_at)
}

/// The LZ4 frame format's header checksum: the second byte of xxHash32.
fn header_checksum(bytes: &[u8]) -> u8 {
    (XxHash32::oneshot(0, bytes) >> 8) as u8
}

/// A corrected header followed by the rest of the frame, without copying
/// the frame.
struct HeaderThenRest<'a> {
    header: [u8; MAX_HEADER_LEN],
    header_pos: usize,
    header_len: usize,
    rest: &'a [u8],
}

impl Read for HeaderThenRest<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.header_pos < self.header_len {
            let n = (&self.header[self.header_pos..self.header_len]).read(buf)?;
            self.header_pos += n;
            return Ok(n);
        }
        self.rest.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decompress(frame: &[u8], magic: i8) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decoder(frame, magic).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn frame_header_matches_what_kafka_writes() {
        let mut frame = BytesMut::new();
        compress(b"kafka", 1, &mut frame).unwrap();
        // FLG: version 01, independent blocks, nothing else; BD: 64 KiB.
        assert_eq!(&frame[..6], &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x40]);
        assert_eq!(frame[6], header_checksum(&[0x60, 0x40]));
    }

    #[test]
    fn magic_0_frames_carry_the_broken_checksum_and_read_back() {
        let mut frame = BytesMut::new();
        compress(b"old kafka", 0, &mut frame).unwrap();
        let broken = header_checksum(&[0x04, 0x22, 0x4d, 0x18, 0x60, 0x40]);
        assert_eq!(frame[6], broken);
        assert_ne!(broken, header_checksum(&[0x60, 0x40]));
        assert_eq!(decompress(&frame, 0).unwrap(), b"old kafka");
        // A standard decoder rejects it, as Kafka 0.10+ does for magic 1.
        assert!(decompress(&frame, 1).is_err());
    }

    #[test]
    fn magic_0_reading_also_accepts_a_correct_checksum() {
        let mut frame = BytesMut::new();
        compress(b"fixed client", 1, &mut frame).unwrap();
        assert_eq!(decompress(&frame, 0).unwrap(), b"fixed client");
    }

    #[test]
    fn headers_with_content_size_are_fixed_at_the_right_byte() {
        let mut frame = Vec::new();
        let info = FrameInfo::new().content_size(Some(3));
        let mut encoder = FrameEncoder::with_frame_info(info, &mut frame);
        encoder.write_all(b"abc").unwrap();
        encoder.finish().unwrap();
        assert_eq!(header_checksum_position(&frame), Some(14));
        break_header_checksum(&mut frame);
        assert_eq!(decompress(&frame, 0).unwrap(), b"abc");
    }

    #[test]
    fn short_or_foreign_input_is_left_to_the_decoder() {
        assert_eq!(header_checksum_position(b""), None);
        assert_eq!(header_checksum_position(&FRAME_MAGIC), None);
        assert_eq!(header_checksum_position(b"not lz4 at all"), None);
        assert!(decompress(b"not lz4 at all", 0).is_err());
        assert!(decompress(&[0x04, 0x22, 0x4d, 0x18, 0x60], 0).is_err());
    }
}
