//! A hostile peer fills a flexible response with unknown tagged fields (two
//! bytes each on the wire: a one-byte tag and a zero size). Decoding must
//! not blow such a frame up in memory: this binary counts the live bytes on
//! Rust's heap while `ApiVersionsResponse::decode` runs over ~16 MiB bodies
//! and checks their peak against the size of the input.
//!
//! The bounds, and why:
//!
//! - One struct full of unknown fields (the top-level section): at most
//!   1x the input. The fields are kept as their encoded bytes, a slice of
//!   the input when they are contiguous and one copy of them, never larger
//!   than the section, when known fields sit between them.
//! - Arrays of structs: below 12x the input. With unknown fields costing a
//!   constant per struct, the most memory per wire byte comes from the
//!   smallest struct, an `ApiVersion` with an empty tagged section: 7 bytes
//!   on the wire, 40 in memory (three i16 and one `Bytes`), in a `Vec` that
//!   may be up to twice as large as its contents while it grows:
//!   80 / 7 < 12. The shape without unknown fields is measured too, as the
//!   reference the others must not exceed.
//!
//! Before unknown fields were kept as bytes, each one was a 40-byte entry of
//! a `Vec`: 20x the input for the top-level shape, ~22x for one per struct.
//!
//! One test function only: the counter is global, and tests in one binary
//! run in parallel.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use kafkite::protocol::messages::ApiVersionsResponse;
use kafkite::protocol::{Message, Reader};

struct Counting;

/// Bytes currently allocated, and the most there have been since the last
/// [`peak_during`] began.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrink(by: usize) {
    LIVE.fetch_sub(by, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            grow(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            grow(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() {
            if new_size >= layout.size() {
                grow(new_size - layout.size());
            } else {
                shrink(layout.size() - new_size);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `work` and returns how far the live bytes rose above where they
/// stood when it began, keeping its result alive until measured.
fn peak_during<T>(work: impl FnOnce() -> T) -> usize {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let kept = work();
    let peak = PEAK.load(Ordering::Relaxed);
    drop(kept);
    peak.saturating_sub(before)
}

/// The size of each hostile body: enough that the per-field cost swamps
/// every constant.
const INPUT: usize = 16 << 20;

/// A tag ApiVersionsResponse v3 does not know, one byte as a varint.
const UNKNOWN_TAG: u8 = 100;
/// ApiVersionsResponse's ZkMigrationReady, a known tagged field.
const KNOWN_TAG: u8 = 3;

fn varint(buf: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8(value as u8 | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

/// A v3 body whose top-level tagged section holds `fields` unknown fields,
/// each followed by a known one when `interleaved`.
fn top_level_tags(fields: usize, interleaved: bool) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(0); // error code
    varint(&mut buf, 1); // no api keys
    buf.put_i32(0); // throttle time
    let count = if interleaved { 2 * fields } else { fields };
    varint(&mut buf, count as u32);
    for _ in 0..fields {
        buf.put_slice(&[UNKNOWN_TAG, 0]);
        if interleaved {
            buf.put_slice(&[KNOWN_TAG, 1, 1]);
        }
    }
    buf.freeze()
}

/// A v3 body with `entries` api keys, each carrying `tags` unknown fields.
fn tags_per_entry(entries: usize, tags: usize) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    varint(&mut buf, entries as u32 + 1);
    for key in 0..entries {
        buf.put_i16(key as i16);
        buf.put_i16(0);
        buf.put_i16(0);
        varint(&mut buf, tags as u32);
        for _ in 0..tags {
            buf.put_slice(&[UNKNOWN_TAG, 0]);
        }
    }
    buf.put_i32(0);
    buf.put_u8(0); // no top-level tagged fields
    buf.freeze()
}

/// Allocations that do not scale with the input (the reader's shared
/// buffer header, the test harness's own).
const SLACK: usize = 64 << 10;

#[test]
fn unknown_tagged_fields_cost_no_more_than_their_wire_bytes() {
    // (shape, body, bound as a multiple of the input)
    let shapes = [
        (
            "top-level, all unknown",
            top_level_tags(INPUT / 2, false),
            1,
        ),
        ("top-level, interleaved", top_level_tags(INPUT / 5, true), 1),
        ("one per api key", tags_per_entry(INPUT / 9, 1), 12),
        ("64 per api key", tags_per_entry(INPUT / 135, 64), 12),
        ("none per api key", tags_per_entry(INPUT / 7, 0), 12),
    ];
    let mut over = Vec::new();
    for (shape, body, times) in shapes {
        let input = body.len();
        let peak = peak_during(|| {
            ApiVersionsResponse::decode(&mut Reader::new(body.clone()), 3)
                .unwrap_or_else(|e| panic!("{shape}: {e}"))
        });
        let report = format!(
            "{shape}: input {input} bytes, peak {peak} bytes ({:.2}x, bound {times}x)",
            peak as f64 / input as f64
        );
        eprintln!("{report}");
        if peak > times * input + SLACK {
            over.push(report);
        }
    }
    assert!(over.is_empty(), "over the bound: {over:#?}");
}
