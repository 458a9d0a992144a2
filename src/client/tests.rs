//! Deterministic tests of the client core alone: scripted brokers answer
//! the frames the client writes, on a clock the test moves by hand. No
//! sockets, no sleeps.

use std::time::Duration;

use bytes::BytesMut;

use super::scripted::*;
use super::*;
use crate::protocol::messages::{ApiVersionsResponse, ListGroupsRequest, ListGroupsResponse};
use crate::protocol::{AnyRequest, AnyResponse, ApiKey, ErrorCode};

#[test]
fn bootstrap_skips_a_dead_address_and_discovers_every_broker() {
    let mut h = Harness::new(&["dead:1", "b1:9092"], modern_cluster());
    h.refused.push("dead:1".into());
    h.run();
    // The first attempt went to the dead address; then the second one.
    assert!(h.client.has_metadata(), "events: {:?}", h.events);
    let brokers: Vec<i32> = h.client.metadata().brokers.keys().copied().collect();
    assert_eq!(brokers, vec![1, 2]);
    assert_eq!(h.client.metadata().leader("t", 0), Some(2));
    assert_eq!(h.seen[0], ("b1:9092".into(), ApiKey::ApiVersions, 3));
    assert_eq!(h.seen[1], ("b1:9092".into(), ApiKey::Metadata, 12));
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::ConnectionLost {
            error: ConnectionError::ConnectFailed { .. },
            ..
        }
    )));
    // Once the dead address's backoff has passed, nothing is due: the
    // harness checks that poll_timeout does not stay in the past.
    h.advance(Duration::from_secs(1));
    assert!(h
        .client
        .poll_timeout()
        .is_some_and(|t| t > h.now + Duration::from_secs(60)));
}

#[test]
fn requests_go_to_their_broker_at_the_highest_common_version() {
    let mut h = Harness::new(&["b1:9092"], modern_cluster());
    h.run();
    let now = h.now;
    let id = h
        .client
        .send(Target::Broker(2), ListGroupsRequest::default(), now);
    h.run();
    assert_eq!(
        h.seen.last(),
        Some(&("b2:9092".into(), ApiKey::ListGroups, 5))
    );
    let got = h.events.iter().find_map(|e| match e {
        Event::Response { id: rid, result } if *rid == id => Some(result.clone()),
        _ => None,
    });
    let response = got.expect("a response event").expect("a response");
    assert_eq!(response.broker, 2);
    assert!(matches!(response.body, Some(AnyResponse::ListGroups(_))));
    let table = h
        .client
        .broker_versions(2)
        .expect("negotiated with broker 2");
    assert_eq!(table.get(ApiKey::Metadata.key()).map(|r| r.max), Some(12));
}

#[test]
fn unsupported_api_versions_v3_falls_back_to_v0() {
    let responder: Responder = Box::new(|_, header, request| match request {
        AnyRequest::ApiVersions(_) if header.request_api_version == 3 => {
            Reply::Respond(AnyResponse::ApiVersions(ApiVersionsResponse {
                error_code: ErrorCode::UNSUPPORTED_VERSION.0,
                ..Default::default()
            }))
        }
        AnyRequest::ApiVersions(_) => Reply::Respond(api_versions(&[
            (ApiKey::ApiVersions, 0, 2),
            (ApiKey::Metadata, 0, 5),
        ])),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(1)),
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    let versions: Vec<_> = h.seen.iter().map(|(_, k, v)| (*k, *v)).collect();
    assert_eq!(
        &versions[..3],
        &[
            (ApiKey::ApiVersions, 3),
            (ApiKey::ApiVersions, 0),
            (ApiKey::Metadata, 5)
        ]
    );
    assert!(h.client.has_metadata());
}

#[test]
fn an_undecodable_api_versions_v3_answer_falls_back_to_v0() {
    // librdkafka's mock cluster answers v3 in an encoding of its own.
    let responder: Responder = Box::new(|_, header, request| match request {
        AnyRequest::ApiVersions(_) if header.request_api_version == 3 => {
            let cid = header.correlation_id.to_be_bytes();
            let mut frame = vec![0, 0, 0, 7];
            frame.extend(cid);
            frame.extend([0, 35, 0xff]);
            Reply::Raw(frame)
        }
        AnyRequest::ApiVersions(_) => Reply::Respond(api_versions(&[(ApiKey::Metadata, 0, 9)])),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(1)),
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    assert!(h.client.has_metadata(), "events: {:?}", h.events);
    assert_eq!(h.seen[1].1, ApiKey::ApiVersions);
    assert_eq!(h.seen[1].2, 0);
    assert_eq!(h.seen[2], ("b1:9092".into(), ApiKey::Metadata, 9));
}

#[test]
fn a_broker_that_hangs_up_on_api_versions_gets_the_0_8_2_versions() {
    let responder: Responder = Box::new(|_, _, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Close,
        AnyRequest::Metadata(_) => Reply::Respond(metadata(1)),
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    // Reconnect after the backoff: a second hang-up makes it legacy.
    h.advance(Duration::from_secs(1));
    h.advance(Duration::from_secs(1));
    assert!(h.client.has_metadata(), "events: {:?}", h.events);
    let after_hangup: Vec<_> = h.seen.iter().skip(2).map(|(_, k, v)| (*k, *v)).collect();
    assert_eq!(after_hangup[0], (ApiKey::Metadata, 0));
    assert!(!after_hangup.iter().any(|(k, _)| *k == ApiKey::ApiVersions));
    let table = h.client.broker_versions(1).expect("ready");
    assert_eq!(table, &ApiVersionTable::kafka_0_8_2());
}

/// The answer to the ListGroups request `id`, once there is one.
fn response_to(h: &Harness, id: RequestId) -> Option<Result<Response, RequestError>> {
    h.events.iter().find_map(|e| match e {
        Event::Response { id: rid, result } if *rid == id => Some(result.clone()),
        _ => None,
    })
}

#[test]
fn a_modern_broker_cut_twice_on_api_versions_is_asked_again_when_a_request_needs_it() {
    // The network cut the first two connections during ApiVersions: the
    // address is taken for 0.8, whose versions have no ListGroups (nor any
    // group API). That guess must not fail a group request for minutes.
    let hangups = std::rc::Rc::new(std::cell::Cell::new(2));
    let left = hangups.clone();
    let responder: Responder = Box::new(move |_, _, request| match request {
        AnyRequest::ApiVersions(_) if left.get() > 0 => {
            left.set(left.get() - 1);
            Reply::Close
        }
        AnyRequest::ApiVersions(_) => Reply::Respond(modern_versions()),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(1)),
        AnyRequest::ListGroups(_) => Reply::Respond(ListGroupsResponse::default().into()),
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    h.advance(Duration::from_secs(1));
    h.advance(Duration::from_secs(1));
    assert_eq!(
        h.client.broker_versions(1),
        Some(&ApiVersionTable::kafka_0_8_2())
    );
    let now = h.now;
    let id = h
        .client
        .send(Target::Broker(1), ListGroupsRequest::default(), now);
    for _ in 0..5 {
        h.advance(Duration::from_secs(1));
    }
    let response = response_to(&h, id).expect("an answer").expect("a response");
    assert!(matches!(response.body, Some(AnyResponse::ListGroups(_))));
    let table = h.client.broker_versions(1).expect("ready");
    assert!(table.get(ApiKey::ListGroups.key()).is_some());
}

#[test]
fn a_real_0_8_broker_fails_a_newer_request_after_one_more_ask() {
    let responder: Responder = Box::new(|_, _, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Close,
        AnyRequest::Metadata(_) => Reply::Respond(metadata(1)),
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    h.advance(Duration::from_secs(1));
    h.advance(Duration::from_secs(1));
    let asked = |h: &Harness| {
        h.seen
            .iter()
            .filter(|(_, k, _)| *k == ApiKey::ApiVersions)
            .count()
    };
    assert_eq!(asked(&h), 2);
    let now = h.now;
    let first = h
        .client
        .send(Target::Broker(1), ListGroupsRequest::default(), now);
    for _ in 0..5 {
        h.advance(Duration::from_secs(1));
    }
    assert_eq!(asked(&h), 3, "asked once more: {:?}", h.seen);
    assert!(matches!(
        response_to(&h, first),
        Some(Err(RequestError::UnsupportedVersion {
            guessed: true,
            api: ApiKey::ListGroups,
            ..
        }))
    ));
    // The guess stands now: the next such request fails without asking.
    let now = h.now;
    let second = h
        .client
        .send(Target::Broker(1), ListGroupsRequest::default(), now);
    for _ in 0..5 {
        h.advance(Duration::from_secs(1));
    }
    assert_eq!(asked(&h), 3);
    assert!(matches!(
        response_to(&h, second),
        Some(Err(RequestError::UnsupportedVersion { guessed: true, .. }))
    ));
    // Once the guess's recheck is due, such a request has it asked again,
    // even on a connection that stayed open all along.
    h.advance(Duration::from_secs(301));
    let now = h.now;
    h.client
        .send(Target::Broker(1), ListGroupsRequest::default(), now);
    for _ in 0..5 {
        h.advance(Duration::from_secs(1));
    }
    assert_eq!(asked(&h), 4);
}

#[test]
fn an_address_taken_for_0_8_is_asked_its_versions_again_after_a_while() {
    // 0: an 0.8 broker. 1: it restarts (the next request is hung up on),
    // upgraded. 2: a modern broker at the same address.
    let phase = std::rc::Rc::new(std::cell::Cell::new(0));
    let p = phase.clone();
    let responder: Responder = Box::new(move |_, _, request| match (p.get(), request) {
        (1, _) => {
            p.set(2);
            Reply::Close
        }
        (0, AnyRequest::ApiVersions(_)) => Reply::Close,
        (_, AnyRequest::ApiVersions(_)) => Reply::Respond(modern_versions()),
        (_, AnyRequest::Metadata(_)) => Reply::Respond(metadata(1)),
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    h.advance(Duration::from_secs(1));
    h.advance(Duration::from_secs(1));
    assert_eq!(
        h.client.broker_versions(1),
        Some(&ApiVersionTable::kafka_0_8_2())
    );
    // Upgraded within the recheck period: the reconnection still takes
    // the fallback without asking.
    phase.set(1);
    h.client.refresh_metadata(h.now);
    for _ in 0..5 {
        h.advance(Duration::from_secs(1));
    }
    assert_eq!(phase.get(), 2);
    let asked = |h: &Harness| {
        h.seen
            .iter()
            .filter(|(_, k, _)| *k == ApiKey::ApiVersions)
            .count()
    };
    assert_eq!(asked(&h), 2);
    assert_eq!(
        h.client.broker_versions(1),
        Some(&ApiVersionTable::kafka_0_8_2())
    );
    // After it, the next connection asks, and the broker's own answer wins.
    for _ in 0..6 {
        h.advance(Duration::from_secs(60));
    }
    let version_before = asked(&h);
    phase.set(1);
    h.client.refresh_metadata(h.now);
    for _ in 0..5 {
        h.advance(Duration::from_secs(1));
    }
    assert!(asked(&h) > version_before, "{:?}", h.seen);
    let table = h.client.broker_versions(1).expect("ready");
    assert!(table.get(ApiKey::Produce.key()).is_some_and(|r| r.max >= 3));
}

#[test]
fn a_modern_broker_that_drops_one_negotiation_keeps_its_versions() {
    // Found by kafkite-sim: a broker that crashed while a client waited
    // for its ApiVersions answer was taken for Kafka 0.8 for good, and the
    // group member then failed for want of JoinGroup.
    let hung_up = std::rc::Rc::new(std::cell::Cell::new(false));
    let once = hung_up.clone();
    let responder: Responder = Box::new(move |_, _, request| match request {
        AnyRequest::ApiVersions(_) if !once.get() => {
            once.set(true);
            Reply::Close
        }
        AnyRequest::ApiVersions(_) => Reply::Respond(modern_versions()),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(1)),
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    h.advance(Duration::from_secs(1));
    assert!(hung_up.get());
    assert!(h.client.has_metadata(), "events: {:?}", h.events);
    let table = h.client.broker_versions(1).expect("ready");
    assert_ne!(table, &ApiVersionTable::kafka_0_8_2());
    assert!(table.get(ApiKey::Produce.key()).is_some_and(|r| r.max >= 3));
}

#[test]
fn a_broker_that_answered_api_versions_is_never_taken_for_0_8() {
    // Found by kafkite-sim (seed 4407): a broker that answered, then stalled
    // and was restarted, hung up on two negotiations in a row and was taken
    // for Kafka 0.8.
    let hangups = std::rc::Rc::new(std::cell::Cell::new(0));
    let count = hangups.clone();
    let responder: Responder = Box::new(move |_, _, request| match request {
        AnyRequest::ApiVersions(_) if count.get() == 0 => {
            count.set(1);
            Reply::Respond(modern_versions())
        }
        AnyRequest::ApiVersions(_) if count.get() < 3 => {
            count.set(count.get() + 1);
            Reply::Close
        }
        AnyRequest::ApiVersions(_) => Reply::Respond(modern_versions()),
        AnyRequest::Metadata(_) => Reply::Close,
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    for _ in 0..6 {
        h.advance(Duration::from_secs(2));
    }
    assert!(hangups.get() >= 3, "two hang-ups after the first answer");
    let asked_api_versions = h
        .seen
        .iter()
        .filter(|(_, k, _)| *k == ApiKey::ApiVersions)
        .count();
    assert!(
        asked_api_versions >= 4,
        "it kept asking for versions: {:?}",
        h.seen
    );
    assert!(
        !h.seen
            .iter()
            .any(|(_, k, v)| *k == ApiKey::Metadata && *v == 0),
        "never fell back to v0: {:?}",
        h.seen
    );
}

#[test]
fn garbage_drops_only_that_connection() {
    let responder: Responder = Box::new(|address, header, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Respond(modern_versions()),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(1)),
        AnyRequest::ListGroups(_) if address == "b2:9092" => {
            // A frame of the right size holding nonsense for the body.
            let mut frame = vec![0, 0, 0, 9];
            frame.extend(header.correlation_id.to_be_bytes());
            frame.extend([0xff, 0xff, 0xff, 0xff, 0xff]);
            Reply::Raw(frame)
        }
        AnyRequest::ListGroups(_) => {
            Reply::Respond(AnyResponse::ListGroups(ListGroupsResponse::default()))
        }
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    let now = h.now;
    let to_garbage = h
        .client
        .send(Target::Broker(2), ListGroupsRequest::default(), now);
    let to_good = h
        .client
        .send(Target::Broker(1), ListGroupsRequest::default(), now);
    h.run();
    let result_of = |id: RequestId| {
        h.events.iter().find_map(|e| match e {
            Event::Response { id: rid, result } if *rid == id => Some(result.clone()),
            _ => None,
        })
    };
    let results = [
        result_of(to_garbage).expect("answered"),
        result_of(to_good).expect("answered"),
    ];
    assert!(matches!(
        &results[0],
        Err(RequestError::Disconnected(ConnectionError::Undecodable {
            api: ApiKey::ListGroups,
            ..
        }))
    ));
    assert!(results[1].is_ok());
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::ConnectionLost {
            broker: 2,
            error: ConnectionError::Undecodable { .. }
        }
    )));
}

#[test]
fn an_oversized_frame_drops_the_connection_with_a_typed_error() {
    let responder: Responder = Box::new(|_, _, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Raw(vec![0x7f, 0xff, 0xff, 0xff, 0, 0]),
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::ConnectionLost {
            error: ConnectionError::FrameTooLarge {
                size: 2147483647,
                ..
            },
            ..
        }
    )));
    assert!(h.open.is_empty(), "the connection was closed");
}

#[test]
fn an_unknown_correlation_id_drops_the_connection() {
    let responder: Responder = Box::new(|_, header, request| match request {
        AnyRequest::ApiVersions(_) => {
            let mut out = BytesMut::new();
            let body = modern_versions();
            write_response(
                &mut out,
                ApiKey::ApiVersions,
                3,
                header.correlation_id + 100,
                &body,
            );
            Reply::Raw(out.to_vec())
        }
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::ConnectionLost {
            error: ConnectionError::UnexpectedCorrelationId {
                got: 101,
                expected: Some(1),
                ..
            },
            ..
        }
    )));
}

#[test]
fn a_silent_broker_times_requests_out_and_the_connection_is_dropped() {
    let responder: Responder = Box::new(|address, _, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Respond(modern_versions()),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(1)),
        AnyRequest::ListGroups(_) if address == "b2:9092" => Reply::Silence,
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    let now = h.now;
    h.client
        .send(Target::Broker(2), ListGroupsRequest::default(), now);
    h.run();
    assert!(h.responses().is_empty());
    let deadline = h.client.poll_timeout().expect("a deadline");
    assert_eq!(deadline, now + Duration::from_secs(5));
    h.advance(Duration::from_secs(5));
    assert!(matches!(h.responses()[..], [Err(RequestError::Timeout)]));
    assert!(!h.open.values().any(|a| a == "b2:9092"));
}

#[test]
fn reconnect_backoff_grows_and_is_the_same_for_the_same_seed() {
    fn attempts() -> Vec<Duration> {
        let mut h = Harness::new(&["b1:9092"], modern_cluster());
        h.refused.push("b1:9092".into());
        h.run();
        let start = h.now;
        let mut times = Vec::new();
        for _ in 0..6 {
            let next = h.client.poll_timeout().expect("a retry is scheduled");
            h.advance(next - h.now);
            times.push(h.now - start);
        }
        times
    }
    let a = attempts();
    assert_eq!(a, attempts());
    let gaps: Vec<Duration> = a.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|w| w[1] > w[0]),
        "backoff grows: {gaps:?}"
    );
}

#[test]
fn close_finishes_in_flight_requests_then_closes_every_connection() {
    let mut h = Harness::new(&["b1:9092"], modern_cluster());
    h.run();
    let now = h.now;
    h.client
        .send(Target::Broker(1), ListGroupsRequest::default(), now);
    h.client.close(now);
    h.run();
    assert!(h.responses()[0].is_ok());
    assert!(matches!(h.events.last(), Some(Event::Closed)));
    assert!(h.open.is_empty());
    let later = h
        .client
        .send(Target::Broker(1), ListGroupsRequest::default(), now);
    assert!(matches!(
        h.client.poll_event(),
        Some(Event::Response { id, result: Err(RequestError::Closing) }) if id == later
    ));
}

#[test]
fn leader_changes_are_followed_after_a_refresh() {
    use std::cell::Cell;
    use std::rc::Rc;
    let leader = Rc::new(Cell::new(1));
    let l = leader.clone();
    let responder: Responder = Box::new(move |_, _, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Respond(modern_versions()),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(l.get())),
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    assert_eq!(h.client.metadata().leader("t", 0), Some(1));
    leader.set(2);
    let now = h.now;
    h.client.refresh_metadata(now);
    h.run();
    assert_eq!(h.client.metadata().leader("t", 0), Some(2));
    assert!(
        h.events
            .iter()
            .filter(|e| **e == Event::MetadataUpdated)
            .count()
            >= 2
    );
}

#[test]
fn group_requests_find_their_coordinator_first_and_retry_while_it_is_unavailable() {
    use crate::protocol::messages::find_coordinator_response::Coordinator;
    use crate::protocol::messages::FindCoordinatorResponse;
    use std::cell::Cell;
    use std::rc::Rc;
    let lookups = Rc::new(Cell::new(0));
    let l = lookups.clone();
    let responder: Responder = Box::new(move |_, header, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Respond(api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 0, 12),
            (ApiKey::FindCoordinator, 0, 4),
            (ApiKey::ListGroups, 0, 4),
        ])),
        AnyRequest::Metadata(_) => Reply::Respond(metadata(1)),
        AnyRequest::FindCoordinator(r) => {
            assert_eq!(header.request_api_version, 4);
            assert_eq!(r.coordinator_keys, vec!["g".to_string()]);
            l.set(l.get() + 1);
            let error_code = if l.get() == 1 {
                ErrorCode::COORDINATOR_NOT_AVAILABLE.0
            } else {
                0
            };
            Reply::Respond(AnyResponse::FindCoordinator(FindCoordinatorResponse {
                coordinators: vec![Coordinator {
                    key: "g".into(),
                    node_id: 2,
                    host: "b2".into(),
                    port: 9092,
                    error_code,
                    ..Default::default()
                }],
                ..Default::default()
            }))
        }
        AnyRequest::ListGroups(_) => {
            Reply::Respond(AnyResponse::ListGroups(ListGroupsResponse::default()))
        }
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    let now = h.now;
    let target = Target::GroupCoordinator("g".into());
    h.client
        .send(target.clone(), ListGroupsRequest::default(), now);
    h.run();
    assert_eq!(lookups.get(), 1);
    assert!(h.responses().is_empty(), "waits for the coordinator");
    h.advance(Duration::from_millis(200));
    assert_eq!(lookups.get(), 2);
    assert_eq!(
        h.seen.last().map(|(a, k, _)| (a.as_str(), *k)),
        Some(("b2:9092", ApiKey::ListGroups))
    );
    assert!(h.responses()[0].is_ok());
    // Known now: no new lookup, until the caller says it moved.
    let now = h.now;
    h.client
        .send(target.clone(), ListGroupsRequest::default(), now);
    h.run();
    assert_eq!(lookups.get(), 2);
    h.client.coordinator_moved("g", now);
    h.client.send(target, ListGroupsRequest::default(), now);
    h.run();
    assert_eq!(lookups.get(), 3);
}

#[test]
fn a_metadata_request_lost_with_its_connection_is_asked_again() {
    use std::cell::Cell;
    use std::rc::Rc;
    let asked = Rc::new(Cell::new(0));
    let a = asked.clone();
    let responder: Responder = Box::new(move |_, _, request| match request {
        AnyRequest::ApiVersions(_) => Reply::Respond(modern_versions()),
        AnyRequest::Metadata(_) => {
            a.set(a.get() + 1);
            if a.get() == 1 {
                Reply::Close
            } else {
                Reply::Respond(metadata(1))
            }
        }
        _ => Reply::Silence,
    });
    let mut h = Harness::new(&["b1:9092"], responder);
    h.run();
    assert!(!h.client.has_metadata());
    // Follow the deadlines the client gives (metadata retry, reconnect
    // backoff) until it has asked again.
    for _ in 0..10 {
        let next = h.client.poll_timeout().expect("a retry is scheduled");
        h.advance(next - h.now);
        if h.client.has_metadata() {
            break;
        }
    }
    assert_eq!(asked.get(), 2);
    assert!(h.client.has_metadata());
}
