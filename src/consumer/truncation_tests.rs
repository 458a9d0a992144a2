//! KIP-320 on a scripted leader: the consumer sends the epoch of the last
//! batch it read, and a leader whose log diverged answers with where; the
//! consumer reports what it read that is gone and goes on from there.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;

use super::*;
use crate::client::scripted::{api_versions, metadata, Harness, Reply, Responder};
use crate::client::Event;
use crate::protocol::messages::fetch_response::{
    EpochEndOffset, FetchableTopicResponse, PartitionData,
};
use crate::protocol::messages::FetchResponse;
use crate::protocol::{AnyRequest, AnyResponse, ApiKey};
use crate::records::RecordBatchWriter;

/// Records `from..to` written in leader epoch `epoch`, one batch.
fn batch(from: i64, to: i64, epoch: i32) -> Bytes {
    let mut w = RecordBatchWriter::new(from).partition_leader_epoch(epoch);
    for offset in from..to {
        let value = format!("e{epoch}-{offset}");
        w.append(0, None, Some(value.as_bytes()), std::iter::empty())
            .expect("append");
    }
    w.finish().expect("finish").freeze()
}

/// A leader that held offsets 0..10 in epoch 3 and, after an unclean
/// election, holds 0..6 of epoch 3 and 6..8 of epoch 4. Records each
/// fetch as (offset, last fetched epoch).
fn leader(fetches: Rc<RefCell<Vec<(i64, i32)>>>) -> Responder {
    Box::new(move |_, _, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Respond(api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 0, 12),
            (ApiKey::Fetch, 0, 12),
        ])),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(1)),
        AnyRequest::Fetch(r) => {
            let p = &r.topics[0].partitions[0];
            fetches
                .borrow_mut()
                .push((p.fetch_offset, p.last_fetched_epoch));
            let first_time = fetches.borrow().len() == 1;
            let mut answer = PartitionData {
                partition_index: 0,
                high_watermark: 8,
                ..Default::default()
            };
            if first_time {
                // What the old leader served before the election.
                answer.records = Some(batch(0, 10, 3));
                answer.high_watermark = 10;
            } else if p.last_fetched_epoch == 3 && p.fetch_offset > 6 {
                answer.diverging_epoch = EpochEndOffset {
                    epoch: 3,
                    end_offset: 6,
                    ..Default::default()
                };
            } else if p.fetch_offset == 6 {
                answer.records = Some(batch(6, 8, 4));
            } else {
                answer.records = Some(Bytes::new());
            }
            Reply::Respond(AnyResponse::Fetch(FetchResponse {
                responses: vec![FetchableTopicResponse {
                    topic: "t".into(),
                    partitions: vec![answer],
                    ..Default::default()
                }],
                ..Default::default()
            }))
        }
        _ => Reply::Silence,
    })
}

/// Runs a fetcher against the leader, releasing what it hands out, and
/// returns its events (records as (offset, value)) and the fetches seen.
fn run(reset: OffsetReset) -> (Vec<String>, Vec<(i64, i32)>) {
    let fetches = Rc::new(RefCell::new(Vec::new()));
    let mut h = Harness::new(&["b1:9092"], leader(fetches.clone()));
    h.run();
    let config = FetchConfig {
        offset_reset: reset,
        ..FetchConfig::default()
    };
    let mut f = FetcherMachine::new(config);
    let now = h.now;
    f.assign(&mut h.client, "t", 0, Some(0), now);
    let mut seen = Vec::new();
    for _ in 0..20 {
        h.run();
        let events: Vec<Event> = h.events.drain(..).collect();
        for e in &events {
            f.handle_client_event(&mut h.client, e, h.now);
        }
        while let Some(event) = f.poll_event() {
            match event {
                FetchEvent::Records(r) => {
                    seen.extend(r.records.iter().map(|rec| {
                        String::from_utf8_lossy(&rec.value.unwrap_or_default()).into_owned()
                    }));
                    let now = h.now;
                    f.release(&mut h.client, "t", 0, now);
                }
                other => seen.push(format!("{other:?}")),
            }
        }
        if events.is_empty() {
            h.now += std::time::Duration::from_millis(600);
            let now = h.now;
            h.client.handle_timeout(now);
            f.handle_timeout(&mut h.client, now);
        }
        if fetches.borrow().len() >= 4 {
            break;
        }
    }
    let fetches = fetches.borrow().clone();
    (seen, fetches)
}

#[test]
fn a_diverged_log_is_reported_and_read_on_from_the_divergence() {
    let (seen, fetches) = run(OffsetReset::Earliest);
    // The first fetch knows no epoch; the next sends the one read.
    assert_eq!(fetches[0], (0, -1));
    assert_eq!(fetches[1], (10, 3));
    let truncated = seen
        .iter()
        .position(|e| e.contains("LogTruncated"))
        .expect("truncation reported");
    assert!(
        seen[truncated].contains("lost_from: 6, lost_to: 10, resumed_at: Some(6)"),
        "{seen:?}"
    );
    assert_eq!(fetches[2], (6, 3));
    // What the new leader has from the divergence on, after the report.
    assert_eq!(seen[truncated + 1..truncated + 3], ["e4-6", "e4-7"]);
    let before: Vec<String> = (0..10).map(|o| format!("e3-{o}")).collect();
    assert_eq!(seen[..10], before[..]);
}

#[test]
fn under_the_error_policy_a_truncation_stops_the_partition() {
    let (seen, fetches) = run(OffsetReset::Error);
    assert!(
        seen.iter()
            .any(|e| e.contains("lost_from: 6, lost_to: 10, resumed_at: None")),
        "{seen:?}"
    );
    assert!(!seen.iter().any(|e| e.starts_with("e4")), "{seen:?}");
    assert_eq!(fetches.len(), 2);
}
