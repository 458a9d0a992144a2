//! The compression codecs of Kafka record data, framed as Kafka frames them.
//!
//! A codec's id sits in bits 0-2 of a batch's (or legacy wrapper message's)
//! attributes. Each codec is behind a cargo feature of the same name (all on
//! by default); data compressed with a codec that is compiled out fails to
//! decode with a typed error instead of failing the build.
//!
//! Decompression always takes a byte limit: a few kilobytes of hostile
//! gzip can expand to gigabytes, so output is produced incrementally and
//! decoding stops with [`DecodeErrorKind::DecompressionLimitExceeded`] as
//! soon as it would pass the limit.

use std::fmt;
#[cfg(any(feature = "gzip", feature = "zstd", feature = "lz4"))]
use std::io::Read;

use bytes::{Bytes, BytesMut};

use super::error::RecordEncodeError;
use crate::protocol::{DecodeError, DecodeErrorKind};

/// The default cap on the decompressed size of one batch: 64 MiB, well above
/// Kafka's default `max.message.bytes` (1 MiB) and `fetch.max.bytes` (50 MiB).
pub const DEFAULT_DECOMPRESSION_LIMIT: usize = 64 * 1024 * 1024;

/// Mask of the codec bits in batch and message attributes.
const CODEC_MASK: i16 = 0x07;

/// A compression codec, as Kafka numbers them in record attributes and
/// names them in `compression.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (id 0).
    #[default]
    None,
    /// gzip (id 1).
    Gzip,
    /// Snappy in the xerial framing Kafka's Java client writes (id 2).
    Snappy,
    /// LZ4 frame format; since Kafka 0.8.2.
    Lz4,
    /// Zstandard; only in RecordBatch v2, since Kafka 2.1 (KIP-110).
    Zstd,
}

impl Compression {
    /// Every codec, in id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec's id in attribute bits 0-2.
    pub const fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec with this id; `None` for ids Kafka has not assigned.
    pub const fn from_id(id: u8) -> Option<Compression> {
        match id {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The codec named by bits 0-2 of a batch's or message's attributes.
    pub fn from_attributes(attributes: i16) -> Result<Compression, DecodeError> {
        Compression::from_id((attributes & CODEC_MASK) as u8).ok_or_else(|| {
            DecodeErrorKind::InvalidValue("unknown compression codec in attributes").into()
        })
    }

    /// The name Kafka's `compression.type` setting uses.
    pub const fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// Whether this build can compress and decompress with the codec.
    pub const fn is_available(self) -> bool {
        match self {
            Compression::None => true,
            Compression::Gzip => cfg!(feature = "gzip"),
            Compression::Snappy => cfg!(feature = "snappy"),
            Compression::Lz4 => cfg!(feature = "lz4"),
            Compression::Zstd => cfg!(feature = "zstd"),
        }
    }

    /// Appends `input`, compressed and framed as Kafka frames it for a
    /// message of format `magic`, to `out`. `Compression::None` copies.
    pub fn compress(
        self,
        input: &[u8],
        magic: i8,
        out: &mut BytesMut,
    ) -> Result<(), RecordEncodeError> {
        if self == Compression::Zstd && magic < 2 {
            return Err(RecordEncodeError::CodecNeedsNewerMagic { codec: self, magic });
        }
        match self {
            Compression::None => {
                out.extend_from_slice(input);
                Ok(())
            }
            Compression::Gzip => gzip::compress(input, out),
            Compression::Snappy => snappy::compress(input, out),
            Compression::Lz4 => lz4::compress(input, magic, out),
            Compression::Zstd => zstd::compress(input, out),
        }
    }

    /// Decompresses the records section of a batch (or the value of a legacy
    /// wrapper message) of format `magic`, producing at most `limit` bytes.
    pub fn decompress(self, input: &[u8], magic: i8, limit: usize) -> Result<Bytes, DecodeError> {
        if self == Compression::Zstd && magic < 2 {
            // Java refuses this too: zstd exists only in message format v2.
            return Err(DecodeErrorKind::InvalidValue(
                "zstd compression in a magic 0 or 1 message",
            )
            .into());
        }
        let decompressed = match self {
            Compression::None => {
                if input.len() > limit {
                    return Err(limit_exceeded(self, limit));
                }
                input.to_vec()
            }
            Compression::Gzip => gzip::decompress(input, limit)?,
            Compression::Snappy => snappy::decompress(input, limit)?,
            Compression::Lz4 => lz4::decompress(input, magic, limit)?,
            Compression::Zstd => zstd::decompress(input, limit)?,
        };
        Ok(Bytes::from(decompressed))
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads `decoder` to its end into a new buffer, failing once the output
/// passes `limit`. `size_hint` (the compressed size) sizes the first
/// allocation; the buffer then grows only as real output arrives.
#[cfg(any(feature = "gzip", feature = "zstd", feature = "lz4"))]
fn read_bounded(
    decoder: impl Read,
    codec: Compression,
    limit: usize,
    size_hint: usize,
) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(size_hint.saturating_mul(2).min(limit));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    decoder
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|error| failed(codec, &error))?;
    if out.len() > limit {
        return Err(limit_exceeded(codec, limit));
    }
    Ok(out)
}

#[cold]
fn limit_exceeded(codec: Compression, limit: usize) -> DecodeError {
    DecodeErrorKind::DecompressionLimitExceeded {
        codec: codec.name(),
        limit,
    }
    .into()
}

#[cold]
#[cfg_attr(
    not(any(feature = "gzip", feature = "zstd", feature = "lz4")),
    allow(dead_code)
)]
fn failed(codec: Compression, reason: &dyn fmt::Display) -> DecodeError {
    DecodeErrorKind::Decompression {
        codec: codec.name(),
        reason: reason.to_string(),
    }
    .into()
}

/// Data in a codec this build left out. A codec's cargo feature has the
/// codec's name, so `name()` names the feature too.
#[cold]
#[cfg_attr(
    all(
        feature = "gzip",
        feature = "snappy",
        feature = "lz4",
        feature = "zstd"
    ),
    allow(dead_code)
)]
fn not_compiled_decode(codec: Compression) -> DecodeError {
    DecodeErrorKind::Decompression {
        codec: codec.name(),
        reason: format!("not compiled in (kafkite cargo feature `{}`)", codec.name()),
    }
    .into()
}

#[cold]
#[cfg_attr(
    all(
        feature = "gzip",
        feature = "snappy",
        feature = "lz4",
        feature = "zstd"
    ),
    allow(dead_code)
)]
fn not_compiled_encode(codec: Compression) -> RecordEncodeError {
    RecordEncodeError::CodecNotCompiled {
        codec,
        feature: codec.name(),
    }
}

#[cfg_attr(
    not(any(feature = "gzip", feature = "zstd", feature = "lz4")),
    allow(dead_code)
)]
fn compress_failed(codec: Compression, reason: &dyn fmt::Display) -> RecordEncodeError {
    RecordEncodeError::CompressionFailed {
        codec,
        reason: reason.to_string(),
    }
}

#[cfg(feature = "gzip")]
mod gzip {
    use std::io::Write;

    use bytes::{BufMut, BytesMut};

    use super::*;

    /// One gzip member at the default level, like Java's `GZIPOutputStream`.
    pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> Result<(), RecordEncodeError> {
        let mut encoder =
            flate2::write::GzEncoder::new(out.writer(), flate2::Compression::default());
        encoder
            .write_all(input)
            .and_then(|()| encoder.try_finish())
            .map_err(|error| compress_failed(Compression::Gzip, &error))
    }

    /// Reads every gzip member, as Java's `GZIPInputStream` does.
    pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
        let decoder = flate2::bufread::MultiGzDecoder::new(input);
        read_bounded(decoder, Compression::Gzip, limit, input.len())
    }
}

#[cfg(not(feature = "gzip"))]
mod gzip {
    use super::*;

    pub(super) fn compress(_: &[u8], _: &mut BytesMut) -> Result<(), RecordEncodeError> {
        Err(not_compiled_encode(Compression::Gzip))
    }

    pub(super) fn decompress(_: &[u8], _: usize) -> Result<Vec<u8>, DecodeError> {
        Err(not_compiled_decode(Compression::Gzip))
    }
}

#[cfg(feature = "snappy")]
mod snappy {
    use super::super::xerial;
    use super::*;

    pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> Result<(), RecordEncodeError> {
        xerial::compress(input, out).map_err(|error| compress_failed(Compression::Snappy, &error))
    }

    pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
        xerial::decompress(input, limit)
    }
}

#[cfg(not(feature = "snappy"))]
mod snappy {
    use super::*;

    pub(super) fn compress(_: &[u8], _: &mut BytesMut) -> Result<(), RecordEncodeError> {
        Err(not_compiled_encode(Compression::Snappy))
    }

    pub(super) fn decompress(_: &[u8], _: usize) -> Result<Vec<u8>, DecodeError> {
        Err(not_compiled_decode(Compression::Snappy))
    }
}

#[cfg(feature = "lz4")]
mod lz4 {
    use super::super::lz4_kafka;
    use super::*;

    pub(super) fn compress(
        input: &[u8],
        magic: i8,
        out: &mut BytesMut,
    ) -> Result<(), RecordEncodeError> {
        lz4_kafka::compress(input, magic, out)
            .map_err(|error| compress_failed(Compression::Lz4, &error))
    }

    pub(super) fn decompress(
        input: &[u8],
        magic: i8,
        limit: usize,
    ) -> Result<Vec<u8>, DecodeError> {
        read_bounded(
            lz4_kafka::decoder(input, magic),
            Compression::Lz4,
            limit,
            input.len(),
        )
    }
}

#[cfg(not(feature = "lz4"))]
mod lz4 {
    use super::*;

    pub(super) fn compress(_: &[u8], _: i8, _: &mut BytesMut) -> Result<(), RecordEncodeError> {
        Err(not_compiled_encode(Compression::Lz4))
    }

    pub(super) fn decompress(_: &[u8], _: i8, _: usize) -> Result<Vec<u8>, DecodeError> {
        Err(not_compiled_decode(Compression::Lz4))
    }
}

#[cfg(feature = "zstd")]
mod zstd {
    use std::cell::RefCell;

    use ::zstd::zstd_safe::{get_error_name, CCtx, CParameter};
    use bytes::BufMut;

    use super::*;

    /// Level 3, zstd's and Kafka's default (`compression.zstd.level`).
    const LEVEL: i32 = 3;

    thread_local! {
        /// One compression context per thread, kept between batches: making
        /// one and zeroing its tables costs about a tenth of compressing a
        /// 100 KiB batch.
        static CONTEXT: RefCell<Option<CCtx<'static>>> = const { RefCell::new(None) };
    }

    pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> Result<(), RecordEncodeError> {
        let fail = |error: std::io::Error| compress_failed(Compression::Zstd, &error);
        CONTEXT.with(|cell| {
            // Taken out while in use, so a re-entrant call cannot borrow it
            // twice; it makes a context of its own instead.
            let mut context = match cell.borrow_mut().take() {
                Some(context) => context,
                None => {
                    let mut context = CCtx::create();
                    context
                        .set_parameter(CParameter::CompressionLevel(LEVEL))
                        .map_err(|code| fail(std::io::Error::other(get_error_name(code))))?;
                    context
                }
            };
            // `with_context` resets the session: nothing from an earlier,
            // failed use carries over.
            let mut encoder =
                ::zstd::stream::write::Encoder::with_context(out.writer(), &mut context);
            let result = std::io::Write::write_all(&mut encoder, input)
                .and_then(|()| encoder.finish().map(drop));
            *cell.borrow_mut() = Some(context);
            result.map_err(fail)
        })
    }

    /// The largest window a frame may ask for, as a power of two: 8 MiB,
    /// enough for every compression level without long-distance matching,
    /// or the limit if that is larger, up to zstd's own default of 128 MiB.
    /// A frame header alone can make the decoder allocate its window, so
    /// a few hostile bytes could otherwise cost 128 MiB.
    fn window_log_max(limit: usize) -> u32 {
        let limit_log = usize::BITS - limit.saturating_sub(1).leading_zeros();
        limit_log.clamp(23, 27)
    }

    /// Reads every frame, as Java's `ZstdInputStream` does.
    pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
        let fail = |error: std::io::Error| failed(Compression::Zstd, &error);
        let mut decoder = ::zstd::stream::read::Decoder::with_buffer(input).map_err(fail)?;
        decoder
            .window_log_max(window_log_max(limit))
            .map_err(fail)?;
        read_bounded(decoder, Compression::Zstd, limit, input.len())
    }

    #[cfg(test)]
    #[test]
    fn a_reused_context_writes_what_a_fresh_encoder_writes() {
        let inputs: [&[u8]; 3] = [b"first batch, first batch", b"", &[7u8; 5_000]];
        for input in inputs.into_iter().cycle().take(6) {
            let mut reused = BytesMut::new();
            compress(input, &mut reused).unwrap();
            // What this module wrote before it kept a context.
            let mut fresh = ::zstd::stream::write::Encoder::new(Vec::new(), LEVEL).unwrap();
            std::io::Write::write_all(&mut fresh, input).unwrap();
            let fresh = fresh.finish().unwrap();
            assert_eq!(&reused[..], &fresh[..]);
            assert_eq!(decompress(&reused, 1 << 20).unwrap(), input);
        }
    }

    #[cfg(test)]
    #[test]
    fn window_log_max_follows_the_limit_within_bounds() {
        assert_eq!(window_log_max(0), 23);
        assert_eq!(window_log_max(1 << 20), 23);
        assert_eq!(window_log_max(super::DEFAULT_DECOMPRESSION_LIMIT), 26);
        assert_eq!(window_log_max((1 << 26) + 1), 27);
        assert_eq!(window_log_max(usize::MAX), 27);
    }
}

#[cfg(not(feature = "zstd"))]
mod zstd {
    use super::*;

    pub(super) fn compress(_: &[u8], _: &mut BytesMut) -> Result<(), RecordEncodeError> {
        Err(not_compiled_encode(Compression::Zstd))
    }

    pub(super) fn decompress(_: &[u8], _: usize) -> Result<Vec<u8>, DecodeError> {
        Err(not_compiled_decode(Compression::Zstd))
    }
}

#[cfg(all(
    test,
    feature = "gzip",
    feature = "snappy",
    feature = "lz4",
    feature = "zstd"
))]
mod tests {
    use super::*;

    fn compressible(len: usize) -> Vec<u8> {
        (0..len).map(|i| b"kafkite "[i % 8]).collect()
    }

    #[test]
    fn every_codec_round_trips_for_every_magic_it_supports() {
        for codec in Compression::ALL {
            for magic in 0..=2i8 {
                if codec == Compression::Zstd && magic < 2 {
                    continue;
                }
                for input in [Vec::new(), b"x".to_vec(), compressible(200_000)] {
                    let mut out = BytesMut::new();
                    codec.compress(&input, magic, &mut out).unwrap();
                    let back = codec.decompress(&out, magic, usize::MAX).unwrap();
                    assert_eq!(back, input, "{codec} magic {magic}");
                }
            }
        }
    }

    #[test]
    fn compressing_appends_after_existing_bytes() {
        for codec in Compression::ALL {
            let mut out = BytesMut::from(&b"prefix"[..]);
            codec.compress(b"payload payload", 2, &mut out).unwrap();
            assert_eq!(&out[..6], b"prefix");
            let back = codec.decompress(&out[6..], 2, 1024).unwrap();
            assert_eq!(&back[..], b"payload payload");
        }
    }

    #[test]
    fn ids_and_attributes_map_both_ways() {
        for codec in Compression::ALL {
            assert_eq!(Compression::from_id(codec.id()), Some(codec));
            let attributes = i16::from(codec.id()) | 0x0030;
            assert_eq!(Compression::from_attributes(attributes).unwrap(), codec);
        }
        for id in 5..=7 {
            assert!(Compression::from_attributes(id).is_err());
        }
    }

    #[test]
    fn decompression_stops_at_the_limit() {
        let input = compressible(1 << 20);
        for codec in Compression::ALL {
            let mut out = BytesMut::new();
            codec.compress(&input, 2, &mut out).unwrap();
            let err = codec.decompress(&out, 2, (1 << 20) - 1).unwrap_err();
            assert_eq!(
                err.kind(),
                &DecodeErrorKind::DecompressionLimitExceeded {
                    codec: codec.name(),
                    limit: (1 << 20) - 1
                },
                "{codec}"
            );
            assert_eq!(codec.decompress(&out, 2, 1 << 20).unwrap().len(), 1 << 20);
        }
    }

    #[test]
    fn a_gzip_bomb_is_refused_without_inflating_it() {
        // 64 MiB of zeros compresses to a few hundred KiB; the limit stops the
        // decoder after 1 MiB of output.
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            std::io::Write::write_all(&mut encoder, &zeros).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        let err = Compression::Gzip.decompress(&bomb, 2, 1 << 20).unwrap_err();
        assert!(matches!(
            err.kind(),
            DecodeErrorKind::DecompressionLimitExceeded { .. }
        ));
    }

    #[test]
    fn garbage_is_a_decompression_error_for_every_codec() {
        let garbage = b"\x00\x01 this is not compressed data \xff\xfe";
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let err = codec.decompress(garbage, 2, 1 << 20).unwrap_err();
            assert!(
                matches!(err.kind(), DecodeErrorKind::Decompression { .. }),
                "{codec}: {err}"
            );
        }
    }

    #[test]
    fn zstd_is_refused_in_legacy_messages() {
        let mut out = BytesMut::new();
        assert_eq!(
            Compression::Zstd.compress(b"x", 1, &mut out),
            Err(RecordEncodeError::CodecNeedsNewerMagic {
                codec: Compression::Zstd,
                magic: 1
            })
        );
        assert!(Compression::Zstd.decompress(b"x", 0, 10).is_err());
    }

    #[test]
    fn lz4_magic_0_uses_the_kafka_0_8_header_checksum() {
        let mut v0 = BytesMut::new();
        Compression::Lz4
            .compress(b"same input", 0, &mut v0)
            .unwrap();
        let mut v1 = BytesMut::new();
        Compression::Lz4
            .compress(b"same input", 1, &mut v1)
            .unwrap();
        assert_ne!(v0[6], v1[6]);
        assert_eq!(v0[7..], v1[7..]);
        assert_eq!(
            &Compression::Lz4.decompress(&v0, 0, 100).unwrap()[..],
            b"same input"
        );
        assert_eq!(
            &Compression::Lz4.decompress(&v1, 0, 100).unwrap()[..],
            b"same input"
        );
        assert!(Compression::Lz4.decompress(&v0, 1, 100).is_err());
    }
}
