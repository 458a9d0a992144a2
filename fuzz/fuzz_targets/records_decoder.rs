//! The record decoders with decompression: a Fetch response's `records`
//! field of any mix of RecordBatch v2 and legacy MessageSet v0/v1 entries,
//! every codec. No input may panic or allocate past the decompression limit
//! (libFuzzer's -malloc_limit_mb catches a large allocation as a crash).
#![no_main]

use bytes::Bytes;
use kafkite::records::RecordSet;
use libfuzzer_sys::fuzz_target;

/// Small enough that a decompression bomb stops long before the fuzzer's
/// malloc limit, large enough for any seed.
const LIMIT: usize = 4 * 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    let set = RecordSet::new(Bytes::copy_from_slice(data)).with_decompression_limit(LIMIT);
    let mut touched = 0usize;
    for record in set.records() {
        let Ok(record) = record else { break };
        touched += record.key.as_ref().map_or(0, |k| k.len());
        touched += record.value.as_ref().map_or(0, |v| v.len());
        for header in record.headers.iter() {
            touched += header.key.len() + header.value.as_ref().map_or(0, |v| v.len());
        }
    }
    std::hint::black_box(touched);
});
