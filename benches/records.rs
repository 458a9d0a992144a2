//! Writing and reading one RecordBatch v2 of 1,000 records, kafkite against
//! the `kafka-protocol` crate, uncompressed and with every codec.
//!
//! ```text
//! cargo bench --bench records -- --measurement-time 3 --warm-up-time 1
//! cargo bench --bench records -- read/lz4      # one group
//! cargo test --benches                         # each benchmark once, as CI runs it
//! ```
//!
//! Groups are `write/<codec>` and `read/<codec>` for codec none, gzip,
//! snappy, lz4 and zstd; each group has a `kafkite` and a `kafka-protocol`
//! function over the same logical records, so criterion's report puts the
//! two side by side; write groups also have `kafka-protocol+build` (below).
//! Throughput is in records (1,000 per iteration). `write/none` also has
//! `floor (copy+crc)`: copying every field's bytes into one buffer and
//! checksumming it, with no framing, the least any writer does, to show
//! how much of a writer's time is left to gain.
//!
//! The goal this bench tracks: kafkite reads a batch at least 3x faster
//! than kafka-protocol's decoder, and writes one at least 2x faster.
//!
//! Choices, and why:
//!
//! - **Input.** 1,000 records, each an 8-byte key, a 100-byte text-like
//!   value (words and numbers from a seeded PRNG: deterministic, and about
//!   as compressible as JSON or log lines, so codecs do real work rather
//!   than collapsing a run of one byte), one `trace-id` header with a
//!   16-byte value, and strictly increasing millisecond timestamps. A
//!   producer without idempotence: producer id, epoch and base sequence -1.
//! - **Writing.** kafka-protocol encodes from its own owned `Record`s
//!   (`Bytes` fields and an `IndexMap` of headers). In `kafka-protocol` they
//!   are built once, outside the timing: the encoder alone, the most
//!   favourable case for it and the strict comparison. A producer has to
//!   build them for every batch, so `kafka-protocol+build` also times
//!   building them from the application's data (cloning its `Bytes`, the
//!   cheapest way in): the whole path from records to batch bytes, which
//!   is what kafkite's `kafkite` function measures, since it appends
//!   borrowed slices of the same data. All write into a fresh `BytesMut`
//!   pre-sized to the uncompressed batch, so none pays for growing the
//!   output buffer, and the timing includes whatever each library
//!   allocates itself.
//! - **Reading.** Each library reads the batch it wrote itself (the bytes a
//!   broker would hand back), and every iteration touches every record's
//!   offset, timestamp, key, value and headers (summing lengths), so a lazy
//!   decoder is measured doing the whole job. kafkite reads through
//!   `RecordSet`, the path a consumer takes from a Fetch response.
//! - **Codecs.** Each library uses its own compressor and level (kafkite:
//!   gzip default level, xerial snappy, lz4_flex, zstd level 3;
//!   kafka-protocol: gzip default, xerial snappy, lz4 C library at level 4,
//!   zstd level 3), so compressed sizes differ; they are printed at start
//!   for judging the write numbers.
//! - **Cross-check before timing.** For every codec, uncompressed output
//!   must be byte-identical, and both libraries' batches must read back with
//!   both libraries as exactly the input records. A broken comparison panics
//!   instead of producing numbers.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KpCompression, Record as KpRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KpTimestampType,
};
use kafkite::records::{Compression, RecordBatchWriter, RecordSet, TimestampType};

const RECORD_COUNT: usize = 1_000;
const KEY_LEN: usize = 8;
const VALUE_LEN: usize = 100;
const HEADER_KEY: &str = "trace-id";
const HEADER_VALUE_LEN: usize = 16;
const BASE_TIMESTAMP: i64 = 1_700_000_000_000;

/// Every codec as each library names it.
const CODECS: [(&str, Compression, KpCompression); 5] = [
    ("none", Compression::None, KpCompression::None),
    ("gzip", Compression::Gzip, KpCompression::Gzip),
    ("snappy", Compression::Snappy, KpCompression::Snappy),
    ("lz4", Compression::Lz4, KpCompression::Lz4),
    ("zstd", Compression::Zstd, KpCompression::Zstd),
];

/// One logical record, as the application holds it.
struct Sample {
    timestamp: i64,
    key: Bytes,
    value: Bytes,
    header_value: Bytes,
}

/// xorshift64*: deterministic across runs and platforms, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Words for text-like values: a small vocabulary repeats across records as
/// field names and enum values do in real payloads.
const WORDS: [&str; 32] = [
    "user", "order", "click", "view", "cart", "item", "price", "status", "ok", "error", "page",
    "session", "region", "eu-west", "us-east", "mobile", "desktop", "search", "checkout", "id",
    "ts", "amount", "currency", "EUR", "USD", "true", "false", "null", "name", "event", "ref",
    "country",
];

fn text_value(rng: &mut Rng) -> Bytes {
    let mut value = Vec::with_capacity(VALUE_LEN + 16);
    while value.len() < VALUE_LEN {
        if rng.below(3) == 0 {
            // Numbers are the incompressible part of real records.
            value.extend_from_slice(rng.below(1_000_000).to_string().as_bytes());
        } else {
            value.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
        }
        value.push([b' ', b',', b':', b'"'][rng.below(4)]);
    }
    value.truncate(VALUE_LEN);
    Bytes::from(value)
}

fn samples() -> Vec<Sample> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut rng = Rng(0x6b61_666b_6974_6521);
    let mut timestamp = BASE_TIMESTAMP;
    (0..RECORD_COUNT)
        .map(|_| {
            timestamp += 1 + rng.below(3) as i64;
            let key = format!("user{:04}", rng.below(10_000));
            assert_eq!(key.len(), KEY_LEN);
            let header_value: Vec<u8> = (0..HEADER_VALUE_LEN).map(|_| HEX[rng.below(16)]).collect();
            Sample {
                timestamp,
                key: Bytes::from(key),
                value: text_value(&mut rng),
                header_value: Bytes::from(header_value),
            }
        })
        .collect()
}

/// The same records as kafka-protocol's owned `Record`s. `sequence` is the
/// offset less one so that the batch's base sequence comes out -1 (no
/// idempotence) and kafka-protocol keeps all records in one batch (it starts
/// a new batch where `offset - sequence` changes).
fn kafka_protocol_records(samples: &[Sample]) -> Vec<KpRecord> {
    samples
        .iter()
        .enumerate()
        .map(|(offset, sample)| {
            let mut headers = kafka_protocol::indexmap::IndexMap::new();
            headers.insert(
                StrBytes::from_static_str(HEADER_KEY),
                Some(sample.header_value.clone()),
            );
            KpRecord {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: KpTimestampType::Creation,
                offset: offset as i64,
                sequence: offset as i32 - 1,
                timestamp: sample.timestamp,
                key: Some(sample.key.clone()),
                value: Some(sample.value.clone()),
                headers,
            }
        })
        .collect()
}

/// The size of the uncompressed batch, to pre-size both writers' output.
fn output_capacity(samples: &[Sample]) -> usize {
    write_kafkite(samples, Compression::None, 0).len()
}

fn write_kafkite(samples: &[Sample], codec: Compression, capacity: usize) -> BytesMut {
    let mut writer =
        RecordBatchWriter::new_in(BytesMut::with_capacity(capacity), 0).compression(codec);
    for sample in samples {
        writer
            .append(
                sample.timestamp,
                Some(&sample.key),
                Some(&sample.value),
                [(HEADER_KEY, Some(&sample.header_value[..]))],
            )
            .expect("kafkite appends");
    }
    writer.finish().expect("kafkite finishes the batch")
}

fn write_kafka_protocol(records: &[KpRecord], codec: KpCompression, capacity: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(capacity);
    let options = RecordEncodeOptions {
        version: 2,
        compression: codec,
    };
    RecordBatchEncoder::encode(&mut buf, records, &options).expect("kafka-protocol encodes");
    buf
}

/// The least any writer does for the uncompressed batch: copy every field's
/// bytes into one pre-sized buffer and CRC-32C the result, with no framing
/// at all. Timed beside the two writers so their figures can be read
/// against what is left to gain.
fn copy_and_crc_floor(samples: &[Sample], capacity: usize) -> u32 {
    let mut buf = BytesMut::with_capacity(capacity);
    for sample in samples {
        buf.extend_from_slice(&sample.key);
        buf.extend_from_slice(&sample.value);
        buf.extend_from_slice(HEADER_KEY.as_bytes());
        buf.extend_from_slice(&sample.header_value);
    }
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, &buf) as u32
}

/// Reads every record of `batch` with kafkite and touches all of it.
fn read_kafkite(batch: &Bytes) -> usize {
    let mut touched = 0usize;
    for record in RecordSet::new(batch.clone()).records() {
        let record = record.expect("kafkite decodes");
        touched = touched
            .wrapping_add(record.offset as usize)
            .wrapping_add(record.timestamp as usize)
            .wrapping_add(record.key.map_or(0, |key| key.len()))
            .wrapping_add(record.value.map_or(0, |value| value.len()));
        for header in &record.headers {
            touched = touched
                .wrapping_add(header.key.len())
                .wrapping_add(header.value.map_or(0, |value| value.len()));
        }
    }
    touched
}

/// Reads every record of `batch` with kafka-protocol and touches all of it.
fn read_kafka_protocol(batch: &Bytes) -> usize {
    let set = RecordBatchDecoder::decode(&mut batch.clone()).expect("kafka-protocol decodes");
    let mut touched = 0usize;
    for record in &set.records {
        touched = touched
            .wrapping_add(record.offset as usize)
            .wrapping_add(record.timestamp as usize)
            .wrapping_add(record.key.as_ref().map_or(0, |key| key.len()))
            .wrapping_add(record.value.as_ref().map_or(0, |value| value.len()));
        for (key, value) in &record.headers {
            touched = touched
                .wrapping_add(key.len())
                .wrapping_add(value.as_ref().map_or(0, |value| value.len()));
        }
    }
    touched
}

/// Asserts that kafkite reads `batch` as exactly `samples`.
fn check_kafkite_reads(batch: &Bytes, samples: &[Sample], what: &str) {
    let records: Vec<_> = RecordSet::new(batch.clone())
        .records()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|error| panic!("kafkite cannot read {what}: {error}"));
    assert_eq!(records.len(), samples.len(), "kafkite reading {what}");
    for (offset, (record, sample)) in records.iter().zip(samples).enumerate() {
        assert_eq!(record.offset, offset as i64, "kafkite reading {what}");
        assert_eq!(record.timestamp, sample.timestamp, "kafkite reading {what}");
        assert_eq!(record.timestamp_type, TimestampType::CreateTime);
        assert_eq!(
            record.key.as_ref(),
            Some(&sample.key),
            "kafkite reading {what}"
        );
        assert_eq!(
            record.value.as_ref(),
            Some(&sample.value),
            "kafkite reading {what}"
        );
        let headers: Vec<_> = record.headers.iter().collect();
        assert_eq!(headers.len(), 1, "kafkite reading {what}");
        assert_eq!(headers[0].key_str(), Some(HEADER_KEY));
        assert_eq!(headers[0].value, Some(&sample.header_value[..]));
    }
}

/// Asserts that kafka-protocol reads `batch` as exactly `expected`.
fn check_kafka_protocol_reads(batch: &Bytes, expected: &[KpRecord], what: &str) {
    let mut bytes = batch.clone();
    let set = RecordBatchDecoder::decode(&mut bytes)
        .unwrap_or_else(|error| panic!("kafka-protocol cannot read {what}: {error}"));
    assert!(bytes.is_empty(), "kafka-protocol left bytes of {what}");
    assert_eq!(
        set.records.len(),
        expected.len(),
        "kafka-protocol reading {what}"
    );
    for (record, expected) in set.records.iter().zip(expected) {
        assert_eq!(record, expected, "kafka-protocol reading {what}");
    }
}

/// The batches each library writes for one codec, cross-checked.
struct Batches {
    kafkite: Bytes,
    kafka_protocol: Bytes,
}

fn cross_checked_batches(
    samples: &[Sample],
    kp_records: &[KpRecord],
    capacity: usize,
) -> Vec<Batches> {
    let batches: Vec<Batches> = CODECS
        .iter()
        .map(|&(name, codec, kp_codec)| {
            let batches = Batches {
                kafkite: write_kafkite(samples, codec, capacity).freeze(),
                kafka_protocol: write_kafka_protocol(kp_records, kp_codec, capacity).freeze(),
            };
            for (writer, batch) in [
                ("kafkite", &batches.kafkite),
                ("kafka-protocol", &batches.kafka_protocol),
            ] {
                let what = format!("the {name} batch {writer} wrote");
                check_kafkite_reads(batch, samples, &what);
                check_kafka_protocol_reads(batch, kp_records, &what);
            }
            batches
        })
        .collect();
    assert_eq!(
        batches[0].kafkite, batches[0].kafka_protocol,
        "uncompressed batches differ"
    );
    eprintln!("batch bytes (kafkite / kafka-protocol):");
    for ((name, ..), batches) in CODECS.iter().zip(&batches) {
        eprintln!(
            "  {name:<6} {:>7} / {:>7}",
            batches.kafkite.len(),
            batches.kafka_protocol.len()
        );
    }
    batches
}

fn records(c: &mut Criterion) {
    let samples = samples();
    let kp_records = kafka_protocol_records(&samples);
    let capacity = output_capacity(&samples);
    let batches = cross_checked_batches(&samples, &kp_records, capacity);

    for ((name, codec, kp_codec), batches) in CODECS.iter().zip(&batches) {
        let mut group = c.benchmark_group(format!("write/{name}"));
        group.throughput(Throughput::Elements(RECORD_COUNT as u64));
        group.bench_function("kafkite", |b| {
            b.iter(|| write_kafkite(black_box(&samples), *codec, capacity))
        });
        group.bench_function("kafka-protocol", |b| {
            b.iter(|| write_kafka_protocol(black_box(&kp_records), *kp_codec, capacity))
        });
        group.bench_function("kafka-protocol+build", |b| {
            b.iter(|| {
                let records = kafka_protocol_records(black_box(&samples));
                write_kafka_protocol(&records, *kp_codec, capacity)
            })
        });
        if *codec == Compression::None {
            group.bench_function("floor (copy+crc)", |b| {
                b.iter(|| copy_and_crc_floor(black_box(&samples), capacity))
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("read/{name}"));
        group.throughput(Throughput::Elements(RECORD_COUNT as u64));
        group.bench_function("kafkite", |b| {
            b.iter(|| read_kafkite(black_box(&batches.kafkite)))
        });
        group.bench_function("kafka-protocol", |b| {
            b.iter(|| read_kafka_protocol(black_box(&batches.kafka_protocol)))
        });
        group.finish();
    }
}

criterion_group!(benches, records);
criterion_main!(benches);
