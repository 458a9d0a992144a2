//! Cross-checks kafkite's record formats with kafka-python's independent
//! `kafka.record` package, in both directions:
//!
//! - the vectors in `tests/vectors/records/`, written by kafka-python's
//!   builders (`scripts/records-vectors.py generate`), must decode with
//!   kafkite to exactly what `vectors.json` says kafka-python decodes them to;
//! - batches kafkite writes, for every magic and codec, must decode with
//!   kafka-python (`scripts/records-vectors.py check`) to the records kafkite
//!   was given.
//!
//! Both sides describe decoded data as the same JSON: see `describe` here
//! and in the script. The second test needs the venv that
//! `scripts/setup-python.sh` creates, and fails (never skips) without it.

#![cfg(all(
    feature = "gzip",
    feature = "snappy",
    feature = "lz4",
    feature = "zstd"
))]

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::{Bytes, BytesMut};
use kafkite::records::{
    Batch, Compression, ControlRecordKey, LegacyMessageSetWriter, Record, RecordBatchWriter,
    RecordSet, TimestampType,
};
use serde_json::{json, Value};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Bytes as the script writes them: null, hex, or length and CRC-32 past
/// 1 KiB.
fn blob(bytes: Option<&[u8]>) -> Value {
    match bytes {
        None => Value::Null,
        Some(bytes) if bytes.len() > 1024 => {
            json!({"len": bytes.len(), "crc32": crc32fast::hash(bytes)})
        }
        Some(bytes) => Value::String(bytes.iter().map(|b| format!("{b:02x}")).collect()),
    }
}

fn timestamp_type_name(timestamp_type: TimestampType) -> &'static str {
    match timestamp_type {
        TimestampType::NoTimestamp => "NoTimestamp",
        TimestampType::CreateTime => "CreateTime",
        TimestampType::LogAppendTime => "LogAppendTime",
    }
}

fn record_json(record: &Record) -> Value {
    let headers: Vec<Value> = record
        .headers
        .iter()
        .map(|header| {
            let key = header.key_str().expect("vector header keys are UTF-8");
            json!([key, blob(header.value)])
        })
        .collect();
    json!({
        "offset": record.offset,
        "timestamp": record.timestamp,
        "timestamp_type": timestamp_type_name(record.timestamp_type),
        "key": blob(record.key.as_deref()),
        "value": blob(record.value.as_deref()),
        "headers": headers,
    })
}

/// Which header checksum an LZ4 frame carries: Kafka 0.8's, over magic and
/// descriptor, or the standard one, over the descriptor only.
fn lz4_header_checksum_kind(frame: &[u8]) -> &'static str {
    let flg = frame[4];
    let hc_at = 6 + if flg & 0x08 != 0 { 8 } else { 0 } + if flg & 0x01 != 0 { 4 } else { 0 };
    let hc = |bytes: &[u8]| (twox_hash::XxHash32::oneshot(0, bytes) >> 8) as u8;
    if frame[hc_at] == hc(&frame[4..hc_at]) {
        "standard"
    } else if frame[hc_at] == hc(&frame[..hc_at]) {
        "kafka-0.8"
    } else {
        "invalid"
    }
}

/// The value of a top-level legacy message: a wrapper's compressed payload.
fn legacy_value(entry: &[u8], magic: i8) -> &[u8] {
    let int = |at: usize| i32::from_be_bytes(entry[at..at + 4].try_into().unwrap());
    let mut at = 12 + 4 + 1 + 1 + if magic == 1 { 8 } else { 0 };
    at += 4 + usize::try_from(int(at)).unwrap_or(0);
    let len = int(at) as usize;
    &entry[at + 4..at + 4 + len]
}

/// What kafkite decodes a `records` field to, shaped as the script's
/// `describe`.
fn describe(bytes: Bytes) -> Value {
    let set = RecordSet::new(bytes);
    let mut batches_json = Vec::new();
    let mut records_json = Vec::new();
    let mut batches = set.batches();
    for batch in batches.by_ref() {
        let batch = batch.expect("batch decodes");
        let codec = batch.compression();
        let mut info = json!({
            "magic": batch.magic(),
            "compression": codec.name(),
            "crc_ok": true, // decoding checks it
        });
        match &batch {
            Batch::V2(v2) => {
                let header = v2.header();
                let fields = json!({
                    "base_offset": header.base_offset,
                    "last_offset": v2.last_offset(),
                    "producer_id": header.producer_id,
                    "producer_epoch": header.producer_epoch,
                    "base_sequence": header.base_sequence,
                    "transactional": header.attributes.transactional,
                    "control": header.attributes.control,
                    "timestamp_type": timestamp_type_name(header.attributes.timestamp_type()),
                    "base_timestamp": header.base_timestamp,
                    "max_timestamp": header.max_timestamp,
                    "record_count": header.record_count,
                });
                info.as_object_mut()
                    .unwrap()
                    .extend(fields.as_object().unwrap().clone());
                if codec == Compression::Lz4 {
                    info["lz4_header_checksum"] =
                        lz4_header_checksum_kind(&v2.as_bytes()[61..]).into();
                }
            }
            Batch::Legacy(legacy) => {
                if codec == Compression::Lz4 {
                    let frame = legacy_value(legacy.as_bytes(), legacy.magic());
                    info["lz4_header_checksum"] = lz4_header_checksum_kind(frame).into();
                }
            }
        }
        for record in batch.records().expect("records decompress") {
            records_json.push(record_json(&record.expect("record decodes")));
        }
        batches_json.push(info);
    }
    json!({"batches": batches_json, "records": records_json, "truncated": batches.truncated()})
}

#[test]
fn kafka_python_vectors_decode_to_what_kafka_python_decodes() {
    let dir = manifest_dir().join("tests/vectors/records");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("vectors.json")).unwrap()).unwrap();
    let vectors = manifest["vectors"].as_array().unwrap();
    assert!(
        vectors.len() >= 16,
        "vectors.json lists {} vectors",
        vectors.len()
    );
    let mut magics_and_codecs = std::collections::BTreeSet::new();
    for vector in vectors {
        let file = vector["file"].as_str().unwrap();
        let bytes = Bytes::from(std::fs::read(dir.join(file)).unwrap());
        let actual = describe(bytes);
        for field in ["batches", "records", "truncated"] {
            assert_eq!(
                actual[field], vector[field],
                "{file}: {field} differ\n kafkite: {}\n kafka-python: {}",
                actual[field], vector[field]
            );
        }
        for batch in actual["batches"].as_array().unwrap() {
            magics_and_codecs.insert((batch["magic"].as_i64(), batch["compression"].to_string()));
        }
    }
    // Every codec of every magic is covered: 4 codecs in magic 0 and 1, 5 in 2.
    assert_eq!(magics_and_codecs.len(), 13, "{magics_and_codecs:?}");
}

/// One record to write: timestamp, key, value, headers.
type Spec = (
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(String, Option<Vec<u8>>)>,
);

/// The same records the script builds with kafka-python, and a few more.
fn specs() -> Vec<Spec> {
    let big: Vec<u8> = (0..=255u8).cycle().take(256 * 274).collect();
    vec![
        (
            1_700_000_000_000,
            Some(b"key-0".to_vec()),
            Some(b"value-0".to_vec()),
            vec![("h1".into(), Some(b"v1".to_vec())), ("h2".into(), None)],
        ),
        (
            1_700_000_000_005,
            None,
            Some(b"value with a null key".to_vec()),
            vec![],
        ),
        (
            1_699_999_999_990,
            Some(b"key-2".to_vec()),
            None,
            vec![("".into(), Some(b"empty header key".to_vec()))],
        ),
        (
            1_700_000_000_010,
            Some(vec![]),
            Some(vec![]),
            vec![("utf8-\u{e9}\u{6f22}".into(), Some(vec![]))],
        ),
        (
            1_700_000_000_011,
            Some(vec![b'k'; 300]),
            Some(vec![b'x'; 1000]),
            vec![],
        ),
        (
            1_700_000_000_020,
            Some(b"big".to_vec()),
            Some(big),
            vec![("n".into(), None)],
        ),
    ]
}

fn expected_records(
    magic: i8,
    base_offset: i64,
    specs: &[Spec],
    log_append_time: Option<i64>,
) -> Vec<Value> {
    specs
        .iter()
        .enumerate()
        .map(|(i, (timestamp, key, value, headers))| {
            let headers: Vec<Value> = if magic == 2 {
                headers
                    .iter()
                    .map(|(k, v)| json!([k, blob(v.as_deref())]))
                    .collect()
            } else {
                vec![]
            };
            let (timestamp, timestamp_type) = match (magic, log_append_time) {
                (0, _) => (-1, "NoTimestamp"),
                (_, Some(append_time)) => (append_time, "LogAppendTime"),
                _ => (*timestamp, "CreateTime"),
            };
            json!({
                "offset": base_offset + i as i64,
                "timestamp": timestamp,
                "timestamp_type": timestamp_type,
                "key": blob(key.as_deref()),
                "value": blob(value.as_deref()),
                "headers": headers,
            })
        })
        .collect()
}

struct Producer {
    id: i64,
    epoch: i16,
    base_sequence: i32,
    transactional: bool,
}

/// Appends a v2 batch of `specs` to `buf`; returns what kafka-python
/// should report for it.
fn write_v2(
    buf: BytesMut,
    codec: Compression,
    base_offset: i64,
    specs: &[Spec],
    producer: &Producer,
    timestamp_type: TimestampType,
) -> (BytesMut, Value) {
    let mut writer = RecordBatchWriter::new_in(buf, base_offset)
        .compression(codec)
        .producer(producer.id, producer.epoch, producer.base_sequence)
        .transactional(producer.transactional)
        .timestamp_type(timestamp_type);
    for (timestamp, key, value, headers) in specs {
        let headers = headers.iter().map(|(k, v)| (k.as_str(), v.as_deref()));
        writer
            .append(*timestamp, key.as_deref(), value.as_deref(), headers)
            .unwrap();
    }
    let buf = writer.finish().unwrap();
    let max_timestamp = specs.iter().map(|s| s.0).max().unwrap();
    let mut batch = json!({
        "magic": 2,
        "compression": codec.name(),
        "crc_ok": true,
        "base_offset": base_offset,
        "last_offset": base_offset + specs.len() as i64 - 1,
        "producer_id": producer.id,
        "producer_epoch": producer.epoch,
        "base_sequence": producer.base_sequence,
        "transactional": producer.transactional,
        "control": false,
        "timestamp_type": timestamp_type_name(timestamp_type),
        "base_timestamp": specs[0].0,
        "max_timestamp": max_timestamp,
        "record_count": specs.len(),
    });
    if codec == Compression::Lz4 {
        batch["lz4_header_checksum"] = "standard".into();
    }
    (buf, batch)
}

/// Appends a legacy message set of `specs` to `buf`; returns what
/// kafka-python should report for its batches.
fn write_legacy(
    buf: BytesMut,
    magic: i8,
    codec: Compression,
    base_offset: i64,
    specs: &[Spec],
) -> (BytesMut, Vec<Value>) {
    let mut writer = LegacyMessageSetWriter::new_in(buf, magic, codec, base_offset).unwrap();
    for (timestamp, key, value, _) in specs {
        writer
            .append(*timestamp, key.as_deref(), value.as_deref())
            .unwrap();
    }
    let buf = writer.finish().unwrap();
    let batch = |compression: Compression| {
        let mut batch = json!({"magic": magic, "compression": compression.name(), "crc_ok": true});
        if compression == Compression::Lz4 {
            // Kafka 0.8/0.9 read magic 0 LZ4 with the broken header checksum.
            batch["lz4_header_checksum"] = if magic == 0 { "kafka-0.8" } else { "standard" }.into();
        }
        batch
    };
    let batches = if codec == Compression::None {
        specs.iter().map(|_| batch(codec)).collect()
    } else {
        vec![batch(codec)]
    };
    (buf, batches)
}

/// A vector for the manifest: the file to write and what it decodes to.
fn vector(
    name: &str,
    bytes: &[u8],
    batches: Vec<Value>,
    records: Vec<Value>,
    truncated: bool,
) -> (String, Vec<u8>, Value) {
    let file = format!("{name}.bin");
    let description = json!({
        "name": name,
        "file": file,
        "batches": batches,
        "records": records,
        "truncated": truncated,
    });
    (file, bytes.to_vec(), description)
}

fn kafkite_vectors() -> Vec<(String, Vec<u8>, Value)> {
    let specs = specs();
    let idempotent = Producer {
        id: 4242,
        epoch: 3,
        base_sequence: 77,
        transactional: false,
    };
    let none = Producer {
        id: -1,
        epoch: -1,
        base_sequence: -1,
        transactional: false,
    };
    let mut vectors = Vec::new();
    for magic in 0..=2i8 {
        for codec in Compression::ALL {
            if codec == Compression::Zstd && magic < 2 {
                continue;
            }
            let name = format!("v{magic}-{}", codec.name());
            let (bytes, batches) = if magic == 2 {
                let (buf, batch) = write_v2(
                    BytesMut::new(),
                    codec,
                    0,
                    &specs,
                    &idempotent,
                    TimestampType::CreateTime,
                );
                (buf, vec![batch])
            } else {
                write_legacy(BytesMut::new(), magic, codec, 0, &specs)
            };
            vectors.push(vector(
                &name,
                &bytes,
                batches,
                expected_records(magic, 0, &specs, None),
                false,
            ));
        }
    }

    // Transactional, at a broker-assigned base offset, with LogAppendTime.
    let transactional = Producer {
        id: 9,
        epoch: 0,
        base_sequence: 0,
        transactional: true,
    };
    let (bytes, batch) = write_v2(
        BytesMut::new(),
        Compression::Gzip,
        500,
        &specs[..3],
        &transactional,
        TimestampType::LogAppendTime,
    );
    let append_time = specs[..3].iter().map(|s| s.0).max();
    vectors.push(vector(
        "v2-transactional-log-append-time",
        &bytes,
        vec![batch],
        expected_records(2, 500, &specs[..3], append_time),
        false,
    ));

    // A commit marker as a broker writes it.
    let mut writer = RecordBatchWriter::new(503)
        .producer(9, 0, -1)
        .transactional(true)
        .control(true);
    let marker_value = [0u8, 0, 0, 0, 0, 5]; // version 0, coordinator epoch 5
    writer
        .append(
            1_700_000_000_100,
            Some(&ControlRecordKey::commit().encode()),
            Some(&marker_value),
            [],
        )
        .unwrap();
    let bytes = writer.finish().unwrap();
    let batch = json!({"magic": 2, "control": true, "transactional": true, "base_offset": 503, "last_offset": 503, "crc_ok": true});
    let record = json!({"offset": 503, "timestamp": 1_700_000_000_100i64, "timestamp_type": "CreateTime",
        "key": blob(Some(&ControlRecordKey::commit().encode())), "value": blob(Some(&marker_value)), "headers": []});
    vectors.push(vector(
        "v2-control",
        &bytes,
        vec![batch],
        vec![record],
        false,
    ));

    // Every format one after another in one buffer, as a fetch across a
    // message format upgrade returns them, then a truncated batch.
    let (buf, mut batches) = write_legacy(BytesMut::new(), 0, Compression::Lz4, 10, &specs[..2]);
    let (buf, more) = write_legacy(buf, 1, Compression::Snappy, 12, &specs[2..4]);
    batches.extend(more);
    let (buf, more) = write_legacy(buf, 1, Compression::None, 14, &specs[4..5]);
    batches.extend(more);
    let (buf, batch) = write_v2(
        buf,
        Compression::Zstd,
        15,
        &specs[5..],
        &none,
        TimestampType::CreateTime,
    );
    batches.push(batch);
    let mut records = expected_records(0, 10, &specs[..2], None);
    records.extend(expected_records(1, 12, &specs[2..4], None));
    records.extend(expected_records(1, 14, &specs[4..5], None));
    records.extend(expected_records(2, 15, &specs[5..], None));
    let complete = buf.len();
    let (buf, _) = write_v2(
        buf,
        Compression::None,
        16,
        &specs,
        &none,
        TimestampType::CreateTime,
    );
    vectors.push(vector(
        "mixed-truncated",
        &buf[..complete + 80],
        batches,
        records,
        true,
    ));
    vectors
}

fn python() -> PathBuf {
    let python = manifest_dir().join(".cache/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup-python.sh to create the Python venv with kafka-python \
         that this cross-check needs",
        python.display()
    );
    python
}

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("kafkite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn kafka_python_decodes_what_kafkite_writes() {
    let python = python();
    let dir = TempDir::new("records-check");
    let vectors = kafkite_vectors();
    let mut descriptions = Vec::new();
    for (file, bytes, description) in vectors {
        // Our own reader must agree before kafka-python is asked.
        let ours = describe(Bytes::from(bytes.clone()));
        for field in ["records", "truncated"] {
            assert_eq!(
                ours[field], description[field],
                "{file}: kafkite reads back different {field}"
            );
        }
        std::fs::write(dir.path().join(&file), bytes).unwrap();
        descriptions.push(description);
    }
    let manifest =
        json!({"generator": "kafkite tests/records_kafka_python.rs", "vectors": descriptions});
    std::fs::write(
        dir.path().join("vectors.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();

    let output = Command::new(&python)
        .arg(manifest_dir().join("scripts/records-vectors.py"))
        .arg("check")
        .arg(dir.path())
        .output()
        .expect("run scripts/records-vectors.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "kafka-python disagrees with what kafkite wrote:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
