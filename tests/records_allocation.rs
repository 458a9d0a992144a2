//! Hostile length prefixes must be errors (or, at the end of a fetch, a
//! truncated batch), never large allocations: this binary counts every
//! allocation the record decoders make through Rust's allocator and checks
//! the largest stays small. (zstd allocates in C, outside this count; its
//! window is capped separately and checked for the error here.)
//!
//! One test function only: the counter is global, and tests in one binary
//! run in parallel.

#![cfg(all(
    feature = "gzip",
    feature = "snappy",
    feature = "lz4",
    feature = "zstd"
))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use kafkite::protocol::DecodeErrorKind;
use kafkite::records::{Compression, RecordBatch, RecordBatchWriter, RecordSet};

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `decode` and returns the largest single allocation it made.
fn largest_allocation(decode: impl FnOnce()) -> usize {
    LARGEST.store(0, Ordering::Relaxed);
    decode();
    LARGEST.load(Ordering::Relaxed)
}

/// Every error a set yields, walking batches and records to the end.
fn errors(bytes: Bytes, limit: usize) -> Vec<DecodeErrorKind> {
    RecordSet::new(bytes)
        .with_decompression_limit(limit)
        .records()
        .filter_map(Result::err)
        .map(|error| error.kind().clone())
        .collect()
}

fn one_record_batch() -> BytesMut {
    let mut writer = RecordBatchWriter::new(0);
    writer
        .append(0, Some(b"key"), Some(b"value"), [("h", Some(&b"v"[..]))])
        .unwrap();
    writer.finish().unwrap()
}

/// Replaces a batch's records section and fixes its length, count and CRC.
fn batch_with_records(records: &[u8], count: i32) -> Bytes {
    let mut bytes = BytesMut::from(&one_record_batch()[..61]);
    bytes.put_slice(records);
    let length = (bytes.len() - 12) as i32;
    bytes[8..12].copy_from_slice(&length.to_be_bytes());
    bytes[57..61].copy_from_slice(&count.to_be_bytes());
    let crc = crc32c::crc32c(&bytes[21..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    bytes.freeze()
}

/// A zig-zag varint, as record fields use.
fn varint(value: i32) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let mut raw = ((value << 1) ^ (value >> 31)) as u32;
    while raw >= 0x80 {
        buf.put_u8(raw as u8 | 0x80);
        raw >>= 7;
    }
    buf.put_u8(raw as u8);
    buf.to_vec()
}

#[test]
fn hostile_lengths_never_cause_large_allocations() {
    const SMALL: usize = 64 * 1024;

    // A fetch whose last entry claims 2 GiB: the normal truncated end.
    let mut set = one_record_batch();
    set.put_i64(1);
    set.put_i32(i32::MAX);
    set.put_slice(&[0; 20]);
    let set = set.freeze();
    let largest = largest_allocation(|| assert!(errors(set.clone(), SMALL).is_empty()));
    assert!(largest < SMALL, "truncated entry: {largest} bytes");

    // A record whose key claims 1 GiB.
    let mut record = vec![0u8]; // attributes
    record.extend(varint(0)); // timestamp delta
    record.extend(varint(0)); // offset delta
    record.extend(varint(1 << 30)); // key length
    record.extend(b"key");
    let mut records = varint(record.len() as i32);
    records.extend(&record);
    let batch = batch_with_records(&records, 1);
    let largest = largest_allocation(|| {
        let errors = errors(batch.clone(), SMALL);
        assert!(
            matches!(errors[..], [DecodeErrorKind::LengthExceedsInput { .. }]),
            "{errors:?}"
        );
    });
    assert!(largest < SMALL, "key length: {largest} bytes");

    // A record length, a header count and a record count of 2^31 - 1.
    let mut records = varint(i32::MAX);
    records.extend([0; 8]);
    let huge_record = batch_with_records(&records, 1);
    let mut record = vec![0u8];
    record.extend(varint(0));
    record.extend(varint(0));
    record.extend(varint(-1));
    record.extend(varint(-1));
    record.extend(varint(i32::MAX)); // header count
    let mut records = varint(record.len() as i32);
    records.extend(&record);
    let huge_headers = batch_with_records(&records, 1);
    let huge_count = batch_with_records(&one_record_batch()[61..], i32::MAX);
    for (what, batch) in [
        ("record length", huge_record),
        ("header count", huge_headers),
        ("record count", huge_count),
    ] {
        let largest =
            largest_allocation(|| assert_eq!(errors(batch.clone(), SMALL).len(), 1, "{what}"));
        assert!(largest < SMALL, "{what}: {largest} bytes");
    }

    // A legacy message whose value claims 2 GiB.
    let mut message = BytesMut::new();
    message.put_i64(0);
    message.put_i32(14 + 3);
    let body_at = message.len();
    message.put_u32(0);
    message.put_i8(0); // magic
    message.put_i8(0); // attributes
    message.put_i32(-1); // key
    message.put_i32(i32::MAX); // value length
    message.put_slice(b"abc");
    let crc = crc32fast::hash(&message[body_at + 4..]);
    message[body_at..body_at + 4].copy_from_slice(&crc.to_be_bytes());
    let message = message.freeze();
    let largest = largest_allocation(|| {
        let errors = errors(message.clone(), SMALL);
        assert!(
            matches!(errors[..], [DecodeErrorKind::LengthExceedsInput { .. }]),
            "{errors:?}"
        );
    });
    assert!(largest < SMALL, "legacy value length: {largest} bytes");

    // A raw snappy block claiming 1 GiB, with no limit at all.
    let snappy = [0x80, 0x80, 0x80, 0x80, 0x04, 0x00, b'x'];
    let largest = largest_allocation(|| {
        assert!(Compression::Snappy
            .decompress(&snappy, 2, usize::MAX)
            .is_err())
    });
    assert!(largest < SMALL, "snappy length: {largest} bytes");

    // A gzip bomb: 32 MiB of zeros against a 1 MiB limit. The output grows
    // to the limit and stops there.
    let mut bomb = BytesMut::new();
    Compression::Gzip
        .compress(&vec![0u8; 32 << 20], 2, &mut bomb)
        .unwrap();
    let largest = largest_allocation(|| {
        let err = Compression::Gzip.decompress(&bomb, 2, 1 << 20).unwrap_err();
        assert!(matches!(
            err.kind(),
            DecodeErrorKind::DecompressionLimitExceeded { .. }
        ));
    });
    assert!(largest <= 2 << 20, "gzip bomb: {largest} bytes");

    // An LZ4 frame whose blocks decompress past the limit.
    let mut lz4 = BytesMut::new();
    Compression::Lz4
        .compress(&vec![0u8; 32 << 20], 2, &mut lz4)
        .unwrap();
    let largest =
        largest_allocation(|| assert!(Compression::Lz4.decompress(&lz4, 2, 1 << 20).is_err()));
    assert!(largest <= 2 << 20, "lz4: {largest} bytes");

    // A zstd frame header asking for a 128 MiB window, and nothing else.
    let zstd = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 17 << 3, 0x01, 0x00, 0x00];
    let err = Compression::Zstd.decompress(&zstd, 2, 1 << 20).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::Decompression { .. }),
        "{err}"
    );
    // The frame itself is valid: a limit that allows the window accepts it.
    let empty = Compression::Zstd.decompress(&zstd, 2, 1 << 27).unwrap();
    assert!(empty.is_empty());

    // And the decoder's own buffers stay small for ordinary data.
    let batch = RecordBatch::decode(one_record_batch().freeze()).unwrap();
    let largest = largest_allocation(|| assert_eq!(batch.records().unwrap().count(), 1));
    assert!(largest < 1024, "ordinary batch: {largest} bytes");
}
