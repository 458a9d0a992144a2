//! Fetched data a hostile producer planted: compressed batches that are
//! small on the wire and huge decompressed. Any producer to a topic can
//! write them (the broker bounds the compressed size only), so the
//! fetcher's memory must be bounded by its budget
//! ([`FetchConfig::max_buffered_bytes`]), counted after decompression,
//! across a response and across chunks not yet released.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::*;
use crate::client::scripted::{api_versions, metadata, Harness, Reply, Responder};
use crate::memory_probe::peak_bytes;
use crate::protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use crate::protocol::messages::FetchResponse;
use crate::protocol::{AnyRequest, AnyResponse, ApiKey};
use crate::records::{Compression, RecordBatchWriter};

const MIB: usize = 1 << 20;

/// A log of `count` gzip batches, one record of `record_bytes` zeros
/// each (a few kilobytes compressed), served from any fetch offset.
fn bomb_log(count: i64, record_bytes: usize) -> Rc<Vec<Bytes>> {
    let value = vec![0u8; record_bytes];
    Rc::new(
        (0..count)
            .map(|offset| {
                let mut w = RecordBatchWriter::new(offset).compression(Compression::Gzip);
                w.append(0, None, Some(&value), std::iter::empty())
                    .expect("append");
                w.finish().expect("finish").freeze()
            })
            .collect(),
    )
}

fn broker(log: Rc<Vec<Bytes>>, fetches: Rc<RefCell<Vec<i64>>>) -> Responder {
    Box::new(move |_, _, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Respond(api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 0, 12),
            (ApiKey::Fetch, 0, 12),
        ])),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(1)),
        AnyRequest::Fetch(r) => {
            let offset = r.topics[0].partitions[0].fetch_offset;
            fetches.borrow_mut().push(offset);
            let mut records = BytesMut::new();
            for batch in log.iter().skip(usize::try_from(offset).unwrap_or(0)) {
                records.extend_from_slice(batch);
            }
            Reply::Respond(AnyResponse::Fetch(FetchResponse {
                responses: vec![FetchableTopicResponse {
                    topic: "t".into(),
                    partitions: vec![PartitionData {
                        partition_index: 0,
                        high_watermark: log.len() as i64,
                        records: Some(records.freeze()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }))
        }
        _ => Reply::Silence,
    })
}

struct Consumer {
    h: Harness,
    f: FetcherMachine,
    fetches: Rc<RefCell<Vec<i64>>>,
}

impl Consumer {
    fn new(log: Rc<Vec<Bytes>>, config: FetchConfig) -> Consumer {
        let fetches = Rc::new(RefCell::new(Vec::new()));
        let mut h = Harness::new(&["b1:9092"], broker(log, fetches.clone()));
        h.run();
        let mut f = FetcherMachine::new(config);
        let now = h.now;
        f.assign(&mut h.client, "t", 0, Some(0), now);
        Consumer { h, f, fetches }
    }

    /// Moves IO and events until nothing moves; returns the chunks handed
    /// out meanwhile, unreleased.
    fn settle(&mut self) -> Vec<FetchedRecords> {
        let mut out = Vec::new();
        for e in self.h.settle(&mut self.f) {
            match e {
                FetchEvent::Records(r) => out.push(r),
                other => panic!("unexpected {other:?}"),
            }
        }
        out
    }

    /// Reads everything, releasing each chunk after reading it; returns
    /// the offsets and value lengths read.
    fn read_all(&mut self, expect: usize) -> Vec<(i64, usize)> {
        let mut read = Vec::new();
        for _ in 0..4 * expect {
            for chunk in self.settle() {
                read.extend(
                    chunk
                        .records
                        .iter()
                        .map(|r| (r.offset, r.value.map_or(0, |v| v.len()))),
                );
                let now = self.h.now;
                self.f.release(&mut self.h.client, "t", 0, now);
            }
            if read.len() >= expect {
                break;
            }
            self.h.now += Duration::from_millis(600);
            let now = self.h.now;
            self.h.client.handle_timeout(now);
            self.f.handle_timeout(&mut self.h.client, now);
        }
        read
    }
}

/// The reproduction, scaled down: 32 gzip batches of one 2 MiB
/// record each arrive in one response of about 70 KB. Decoding all of it
/// held 64 MiB; with a 4 MiB budget the fetcher holds the first batch,
/// decompresses the second, finds it does not fit and leaves it for the
/// next fetch: at most the budget plus one batch, whatever the response.
#[test]
fn a_response_of_decompression_bombs_is_held_to_the_budget() {
    let log = bomb_log(32, 2 * MIB);
    let wire: usize = log.iter().map(Bytes::len).sum();
    assert!(wire < 100_000, "{wire} bytes on the wire");
    let config = FetchConfig {
        max_buffered_bytes: 4 * MIB,
        ..FetchConfig::default()
    };
    let mut c = Consumer::new(log, config);
    let (chunks, peak) = peak_bytes(|| c.settle());
    eprintln!("peak {peak} bytes for one response of {wire} bytes");
    assert!(peak < 4 * MIB + 2 * MIB + MIB, "held {peak} bytes");
    // One chunk, with the one record that fit; the rest is still in the log.
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].records.len(), 1);
    assert_eq!(c.f.position("t", 0), Some(1));
    // Unreleased, it keeps the fetcher from fetching more.
    assert!(c.f.held_bytes() >= 2 * MIB);
    assert!(c.settle().is_empty());
    assert_eq!(*c.fetches.borrow(), [0]);
}

/// Under the budget nothing is lost or repeated: released chunk by chunk,
/// every record arrives once, in order, and the fetcher never held more
/// than the budget plus one batch.
#[test]
fn every_record_arrives_once_in_order_under_the_budget() {
    let log = bomb_log(12, MIB);
    let config = FetchConfig {
        max_buffered_bytes: 3 * MIB,
        ..FetchConfig::default()
    };
    let mut c = Consumer::new(log, config);
    let (read, peak) = peak_bytes(|| c.read_all(12));
    let offsets: Vec<i64> = read.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (0..12).collect::<Vec<_>>());
    assert!(read.iter().all(|(_, len)| *len == MIB));
    assert!(peak < 3 * MIB + MIB + MIB, "held {peak} bytes");
    assert_eq!(c.f.held_bytes(), 0);
}

/// A batch larger than the whole budget is still read, alone, once
/// nothing else is held: the budget delays it, never blocks it.
#[test]
fn a_batch_larger_than_the_budget_is_read_alone() {
    let log = bomb_log(3, 2 * MIB);
    let config = FetchConfig {
        max_buffered_bytes: MIB,
        ..FetchConfig::default()
    };
    let mut c = Consumer::new(log, config);
    let read = c.read_all(3);
    let offsets: Vec<i64> = read.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, [0, 1, 2]);
    // One batch per fetch.
    assert_eq!(*c.fetches.borrow(), [0, 1, 2]);
}
