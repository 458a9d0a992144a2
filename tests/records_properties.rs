//! Property tests of the record formats: whatever kafkite writes it reads
//! back unchanged, for every magic and codec; corruption is a typed error;
//! truncation and garbage never panic.

use bytes::{Bytes, BytesMut};
use kafkite::protocol::DecodeErrorKind;
use kafkite::records::{
    Batch, Compression, LegacyBatch, LegacyMessageSetWriter, Record, RecordBatch,
    RecordBatchWriter, RecordSet, TimestampType,
};
use quickcheck::{quickcheck, Arbitrary, Gen, TestResult};

/// A record header as owned data.
type OwnedHeader = (String, Option<Vec<u8>>);

/// timestamp, key, value, headers.
type Spec = (
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(String, Option<Vec<u8>>)>,
);

/// Batches per generated record set.
const MAX_BATCHES: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Codec(Compression);

impl Arbitrary for Codec {
    fn arbitrary(g: &mut Gen) -> Codec {
        let available: Vec<Compression> = Compression::ALL
            .into_iter()
            .filter(|c| c.is_available())
            .collect();
        Codec(*g.choose(&available).unwrap())
    }
}

/// One batch to write: its magic (0, 1 or 2), codec and records.
#[derive(Debug, Clone)]
struct BatchSpec {
    magic: i8,
    codec: Compression,
    records: Vec<Spec>,
}

impl Arbitrary for BatchSpec {
    fn arbitrary(g: &mut Gen) -> BatchSpec {
        let magic = *g.choose(&[0i8, 1, 2]).unwrap();
        let mut codec = Codec::arbitrary(g).0;
        if magic < 2 && codec == Compression::Zstd {
            codec = Compression::None;
        }
        // At most twelve records, each with a handful of headers: the
        // default generators would nest to millions of bytes, and a batch
        // of twelve exercises everything a batch of a hundred does.
        let count = 1 + usize::arbitrary(g) % 12;
        let records = (0..count).map(|_| arbitrary_spec(g)).collect();
        BatchSpec {
            magic,
            codec,
            records,
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = BatchSpec>> {
        let (magic, codec) = (self.magic, self.codec);
        Box::new(
            self.records
                .shrink()
                .filter(|records| !records.is_empty())
                .map(move |records| BatchSpec {
                    magic,
                    codec,
                    records,
                }),
        )
    }
}

fn arbitrary_spec(g: &mut Gen) -> Spec {
    let mut headers_gen = Gen::new(6);
    (
        i64::arbitrary(g),
        Option::<Vec<u8>>::arbitrary(g),
        Option::<Vec<u8>>::arbitrary(g),
        Vec::<(String, Option<Vec<u8>>)>::arbitrary(&mut headers_gen),
    )
}

/// Up to eight batches of any format, one after another.
#[derive(Debug, Clone)]
struct BatchSet(Vec<BatchSpec>);

impl Arbitrary for BatchSet {
    fn arbitrary(g: &mut Gen) -> BatchSet {
        let count = usize::arbitrary(g) % (MAX_BATCHES + 1);
        BatchSet((0..count).map(|_| BatchSpec::arbitrary(g)).collect())
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = BatchSet>> {
        Box::new(self.0.shrink().map(BatchSet))
    }
}

/// Writes `batches` one after another from `base_offset`; returns the
/// bytes and the records they should decode to.
fn write_all(batches: &[BatchSpec], base_offset: i64) -> (Bytes, Vec<Record>) {
    let mut buf = BytesMut::new();
    let mut expected = Vec::new();
    let mut offset = base_offset;
    for batch in batches {
        buf = write_batch(buf, batch, offset);
        for (i, (timestamp, key, value, _)) in batch.records.iter().enumerate() {
            let (timestamp, timestamp_type) = match batch.magic {
                0 => (-1, TimestampType::NoTimestamp),
                _ => (*timestamp, TimestampType::CreateTime),
            };
            expected.push(Record {
                offset: offset + i as i64,
                timestamp,
                timestamp_type,
                key: key.clone().map(Bytes::from),
                value: value.clone().map(Bytes::from),
                headers: Default::default(), // compared separately
            });
        }
        offset += batch.records.len() as i64;
    }
    (buf.freeze(), expected)
}

fn write_batch(buf: BytesMut, batch: &BatchSpec, base_offset: i64) -> BytesMut {
    if batch.magic == 2 {
        let mut writer = RecordBatchWriter::new_in(buf, base_offset).compression(batch.codec);
        for (timestamp, key, value, headers) in &batch.records {
            let headers = headers.iter().map(|(k, v)| (k.as_str(), v.as_deref()));
            writer
                .append(*timestamp, key.as_deref(), value.as_deref(), headers)
                .unwrap();
        }
        writer.finish().unwrap()
    } else {
        let mut writer =
            LegacyMessageSetWriter::new_in(buf, batch.magic, batch.codec, base_offset).unwrap();
        for (timestamp, key, value, _) in &batch.records {
            writer
                .append(*timestamp, key.as_deref(), value.as_deref())
                .unwrap();
        }
        writer.finish().unwrap()
    }
}

fn headers_of(batches: &[BatchSpec]) -> Vec<Vec<(String, Option<Vec<u8>>)>> {
    batches
        .iter()
        .flat_map(|batch| {
            batch.records.iter().map(move |(_, _, _, headers)| {
                if batch.magic == 2 {
                    headers.clone()
                } else {
                    vec![]
                }
            })
        })
        .collect()
}

fn without_headers(record: &Record) -> Record {
    Record {
        headers: Default::default(),
        ..record.clone()
    }
}

/// Every record of every batch, with its headers as owned pairs.
fn decode_all(bytes: Bytes) -> Vec<(Record, Vec<OwnedHeader>)> {
    RecordSet::new(bytes)
        .records()
        .map(|record| {
            let record = record.expect("decodes");
            let headers = record
                .headers
                .iter()
                .map(|h| (h.key_str().unwrap().to_owned(), h.value.map(|v| v.to_vec())))
                .collect();
            (without_headers(&record), headers)
        })
        .collect()
}

quickcheck! {
    fn any_sequence_of_batches_round_trips(batches: BatchSet, base: u32) -> bool {
        let batches = batches.0;
        let (bytes, expected) = write_all(&batches, i64::from(base));
        let decoded = decode_all(bytes);
        let records: Vec<Record> = decoded.iter().map(|(r, _)| r.clone()).collect();
        let headers: Vec<_> = decoded.into_iter().map(|(_, h)| h).collect();
        records == expected && headers == headers_of(&batches)
    }

    fn v2_batches_round_trip_any_offset_timestamp_and_producer(
        batch: BatchSpec, codec: Codec, base_offset: i64, producer: (i64, i16, i32), transactional: bool
    ) -> TestResult {
        let records = batch.records;
        // A batch whose last offset overflows is refused by the decoder (no
        // log holds one); such offsets are not a round trip to test.
        if base_offset.checked_add(records.len() as i64).is_none() {
            return TestResult::discard();
        }
        let mut writer = RecordBatchWriter::new(base_offset)
            .compression(codec.0)
            .producer(producer.0, producer.1, producer.2)
            .transactional(transactional);
        for (timestamp, key, value, headers) in &records {
            let headers = headers.iter().map(|(k, v)| (k.as_str(), v.as_deref()));
            writer.append(*timestamp, key.as_deref(), value.as_deref(), headers).unwrap();
        }
        let batch = RecordBatch::decode(writer.finish().unwrap().freeze()).unwrap();
        let header = batch.header();
        let header_ok = header.base_offset == base_offset
            && header.producer_id == producer.0
            && header.producer_epoch == producer.1
            && header.base_sequence == producer.2
            && header.attributes.transactional == transactional
            && header.attributes.compression == codec.0
            && header.record_count as usize == records.len()
            && header.max_timestamp == records.iter().map(|r| r.0).max().unwrap();
        let decoded: Vec<Record> = batch.records().unwrap().map(Result::unwrap).collect();
        let records_ok = decoded.len() == records.len()
            && decoded.iter().zip(&records).enumerate().all(|(i, (got, (timestamp, key, value, headers)))| {
                let got_headers: Vec<(String, Option<Vec<u8>>)> = got
                    .headers
                    .iter()
                    .map(|h| (h.key_str().unwrap().to_owned(), h.value.map(|v| v.to_vec())))
                    .collect();
                got.offset == base_offset.wrapping_add(i as i64)
                    && got.timestamp == *timestamp
                    && got.key.as_deref() == key.as_deref()
                    && got.value.as_deref() == value.as_deref()
                    && &got_headers == headers
            });
        TestResult::from_bool(header_ok && records_ok)
    }

    fn a_flipped_bit_under_a_v2_crc_is_a_checksum_mismatch(batch: BatchSpec, at: usize, bit: u8) -> bool {
        let batch = BatchSpec { magic: 2, ..batch };
        let bytes = write_batch(BytesMut::new(), &batch, 0);
        // Attributes to the end: what the CRC-32C covers.
        let at = 21 + at % (bytes.len() - 21);
        let mut corrupt = bytes.to_vec();
        corrupt[at] ^= 1 << (bit % 8);
        let err = RecordBatch::decode(Bytes::from(corrupt)).unwrap_err();
        matches!(err.kind(), DecodeErrorKind::ChecksumMismatch { .. })
    }

    fn a_flipped_bit_under_a_legacy_crc_is_a_checksum_mismatch(batch: BatchSpec, at: usize, bit: u8) -> bool {
        let magic = if batch.magic == 2 { 1 } else { batch.magic };
        let codec = if batch.codec == Compression::Zstd { Compression::None } else { batch.codec };
        let batch = BatchSpec { magic, codec, ..batch };
        let bytes = write_batch(BytesMut::new(), &batch, 0);
        let first_len = 12 + i32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
        // Magic byte to the end of the first message: what the CRC-32 covers.
        let at = 16 + at % (first_len - 16);
        let mut corrupt = bytes.to_vec();
        corrupt[at] ^= 1 << (bit % 8);
        // Decoded as the entry it is: a RecordSet would dispatch on a
        // corrupted magic byte before any CRC is checked.
        let entry = Bytes::from(corrupt).slice(..first_len);
        let err = LegacyBatch::decode(entry).unwrap_err();
        matches!(err.kind(), DecodeErrorKind::ChecksumMismatch { .. })
    }

    fn a_truncated_set_yields_a_prefix_of_its_records_and_never_fails(batches: BatchSet, cut: usize) -> TestResult {
        let (bytes, expected) = write_all(&batches.0, 0);
        if bytes.is_empty() {
            return TestResult::discard();
        }
        let cut = cut % bytes.len();
        let set = RecordSet::new(bytes.slice(..cut));
        let mut batches_iter = set.batches();
        let mut records = Vec::new();
        for batch in batches_iter.by_ref() {
            for record in batch.unwrap().records().unwrap() {
                records.push(without_headers(&record.unwrap()));
            }
        }
        let is_prefix = records.len() <= expected.len() && records[..] == expected[..records.len()];
        // Truncated exactly when the cut is not at an entry boundary.
        let consumed = cut - batches_iter.remaining().len();
        TestResult::from_bool(is_prefix && batches_iter.truncated() == (consumed != cut))
    }

    fn decoding_garbage_never_panics(garbage: Vec<u8>) -> bool {
        exhaust(Bytes::from(garbage));
        true
    }

    fn decoding_mutated_batches_with_fixed_crcs_never_panics(batches: BatchSet, mutations: Vec<(usize, u8)>) -> bool {
        let (bytes, _) = write_all(&batches.0, 0);
        if bytes.is_empty() {
            return true;
        }
        let mut corrupt = bytes.to_vec();
        for (at, value) in mutations {
            let at = at % corrupt.len();
            corrupt[at] = value;
        }
        fix_crcs(&mut corrupt);
        exhaust(Bytes::from(corrupt));
        true
    }

    fn decompression_stops_at_the_limit(batch: BatchSpec, slack: u8) -> TestResult {
        let batch = BatchSpec { magic: 2, ..batch };
        if batch.codec == Compression::None {
            return TestResult::discard();
        }
        let uncompressed = write_batch(BytesMut::new(), &BatchSpec { codec: Compression::None, ..batch.clone() }, 0).len() - 61;
        let bytes = write_batch(BytesMut::new(), &batch, 0).freeze();
        let decoded = RecordBatch::decode(bytes).unwrap();
        let too_small = decoded.clone().with_decompression_limit(uncompressed - 1 - (slack as usize).min(uncompressed - 1));
        let refused = matches!(
            too_small.records().unwrap_err().kind(),
            DecodeErrorKind::DecompressionLimitExceeded { .. }
        );
        let fits = decoded.with_decompression_limit(uncompressed).records().is_ok();
        TestResult::from_bool(refused && fits)
    }
}

/// Walks everything a set offers, headers included, ignoring errors. The
/// decompression limit is small: mutated compressed data can legitimately
/// claim megabytes, which is slow to produce in a debug build.
fn exhaust(bytes: Bytes) {
    let set = RecordSet::new(bytes).with_decompression_limit(1 << 16);
    for batch in set.batches().flatten() {
        if let Batch::V2(v2) = &batch {
            let _ = v2.header();
        }
        if let Ok(records) = batch.records() {
            for record in records.flatten() {
                for header in &record.headers {
                    let _ = header.key_str();
                }
            }
        }
    }
    for record in set.records().flatten() {
        let _ = record.headers.last("h");
    }
}

/// Recomputes the CRC of every v2 batch and legacy entry whose framing
/// still parses, so that mutations reach the record decoders.
fn fix_crcs(bytes: &mut [u8]) {
    let mut at = 0;
    while bytes.len() - at >= 17 {
        let size = i32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        let Ok(size) = usize::try_from(size) else {
            return;
        };
        let end = at + 12 + size;
        if end > bytes.len() {
            return;
        }
        match bytes[at + 16] {
            2 if size >= 49 => {
                let crc = crc32c::crc32c(&bytes[at + 21..end]);
                bytes[at + 17..at + 21].copy_from_slice(&crc.to_be_bytes());
            }
            0 | 1 if size >= 14 => {
                let crc = crc32fast::hash(&bytes[at + 16..end]);
                bytes[at + 12..at + 16].copy_from_slice(&crc.to_be_bytes());
            }
            _ => return,
        }
        at = end;
    }
}
