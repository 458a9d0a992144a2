//! Snappy in the framing Kafka's Java clients use.
//!
//! Java compresses with xerial's `SnappyOutputStream`: a 16-byte header
//! (`\x82SNAPPY\0`, then a version and a compatible-version INT32) followed
//! by blocks, each an INT32 length and a raw snappy block of at most 32 KiB
//! of input. It reads with `SnappyInputStream`, which falls back to one raw
//! snappy block when the header is missing, so other clients that write raw
//! snappy (librdkafka can) are readable too. We do the same in both
//! directions. The version fields are not checked on read: some producers
//! (redpanda, kafka-python issue 2414) write them little-endian.

use bytes::{BufMut, BytesMut};

use crate::protocol::{DecodeError, DecodeErrorKind};

const MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const HEADER_LEN: usize = 16;
/// xerial's `SnappyOutputStream` default block size.
const BLOCK_SIZE: usize = 32 * 1024;
const CODEC: &str = "snappy";

/// Appends `input` to `out` as an xerial stream.
pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> Result<(), snap::Error> {
    out.put_slice(&MAGIC);
    out.put_i32(1); // version
    out.put_i32(1); // minimum compatible version
    let mut encoder = snap::raw::Encoder::new();
    for block in input.chunks(BLOCK_SIZE) {
        // Compress straight into the output, after room for the length.
        let start = out.len();
        out.resize(start + 4 + snap::raw::max_compress_len(block.len()), 0);
        let written = encoder.compress(block, &mut out[start + 4..])?;
        out.truncate(start + 4 + written);
        // A block of at most 32 KiB compresses to well under 2 GiB.
        out[start..start + 4].copy_from_slice(&(written as u32).to_be_bytes());
    }
    Ok(())
}

/// Decompresses an xerial stream or a raw snappy block, refusing to produce
/// more than `limit` bytes. Each block states its decompressed length up
/// front, so the limit is checked before anything is allocated for it.
pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    if input.len() >= HEADER_LEN && input[..MAGIC.len()] == MAGIC {
        let mut rest = &input[HEADER_LEN..];
        while !rest.is_empty() {
            let Some((length, after)) = rest.split_first_chunk::<4>() else {
                return Err(failed("truncated xerial block length"));
            };
            let length = i32::from_be_bytes(*length);
            let block = usize::try_from(length)
                .ok()
                .and_then(|length| after.get(..length))
                .ok_or_else(|| failed("xerial block length exceeds the input"))?;
            decompress_block(block, limit, &mut out)?;
            rest = &after[block.len()..];
        }
    } else {
        decompress_block(input, limit, &mut out)?;
    }
    Ok(out)
}

/// No snappy element expands more than 64 bytes from 3 (a two-byte-offset
/// copy), so a block claiming more than this many times its size is lying.
const MAX_EXPANSION: usize = 22;

fn decompress_block(block: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let length = snap::raw::decompress_len(block).map_err(snap_failed)?;
    if length > block.len().saturating_mul(MAX_EXPANSION) {
        // Refused before allocating: a 5-byte block can claim 4 GiB.
        return Err(failed("block claims more data than it can hold"));
    }
    let start = out.len();
    if length > limit.saturating_sub(start) {
        return Err(DecodeErrorKind::DecompressionLimitExceeded {
            codec: CODEC,
            limit,
        }
        .into());
    }
    out.resize(start + length, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(snap_failed)?;
    out.truncate(start + written);
    Ok(())
}

#[cold]
fn snap_failed(error: snap::Error) -> DecodeError {
    failed(&error.to_string())
}

#[cold]
fn failed(reason: &str) -> DecodeError {
    DecodeErrorKind::Decompression {
        codec: CODEC,
        reason: reason.to_owned(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xerial_stream_round_trips_across_several_blocks() {
        let input: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut out = BytesMut::new();
        compress(&input, &mut out).unwrap();
        assert_eq!(&out[..8], &MAGIC);
        assert_eq!(decompress(&out, usize::MAX).unwrap(), input);
    }

    #[test]
    fn raw_snappy_block_without_the_xerial_header_is_accepted() {
        let input = b"hello hello hello hello".to_vec();
        let raw = snap::raw::Encoder::new().compress_vec(&input).unwrap();
        assert_eq!(decompress(&raw, 1024).unwrap(), input);
    }

    #[test]
    fn little_endian_version_fields_are_tolerated() {
        let mut out = BytesMut::new();
        compress(b"abc", &mut out).unwrap();
        out[8..12].copy_from_slice(&1i32.to_le_bytes());
        out[12..16].copy_from_slice(&1i32.to_le_bytes());
        assert_eq!(decompress(&out, 1024).unwrap(), b"abc");
    }

    #[test]
    fn limit_is_checked_before_allocating_a_block() {
        let input = vec![0u8; 10_000];
        let mut out = BytesMut::new();
        compress(&input, &mut out).unwrap();
        let err = decompress(&out, 9_999).unwrap_err();
        assert!(matches!(
            err.kind(),
            DecodeErrorKind::DecompressionLimitExceeded { limit: 9_999, .. }
        ));
        assert_eq!(decompress(&out, 10_000).unwrap().len(), 10_000);
    }

    #[test]
    fn the_densest_real_block_is_within_the_expansion_bound() {
        for len in [0, 1, 64, 1_000, 32 * 1024] {
            let zeros = vec![0u8; len];
            let block = snap::raw::Encoder::new().compress_vec(&zeros).unwrap();
            assert!(len <= block.len() * MAX_EXPANSION);
            assert_eq!(decompress(&block, usize::MAX).unwrap(), zeros);
        }
    }

    #[test]
    fn a_block_claiming_more_than_it_can_hold_is_refused_before_allocating() {
        // Varint 2^30, then one literal byte.
        let hostile = [0x80, 0x80, 0x80, 0x80, 0x04, 0x00, b'x'];
        let err = decompress(&hostile, usize::MAX).unwrap_err();
        assert!(matches!(err.kind(), DecodeErrorKind::Decompression { .. }));
    }

    #[test]
    fn truncated_and_oversized_blocks_are_errors() {
        let mut out = BytesMut::new();
        compress(b"some data to compress", &mut out).unwrap();
        for cut in HEADER_LEN + 1..out.len() {
            assert!(decompress(&out[..cut], 1024).is_err(), "cut at {cut}");
        }
        let mut hostile = out[..HEADER_LEN].to_vec();
        hostile.extend_from_slice(&i32::MAX.to_be_bytes());
        hostile.extend_from_slice(b"x");
        assert!(decompress(&hostile, 1024).is_err());
        let mut negative = out[..HEADER_LEN].to_vec();
        negative.extend_from_slice(&(-5i32).to_be_bytes());
        assert!(decompress(&negative, 1024).is_err());
    }
}
