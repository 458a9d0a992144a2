//! Tests of the `GroupConsumer` composition (member and fetcher joined)
//! against the scripted group coordinator, whose broker also records the
//! fetches it is asked for.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::group::scripted::Coordinator;
use super::{ConsumerEvent, GroupConsumerConfig, GroupConsumerMachine};
use crate::client::scripted::{Harness, Reply, Responder};
use crate::protocol::{AnyRequest, ApiKey};

struct Setup {
    h: Harness,
    consumer: GroupConsumerMachine,
    coordinator: Rc<RefCell<Coordinator>>,
    /// (partition, offset) of every partition of every Fetch, in order.
    fetched_from: Rc<RefCell<Vec<(i32, i64)>>>,
    events: Vec<ConsumerEvent>,
}

impl Setup {
    fn new(coordinator: Coordinator) -> Setup {
        let coordinator = Rc::new(RefCell::new(coordinator));
        let fetched_from = Rc::new(RefCell::new(Vec::new()));
        let (c, f) = (coordinator.clone(), fetched_from.clone());
        // Fetches and ListOffsets are recorded and left unanswered: what
        // is checked is where the consumer asks to read from.
        let responder: Responder = Box::new(move |address, header, request| match request {
            AnyRequest::Fetch(r) => {
                let mut f = f.borrow_mut();
                for t in &r.topics {
                    f.extend(t.partitions.iter().map(|p| (p.partition, p.fetch_offset)));
                }
                Reply::Silence
            }
            AnyRequest::ListOffsets(_) => Reply::Silence,
            _ => c
                .borrow_mut()
                .answer(address, header.request_api_version, request),
        });
        let mut h = Harness::new(&["b1:9092"], responder);
        h.run();
        let mut config = GroupConsumerConfig::new("g");
        config.auto_commit = None;
        Setup {
            h,
            consumer: GroupConsumerMachine::new(config),
            coordinator,
            fetched_from,
            events: Vec::new(),
        }
    }

    fn settle(&mut self) {
        for e in self.h.settle(&mut self.consumer) {
            self.events.push(e);
        }
    }

    fn advance(&mut self, by: Duration) {
        let end = self.h.now + by;
        while self.h.now < end {
            let next = [self.consumer.poll_timeout(), self.h.client.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .map_or(end, |t| t.min(end));
            self.h.now = next.max(self.h.now);
            let now = self.h.now;
            self.h.client.handle_timeout(now);
            self.consumer.handle_timeout(&mut self.h.client, now);
            self.settle();
        }
    }
}

#[test]
fn a_seek_while_committed_offsets_are_read_is_not_undone_by_them() {
    // Found by the whole-client fuzz target: the answer to the start
    // offsets' OffsetFetch, arriving after the application's seek, moved
    // the position back, and records already handed out came again.
    // The coordinator is broker 2, so that its held answer does not hold
    // up the metadata and fetches, which go to broker 1.
    let mut coordinator = Coordinator {
        node: 2,
        topics: vec![("t".into(), 1)],
        hold_offset_fetch: true,
        ..Coordinator::default()
    };
    coordinator.committed.insert(("t".into(), 0), (5, None));
    coordinator.max_versions.insert(ApiKey::Fetch, 12);
    coordinator.max_versions.insert(ApiKey::ListOffsets, 7);
    let mut s = Setup::new(coordinator);
    let now = s.h.now;
    s.consumer.subscribe(&mut s.h.client, ["t"], now);
    s.settle();
    assert!(s
        .events
        .iter()
        .any(|e| matches!(e, ConsumerEvent::Assigned(tps) if tps.len() == 1)));
    assert!(
        s.fetched_from.borrow().is_empty(),
        "nothing is fetched before the start offsets are known"
    );
    let now = s.h.now;
    s.consumer.seek(&mut s.h.client, "t", 0, 2, now);
    s.settle();
    assert_eq!(
        s.fetched_from.borrow().as_slice(),
        &[(0, 2)],
        "{:?}",
        s.h.seen
    );
    s.coordinator.borrow_mut().hold_offset_fetch = false;
    s.h.release_held();
    s.settle();
    // The unanswered fetch times out and is asked again: from the seek.
    s.advance(Duration::from_secs(60));
    let fetched = s.fetched_from.borrow().clone();
    assert!(fetched.len() >= 2, "fetched again: {fetched:?}");
    assert!(
        fetched.iter().all(|&(_, offset)| offset == 2),
        "the committed offset (5) replaced the seek: {fetched:?}"
    );
}
