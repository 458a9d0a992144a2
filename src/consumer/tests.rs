//! Deterministic fetcher tests against a scripted broker holding a real
//! log, on a hand-moved clock.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::client::scripted::{api_versions, metadata, Harness, Reply, Responder};
use crate::protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use crate::protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use crate::protocol::messages::{FetchResponse, ListOffsetsResponse};
use crate::protocol::{AnyRequest, AnyResponse, ApiKey, ErrorCode};
use crate::records::RecordBatchWriter;

/// Partition t-0's log: values at offsets `log_start..log_start+len`.
struct Log {
    log_start: i64,
    values: Vec<Bytes>,
    leader: i32,
    /// Brokers that served fetches, in order.
    fetched_from: Vec<String>,
    /// What a hostile or broken leader answers every fetch with, whatever
    /// offset was asked, in place of the log's records.
    served: Option<Bytes>,
}

impl Log {
    fn end(&self) -> i64 {
        self.log_start + self.values.len() as i64
    }

    /// At most `max` records from `offset`, as one v2 batch.
    fn read(&self, offset: i64, max: usize) -> Bytes {
        let from = (offset - self.log_start) as usize;
        let to = (from + max).min(self.values.len());
        if from >= to {
            return Bytes::new();
        }
        let mut w = RecordBatchWriter::new(offset);
        for v in &self.values[from..to] {
            w.append(0, None, Some(v), std::iter::empty())
                .expect("append");
        }
        w.finish().expect("finish").freeze()
    }
}

fn cluster(log: Rc<RefCell<Log>>) -> Responder {
    Box::new(move |address, _, request| {
        let leader_address = format!("b{}:9092", log.borrow().leader);
        match request {
            AnyRequest::ApiVersions(_) => Reply::Respond(api_versions(&[
                (ApiKey::ApiVersions, 0, 3),
                (ApiKey::Metadata, 0, 12),
                (ApiKey::Fetch, 0, 12),
                (ApiKey::ListOffsets, 0, 7),
            ])),
            AnyRequest::Metadata(_) => Reply::Respond(metadata(log.borrow().leader)),
            AnyRequest::ListOffsets(r) => {
                let l = log.borrow();
                let p = &r.topics[0].partitions[0];
                let offset = if p.timestamp == -2 {
                    l.log_start
                } else {
                    l.end()
                };
                Reply::Respond(AnyResponse::ListOffsets(ListOffsetsResponse {
                    topics: vec![ListOffsetsTopicResponse {
                        name: "t".into(),
                        partitions: vec![ListOffsetsPartitionResponse {
                            partition_index: 0,
                            offset,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }))
            }
            AnyRequest::Fetch(r) => {
                let mut l = log.borrow_mut();
                l.fetched_from.push(address.to_string());
                let offset = r.topics[0].partitions[0].fetch_offset;
                let (error, records) = if address != leader_address {
                    (ErrorCode::NOT_LEADER_OR_FOLLOWER, Bytes::new())
                } else if let Some(served) = &l.served {
                    (ErrorCode::NONE, served.clone())
                } else if offset < l.log_start || offset > l.end() {
                    (ErrorCode::OFFSET_OUT_OF_RANGE, Bytes::new())
                } else {
                    (ErrorCode::NONE, l.read(offset, 3))
                };
                Reply::Respond(AnyResponse::Fetch(FetchResponse {
                    responses: vec![FetchableTopicResponse {
                        topic: "t".into(),
                        partitions: vec![PartitionData {
                            partition_index: 0,
                            error_code: error.0,
                            high_watermark: l.end(),
                            records: Some(records),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }))
            }
            _ => Reply::Silence,
        }
    })
}

struct Setup {
    h: Harness,
    f: FetcherMachine,
    log: Rc<RefCell<Log>>,
    events: Vec<FetchEvent>,
}

impl Setup {
    fn new(values: usize, config: FetchConfig) -> Self {
        let log = Rc::new(RefCell::new(Log {
            log_start: 0,
            values: (0..values).map(|i| Bytes::from(format!("v{i}"))).collect(),
            leader: 1,
            fetched_from: Vec::new(),
            served: None,
        }));
        let mut h = Harness::new(&["b1:9092"], cluster(log.clone()));
        h.run();
        Setup {
            h,
            f: FetcherMachine::new(config),
            log,
            events: Vec::new(),
        }
    }

    fn settle(&mut self) {
        for e in self.h.settle(&mut self.f) {
            self.events.push(e);
        }
    }

    /// Takes every record handed out so far, releasing each chunk.
    fn consume(&mut self) -> Vec<(i64, Bytes)> {
        let mut out = Vec::new();
        let events: Vec<FetchEvent> = self.events.drain(..).collect();
        for e in events {
            if let FetchEvent::Records(r) = e {
                for rec in r.records.iter() {
                    out.push((rec.offset, rec.value.clone().unwrap_or_default()));
                }
                let now = self.h.now;
                self.f
                    .release(&mut self.h.client, &r.topic, r.partition, now);
            } else {
                self.events.push(e);
            }
        }
        self.settle();
        out
    }

    fn consume_until(&mut self, count: usize) -> Vec<(i64, Bytes)> {
        let mut all = Vec::new();
        for _ in 0..50 {
            all.extend(self.consume());
            if all.len() >= count {
                break;
            }
            self.h.now += Duration::from_millis(200);
            let now = self.h.now;
            self.h.client.handle_timeout(now);
            self.f.handle_timeout(&mut self.h.client, now);
            self.settle();
        }
        all
    }
}

#[test]
fn a_new_partition_starts_at_the_earliest_offset_and_reads_in_order() {
    let mut s = Setup::new(10, FetchConfig::default());
    let now = s.h.now;
    s.f.assign(&mut s.h.client, "t", 0, None, now);
    s.settle();
    assert!(s.events.contains(&FetchEvent::Reset {
        topic: "t".into(),
        partition: 0,
        offset: 0
    }));
    let got = s.consume_until(10);
    let offsets: Vec<i64> = got.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (0..10).collect::<Vec<_>>());
    assert_eq!(got[9].1, Bytes::from("v9"));
    assert_eq!(s.f.position("t", 0), Some(10));
}

#[test]
fn fetching_stays_at_most_one_chunk_ahead_of_the_caller() {
    let mut s = Setup::new(30, FetchConfig::default());
    let now = s.h.now;
    s.f.assign(&mut s.h.client, "t", 0, Some(0), now);
    s.settle();
    // Without releases: two chunks of 3 handed out, then fetching stops.
    let handed: usize = s
        .events
        .iter()
        .filter(|e| matches!(e, FetchEvent::Records(_)))
        .count();
    assert_eq!(handed, 2);
    assert_eq!(s.f.position("t", 0), Some(6));
}

#[test]
fn out_of_range_resets_to_earliest_by_default() {
    let mut s = Setup::new(10, FetchConfig::default());
    s.log.borrow_mut().log_start = 5; // DeleteRecords moved the log start
    s.log.borrow_mut().values.drain(..5);
    let now = s.h.now;
    s.f.assign(&mut s.h.client, "t", 0, Some(1), now);
    let got = s.consume_until(5);
    assert_eq!(got.first().map(|(o, _)| *o), Some(5));
    assert!(s.events.is_empty() || !s.events.iter().any(|e| matches!(e, FetchEvent::Error(_))));
}

#[test]
fn out_of_range_resets_to_latest_when_asked() {
    let config = FetchConfig {
        offset_reset: OffsetReset::Latest,
        ..FetchConfig::default()
    };
    let mut s = Setup::new(10, config);
    s.log.borrow_mut().log_start = 5;
    s.log.borrow_mut().values.drain(..5);
    let now = s.h.now;
    s.f.assign(&mut s.h.client, "t", 0, Some(1), now);
    s.settle();
    assert!(s.events.contains(&FetchEvent::Reset {
        topic: "t".into(),
        partition: 0,
        offset: 10
    }));
    assert!(s.consume().is_empty());
    assert_eq!(s.f.position("t", 0), Some(10));
}

#[test]
fn out_of_range_is_an_error_event_under_the_error_policy() {
    let config = FetchConfig {
        offset_reset: OffsetReset::Error,
        ..FetchConfig::default()
    };
    let mut s = Setup::new(10, config);
    s.log.borrow_mut().log_start = 5;
    s.log.borrow_mut().values.drain(..5);
    let now = s.h.now;
    s.f.assign(&mut s.h.client, "t", 0, Some(1), now);
    s.settle();
    assert!(s
        .events
        .contains(&FetchEvent::Error(FetchError::OffsetOutOfRange {
            topic: "t".into(),
            partition: 0,
            offset: 1
        })));
    let fetches = s.log.borrow().fetched_from.len();
    s.consume_until(1);
    assert_eq!(
        s.log.borrow().fetched_from.len(),
        fetches,
        "stopped fetching"
    );
}

#[test]
fn a_leader_change_moves_the_partition_to_the_new_leader() {
    let mut s = Setup::new(60, FetchConfig::default());
    let now = s.h.now;
    s.f.assign(&mut s.h.client, "t", 0, Some(0), now);
    s.settle();
    // Two chunks are handed out and not yet released: the leader moves.
    s.log.borrow_mut().leader = 2;
    let got = s.consume_until(60);
    let offsets: Vec<i64> = got.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (0..60).collect::<Vec<_>>());
    let from = s.log.borrow().fetched_from.clone();
    assert_eq!(
        from.first().map(String::as_str),
        Some("b1:9092"),
        "{from:?}"
    );
    assert_eq!(from.last().map(String::as_str), Some("b2:9092"), "{from:?}");
}

/// A chunk handed back with `recycle` is the one the next chunk's records
/// are decoded into, and the records in it are the right ones.
#[test]
fn recycled_record_chunks_carry_the_next_chunks() {
    let mut s = Setup::new(30, FetchConfig::default());
    let now = s.h.now;
    s.f.assign(&mut s.h.client, "t", 0, Some(0), now);
    s.settle();
    let mut recycled = Vec::new();
    let mut blockers = Vec::new();
    let mut offsets = Vec::new();
    for _ in 0..20 {
        let events: Vec<FetchEvent> = s.events.drain(..).collect();
        for e in events {
            if let FetchEvent::Records(mut r) = e {
                let ptr = r.records.entries_ptr();
                let capacity = r.records.capacity();
                offsets.extend(r.records.iter().map(|rec| rec.offset));
                r.records.clear();
                s.f.recycle(r.records);
                recycled.push(ptr);
                // Had the fetcher freed it, this same-sized allocation
                // (kept to the end) would take its place, and the next
                // chunk could not come in it.
                blockers.push(Vec::<u8>::with_capacity(
                    capacity * super::record_chunk::RecordChunk::ENTRY_SIZE,
                ));
                let now = s.h.now;
                s.f.release(&mut s.h.client, &r.topic, r.partition, now);
            }
        }
        s.settle();
        if offsets.len() >= 30 {
            break;
        }
    }
    assert_eq!(offsets, (0..30).collect::<Vec<i64>>());
    // After the first two chunks (handed out before any was recycled),
    // every chunk came in a vector recycled before it.
    assert!(recycled.len() > 3, "{} chunks", recycled.len());
    for (i, ptr) in recycled.iter().enumerate().skip(2) {
        assert!(recycled[..i].contains(ptr), "chunk {i} in a new vector");
    }
}

/// One v2 batch at `base_offset` holding `count` records.
fn batch_at(base_offset: i64, count: usize) -> Bytes {
    let mut w = RecordBatchWriter::new(base_offset);
    for i in 0..count {
        w.append(
            0,
            None,
            Some(format!("v{i}").as_bytes()),
            std::iter::empty(),
        )
        .expect("append");
    }
    w.finish().expect("finish").freeze()
}

/// A leader answering every fetch of t-0 from `asked` with `served`: the
/// fetcher must report the data corrupt once and stop fetching the
/// partition, neither panicking nor fetching (and handing out) it again.
fn served_data_is_refused(served: Bytes, asked: i64, reason_has: &str) {
    let mut s = Setup::new(0, FetchConfig::default());
    s.log.borrow_mut().served = Some(served);
    let now = s.h.now;
    s.f.assign(&mut s.h.client, "t", 0, Some(asked), now);
    s.settle();
    let got = s.consume_until(1);
    assert!(got.is_empty(), "records handed out: {got:?}");
    let errors: Vec<&FetchEvent> = s.events.iter().collect();
    match errors.as_slice() {
        [FetchEvent::Error(FetchError::Corrupt {
            topic,
            partition: 0,
            reason,
        })] if topic == "t" => assert!(reason.contains(reason_has), "{reason}"),
        other => panic!("expected one Corrupt error, got {other:?}"),
    }
    assert_eq!(s.log.borrow().fetched_from.len(), 1, "fetched again");
    assert_eq!(s.f.position("t", 0), Some(asked));
}

#[test]
fn a_record_at_the_last_i64_offset_is_corrupt_data() {
    served_data_is_refused(batch_at(i64::MAX, 1), i64::MAX, "no next offset");
}

#[test]
fn a_batch_ending_at_the_last_i64_offset_is_corrupt_data() {
    served_data_is_refused(batch_at(i64::MAX - 1, 2), i64::MAX - 1, "no next offset");
}

#[test]
fn a_batch_whose_last_offset_overflows_is_corrupt_data() {
    served_data_is_refused(batch_at(i64::MAX - 1, 3), i64::MAX - 1, "overflow");
}

#[test]
fn a_batch_at_a_negative_offset_is_corrupt_data() {
    served_data_is_refused(batch_at(-5, 3), 0, "negative offset -5");
}

/// Good batches before the corrupt one are handed out (once); the corrupt
/// one then stops the partition.
#[test]
fn records_before_a_corrupt_batch_are_handed_out_once() {
    let mut served = batch_at(i64::MAX - 3, 2).to_vec();
    served.extend_from_slice(&batch_at(i64::MAX - 1, 2));
    let mut s = Setup::new(0, FetchConfig::default());
    s.log.borrow_mut().served = Some(Bytes::from(served));
    let now = s.h.now;
    s.f.assign(&mut s.h.client, "t", 0, Some(i64::MAX - 3), now);
    s.settle();
    let got = s.consume_until(3);
    let offsets: Vec<i64> = got.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, [i64::MAX - 3, i64::MAX - 2]);
    assert!(
        matches!(
            s.events.as_slice(),
            [FetchEvent::Error(FetchError::Corrupt { .. })]
        ),
        "{:?}",
        s.events
    );
    assert_eq!(s.f.position("t", 0), Some(i64::MAX - 1));
}

/// Hands out what a leader serving `served` for every fetch gives from
/// offset 0, releasing as it goes; returns the offsets and the position.
fn offsets_handed_out(served: Bytes) -> (Vec<i64>, Option<i64>) {
    let mut s = Setup::new(0, FetchConfig::default());
    s.log.borrow_mut().served = Some(served);
    let now = s.h.now;
    s.f.assign(&mut s.h.client, "t", 0, Some(0), now);
    s.settle();
    let got = s.consume_until(usize::MAX);
    let offsets = got.iter().map(|(o, _)| *o).collect();
    (offsets, s.f.position("t", 0))
}

/// A batch repeating offsets already read, and one going back before
/// them, add nothing: every record once, in offset order. (The fetch_path
/// fuzz target found chunks going back; this one held 0, 1, 2, 1, 2, 3,
/// 0, 1.)
#[test]
fn batches_that_go_back_are_skipped_record_by_record() {
    let mut served = batch_at(0, 3).to_vec();
    served.extend_from_slice(&batch_at(1, 3));
    served.extend_from_slice(&batch_at(0, 2));
    let (offsets, position) = offsets_handed_out(Bytes::from(served));
    assert_eq!(offsets, [0, 1, 2, 3]);
    assert_eq!(position, Some(4));
}

/// Inside one batch too: records whose offset deltas go back are skipped.
#[test]
fn records_that_go_back_inside_a_batch_are_skipped() {
    // Four records of the same size at offsets 0-3; records 1 and 2
    // swapped (deltas 0, 2, 1, 3) and the CRC made right again.
    let mut w = RecordBatchWriter::new(0);
    for i in 0..4 {
        w.append(
            0,
            None,
            Some(format!("v{i}").as_bytes()),
            std::iter::empty(),
        )
        .expect("append");
    }
    let mut batch = w.finish().expect("finish").to_vec();
    let section = crate::records::RECORD_BATCH_OVERHEAD;
    let len = (batch.len() - section) / 4;
    let (one, two) = (section + len, section + 2 * len);
    let second = batch[one..two].to_vec();
    batch.copy_within(two..two + len, one);
    batch[two..two + len].copy_from_slice(&second);
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    let (offsets, position) = offsets_handed_out(Bytes::from(batch));
    assert_eq!(offsets, [0, 2, 3]);
    assert_eq!(position, Some(4));
}

/// A broker that answers an empty fetch at once, ignoring the max wait
/// (noida-db does): the next fetch waits out the rest of the max wait
/// instead of asking again in a loop.
#[test]
fn an_empty_answer_before_the_max_wait_paces_the_next_fetch() {
    let config = FetchConfig {
        max_wait: Duration::from_millis(500),
        ..FetchConfig::default()
    };
    let mut s = Setup::new(0, config);
    let now = s.h.now;
    s.f.assign(&mut s.h.client, "t", 0, Some(0), now);
    s.settle();
    assert_eq!(
        s.log.borrow().fetched_from.len(),
        1,
        "one fetch, answered empty"
    );
    assert_eq!(s.f.poll_timeout(), Some(now + Duration::from_millis(500)));
    s.h.now += Duration::from_millis(499);
    let early = s.h.now;
    s.f.handle_timeout(&mut s.h.client, early);
    s.settle();
    assert_eq!(
        s.log.borrow().fetched_from.len(),
        1,
        "not before the max wait"
    );
    s.h.now += Duration::from_millis(1);
    let due = s.h.now;
    s.f.handle_timeout(&mut s.h.client, due);
    s.settle();
    assert_eq!(s.log.borrow().fetched_from.len(), 2);
}
